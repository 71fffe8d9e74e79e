//! The committed OpenAPI document (which the MCP server serves and the
//! dashboard's types are generated from) is what the types give today: a
//! type that changes without its committed schema fails here.

use todo_domain::openapi;

#[test]
fn the_committed_document_is_what_the_types_give() {
    assert!(
        todo_domain::OPENAPI_JSON.trim_end() == openapi::render().trim_end(),
        "crates/domain/openapi.json is stale; regenerate it with\n  \
         cargo run -q -p todo-domain --features schema --bin todo-openapi > crates/domain/openapi.json"
    );
}

#[test]
fn every_reference_names_a_schema_of_the_document() {
    let document = openapi::document();
    let schemas = document["components"]["schemas"].as_object().unwrap();
    let text = document.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = &reference[..reference.find('"').unwrap()];
        assert!(schemas.contains_key(name), "{name}");
    }
    for name in ["Task", "NewTask", "TaskPatch", "ListParams", "HistoryPage", "Notification", "ErrorBody", "TaskEvent"]
    {
        assert!(schemas.contains_key(name), "{name}");
    }
}
