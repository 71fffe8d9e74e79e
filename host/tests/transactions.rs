//! A guest holding a transaction open past the deadline is rolled back, and
//! the writers queued behind it proceed.

mod common;

use common::{client, Host, Options};
use std::time::{Duration, Instant};

const DEADLINE_MS: u64 = 1_000;

#[tokio::test]
async fn a_transaction_held_past_its_deadline_is_rolled_back_while_others_write() {
    let host = Host::start_with(Options {
        transaction_timeout_ms: DEADLINE_MS,
        guest_timeout_ms: 10_000,
        ..Options::default()
    });
    let alice = client("alice");
    // The guest begins, writes a row, marks the store, then holds the
    // transaction for 4 s.
    let holder = {
        let url = host.url("/test/hold?ms=4000&key=holding");
        let alice = alice.clone();
        tokio::spawn(async move {
            let res = alice.get(url).send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        })
    };
    host.eventually_or(
        Duration::from_secs(10),
        || async {
            let res = alice.get(host.url("/test/state?key=holding")).send().await.ok()?;
            (res.status() == 200).then_some(())
        },
        || "the guest never began holding its transaction".into(),
    )
    .await;

    let started = Instant::now();
    let res = alice
        .post(host.url("/api/todos"))
        .json(&serde_json::json!({ "title": "behind a long transaction" }))
        .send()
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(res.status(), 201);
    assert!(
        waited < Duration::from_millis(DEADLINE_MS + 1_500),
        "the create waited {waited:?} behind a transaction whose deadline is {DEADLINE_MS} ms"
    );

    println!("a create behind a transaction held past its {DEADLINE_MS} ms deadline took {waited:?}");
    let (status, body) = holder.await.unwrap();
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("DeadlineExceeded"), "the guest learns its transaction was rolled back: {body}");
    let res = alice.get(host.url("/test/records?kind=hold")).send().await.unwrap();
    let held: Vec<String> = res.json().await.unwrap();
    assert!(held.is_empty(), "nothing of the rolled-back transaction was committed: {held:?}");
}
