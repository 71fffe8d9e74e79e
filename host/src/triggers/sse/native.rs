//! Streams held on connections of their own, outside hyper: a connection
//! whose first request is `GET <the SSE trigger's route>` is answered here, by
//! writing the stream on the socket. hyper keeps an 8 KiB read and an 8 KiB
//! write buffer for the life of every connection, two thirds of what a held
//! stream cost through it. Every other connection goes to hyper (axum), by
//! way of `Listener`.

use super::stream::{self, RESPONSE_HEADERS};
use crate::triggers::http::HttpServer;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use std::{
    io,
    net::SocketAddr,
    sync::Arc,
    time::Duration,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::mpsc,
};

/// The most a stream request's head may take (headers, cookies, a token).
const MAX_HEAD: usize = 16 << 10;
/// How long a client may take to send its request's first line or head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// The connections hyper serves: every accepted one but the streams.
pub struct Listener {
    connections: mpsc::Receiver<(TcpStream, SocketAddr)>,
    local_addr: SocketAddr,
}

impl Listener {
    /// Accepts on `tcp`, answering streams here and passing the rest on.
    pub fn new(tcp: TcpListener, server: Arc<HttpServer>) -> io::Result<Self> {
        let local_addr = tcp.local_addr()?;
        let (tx, connections) = mpsc::channel(1024);
        tokio::spawn(async move {
            loop {
                let (socket, addr) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors, say: wait rather than spin.
                        tracing::warn!(error = %e, "accepting a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (tx, server) = (tx.clone(), server.clone());
                tokio::spawn(async move {
                    let Some(route) = server.hub.as_ref().map(|hub| format!("GET {}", hub.trigger.route)) else {
                        return drop(tx.send((socket, addr)).await);
                    };
                    match tokio::time::timeout(HEAD_TIMEOUT, is_stream_request(&socket, &route)).await {
                        Ok(Ok(true)) => serve(server, socket).await,
                        Ok(Ok(false)) => drop(tx.send((socket, addr)).await),
                        Ok(Err(_)) | Err(_) => {} // gone or silent: drop it
                    }
                });
            }
        });
        Ok(Self { connections, local_addr })
    }
}

impl axum::serve::Listener for Listener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        match self.connections.recv().await {
            Some(connection) => connection,
            None => std::future::pending().await, // the accept loop never ends
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local_addr)
    }
}

/// Whether the first request on `socket` asks for a stream (peeked: the
/// bytes stay for whoever serves it).
async fn is_stream_request(socket: &TcpStream, request_line: &str) -> io::Result<bool> {
    let line = request_line.as_bytes();
    let mut first = vec![0u8; line.len() + 1];
    loop {
        let n = socket.peek(&mut first).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let seen = n.min(line.len());
        if first[..seen] != line[..seen] {
            return Ok(false);
        }
        if n == first.len() {
            return Ok(matches!(first[line.len()], b' ' | b'?'));
        }
        // Only part of the request line has arrived: look again shortly.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Reads the request's head, opens the stream and writes it until it ends
/// or the client goes away. The connection then closes.
async fn serve(server: Arc<HttpServer>, mut socket: TcpStream) {
    let Some(hub) = &server.hub else { return };
    let _held = hub.native_stream();
    let head = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut socket)).await {
        Ok(Ok(head)) => head,
        _ => return,
    };
    let Some((query, headers)) = parse_head(&head) else {
        let _ = write_refusal(&mut socket, 400, "bad_request", "malformed request head").await;
        return;
    };
    drop(head);
    let mut state = match stream::open(&server, &headers, &query).await {
        Ok(state) => state,
        Err((status, code, message)) => {
            let _ = write_refusal(&mut socket, status.as_u16(), code, message).await;
            return;
        }
    };
    tracing::debug!("a stream held on a connection of its own");
    let (mut reader, mut writer) = socket.into_split();
    let mut response = String::from("HTTP/1.1 200 OK\r\n");
    for (name, value) in RESPONSE_HEADERS {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("transfer-encoding: chunked\r\nconnection: close\r\n\r\n");
    if writer.write_all(response.as_bytes()).await.is_err() {
        return;
    }
    let mut byte = [0u8; 1];
    loop {
        let message = tokio::select! {
            message = state.next_or_heartbeat() => message,
            // Nothing more is due from the client: data or EOF means it is done.
            _ = reader.read(&mut byte) => return,
        };
        let Some(message) = message else { break };
        let chunk = format!("{:x}\r\n{message}\r\n", message.len());
        if writer.write_all(chunk.as_bytes()).await.is_err() {
            return;
        }
    }
    let _ = writer.write_all(b"0\r\n\r\n").await;
    let _ = writer.shutdown().await;
}

/// The request's head, up to the blank line.
async fn read_head(socket: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_HEAD {
            return Err(io::ErrorKind::InvalidData.into());
        }
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(head)
}

/// The query string and headers of a request head.
fn parse_head(head: &[u8]) -> Option<(String, HeaderMap)> {
    let mut parsed = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut parsed);
    request.parse(head).ok()?.is_complete().then_some(())?;
    let query = request.path?.split_once('?').map(|(_, q)| q.to_owned()).unwrap_or_default();
    let mut headers = HeaderMap::new();
    for h in request.headers.iter() {
        headers.append(HeaderName::from_bytes(h.name.as_bytes()).ok()?, HeaderValue::from_bytes(h.value).ok()?);
    }
    Some((query, headers))
}

/// An error answer in the API's JSON shape, then the end of the connection.
async fn write_refusal(socket: &mut TcpStream, status: u16, code: &str, message: &str) -> io::Result<()> {
    let body = crate::triggers::http::error_body(code, message).to_string();
    let reason = axum::http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(body.as_bytes()).await?;
    socket.shutdown().await
}
