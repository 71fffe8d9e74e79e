//! The parts of the API's JSON Schemas that the types alone do not say:
//! text that is trimmed before its length is checked, and event types that
//! are strings on the wire but a closed set in the code.

use crate::events::ChangeKind;
use crate::reminder::{REMINDER_OVERDUE, REMINDER_UPCOMING};
use crate::task::{MAX_TAGS, TAG_MAX_CHARS, TITLE_MAX_CHARS};
use schemars::{json_schema, Schema, SchemaGenerator};

/// White space as `char::is_whitespace` (and so `str::trim`) knows it, as a
/// regex character-class body that ECMA-262 and Python's `re` read alike.
const SPACE: &str = r"\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// Text that, trimmed of white space at both ends, has 1 to `max`
/// characters: exactly what `validate_title` and `normalize_tag` accept
/// (JSON Schema's `maxLength` would count the white space too).
fn trimmed(max: usize) -> String {
    format!("^{}$", trimmed_text(max))
}

/// `trimmed` without its anchors.
fn trimmed_text(max: usize) -> String {
    format!(r"[{SPACE}]*[^{SPACE}](?:[\s\S]{{0,{}}}[^{SPACE}])?[{SPACE}]*", max - 2)
}

pub fn title(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "pattern": trimmed(TITLE_MAX_CHARS),
        "description": "Trimmed of white space at both ends, then 1 to 500 characters.",
    })
}

pub fn tags(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": { "type": "string", "pattern": trimmed(TAG_MAX_CHARS) },
        "maxItems": MAX_TAGS,
        "description": "Each tag is trimmed and 1 to 50 characters; duplicates are dropped, and at most 20 distinct \
                        tags remain.",
    })
}

/// The `tag` filter of task lists: an empty value is no filter.
pub fn tag_filter(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "pattern": format!("^(?:{})?$", trimmed_text(TAG_MAX_CHARS)),
    })
}

pub fn due_date(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["string", "null"],
        "format": "date-time",
        "description": "RFC 3339 with any offset, between the years 0001 and 9999 in UTC; stored and returned in UTC.",
    })
}

/// `task.created`, `task.updated`, `task.deleted`, `task.completed`.
pub fn task_event_type(_: &mut SchemaGenerator) -> Schema {
    let types: Vec<&str> = ChangeKind::ALL.iter().map(|kind| kind.event_type()).collect();
    json_schema!({ "type": "string", "enum": types })
}

pub fn reminder_event_type(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "enum": [REMINDER_UPCOMING, REMINDER_OVERDUE] })
}
