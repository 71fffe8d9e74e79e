//! The recurring handler through the real host: completing a recurring task
//! creates exactly one next occurrence, with its own audit row and events,
//! however often the completion is delivered or repeated.

mod common;

use common::{client, distributed, expect_json, Host, TaskApi as Api, EVENT_WAIT};
use serde_json::{json, Value};

fn id_of(task: &Value) -> String {
    task["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn completing_a_task_every_two_weeks_creates_one_next_occurrence_due_14_days_later() {
    let host = Host::start();
    let alice = Api::new(&host, "alice");
    let task = alice
        .create(json!({
            "title": "Water the plants",
            "description": "the ferns too",
            "priority": "high",
            "tags": ["home", "garden"],
            "due_date": "2030-03-10T09:00:00+01:00",
            "recurrence_pattern": {"frequency": "weekly", "interval": 2},
        }))
        .await;
    let id = id_of(&task);
    alice.complete(&id, true).await;

    let next = alice.next_of(&id).await;
    let next_id = id_of(&next);
    assert_ne!(next_id, id);
    assert_eq!(next["due_date"], "2030-03-24T08:00:00.000000Z");
    assert_eq!(next["completed"], false);
    for field in ["title", "description", "priority", "tags", "recurrence_pattern"] {
        assert_eq!(next[field], task[field], "{field}");
    }
    assert_eq!(next["created_at"], next["updated_at"]);

    // Its own audit row and events, like any created task.
    let history = alice.history(&next_id).await;
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0]["event_type"], "task.created");
    assert_eq!(history[0]["snapshot"], next);
    let created_event = history[0]["event_id"].as_str().unwrap().to_owned();
    host.eventually(EVENT_WAIT, || async {
        host.deliveries("task-events")
            .await
            .iter()
            .any(|d| d.event_id == created_event && d.subject == next_id)
            .then_some(())
    })
    .await;

    // The completion delivered twice. A copy published again with the same
    // event id (the broker keeps one message per id, so it is not delivered
    // again)...
    let completion = alice.history(&id).await.into_iter().find(|h| h["event_type"] == "task.completed").unwrap();
    let event_id = completion["event_id"].as_str().unwrap();
    let copy = json!({
        "event_type": "task.completed",
        "task_id": id,
        "user_id": "alice",
        "task": completion["snapshot"],
        "changed_fields": completion["changed_fields"],
    });
    host.publish("alice", "task-events", event_id, &copy).await;
    // ...and a true redelivery, as after a crash between the handler's
    // commit and the broker's cursor update.
    host.redeliver_from("recurring-handler", "task-events", event_id).await;
    alice.settle().await;
    assert_eq!(alice.children(&id).await, std::slice::from_ref(&next));

    // The same event with another id (a copy from elsewhere) finds the task's
    // next occurrence there already.
    host.publish("alice", "task-events", &uuid::Uuid::new_v4().to_string(), &copy).await;
    // Reopened and completed again: another task.completed of the same task.
    assert_eq!(alice.complete(&id, false).await["completed"], false);
    assert_eq!(alice.complete(&id, true).await["completed"], true);
    alice.settle().await;
    assert_eq!(alice.children(&id).await, std::slice::from_ref(&next));
    let completions = alice.history(&id).await.iter().filter(|h| h["event_type"] == "task.completed").count();
    assert_eq!(completions, 2);

    // The next occurrence recurs in turn.
    alice.complete(&next_id, true).await;
    let after = alice.next_of(&next_id).await;
    assert_eq!(after["due_date"], "2030-04-07T08:00:00.000000Z");
    assert_eq!(after["parent_task_id"], next_id.as_str());
}

#[tokio::test]
async fn an_undated_task_recurs_from_its_completion_and_others_do_not_recur() {
    let host = Host::start();
    let alice = Api::new(&host, "alice");
    let undated =
        alice.create(json!({"title": "Stretch", "recurrence_pattern": {"frequency": "daily", "interval": 3}})).await;
    let monthly = alice
        .create(json!({"title": "Rent", "due_date": "2030-01-31T10:00:00Z", "recurrence_pattern": {"frequency": "monthly"}}))
        .await;
    let plain = alice.create(json!({"title": "Once", "due_date": "2030-01-31T10:00:00Z"})).await;
    let done = alice.complete(&id_of(&undated), true).await;
    alice.complete(&id_of(&monthly), true).await;
    alice.complete(&id_of(&plain), true).await;

    let next = alice.next_of(&id_of(&undated)).await;
    let completed_at = chrono::DateTime::parse_from_rfc3339(done["updated_at"].as_str().unwrap()).unwrap();
    let due = chrono::DateTime::parse_from_rfc3339(next["due_date"].as_str().unwrap()).unwrap();
    assert_eq!(due - completed_at, chrono::Duration::days(3), "{done} -> {next}");

    // Monthly keeps the day of the month, clamped to the month's last day.
    assert_eq!(alice.next_of(&id_of(&monthly)).await["due_date"], "2030-02-28T10:00:00.000000Z");

    alice.settle().await;
    assert_eq!(alice.children(&id_of(&plain)).await, Vec::<Value>::new(), "a task without a pattern does not recur");
    // Creating or updating a recurring task is not completing it.
    let fresh = alice.create(json!({"title": "New", "recurrence_pattern": {"frequency": "weekly"}})).await;
    let res = client("alice")
        .put(host.url(&format!("/api/todos/{}", id_of(&fresh))))
        .json(&json!({"title": "Renamed"}))
        .send()
        .await
        .unwrap();
    expect_json(res, 200).await;
    alice.settle().await;
    assert_eq!(alice.children(&id_of(&fresh)).await, Vec::<Value>::new());
}

#[tokio::test]
async fn malformed_task_events_are_dead_lettered() {
    let host = Host::start();
    let alice = Api::new(&host, "alice");
    host.publish("alice", "task-events", "not-a-task-event", &json!({"event_type": "task.completed"})).await;
    let letters = host
        .eventually(EVENT_WAIT, || async {
            let letters = host.dead_letters("task-events").await;
            (!letters.is_empty()).then_some(letters)
        })
        .await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["event_id"], "not-a-task-event");
    if !distributed() {
        assert_eq!(letters[0]["subscription"], "recurring-handler.task-events");
    }
    // The handler carries on with the next events.
    alice.settle().await;
}

#[tokio::test]
async fn another_constraint_is_retried_then_dead_lettered_not_taken_for_done() {
    let host = Host::start();
    let alice = Api::new(&host, "alice");
    // A constraint the next occurrence must break: one task per title and user.
    let res = client("alice")
        .post(host.url("/test/sql"))
        .body("CREATE UNIQUE INDEX test_one_title ON task (user_id, title)")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let task = alice
        .create(json!({ "title": "Only once", "recurrence_pattern": {"frequency": "daily", "interval": 1} }))
        .await;
    let id = id_of(&task);
    alice.complete(&id, true).await;
    let completion = alice.history(&id).await.into_iter().find(|h| h["event_type"] == "task.completed").unwrap();
    let event_id = completion["event_id"].as_str().unwrap().to_owned();

    let letters = host
        .eventually_or(
            EVENT_WAIT,
            || async {
                let letters = host.dead_letters("task-events").await;
                letters.iter().any(|l| l["event_id"] == event_id.as_str()).then_some(letters)
            },
            || format!("the completion {event_id} was not dead-lettered"),
        )
        .await;
    if !distributed() {
        let letter = letters.iter().find(|l| l["event_id"] == event_id.as_str()).unwrap();
        assert_eq!(letter["subscription"], "recurring-handler.task-events");
        assert!(letter["reason"].as_str().unwrap().contains("after 3 attempts"), "{letter}");
    }
    assert_eq!(alice.children(&id).await, Vec::<Value>::new(), "no next occurrence was committed");
}
