//! `GET` anything: 200 with a short text body. The bench's trivial request
//! for comparing runtimes: it imports only `wasi:*` interfaces, so
//! `wasmtime serve` runs it as it is, and todo-host runs it beside the
//! platform's components.

use std::io::Write as _;
use wasi::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

wasi::http::proxy::export!(Hello);

struct Hello;

const BODY: &[u8] = b"hello\n";

impl wasi::exports::http::incoming_handler::Guest for Hello {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        // A fixed length lets both servers answer without chunking.
        let headers = Fields::from_list(&[
            ("content-type".into(), b"text/plain".to_vec()),
            ("content-length".into(), BODY.len().to_string().into_bytes()),
        ])
        .expect("valid headers");
        let response = OutgoingResponse::new(headers);
        let body = response.body().expect("the body, once");
        ResponseOutparam::set(out, Ok(response));
        let mut stream = body.write().expect("the body's stream, once");
        // A client gone meanwhile is no failure of ours: nothing to answer.
        if stream.write_all(BODY).and_then(|()| std::io::Write::flush(&mut stream)).is_err() {
            return;
        }
        drop(stream);
        let _ = OutgoingBody::finish(body, None);
    }
}
