//! What a change did to a task, field by field, as JSON values.

use crate::task::Task;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Bookkeeping fields: they change with every write or never, so listing them
/// says nothing.
const UNLISTED: [&str; 3] = ["id", "created_at", "updated_at"];

/// One field's value before and after, in the task's JSON form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FieldChange {
    pub old: Value,
    pub new: Value,
}

/// `{"title": {"old": "a", "new": "b"}, ...}`, only fields whose value changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct ChangeSet(BTreeMap<String, FieldChange>);

impl ChangeSet {
    /// The changes from `before` to `after`; a missing task counts as every
    /// field `null` (so a create lists the fields it set, a delete the fields
    /// it removed).
    pub fn between(before: Option<&Task>, after: Option<&Task>) -> Self {
        let old = json_fields(before);
        let new = json_fields(after);
        let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        let value = |fields: &Map<String, Value>, name: &str| fields.get(name).cloned().unwrap_or(Value::Null);
        Self(
            names
                .into_iter()
                .filter(|name| !UNLISTED.contains(&name.as_str()))
                .map(|name| (name.clone(), FieldChange { old: value(&old, name), new: value(&new, name) }))
                .filter(|(_, change)| change.old != change.new)
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The changed fields' names, in name order.
    pub fn fields(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }

    pub fn get(&self, field: &str) -> Option<&FieldChange> {
        self.0.get(field)
    }
}

fn json_fields(task: Option<&Task>) -> Map<String, Value> {
    match task.map(serde_json::to_value) {
        Some(Ok(Value::Object(fields))) => fields,
        // No task; a task always serializes to an object.
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::NewTask;
    use crate::time::parse_utc;
    use serde_json::json;
    use uuid::Uuid;

    fn task() -> Task {
        NewTask::from_json(br#"{"title": "a", "priority": "high", "tags": ["x"]}"#)
            .unwrap()
            .into_task(Uuid::from_u128(7), parse_utc("2026-01-01T00:00:00Z").unwrap())
    }

    #[test]
    fn identical_tasks_have_no_changes() {
        assert!(ChangeSet::between(Some(&task()), Some(&task())).is_empty());
        assert!(ChangeSet::between(None, None).is_empty());
    }

    #[test]
    fn bookkeeping_fields_are_not_listed() {
        let before = task();
        let mut after = before.clone();
        after.updated_at = parse_utc("2026-02-01T00:00:00Z").unwrap();
        assert!(ChangeSet::between(Some(&before), Some(&after)).is_empty());
    }

    #[test]
    fn a_creation_lists_the_fields_set() {
        let changes = ChangeSet::between(None, Some(&task()));
        assert_eq!(
            serde_json::to_value(&changes).unwrap(),
            json!({
                "title": {"old": null, "new": "a"},
                "completed": {"old": null, "new": false},
                "priority": {"old": null, "new": "high"},
                "tags": {"old": null, "new": ["x"]},
            })
        );
    }

    #[test]
    fn a_deletion_lists_the_fields_removed() {
        let changes = ChangeSet::between(Some(&task()), None);
        assert_eq!(changes.fields(), ["completed", "priority", "tags", "title"]);
        assert_eq!(changes.get("title"), Some(&FieldChange { old: json!("a"), new: Value::Null }));
    }

    #[test]
    fn round_trips_through_json() {
        let changes = ChangeSet::between(None, Some(&task()));
        let back: ChangeSet = serde_json::from_str(&serde_json::to_string(&changes).unwrap()).unwrap();
        assert_eq!(back, changes);
    }
}
