//! The one layout of every page: participant pages, the staff console and the partner
//! portal. Written with maud, so every interpolated value is escaped and a template that
//! does not compile is a build error. No script; one inline style sheet, allowed by its
//! hash in the pages' Content-Security-Policy (see [`super::page_policy`]).

use maud::{DOCTYPE, Markup, PreEscaped, html};

/// The layout's only style sheet. It must stay one constant: the policy allows it by hash.
pub const STYLE: &str = "*{box-sizing:border-box}\
body{font-family:system-ui,sans-serif;margin:0;line-height:1.45;color:#1a1a1a;background:#fff}\
main{max-width:36rem;margin:0 auto;padding:1rem}\
main,footer{overflow-wrap:break-word}textarea{font-family:inherit}\
body.wide main{max-width:72rem}\
header.top{background:#1d3557;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:center}\
header.top a{color:#fff}header.top .brand{font-weight:700;margin-right:auto}\
header.top nav{display:flex;flex-wrap:wrap;gap:.25rem .9rem}\
header.top nav a[aria-current=page]{text-decoration:none;border-bottom:2px solid #fff}\
header.top form{margin:0}header.top button{margin:0;padding:.3rem .7rem;font-size:.9rem}\
footer{max-width:72rem;margin:2rem auto 0;padding:1rem;border-top:1px solid #ccc;font-size:.9rem;color:#444}\
label{display:block;margin-top:.8rem;font-weight:600}\
input[type=text],input[type=email],input[type=tel],input[type=password],input[type=date],input[type=datetime-local],\
input[type=number],input[type=search],input[type=url],input[type=file],select,textarea{width:100%;padding:.5rem;font-size:1rem}\
.check{font-weight:normal;display:flex;gap:.5rem;align-items:flex-start}\
.error{color:#b00020;font-size:.9rem}\
.notice{background:#e7f4e8;border:1px solid #2e7d32;padding:.6rem .8rem;border-radius:4px}\
.alert{background:#fdecea;border:1px solid #b00020;padding:.6rem .8rem;border-radius:4px}\
button,.button{display:inline-block;margin-top:1rem;padding:.7rem 1.2rem;font-size:1rem}\
.inline{display:inline}.inline button{margin-top:0;padding:.3rem .7rem;font-size:.9rem}\
.table-wrap{overflow-x:auto;max-width:100%}\
table{border-collapse:collapse;width:100%;font-size:.95rem}\
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}\
th{background:#f3f3f3}\
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(10rem,1fr));gap:.8rem}\
.card{border:1px solid #ccc;border-radius:4px;padding:.7rem}.card b{display:block;font-size:1.6rem}\
.overdue{background:#fff3cd}\
.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:flex-end}\
.filters label{margin-top:0}.filters>div{flex:1 1 14rem}\
main nav a[aria-current=page]{font-weight:700;text-decoration:none}.hint{font-weight:normal;color:#555}\
svg{max-width:100%;height:auto}#badge svg,.badge-qr{width:100%;max-width:16rem}\
code{font-size:1.05rem;overflow-wrap:anywhere}\
a{color:#0b57d0}:focus-visible{outline:3px solid #f4b400;outline-offset:2px}\
header.top>span{overflow-wrap:anywhere;min-width:0}\
.chart{margin:1rem 0}\
pre.report{white-space:pre-wrap;overflow-wrap:anywhere;font-family:inherit;background:#f7f7f7;padding:.6rem;border-radius:4px}\
fieldset{margin-top:1rem;border:1px solid #ccc;border-radius:4px}\
ul.people{list-style:none;padding:0}ul.people li{border-bottom:1px solid #ddd;padding:.5rem 0;overflow-wrap:anywhere}\
ul.people form{display:inline-block;margin:.4rem .4rem 0 0}\
details.confirm{display:inline-block;margin:.4rem .4rem 0 0}\
details.confirm summary{cursor:pointer;display:inline-block;padding:.3rem .7rem;border:1px solid #767676;border-radius:3px;background:#efefef;font-size:.9rem}\
details.confirm[open]{display:block;border:1px solid #b00020;border-radius:4px;padding:.5rem}details.confirm p{margin:.4rem 0}\
ol.scan-notes{list-style:none;padding:0}ol.scan-notes li{border-left:3px solid #1d3557;padding:.1rem .7rem;margin:.6rem 0}\
ol.scan-notes p{margin:.3rem 0}ol.scan-notes .note{white-space:pre-wrap;overflow-wrap:anywhere}\
.enrol-qr{width:100%;max-width:22rem;margin:1rem 0}.enrol-qr svg{width:100%;height:auto;display:block}\
.enrol-code{font-size:1.3rem;letter-spacing:.05em;font-weight:600}\
@media (max-width:40rem){.narrow-hide{display:none}}\
@media print{header.top,.no-print,footer{display:none}body.wide main{max-width:none}}";

/// An action that cannot be undone, behind a second click and a sentence saying what it
/// does (no script: the page's policy allows none): `summary` opens it, `form` does it.
/// `name` is the summary's accessible name (the action and whom it is for).
pub fn confirm_action(summary: Markup, name: &str, consequence: &str, form: Markup) -> Markup {
    html! {
        details.confirm {
            summary aria-label=(name) { (summary) }
            p { (consequence) }
            (form)
        }
    }
}

/// A link of the signed-in header.
pub struct NavLink<'a> {
    pub href: &'a str,
    pub label: &'a str,
}

/// What surrounds a page's content.
pub enum Chrome<'a> {
    /// A participant page. The footer names the event's privacy notice and organiser
    /// contact when the page knows them.
    Public { privacy_notice_url: Option<&'a str>, organiser_contact: Option<&'a str> },
    /// A page of the staff console or the partner portal: its links, the signed-in user,
    /// and the sign-out form (with the session's CSRF token).
    SignedIn { nav: &'a [NavLink<'a>], current: &'a str, user: &'a str, csrf: &'a str },
}

impl Chrome<'_> {
    /// A participant page with no event to name.
    pub const PLAIN: Chrome<'static> = Chrome::Public { privacy_notice_url: None, organiser_contact: None };
}

/// A table that scrolls sideways inside its own box on a narrow screen. The box is a
/// focusable, labelled region, so a keyboard can scroll it too (axe: "Scrollable region
/// must have keyboard access"; whether a table overflows depends on its data).
pub fn table_wrap(table: Markup) -> Markup {
    html! {
        div.table-wrap tabindex="0" role="region" aria-label="Table, scrolls sideways on a narrow screen" { (table) }
    }
}

/// The whole document.
pub fn render(title: &str, chrome: &Chrome<'_>, content: Markup) -> String {
    let wide = matches!(chrome, Chrome::SignedIn { .. });
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                // The scanner app's icon: without a link a browser asks for /favicon.ico,
                // which is a 404.
                link rel="icon" type="image/png" sizes="192x192" href="/scan/icon-192.png";
                style { (PreEscaped(STYLE)) }
            }
            body class=[wide.then_some("wide")] {
                @if let Chrome::SignedIn { nav, current, user, csrf } = chrome {
                    header.top {
                        span.brand { "badgegate" }
                        nav aria-label="Main" {
                            @for link in nav.iter() {
                                a href=(link.href) aria-current=[(link.href == *current).then_some("page")] { (link.label) }
                            }
                        }
                        span { (user) }
                        form.inline method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (content) }
                @if let Chrome::Public { privacy_notice_url, organiser_contact } = chrome {
                    @if privacy_notice_url.is_some() || organiser_contact.is_some() {
                        footer {
                            @if let Some(url) = privacy_notice_url {
                                a href=(url) { "Privacy notice" }
                            }
                            @if privacy_notice_url.is_some() && organiser_contact.is_some() { " · " }
                            @if let Some(contact) = organiser_contact {
                                "Organiser: " (contact)
                            }
                        }
                    }
                }
            }
        }
    }
    .into_string()
}
