//! The staff console's partners (task D2): an event's partners (registrars read the list,
//! admins add and rename), and a partner's users (admin: invite by e-mail, send the
//! invitation again, disable, end sessions). The core functions are the API's:
//! `partners::list/create`, `partners::users::{list, create, resend_invitation, disable}`,
//! `security::{revoke_user, revoke_partner}`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;

use super::console::{console_page, event_links, see_other};
use super::console_records::{DoneQuery, Form, error_of, input, pager, with_status};
use super::layout;
use crate::auth::{AdminOnly, Policy, Registration, Role};
use crate::badges::BadgeKey;
use crate::config::PublicUrl;
use crate::db::Db;
use crate::error::{AppError, AppResult, FieldError};
use crate::events::{self, EventRow};
use crate::http::session::SignedIn;
use crate::paging::{Page, PageQuery};
use crate::partners::users::{self, CreatePartnerUser, InvitationMail, PartnerRole, PartnerUserView};
use crate::partners::{self, CreatePartner, PartnerRow, PartnerView};

const PER_PAGE: i64 = 50;

fn list_page<P: Policy>(
    s: &SignedIn<P>,
    event: &EventRow,
    list: &Page<PartnerView>,
    name: &str,
    errors: &[FieldError],
) -> HttpResponse {
    let admin = AdminOnly::allows(s.caller.role);
    let event_id = &event.id;
    let content = html! {
        h1 { "Partners — " (event.name) }
        (event_links(event_id, "Partners", s.caller.role))
        @if list.items.is_empty() { p { "No partners yet." } }
        @else {
            (super::layout::table_wrap(html! { table {
                thead { tr { th { "Partner" } } }
                tbody { @for p in &list.items { tr { td {
                    @if admin { a href={ "/console/events/" (event_id) "/partners/" (p.id) } { (p.name) } }
                    @else { (p.name) }
                } } } }
            } }))
            (pager(list.page, list.total, list.per_page, |p| format!("/console/events/{event_id}/partners?page={p}")))
        }
        @if admin {
            h2 { "Add a partner" }
            form method="post" action={ "/console/events/" (event_id) "/partners" } novalidate {
                input type="hidden" name="csrf" value=(s.csrf);
                (input("name", "Exhibitor or sponsor name", "text", name, error_of(errors, "name", "The name")))
                button type="submit" { "Add the partner" }
            }
        }
    };
    console_page(s, &format!("Partners — {}", event.name), "", content)
}

/// `GET /console/events/{event_id}/partners?page=`: `partners::list`, as
/// `GET /api/v1/events/{event_id}/partners` (admins and registrars).
pub async fn partners_list(
    s: SignedIn<Registration>,
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    let event_id = path.into_inner();
    let paging = PageQuery { page: query.page, per_page: Some(PER_PAGE) };
    let (event, list) = db
        .read(move |conn| {
            let event = events::find(conn, &event_id)?;
            let list = partners::list(conn, &event_id, &paging)?;
            Ok((event, list))
        })
        .await?;
    Ok(list_page(&s, &event, &list, "", &[]))
}

/// `POST /console/events/{event_id}/partners`: `partners::create`, as
/// `POST /api/v1/events/{event_id}/partners` (admin).
pub async fn partner_create(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let event_id = path.into_inner();
    let form = Form::read(&req, payload).await?;
    form.check(&s)?;
    let name = form.get("name");
    let (id, input) = (event_id.clone(), CreatePartner { name: name.clone() });
    match db.write(move |conn| partners::create(conn, &id, &input)).await {
        Ok(row) => Ok(see_other(&format!("/console/events/{event_id}/partners/{}?done=created", row.id))),
        Err(AppError::Validation(errors)) => {
            let (event, list) = db
                .read(move |conn| {
                    let event = events::find(conn, &event_id)?;
                    let list = partners::list(conn, &event_id, &PageQuery { page: None, per_page: Some(PER_PAGE) })?;
                    Ok((event, list))
                })
                .await?;
            Ok(with_status(list_page(&s, &event, &list, &name, &errors), StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(other) => Err(other.into()),
    }
}

/// What a partner page's forms hold as typed, and their errors.
#[derive(Default)]
struct Typed {
    name: Option<String>,
    email: String,
    role: String,
    errors: Vec<FieldError>,
}

fn done_message(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "created" => "The partner was added. Invite its users below.",
        "renamed" => "The partner's name was saved.",
        "invited" => "The invitation was sent. The user chooses a password through the link in it (valid 72 hours).",
        "resent" => "A new invitation was sent; the earlier link no longer works.",
        "disabled" => "The user was disabled and signed out everywhere.",
        "revoked" => "The user's sessions and tokens were ended; they must sign in again.",
        "revoked-all" => "Every user of this partner must sign in again.",
        _ => return None,
    })
}

fn partner_page(
    s: &SignedIn<AdminOnly>,
    event: &EventRow,
    partner: &PartnerRow,
    people: &[PartnerUserView],
    typed: &Typed,
    done: Option<&str>,
) -> HttpResponse {
    let base = format!("/console/events/{}/partners/{}", event.id, partner.id);
    let errors = &typed.errors;
    let role = if typed.role.is_empty() { "scanner" } else { typed.role.as_str() };
    let content = html! {
        h1 { (partner.name) }
        (event_links(&event.id, "Partners", s.caller.role))
        @if let Some(m) = done_message(done) { p.notice role="status" { (m) } }
        @for e in errors.iter().filter(|e| e.field == "user") { p.alert role="alert" { (super::fields::sentence("", &e.message)) } }
        @if errors.iter().any(|e| e.field != "user") { p.alert role="alert" { "Please correct the marked fields." } }
        @if partner.leads_suspended { p.alert { "Lead reads and exports of this partner are suspended." } }
        h2 { "Users" }
        @if people.is_empty() { p { "No users yet." } }
        @else {
            // One block per user rather than a table: long addresses and the action buttons
            // fit a phone's width without scrolling sideways.
            ul.people { @for u in people { li {
                strong { (u.email) } br;
                @if u.role == Role::PartnerAdmin { "partner admin" } @else { "scanner" }
                " · "
                @if u.disabled { "disabled" }
                @else if u.password_set { "active" }
                @else { "invited, no password yet" }
                @if !u.disabled { div {
                    @if !u.password_set {
                        form.inline method="post" action={ (base) "/users/" (u.id) "/invitation" } {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" aria-label={ "Send the invitation again to " (u.email) } { "Send the invitation again" }
                        } " "
                    }
                    form.inline method="post" action={ (base) "/users/" (u.id) "/revoke-sessions" } {
                        input type="hidden" name="csrf" value=(s.csrf);
                        button type="submit" aria-label={ "End sessions of " (u.email) } { "End sessions" }
                    } " "
                    (layout::confirm_action(
                        html! { "Disable…" },
                        &format!("Disable {}…", u.email),
                        "The user is signed out everywhere and can never sign in again. This cannot be undone.",
                        html! { form.inline method="post" action={ (base) "/users/" (u.id) "/disable" } {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" { "Disable " (u.email) }
                        } },
                    ))
                } }
            } } }
        }
        h2 { "Invite a user" }
        p.hint { "They receive an e-mail with a link to choose their own password." }
        form method="post" action={ (base) "/users" } novalidate {
            input type="hidden" name="csrf" value=(s.csrf);
            (input("email", "E-mail", "email", &typed.email, error_of(errors, "email", "The e-mail")))
            fieldset {
                legend { "Role" }
                label.check { input type="radio" name="role" value="scanner" checked[role == "scanner"]; "Scanner (scans badges, sees name and company)" }
                label.check { input type="radio" name="role" value="partner_admin" checked[role == "partner_admin"]; "Partner admin (leads, exports, its scanners)" }
                @if let Some(e) = error_of(errors, "role", "The role") { div.error id="role-error" { (e) } }
            }
            button type="submit" { "Send the invitation" }
        }
        h2 { "Partner name" }
        form method="post" action={ (base) "/edit" } novalidate {
            input type="hidden" name="csrf" value=(s.csrf);
            (input("name", "Name", "text", typed.name.as_deref().unwrap_or(&partner.name), error_of(errors, "name", "The name")))
            button type="submit" { "Save the name" }
        }
        h2 { "Containment" }
        form method="post" action={ (base) "/revoke-sessions" } {
            input type="hidden" name="csrf" value=(s.csrf);
            p { "Ends every session and token of this partner's users (phones and browsers)." }
            button type="submit" { "End all sessions of this partner" }
        }
    };
    console_page(s, &partner.name, "", content)
}

/// Loads what the partner page shows; `users::list` checks the caller may manage them.
async fn load(
    db: &Db,
    s: &SignedIn<AdminOnly>,
    event_id: String,
    partner_id: String,
) -> AppResult<(EventRow, PartnerRow, Vec<PartnerUserView>)> {
    let caller = s.caller.clone();
    db.read(move |conn| {
        let event = events::find(conn, &event_id)?;
        let partner = partners::find_in_event(conn, &event_id, &partner_id)?;
        let people = users::list(conn, &caller, &event_id, &partner_id)?;
        Ok((event, partner, people))
    })
    .await
}

/// `GET /console/events/{event_id}/partners/{partner_id}` (admin): the partner's users
/// (`users::list`, as `GET …/partners/{partner_id}/users`) and its forms.
pub async fn partner_detail(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    path: web::Path<(String, String)>,
    query: web::Query<DoneQuery>,
) -> AppResult<HttpResponse> {
    let (event_id, partner_id) = path.into_inner();
    let (event, partner, people) = load(&db, &s, event_id, partner_id).await?;
    Ok(partner_page(&s, &event, &partner, &people, &Typed::default(), query.done.as_deref()))
}

/// Sends the partner page back with the form's errors, or fails with the core's error.
async fn again(
    db: &Db,
    s: &SignedIn<AdminOnly>,
    event_id: String,
    partner_id: String,
    typed: Typed,
    status: StatusCode,
) -> actix_web::Result<HttpResponse> {
    let (event, partner, people) = load(db, s, event_id, partner_id).await?;
    Ok(with_status(partner_page(s, &event, &partner, &people, &typed, None), status))
}

/// `POST /console/events/{event_id}/partners/{partner_id}/edit`: `partners::rename` (admin).
pub async fn partner_rename(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let (event_id, partner_id) = path.into_inner();
    let form = Form::read(&req, payload).await?;
    form.check(&s)?;
    let name = form.get("name");
    let (e, p, input) = (event_id.clone(), partner_id.clone(), CreatePartner { name: name.clone() });
    match db.write(move |conn| partners::rename(conn, &e, &p, &input)).await {
        Ok(_) => Ok(see_other(&format!("/console/events/{event_id}/partners/{partner_id}?done=renamed"))),
        Err(AppError::Validation(errors)) => {
            let typed = Typed { name: Some(name), errors, ..Default::default() };
            again(&db, &s, event_id, partner_id, typed, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /console/events/{event_id}/partners/{partner_id}/users`: an invitation by e-mail
/// through `users::create`, as `POST /api/v1/events/{event_id}/partners/{partner_id}/users`
/// (no password is chosen by staff).
pub async fn user_invite(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    public: web::Data<PublicUrl>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let (event_id, partner_id) = path.into_inner();
    let form = Form::read(&req, payload).await?;
    form.check(&s)?;
    let (email, role_text) = (form.get("email"), form.get("role"));
    let role = match role_text.as_str() {
        "scanner" => PartnerRole::Scanner,
        "partner_admin" => PartnerRole::PartnerAdmin,
        _ => {
            let errors = vec![FieldError::new("role", "must be chosen: scanner or partner admin")];
            let typed = Typed { email, role: role_text, errors, ..Default::default() };
            return again(&db, &s, event_id, partner_id, typed, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let mail = invitation_mail(&badge_key, &public)?;
    let (caller, e, p) = (s.caller.clone(), event_id.clone(), partner_id.clone());
    let input = CreatePartnerUser { email: email.clone(), role };
    let (errors, status) = match db.write(move |conn| users::create(conn, &mail, &caller, &e, &p, input)).await {
        Ok(_) => return Ok(see_other(&format!("/console/events/{event_id}/partners/{partner_id}?done=invited"))),
        Err(AppError::Validation(errors)) => (errors, StatusCode::UNPROCESSABLE_ENTITY),
        Err(AppError::Conflict(message)) => (vec![FieldError::new("email", message)], StatusCode::CONFLICT),
        Err(other) => return Err(other.into()),
    };
    let typed = Typed { email, role: role_text, errors, ..Default::default() };
    again(&db, &s, event_id, partner_id, typed, status).await
}

/// Which of a user's actions a form asks for.
#[derive(Clone, Copy)]
enum UserAction {
    Resend,
    Disable,
    Revoke,
}

fn invitation_mail(badge_key: &BadgeKey, public: &PublicUrl) -> AppResult<InvitationMail> {
    Ok(InvitationMail { key: crate::mail::OutboxKey::from_badge_key(badge_key)?, public_url: public.0.clone() })
}

async fn user_action(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    mail: AppResult<InvitationMail>,
    path: web::Path<(String, String, String)>,
    req: HttpRequest,
    payload: web::Payload,
    action: UserAction,
) -> actix_web::Result<HttpResponse> {
    let (event_id, partner_id, user_id) = path.into_inner();
    let form = Form::read(&req, payload).await?;
    form.check(&s)?;
    let mail = mail?;
    let (caller, e, p, u) = (s.caller.clone(), event_id.clone(), partner_id.clone(), user_id.clone());
    let outcome = db
        .write(move |conn| match action {
            UserAction::Resend => users::resend_invitation(conn, &mail, &caller, &e, &p, &u).map(|_| "resent"),
            UserAction::Disable => users::disable(conn, &caller, &e, &p, &u).map(|_| "disabled"),
            UserAction::Revoke => {
                // The API's revocation takes any user id; here the user must be one of
                // this partner's, as the page showed it.
                let people = users::list(conn, &caller, &e, &p)?;
                if !people.iter().any(|x| x.id == u) {
                    return Err(AppError::NotFound);
                }
                crate::security::revoke_user(conn, &caller.user_id, &u).map(|_| "revoked")
            }
        })
        .await;
    match outcome {
        Ok(done) => Ok(see_other(&format!("/console/events/{event_id}/partners/{partner_id}?done={done}"))),
        Err(AppError::Conflict(message)) => {
            let typed = Typed { errors: vec![FieldError::new("user", message)], ..Default::default() };
            let (event, partner, people) = load(&db, &s, event_id, partner_id).await?;
            let mut page = partner_page(&s, &event, &partner, &people, &typed, None);
            page = with_status(page, StatusCode::CONFLICT);
            Ok(page)
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST …/users/{user_id}/invitation`: `users::resend_invitation` (admin).
pub async fn user_resend(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    public: web::Data<PublicUrl>,
    path: web::Path<(String, String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    user_action(s, db, invitation_mail(&badge_key, &public), path, req, payload, UserAction::Resend).await
}

/// `POST …/users/{user_id}/disable`: `users::disable` (admin).
pub async fn user_disable(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    public: web::Data<PublicUrl>,
    path: web::Path<(String, String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    user_action(s, db, invitation_mail(&badge_key, &public), path, req, payload, UserAction::Disable).await
}

/// `POST …/users/{user_id}/revoke-sessions`: `security::revoke_user` (admin).
pub async fn user_revoke(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    public: web::Data<PublicUrl>,
    path: web::Path<(String, String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    user_action(s, db, invitation_mail(&badge_key, &public), path, req, payload, UserAction::Revoke).await
}

/// `POST /console/events/{event_id}/partners/{partner_id}/revoke-sessions`:
/// `security::revoke_partner` (admin).
pub async fn partner_revoke(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let (event_id, partner_id) = path.into_inner();
    let form = Form::read(&req, payload).await?;
    form.check(&s)?;
    let (actor, e, p) = (s.caller.user_id.clone(), event_id.clone(), partner_id.clone());
    db.write(move |conn| crate::security::revoke_partner(conn, &actor, &e, &p)).await?;
    Ok(see_other(&format!("/console/events/{event_id}/partners/{partner_id}?done=revoked-all")))
}
