//! The part of the OpenAPI document that no single handler knows: the answers the shared
//! plumbing gives to any operation. A handler's annotation documents what the handler
//! itself answers; this modifier adds, from the shape of each operation, what the
//! extractors and middleware in front of it can answer, so a generic client finds every
//! status, content type and header it can meet:
//!
//! - every operation: 405 (`Allow`) from the route table, 422 from the URI checks
//!   (`http::input`), 503 when the database pool is exhausted;
//! - a bearer or privacy-link scheme: 401 (`WWW-Authenticate`); a bearer scheme: 403 (role);
//! - path parameters: 404 (unknown record, or a value the path type refuses);
//! - query parameters: 400 (a query the parameter types refuse) and 422;
//! - a request body: 400 (not JSON), 413 (over the route's limit), 415 (wrong type), 422;
//! - a route with a per-IP budget (`http::ip_limit`): 429 (`Retry-After`).
//!
//! Every answer of 400 and above is `application/problem+json` with the `Problem` schema:
//! handlers annotate errors with `body = Problem`, which utoipa files as `application/json`.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{HttpMethod, Operation, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Content, Header, OpenApi, Ref, RefOr};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The modifier that documents the shared answers (see the module comment).
pub struct SharedAnswers;

impl utoipa::Modify for SharedAnswers {
    fn modify(&self, openapi: &mut OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                (HttpMethod::Get, &mut item.get),
                (HttpMethod::Put, &mut item.put),
                (HttpMethod::Post, &mut item.post),
                (HttpMethod::Delete, &mut item.delete),
                (HttpMethod::Patch, &mut item.patch),
            ];
            for (method, operation) in operations {
                if let Some(operation) = operation.as_mut() {
                    document(path, &method, operation);
                }
            }
        }
    }
}

fn string_header(description: &str) -> Header {
    HeaderBuilder::new().schema(ObjectBuilder::new().schema_type(Type::String)).description(Some(description)).build()
}

fn integer_header(description: &str) -> Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
        .description(Some(description))
        .build()
}

fn problem(description: &str) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, Content::new(Some(Ref::from_schema_name("Problem"))))
}

fn security_schemes(operation: &Operation) -> Vec<String> {
    let Some(requirements) = &operation.security else { return Vec::new() };
    // A requirement's scheme names are private to utoipa; its JSON form is a map of them.
    requirements
        .iter()
        .filter_map(|r| serde_json::to_value(r).ok())
        .filter_map(|v| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()))
        .flatten()
        .collect()
}

fn has_parameter(operation: &Operation, place: ParameterIn) -> bool {
    operation.parameters.iter().flatten().any(|p| p.parameter_in == place)
}

fn method_name(method: &HttpMethod) -> actix_web::http::Method {
    match method {
        HttpMethod::Get => actix_web::http::Method::GET,
        HttpMethod::Put => actix_web::http::Method::PUT,
        HttpMethod::Post => actix_web::http::Method::POST,
        HttpMethod::Delete => actix_web::http::Method::DELETE,
        HttpMethod::Patch => actix_web::http::Method::PATCH,
        HttpMethod::Options => actix_web::http::Method::OPTIONS,
        HttpMethod::Head => actix_web::http::Method::HEAD,
        HttpMethod::Trace => actix_web::http::Method::TRACE,
    }
}

fn document(path: &str, method: &HttpMethod, operation: &mut Operation) {
    let schemes = security_schemes(operation);
    let has_body = operation.request_body.is_some();
    let has_query = has_parameter(operation, ParameterIn::Query);
    let has_path = has_parameter(operation, ParameterIn::Path);
    let limited = crate::http::ip_limit::has_budget(&method_name(method), path);
    let responses = &mut operation.responses.responses;

    // Errors are problem+json, whatever the handler's annotation filed them under.
    for (status, response) in responses.iter_mut() {
        if let RefOr::T(response) = response
            && status.parse::<u16>().is_ok_and(|s| s >= 400)
            && let Some(content) = response.content.shift_remove("application/json")
        {
            response.content.insert(PROBLEM_JSON.to_string(), content);
        }
    }

    let mut add = |status: &str, response: ResponseBuilder| {
        responses.entry(status.to_string()).or_insert_with(|| RefOr::T(response.build()));
    };
    if has_body || has_query {
        add("400", problem("The body is not valid JSON, or a query parameter has the wrong type"));
    }
    if !schemes.is_empty() {
        add(
            "401",
            problem("No valid token, or the token was revoked").header("WWW-Authenticate", string_header("`Bearer`")),
        );
    }
    if schemes.iter().any(|s| s == "bearer") {
        add("403", problem("The token's role may not do this, or the partner is suspended"));
    }
    if has_path {
        add("404", problem("No such record in the caller's scope"));
    }
    add(
        "405",
        problem("The path exists, but not with this method")
            .header("Allow", string_header("The methods this path answers, each once")),
    );
    if has_body {
        add("413", problem("The body is over this route's limit"));
        add("415", problem("The body is not of the documented content type"));
    }
    add("422", problem("A field, path segment or query value is refused; `errors` names each"));
    if limited {
        add("429", problem("Too many requests from this address; retry after `Retry-After` seconds"));
    }
    add("503", problem("The database is not reachable or its connections are all busy; retry later"));

    // Every 401 carries the challenge (`http::problem`), whatever documented it.
    if let Some(RefOr::T(response)) = responses.get_mut("401") {
        response.headers.entry("WWW-Authenticate".to_string()).or_insert_with(|| string_header("`Bearer`"));
    }
    // Whoever answers 429 says when to come back, whatever documented it.
    if let Some(RefOr::T(response)) = responses.get_mut("429") {
        response
            .headers
            .entry("Retry-After".to_string())
            .or_insert_with(|| integer_header("Seconds to wait before retrying"));
    }
}

/// No control character (Unicode `Cc`), as `text::TextKind::SingleLine` accepts.
pub const SINGLE_LINE: &str = r"^[^\u0000-\u001F\u007F-\u009F]*$";
/// Line breaks and tabs allowed, no other control character (`TextKind::MultiLine`).
pub const MULTI_LINE: &str = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$";

/// The modifier that writes the input middleware's text rule (`http::input`) into the
/// document: every free string a request carries (body field, path or query parameter)
/// gets the pattern of its field's kind, unless its own annotation already constrains it
/// (format, enum, pattern). Done on the JSON form, where the schema tree is plain data.
pub struct TextPatterns;

impl utoipa::Modify for TextPatterns {
    fn modify(&self, openapi: &mut OpenApi) {
        let Ok(mut doc) = serde_json::to_value(&*openapi) else { return };
        add_text_patterns(&mut doc);
        if let Ok(patched) = serde_json::from_value::<OpenApi>(doc) {
            *openapi = patched;
        }
    }
}

fn add_text_patterns(doc: &mut serde_json::Value) {
    use serde_json::Value;
    // Request bodies' schemas, followed through references: response schemas stay as they
    // are (the service writes them, and a pattern there would only restate the input rule).
    let mut pending: Vec<String> = Vec::new();
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else { continue };
            for operation in item.values_mut() {
                for parameter in operation.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
                    let name = parameter.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
                    if let Some(schema) = parameter.get_mut("schema") {
                        by_name(&name, schema);
                        constrain(schema, crate::text::TextKind::SingleLine, &mut pending);
                    }
                }
                let contents = operation.pointer_mut("/requestBody/content").and_then(Value::as_object_mut);
                for (content_type, content) in contents.into_iter().flatten() {
                    if content_type.contains("json")
                        && let Some(schema) = content.get_mut("schema")
                    {
                        constrain(schema, crate::text::TextKind::SingleLine, &mut pending);
                    }
                }
            }
        }
    }
    let mut done: Vec<String> = Vec::new();
    while let Some(name) = pending.pop() {
        if done.contains(&name) {
            continue;
        }
        done.push(name.clone());
        if let Some(schema) = doc.pointer_mut(&format!("/components/schemas/{name}")) {
            constrain(schema, crate::text::TextKind::SingleLine, &mut pending);
        }
    }
}

/// Adds the text pattern to `schema` and, for an object, to its properties by their names'
/// kinds; collects the component names it refers to.
fn constrain(schema: &mut serde_json::Value, kind: crate::text::TextKind, refs: &mut Vec<String>) {
    use crate::text::TextKind;
    use serde_json::Value;
    let Some(object) = schema.as_object_mut() else { return };
    if let Some(name) = object.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        refs.push(name.to_string());
        return;
    }
    let is_string = match object.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
        _ => false,
    };
    if is_string && !["format", "enum", "pattern", "const"].iter().any(|k| object.contains_key(*k)) {
        let pattern = if kind == TextKind::MultiLine { MULTI_LINE } else { SINGLE_LINE };
        object.insert("pattern".to_string(), Value::String(pattern.to_string()));
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for alternative in object.get_mut(key).and_then(Value::as_array_mut).into_iter().flatten() {
            constrain(alternative, kind, refs);
        }
    }
    if let Some(items) = object.get_mut("items") {
        constrain(items, kind, refs);
    }
    if let Some(extra) = object.get_mut("additionalProperties") {
        constrain(extra, kind, refs);
    }
    if let Some(keys) = object.get_mut("propertyNames") {
        constrain(keys, TextKind::SingleLine, refs);
    }
    let mut must_be_present = Vec::new();
    if let Some(properties) = object.get_mut("properties").and_then(Value::as_object_mut) {
        for (name, property) in properties.iter_mut() {
            if by_name(name, property) {
                must_be_present.push(Value::String(name.clone()));
            }
            // As `http::input` walks a body: below a multi-line key, everything is multi-line.
            let kind = if kind == TextKind::MultiLine { kind } else { TextKind::of_field(name) };
            constrain(property, kind, refs);
        }
    }
    if !must_be_present.is_empty()
        && let Value::Array(required) = object.entry("required").or_insert_with(|| Value::Array(Vec::new()))
    {
        for name in must_be_present {
            if !required.contains(&name) {
                required.push(name);
            }
        }
    }
}

/// A string that holds something besides white space and no control character (the core
/// trims names and titles and refuses what is left empty).
pub const NOT_BLANK: &str =
    r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$";

/// The rules that go with a field's name wherever the API uses it, because one function of
/// the core checks that field everywhere: paging (`paging`), passwords (`auth::passwords`),
/// e-mail addresses (`auth::users::check_email`), instants (`db::parse_rfc3339_ms`), names,
/// and the flags that must be `true` (an adult's registration, an erasure's confirmation).
/// Answers whether the field must be present.
fn by_name(name: &str, schema: &mut serde_json::Value) -> bool {
    use serde_json::{Value, json};
    let Some(object) = schema.as_object_mut() else { return false };
    let has_type = |t: &str| match object.get("type") {
        Some(Value::String(s)) => s == t,
        Some(Value::Array(types)) => types.iter().any(|x| x == t),
        _ => false,
    };
    let (is_string, is_integer, is_boolean) = (has_type("string"), has_type("integer"), has_type("boolean"));
    let set = |object: &mut serde_json::Map<String, Value>, key: &str, value: Value| {
        object.entry(key.to_string()).or_insert(value);
    };
    match name {
        "page" if is_integer => {
            set(object, "minimum", json!(1));
            set(object, "maximum", json!(crate::paging::MAX_PAGE));
        }
        "per_page" if is_integer => {
            set(object, "minimum", json!(1));
            set(object, "maximum", json!(crate::paging::MAX_PER_PAGE));
        }
        "password" | "new_password" if is_string => {
            set(object, "minLength", json!(crate::auth::passwords::MIN_PASSWORD_CHARS));
            set(object, "maxLength", json!(crate::auth::passwords::MAX_PASSWORD_CHARS));
        }
        "email" if is_string => {
            set(object, "format", json!("email"));
            set(object, "maxLength", json!(254));
        }
        "name" | "title" if is_string => {
            set(object, "minLength", json!(1));
            set(object, "pattern", json!(NOT_BLANK));
        }
        n if is_string && n.ends_with("_at") => set(object, "format", json!("date-time")),
        "confirm" | "is_adult" if is_boolean => {
            object.insert("type".to_string(), json!("boolean"));
            object.insert("const".to_string(), json!(true));
            return true;
        }
        _ => {}
    }
    false
}
