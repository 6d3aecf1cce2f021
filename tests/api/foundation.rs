//! Step 1: start-up, configuration, accounts, login, tokens, errors, operations.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use crate::common::{PASSWORD, TestApp, problem};
use badgegate::auth::Role;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

both_backends!(
    health_and_readiness_answer,
    unknown_routes_and_methods_are_problem_json,
    bad_bodies_get_4xx_naming_the_field,
    login_issues_a_token_and_me_returns_the_caller,
    unknown_email_and_wrong_password_look_the_same,
    repeated_failures_throttle_the_account,
    hostile_tokens_are_refused,
    revoking_a_users_tokens_ends_them_at_once,
    changing_the_password_ends_every_token,
    registrars_cannot_do_admin_work,
);

async fn health_and_readiness_answer(app: TestApp) {
    let res = app.client.get(format!("{}/healthz", app.url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("x-request-id"));
    let res = app.client.get(format!("{}/readyz", app.url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

async fn unknown_routes_and_methods_are_problem_json(app: TestApp) {
    let res = app.client.get(format!("{}/no/such/thing", app.url)).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(problem(res).await["status"], 404);

    let res = app.client.delete(format!("{}/api/v1/auth/login", app.url)).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers().get("allow").unwrap(), "POST");
    assert_eq!(problem(res).await["status"], 405);
}

async fn bad_bodies_get_4xx_naming_the_field(app: TestApp) {
    let login = format!("{}/api/v1/auth/login", app.url);
    let res =
        app.client.post(&login).header("content-type", "application/json").body("{not json").send().await.unwrap();
    assert_eq!(res.status(), 400);
    problem(res).await;

    let res = app.client.post(&login).header("content-type", "text/plain").body("{}").send().await.unwrap();
    assert_eq!(res.status(), 415);
    problem(res).await;

    let res =
        app.client.post(&login).json(&json!({"email": "a@b.c", "password": "x", "admin": true})).send().await.unwrap();
    assert_eq!(res.status(), 422);
    let body = problem(res).await;
    assert_eq!(body["errors"][0]["field"], "admin");

    let res = app.client.post(&login).json(&json!({"email": "a@b.c"})).send().await.unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(problem(res).await["errors"][0]["field"], "password");

    let huge = "x".repeat(200 * 1024);
    let res = app.client.post(&login).json(&json!({"email": "a@b.c", "password": huge})).send().await.unwrap();
    assert_eq!(res.status(), 413);
    problem(res).await;

    let admin = app.admin().await;
    let res = app.post(&admin, "/api/v1/events", &json!({"name": "X", "starts_at": "soon", "ends_at": 5})).await;
    assert_eq!(res.status(), 422);
    assert_eq!(problem(res).await["errors"][0]["field"], "ends_at");
}

async fn login_issues_a_token_and_me_returns_the_caller(app: TestApp) {
    app.create_staff("Desk@Example.org", Role::Registrar).await;
    let res = app.login("desk@example.org", PASSWORD).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["role"], "registrar");
    assert!(body["expires_in"].as_i64().unwrap() <= 900);
    let token = body["access_token"].as_str().unwrap();
    let me: Value = app.get(token, "/api/v1/auth/me").await.json().await.unwrap();
    assert_eq!(me["email"], "desk@example.org");
    assert_eq!(me["role"], "registrar");

    let res = app.client.get(format!("{}/api/v1/auth/me", app.url)).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

async fn unknown_email_and_wrong_password_look_the_same(app: TestApp) {
    app.create_staff("known@example.org", Role::Admin).await;
    let wrong = app.login("known@example.org", "not the password at all").await;
    assert_eq!(wrong.status(), 401);
    let wrong: Value = wrong.json().await.unwrap();
    let unknown = app.login("nobody@example.org", "not the password at all").await;
    assert_eq!(unknown.status(), 401);
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(wrong, unknown);
}

async fn repeated_failures_throttle_the_account(app: TestApp) {
    app.create_staff("target@example.org", Role::Admin).await;
    for _ in 0..badgegate::auth::throttle::THROTTLE_AFTER_FAILURES {
        assert_eq!(app.login("target@example.org", "wrong password guess").await.status(), 401);
    }
    // Even the right password waits until the lock ends.
    let res = app.login("target@example.org", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers().get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 30);
    problem(res).await;
}

/// The signing key of token generation 0, as the server derives it from its secret file.
fn token_secret(app: &TestApp) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    let text = std::fs::read_to_string(app.data_dir.path().join("token-secret")).unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&hex::decode(text.trim()).unwrap()).unwrap();
    mac.update(b"badgegate jwt v1\0");
    mac.update(&0i64.to_be_bytes());
    mac.finalize().into_bytes().to_vec()
}

async fn hostile_tokens_are_refused(app: TestApp) {
    let admin = app.admin().await;
    assert_eq!(app.get(&admin, "/api/v1/auth/me").await.status(), 200);
    let me: Value = app.get(&admin, "/api/v1/auth/me").await.json().await.unwrap();
    let secret = token_secret(&app);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = |exp: i64, aud: &str| {
        json!({"iss": "badgegate", "aud": aud, "sub": me["id"], "exp": exp, "nbf": now - 10, "iat": now - 10,
               "jti": "x", "role": "admin", "ver": 0})
    };
    let sign = |c: &Value| {
        let mut h = Header::new(Algorithm::HS256);
        h.typ = Some("JWT".into());
        jsonwebtoken::encode(&h, c, &EncodingKey::from_secret(&secret).unwrap()).unwrap()
    };
    // A correctly signed token works, so the refusals below are about the one thing changed.
    assert_eq!(app.get(&sign(&claims(now + 60, "badgegate-api")), "/api/v1/auth/me").await.status(), 200);

    let expired = sign(&claims(now - 100, "badgegate-api"));
    let wrong_aud = sign(&claims(now + 60, "someone-else"));
    let mut tampered = admin.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&claims(now + 60, "badgegate-api")));
    let long_lived = sign(&json!({"iss": "badgegate", "aud": "badgegate-api", "sub": me["id"], "exp": now + 86400,
        "nbf": now, "iat": now, "jti": "x", "role": "admin", "ver": 0}));
    let no_jti = sign(&json!({"iss": "badgegate", "aud": "badgegate-api", "sub": me["id"], "exp": now + 60,
        "nbf": now, "iat": now, "role": "admin", "ver": 0}));
    let other_key = {
        let mut h = Header::new(Algorithm::HS256);
        h.typ = Some("JWT".into());
        jsonwebtoken::encode(&h, &claims(now + 60, "badgegate-api"), &EncodingKey::from_secret(&[7u8; 32]).unwrap())
            .unwrap()
    };
    for (what, token) in [
        ("expired", expired),
        ("wrong audience", wrong_aud),
        ("tampered", tampered),
        ("alg none", none),
        ("lifetime over 15 minutes", long_lived),
        ("missing jti", no_jti),
        ("other key", other_key),
    ] {
        let res = app.get(&token, "/api/v1/auth/me").await;
        assert_eq!(res.status(), 401, "{what} token was accepted");
        problem(res).await;
    }
}

async fn revoking_a_users_tokens_ends_them_at_once(app: TestApp) {
    let admin = app.admin().await;
    let me: Value = app.get(&admin, "/api/v1/auth/me").await.json().await.unwrap();
    let user_id = me["id"].as_str().unwrap().to_string();
    let db = app.db();
    let mut conn = db.get().unwrap();
    badgegate::auth::users::bump_token_version(&mut conn, &user_id).unwrap();
    assert_eq!(app.get(&admin, "/api/v1/auth/me").await.status(), 401);
}

async fn changing_the_password_ends_every_token(app: TestApp) {
    app.create_staff("changer@example.org", Role::Admin).await;
    let first = app.token("changer@example.org").await;
    let second = app.token("changer@example.org").await;
    let url = "/api/v1/auth/password";
    let res = app
        .post(&first, url, &json!({"current_password": "wrong wrong wrong", "new_password": "a brand new passphrase"}))
        .await;
    assert_eq!(problem(res).await["errors"][0]["field"], "current_password");
    let res = app.post(&first, url, &json!({"current_password": PASSWORD, "new_password": "short"})).await;
    assert_eq!(problem(res).await["errors"][0]["field"], "new_password");
    let res =
        app.post(&first, url, &json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"})).await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.get(&first, "/api/v1/auth/me").await.status(), 401);
    assert_eq!(app.get(&second, "/api/v1/auth/me").await.status(), 401);
    assert_eq!(app.login("changer@example.org", PASSWORD).await.status(), 401);
    assert_eq!(app.login("changer@example.org", "a brand new passphrase").await.status(), 200);
}

async fn registrars_cannot_do_admin_work(app: TestApp) {
    app.create_staff("reg@example.org", Role::Registrar).await;
    let registrar = app.token("reg@example.org").await;
    let res = app
        .post(
            &registrar,
            "/api/v1/events",
            &json!({"name": "X", "starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-02T00:00:00Z"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    problem(res).await;
}

#[test]
fn an_unknown_database_scheme_exits_non_zero_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_badgegate"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("BADGEGATE_DATA_DIR", dir.path())
        .env("BADGEGATE_DATABASE_URL", "mysql://localhost/x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unsupported database URL scheme `mysql`"), "{stderr}");
    assert!(!dir.path().join("badgegate.db").exists());
}

/// The real binary: admin create from stdin while the server runs, the secret file, login,
/// and no password or token in the logs.
#[test]
fn the_binary_creates_admins_from_stdin_and_keeps_secrets_out_of_logs() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_badgegate");
    let mut server = Command::new(bin)
        .args(["serve", "--bind", "127.0.0.1:0", "--log-format", "json"])
        .env("BADGEGATE_DATA_DIR", dir.path())
        .env_remove("BADGEGATE_DATABASE_URL")
        .env_remove("BADGEGATE_TOKEN_SECRET")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let mut url = None;
    let mut log = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.contains("badgegate listening") {
            let v: Value = serde_json::from_str(&line).unwrap();
            url = Some(v["url"].as_str().unwrap().to_string());
            break;
        }
    }
    let url = url.expect("server did not log its URL");

    let secret = dir.path().join("token-secret");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(hex::decode(std::fs::read_to_string(&secret).unwrap().trim()).unwrap().len() >= 32);

    let password = "a long passphrase with spaces   ";
    let mut create = Command::new(bin)
        .args(["admin", "create", "--email", "root@example.org", "--role", "admin"])
        .env("BADGEGATE_DATA_DIR", dir.path())
        .env_remove("BADGEGATE_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(create.stdin.take().unwrap(), "{password}").unwrap();
    assert!(create.wait().unwrap().success());

    let rt = tokio::runtime::Runtime::new().unwrap();
    let token = rt.block_on(async {
        let client = reqwest::Client::new();
        let short = client
            .post(format!("{url}/api/v1/auth/login"))
            .json(&json!({"email": "root@example.org", "password": password.trim_end()}))
            .send()
            .await
            .unwrap();
        assert_eq!(short.status(), 401, "trailing spaces are part of the password");
        let res = client
            .post(format!("{url}/api/v1/auth/login"))
            .json(&json!({"email": "root@example.org", "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let token = res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_string();
        let me = client.get(format!("{url}/api/v1/auth/me")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(me.status(), 200);
        token
    });
    // SIGTERM: graceful shutdown, then read everything it logged.
    unsafe_kill_term(server.id());
    for line in lines {
        log.push_str(&line.unwrap());
        log.push('\n');
    }
    assert!(server.wait().unwrap().success(), "graceful shutdown should exit 0");
    assert!(log.contains("request completed"));
    assert!(!log.contains(password.trim()), "password in logs");
    assert!(!log.contains(&token), "token in logs");
    let secret_hex = std::fs::read_to_string(&secret).unwrap();
    assert!(!log.contains(secret_hex.trim()), "secret in logs");

    // Restart: the same secret is reused.
    let before = std::fs::read_to_string(&secret).unwrap();
    let out = Command::new(bin).args(["openapi"]).env("BADGEGATE_DATA_DIR", dir.path()).output().unwrap();
    assert!(out.status.success());
    assert_eq!(before, std::fs::read_to_string(&secret).unwrap());
}

fn unsafe_kill_term(pid: u32) {
    let status = Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(status.success());
}
