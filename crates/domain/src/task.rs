//! The task, its inputs (`NewTask`, `TaskPatch`) and their validation rules.

use crate::changes::ChangeSet;
use crate::error::{ApiError, FieldError};
use crate::json::parse_object;
use crate::recurrence::RecurrencePattern;
use crate::time;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

pub const TITLE_MAX_CHARS: usize = 500;
pub const DESCRIPTION_MAX_CHARS: usize = 10_000;
pub const TAG_MAX_CHARS: usize = 50;
pub const MAX_TAGS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    #[default]
    Medium,
    High,
}

impl Priority {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }

    /// Sort rank: low < medium < high.
    pub const fn rank(self) -> i64 {
        match self {
            Self::Low => 1,
            Self::Medium => 2,
            Self::High => 3,
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of low, medium, high, got `{0}`")]
pub struct UnknownPriority(pub String);

impl FromStr for Priority {
    type Err = UnknownPriority;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Low, Self::Medium, Self::High]
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPriority(s.to_owned()))
    }
}

/// A task as stored, returned and carried in events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Task {
    pub id: Uuid,
    /// Trimmed, 1 to 500 characters.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 500)))]
    pub title: String,
    #[cfg_attr(feature = "schema", schemars(length(max = 10_000)))]
    pub description: Option<String>,
    pub completed: bool,
    pub priority: Priority,
    /// Distinct, each trimmed and 1 to 50 characters.
    #[cfg_attr(feature = "schema", schemars(length(max = 20), inner(length(min = 1, max = 50))))]
    pub tags: Vec<String>,
    #[serde(with = "time::utc_option")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<chrono::DateTime<chrono::Utc>>"))]
    pub due_date: Option<DateTime<Utc>>,
    pub recurrence_pattern: Option<RecurrencePattern>,
    pub parent_task_id: Option<Uuid>,
    #[serde(with = "time::utc")]
    #[cfg_attr(feature = "schema", schemars(with = "chrono::DateTime<chrono::Utc>"))]
    pub created_at: DateTime<Utc>,
    #[serde(with = "time::utc")]
    #[cfg_attr(feature = "schema", schemars(with = "chrono::DateTime<chrono::Utc>"))]
    pub updated_at: DateTime<Utc>,
}

impl Task {
    /// Applies `patch`, returning the task after it and what changed. When
    /// nothing changed the task is returned as it was (same `updated_at`).
    pub fn apply(&self, patch: TaskPatch, now: DateTime<Utc>) -> (Task, ChangeSet) {
        let mut next = self.clone();
        let TaskPatch { title, description, completed, priority, tags, due_date, recurrence_pattern } = patch;
        set(&mut next.title, title);
        set(&mut next.description, description);
        set(&mut next.completed, completed);
        set(&mut next.priority, priority);
        set(&mut next.tags, tags);
        set(&mut next.due_date, due_date);
        set(&mut next.recurrence_pattern, recurrence_pattern);
        let changes = ChangeSet::between(Some(self), Some(&next));
        if !changes.is_empty() {
            next.updated_at = now;
        }
        (next, changes)
    }
}

fn set<T>(slot: &mut T, given: Option<T>) {
    if let Some(value) = given {
        *slot = value;
    }
}

/// A validated `POST /api/todos` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub due_date: Option<DateTime<Utc>>,
    pub recurrence_pattern: Option<RecurrencePattern>,
}

impl NewTask {
    /// Parses and validates a body: the patch rules, plus a required title.
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        let patch = TaskPatch::from_json(body)?;
        let title = patch.title.ok_or_else(|| FieldError::new("title", "is required"))?;
        Ok(Self {
            title,
            description: patch.description.flatten(),
            completed: patch.completed.unwrap_or(false),
            priority: patch.priority.unwrap_or_default(),
            tags: patch.tags.unwrap_or_default(),
            due_date: patch.due_date.flatten(),
            recurrence_pattern: patch.recurrence_pattern.flatten(),
        })
    }

    pub fn into_task(self, id: Uuid, now: DateTime<Utc>) -> Task {
        Task {
            id,
            title: self.title,
            description: self.description,
            completed: self.completed,
            priority: self.priority,
            tags: self.tags,
            due_date: self.due_date,
            recurrence_pattern: self.recurrence_pattern,
            parent_task_id: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// A validated `PUT /api/todos/{id}` body: `None` leaves a field as it is;
/// `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskPatch {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub completed: Option<bool>,
    pub priority: Option<Priority>,
    pub tags: Option<Vec<String>>,
    pub due_date: Option<Option<DateTime<Utc>>>,
    pub recurrence_pattern: Option<Option<RecurrencePattern>>,
}

impl TaskPatch {
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        let fields: TaskFields = parse_object(body)?;
        Ok(fields.validate()?)
    }

    /// The patch of `PATCH /api/todos/{id}/complete`.
    pub fn completion(completed: bool) -> Self {
        Self { completed: Some(completed), ..Self::default() }
    }
}

/// The wire shape of both bodies: each field absent (`None`), `null`
/// (`Some(None)`) or given. Its schema is the API's `TaskPatch` (and, with
/// `title` required, `NewTask`): what `schema` cannot derive from the types
/// (trimmed lengths, fields that must not be null) is given field by field.
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(
        rename = "TaskPatch",
        description = "The fields to change: one left out stays as it is, `null` clears `description`, \
                       `due_date` or `recurrence_pattern`."
    )
)]
#[serde(deny_unknown_fields)]
struct TaskFields {
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::title"))]
    title: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>", length(max = 10_000)))]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "schema", schemars(with = "bool"))]
    completed: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "schema", schemars(with = "Priority"))]
    priority: Option<Option<Priority>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::tags"))]
    tags: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::due_date"))]
    due_date: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<RecurrencePattern>"))]
    recurrence_pattern: Option<Option<RecurrencePattern>>,
    // Known but not writable: named in the error rather than "unknown field".
    #[serde(default, rename = "id")]
    #[cfg_attr(feature = "schema", schemars(skip))]
    _id: ReadOnly,
    #[serde(default, rename = "created_at")]
    #[cfg_attr(feature = "schema", schemars(skip))]
    _created_at: ReadOnly,
    #[serde(default, rename = "updated_at")]
    #[cfg_attr(feature = "schema", schemars(skip))]
    _updated_at: ReadOnly,
    #[serde(default, rename = "parent_task_id")]
    #[cfg_attr(feature = "schema", schemars(skip))]
    _parent_task_id: ReadOnly,
}

/// The schema of `TaskPatch` bodies (`PUT /api/todos/{id}`), for the API's documents.
#[cfg(feature = "schema")]
pub fn patch_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<TaskFields>()
}

/// The body of `PATCH /api/todos/{id}/complete`; an empty body completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct Completion {
    /// `false` reopens the task.
    pub completed: bool,
}

impl Default for Completion {
    fn default() -> Self {
        Self { completed: true }
    }
}

/// Marks a field that was present, so `null` is told apart from absent.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A field clients may read but not write: any value, even `null`, is refused.
#[derive(Default)]
struct ReadOnly;

impl<'de> Deserialize<'de> for ReadOnly {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom("is read-only and cannot be set"))
    }
}

impl TaskFields {
    fn validate(self) -> Result<TaskPatch, FieldError> {
        Ok(TaskPatch {
            title: not_null("title", self.title)?.map(validate_title).transpose()?,
            description: self.description.map(|d| d.map(validate_description).transpose()).transpose()?,
            completed: not_null("completed", self.completed)?,
            priority: not_null("priority", self.priority)?,
            tags: not_null("tags", self.tags)?.map(normalize_tags).transpose()?,
            due_date: self.due_date.map(|d| d.map(parse_due_date).transpose()).transpose()?,
            recurrence_pattern: self.recurrence_pattern,
        })
    }
}

fn not_null<T>(field: &'static str, given: Option<Option<T>>) -> Result<Option<T>, FieldError> {
    match given {
        Some(None) => Err(FieldError::new(field, "must not be null")),
        Some(Some(value)) => Ok(Some(value)),
        None => Ok(None),
    }
}

/// Trimmed, 1 to 500 characters.
pub fn validate_title(title: String) -> Result<String, FieldError> {
    let trimmed = title.trim();
    let chars = trimmed.chars().count();
    if chars == 0 {
        return Err(FieldError::new("title", "must not be empty"));
    }
    if chars > TITLE_MAX_CHARS {
        return Err(FieldError::new("title", format!("must be at most {TITLE_MAX_CHARS} characters, got {chars}")));
    }
    Ok(if trimmed.len() == title.len() { title } else { trimmed.to_owned() })
}

/// At most 10,000 characters, kept as given.
pub fn validate_description(description: String) -> Result<String, FieldError> {
    let chars = description.chars().count();
    if chars > DESCRIPTION_MAX_CHARS {
        return Err(FieldError::new(
            "description",
            format!("must be at most {DESCRIPTION_MAX_CHARS} characters, got {chars}"),
        ));
    }
    Ok(description)
}

/// Each tag trimmed, non-empty and at most 50 characters; duplicates dropped
/// (first occurrence kept); at most 20 tags remaining.
pub fn normalize_tags(tags: Vec<String>) -> Result<Vec<String>, FieldError> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = normalize_tag(&tag)?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(FieldError::new(
            "tags",
            format!("at most {MAX_TAGS} distinct tags are allowed, got {}", out.len()),
        ));
    }
    Ok(out)
}

/// One tag, trimmed; also used for the `tag` filter.
pub fn normalize_tag(tag: &str) -> Result<String, FieldError> {
    let tag = tag.trim();
    if tag.is_empty() {
        return Err(FieldError::new("tags", "a tag must not be empty"));
    }
    if tag.chars().count() > TAG_MAX_CHARS {
        return Err(FieldError::new("tags", format!("tag `{tag}` is longer than {TAG_MAX_CHARS} characters")));
    }
    Ok(tag.to_owned())
}

fn parse_due_date(text: String) -> Result<DateTime<Utc>, FieldError> {
    time::parse_utc(&text).map_err(|e| FieldError::new("due_date", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recurrence::Frequency;
    use crate::time::parse_utc;
    use crate::ErrorCode;
    use serde_json::json;

    fn at(text: &str) -> DateTime<Utc> {
        parse_utc(text).unwrap()
    }

    fn new_task(body: serde_json::Value) -> Result<NewTask, ApiError> {
        NewTask::from_json(body.to_string().as_bytes())
    }

    fn patch(body: serde_json::Value) -> Result<TaskPatch, ApiError> {
        TaskPatch::from_json(body.to_string().as_bytes())
    }

    fn message(result: Result<impl fmt::Debug, ApiError>) -> String {
        let err = result.unwrap_err();
        assert_eq!(err.code, ErrorCode::ValidationFailed, "{err:?}");
        err.message
    }

    fn sample() -> Task {
        NewTask::from_json(br#"{"title": "Buy milk", "tags": ["home"]}"#)
            .unwrap()
            .into_task(Uuid::nil(), at("2026-01-01T00:00:00Z"))
    }

    #[test]
    fn new_task_defaults() {
        let task = new_task(json!({"title": "  Buy milk "})).unwrap();
        assert_eq!(
            task,
            NewTask {
                title: "Buy milk".into(),
                description: None,
                completed: false,
                priority: Priority::Medium,
                tags: vec![],
                due_date: None,
                recurrence_pattern: None,
            }
        );
    }

    #[test]
    fn new_task_with_every_field() {
        let task = new_task(json!({
            "title": "Pay rent",
            "description": "  by transfer ",
            "completed": true,
            "priority": "high",
            "tags": ["money", " home "],
            "due_date": "2026-02-01T09:00:00+01:00",
            "recurrence_pattern": {"frequency": "monthly", "interval": 1},
        }))
        .unwrap();
        assert_eq!(task.description.as_deref(), Some("  by transfer "));
        assert!(task.completed);
        assert_eq!(task.priority, Priority::High);
        assert_eq!(task.tags, ["money", "home"]);
        assert_eq!(task.due_date, Some(at("2026-02-01T08:00:00Z")));
        assert_eq!(task.recurrence_pattern, Some(RecurrencePattern::new(Frequency::Monthly, 1).unwrap()));
    }

    #[test]
    fn new_task_accepts_null_for_optional_fields() {
        let task =
            new_task(json!({"title": "x", "description": null, "due_date": null, "recurrence_pattern": null})).unwrap();
        assert_eq!((task.description, task.due_date, task.recurrence_pattern), (None, None, None));
    }

    #[test]
    fn new_task_requires_a_title() {
        assert_eq!(message(new_task(json!({"priority": "low"}))), "title: is required");
        assert_eq!(message(new_task(json!({"title": null}))), "title: must not be null");
    }

    #[test]
    fn title_is_trimmed_and_bounded_in_characters() {
        assert_eq!(message(new_task(json!({"title": "   "}))), "title: must not be empty");
        assert_eq!(validate_title("é".repeat(500)).unwrap().chars().count(), 500);
        assert_eq!(
            validate_title("é".repeat(501)).unwrap_err().to_string(),
            "title: must be at most 500 characters, got 501"
        );
        assert_eq!(validate_title(format!(" {} ", "a".repeat(500))).unwrap().len(), 500);
    }

    #[test]
    fn description_is_bounded() {
        assert!(validate_description("d".repeat(10_000)).is_ok());
        assert!(message(new_task(json!({"title": "x", "description": "d".repeat(10_001)})))
            .starts_with("description: must be at most 10000 characters"));
    }

    #[test]
    fn tags_are_trimmed_and_deduplicated_in_order() {
        let tags = normalize_tags(vec![" b".into(), "a".into(), "b ".into(), "c".into(), "a".into()]).unwrap();
        assert_eq!(tags, ["b", "a", "c"]);
    }

    #[test]
    fn tag_rules() {
        assert_eq!(normalize_tags(vec!["  ".into()]).unwrap_err().to_string(), "tags: a tag must not be empty");
        assert!(normalize_tags(vec!["t".repeat(50)]).is_ok());
        assert!(normalize_tags(vec!["t".repeat(51)]).unwrap_err().reason.contains("longer than 50"));
        let twenty: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
        assert!(normalize_tags(twenty.clone()).is_ok());
        // Duplicates do not count against the limit.
        assert!(normalize_tags([twenty.clone(), vec!["t0".into()]].concat()).is_ok());
        let too_many = [twenty, vec!["t20".into()]].concat();
        assert!(normalize_tags(too_many).unwrap_err().reason.contains("got 21"));
    }

    #[test]
    fn tags_must_be_strings() {
        assert!(message(new_task(json!({"title": "x", "tags": [1]}))).starts_with("tags[0]: invalid type"));
        assert!(message(new_task(json!({"title": "x", "tags": "a"}))).starts_with("tags: invalid type"));
        assert_eq!(message(new_task(json!({"title": "x", "tags": null}))), "tags: must not be null");
    }

    #[test]
    fn bad_priority_names_the_field() {
        assert!(message(new_task(json!({"title": "x", "priority": "urgent"})))
            .starts_with("priority: unknown variant `urgent`"));
        assert_eq!(message(patch(json!({"priority": null}))), "priority: must not be null");
    }

    #[test]
    fn bad_due_date_names_the_field() {
        assert!(message(new_task(json!({"title": "x", "due_date": "tomorrow"})))
            .starts_with("due_date: must be an RFC 3339"));
        assert!(message(new_task(json!({"title": "x", "due_date": 5}))).starts_with("due_date: invalid type"));
    }

    #[test]
    fn bad_recurrence_names_the_field() {
        let msg = message(new_task(json!({"title": "x", "recurrence_pattern": {"frequency": "daily", "interval": 0}})));
        assert!(msg.starts_with("recurrence_pattern: interval must be between 1 and 365"), "{msg}");
        let msg = message(new_task(json!({"title": "x", "recurrence_pattern": {"frequency": "hourly"}})));
        assert!(msg.starts_with("recurrence_pattern.frequency: unknown variant"), "{msg}");
    }

    #[test]
    fn wrong_types_name_the_field() {
        assert!(message(new_task(json!({"title": 7}))).starts_with("title: invalid type"));
        assert!(message(patch(json!({"completed": "yes"}))).starts_with("completed: invalid type"));
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(message(new_task(json!({"title": "x", "colour": "red"}))).contains("unknown field `colour`"));
    }

    #[test]
    fn read_only_fields_are_refused_by_name() {
        for field in ["id", "created_at", "updated_at", "parent_task_id"] {
            for value in [json!("x"), json!(null)] {
                let msg = message(patch(json!({field: value})));
                assert!(msg.starts_with(&format!("{field}: is read-only")), "{msg}");
            }
        }
    }

    #[test]
    fn malformed_bodies() {
        assert_eq!(TaskPatch::from_json(b"[]").unwrap_err().code, ErrorCode::MalformedJson);
        assert_eq!(TaskPatch::from_json(b"{\"title\":").unwrap_err().code, ErrorCode::MalformedJson);
    }

    #[test]
    fn patch_distinguishes_absent_null_and_value() {
        let p = patch(json!({"description": null, "due_date": "2026-05-01T00:00:00Z"})).unwrap();
        assert_eq!(p.title, None);
        assert_eq!(p.description, Some(None));
        assert_eq!(p.due_date, Some(Some(at("2026-05-01T00:00:00Z"))));
        assert_eq!(p.recurrence_pattern, None);
        assert_eq!(patch(json!({})).unwrap(), TaskPatch::default());
    }

    #[test]
    fn applying_a_patch_lists_changes_with_old_and_new_values() {
        let task = sample();
        let now = at("2026-01-02T00:00:00Z");
        let (next, changes) = task.apply(
            patch(json!({"title": "Buy oat milk", "priority": "medium", "tags": ["home", "shop"]})).unwrap(),
            now,
        );
        assert_eq!(next.title, "Buy oat milk");
        assert_eq!(next.updated_at, now);
        assert_eq!(next.created_at, task.created_at);
        assert_eq!(
            serde_json::to_value(&changes).unwrap(),
            json!({
                "title": {"old": "Buy milk", "new": "Buy oat milk"},
                "tags": {"old": ["home"], "new": ["home", "shop"]},
            })
        );
    }

    #[test]
    fn applying_a_patch_that_changes_nothing() {
        let task = sample();
        let (next, changes) =
            task.apply(patch(json!({"title": " Buy milk ", "completed": false})).unwrap(), at("2026-01-02T00:00:00Z"));
        assert!(changes.is_empty());
        assert_eq!(next, task);
    }

    #[test]
    fn null_clears_optional_fields() {
        let mut task = sample();
        task.description = Some("d".into());
        task.due_date = Some(at("2026-03-01T10:00:00Z"));
        task.recurrence_pattern = Some(RecurrencePattern::new(Frequency::Daily, 2).unwrap());
        let cleared = patch(json!({"description": null, "due_date": null, "recurrence_pattern": null})).unwrap();
        let (next, changes) = task.apply(cleared, at("2026-01-02T00:00:00Z"));
        assert_eq!((next.description, next.due_date, next.recurrence_pattern), (None, None, None));
        assert_eq!(
            serde_json::to_value(&changes).unwrap(),
            json!({
                "description": {"old": "d", "new": null},
                "due_date": {"old": "2026-03-01T10:00:00.000000Z", "new": null},
                "recurrence_pattern": {"old": {"frequency": "daily", "interval": 2}, "new": null},
            })
        );
    }

    #[test]
    fn completion_patch() {
        let (done, changes) = sample().apply(TaskPatch::completion(true), at("2026-01-02T00:00:00Z"));
        assert!(done.completed);
        assert_eq!(changes.fields(), ["completed"]);
        let (_, again) = done.apply(TaskPatch::completion(true), at("2026-01-03T00:00:00Z"));
        assert!(again.is_empty());
    }

    #[test]
    fn task_json_shape() {
        let mut task = sample();
        task.due_date = Some(at("2026-01-05T10:00:00+02:00"));
        assert_eq!(
            serde_json::to_value(&task).unwrap(),
            json!({
                "id": "00000000-0000-0000-0000-000000000000",
                "title": "Buy milk",
                "description": null,
                "completed": false,
                "priority": "medium",
                "tags": ["home"],
                "due_date": "2026-01-05T08:00:00.000000Z",
                "recurrence_pattern": null,
                "parent_task_id": null,
                "created_at": "2026-01-01T00:00:00.000000Z",
                "updated_at": "2026-01-01T00:00:00.000000Z",
            })
        );
        let back: Task = serde_json::from_value(serde_json::to_value(&task).unwrap()).unwrap();
        assert_eq!(back, task);
    }

    #[test]
    fn priority_text_and_rank() {
        for p in [Priority::Low, Priority::Medium, Priority::High] {
            assert_eq!(p.as_str().parse::<Priority>(), Ok(p));
        }
        assert!("urgent".parse::<Priority>().is_err());
        assert!(Priority::Low.rank() < Priority::Medium.rank() && Priority::Medium.rank() < Priority::High.rank());
    }
}
