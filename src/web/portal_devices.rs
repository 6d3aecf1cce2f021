//! The partner portal's phones: the list of signed-in devices with a revoke button (the
//! core of `GET /api/v1/devices` and `POST /api/v1/devices/{id}/revoke`), and the
//! enrolment of a phone by QR code for one scanner user (the core of
//! `POST /api/v1/devices/enrolments`). Partner admins only.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_SECURITY_POLICY, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, PreEscaped, html};

use super::portal::{form_fields, page, value};
use crate::auth::{PartnerAdminOnly, Role};
use crate::config::PublicUrl;
use crate::db::Db;
use crate::devices::{self, DeviceList, DeviceState, Enrolment, RevokeReason};
use crate::error::{AppError, AppResult, FieldError};
use crate::events;
use crate::http::session::SignedIn;
use crate::partners::users::{self, PartnerUserView};

const DEVICES: &str = "/portal/devices";

/// `GET /portal/devices`: the partner's signed-in phones, newest first.
pub async fn devices_list(s: SignedIn<PartnerAdminOnly>, db: web::Data<Db>) -> AppResult<HttpResponse> {
    devices_page(&s, &db, None).await
}

fn state_label(state: DeviceState, reason: Option<RevokeReason>) -> &'static str {
    match (state, reason) {
        (DeviceState::Active, _) => "Active",
        (DeviceState::Expired, _) => "Expired (event over)",
        (DeviceState::SignedOut, Some(RevokeReason::SignedOutOnDevice)) => "Signed out on the phone",
        (DeviceState::SignedOut, _) => "Signed out",
        (DeviceState::Revoked, Some(RevokeReason::RefreshReuse)) => "Revoked: its sign-in was copied",
        (DeviceState::Revoked, Some(RevokeReason::UserDisabled)) => "Revoked: user disabled",
        (DeviceState::Revoked, Some(RevokeReason::SessionsRevoked)) => "Revoked: user signed out everywhere",
        (DeviceState::Revoked, Some(RevokeReason::TokenKeyRotated)) => "Revoked: all sessions ended",
        (DeviceState::Revoked, _) => "Revoked",
    }
}

async fn devices_page(s: &SignedIn<PartnerAdminOnly>, db: &Db, notice: Option<&str>) -> AppResult<HttpResponse> {
    let scope = s.caller.partner_scope()?;
    let caller = s.caller.clone();
    let (event, list): (events::EventRow, DeviceList) =
        db.read(move |conn| Ok((events::find(conn, &scope.event_id)?, devices::list(conn, &caller, None)?))).await?;
    let at = |t: &str| event.display_rfc3339(t);
    let content = html! {
        h1 { "Devices" }
        @if let Some(n) = notice { p.notice role="status" { (n) } }
        p { "The phones signed in to the scanner app. A phone stays signed in until the event's scanning closes. "
            "Revoke a lost or stolen phone: it stops syncing and reading lead cards at once, and must be signed in again. "
            "Scans it has not synced stay on the phone." }
        p { "To sign a phone in without a password, use " a href="/portal/scanners" { "Enrol a phone" } " on the scanner users page." }
        @if list.items.is_empty() { p { "No devices yet." } } @else {
            (super::layout::table_wrap(html! { table {
                caption.hint { "Times in " (event.time_zone) }
                thead { tr {
                    th scope="col" { "Device" } th scope="col" { "User" } th scope="col" { "Signed in" }
                    th scope="col" { "Last used" } th scope="col" { "State" } th scope="col" { span.hint { "Action" } }
                } }
                tbody { @for d in &list.items { tr {
                    td { (d.name) }
                    td { (d.user_email) }
                    td { (at(&d.created_at)) }
                    td { (at(&d.last_used_at)) }
                    td {
                        (state_label(d.state, d.revoked_reason))
                        @if let Some(r) = &d.revoked_at { br; span.hint { (at(r)) } }
                        @if d.state == DeviceState::Active { br; span.hint { "until " (at(&d.expires_at)) } }
                    }
                    td { @if d.revoked_at.is_none() {
                        form.inline method="post" action={ "/portal/devices/" (d.id) "/revoke" } {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" { "Revoke" span.hint { " " (d.name) } }
                        }
                    } }
                } } }
            } }))
        }
    };
    Ok(page(s, "Devices", DEVICES, content))
}

/// `POST /portal/devices/{device_id}/revoke`: the API's revocation.
pub async fn revoke(
    req: HttpRequest,
    s: SignedIn<PartnerAdminOnly>,
    db: web::Data<Db>,
    path: web::Path<String>,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let fields = form_fields(&req, payload).await?;
    s.check_csrf(value(&fields, "csrf"))?;
    let caller = s.caller.clone();
    let device_id = path.into_inner();
    db.write(move |conn| devices::revoke(conn, &caller, &device_id)).await?;
    Ok(devices_page(&s, &db, Some("The device is revoked: it is signed out and cannot sync any more.")).await?)
}

/// The scanner user an enrolment page is for: one of the partner's users (the core of the
/// API's user list), or 404.
async fn scanner_user(s: &SignedIn<PartnerAdminOnly>, db: &Db, user_id: String) -> AppResult<PartnerUserView> {
    let scope = s.caller.partner_scope()?;
    let caller = s.caller.clone();
    let list = db.read(move |conn| users::list(conn, &caller, &scope.event_id, &scope.partner_id)).await?;
    list.into_iter().find(|u| u.id == user_id).ok_or(AppError::NotFound)
}

fn confirm_page(s: &SignedIn<PartnerAdminOnly>, user: &PartnerUserView, errors: &[FieldError]) -> Markup {
    html! {
        p { a href="/portal/scanners" { "Back to the scanner users" } }
        h1 { "Enrol a phone" }
        p { "Sign a booth phone in to the scanner app as " strong { (user.email) } " without typing a password." }
        ol {
            li { "Make an enrolment code here. It shows as a QR code, valid 10 minutes, for one phone." }
            li { "On the phone, open the scanner app and choose to enrol with a code." }
            li { "Point the phone at the QR code (or type the code shown under it)." }
        }
        p.hint { "Whoever scans the code first is signed in as this user: show it only to your booth staff, and do not mail it or post a photo of it." }
        @for e in errors { p.error role="alert" { (super::fields::sentence(&e.field, &e.message)) } }
        @if user.role == Role::Scanner && !user.disabled {
            form method="post" action={ "/portal/scanners/" (user.id) "/enrol" } {
                input type="hidden" name="csrf" value=(s.csrf);
                button type="submit" { "Make an enrolment code" }
            }
        } @else {
            p.alert { "Only an active scanner user can have a phone enrolled." }
        }
    }
}

/// `GET /portal/scanners/{user_id}/enrol`: what enrolment does, and the button that makes
/// a code (a code is made only by that POST, never by a page view).
pub async fn enrol_confirm(
    s: SignedIn<PartnerAdminOnly>,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let user = scanner_user(&s, &db, path.into_inner()).await?;
    Ok(page(&s, "Enrol a phone", "/portal/scanners", confirm_page(&s, &user, &[])))
}

/// The one script of the portal: the print button, allowed by its hash on this page only.
/// Without script the button stays hidden and the browser's own Print does the same.
const PRINT_SCRIPT: &str =
    "var b=document.getElementById('print');b.hidden=false;b.addEventListener('click',function(){window.print()});";

fn print_policy() -> AppResult<HeaderValue> {
    use base64::Engine;
    use sha2::Digest;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(PRINT_SCRIPT.as_bytes()));
    HeaderValue::from_str(&format!("{}; script-src 'sha256-{hash}'", super::page_policy())).map_err(AppError::internal)
}

/// The code in groups of four, easier to read out and type.
fn grouped(code: &str) -> String {
    code.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-")
}

fn code_page(user: &PartnerUserView, enrolment: &Enrolment, svg: &str, expires: &str, app_url: &str) -> Markup {
    html! {
        p.no-print { a href="/portal/scanners" { "Back to the scanner users" } }
        h1 { "Enrol a phone for " (user.email) }
        p.notice role="status" { "Valid 10 minutes, once: until " strong { (expires) } "." }
        div.enrol-qr role="img" aria-label={ "Enrolment QR code for " (user.email) } { (PreEscaped(svg)) }
        p { "Or type this code in the app:" }
        p { code.enrol-code { (grouped(&enrolment.code)) } }
        p { "On the phone, open " code { (app_url) } ", choose to enrol with a code and scan the QR code above." }
        p.hint { "Whoever scans it first is signed in as " (user.email) ". Do not mail it or post a photo of it." }
        p.no-print {
            button id="print" type="button" hidden { "Print" }
            " "
            a href={ "/portal/scanners/" (user.id) "/enrol" } { "Make another code" }
            " · " a href="/portal/devices" { "See the devices" }
        }
        script { (PreEscaped(PRINT_SCRIPT)) }
    }
}

/// `POST /portal/scanners/{user_id}/enrol`: makes a one-time code through the core of
/// `POST /api/v1/devices/enrolments` and shows it as a QR code, as text, with its expiry
/// on the event's clock, ready to print.
pub async fn enrol_create(
    req: HttpRequest,
    s: SignedIn<PartnerAdminOnly>,
    db: web::Data<Db>,
    public: web::Data<PublicUrl>,
    path: web::Path<String>,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let fields = form_fields(&req, payload).await?;
    s.check_csrf(value(&fields, "csrf"))?;
    let user = scanner_user(&s, &db, path.into_inner()).await?;
    let scope = s.caller.partner_scope()?;
    let user_id = user.id.clone();
    let made = db
        .write(move |conn| {
            let enrolment = devices::create_enrolment(conn, &scope, &user_id)?;
            Ok((events::find(conn, &scope.event_id)?, enrolment))
        })
        .await;
    let (event, enrolment) = match made {
        Ok(made) => made,
        Err(AppError::Validation(errors)) => {
            let mut res = page(&s, "Enrol a phone", "/portal/scanners", confirm_page(&s, &user, &errors));
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(res);
        }
        Err(e) => return Err(e.into()),
    };
    let svg = crate::badges::render_svg(&enrolment.payload)?;
    let svg = svg.trim_start_matches("<?xml version=\"1.0\" standalone=\"yes\"?>");
    let expires = event.display_rfc3339(&enrolment.expires_at);
    let app_url = format!("{}/scan", public.0);
    let mut res = page(&s, "Enrol a phone", "/portal/scanners", code_page(&user, &enrolment, svg, &expires, &app_url));
    res.headers_mut().insert(CONTENT_SECURITY_POLICY, print_policy()?);
    Ok(res)
}
