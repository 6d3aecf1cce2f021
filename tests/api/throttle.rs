//! Step 7, point 6: login throttling that neither tells strangers who has an account nor
//! lets parallel guesses past it, and per-client-IP limits that a forged header cannot dodge.

use std::collections::BTreeMap;

use crate::common::{Backend, PASSWORD, TestApp, problem};
use badgegate::auth::Role;
use badgegate::config::Settings;
use futures_util::future::join_all;
use reqwest::{Response, StatusCode};
use serde_json::json;

both_backends!(
    unknown_addresses_are_answered_exactly_like_known_ones,
    twenty_parallel_wrong_logins_get_five_password_checks,
    wrong_current_passwords_count_as_failed_logins_and_end_the_sessions,
);

/// Scenarios that need their own settings spawn their app themselves.
macro_rules! both_backends_own_settings {
    ($($name:ident),* $(,)?) => {
        mod own_settings {
            mod sqlite {
                $(
                    #[actix_web::test]
                    async fn $name() {
                        super::super::$name($crate::common::Backend::Sqlite).await;
                    }
                )*
            }
            mod postgres {
                $(
                    #[actix_web::test]
                    async fn $name() {
                        if $crate::common::postgres_url_or_skip(stringify!($name)).is_none() {
                            return;
                        }
                        super::super::$name($crate::common::Backend::Postgres).await;
                    }
                )*
            }
        }
    };
}

both_backends_own_settings!(
    a_forged_forwarded_for_does_not_escape_the_login_limit,
    behind_a_trusted_proxy_each_client_has_its_own_login_budget,
    the_registration_form_and_privacy_actions_are_limited_per_client,
);

/// Everything a client sees of an answer but the per-request headers.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: StatusCode,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

async fn answer(res: Response) -> Answer {
    let status = res.status();
    let headers = res
        .headers()
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "date" | "x-request-id"))
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_string()))
        .collect();
    Answer { status, headers, body: res.bytes().await.unwrap().to_vec() }
}

async fn unknown_addresses_are_answered_exactly_like_known_ones(app: TestApp) {
    app.create_staff("known@example.org", Role::Admin).await;
    for attempt in 1..=7 {
        let known = answer(app.login("known@example.org", "not the password at all").await).await;
        let unknown = answer(app.login("nobody@example.org", "not the password at all").await).await;
        assert_eq!(known, unknown, "attempt {attempt}: an unknown address must look like a known one");
        if attempt <= 5 {
            assert_eq!(known.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
        } else {
            assert_eq!(known.status, StatusCode::TOO_MANY_REQUESTS, "attempt {attempt}");
            let retry: u64 = known.headers["retry-after"].parse().unwrap();
            assert!((1..=30).contains(&retry), "Retry-After {retry}");
        }
    }
    // Case and surrounding spaces name the same address, and so the same lock.
    assert_eq!(app.login("  NOBODY@Example.org ", "not the password at all").await.status(), 429);
}

async fn twenty_parallel_wrong_logins_get_five_password_checks(app: TestApp) {
    app.create_staff("target@example.org", Role::Admin).await;
    for email in ["target@example.org", "stranger@example.org"] {
        let answers = join_all((0..20).map(|_| app.login(email, "wrong password guess"))).await;
        let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
        let checked = statuses.iter().filter(|s| **s == 401).count();
        let refused = statuses.iter().filter(|s| **s == 429).count();
        assert_eq!((checked, refused), (5, 15), "{email}: {statuses:?}");
    }
    // While locked, even the right password is not checked.
    let res = app.login("target@example.org", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    problem(res).await;
}

async fn change_password(app: &TestApp, token: &str, current: &str) -> Response {
    app.post(
        token,
        "/api/v1/auth/password",
        &json!({"current_password": current, "new_password": "a brand new passphrase"}),
    )
    .await
}

async fn wrong_current_passwords_count_as_failed_logins_and_end_the_sessions(app: TestApp) {
    app.create_staff("desk@example.org", Role::Registrar).await;
    let token = app.token("desk@example.org").await;
    // Two failed logins and three wrong current passwords make the five failures of a lock.
    for _ in 0..2 {
        assert_eq!(app.login("desk@example.org", "wrong password guess").await.status(), 401);
    }
    for _ in 0..2 {
        let res = change_password(&app, &token, "wrong password guess").await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem(res).await["errors"][0]["field"], "current_password");
    }
    assert_eq!(app.get(&token, "/api/v1/auth/me").await.status(), 200, "four failures end nothing yet");
    assert_eq!(change_password(&app, &token, "wrong password guess").await.status(), 422);

    // The fifth failure ended the token's sessions and locked the account.
    assert_eq!(app.get(&token, "/api/v1/auth/me").await.status(), 401);
    assert_eq!(change_password(&app, &token, PASSWORD).await.status(), 401);
    let res = app.login("desk@example.org", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "Retry-After {retry}");
}

fn login_limit(limit: u32) -> impl FnOnce(&mut Settings) {
    move |s: &mut Settings| s.login_limit = limit
}

async fn login_from(app: &TestApp, forwarded_for: &str) -> Response {
    let email = format!("someone-{}@example.org", uuid::Uuid::new_v4().simple());
    app.client
        .post(format!("{}/api/v1/auth/login", app.url))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"email": email, "password": "a guess at some password"}))
        .send()
        .await
        .unwrap()
}

async fn a_forged_forwarded_for_does_not_escape_the_login_limit(backend: Backend) {
    let app = TestApp::spawn_with(backend, login_limit(5)).await;
    // Five addresses, one guess each: the per-address throttle never sees a second try.
    for i in 0..5 {
        assert_eq!(login_from(&app, &format!("203.0.113.{i}")).await.status(), 401);
    }
    for i in 5..8 {
        let res = login_from(&app, &format!("203.0.113.{i}")).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "a header from an untrusted peer was believed");
        let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=12).contains(&retry), "Retry-After {retry}");
        assert_eq!(problem(res).await["status"], 429);
    }
    // Password changes draw on the same budget, before the token is even looked at.
    let res = app.post("not-a-token", "/api/v1/auth/password", &json!({})).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // Other requests are not limited.
    assert_eq!(app.client.get(format!("{}/api/v1/auth/me", app.url)).send().await.unwrap().status(), 401);
}

async fn behind_a_trusted_proxy_each_client_has_its_own_login_budget(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.login_limit = 3;
        s.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    for _ in 0..3 {
        assert_eq!(login_from(&app, "203.0.113.7").await.status(), 401);
    }
    assert_eq!(login_from(&app, "203.0.113.7").await.status(), 429);
    // What a client writes left of the proxy's entry is not believed...
    assert_eq!(login_from(&app, "198.51.100.50, 203.0.113.7").await.status(), 429);
    // ...and another client behind the same proxy keeps its own budget, whatever it forged.
    assert_eq!(login_from(&app, "203.0.113.7, 198.51.100.9").await.status(), 401);
    // A chain of trusted proxies is walked back to the first untrusted hop.
    assert_eq!(login_from(&app, "203.0.113.7, 127.0.0.2").await.status(), 429);
    assert_eq!(login_from(&app, "198.51.100.10, 127.0.0.2").await.status(), 401);
}

async fn the_registration_form_and_privacy_actions_are_limited_per_client(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.register_limit = 3;
        s.privacy_limit = 2;
    })
    .await;
    let admin = app.admin().await;
    let res = app
        .post(
            &admin,
            "/api/v1/events",
            &json!({"name": "Limit Fair", "slug": "limit-fair", "starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-02T00:00:00Z"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let form = format!("{}/e/limit-fair/register", app.url);
    let post_form = || app.client.post(&form).header("x-forwarded-for", "203.0.113.1").form(&[("name", "Ann")]).send();
    for _ in 0..3 {
        // No CSRF cookie: refused by the form, but counted all the same.
        assert_eq!(post_form().await.unwrap().status(), StatusCode::FORBIDDEN);
    }
    let res = post_form().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    // Reading the form is not limited.
    assert_eq!(app.client.get(&form).send().await.unwrap().status(), 200);

    let action = |what: &str| {
        app.client.post(format!("{}/me/{}/{what}", app.url, "x".repeat(43))).form(&[("partner_id", "all")]).send()
    };
    assert_ne!(action("withdraw").await.unwrap().status(), 429);
    assert_ne!(action("erase").await.unwrap().status(), 429);
    assert_eq!(action("correct").await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    let unsubscribe = app.client.post(format!("{}/u/{}", app.url, "y".repeat(43))).send().await.unwrap();
    assert_eq!(unsubscribe.status(), StatusCode::TOO_MANY_REQUESTS);
    // Sign-in has a budget of its own.
    assert_eq!(app.login("nobody@example.org", "a guess at some password").await.status(), 401);
}
