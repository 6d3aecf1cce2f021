use actix_web::http::Method;
pub const PAGE_ROUTES: &[(&str, &[Method])] = &[];
pub fn routes(_cfg: &mut actix_web::web::ServiceConfig) {}
