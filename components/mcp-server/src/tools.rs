//! The tools: the Task and Notification APIs' operations (`todo_guest::api`)
//! as the authenticated user, with input and output schemas from the API's
//! document, annotations that say truthfully what each does, and results
//! whose `structuredContent` is what the HTTP API would answer.

use crate::jsonrpc::Error;
use crate::{schemas, shape};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use todo_domain::json::parse_object;
use todo_domain::{ApiError, Completion, HistoryParams, HistoryQuery, ListParams, ListQuery, NewTask};
use todo_domain::{NotificationParams, NotificationQuery, TaskPatch};
use todo_guest::api::tasks::{self, Idempotency};
use todo_guest::api::{notifications, Caller};
use todo_guest::http::parse_id;
use uuid::Uuid;

/// What a tool does to the user's data, as MCP's annotations say it.
#[derive(Clone, Copy)]
enum Effect {
    /// Reads only.
    Reads,
    /// Adds data; calling again adds more.
    Adds,
    /// Changes data in place; the same call again changes nothing more.
    Changes,
    /// Overwrites or removes data; the same call again changes nothing more.
    Destroys,
}

struct Tool {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    effect: Effect,
    input: fn() -> Value,
    /// The document's schema of `structuredContent`; `None`: `{"deleted": id}`.
    output: Option<&'static str>,
    run: fn(Caller, Map<String, Value>) -> Result<Value, ApiError>,
}

/// The document's schemas the tools use, checked to exist by the tests.
#[cfg(test)]
pub const SCHEMAS_USED: &[&str] = &[
    "ListParams",
    "NewTask",
    "TaskPatch",
    "Completion",
    "HistoryParams",
    "NotificationParams",
    "Task",
    "TaskPage",
    "HistoryPage",
    "NotificationPage",
    "Notification",
    "ReadAll",
];

const TOOLS: &[Tool] = &[
    Tool {
        name: "list_tasks",
        title: "List tasks",
        description: "Your tasks, a page at a time: filter by completed, priority, tag or text (q); sort by \
                      created_at (default, newest first), updated_at, due_date, priority or title; pass \
                      next_cursor back as cursor for the next page.",
        effect: Effect::Reads,
        input: || schemas::named("ListParams"),
        output: Some("TaskPage"),
        run: |caller, args| {
            let params: ListParams = parse(&args)?;
            Ok(value(&tasks::list(caller, &ListQuery::parse(&params.to_query())?)?))
        },
    },
    Tool {
        name: "get_task",
        title: "Get a task",
        description: "One of your tasks, by id.",
        effect: Effect::Reads,
        input: || schemas::object(json!({ "id": schemas::id("task") }), &["id"]),
        output: Some("Task"),
        run: |caller, args| Ok(value(&tasks::get(caller, id(&args, "task")?)?)),
    },
    Tool {
        name: "create_task",
        title: "Create a task",
        description: "Creates a task: a title (1-500 characters), optionally a description, priority, tags, \
                      due_date (RFC 3339) and recurrence_pattern. With an idempotency_key, repeating the call \
                      with the same arguments returns the first task instead of creating another.",
        effect: Effect::Adds,
        input: || {
            let key = json!({
                "type": "string", "minLength": 1, "maxLength": 200,
                "description": "Makes a retry safe: the same key with the same arguments returns the first result; \
                                with other arguments it is refused.",
            });
            schemas::with_property(schemas::named("NewTask"), "idempotency_key", key, false)
        },
        output: Some("Task"),
        run: create,
    },
    Tool {
        name: "update_task",
        title: "Update a task",
        description: "Changes the fields given of one of your tasks; null clears description, due_date or \
                      recurrence_pattern.",
        effect: Effect::Destroys,
        input: || schemas::with_property(schemas::named("TaskPatch"), "id", schemas::id("task"), true),
        output: Some("Task"),
        run: |caller, mut args| {
            let id = id(&args, "task")?;
            args.remove("id");
            Ok(value(&tasks::update(caller, id, TaskPatch::from_json(&body(&args))?)?))
        },
    },
    Tool {
        name: "complete_task",
        title: "Complete or reopen a task",
        description: "Marks one of your tasks completed (completed: true, the default) or open again (false). \
                      Completing a recurring task creates its next occurrence.",
        effect: Effect::Changes,
        input: || schemas::with_property(schemas::named("Completion"), "id", schemas::id("task"), true),
        output: Some("Task"),
        run: |caller, mut args| {
            let id = id(&args, "task")?;
            args.remove("id");
            let completion: Completion = parse(&args)?;
            Ok(value(&tasks::update(caller, id, TaskPatch::completion(completion.completed))?))
        },
    },
    Tool {
        name: "delete_task",
        title: "Delete a task",
        description: "Deletes one of your tasks for good (its history stays readable).",
        effect: Effect::Destroys,
        input: || schemas::object(json!({ "id": schemas::id("task") }), &["id"]),
        output: None,
        run: |caller, args| {
            let id = id(&args, "task")?;
            tasks::delete(caller, id)?;
            Ok(json!({ "deleted": id }))
        },
    },
    Tool {
        name: "task_history",
        title: "A task's history",
        description: "The audit trail of one of your tasks, oldest first: each change with the fields it changed \
                      (old and new values) and the task after it.",
        effect: Effect::Reads,
        input: || schemas::with_property(schemas::named("HistoryParams"), "id", schemas::id("task"), true),
        output: Some("HistoryPage"),
        run: |caller, mut args| {
            let id = id(&args, "task")?;
            args.remove("id");
            let params: HistoryParams = parse(&args)?;
            Ok(value(&tasks::history(caller, id, HistoryQuery::parse(&params.to_query())?.limit)?))
        },
    },
    Tool {
        name: "list_notifications",
        title: "List notifications",
        description: "Your notifications (reminders of tasks due soon or overdue), newest first.",
        effect: Effect::Reads,
        input: || schemas::named("NotificationParams"),
        output: Some("NotificationPage"),
        run: |caller, args| {
            let params: NotificationParams = parse(&args)?;
            Ok(value(&notifications::list(caller, &NotificationQuery::parse(&params.to_query())?)?))
        },
    },
    Tool {
        name: "mark_notification_read",
        title: "Mark a notification read",
        description: "Marks one of your notifications read.",
        effect: Effect::Changes,
        input: || schemas::object(json!({ "id": schemas::id("notification") }), &["id"]),
        output: Some("Notification"),
        run: |caller, args| Ok(value(&notifications::read(caller, id(&args, "notification")?)?)),
    },
    Tool {
        name: "mark_all_notifications_read",
        title: "Mark every notification read",
        description: "Marks all your notifications read; says how many were unread.",
        effect: Effect::Changes,
        input: || schemas::object(json!({}), &[]),
        output: Some("ReadAll"),
        run: |caller, _| Ok(value(&notifications::read_all(caller)?)),
    },
];

/// `tools/list`.
pub fn list() -> Vec<Value> {
    TOOLS.iter().map(definition).collect()
}

fn definition(tool: &Tool) -> Value {
    let (read_only, destructive, idempotent) = match tool.effect {
        Effect::Reads => (true, false, true),
        Effect::Adds => (false, false, false),
        Effect::Changes => (false, false, true),
        Effect::Destroys => (false, true, true),
    };
    let output = match tool.output {
        Some(name) => schemas::named(name),
        None => schemas::object(json!({ "deleted": schemas::id("deleted task") }), &["deleted"]),
    };
    json!({
        "name": tool.name,
        "title": tool.title,
        "description": tool.description,
        "inputSchema": (tool.input)(),
        "outputSchema": output,
        "annotations": {
            "title": tool.title,
            "readOnlyHint": read_only,
            "destructiveHint": destructive,
            "idempotentHint": idempotent,
            "openWorldHint": false,
        },
    })
}

/// `tools/call`: an unknown tool or arguments of the wrong shape are
/// protocol errors (`-32602`); what the API refuses (no such task, a
/// validation failure) is a result with `isError`, carrying its message.
pub fn call(caller: Caller, params: &Map<String, Value>) -> Result<Value, Error> {
    let name = params.get("name").and_then(Value::as_str).ok_or_else(|| Error::invalid_params("name: is required"))?;
    let tool = TOOLS.iter().find(|t| t.name == name).ok_or_else(|| Error::invalid_params(format!("no tool {name}")))?;
    let arguments = match params.get("arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(arguments)) => arguments.clone(),
        Some(_) => return Err(Error::invalid_params("arguments: expected an object")),
    };
    shape::check(&(tool.input)(), &arguments)
        .map_err(|reason| Error::invalid_params(reason.clone()).with_data(json!({ "tool": name, "reason": reason })))?;
    Ok(match (tool.run)(caller, arguments) {
        Ok(structured) => json!({
            "content": [{ "type": "text", "text": structured.to_string() }],
            "structuredContent": structured,
            "isError": false,
        }),
        Err(err) => json!({
            "content": [{ "type": "text", "text": format!("{}: {}", err.code, err.message) }],
            "isError": true,
        }),
    })
}

fn create(caller: Caller, mut args: Map<String, Value>) -> Result<Value, ApiError> {
    let key = args.remove("idempotency_key");
    let task = body(&args);
    let new = NewTask::from_json(&task)?;
    // The arguments as one canonical JSON text (keys in order) stand for the body.
    let idempotency = key.as_ref().and_then(Value::as_str).map(|key| Idempotency::new(key, &task)).transpose()?;
    let created = tasks::create(caller, new, idempotency.as_ref())?;
    serde_json::from_str(&created.body).map_err(|e| ApiError::internal(format!("the created task: {e}")))
}

/// The arguments as the JSON body an HTTP client would send.
fn body(args: &Map<String, Value>) -> Vec<u8> {
    Value::Object(args.clone()).to_string().into_bytes()
}

fn parse<T: DeserializeOwned>(args: &Map<String, Value>) -> Result<T, ApiError> {
    parse_object(&body(args))
}

fn id(args: &Map<String, Value>, what: &str) -> Result<Uuid, ApiError> {
    parse_id(args.get("id").and_then(Value::as_str).unwrap_or_default(), what)
}

fn value(data: &impl serde::Serialize) -> Value {
    // The domain's types always serialize.
    serde_json::to_value(data).unwrap_or_default()
}
