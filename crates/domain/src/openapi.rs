//! The OpenAPI 3.1 document of the HTTP API, built from the schemas of the
//! domain's own types (`schemars`), so the document cannot drift from the
//! code: every route of the Task API and the Notification API, the event
//! stream, the development sign-in and the document itself, with the bearer
//! scheme, parameters and their limits, bodies, every status a route can
//! answer and the error body. `cargo run -p todo-domain --features schema
//! --bin todo-openapi` prints it; the committed copy is `OPENAPI_JSON`.

use crate::error::ErrorBody;
use crate::history::HistoryPage;
use crate::idempotency::MAX_IDEMPOTENCY_KEY_CHARS;
use crate::notification::{Notification, NotificationCreated, NotificationPage, NotificationParams, NotificationRead};
use crate::notification::{ReadAll, UnreadCount};
use crate::query::{HistoryParams, ListParams, TaskPage};
use crate::task::{patch_schema, Completion, Task};
use crate::{SyncEvent, TaskEvent};
use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

/// The whole document, as JSON.
pub fn document() -> Value {
    let mut schemas = Schemas::new();
    let paths = paths(&mut schemas);
    // Named by the error responses and the descriptions rather than a body.
    let _ = schemas.output::<ErrorBody>();
    let _ = schemas.output::<TaskEvent>();
    let _ = schemas.output::<SyncEvent>();
    let _ = schemas.output::<NotificationCreated>();
    let _ = schemas.output::<NotificationRead>();
    let mut schemas = schemas.definitions();
    add_new_task(&mut schemas);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "todo",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Tasks, their audit trail and notifications, each scoped to the authenticated user \
                            (another user's task or notification is a 404). Every change publishes events: \
                            `TaskEvent` on the topic `task-events`, `SyncEvent`, `NotificationCreated` and \
                            `NotificationRead` on `task-updates`, which `GET /api/stream/tasks` streams.",
        },
        "servers": [{ "url": "/" }],
        "tags": tags(),
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "HS256 with the host's secret; `sub` is the user id, `exp` is required.",
                },
            },
            "schemas": schemas,
        },
    })
}

/// The schemas of what the API reads (`input`) and of what it writes
/// (`output`), which differ where serde does: an `Option` field is optional
/// in a body but always present (maybe `null`) in an answer.
struct Schemas {
    inputs: SchemaGenerator,
    outputs: SchemaGenerator,
}

impl Schemas {
    fn new() -> Self {
        let settings = SchemaSettings::draft2020_12()
            .with(|s| {
                s.definitions_path = "/components/schemas".into();
                s.meta_schema = None;
            })
            // `#[serde(default)]` on an optional field says "absent", not "null".
            .with_transform(RecursiveTransform(|schema: &mut Schema| {
                if schema.get("default") == Some(&Value::Null) {
                    schema.remove("default");
                }
            }));
        Self {
            inputs: settings.clone().for_deserialize().into_generator(),
            outputs: settings.for_serialize().into_generator(),
        }
    }

    fn input<T: JsonSchema>(&mut self) -> Value {
        self.inputs.subschema_for::<T>().to_value()
    }

    fn output<T: JsonSchema>(&mut self) -> Value {
        self.outputs.subschema_for::<T>().to_value()
    }

    /// Every schema named. A type both read and written (a recurrence
    /// pattern) gets the reading one, which also accepts what is written
    /// (its `interval` may be left out of a body, never out of an answer).
    fn definitions(mut self) -> Map<String, Value> {
        let mut all = self.outputs.take_definitions(true);
        all.extend(self.inputs.take_definitions(true));
        all
    }
}

/// The document as the committed file holds it: pretty-printed JSON.
pub fn render() -> String {
    // A JSON value always serializes.
    serde_json::to_string_pretty(&document()).unwrap_or_default()
}

/// `NewTask`: a `TaskPatch` with a required title.
fn add_new_task(schemas: &mut Map<String, Value>) {
    let mut new_task = schemas["TaskPatch"].clone();
    let description =
        "A new task: `title` is required, `completed` defaults to false, `priority` to medium, `tags` to none.";
    new_task["description"] = json!(description);
    new_task["required"] = json!(["title"]);
    new_task["examples"] = json!([{
        "title": "Water the plants",
        "priority": "high",
        "tags": ["home"],
        "due_date": "2026-12-01T09:00:00+01:00",
        "recurrence_pattern": { "frequency": "weekly", "interval": 1 },
    }]);
    schemas.insert("NewTask".into(), new_task);
}

fn paths(schemas: &mut Schemas) -> Value {
    let mut paths = Map::new();
    let mut add = |path: &str, method: &str, mut operation: Value| {
        operation["tags"] = json!([tag_of(path)]);
        paths.entry(path).or_insert_with(|| json!({}))[method] = operation;
    };
    task_paths(schemas, &mut add);
    notification_paths(schemas, &mut add);
    add("/api/stream/tasks", "get", stream());
    add("/auth/dev/sign-in", "post", sign_in(schemas));
    add("/api/openapi.json", "get", this_document());
    Value::Object(paths)
}

/// The document's sections, by path.
const TAGS: [(&str, &str, &str); 4] = [
    ("/api/todos", "Tasks", "The Task API: CRUD, completion, history"),
    ("/api/notifications", "Notifications", "Reminders of tasks due soon or overdue"),
    ("/api/stream", "Stream", "Live events"),
    ("/", "Host", "Served by the host itself: sign-in, this document"),
];

fn tag_of(path: &str) -> &'static str {
    TAGS.iter().find(|(prefix, _, _)| path.starts_with(prefix)).map_or("Host", |(_, tag, _)| tag)
}

fn tags() -> Value {
    TAGS.iter().map(|(_, name, description)| json!({ "name": name, "description": description })).collect()
}

fn task_paths(schemas: &mut Schemas, add: &mut impl FnMut(&str, &str, Value)) {
    let task = schemas.output::<Task>();
    let task_id = path_id("task");
    add(
        "/api/todos",
        "get",
        Operation::new("listTasks", "The caller's tasks, a page at a time")
            .parameters(query_parameters::<ListParams>(schemas))
            .answer(200, "A page of tasks", schemas.output::<TaskPage>())
            .links(next_page("listTasks"))
            .errors(&[400, 401, 500, 503])
            .build(),
    );
    add(
        "/api/todos",
        "post",
        Operation::new("createTask", "Creates a task")
            .parameters(vec![idempotency_key()])
            .body(json!({ "$ref": "#/components/schemas/NewTask" }), true)
            .answer(
                201,
                "The task created (or, for a repeated `Idempotency-Key` and body, the first answer)",
                task.clone(),
            )
            .links(task_links())
            .errors(&[400, 401, 409, 413, 422, 500, 503])
            .build(),
    );
    add(
        "/api/todos/{id}",
        "get",
        Operation::new("getTask", "One task")
            .parameters(vec![task_id.clone()])
            .answer(200, "The task", task.clone())
            .errors(&[400, 401, 404, 500, 503])
            .build(),
    );
    add(
        "/api/todos/{id}",
        "put",
        Operation::new("updateTask", "Changes the fields given")
            .parameters(vec![task_id.clone()])
            .body(patch_schema(&mut schemas.inputs).to_value(), true)
            .answer(200, "The task after the change (unchanged if nothing differed)", task.clone())
            .errors(&[400, 401, 404, 409, 413, 422, 500, 503])
            .build(),
    );
    add(
        "/api/todos/{id}",
        "delete",
        Operation::new("deleteTask", "Deletes a task (its history stays readable)")
            .parameters(vec![task_id.clone()])
            .no_content(204, "Deleted")
            .errors(&[400, 401, 404, 409, 500, 503])
            .build(),
    );
    add(
        "/api/todos/{id}/complete",
        "patch",
        Operation::new("completeTask", "Completes or reopens a task")
            .parameters(vec![task_id.clone()])
            .body(schemas.input::<Completion>(), false)
            .answer(200, "The task; completing a completed task changes nothing", task)
            .errors(&[400, 401, 404, 409, 413, 422, 500, 503])
            .build(),
    );
    add(
        "/api/todos/{id}/history",
        "get",
        Operation::new("taskHistory", "A task's audit trail, oldest first")
            .parameters([vec![task_id], query_parameters::<HistoryParams>(schemas)].concat())
            .answer(200, "The audit rows", schemas.output::<HistoryPage>())
            .errors(&[400, 401, 404, 500, 503])
            .build(),
    );
}

fn notification_paths(schemas: &mut Schemas, add: &mut impl FnMut(&str, &str, Value)) {
    add(
        "/api/notifications",
        "get",
        Operation::new("listNotifications", "The caller's notifications, newest first")
            .parameters(query_parameters::<NotificationParams>(schemas))
            .answer(200, "A page of notifications", schemas.output::<NotificationPage>())
            .links(notification_links())
            .errors(&[400, 401, 500, 503])
            .build(),
    );
    add(
        "/api/notifications/{id}/read",
        "patch",
        Operation::new("markNotificationRead", "Marks one read")
            .parameters(vec![path_id("notification")])
            .answer(200, "The notification, read (again: unchanged)", schemas.output::<Notification>())
            .errors(&[400, 401, 404, 500, 503])
            .build(),
    );
    add(
        "/api/notifications/read-all",
        "post",
        Operation::new("markAllNotificationsRead", "Marks every one read")
            .answer(200, "How many were unread", schemas.output::<ReadAll>())
            .errors(&[401, 500, 503])
            .build(),
    );
    add(
        "/api/notifications/unread-count",
        "get",
        Operation::new("unreadCount", "How many are unread")
            .answer(200, "The count", schemas.output::<UnreadCount>())
            .errors(&[401, 500, 503])
            .build(),
    );
}

/// An operation of a component route: authenticated, answering its own
/// success and the API's error body for each failure status.
struct Operation {
    value: Map<String, Value>,
    responses: Map<String, Value>,
}

impl Operation {
    fn new(id: &str, summary: &str) -> Self {
        let value = json!({ "operationId": id, "summary": summary });
        Self { value: into_map(value), responses: Map::new() }
    }

    fn parameters(mut self, parameters: Vec<Value>) -> Self {
        self.value.insert("parameters".into(), Value::Array(parameters));
        self
    }

    fn body(mut self, schema: Value, required: bool) -> Self {
        let body = json!({ "required": required, "content": { "application/json": { "schema": schema } } });
        self.value.insert("requestBody".into(), body);
        self
    }

    fn answer(mut self, status: u16, description: &str, schema: Value) -> Self {
        let response = json!({ "description": description, "content": { "application/json": { "schema": schema } } });
        self.responses.insert(status.to_string(), response);
        self
    }

    fn no_content(mut self, status: u16, description: &str) -> Self {
        self.responses.insert(status.to_string(), json!({ "description": description }));
        self
    }

    /// Links of the first (success) response.
    fn links(mut self, links: Value) -> Self {
        if let Some(response) = self.responses.values_mut().next() {
            response["links"] = links;
        }
        self
    }

    fn errors(mut self, statuses: &[u16]) -> Self {
        for &status in statuses {
            self.responses.insert(status.to_string(), error_response(status));
        }
        self
    }

    fn public(mut self) -> Self {
        self.value.insert("security".into(), json!([]));
        self
    }

    fn build(mut self) -> Value {
        self.value.insert("responses".into(), Value::Object(self.responses));
        Value::Object(self.value)
    }
}

fn into_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The API's error body under the meaning `status` has on every route.
fn error_response(status: u16) -> Value {
    let description = match status {
        400 => "`malformed_json` (the body is not a JSON object), `invalid_id` (not a UUID) or `invalid_query`",
        401 => "`unauthorized`: no valid bearer token",
        404 => "`not_found`: no such task or notification (or not the caller's)",
        409 => "`conflict`: a concurrent request won the race; retry",
        413 => "`payload_too_large`: the body is over 1 MiB",
        422 => "`validation_failed` (the message names the field) or `idempotency_key_reused`",
        429 => "`too_many_streams`: the user holds 32 streams on this replica",
        500 => "`component_failed` or `internal`: the request id in the message is in the host's log",
        503 => "`unavailable`: the database or the event queue is unavailable; retry later",
        _ => "An error",
    };
    let mut response = json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } },
    });
    if status == 401 {
        response["headers"] = json!({
            "WWW-Authenticate": { "required": true, "schema": { "type": "string", "const": "Bearer" } },
        });
    }
    response
}

fn path_id(what: &str) -> Value {
    json!({
        "name": "id",
        "in": "path",
        "required": true,
        "description": format!("The {what}'s id"),
        "schema": { "type": "string", "format": "uuid" },
    })
}

fn idempotency_key() -> Value {
    json!({
        "name": "Idempotency-Key",
        "in": "header",
        "required": false,
        "description": "A retry with the same key and body returns the first answer; the same key with another \
                        body is 422 `idempotency_key_reused`.",
        "schema": { "type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY_CHARS },
    })
}

/// One optional query parameter per property of `T`'s schema (which the
/// generator also keeps as a component schema). The API ignores an empty
/// value, as if the parameter were absent, so `""` is one of every
/// parameter's values.
fn query_parameters<T: JsonSchema>(schemas: &mut Schemas) -> Vec<Value> {
    let reference = schemas.input::<T>();
    let name = reference["$ref"].as_str().and_then(|r| r.rsplit('/').next()).unwrap_or_default();
    let properties = schemas.inputs.definitions()[name]["properties"].as_object().cloned().unwrap_or_default();
    properties
        .into_iter()
        .map(|(name, mut schema)| {
            let description = schema.as_object_mut().and_then(|s| s.remove("description"));
            let schema = or_empty(non_null(schema));
            let mut parameter = json!({ "name": name, "in": "query", "required": false, "schema": schema });
            if let Some(description) = description {
                parameter["description"] = description;
            }
            parameter
        })
        .collect()
}

/// `schema` without its `null` alternative: a query parameter is absent, never null.
fn non_null(mut schema: Value) -> Value {
    if let Some(types) = schema.get_mut("type").and_then(Value::as_array_mut) {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            schema["type"] = only.clone();
        }
    }
    if let Some(any_of) = schema.get("anyOf").and_then(Value::as_array) {
        let options: Vec<&Value> = any_of.iter().filter(|s| s.get("type").is_none_or(|t| t != "null")).collect();
        if let [only] = options.as_slice() {
            return (*only).clone();
        }
    }
    schema
}

/// `schema`, or the empty string (which a plain string schema already allows).
fn or_empty(schema: Value) -> Value {
    if schema.get("type").is_some_and(|t| t == "string") {
        return schema;
    }
    json!({ "anyOf": [schema, { "type": "string", "const": "" }] })
}

/// Where a created task leads: its id feeds every operation on it.
fn task_links() -> Value {
    let id = json!({ "id": "$response.body#/id" });
    let mut links = Map::new();
    for operation in ["getTask", "updateTask", "deleteTask", "completeTask", "taskHistory"] {
        links.insert(operation.into(), json!({ "operationId": operation, "parameters": id }));
    }
    Value::Object(links)
}

/// The next page (a task list's cursor holds its sort and order, which the
/// next request must repeat).
fn next_page(operation: &str) -> Value {
    json!({ "nextPage": { "operationId": operation, "parameters": { "cursor": "$response.body#/next_cursor" } } })
}

/// The next page, and marking the first one read.
fn notification_links() -> Value {
    let mut links = next_page("listNotifications");
    links["markFirstRead"] =
        json!({ "operationId": "markNotificationRead", "parameters": { "id": "$response.body#/items/0/id" } });
    links
}

fn stream() -> Value {
    let mut operation = Operation::new("streamTasks", "The caller's events, as Server-Sent Events").errors(&[401, 429]);
    operation.value.insert(
        "description".into(),
        json!(
            "Each message has `id: <log id>-<sequence>`, `event:` the event type (`sync.task-changed` with a \
               `SyncEvent`, `notification.created` with a `NotificationCreated`, `notification.read` with a \
               `NotificationRead`) and `data:` its JSON. Reconnect with `Last-Event-ID` to get what was missed; \
               `event: resync` asks for a refetch. Besides the bearer header, an `access_token` query parameter \
               or the `todo_token` cookie of the sign-in authenticate it."
        ),
    );
    operation.responses.insert(
        "200".into(),
        json!({
            "description": "The stream (it does not end)",
            "content": { "text/event-stream": { "schema": { "type": "string" } } },
        }),
    );
    operation.build()
}

/// The request and answer of the development sign-in (served by the host).
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct SignInRequest {
    /// 1 to 128 letters, digits and `._@+-`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9._@+\-]{1,128}$"))]
    user_id: String,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
struct SignInResponse {
    /// A bearer token for the user, valid for 12 hours.
    token: String,
    user_id: String,
    expires_at: chrono::DateTime<chrono::Utc>,
}

fn sign_in(schemas: &mut Schemas) -> Value {
    let mut operation = Operation::new("devSignIn", "Development sign-in: a token for any user id")
        .body(schemas.input::<SignInRequest>(), true)
        .answer(200, "The token (also set as the stream's cookie)", schemas.output::<SignInResponse>())
        .errors(&[400, 404, 422])
        .public();
    operation.responses.insert(
        "404".into(),
        json!({
            "description": "`not_found`: development sign-in is off (`TODO_JWT_SECRET` is set)",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } },
        }),
    );
    operation.build()
}

fn this_document() -> Value {
    let mut operation = Operation::new("openApiDocument", "This document").public();
    operation.responses.insert(
        "200".into(),
        json!({
            "description": "The OpenAPI 3.1 document",
            "headers": {
                "ETag": { "required": true, "schema": { "type": "string" } },
                "Cache-Control": { "required": true, "schema": { "type": "string" } },
            },
            "content": { "application/json": { "schema": { "type": "object" } } },
        }),
    );
    operation.responses.insert("304".into(), json!({ "description": "Unchanged since the `If-None-Match` ETag" }));
    operation.value.insert(
        "parameters".into(),
        json!([{ "name": "If-None-Match", "in": "header", "required": false, "schema": { "type": "string" } }]),
    );
    operation.build()
}
