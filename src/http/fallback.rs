//! Unknown routes answer 404 and known routes with the wrong method answer 405 (with
//! `Allow`), both as problem+json (a 404 as an HTML page when `Accept` prefers it). Known
//! routes are read from the OpenAPI document, which is built from the registered
//! handlers, plus the server-rendered pages.

use actix_web::dev::ResourceDef;
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::AppError;

pub struct RouteTable {
    routes: Vec<(ResourceDef, Vec<Method>)>,
}

impl RouteTable {
    pub fn new(openapi: &utoipa::openapi::OpenApi, pages: &[(&str, Method)]) -> RouteTable {
        let mut routes = Vec::new();
        for (path, item) in openapi.paths.paths.iter() {
            let mut methods = Vec::new();
            let ops = [
                (Method::GET, item.get.is_some()),
                (Method::POST, item.post.is_some()),
                (Method::PUT, item.put.is_some()),
                (Method::PATCH, item.patch.is_some()),
                (Method::DELETE, item.delete.is_some()),
            ];
            for (m, present) in ops {
                if present {
                    methods.push(m);
                }
            }
            routes.push((ResourceDef::new(path.as_str()), methods));
        }
        for (path, method) in pages {
            routes.push((ResourceDef::new(*path), vec![method.clone()]));
        }
        RouteTable { routes }
    }

    /// The name of the route parameter at path segment `index` (`/a/{id}` has `id` at 2),
    /// so a refused segment can be named in the answer.
    pub fn param_name(&self, path: &str, index: usize) -> Option<String> {
        self.routes.iter().filter(|(def, _)| def.is_match(path)).find_map(|(def, _)| {
            let segment = def.pattern()?.split('/').nth(index)?;
            segment.strip_prefix('{')?.strip_suffix('}').map(str::to_string)
        })
    }

    fn allowed(&self, path: &str) -> Option<Vec<Method>> {
        let mut found: Option<Vec<Method>> = None;
        for (def, methods) in &self.routes {
            if def.is_match(path) {
                found.get_or_insert_with(Vec::new).extend(methods.iter().cloned());
            }
        }
        found
    }
}

pub async fn not_found_or_not_allowed(req: HttpRequest, table: web::Data<RouteTable>) -> HttpResponse {
    match table.allowed(req.path()) {
        Some(methods) if !methods.contains(req.method()) => {
            let allow: Vec<&str> = methods.iter().map(Method::as_str).collect();
            let problem = crate::error::Problem {
                type_: "urn:badgegate:problem:method-not-allowed".into(),
                title: "Method Not Allowed".into(),
                status: StatusCode::METHOD_NOT_ALLOWED.as_u16(),
                detail: format!("this resource allows {}", allow.join(", ")),
                reason: None,
                errors: Vec::new(),
            };
            HttpResponse::MethodNotAllowed()
                .insert_header((header::ALLOW, allow.join(", ")))
                .content_type("application/problem+json")
                .body(serde_json::to_vec(&problem).unwrap_or_default())
        }
        // A browser that followed a wrong link gets a page; API clients (and any client
        // whose `Accept` does not prefer HTML) keep the problem+json answer.
        _ => crate::web::error_answer(&req, &AppError::NotFound, false),
    }
}
