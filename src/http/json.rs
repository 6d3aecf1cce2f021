//! JSON bodies: content type checked, size capped per route, unknown fields refused, and
//! every data error answered as a 422 naming the field (never a 500).

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::{AppError, FieldError};

pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

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

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
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

impl<T: DeserializeOwned + 'static, const LIMIT: usize> FromRequest for ApiJson<T, LIMIT> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let is_json = req
                .mime_type()
                .ok()
                .flatten()
                .is_some_and(|m| m.essence_str() == "application/json" || m.suffix().is_some_and(|s| s == "json"));
            if !is_json {
                return Err(AppError::UnsupportedMediaType("the body must be application/json".into()));
            }
            let body = read_body(&req, &mut payload, LIMIT).await?;
            parse_json(&body).map(ApiJson)
        })
    }
}
