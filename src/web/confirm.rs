//! The double opt-in link at `/e/{slug}/confirm/{token}`. Mail scanners and link previews
//! open links on their own, so the GET only shows a button; the POST (the participant
//! pressing it) confirms. The token in the path is the capability, single use.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::{esc, html, page};
use crate::consent::{self, Confirmation};
use crate::db::Db;
use crate::error::AppResult;
use crate::events;

fn invalid() -> HttpResponse {
    html(
        StatusCode::NOT_FOUND,
        page(
            "Link not valid",
            "<h1>This link is not valid</h1><p>It was used already, or replaced. Your personal privacy page \
             shows which choices are in effect.</p>",
        ),
    )
}

pub async fn form(db: web::Data<Db>, path: web::Path<(String, String)>) -> AppResult<HttpResponse> {
    let (slug, token) = path.into_inner();
    let found = db
        .read(move |conn| {
            let event = events::find_by_slug(conn, &slug)?;
            let valid = consent::confirmation_link_valid(conn, &event.id, &token)?;
            Ok((event, valid, token))
        })
        .await?;
    let (event, valid, token) = found;
    if !valid {
        return Ok(invalid());
    }
    let body = format!(
        "<h1>Confirm your choices for {}</h1><p>You registered with this address and asked us to share your \
         contact details with partners. Press the button to confirm that the address is yours; sharing starts \
         only then.</p><form method=\"post\" action=\"/e/{}/confirm/{}\"><button type=\"submit\">Confirm</button></form>\
         <p>If you did not register, close this page: nothing is shared.</p>",
        esc(&event.name),
        esc(&event.slug),
        esc(&token),
    );
    Ok(html(StatusCode::OK, page("Confirm your choices", &body)))
}

pub async fn confirm(db: web::Data<Db>, path: web::Path<(String, String)>) -> AppResult<HttpResponse> {
    let (slug, token) = path.into_inner();
    let done = db
        .write(move |conn| {
            let event = events::find_by_slug(conn, &slug)?;
            Ok((consent::confirm_by_token(conn, &event.id, &token)?, event))
        })
        .await?;
    match done {
        (Confirmation::Invalid, _) => Ok(invalid()),
        (Confirmation::Confirmed(_), event) => Ok(html(
            StatusCode::OK,
            page(
                "Confirmed",
                &format!(
                    "<h1>Thank you</h1><p>Your choices for {} are now in effect. You can change them or withdraw \
                     at any time from your personal privacy page (the link is in the mail).</p>",
                    esc(&event.name)
                ),
            ),
        )),
    }
}
