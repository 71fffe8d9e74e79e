//! Prints the API's OpenAPI document; `crates/domain/openapi.json` is its
//! committed output:
//! `cargo run -q -p todo-domain --features schema --bin todo-openapi > crates/domain/openapi.json`

fn main() {
    println!("{}", todo_domain::openapi::render());
}
