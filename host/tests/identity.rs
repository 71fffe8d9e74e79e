//! Identity under both hosts: components verify the bearer token
//! themselves (with the `jwt_secret` variable), so a client's
//! `todo-user-id` header names nobody; Spin's variables interface gives a
//! component only what its manifest maps; the development sign-in is a
//! component, on only when `dev_sign_in` is "true"; `todo-host token`
//! mints tokens the components accept.

mod common;

use common::{client, expect_error, expect_json, Host, Options, SECRET};
use serde_json::json;

/// 401 `unauthorized` with `WWW-Authenticate: Bearer`; returns the message.
async fn expect_unauthorized(res: reqwest::Response) -> String {
    assert_eq!(res.headers().get("www-authenticate").map(|v| v.to_str().unwrap()), Some("Bearer"));
    expect_error(res, 401, "unauthorized").await
}

#[tokio::test]
async fn a_forged_user_header_is_no_identity() {
    let host = Host::start();
    let anon = reqwest::Client::new();
    let forged = || anon.post(host.url("/api/todos")).header("todo-user-id", "alice").json(&json!({"title": "forged"}));
    assert_eq!(expect_unauthorized(forged().send().await.unwrap()).await, "missing bearer token");
    let res = forged().bearer_auth(common::signed("not-the-secret", "alice", 60)).send().await.unwrap();
    assert_eq!(expect_unauthorized(res).await, "token signature invalid");
    let res = forged().bearer_auth(common::signed(SECRET, "alice", -60)).send().await.unwrap();
    assert_eq!(expect_unauthorized(res).await, "token expired");

    // Bob's token with Alice's name in the header: the task is Bob's.
    let res = client("bob").post(host.url("/api/todos")).header("todo-user-id", "alice");
    let task = expect_json(res.json(&json!({"title": "bob's"})).send().await.unwrap(), 201).await;
    assert_eq!(titles(&host, "bob").await, ["bob's"]);
    assert!(titles(&host, "alice").await.is_empty(), "alice has nothing: {task}");
    let res = client("bob").get(host.url("/test/whoami")).header("todo-user-id", "alice").send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "bob");
    // Reading needs a token as much as writing.
    let res = anon.get(host.url("/api/todos")).header("todo-user-id", "bob").send().await.unwrap();
    expect_unauthorized(res).await;
}

/// The titles of `user`'s tasks.
async fn titles(host: &Host, user: &str) -> Vec<String> {
    let page = expect_json(client(user).get(host.url("/api/todos")).send().await.unwrap(), 200).await;
    page["items"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn components_read_only_the_variables_they_declare() {
    let host = Host::start();
    let tester = client("tester");
    let read = |name: &str| tester.get(host.url(&format!("/test/variable?name={name}"))).send();
    let res = read("greeting").await.unwrap();
    assert_eq!((res.status().as_u16(), res.text().await.unwrap()), (200, "hello from false".to_owned()));
    let res = read("jwt_secret").await.unwrap();
    assert_eq!((res.status().as_u16(), res.text().await.unwrap()), (200, SECRET.to_owned()));
    // An application variable the component does not map, and one nobody declares.
    for name in ["dev_sign_in", "nothing_here"] {
        let res = read(name).await.unwrap();
        assert_eq!(res.status(), 404, "{name}");
        let text = res.text().await.unwrap();
        assert!(text.starts_with("Error::Undefined("), "{name}: {text}");
    }
    let text = read("Not-A-Name").await.unwrap().text().await.unwrap();
    assert!(text.starts_with("Error::InvalidName("), "{text}");
}

#[test]
fn a_required_variable_without_a_value_stops_the_host() {
    let options = Options { variables: "api_key = { required = true, secret = true }".into(), ..Options::default() };
    let said = common::refused_start(&options);
    assert!(said.contains("\"api_key\" is required and has no value"), "{said}");
    assert!(said.contains("SPIN_VARIABLE_API_KEY"), "{said}");
    assert!(!said.contains(SECRET), "a secret's value is never printed: {said}");
}

#[tokio::test]
async fn development_sign_in_is_off_with_a_configured_secret() {
    let host = Host::start();
    let res = reqwest::Client::new().post(host.url("/auth/dev/sign-in")).json(&json!({"user_id": "x"}));
    let body = expect_json(res.send().await.unwrap(), 404).await;
    assert_eq!(
        body,
        json!({"error": {"code": "not_found", "message": "development sign-in is off (TODO_JWT_SECRET is set)"}})
    );
}

#[tokio::test]
async fn on_the_development_secret_sign_in_mints_tokens_the_components_accept() {
    // An empty TODO_JWT_SECRET is no secret: the host takes its development one.
    let options = Options { env: vec![("TODO_JWT_SECRET".into(), String::new())], ..Options::default() };
    let host = Host::start_with(options);
    let anon = reqwest::Client::new();
    let sign_in = |body: serde_json::Value| anon.post(host.url("/auth/dev/sign-in")).json(&body).send();
    let res = sign_in(json!({"user_id": "carol"})).await.unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    let body = expect_json(res, 200).await;
    let token = body["token"].as_str().unwrap();
    assert_eq!(body["user_id"], "carol");
    let expires = chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap()).unwrap();
    let hours = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!((11.9..=12.0).contains(&hours), "valid for 12 hours: {hours}");
    assert_eq!(cookie, format!("todo_token={token}; Path=/api/stream/tasks; HttpOnly; SameSite=Strict; Max-Age=43200"));
    let created = anon.post(host.url("/api/todos")).bearer_auth(token).json(&json!({"title": "signed in"}));
    assert_eq!(expect_json(created.send().await.unwrap(), 201).await["title"], "signed in");
    assert_ne!(
        anon.get(host.url("/api/todos")).bearer_auth(common::token("carol")).send().await.unwrap().status(),
        200,
        "the test secret is not the development one"
    );

    expect_error(sign_in(json!({"user": "carol"})).await.unwrap(), 400, "malformed_json").await;
    let message = expect_error(sign_in(json!({"user_id": "a b"})).await.unwrap(), 422, "validation_failed").await;
    assert_eq!(message, "user_id: 1-128 of letters, digits and ._@+-");
    let res = anon.post(host.url("/auth/sign-out")).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        res.headers()["set-cookie"],
        "todo_token=; Path=/api/stream/tasks; HttpOnly; SameSite=Strict; Max-Age=0"
    );

    // `todo-host token` signs with the same development secret (the data
    // directory beside the manifest).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_todo-host"))
        .args(["token", "--user", "dave", "--ttl-hours", "1", "-f"])
        .arg(host.dir.path().join("spin.toml"))
        .env("TODO_JWT_SECRET", "")
        .env_remove("SPIN_VARIABLE_JWT_SECRET")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let minted = String::from_utf8(out.stdout).unwrap();
    let res = anon.get(host.url("/test/whoami")).bearer_auth(minted.trim()).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "dave");
}

#[tokio::test]
async fn the_token_command_signs_with_the_configured_secret() {
    let host = Host::start();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_todo-host"))
        .args(["token", "--user", "erin", "-f"])
        .arg(host.dir.path().join("spin.toml"))
        .env("TODO_JWT_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap();
    let res = reqwest::Client::new().get(host.url("/test/whoami")).bearer_auth(token.trim()).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "erin");
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_todo-host"))
        .args(["token", "--user", "not valid", "-f"])
        .arg(host.dir.path().join("spin.toml"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
}
