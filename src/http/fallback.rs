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
    routes: Vec<Route>,
}

struct Route {
    def: ResourceDef,
    methods: Vec<Method>,
    /// Per path segment, whether it is literal text (more specific) rather than a parameter.
    specificity: Vec<bool>,
    /// The segments of a pattern made only of literal text and whole `{name}` segments:
    /// `Some(text)` literal, `None` a parameter. `None` for any other pattern (a regex, a
    /// tail), which only `ResourceDef` can match.
    plain: Option<Vec<Option<String>>>,
}

impl Route {
    fn new(pattern: &str, methods: Vec<Method>) -> Route {
        let specificity = pattern.split('/').map(|segment| !segment.contains('{')).collect();
        let plain = pattern
            .split('/')
            .map(|segment| {
                let name = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
                match name {
                    Some(name) if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => Some(None),
                    Some(_) => None,
                    None if segment.contains(['{', '}', '*']) => None,
                    None => Some(Some(segment.to_string())),
                }
            })
            .collect();
        Route { def: ResourceDef::new(pattern), methods, specificity, plain }
    }

    /// Every request is checked against every route (see [`RouteTable::allowed`]), and a
    /// `ResourceDef` match runs a regex: that was a tenth of the server's CPU while
    /// registering (BENCHMARKS.md, "Session 11"). A plain pattern can only match a path
    /// with as many segments and the same literal ones, so most routes are ruled out by
    /// comparing strings; the regex confirms the rest.
    fn is_match(&self, path: &str) -> bool {
        if let Some(plain) = &self.plain {
            let mut segments = path.split('/');
            for expected in plain {
                match (expected, segments.next()) {
                    (_, None) => return false,
                    (Some(literal), Some(segment)) if literal != segment => return false,
                    (None, Some("")) => return false,
                    _ => {}
                }
            }
            if segments.next().is_some() {
                return false;
            }
        }
        self.def.is_match(path)
    }
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
            routes.push(Route::new(path, methods));
        }
        for (path, method) in pages {
            routes.push(Route::new(path, vec![method.clone()]));
        }
        RouteTable { routes }
    }

    /// The name of the route parameter at path segment `index` (`/a/{id}` has `id` at 2),
    /// so a refused segment can be named in the answer.
    pub fn param_name(&self, path: &str, index: usize) -> Option<String> {
        self.routes.iter().filter(|route| route.is_match(path)).find_map(|route| {
            let segment = route.def.pattern()?.split('/').nth(index)?;
            segment.strip_prefix('{')?.strip_suffix('}').map(str::to_string)
        })
    }

    /// The methods of the path's resource, each once, in the table's order; `None` when no
    /// route matches. Of several matching patterns, the one with a literal segment where
    /// the others have a parameter (the leftmost such difference) is the resource.
    fn allowed(&self, path: &str) -> Option<Vec<Method>> {
        let mut best: Option<(&[bool], Vec<Method>)> = None;
        for route in &self.routes {
            if !route.is_match(path) {
                continue;
            }
            let key = route.specificity.as_slice();
            match &mut best {
                Some((best_key, _)) if *best_key > key => {}
                Some((best_key, found)) if *best_key == key => {
                    found.extend(route.methods.iter().filter(|m| !found.contains(m)).cloned().collect::<Vec<_>>());
                }
                _ => best = Some((key, dedup(&route.methods))),
            }
        }
        best.map(|(_, methods)| methods)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The string pre-check never decides otherwise than `ResourceDef`: for every route,
    /// paths made from every pattern (and near misses: a segment more or less, a trailing
    /// slash, an empty parameter) match exactly when the regex says so.
    #[test]
    fn the_quick_match_agrees_with_resource_def_on_every_route() {
        let table = RouteTable::new(&crate::http::routes::openapi(), crate::http::routes::PAGES);
        let mut paths = vec!["/".to_string(), String::new(), "//".to_string()];
        for route in &table.routes {
            let pattern = route.def.pattern().unwrap_or_default();
            let filled: Vec<String> = pattern
                .split('/')
                .map(|s| if s.starts_with('{') { "x-1".to_string() } else { s.to_string() })
                .collect();
            let path = filled.join("/");
            paths.push(format!("{path}/"));
            paths.push(format!("{path}/more"));
            paths.push(path.rsplit_once('/').map(|(head, _)| head.to_string()).unwrap_or_default());
            paths.push(
                pattern.split('/').map(|s| if s.starts_with('{') { "" } else { s }).collect::<Vec<_>>().join("/"),
            );
            paths.push(path);
        }
        let plain = table.routes.iter().filter(|r| r.plain.is_some()).count();
        assert!(plain > table.routes.len() / 2, "most routes take the quick check");
        for route in &table.routes {
            for path in &paths {
                assert_eq!(route.is_match(path), route.def.is_match(path), "{:?} on {path:?}", route.def.pattern());
            }
        }
    }
}
