//! The browser session read from a request: the cookie, the `SignedIn<P>` extractor that
//! applies the same access policies as the API's `Auth<P>`, and the CSRF check every POST
//! of a signed-in page makes.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, dev::Payload, web};
use subtle::ConstantTimeEq;

use crate::auth::browser::{self, Lookup};
use crate::auth::{Caller, Policy};
use crate::db::{Db, now_ms};
use crate::error::AppError;
use crate::http::headers::HeaderPolicy;
use crate::web::layout;

/// Under TLS the `__Host-` prefix makes the browser refuse the cookie unless it is
/// `Secure`, `Path=/` and host-only, so neither plain HTTP nor a sibling subdomain can set
/// or shadow it. A plain-HTTP local trial uses the unprefixed name.
const COOKIE_TLS: &str = "__Host-bg_session";
const COOKIE_PLAIN: &str = "bg_session";

pub fn cookie_name(req: &HttpRequest) -> &'static str {
    if HeaderPolicy::tls(req) { COOKIE_TLS } else { COOKIE_PLAIN }
}

/// The session cookie: HttpOnly (no script reads it), SameSite=Lax (sent on a top-level
/// navigation to the site, not on another site's POST), `Path=/`, and `Secure` under TLS.
/// No `Max-Age`: the browser drops it when it closes, the server row ends it sooner.
pub fn session_cookie(req: &HttpRequest, token: &str) -> Cookie<'static> {
    Cookie::build(cookie_name(req), token.to_string())
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(HeaderPolicy::tls(req))
        .finish()
}

/// A cookie that deletes the session cookie in the browser.
pub fn removal_cookie(req: &HttpRequest) -> Cookie<'static> {
    let mut cookie = session_cookie(req, "");
    cookie.make_removal();
    cookie
}

/// The session token the request carries, if any.
pub fn session_token(req: &HttpRequest) -> Option<String> {
    req.cookie(cookie_name(req)).map(|c| c.value().to_string()).filter(|v| !v.is_empty())
}

/// Looks the request's session up; ended rows are deleted, and activity is recorded at
/// most once a minute. `None` when the request is not signed in.
pub async fn current(db: &Db, req: &HttpRequest) -> Result<Option<browser::Current>, AppError> {
    let Some(token) = session_token(req) else { return Ok(None) };
    let now = now_ms();
    let t = token.clone();
    match db.read(move |conn| browser::lookup(conn, &t, now)).await? {
        Lookup::Valid(current) => {
            if current.needs_touch(now) {
                let c = current.clone();
                db.write(move |conn| browser::touch(conn, &c, now)).await?;
            }
            Ok(Some(*current))
        }
        Lookup::Ended => {
            db.write(move |conn| browser::end(conn, &token)).await?;
            Ok(None)
        }
        Lookup::Unknown => Ok(None),
    }
}

/// A `next` target that can only lead within this site: a path starting with one `/`
/// (not `//host` nor `/\host`, which browsers read as another host), no control characters.
pub fn local_path(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    ok.then_some(next)
}

/// Extractor: a signed-in browser whose role the policy `P` admits (the same policies as
/// the API's `Auth<P>`). Not signed in: 303 to `/login?next=…`; another role: a 403 page.
pub struct SignedIn<P: Policy> {
    pub caller: Caller,
    pub email: String,
    pub csrf: String,
    _policy: PhantomData<P>,
}

impl<P: Policy> SignedIn<P> {
    /// Checks a submitted CSRF token against the session's, in constant time.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), actix_web::Error> {
        check_csrf(&self.csrf, submitted)
    }
}

/// Compares a form's CSRF token with the session's in constant time; a mismatch is the
/// 403 page.
pub fn check_csrf(expected: &str, submitted: &str) -> Result<(), actix_web::Error> {
    if !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes())) {
        Ok(())
    } else {
        Err(page_error(
            StatusCode::FORBIDDEN,
            "Form expired",
            "This form has expired or did not come from this site. Go back, reload the page and send it again.",
        ))
    }
}

/// 303 to the sign-in page, carrying where the browser wanted to go.
pub fn to_login(req: &HttpRequest) -> HttpResponse {
    let wanted = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let location = match local_path(wanted) {
        Some(path) if path != "/" => {
            format!("/login?next={}", form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>())
        }
        _ => "/login".to_string(),
    };
    HttpResponse::SeeOther().insert_header(("Location", location)).finish()
}

/// An HTML error page as an actix error (an extractor's or a CSRF check's answer).
pub fn page_error(status: StatusCode, title: &str, text: &str) -> actix_web::Error {
    let body = layout::render(
        title,
        &layout::Chrome::PLAIN,
        maud::html! { h1 { (title) } p { (text) } p { a href="/" { "Back to the start page" } } },
    );
    let res = HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body);
    actix_web::error::InternalError::from_response(title.to_string(), res).into()
}

fn data<T: 'static>(req: &HttpRequest) -> Result<web::Data<T>, AppError> {
    req.app_data::<web::Data<T>>().cloned().ok_or_else(|| AppError::internal("application data missing"))
}

impl<P: Policy> FromRequest for SignedIn<P> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let db = data::<Db>(&req)?;
            let Some(current) = current(&db, &req).await? else {
                return Err(actix_web::error::InternalError::from_response("not signed in", to_login(&req)).into());
            };
            if !P::allows(current.caller.role) {
                return Err(page_error(
                    StatusCode::FORBIDDEN,
                    "Not allowed",
                    "Your account may not open this page. Sign out and sign in with an account that may.",
                ));
            }
            Ok(SignedIn { caller: current.caller, email: current.email, csrf: current.csrf, _policy: PhantomData })
        })
    }
}
