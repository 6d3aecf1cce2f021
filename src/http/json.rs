//! JSON bodies: content type checked, size capped per route, unknown fields refused, and
//! every data error answered as a 422 naming the field (never a 500).

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use futures_util::StreamExt;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{AppError, FieldError};

pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// Top-level arrays of a body whose items the handler parses and answers one by one (the
/// scan batch): a control character in one scan rejects that scan, not the phone's batch.
const ITEM_ARRAYS: &[&str] = &["scans"];

/// A JSON body of at most `LIMIT` bytes: each route states its own limit in its signature.
pub struct ApiJson<T, const LIMIT: usize = DEFAULT_BODY_LIMIT>(pub T);

impl<T, const LIMIT: usize> ApiJson<T, LIMIT> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

pub async fn read_body(req: &HttpRequest, payload: &mut Payload, limit: usize) -> Result<web::BytesMut, AppError> {
    let too_large = || AppError::PayloadTooLarge(format!("the body exceeds the limit of {limit} bytes"));
    if let Some(len) =
        req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok())
        && len > limit
    {
        return Err(too_large());
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| AppError::BadRequest("the body could not be read".into()))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses a body that must be one JSON object and nothing after it, with every string
/// checked for control characters (see `http::input`), into `T`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    parse_json_checked(bytes, &[])
}

/// As `parse_json`; `skip` names top-level arrays whose items the handler parses (and so
/// checks) one by one with `parse_json`.
pub fn parse_json_checked<T: DeserializeOwned>(bytes: &[u8], skip: &[&str]) -> Result<T, AppError> {
    let not_json = |e: serde_json::Error| AppError::BadRequest(format!("the body is not valid JSON: {e}"));
    let mut outer = serde_json::Deserializer::from_slice(bytes);
    let document = serde_json::Value::deserialize(&mut outer).map_err(not_json)?;
    // Text after the document would otherwise be ignored, and a sender could not tell
    // which of two concatenated documents we acted on.
    outer.end().map_err(not_json)?;
    // serde reads a struct from an array too (`["e-mail","password"]` logs in); only the
    // named form is part of the API.
    if !document.is_object() {
        return Err(AppError::field("body", "must be a JSON object"));
    }
    let errors = super::input::check_json(&document, skip);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    // Deserialized from the bytes again rather than from `document`: a map keeps only the
    // last of two equal keys, and the struct refuses the duplicate.
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(value) => Ok(value),
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            if inner.is_syntax() || inner.is_eof() || inner.is_io() {
                return Err(AppError::BadRequest(format!("the body is not valid JSON: {inner}")));
            }
            let message = inner.to_string();
            // serde reports unknown and missing fields at the parent; name the field itself.
            let field = field_from_message(&message)
                .map(|f| match path.as_str() {
                    "." => f,
                    p if p == f || p.ends_with(&format!(".{f}")) => p.to_string(),
                    p => format!("{p}.{f}"),
                })
                .unwrap_or(path);
            let message = message.split(" at line ").next().unwrap_or(&message).to_string();
            Err(AppError::Validation(vec![FieldError::new(field, message)]))
        }
    }
}

fn field_from_message(message: &str) -> Option<String> {
    for prefix in ["unknown field `", "missing field `"] {
        if let Some(rest) = message.strip_prefix(prefix) {
            return rest.split('`').next().map(str::to_string);
        }
    }
    None
}

/// Left in the request by an authenticating extractor; the body extractor waits on it.
///
/// actix builds every extractor of a handler at once and polls them together, returning the
/// first error in argument order *among those ready*. A body that fails to parse is ready at
/// once, the database check of a token is not: without this gate a caller with a bad token
/// learned what the body should look like (a 422) instead of getting a 401.
struct BodyGate(tokio::sync::oneshot::Receiver<()>);

/// Held by an authenticating extractor; `open` once the caller is known. Dropping it
/// unopened (authentication failed) keeps the body unread.
pub struct BodyGateOpener(tokio::sync::oneshot::Sender<()>);

impl BodyGateOpener {
    pub fn open(self) {
        // The body extractor may be gone (a handler without a JSON body): nothing to tell.
        let _ = self.0.send(());
    }
}

/// Called by an authenticating extractor's `from_request`, which runs before the body
/// extractor's when it comes first among the handler's arguments (as in every handler).
pub fn hold_body_until_authenticated(req: &HttpRequest) -> BodyGateOpener {
    let (tx, rx) = tokio::sync::oneshot::channel();
    req.extensions_mut().insert(BodyGate(rx));
    BodyGateOpener(tx)
}

impl<T: DeserializeOwned + 'static, const LIMIT: usize> FromRequest for ApiJson<T, LIMIT> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        let gate = req.extensions_mut().remove::<BodyGate>();
        Box::pin(async move {
            if let Some(BodyGate(authenticated)) = gate
                && authenticated.await.is_err()
            {
                return Err(AppError::Unauthorized);
            }
            let is_json = req
                .mime_type()
                .ok()
                .flatten()
                .is_some_and(|m| m.essence_str() == "application/json" || m.suffix().is_some_and(|s| s == "json"));
            if !is_json {
                return Err(AppError::UnsupportedMediaType("the body must be application/json".into()));
            }
            let body = read_body(&req, &mut payload, LIMIT).await?;
            parse_json_checked(&body, ITEM_ARRAYS).map(ApiJson)
        })
    }
}
