//! Streams held on connections of their own, outside hyper: a connection
//! whose first request is `GET <the SSE trigger's route>` is answered here, by
//! writing the stream on the socket. hyper keeps an 8 KiB read and an 8 KiB
//! write buffer for the life of every connection, two thirds of what a held
//! stream cost through it. Every other connection goes to hyper (axum), by
//! way of `Listener`.

use super::stream::{self, RESPONSE_HEADERS};
use crate::triggers::http::{HttpServer, HEAD_TIMEOUT, MAX_HEAD_BYTES};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use std::{io, net::SocketAddr, sync::Arc, time::Duration};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::mpsc,
    time::Instant,
};

/// How long a refused client may go on sending what it had started (an
/// oversized head) after the refusal, so that closing with its bytes unread
/// (a reset) does not destroy the refusal before the client reads it.
const LINGER: Duration = Duration::from_secs(2);
/// The most a lingering close reads and discards.
const LINGER_BYTES: usize = 1 << 20;
/// Headers a stream request may have (as hyper's default).
const MAX_HEADERS: usize = 100;

/// The connections hyper serves: every accepted one but the streams.
/// Dropping it stops accepting (the port closes).
pub struct Listener {
    connections: mpsc::Receiver<(TcpStream, SocketAddr)>,
    accepting: tokio::task::JoinHandle<()>,
}

impl Listener {
    /// Accepts on `tcp`, answering streams here and passing the rest on.
    pub fn new(tcp: TcpListener, server: Arc<HttpServer>) -> Self {
        let (tx, connections) = mpsc::channel(1024);
        let accepting = tokio::spawn(async move {
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
                    // One deadline for the request line and the rest of a
                    // stream's head; hyper times the heads it reads itself.
                    let deadline = Instant::now() + HEAD_TIMEOUT;
                    match tokio::time::timeout_at(deadline, is_stream_request(&socket, &route)).await {
                        Ok(Ok(true)) => {
                            // Nothing of the peek lives on with the stream.
                            drop((tx, route));
                            serve(server, socket, deadline).await
                        }
                        Ok(Ok(false)) => drop(tx.send((socket, addr)).await),
                        Ok(Err(_)) | Err(_) => {} // gone or silent: drop it
                    }
                });
            }
        });
        Self { connections, accepting }
    }

    /// The next connection for hyper.
    pub async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        match self.connections.recv().await {
            Some(connection) => connection,
            None => std::future::pending().await, // the accept loop never ends
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// Whether the first request on `socket` asks for a stream (peeked: the
/// bytes stay for whoever serves it).
async fn is_stream_request(socket: &TcpStream, request_line: &str) -> io::Result<bool> {
    let line = request_line.as_bytes();
    let mut first = vec![0u8; line.len() + 1];
    let mut wait = Duration::from_millis(1);
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
        // Only part of the request line has arrived: look again shortly
        // (peek cannot wait for more), less often the longer it takes.
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_millis(50));
    }
}

/// Opens the stream (by `deadline`) and writes it until it ends or the
/// client goes away. The connection then closes.
async fn serve(server: Arc<HttpServer>, socket: TcpStream, deadline: Instant) {
    let Some(hub) = &server.hub else { return };
    let _held = hub.native_stream();
    // Boxed, so that what opening holds (the head, its headers, the reads of
    // the backlog) is freed once the stream is open: a held stream keeps
    // only the state of the loop below.
    let Some((mut state, socket, response)) = Box::pin(open(&server, socket, deadline)).await else { return };
    let (mut reader, mut writer) = socket.into_split();
    if writer.write_all(response.as_bytes()).await.is_err() {
        return;
    }
    drop(response);
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

/// Reads the request's head (by `deadline`) and opens the stream: its
/// state, the socket and the response's head to write. None when it was
/// refused (the refusal written) or the client went away.
async fn open(
    server: &HttpServer,
    mut socket: TcpStream,
    deadline: Instant,
) -> Option<(stream::StreamState, TcpStream, String)> {
    let mut shutdown = server.hub.as_ref()?.shutdown_signal();
    let stopping = async move { drop(shutdown.wait_for(|stopping| *stopping).await) };
    let head = tokio::select! {
        head = tokio::time::timeout_at(deadline, read_head(&mut socket)) => head,
        // Shutting down: no stream opens now (the client reconnects later).
        () = stopping => return None,
    };
    let head = match head {
        Ok(Ok(Some(head))) => head,
        Ok(Ok(None)) => return refuse_too_large(socket).await,
        _ => return None, // gone, or too slow: close
    };
    let (query, headers) = match parse_head(&head) {
        Ok(parsed) => parsed,
        Err(httparse::Error::TooManyHeaders) => return refuse_too_large(socket).await,
        Err(_) => {
            let _ = write_refusal(&mut socket, 400, "bad_request", "malformed request head").await;
            return None;
        }
    };
    // Header lines for an allowed other origin (the dashboard under Spin).
    let cors: String = server
        .cors
        .headers(&headers)
        .iter()
        .map(|(name, value)| format!("{name}: {}\r\n", value.to_str().unwrap_or_default()))
        .collect();
    let state = match stream::open(server, &headers, &query).await {
        Ok(state) => state,
        Err((status, code, message)) => {
            let _ = write_answer(&mut socket, status.as_u16(), &cors, code, message).await;
            return None;
        }
    };
    tracing::debug!("a stream held on a connection of its own");
    let mut response = String::from("HTTP/1.1 200 OK\r\n");
    for (name, value) in RESPONSE_HEADERS {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str(&cors);
    response.push_str("transfer-encoding: chunked\r\nconnection: close\r\n\r\n");
    Some((state, socket, response))
}

/// The request's head, up to the blank line; None when it exceeds
/// `MAX_HEAD_BYTES` (as hyper's limit on the other connections).
async fn read_head(socket: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    loop {
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        // The blank line may straddle reads: look from 3 bytes back.
        let from = head.len().saturating_sub(3);
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head[from..].windows(4).position(|w| w == b"\r\n\r\n") {
            let end = from + end + 4;
            return Ok((end <= MAX_HEAD_BYTES).then_some(head));
        }
        if head.len() >= MAX_HEAD_BYTES {
            return Ok(None);
        }
    }
}

/// The query string and headers of a request head.
fn parse_head(head: &[u8]) -> Result<(String, HeaderMap), httparse::Error> {
    let mut parsed = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut parsed);
    if request.parse(head)?.is_partial() {
        return Err(httparse::Error::Token);
    }
    let query = request.path.and_then(|p| p.split_once('?')).map(|(_, q)| q.to_owned()).unwrap_or_default();
    let mut headers = HeaderMap::new();
    for h in request.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| httparse::Error::HeaderName)?;
        headers.append(name, HeaderValue::from_bytes(h.value).map_err(|_| httparse::Error::HeaderValue)?);
    }
    Ok((query, headers))
}

/// Answers an oversized head with 431, then closes without a reset (None:
/// no stream opens).
async fn refuse_too_large<T>(mut socket: TcpStream) -> Option<T> {
    let message = "the request head exceeds the limit";
    if write_refusal(&mut socket, 431, "headers_too_large", message).await.is_ok() {
        linger(socket).await;
    }
    None
}

/// A lingering close, after the answer is written (and the socket shut
/// down for writing): reads and discards what the client still sends, for
/// at most `LINGER` and `LINGER_BYTES`, before closing. Closing a socket
/// with unread bytes sends a reset, which can make the client lose the
/// answer it has not read yet.
async fn linger(mut socket: impl AsyncRead + Unpin) {
    let drain = async {
        let (mut buf, mut read) = ([0u8; 8192], 0);
        while read < LINGER_BYTES {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => read += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// An error answer in the API's JSON shape, then the end of the connection.
async fn write_refusal(socket: &mut TcpStream, status: u16, code: &str, message: &str) -> io::Result<()> {
    write_answer(socket, status, "", code, message).await
}

/// `write_refusal` with more header lines (`extra`, each ending in CRLF).
async fn write_answer(socket: &mut TcpStream, status: u16, extra: &str, code: &str, message: &str) -> io::Result<()> {
    let body = crate::triggers::http::error_body(code, message).to_string();
    let reason = axum::http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}connection: close\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(body.as_bytes()).await?;
    socket.shutdown().await
}
