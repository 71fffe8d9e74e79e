//! Limits against hostile clients, tried on the real `todo-host` over
//! loopback: heads sent too slowly are cut off, heads too large get 431,
//! one user cannot hold more than its share of streams, and a forged token
//! is refused without the JWT library's internals. The application here has
//! only the stream (no WebAssembly component), so it starts at once.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const SECRET: &str = "hostile-test-secret";
const STREAM: &str = "/api/stream/tasks";
/// The header-read timeout the host promises.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection still open this long after its half-sent head is a failure.
const GIVE_UP: Duration = Duration::from_secs(20);
/// How long any single answer may take.
const ANSWER: Duration = Duration::from_secs(5);
/// As `MAX_STREAMS_PER_USER` in host/src/triggers/sse/mod.rs.
const MAX_STREAMS_PER_USER: usize = 32;

const MANIFEST: &str = r#"
spin_manifest_version = 2
[application]
name = "hostile"
[[trigger.sse]]
route = "/api/stream/tasks"
topic = "task-updates"
user_attribute = "partitionkey"
"#;

/// `todo-host up` on a port of its own, killed on drop.
struct Host {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Host {
    fn start() -> Host {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("spin.toml");
        std::fs::write(&manifest, MANIFEST).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_todo-host"))
            .args(["up", "--listen", "127.0.0.1:0", "-f"])
            .arg(&manifest)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("TODO_JWT_SECRET", SECRET)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting todo-host");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("todo-host listening on http://") {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr.parse().expect("the printed address"),
            Err(_) => {
                let _ = child.kill();
                panic!("todo-host did not print `todo-host listening on http://ADDR` within 60 s");
            }
        };
        Host { child, addr, _dir: dir }
    }

    async fn connect(&self) -> TcpStream {
        tokio::time::timeout(ANSWER, TcpStream::connect(self.addr))
            .await
            .expect("connecting timed out")
            .expect("connecting to todo-host")
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A valid HS256 token for `user` (as host/tests/common/mod.rs mints them).
fn token(user: &str) -> String {
    let now = todo_token::now();
    todo_token::Key::new(SECRET.as_bytes()).issue(user, now, now + 3600)
}

/// A token with `alg: none` and no signature, built by hand.
fn unsigned_token(user: &str) -> String {
    use base64::Engine;
    let b64 = |json: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
    let exp = chrono::Utc::now().timestamp() + 3600;
    let header = b64(r#"{"alg":"none","typ":"JWT"}"#.to_owned());
    let payload = b64(format!(r#"{{"sub":"{user}","exp":{exp}}}"#));
    format!("{header}.{payload}.")
}

fn stream_request(token: &str) -> String {
    format!("GET {STREAM} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nAuthorization: Bearer {token}\r\n\r\n")
}

/// Reads until the server closes the connection (EOF or reset), at most
/// `GIVE_UP` after `since`; returns when it closed, or why it did not.
async fn until_closed(mut socket: TcpStream, since: Instant) -> Result<Duration, String> {
    let mut buf = [0u8; 4096];
    let mut received = Vec::new();
    loop {
        let left = GIVE_UP.saturating_sub(since.elapsed());
        match tokio::time::timeout(left, socket.read(&mut buf)).await {
            Err(_) => {
                let text = String::from_utf8_lossy(&received);
                return Err(format!("still open {GIVE_UP:?} after the half-sent head (received {text:?})"));
            }
            Ok(Ok(0)) => return Ok(since.elapsed()),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(since.elapsed()),
            Ok(Err(e)) => return Err(format!("reading: {e}")),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// Opens `n` connections that each send `head` (a head without its blank
/// line) and stop, and waits until the server has closed them all; returns
/// how long each stayed open.
async fn half_open(host: &Host, n: usize, head: &'static str) -> Vec<Duration> {
    let mut waits = tokio::task::JoinSet::new();
    for _ in 0..n {
        let mut socket = host.connect().await;
        socket.write_all(head.as_bytes()).await.expect("sending the half head");
        let since = Instant::now();
        waits.spawn(until_closed(socket, since));
    }
    let mut lived = Vec::new();
    while let Some(result) = waits.join_next().await {
        match result.unwrap() {
            Ok(open_for) => lived.push(open_for),
            Err(why) => panic!("a connection that sent only {head:?}: {why}"),
        }
    }
    lived.sort();
    lived
}

fn assert_cut_off_by_the_header_timeout(what: &str, lived: &[Duration]) {
    let (first, last) = (lived[0], lived[lived.len() - 1]);
    println!("{what}: {} connections closed after {first:.2?} to {last:.2?}", lived.len());
    assert!(
        first >= HEAD_TIMEOUT - Duration::from_secs(1),
        "{what}: closed after {first:?}, before the {HEAD_TIMEOUT:?} header timeout"
    );
    assert!(
        last <= Duration::from_secs(15),
        "{what}: open for {last:?}, well past the {HEAD_TIMEOUT:?} header timeout"
    );
}

#[tokio::test]
async fn half_sent_heads_are_cut_off_by_the_header_timeout_on_the_hyper_path() {
    let host = Host::start();
    let (one, many) = tokio::join!(
        half_open(&host, 1, "GET / HTTP/1.1\r\nHost: x\r\n"),
        half_open(&host, 50, "GET /healthz HTTP/1.1\r\nHost: x\r\nx-slow: 1\r\n"),
    );
    assert_cut_off_by_the_header_timeout("a half-sent head on hyper's path", &one);
    assert_cut_off_by_the_header_timeout("50 half-sent heads at once on hyper's path", &many);

    // The host still serves (the limits cut off only the slow).
    let mut socket = host.connect().await;
    socket.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let (head, _) = read_head(&mut socket).await;
    assert_eq!(status(&head), 200, "{head}");
}

#[tokio::test]
async fn an_idle_kept_alive_connection_outlives_the_head_timeout_but_a_slow_second_head_does_not() {
    let host = Host::start();
    let mut socket = host.connect().await;
    let ask = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    socket.write_all(ask).await.unwrap();
    assert_eq!(status(&read_response(&mut socket).await.0), 200);
    // Idle for longer than the head timeout: a client's pool may reuse it.
    tokio::time::sleep(HEAD_TIMEOUT + Duration::from_secs(2)).await;
    socket.write_all(ask).await.unwrap();
    assert_eq!(status(&read_response(&mut socket).await.0), 200, "the idle connection was closed");
    // Half of a second head: its clock starts at its first byte.
    socket.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let lived = until_closed(socket, Instant::now()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_cut_off_by_the_header_timeout("a half-sent second head", &[lived]);
}

#[tokio::test]
async fn half_sent_heads_are_cut_off_by_the_header_timeout_on_the_stream_path() {
    let host = Host::start();
    let (stream, silent, line) = tokio::join!(
        half_open(&host, 10, "GET /api/stream/tasks HTTP/1.1\r\nHost: x\r\n"),
        // Nothing at all, and only part of the request line: undecided
        // between the paths, cut off all the same.
        half_open(&host, 5, ""),
        half_open(&host, 5, "GET /api/stream/ta"),
    );
    assert_cut_off_by_the_header_timeout("half-sent stream heads", &stream);
    assert_cut_off_by_the_header_timeout("silent connections", &silent);
    assert_cut_off_by_the_header_timeout("half-sent request lines", &line);
}

/// Reads a response head (up to the blank line) and what came with it.
async fn read_head(socket: &mut TcpStream) -> (String, Vec<u8>) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + ANSWER;
    loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = received.split_off(end + 4);
            return (String::from_utf8_lossy(&received).into_owned(), rest);
        }
        let read = tokio::time::timeout_at(deadline, socket.read(&mut buf)).await;
        match read {
            Err(_) => panic!("no response head within {ANSWER:?} (received {:?})", String::from_utf8_lossy(&received)),
            Ok(Ok(0)) => panic!("closed before a response head (received {:?})", String::from_utf8_lossy(&received)),
            Ok(Err(e)) => panic!("reading a response head: {e} (received {:?})", String::from_utf8_lossy(&received)),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

fn status(head: &str) -> u16 {
    let line = head.lines().next().unwrap_or_default();
    line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not a status line: {line:?}"))
}

/// Reads a whole response that has a `content-length`: its head and body.
async fn read_response(socket: &mut TcpStream) -> (String, Vec<u8>) {
    let (head, mut body) = read_head(socket).await;
    let length = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(name, _)| name.eq_ignore_ascii_case("content-length")))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or_else(|| panic!("no content-length in {head:?}"));
    let mut buf = [0u8; 4096];
    while body.len() < length {
        match tokio::time::timeout(ANSWER, socket.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => body.extend_from_slice(&buf[..n]),
            other => panic!("the body ended early ({other:?}) after {:?}", String::from_utf8_lossy(&body)),
        }
    }
    (head, body)
}

fn error_json(head: &str, body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not a JSON body ({e}): {head}{}", String::from_utf8_lossy(body)))
}

/// Sends a request whose head is `path` and a 200 KB header, reading the
/// answer while the head is still being written (the server stops reading
/// at its limit, so writing may fail); returns the answer's head and body.
async fn send_big_head(host: &Host, path: &str) -> (String, Vec<u8>) {
    let socket = host.connect().await;
    let (mut reader, mut writer) = socket.into_split();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nx-big: {}\r\n\r\n", "a".repeat(200_000));
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(request.as_bytes()).await;
        writer // dropped only once the answer is read
    });
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + ANSWER;
    loop {
        match tokio::time::timeout_at(deadline, reader.read(&mut buf)).await {
            Err(_) => panic!(
                "no answer to a 200 KB head on {path} within {ANSWER:?} (received {:?})",
                String::from_utf8_lossy(&received)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
    drop(writing.await);
    let text = String::from_utf8_lossy(&received).into_owned();
    let (head, body) =
        text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no response head to a 200 KB head on {path}: {text:?}"));
    (head.to_owned(), body.as_bytes().to_vec())
}

#[tokio::test]
async fn an_oversized_head_gets_431_on_both_paths() {
    let host = Host::start();
    let (head, _) = send_big_head(&host, "/healthz").await;
    println!("hyper's path: {}", head.lines().next().unwrap_or_default());
    assert_eq!(status(&head), 431, "a 200 KB header on hyper's path: {head}");

    let (head, body) = send_big_head(&host, STREAM).await;
    println!("the stream path: {} {}", head.lines().next().unwrap_or_default(), String::from_utf8_lossy(&body));
    assert_eq!(status(&head), 431, "a 200 KB header on the stream path: {head}");
    assert_eq!(error_json(&head, &body)["error"]["code"], "headers_too_large", "{head}");

    // Well under the limit is fine on both.
    for path in ["/healthz", STREAM] {
        let mut socket = host.connect().await;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nx-big: {}\r\n\r\n",
            token("alice"),
            "a".repeat(20_000)
        );
        socket.write_all(request.as_bytes()).await.unwrap();
        let (head, _) = read_head(&mut socket).await;
        assert_eq!(status(&head), 200, "a 20 KB header on {path}: {head}");
    }
}

/// Opens a stream for `token` on a connection of its own; returns its
/// status, the connection, and the response's head and what followed.
async fn open_stream(host: &Host, token: &str) -> (u16, TcpStream, String, Vec<u8>) {
    let mut socket = host.connect().await;
    socket.write_all(stream_request(token).as_bytes()).await.unwrap();
    let (head, rest) = read_head(&mut socket).await;
    (status(&head), socket, head, rest)
}

#[tokio::test]
async fn one_user_may_hold_at_most_32_streams() {
    let host = Host::start();
    let alice = token("alice");
    let mut held = Vec::new();
    for n in 1..=MAX_STREAMS_PER_USER {
        let (status, socket, head, _) = open_stream(&host, &alice).await;
        assert_eq!(status, 200, "stream {n} of {MAX_STREAMS_PER_USER}: {head}");
        held.push(socket);
    }

    let (status, mut socket, head, rest) = open_stream(&host, &alice).await;
    assert_eq!(status, 429, "stream {} of a user: {head}", MAX_STREAMS_PER_USER + 1);
    let mut body = rest;
    let _ = tokio::time::timeout(ANSWER, socket.read_to_end(&mut body))
        .await
        .expect("the refusal's connection was not closed");
    let error = error_json(&head, &body);
    assert_eq!(error["error"]["code"], "too_many_streams", "{error}");
    println!("stream {}: {} {error}", MAX_STREAMS_PER_USER + 1, head.lines().next().unwrap_or_default());

    let (status, _bob, head, _) = open_stream(&host, &token("bob")).await;
    assert_eq!(status, 200, "another user's stream: {head}");

    // Closing one frees its place (as soon as the host sees the close).
    drop(held.pop());
    let deadline = Instant::now() + ANSWER;
    loop {
        let (status, socket, head, _) = open_stream(&host, &alice).await;
        if status == 200 {
            held.push(socket);
            break;
        }
        assert_eq!(status, 429, "{head}");
        assert!(Instant::now() < deadline, "a closed stream's place was still taken {ANSWER:?} later");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, _, head, _) = open_stream(&host, &alice).await;
    assert_eq!(status, 429, "the place freed was taken again: {head}");
}

#[tokio::test]
async fn an_unsigned_token_is_an_invalid_token() {
    let host = Host::start();
    let forged = unsigned_token("alice");

    // On a connection of its own (the native path)...
    let mut socket = host.connect().await;
    socket.write_all(stream_request(&forged).as_bytes()).await.unwrap();
    let (head, body) = read_response(&mut socket).await;
    assert_eq!(status(&head), 401, "alg: none on the stream path: {head}");
    let error = error_json(&head, &body);
    assert_eq!(error["error"]["message"], "invalid token", "{error}");
    assert_eq!(error["error"]["code"], "unauthorized", "{error}");

    // ...and after another request on a kept-alive connection (hyper's).
    let mut socket = host.connect().await;
    socket.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let (head, _) = read_response(&mut socket).await;
    assert_eq!(status(&head), 200, "{head}");
    socket.write_all(stream_request(&forged).as_bytes()).await.unwrap();
    let (head, body) = read_response(&mut socket).await;
    assert_eq!(status(&head), 401, "alg: none on hyper's path: {head}");
    let error = error_json(&head, &body);
    assert_eq!(error["error"]["message"], "invalid token", "{error}");
    println!("alg none: {} {error}", head.lines().next().unwrap_or_default());
}
