//! The double opt-in link at `/e/{slug}/confirm/{token}`. Mail scanners and link previews
//! open links on their own, so the GET only shows a button; the POST (the participant
//! pressing it) confirms. The token in the path is the capability, single use.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;

use super::{error_answer, layout, link_not_valid, public_chrome};
use crate::consent::{self, Confirmation};
use crate::db::Db;
use crate::events;

fn invalid() -> HttpResponse {
    link_not_valid("It was used already, or replaced. Your personal privacy page shows which choices are in effect.")
}

pub async fn form(req: HttpRequest, db: web::Data<Db>, path: web::Path<(String, String)>) -> HttpResponse {
    let (slug, token) = path.into_inner();
    let found = db
        .read(move |conn| {
            let event = events::find_by_slug(conn, &slug)?;
            let valid = consent::confirmation_link_valid(conn, &event.id, &token)?;
            Ok((event, valid, token))
        })
        .await;
    let (event, valid, token) = match found {
        Ok(found) => found,
        Err(e) => return error_answer(&req, &e, true),
    };
    if !valid {
        return invalid();
    }
    let markup = html! {
        h1 { "Confirm your choices for " (event.name) }
        p { "You registered with this address and asked us to share your contact details with partners. Press the button to confirm that the address is yours; sharing starts only then." }
        form method="post" action={ "/e/" (event.slug) "/confirm/" (token) } {
            button type="submit" { "Confirm" }
        }
        p { "If you did not register, close this page: nothing is shared." }
    };
    super::html(StatusCode::OK, layout::render("Confirm your choices", &public_chrome(&event), markup))
}

pub async fn confirm(req: HttpRequest, db: web::Data<Db>, path: web::Path<(String, String)>) -> HttpResponse {
    let (slug, token) = path.into_inner();
    let done = db
        .write(move |conn| {
            let event = events::find_by_slug(conn, &slug)?;
            Ok((consent::confirm_by_token(conn, &event.id, &token)?, event))
        })
        .await;
    match done {
        Err(e) => error_answer(&req, &e, true),
        Ok((Confirmation::Invalid, _)) => invalid(),
        Ok((Confirmation::Confirmed(_), event)) => {
            let markup = html! {
                h1 { "Thank you" }
                div.notice role="status" {
                    "Your choices for " (event.name) " are now in effect."
                }
                p { "You can change them or withdraw at any time from your personal privacy page (the link is in the mail)." }
            };
            super::html(StatusCode::OK, layout::render("Confirmed", &public_chrome(&event), markup))
        }
    }
}
