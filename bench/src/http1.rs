//! A lean HTTP/1.1 load generator, in the manner of wrk: `connections`
//! kept-alive sockets, each sending one request and reading its whole
//! response before the next. reqwest costs more CPU per request than the
//! handlers measured here, on the same two cores; this costs little more
//! than the socket calls.

use crate::stats::{summarize, Summary};
use anyhow::{bail, Context};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What a load run measured.
pub struct Run {
    pub per_second: f64,
    pub latency: Summary,
    pub errors: usize,
}

/// A request's bytes, built once per connection and request number.
pub type Request = std::sync::Arc<dyn Fn(usize, u64) -> Vec<u8> + Send + Sync>;

/// A GET of `path` on `addr` (`host:port`), with extra header lines.
pub fn get(addr: &str, path: &str, headers: &str) -> Request {
    let bytes = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}\r\n").into_bytes();
    std::sync::Arc::new(move |_, _| bytes.clone())
}

/// Runs `request` on `connections` connections to `addr` for `duration`,
/// as fast as the server answers; a request succeeds when answered with
/// `expect` (the status).
pub async fn run(addr: &str, connections: usize, duration: Duration, expect: u16, request: Request) -> Run {
    drive(addr, connections, None, duration, expect, request).await
}

/// As `run`, but open-loop at `rate` requests per second overall (spread
/// over the connections): a slow server shows as a lower rate achieved.
pub async fn paced(
    addr: &str,
    connections: usize,
    rate: f64,
    duration: Duration,
    expect: u16,
    request: Request,
) -> Run {
    drive(addr, connections, Some(Duration::from_secs_f64(connections as f64 / rate)), duration, expect, request).await
}

async fn drive(
    addr: &str,
    connections: usize,
    every: Option<Duration>,
    duration: Duration,
    expect: u16,
    request: Request,
) -> Run {
    let started = Instant::now();
    // A JoinSet aborts its tasks when dropped: a load stopped early (its
    // future dropped) stops sending at once.
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..connections {
        let (addr, request) = (addr.to_owned(), request.clone());
        workers.spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0);
            let mut conn: Option<Connection> = None;
            let mut tick = every.map(|every| {
                // Staggered, so the connections do not send in step.
                let first = tokio::time::Instant::now() + every.mul_f64(worker as f64 / connections as f64);
                let mut tick = tokio::time::interval_at(first, every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick
            });
            let mut n = 0;
            while started.elapsed() < duration {
                if let Some(tick) = tick.as_mut() {
                    tick.tick().await;
                }
                if conn.is_none() {
                    conn = Connection::open(&addr).await.ok();
                }
                let Some(c) = conn.as_mut() else {
                    errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let sent = Instant::now();
                match c.exchange(&request(worker, n)).await {
                    Ok(status) if status == expect => latencies.push(sent.elapsed()),
                    Ok(_) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        conn = None;
                    }
                }
                n += 1;
            }
            (latencies, errors)
        });
    }
    let (mut latencies, mut errors) = (Vec::new(), 0);
    while let Some(worker) = workers.join_next().await {
        let (l, e) = worker.expect("a load worker panicked");
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Run { per_second: latencies.len() as f64 / elapsed, latency: summarize(latencies), errors }
}

/// One kept-alive connection and what it has read past the last response.
pub struct Connection {
    socket: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    pub async fn open(addr: &str) -> anyhow::Result<Self> {
        let socket = TcpStream::connect(addr).await.context("connecting")?;
        socket.set_nodelay(true)?;
        Ok(Self { socket, buffer: Vec::with_capacity(4096) })
    }

    /// Sends one request and reads its response; returns the status.
    pub async fn exchange(&mut self, request: &[u8]) -> anyhow::Result<u16> {
        self.socket.write_all(request).await?;
        let head_end = loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                break end + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buffer[..head_end]).context("a non-UTF-8 head")?;
        let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).context("no status")?;
        let header = |name: &str| {
            head.lines().find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_ascii_lowercase())
            })
        };
        let length = header("content-length").and_then(|v| v.parse::<usize>().ok());
        let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
        self.buffer.drain(..head_end);
        match (length, chunked) {
            (Some(length), _) => self.skip(length).await?,
            (None, true) => self.skip_chunks().await?,
            (None, false) => bail!("a response without a length"),
        }
        Ok(status)
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        let mut chunk = [0u8; 4096];
        let n = self.socket.read(&mut chunk).await?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    async fn skip(&mut self, n: usize) -> anyhow::Result<()> {
        while self.buffer.len() < n {
            self.fill().await?;
        }
        self.buffer.drain(..n);
        Ok(())
    }

    async fn skip_chunks(&mut self) -> anyhow::Result<()> {
        loop {
            let line_end = loop {
                if let Some(end) = find(&self.buffer, b"\r\n") {
                    break end;
                }
                self.fill().await?;
            };
            let size = std::str::from_utf8(&self.buffer[..line_end])?.split(';').next().unwrap_or("").trim().to_owned();
            let size = usize::from_str_radix(&size, 16).context("a bad chunk size")?;
            self.buffer.drain(..line_end + 2);
            self.skip(size + 2).await?;
            if size == 0 {
                return Ok(());
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
