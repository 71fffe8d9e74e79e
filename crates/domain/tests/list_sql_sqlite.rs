//! Runs the list SQL against the real SQLite schema: every sort and order,
//! paged through with cursors, must give exactly the rows a plain in-memory
//! filter and sort give.

mod common;

use common::{schema, to_sqlite};
use rusqlite::{params_from_iter, Connection};
use std::collections::HashMap;
use todo_domain::time::{format_utc, parse_utc};
use todo_domain::{ListQuery, NewTask, SortKey, SortOrder, Task};
use uuid::Uuid;

const USER: &str = "u1";

fn tasks() -> Vec<Task> {
    let titles = ["Buy MILK", "buy eggs", "50% off sale", "50x faster", "a_b test", "ab test", "Zebra", "Buy MILK"];
    let priorities = ["low", "medium", "high"];
    let dues = [None, Some("2026-03-01T10:00:00Z"), Some("2026-02-01T10:00:00Z"), None, Some("2026-03-01T10:00:00Z")];
    (0..24u32)
        .map(|i| {
            let mut body = serde_json::json!({
                "title": titles[i as usize % titles.len()],
                "priority": priorities[i as usize % 3],
                "completed": i % 4 == 0,
                "tags": if i % 3 == 0 { vec!["home"] } else { vec!["work", "home2"] },
            });
            if let Some(due) = dues[i as usize % dues.len()] {
                body["due_date"] = due.into();
            }
            if i % 5 == 0 {
                body["description"] = "Remember the 100% Cotton".into();
            }
            // Few distinct timestamps, so ties must be broken by id.
            let created = parse_utc(&format!("2026-01-0{}T00:00:00Z", 1 + i % 4)).unwrap();
            let id = Uuid::from_u128(u128::from(i.wrapping_mul(2_654_435_761)));
            NewTask::from_json(body.to_string().as_bytes()).unwrap().into_task(id, created)
        })
        .collect()
}

fn database(tasks: &[Task]) -> Connection {
    let db = schema();
    for (user, task) in tasks.iter().map(|t| (USER, t)).chain(std::iter::once(("u2", &tasks[0]))) {
        let id = if user == USER { task.id } else { Uuid::from_u128(u128::MAX) };
        db.execute(
            "INSERT INTO task (id, user_id, title, description, completed, priority, tags, due_date, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
            rusqlite::params![
                id.to_string(),
                user,
                task.title,
                task.description,
                task.completed,
                task.priority.as_str(),
                serde_json::to_string(&task.tags).unwrap(),
                task.due_date.map(format_utc),
                format_utc(task.created_at),
            ],
        )
        .unwrap();
        for tag in &task.tags {
            db.execute(
                "INSERT INTO task_tag (task_id, user_id, tag) VALUES (?1, ?2, ?3)",
                rusqlite::params![id.to_string(), user, tag],
            )
            .unwrap();
        }
    }
    db
}

struct Fixture {
    tasks: Vec<Task>,
    db: Connection,
    by_id: HashMap<String, Task>,
}

impl Fixture {
    fn new() -> Self {
        let tasks = tasks();
        let db = database(&tasks);
        let by_id = tasks.iter().map(|t| (t.id.to_string(), t.clone())).collect();
        Self { tasks, db, by_id }
    }

    /// Every page of `query`, following cursors; panics on an unknown id.
    fn list_all(&self, query: &str) -> Vec<Uuid> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = match &cursor {
                Some(c) => format!("{query}&cursor={c}"),
                None => query.to_owned(),
            };
            let list = ListQuery::parse(&q).unwrap();
            let sql = list.to_sql(USER);
            let mut stmt = self.db.prepare(&format!("SELECT id FROM task {}", sql.sql)).unwrap();
            let rows: Vec<Task> = stmt
                .query_map(params_from_iter(sql.params.into_iter().map(to_sqlite)), |row| row.get::<_, String>(0))
                .unwrap()
                .map(|id| self.by_id[&id.unwrap()].clone())
                .collect();
            let page = list.page(rows);
            assert!(page.items.len() <= list.limit as usize);
            ids.extend(page.items.iter().map(|t| t.id));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return ids,
            }
            assert!(ids.len() <= self.by_id.len(), "pagination does not terminate");
        }
    }
}

fn expected(tasks: &[Task], query: &str, keep: impl Fn(&Task) -> bool) -> Vec<Uuid> {
    let list = ListQuery::parse(query).unwrap();
    let mut kept: Vec<&Task> = tasks.iter().filter(|t| keep(t)).collect();
    let compare_keys = |a: &SortKey, b: &SortKey| match (a, b) {
        (SortKey::Integer(a), SortKey::Integer(b)) => a.cmp(b),
        (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
        _ => unreachable!("one sort has one key type"),
    };
    kept.sort_by(|a, b| {
        let ordering = compare_keys(&list.sort.key_of(a), &list.sort.key_of(b))
            .then_with(|| a.id.to_string().cmp(&b.id.to_string()));
        if list.order == SortOrder::Desc {
            ordering.reverse()
        } else {
            ordering
        }
    });
    kept.iter().map(|t| t.id).collect()
}

fn check(query: &str, keep: impl Fn(&Task) -> bool) {
    let fixture = Fixture::new();
    assert_eq!(fixture.list_all(query), expected(&fixture.tasks, query, keep), "{query}");
}

#[test]
fn every_sort_and_order_pages_through_all_rows_in_order() {
    for sort in ["created_at", "updated_at", "due_date", "priority", "title"] {
        for order in ["", "&order=asc", "&order=desc"] {
            for limit in [1, 3, 7, 100] {
                check(&format!("sort={sort}{order}&limit={limit}"), |_| true);
            }
        }
    }
}

#[test]
fn undated_tasks_sort_last_ascending_and_first_descending() {
    let fixture = Fixture::new();
    let dated =
        |ids: Vec<Uuid>| ids.iter().map(|id| fixture.by_id[&id.to_string()].due_date.is_some()).collect::<Vec<_>>();
    let asc = dated(fixture.list_all("sort=due_date&limit=4"));
    assert_eq!(asc.iter().position(|d| !d), asc.iter().rposition(|d| *d).map(|p| p + 1));
    let desc = dated(fixture.list_all("sort=due_date&order=desc&limit=4"));
    assert_eq!(desc.iter().position(|d| *d), desc.iter().rposition(|d| !d).map(|p| p + 1));
}

#[test]
fn filters_select_the_same_rows_as_the_rules() {
    check("completed=true&limit=2", |t| t.completed);
    check("completed=false&sort=title&limit=5", |t| !t.completed);
    check("priority=high&limit=2", |t| t.priority.as_str() == "high");
    check("tag=home&sort=priority&limit=3", |t| t.tags.iter().any(|g| g == "home"));
    check("tag=work&priority=low&completed=false", |t| {
        t.tags.iter().any(|g| g == "work") && t.priority.as_str() == "low" && !t.completed
    });
}

#[test]
fn text_search_is_case_insensitive_and_literal() {
    let contains = |needle: &'static str| {
        move |t: &Task| {
            let hay = |s: &str| s.to_lowercase().contains(needle);
            hay(&t.title) || t.description.as_deref().is_some_and(hay)
        }
    };
    check("q=milk&limit=2", contains("milk"));
    check("q=MILK", contains("milk"));
    // `%` and `_` match themselves, not any characters.
    check("q=50%25&limit=2", contains("50%"));
    check("q=a_b", contains("a_b"));
    check("q=100%25+cotton", contains("100% cotton"));
    check("q=nothing+like+this", |_| false);
}

#[test]
fn another_users_tasks_are_never_listed() {
    let fixture = Fixture::new();
    // `list_all` panics on an id it does not know, such as u2's task.
    assert_eq!(fixture.list_all("limit=100").len(), fixture.tasks.len());
}
