//! Every route of the service, in one place. The OpenAPI document is generated from the
//! API and operations routes registered here (utoipa reads each handler's annotation),
//! the 404/405 table is built from that document plus [`PAGES`], and the pages are
//! registered from [`PAGES`] itself: a route cannot be served without being listed, nor
//! listed without being served.

use actix_web::App;
use actix_web::http::Method;
use utoipa::OpenApi;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::{AppExt, UtoipaApp, scope};

use crate::http::ops;
use crate::web::{
    accounts, confirm, console, console_incidents, console_mail, console_partners, console_records, login, me, portal,
    portal_devices, register, resend, scanner,
};
use crate::{
    attendees, auth, badges, consent, devices, events, exports, incidents, leads, ledger, mail, notices, partners,
    questions, rights, scans, security,
};

/// `/api/v1`: the staff, partner, phone and participant API.
fn api_v1(cfg: &mut ServiceConfig) {
    cfg.service(auth::handlers::login)
        .service(auth::handlers::me)
        .service(auth::handlers::change_password)
        .service(auth::handlers::password_reset)
        .service(auth::handlers::password_reset_confirm)
        .service(auth::handlers::accept_invitation)
        .service(events::handlers::create_event)
        .service(events::handlers::list_events)
        .service(events::handlers::get_event)
        .service(events::handlers::update_event)
        .service(partners::handlers::create_partner)
        .service(partners::handlers::list_partners)
        .service(partners::handlers::create_user)
        .service(partners::handlers::list_users)
        .service(partners::handlers::disable_user)
        .service(partners::handlers::revoke_user_sessions)
        .service(partners::handlers::resend_invitation)
        .service(attendees::handlers::register)
        .service(attendees::handlers::get_attendee)
        .service(attendees::handlers::list_attendees)
        .service(attendees::handlers::import)
        .service(badges::handlers::badge_png)
        .service(badges::handlers::badge_svg)
        .service(badges::handlers::reissue_badge)
        .service(badges::handlers::badge_sheet)
        .service(badges::handlers::badges_csv)
        .service(consent::handlers::staff_withdrawal)
        .service(scans::handlers::record_scan)
        .service(scans::handlers::sync_batch)
        .service(leads::handlers::list_leads)
        .service(leads::handlers::get_lead)
        .service(leads::handlers::update_lead)
        .service(exports::handlers::export_csv)
        .service(exports::handlers::export_xlsx)
        .service(ledger::handlers::list_disclosures)
        .service(rights::handlers::get_me)
        .service(rights::handlers::patch_me)
        .service(rights::handlers::withdraw_me)
        .service(rights::handlers::export_me)
        .service(rights::handlers::erase_me)
        .service(rights::handlers::reissue_privacy_link)
        .service(rights::handlers::erase_attendee)
        .service(rights::handlers::flag_under_18)
        .service(rights::handlers::staff_correct)
        .service(rights::handlers::file_request)
        .service(rights::handlers::complete_request)
        .service(rights::handlers::list_requests)
        .service(security::handlers::revoke_user)
        .service(security::handlers::revoke_partner)
        .service(security::handlers::revoke_event)
        .service(security::handlers::suspend_partner)
        .service(security::handlers::rotate_token_key)
        .service(security::handlers::list_actions)
        .service(incidents::handlers::create_incident)
        .service(incidents::handlers::list_incidents)
        .service(incidents::handlers::get_incident)
        .service(incidents::handlers::patch_incident)
        .service(incidents::handlers::add_update)
        .service(incidents::handlers::get_report)
        .service(incidents::handlers::affected_csv)
        .service(incidents::handlers::preview_participant_notice)
        .service(incidents::handlers::send_participant_notice)
        .service(mail::handlers::list_mail)
        .service(mail::handlers::resend_mail)
        .service(notices::handlers::list_own)
        .service(notices::handlers::acknowledge)
        .service(notices::handlers::list_for_event)
        // Task C (partner portal): the scanner app's qualification questions.
        .service(questions::handlers::get_questions)
        .service(questions::handlers::put_questions)
        // Issue 15 (notes): each scanner's own notes on its scan.
        .service(scans::handlers::put_scan_notes)
        // Task devices (issue 15): device sessions, refresh tokens, QR enrolment.
        .service(devices::handlers::refresh)
        .service(devices::handlers::sign_out)
        .service(devices::handlers::enrol)
        .service(devices::handlers::create_enrolment)
        .service(devices::handlers::list_devices)
        .service(devices::handlers::revoke_device);
}

/// Liveness and readiness, outside `/api/v1`.
fn operations(cfg: &mut ServiceConfig) {
    cfg.service(ops::healthz).service(ops::readyz);
}

/// Lists the server-rendered pages once, for both their registration and the route table.
macro_rules! pages {
    ($($method:ident $path:literal => $handler:path;)*) => {
        /// Page routes: path and method (the API's come from the OpenAPI document).
        pub const PAGES: &[(&str, Method)] = &[$(($path, Method::$method)),*];

        /// Registers the pages (not part of the API document).
        pub fn pages(cfg: &mut actix_web::web::ServiceConfig) {
            $(cfg.route($path, actix_web::web::method(Method::$method).to($handler));)*
        }
    };
}

pages! {
    GET "/e/{slug}" => register::to_form;
    GET "/e/{slug}/register" => register::form;
    POST "/e/{slug}/register" => register::submit;
    GET "/e/{slug}/resend" => resend::form;
    POST "/e/{slug}/resend" => resend::submit;
    GET "/e/{slug}/confirm/{token}" => confirm::form;
    POST "/e/{slug}/confirm/{token}" => confirm::confirm;
    GET "/me/{token}" => me::show;
    POST "/me/{token}/withdraw" => me::withdraw;
    POST "/me/{token}/marketing" => me::marketing;
    POST "/me/{token}/correct" => me::correct;
    GET "/me/{token}/export.json" => me::export;
    POST "/me/{token}/erase" => me::erase;
    GET "/u/{token}" => me::unsubscribe_form;
    POST "/u/{token}" => me::unsubscribe;
    GET "/invite/{token}" => accounts::invite_form;
    POST "/invite/{token}" => accounts::invite_submit;
    GET "/reset/{token}" => accounts::reset_form;
    POST "/reset/{token}" => accounts::reset_submit;
    GET "/" => login::root;
    GET "/login" => login::form;
    POST "/login" => login::submit;
    GET "/login/forgot" => login::forgot_form;
    POST "/login/forgot" => login::forgot_submit;
    POST "/logout" => login::logout;
    GET "/console/" => console::events_list;
    GET "/console/events/new" => console::new_event;
    POST "/console/events/new" => console::create_event;
    GET "/console/events/{event_id}" => console::event_dashboard;
    GET "/console/events/{event_id}/edit" => console::edit_event;
    POST "/console/events/{event_id}/edit" => console::update_event;
    GET "/console/events/{event_id}/attendees" => console::attendees;
    GET "/console/events/{event_id}/badges/sheet" => console::badge_sheet;
    // Task C: the partner portal.
    GET "/portal/" => portal::home;
    GET "/portal/leads/{lead_id}" => portal::lead_form;
    POST "/portal/leads/{lead_id}" => portal::lead_save;
    GET "/portal/export.csv" => portal::export_csv;
    GET "/portal/export.xlsx" => portal::export_xlsx;
    GET "/portal/activity" => portal::activity;
    GET "/portal/scanners" => portal::scanners;
    POST "/portal/scanners" => portal::invite;
    POST "/portal/scanners/{user_id}/disable" => portal::disable;
    POST "/portal/scanners/{user_id}/revoke-sessions" => portal::revoke_sessions;
    GET "/portal/questions" => portal::questions_form;
    POST "/portal/questions" => portal::questions_save;
    GET "/portal/notices" => portal::notices_list;
    POST "/portal/notices/{notice_id}/ack" => portal::notice_ack;
    // Task D1: attendee actions, CSV import with a preview, badge printing.
    GET "/console/events/{event_id}/badges/print" => console::print_badges;
    GET "/console/events/{event_id}/attendees/import" => console::import_page;
    POST "/console/events/{event_id}/attendees/import" => console::import_submit;
    GET "/console/events/{event_id}/attendees/new" => console::new_attendee;
    POST "/console/events/{event_id}/attendees/new" => console::register_attendee;
    GET "/console/events/{event_id}/attendees/{attendee_id}" => console::attendee_detail;
    POST "/console/events/{event_id}/attendees/{attendee_id}/badge/reissue" => console::reissue_badge;
    POST "/console/events/{event_id}/attendees/{attendee_id}/privacy-link" => console::send_privacy_link;
    POST "/console/events/{event_id}/attendees/{attendee_id}/erasure" => console::erase_attendee;
    POST "/console/events/{event_id}/attendees/{attendee_id}/under-18" => console::flag_under_18;
    POST "/console/events/{event_id}/attendees/{attendee_id}/correction" => console::correct_attendee;
    // Task D2: partners and their users, requests, ledger search, incidents.
    GET "/console/events/{event_id}/partners" => console_partners::partners_list;
    POST "/console/events/{event_id}/partners" => console_partners::partner_create;
    GET "/console/events/{event_id}/partners/{partner_id}" => console_partners::partner_detail;
    POST "/console/events/{event_id}/partners/{partner_id}/edit" => console_partners::partner_rename;
    POST "/console/events/{event_id}/partners/{partner_id}/revoke-sessions" => console_partners::partner_revoke;
    POST "/console/events/{event_id}/partners/{partner_id}/users" => console_partners::user_invite;
    POST "/console/events/{event_id}/partners/{partner_id}/users/{user_id}/invitation" => console_partners::user_resend;
    POST "/console/events/{event_id}/partners/{partner_id}/users/{user_id}/disable" => console_partners::user_disable;
    POST "/console/events/{event_id}/partners/{partner_id}/users/{user_id}/revoke-sessions" => console_partners::user_revoke;
    GET "/console/events/{event_id}/mail" => console_mail::mail_list;
    POST "/console/events/{event_id}/mail/{message_id}/resend" => console_mail::mail_resend;
    GET "/console/events/{event_id}/deletion-notices" => console_mail::notices_list;
    GET "/console/requests" => console_records::requests_list;
    POST "/console/requests" => console_records::request_file;
    GET "/console/requests/{request_id}" => console_records::request_detail;
    POST "/console/requests/{request_id}/complete" => console_records::request_complete;
    GET "/console/events/{event_id}/ledger" => console_records::ledger_search;
    GET "/console/events/{event_id}/ledger.csv" => console_records::ledger_csv;
    GET "/console/incidents" => console_incidents::incidents_list;
    GET "/console/incidents/new" => console_incidents::incident_new;
    POST "/console/incidents/new" => console_incidents::incident_create;
    GET "/console/incidents/{incident_id}" => console_incidents::incident_detail;
    POST "/console/incidents/{incident_id}/edit" => console_incidents::incident_edit;
    POST "/console/incidents/{incident_id}/updates" => console_incidents::incident_update;
    GET "/console/incidents/{incident_id}/report" => console_incidents::incident_report;
    GET "/console/incidents/{incident_id}/report.md" => console_incidents::incident_report_md;
    GET "/console/incidents/{incident_id}/affected.csv" => console_incidents::incident_affected_csv;
    GET "/console/incidents/{incident_id}/notice" => console_incidents::notice_preview;
    POST "/console/incidents/{incident_id}/notice" => console_incidents::notice_send;
    // Task devices (issue 15): the portal's device list and QR enrolment.
    GET "/portal/devices" => portal_devices::devices_list;
    POST "/portal/devices/{device_id}/revoke" => portal_devices::revoke;
    GET "/portal/scanners/{user_id}/enrol" => portal_devices::enrol_confirm;
    POST "/portal/scanners/{user_id}/enrol" => portal_devices::enrol_create;
    // Issue 15 (scanner): the phone scanner app, its files embedded in the binary.
    GET "/scan" => scanner::shell;
    GET "/scan/{asset:.*}" => scanner::asset;
}

#[derive(OpenApi)]
#[openapi(
    info(title = "badgegate", description = "Badges, partner lead retrieval and consent-gated release of contact data."),
    modifiers(&BearerAuth),
    components(schemas(crate::error::Problem, crate::error::FieldError))
)]
struct ApiDoc;

struct BearerAuth;
impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        components.add_security_scheme(
            "privacy_link",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("the token of the participant's personal privacy link"))
                    .build(),
            ),
        );
    }
}

/// The documented routes (API and operations) on an application.
pub fn documented<T>(app: UtoipaApp<T>) -> UtoipaApp<T>
where
    T: actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Error = actix_web::Error,
            InitError = (),
        >,
{
    app.openapi(ApiDoc::openapi()).service(scope("/api/v1").configure(api_v1)).configure(operations)
}

/// The OpenAPI document, generated from the registered handlers (so none is left out).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = documented(App::new().into_utoipa_app()).split_for_parts().1;
    // After the handlers' paths are in: `ApiDoc`'s own modifiers run before they are.
    utoipa::Modify::modify(&crate::http::openapi::SharedAnswers, &mut doc);
    utoipa::Modify::modify(&crate::http::openapi::TextPatterns, &mut doc);
    doc
}
