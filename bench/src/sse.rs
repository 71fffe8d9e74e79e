//! Real-time sync figures: write → SSE delivery latency, and how many
//! concurrent streams one host holds, with its memory.

use crate::host::{client, token, Host};
use crate::stats::{summarize, Summary};
use anyhow::{bail, Context};
use futures::StreamExt;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct Latency {
    /// From sending the write to the event arriving on the stream.
    pub from_request: Summary,
    /// From the component's commit-time timestamp to the event arriving:
    /// the host's share (outbox relay, log, fan-out, socket).
    pub from_commit: Summary,
    /// Baseline: one loopback HTTP round trip to `/healthz`.
    pub baseline: Summary,
}

/// `writes` creates on `writer`, one at a time, each timed until its
/// `sync.task-changed` event arrives on a stream of the same user open on
/// `reader` (the same host, or another replica), while other users create
/// `background` tasks per second (0: none).
pub async fn latency(writer: &Host, reader: &Host, writes: usize, background: f64) -> anyhow::Result<Latency> {
    let load = (background > 0.0).then(|| {
        let addr = crate::workloads::addr(&writer.base);
        let target = addr.clone();
        let request: crate::http1::Request = std::sync::Arc::new(move |worker, n| {
            let body = serde_json::json!({ "title": format!("background {n}") }).to_string();
            crate::workloads::post(&target, "/api/todos", &format!("bench-background-{worker}"), &body)
        });
        // Long enough to outlast the timed writes; stopped when they end.
        tokio::spawn(async move {
            crate::http1::paced(&addr, 16, background, Duration::from_secs(3600), 201, request).await
        })
    });
    let measured = timed_writes(writer, reader, writes).await;
    if let Some(load) = load {
        load.abort();
    }
    measured
}

async fn timed_writes(host: &Host, reader: &Host, writes: usize) -> anyhow::Result<Latency> {
    let user = format!("bench-latency-{}", uuid::Uuid::new_v4().simple());
    let user = user.as_str();
    let response = client(user).get(reader.url("/api/stream/tasks")).send().await?;
    if response.status() != 200 {
        bail!("opening the stream: {}", response.status());
    }
    let (tx, mut arrivals) = tokio::sync::mpsc::unbounded_channel();
    let mut body = response.bytes_stream();
    tokio::spawn(async move {
        let mut buffer = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            let now = (Instant::now(), chrono::Utc::now());
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                if let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: ")) {
                    let _ = tx.send((serde_json::from_str::<serde_json::Value>(data).unwrap_or_default(), now));
                }
            }
        }
    });

    let http = client(user);
    // Untimed writes until one arrives: another replica's subscription may
    // still be joining its consumer group (Kafka skips what was published
    // before it joined).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        anyhow::ensure!(Instant::now() < deadline, "no event reached the stream within 60 s");
        http.post(host.url("/api/todos")).json(&serde_json::json!({ "title": "warm-up" })).send().await?;
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_secs(1), arrivals.recv()).await {
            break;
        }
    }
    // Drain the other warm-up events.
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(200), arrivals.recv()).await {}
    let (mut from_request, mut from_commit) = (Vec::with_capacity(writes), Vec::with_capacity(writes));
    for n in 0..writes {
        let sent = Instant::now();
        let res = http
            .post(host.url("/api/todos"))
            .json(&serde_json::json!({ "title": format!("latency {n}") }))
            .send()
            .await?;
        let task: serde_json::Value = res.json().await?;
        let id = task["id"].as_str().context("a created task")?.to_owned();
        loop {
            let (data, (at, wall)) = tokio::time::timeout(Duration::from_secs(5), arrivals.recv())
                .await
                .context("no event within 5 s")?
                .context("the stream ended")?;
            if data["task_id"] != id.as_str() {
                continue;
            }
            from_request.push(at - sent);
            let committed: chrono::DateTime<chrono::Utc> = data["timestamp"].as_str().context("timestamp")?.parse()?;
            from_commit.push((wall - committed).to_std().unwrap_or_default());
            break;
        }
    }
    let mut baseline = Vec::with_capacity(writes);
    for _ in 0..writes {
        let sent = Instant::now();
        http.get(host.url("/healthz")).send().await?.bytes().await?;
        baseline.push(sent.elapsed());
    }
    Ok(Latency {
        from_request: summarize(from_request),
        from_commit: summarize(from_commit),
        baseline: summarize(baseline),
    })
}

/// Streams held open (one user each, `stream-<i>`), from several loopback
/// source addresses: one address has ports for about 28,000 connections
/// to one server port.
pub struct Held {
    pub streams: Vec<tokio::net::TcpStream>,
    /// (streams, host RSS in MiB) at each milestone, from 0.
    pub figures: Vec<(usize, f64)>,
}

/// Opens streams until each of `milestones`, noting the host's RSS at each.
pub async fn hold(host: &Host, milestones: &[usize]) -> anyhow::Result<Held> {
    let addr: std::net::SocketAddr = host.base.trim_start_matches("http://").parse()?;
    let mut open: Vec<tokio::net::TcpStream> = Vec::new();
    let mut figures = vec![(0, host.rss_mib())];
    for &target in milestones {
        while open.len() < target {
            let batch = (target - open.len()).min(512);
            let start = open.len();
            let connects = (start..start + batch).map(|i| connect(addr, i));
            for stream in futures::future::join_all(connects).await {
                open.push(stream?);
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        figures.push((target, host.rss_mib()));
    }
    Ok(Held { streams: open, figures })
}

/// Fan-out to held streams: `rate` creates per second for `duration`, each
/// for another held stream's user, spread over all of them; each event's
/// delivery is timed from its commit timestamp to its arrival.
pub async fn fan_out(host: &Host, held: &mut Held, rate: f64, duration: Duration) -> anyhow::Result<(f64, Summary)> {
    let events = ((rate * duration.as_secs_f64()) as usize).min(held.streams.len());
    let stride = held.streams.len() / events.max(1);
    let targets: Vec<usize> = (0..events).map(|k| k * stride).collect();
    // A reader per target stream, waiting for its one event.
    let mut readers = Vec::with_capacity(events);
    for &i in targets.iter().rev() {
        let stream = held.streams.swap_remove(i);
        readers.push(tokio::spawn(async move {
            let arrival = tokio::time::timeout(Duration::from_secs(30), first_change(stream)).await;
            arrival.map_err(|_| anyhow::anyhow!("no event within 30 s")).and_then(|r| r)
        }));
    }
    let addr = crate::workloads::addr(&host.base);
    let target = addr.clone();
    let users: std::sync::Arc<Vec<usize>> = std::sync::Arc::new(targets);
    // Enough that creates slowed by the held streams still make the rate.
    let connections = 64;
    let request: crate::http1::Request = std::sync::Arc::new(move |worker, n| {
        let k = (n as usize * connections + worker) % users.len();
        crate::workloads::post(&target, "/api/todos", &format!("stream-{}", users[k]), r#"{"title":"fan-out"}"#)
    });
    let run = crate::http1::paced(&addr, connections, rate, duration, 201, request).await;
    let mut latencies = Vec::new();
    for reader in readers {
        if let Ok(Ok((latency, stream))) = reader.await {
            latencies.push(latency);
            held.streams.push(stream);
        }
    }
    Ok((run.per_second, summarize(latencies)))
}

/// Reads a held stream until its first `sync.task-changed` event: how long
/// after the commit it arrived, and the stream back.
async fn first_change(mut stream: tokio::net::TcpStream) -> anyhow::Result<(Duration, tokio::net::TcpStream)> {
    let (mut buf, mut seen) = (vec![0u8; 2048], String::new());
    loop {
        let n = stream.read(&mut buf).await?;
        anyhow::ensure!(n > 0, "a held stream ended");
        let now = chrono::Utc::now();
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        if let Some(at) = seen.find("event: sync.task-changed") {
            let Some(line) = seen[at..].lines().find_map(|l| l.strip_prefix("data: ")) else { continue };
            let data: serde_json::Value = serde_json::from_str(line.trim())?;
            let committed: chrono::DateTime<chrono::Utc> = data["timestamp"].as_str().context("timestamp")?.parse()?;
            return Ok(((now - committed).to_std().unwrap_or_default(), stream));
        }
    }
}

/// Opens stream `i` over a raw connection from loopback address
/// 127.0.0.<2 + i % 8> and reads its response head.
async fn connect(addr: std::net::SocketAddr, i: usize) -> anyhow::Result<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(std::net::SocketAddr::from(([127, 0, 0, 2 + (i % 8) as u8], 0))).context("binding a source address")?;
    let mut stream = socket.connect(addr).await.context("connecting")?;
    let request = format!(
        "GET /api/stream/tasks?access_token={} HTTP/1.1\r\nHost: {addr}\r\n\r\n",
        token(&format!("stream-{i}"))
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 {
            bail!("the host closed a stream");
        }
        head.push(byte[0]);
    }
    if !head.starts_with(b"HTTP/1.1 200") {
        bail!("opening a stream: {}", String::from_utf8_lossy(&head));
    }
    Ok(stream)
}
