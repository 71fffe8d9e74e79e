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

/// `writes` creates, one at a time, each timed until its `sync.task-changed`
/// event arrives on an open stream of the same user.
pub async fn latency(host: &Host, writes: usize) -> anyhow::Result<Latency> {
    let user = "bench-latency";
    let response = client(user).get(host.url("/api/stream/tasks")).send().await?;
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

/// Opens streams (one user each) until each of `milestones`, and reports the
/// host's RSS at each; then checks a few of them still deliver.
pub async fn hold(host: &Host, milestones: &[usize]) -> anyhow::Result<Vec<(usize, f64)>> {
    let addr = host.base.trim_start_matches("http://").to_owned();
    let mut open: Vec<tokio::net::TcpStream> = Vec::new();
    let mut figures = vec![(0, host.rss_mib())];
    for &target in milestones {
        while open.len() < target {
            let batch = (target - open.len()).min(256);
            let start = open.len();
            let connects = (start..start + batch).map(|i| connect(addr.clone(), format!("stream-{i}")));
            for stream in futures::future::join_all(connects).await {
                open.push(stream?);
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        figures.push((target, host.rss_mib()));
    }
    // The streams are live: a write for the first few users reaches them.
    for (i, stream) in open.iter_mut().enumerate().take(5) {
        let user = format!("stream-{i}");
        client(&user).post(host.url("/api/todos")).json(&serde_json::json!({ "title": "ping" })).send().await?;
        let delivered = async {
            let (mut buf, mut seen) = (vec![0u8; 4096], String::new());
            while !seen.contains("sync.task-changed") {
                let n = stream.read(&mut buf).await?;
                anyhow::ensure!(n > 0, "a held stream ended");
                seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            anyhow::Ok(())
        };
        tokio::time::timeout(Duration::from_secs(5), delivered).await.context("a held stream is silent")??;
    }
    Ok(figures)
}

/// Opens one stream over a raw connection and reads its response head.
async fn connect(addr: String, user: String) -> anyhow::Result<tokio::net::TcpStream> {
    let mut stream = tokio::net::TcpStream::connect(&addr).await.context("connecting")?;
    let request = format!("GET /api/stream/tasks?access_token={} HTTP/1.1\r\nHost: {addr}\r\n\r\n", token(&user));
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
