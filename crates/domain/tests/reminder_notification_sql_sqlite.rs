//! Runs the reminder scan and the notification list SQL against the real
//! SQLite schema: paged through, they must give exactly the rows the rules
//! pick in plain Rust.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::{schema, to_sqlite};
use rusqlite::{params_from_iter, Connection};
use todo_domain::time::{format_utc, parse_utc};
use todo_domain::{DueTask, NotificationQuery, ReminderKind, ReminderScan};
use uuid::Uuid;

fn now() -> DateTime<Utc> {
    parse_utc("2026-03-10T08:00:00Z").unwrap()
}

/// 60 tasks of three users, due every 5 minutes from 3 h before `now` to
/// 2 h after (several sharing a due date), every fourth completed, every
/// seventh undated.
fn tasks(db: &Connection) -> Vec<(Uuid, bool, Option<DateTime<Utc>>)> {
    let mut tasks = Vec::new();
    for i in 0..60u32 {
        let id = Uuid::from_u128(u128::from(i.wrapping_mul(2_654_435_761)));
        let due = (i % 7 != 0).then(|| now() + TimeDelta::minutes(i64::from(i / 2 * 10) - 180));
        let completed = i % 4 == 0;
        db.execute(
            "INSERT INTO task (id, user_id, title, completed, due_date, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            rusqlite::params![
                id.to_string(),
                format!("user{}", i % 3),
                format!("task {i}"),
                completed,
                due.map(format_utc),
                format_utc(now()),
            ],
        )
        .unwrap();
        tasks.push((id, completed, due));
    }
    tasks
}

#[test]
fn the_scan_pages_through_exactly_the_incomplete_tasks_due_within_the_hour() {
    let db = schema();
    let tasks = tasks(&db);
    let mut scan = ReminderScan::new(now());
    scan.page_size = 7;
    let mut seen: Vec<DueTask> = Vec::new();
    loop {
        let sql = scan.to_sql(seen.last());
        let mut stmt = db.prepare(&sql.sql).unwrap();
        let page: Vec<DueTask> = stmt
            .query_map(params_from_iter(sql.params.into_iter().map(to_sqlite)), |row| {
                Ok(DueTask {
                    id: Uuid::parse_str(&row.get::<_, String>(0)?).unwrap(),
                    user_id: row.get(1)?,
                    title: row.get(2)?,
                    due_date: parse_utc(&row.get::<_, String>(3)?).unwrap(),
                })
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let full = scan.is_full(page.len());
        seen.extend(page);
        if !full {
            break;
        }
        assert!(seen.len() <= tasks.len(), "the scan does not end");
    }
    let mut expected: Vec<(DateTime<Utc>, String)> = tasks
        .iter()
        .filter_map(|(id, completed, due)| {
            let due = (*due)?;
            (!completed && ReminderKind::at(due, now()).is_some()).then(|| (due, id.to_string()))
        })
        .collect();
    expected.sort();
    let got: Vec<(DateTime<Utc>, String)> = seen.iter().map(|t| (t.due_date, t.id.to_string())).collect();
    assert_eq!(got, expected);
    assert!(got.len() > 20, "{}", got.len());
}

#[test]
fn notification_pages_are_the_users_newest_first() {
    let db = schema();
    let mut mine = Vec::new();
    for i in 0..23u32 {
        let id = Uuid::from_u128(u128::from(i.wrapping_mul(2_654_435_761)));
        // Few distinct timestamps: ties are broken by id.
        let created = format_utc(now() + TimeDelta::seconds(i64::from(i % 5)));
        let user = if i % 6 == 5 { "bob" } else { "alice" };
        let read = i % 3 == 0;
        db.execute(
            "INSERT INTO notification (id, user_id, task_id, type, title, body, read, created_at)
             VALUES (?1, ?2, NULL, 'reminder.upcoming', 't', 'b', ?3, ?4)",
            rusqlite::params![id.to_string(), user, read, created],
        )
        .unwrap();
        if user == "alice" {
            mine.push((created, id.to_string(), read));
        }
    }
    mine.sort();
    mine.reverse();
    for unread_only in [false, true] {
        let mut cursor: Option<String> = None;
        let mut got = Vec::new();
        loop {
            let mut query = format!("limit=4&unread_only={unread_only}");
            if let Some(c) = &cursor {
                query.push_str(&format!("&cursor={c}"));
            }
            let q = NotificationQuery::parse(&query).unwrap();
            let sql = q.to_sql("alice");
            let mut stmt = db.prepare(&sql.sql).unwrap();
            let rows: Vec<todo_domain::Notification> = stmt
                .query_map(params_from_iter(sql.params.into_iter().map(to_sqlite)), |row| {
                    Ok(todo_domain::Notification {
                        id: Uuid::parse_str(&row.get::<_, String>(0)?).unwrap(),
                        kind: row.get(1)?,
                        title: row.get(2)?,
                        body: row.get(3)?,
                        task_id: None,
                        read: row.get(5)?,
                        created_at: parse_utc(&row.get::<_, String>(6)?).unwrap(),
                    })
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let page = q.page(rows);
            assert!(page.items.len() <= 4);
            got.extend(page.items.iter().map(|n| (format_utc(n.created_at), n.id.to_string(), n.read)));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
            assert!(got.len() <= 23, "pagination does not end");
        }
        let expected: Vec<_> = mine.iter().filter(|(_, _, read)| !unread_only || !read).cloned().collect();
        assert_eq!(got, expected, "unread_only={unread_only}");
    }
}
