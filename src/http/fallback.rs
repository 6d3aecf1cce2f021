//! Unknown routes answer 404 and known routes with the wrong method answer 405 (with
//! `Allow`), both as problem+json (a 404 as an HTML page when `Accept` prefers it). Known
//! routes are read from the OpenAPI document, which is built from the registered
//! handlers, plus the server-rendered pages.
//!
//! A path is the resource of its most specific route: `/api/v1/leads/export.csv` is the
//! export, not the lead `{lead_id}` = `export.csv`, though both patterns match it. So its
//! `Allow` lists the export's methods only, and a method the export lacks answers 405
//! here, before the router could hand it to the lead's handler.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ResourceDef, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
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

    /// The methods of the path's resource, each once, in the table's order; `None` when no
    /// route matches. Of several matching patterns, the one with a literal segment where
    /// the others have a parameter (the leftmost such difference) is the resource.
    fn allowed(&self, path: &str) -> Option<Vec<Method>> {
        let mut best: Option<(Vec<bool>, Vec<Method>)> = None;
        for (def, methods) in &self.routes {
            if !def.is_match(path) {
                continue;
            }
            let key = literal_segments(def);
            match &mut best {
                Some((best_key, _)) if *best_key > key => {}
                Some((best_key, found)) if *best_key == key => {
                    found.extend(methods.iter().filter(|m| !found.contains(m)).cloned().collect::<Vec<_>>());
                }
                _ => best = Some((key, dedup(methods))),
            }
        }
        best.map(|(_, methods)| methods)
    }
}

/// Per path segment, whether it is literal text (more specific) rather than a parameter.
fn literal_segments(def: &ResourceDef) -> Vec<bool> {
    def.pattern().unwrap_or_default().split('/').map(|segment| !segment.contains('{')).collect()
}

fn dedup(methods: &[Method]) -> Vec<Method> {
    let mut out: Vec<Method> = Vec::with_capacity(methods.len());
    for m in methods {
        if !out.contains(m) {
            out.push(m.clone());
        }
    }
    out
}

fn method_not_allowed(methods: &[Method]) -> HttpResponse {
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

/// Middleware: a method that the path's resource does not have answers 405 before routing,
/// so a less specific route whose pattern also matches the path does not take it.
pub async fn refuse_unlisted_method(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let allowed = req.app_data::<web::Data<RouteTable>>().and_then(|table| table.allowed(req.path()));
    if let Some(methods) = allowed
        && !methods.contains(req.method())
    {
        let res = method_not_allowed(&methods);
        return Ok(req.into_response(res).map_into_right_body());
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

pub async fn not_found_or_not_allowed(req: HttpRequest, table: web::Data<RouteTable>) -> HttpResponse {
    match table.allowed(req.path()) {
        Some(methods) if !methods.contains(req.method()) => method_not_allowed(&methods),
        // A browser that followed a wrong link gets a page; API clients (and any client
        // whose `Accept` does not prefer HTML) keep the problem+json answer.
        _ => crate::web::error_answer(&req, &AppError::NotFound, false),
    }
}
