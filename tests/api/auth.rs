//! Accounts and tokens, on both databases.

use crate::harness::{bare_api, Db, TestApi, SECRET, STRONG};
use crate::on_both_databases;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn post_json(
    api: &TestApi,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let r = api
        .req(Method::POST, path, token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn register(api: &TestApi, body: Value) -> (StatusCode, Value) {
    post_json(api, "/api/v1/auth/register", None, body).await
}

on_both_databases!(registration_validates_and_refuses_duplicates);
async fn registration_validates_and_refuses_duplicates(db: Db) {
    let (api, _dir) = bare_api(db).await;
    let (status, ada) = register(
        &api,
        json!({"username": "ada", "email": "Ada@Example.com", "password": STRONG, "full_name": "Ada Lovelace"}),
    )
    .await;
    assert_eq!(status, 201, "{ada}");
    assert_eq!(ada["username"], "ada");
    assert_eq!(
        ada["email"], "ada@example.com",
        "emails are stored lower-case"
    );
    assert_eq!(ada["role"], "user");
    assert!(
        ada.get("password_hash").is_none() && ada.get("password").is_none(),
        "{ada}"
    );

    let (status, body) = register(
        &api,
        json!({"username": "ada", "email": "other@example.com", "password": STRONG}),
    )
    .await;
    assert_eq!(
        (status, &body["detail"]["field"]),
        (StatusCode::CONFLICT, &json!("username")),
        "{body}"
    );
    let (status, body) = register(
        &api,
        json!({"username": "ada2", "email": "ADA@example.com", "password": STRONG}),
    )
    .await;
    assert_eq!(
        (status, &body["detail"]["field"]),
        (StatusCode::CONFLICT, &json!("email")),
        "{body}"
    );

    for (password, why) in [
        ("short1!", "at least 8"),
        ("password123", "too easy to guess"),
        ("grace-hopper", "too easy"),
    ] {
        let (status, body) = register(
            &api,
            json!({"username": "grace-hopper", "email": "g@example.com", "password": password}),
        )
        .await;
        assert_eq!(status, 422, "{password}: {body}");
        assert_eq!(body["detail"]["field"], "password");
        assert!(
            body["error"].as_str().unwrap().contains(why),
            "{password}: {body}"
        );
    }
    for (body, field) in [
        (
            json!({"username": "x", "email": "x@example.com", "password": STRONG}),
            "username",
        ),
        (
            json!({"username": "bad name", "email": "x@example.com", "password": STRONG}),
            "username",
        ),
        (
            json!({"username": "xavier", "email": "not-an-email", "password": STRONG}),
            "email",
        ),
        (
            json!({"username": "xavier", "email": "x@example.com", "password": STRONG, "full_name": "x".repeat(201)}),
            "full_name",
        ),
    ] {
        let (status, reply) = register(&api, body).await;
        assert_eq!(
            (status, &reply["detail"]["field"]),
            (StatusCode::UNPROCESSABLE_ENTITY, &json!(field)),
            "{reply}"
        );
    }
    // Nobody makes themselves admin by sending a role.
    let (status, body) = register(&api, json!({"username": "mallory", "email": "m@example.com", "password": STRONG, "role": "admin"})).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("role"), "{body}");
    // Wrong types, malformed JSON, wrong content type.
    let (status, _) = register(
        &api,
        json!({"username": 5, "email": "m@example.com", "password": STRONG}),
    )
    .await;
    assert_eq!(status, 422);
    let r = api
        .req(Method::POST, "/api/v1/auth/register", None)
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "malformed JSON body"
    );
    let r = api
        .req(Method::POST, "/api/v1/auth/register", None)
        .body("username=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = api
        .req(Method::POST, "/api/v1/auth/register", None)
        .header("content-type", "application/json")
        .body(vec![b'"', 0xff, 0xfe, b'"'])
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_client_error(),
        "invalid UTF-8: {}",
        r.status()
    );
}

on_both_databases!(login_me_and_password_change);
async fn login_me_and_password_change(db: Db) {
    let (api, _dir) = bare_api(db).await;
    let token = api.user_token("ada").await;

    // Form login, as Swagger UI's OAuth2 dialog and curl -d send it.
    let r = api
        .req(Method::POST, "/api/v1/auth/login", None)
        .form(&[
            ("username", "ada"),
            ("password", STRONG),
            ("grant_type", "password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (body["token_type"].as_str(), body["expires_in"].as_i64()),
        (Some("bearer"), Some(1800))
    );
    assert_eq!(body["user"]["username"], "ada");

    // NUL (which PostgreSQL refuses) and overlong names are unknown users.
    let long = "a".repeat(10_000);
    for (username, password) in [
        ("ada", "violet-kettle-93-orbiT"),
        ("nobody", STRONG),
        ("ad\u{0}a", STRONG),
        (long.as_str(), STRONG),
    ] {
        let (status, body) = post_json(
            &api,
            "/api/v1/auth/login",
            None,
            json!({"username": username, "password": password}),
        )
        .await;
        assert_eq!(status, 401, "{username}: {body}");
        assert_eq!(body["error"], "wrong username or password");
    }
    let (status, _) = post_json(&api, "/api/v1/auth/login", None, json!({"username": "ada"})).await;
    assert_eq!(status, 422);

    let me = api
        .get_json("/api/v1/auth/me", &token, StatusCode::OK)
        .await;
    assert_eq!(me["username"], "ada");
    assert!(me["last_login_at"].is_string(), "login is recorded: {me}");

    let put = |body: Value| {
        api.req(Method::PUT, "/api/v1/auth/me", Some(&token))
            .json(&body)
            .send()
    };
    let r = put(json!({"full_name": "Countess of Lovelace"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["full_name"],
        "Countess of Lovelace"
    );
    let r = put(json!({"full_name": "Ada\u{0}"})).await.unwrap();
    assert_eq!(r.status(), 422, "control characters in a name");
    let r = put(json!({"full_name": ""})).await.unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["full_name"],
        Value::Null,
        "empty clears"
    );
    api.user_token("grace").await;
    let r = put(json!({"email": "grace@example.com"})).await.unwrap();
    assert_eq!(r.status(), 409);
    let r = put(json!({"password": "orbit-violet-kettle-39"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.json::<Value>().await.unwrap()["detail"]["field"],
        "current_password"
    );
    let r = put(
        json!({"password": "orbit-violet-kettle-39", "current_password": "wrong-one-entirely"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
    let r = put(json!({"password": "abcdefgh", "current_password": STRONG}))
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["detail"]["field"],
        "password"
    );
    let r = put(json!({"password": "orbit-violet-kettle-39", "current_password": STRONG}))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, _) = post_json(
        &api,
        "/api/v1/auth/login",
        None,
        json!({"username": "ada", "password": STRONG}),
    )
    .await;
    assert_eq!(status, 401, "the old password no longer works");
    api.login("ada", "orbit-violet-kettle-39").await;
}

on_both_databases!(tokens_and_roles_are_enforced);
async fn tokens_and_roles_are_enforced(db: Db) {
    let (api, _dir) = bare_api(db).await;
    let user = api.user_token("ada").await;
    let admin = api.admin_token().await;

    // No token, a garbage one, and the header without a scheme.
    let r = api
        .req(Method::GET, "/api/v1/auth/me", None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        api.get_json("/api/v1/auth/me", "not.a.jwt", StatusCode::UNAUTHORIZED)
            .await["error"],
        "invalid or expired token"
    );
    let r = api
        .req(Method::GET, "/api/v1/auth/me", None)
        .header("authorization", user.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Forged tokens: wrong key, expired, alg none, tampered payload.
    let claims = |exp_offset: i64, role: &str| {
        let now = chrono::Utc::now().timestamp();
        json!({"sub": "2", "username": "ada", "role": role, "iat": now, "exp": now + exp_offset, "iss": "logflow"})
    };
    let sign = |claims: &Value, key: &str| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            claims,
            &jsonwebtoken::EncodingKey::from_secret(key.as_bytes()),
        )
        .unwrap()
    };
    let valid = sign(&claims(600, "user"), SECRET);
    assert_eq!(
        api.get_json("/api/v1/auth/me", &valid, StatusCode::OK)
            .await["username"],
        "ada",
        "the forging helper is right"
    );
    let wrong_key = sign(
        &claims(600, "user"),
        "another-secret-another-secret-1234567",
    );
    let expired = sign(&claims(-120, "user"), SECRET);
    let payload = URL_SAFE_NO_PAD.encode(claims(600, "admin").to_string());
    let none = format!(
        "{}.{payload}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#)
    );
    let parts: Vec<&str> = valid.split('.').collect();
    let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
    for (what, token) in [
        ("wrong key", wrong_key),
        ("expired", expired),
        ("alg none", none),
        ("tampered", tampered),
    ] {
        let r = api.get("/api/v1/auth/me", &token).send().await.unwrap();
        assert_eq!(r.status(), 401, "{what} token accepted");
    }

    // Roles come from the database: an admin claim in a validly signed
    // token of a plain user does not open admin routes.
    let claims_admin = sign(&claims(600, "admin"), SECRET);
    assert_eq!(
        api.get("/api/v1/auth/users", &claims_admin)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let body = api
        .get_json("/api/v1/auth/users", &user, StatusCode::FORBIDDEN)
        .await;
    assert_eq!(body["error"], "admin role required");

    let page = api
        .get_json("/api/v1/auth/users", &admin, StatusCode::OK)
        .await;
    let names: Vec<&str> = page["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "ada"]);
    assert_eq!(page["total"], 2);
    let page = api
        .get_json(
            "/api/v1/auth/users?limit=1&offset=1",
            &admin,
            StatusCode::OK,
        )
        .await;
    assert_eq!(page["users"][0]["username"], "ada");
    for bad in ["limit=0", "limit=1001", "limit=ten", "offset=-1"] {
        api.get_json(
            &format!("/api/v1/auth/users?{bad}"),
            &admin,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }

    // Every sensitive route needs a token; the open ones do not.
    for path in [
        "/api/v1/logs/search",
        "/api/v1/logs/recent",
        "/api/v1/logs/x-0-1",
        "/api/v1/logs/export",
        "/api/v1/correlation/trace/x",
        "/api/v1/metrics/overview",
        "/api/v1/metrics/service/x",
        "/api/v1/metrics/system",
        "/api/v1/metrics/timeseries",
        "/api/v1/trace/context",
        "/api/v1/trace/debug",
    ] {
        let r = api.req(Method::GET, path, None).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path} is open");
    }
    for path in ["/health", "/docs/", "/api-docs/openapi.json"] {
        let r = api.req(Method::GET, path, None).send().await.unwrap();
        assert!(
            r.status() == 200 || r.status() == 503,
            "{path}: {}",
            r.status()
        );
    }
}
