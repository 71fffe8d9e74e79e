//! Whether tool arguments have the shape the tool's input schema gives:
//! only known properties, the required ones present, each of its JSON type
//! (or one of its enum values). That much is a protocol error
//! (`-32602`, naming the argument); what the values mean (a title too long,
//! a limit out of range) is the API's to judge, as for HTTP clients.

use serde_json::{Map, Value};

/// The first argument that does not fit `schema`, as `name: what is wrong`.
pub fn check(schema: &Value, arguments: &Map<String, Value>) -> Result<(), String> {
    let properties = schema["properties"].as_object();
    for (name, value) in arguments {
        let Some(property) = properties.and_then(|p| p.get(name)) else {
            return Err(format!("{name}: unknown argument"));
        };
        if !fits(property, value) {
            return Err(format!("{name}: expected {}", expected(property)));
        }
    }
    let required = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str);
    for name in required {
        if !arguments.contains_key(name) {
            return Err(format!("{name}: is required"));
        }
    }
    Ok(())
}

fn fits(schema: &Value, value: &Value) -> bool {
    if let Some(options) = schema["anyOf"].as_array() {
        return options.iter().any(|option| fits(option, value));
    }
    if let Some(values) = schema["enum"].as_array() {
        return values.contains(value);
    }
    match &schema["type"] {
        Value::String(t) => is(t, value),
        Value::Array(types) => types.iter().filter_map(Value::as_str).any(|t| is(t, value)),
        _ => true,
    }
}

fn is(json_type: &str, value: &Value) -> bool {
    match json_type {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

/// What a schema asks for, in words.
fn expected(schema: &Value) -> String {
    if let Some(options) = schema["anyOf"].as_array() {
        return options.iter().map(expected).collect::<Vec<_>>().join(" or ");
    }
    if let Some(values) = schema["enum"].as_array() {
        return format!("one of {}", values.iter().map(Value::to_string).collect::<Vec<_>>().join(", "));
    }
    match &schema["type"] {
        Value::String(t) => t.clone(),
        Value::Array(types) => types.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" or "),
        _ => "a value".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn arguments_of_the_wrong_shape_name_themselves() {
        let schema = json!({
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "limit": {"type": ["integer", "null"]},
                "sort": {"anyOf": [{"type": "string", "enum": ["title", "priority"]}, {"type": "null"}]},
            },
            "required": ["id"],
        });
        assert_eq!(check(&schema, &args(json!({"id": "x", "limit": 3, "sort": "title"}))), Ok(()));
        assert_eq!(check(&schema, &args(json!({"id": "x", "limit": null, "sort": null}))), Ok(()));
        assert_eq!(check(&schema, &args(json!({}))), Err("id: is required".into()));
        assert_eq!(check(&schema, &args(json!({"id": 1}))), Err("id: expected string".into()));
        assert_eq!(
            check(&schema, &args(json!({"id": "x", "limit": 1.5}))),
            Err("limit: expected integer or null".into())
        );
        assert_eq!(
            check(&schema, &args(json!({"id": "x", "sort": "size"}))),
            Err("sort: expected one of \"title\", \"priority\" or null".into())
        );
        assert_eq!(check(&schema, &args(json!({"id": "x", "colour": 1}))), Err("colour: unknown argument".into()));
    }
}
