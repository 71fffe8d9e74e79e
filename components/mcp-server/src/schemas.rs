//! The tools' JSON Schemas, taken from the component schemas of the API's
//! OpenAPI document (which the domain's types generate), with every `$ref`
//! replaced by what it names: a tool schema must stand on its own.

use serde_json::{json, Map, Value};
use std::sync::OnceLock;
use todo_domain::OPENAPI_JSON;

const REF_PREFIX: &str = "#/components/schemas/";

fn components() -> &'static Map<String, Value> {
    static COMPONENTS: OnceLock<Map<String, Value>> = OnceLock::new();
    COMPONENTS.get_or_init(|| {
        let document: Value = serde_json::from_str(OPENAPI_JSON).unwrap_or_default();
        document["components"]["schemas"].as_object().cloned().unwrap_or_default()
    })
}

/// The document's schema `name`, self-contained (`{}` for a name it lacks,
/// which `tests::every_named_schema_exists` rules out).
pub fn named(name: &str) -> Value {
    inline(components().get(name).cloned().unwrap_or_else(|| json!({})))
}

fn inline(schema: Value) -> Value {
    match schema {
        Value::Object(mut object) => {
            if let Some(name) = object.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix(REF_PREFIX)) {
                let mut target = named(name);
                object.remove("$ref");
                // Keywords beside the reference (a description) stay.
                if let Value::Object(fields) = &mut target {
                    fields.extend(object);
                }
                return target;
            }
            Value::Object(object.into_iter().map(|(k, v)| (k, inline(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(inline).collect()),
        other => other,
    }
}

/// `schema` (an object schema) with one more property, required or not.
pub fn with_property(mut schema: Value, name: &str, property: Value, required: bool) -> Value {
    schema["properties"][name] = property;
    if required {
        match schema["required"].as_array_mut() {
            Some(names) => names.push(json!(name)),
            None => schema["required"] = json!([name]),
        }
    }
    schema
}

/// The `id` of a task or notification.
pub fn id(what: &str) -> Value {
    json!({ "type": "string", "format": "uuid", "description": format!("The {what}'s id") })
}

/// An object schema with just the given properties.
pub fn object(properties: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_replaced_by_what_they_name() {
        let task = named("Task");
        assert!(!task.to_string().contains("$ref"), "{task}");
        assert_eq!(task["properties"]["priority"]["enum"], json!(["low", "medium", "high"]));
        assert_eq!(named("TaskPage")["properties"]["items"]["items"]["properties"]["id"]["format"], "uuid");
    }

    #[test]
    fn every_named_schema_exists() {
        for name in crate::tools::SCHEMAS_USED {
            assert!(components().contains_key(*name), "{name}");
        }
    }
}
