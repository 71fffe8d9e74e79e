//! The figures of `bench all`: task creates against the native baseline,
//! the per-request cost of a trivial component, event → handler lag, and the
//! host's start-up time and memory.

use crate::host::{token, Host};
use crate::http1::{self, Run};
use crate::stats::ms;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The `host:port` of a base URL.
pub fn addr(base: &str) -> String {
    base.trim_start_matches("http://").trim_end_matches('/').to_owned()
}

/// A POST of a JSON body as `user`.
pub fn post(addr: &str, path: &str, user: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        token(user),
        body.len()
    )
    .into_bytes()
}

/// Creates for `duration` at `concurrency` against `base` (the host or the baseline).
pub async fn creates(base: &str, concurrency: usize, duration: Duration) -> Run {
    let addr = addr(base);
    let (auth, target) = (format!("Bearer {}", token("bench-creates")), addr.clone());
    let request: http1::Request = Arc::new(move |worker, n| {
        let body = serde_json::json!({ "title": format!("w{worker} n{n}"), "tags": ["bench"] }).to_string();
        format!(
            "POST /api/todos HTTP/1.1\r\nHost: {target}\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    });
    http1::run(&addr, concurrency, duration, 201, request).await
}

/// GETs of a trivial route on `connections` connections.
pub async fn trivial(base: &str, path: &str, connections: usize, duration: Duration) -> Run {
    let addr = addr(base);
    let auth = format!("Authorization: Bearer {}\r\n", token("bench-trivial"));
    http1::run(&addr, connections, duration, 200, http1::get(&addr, path, &auth)).await
}

/// A histogram's running sum and count: the mean over a run is the
/// difference of two readings.
pub async fn metric_totals(host: &Host, name: &str, labels: &str) -> anyhow::Result<(f64, f64)> {
    let text = reqwest::get(host.url("/metrics")).await?.text().await?;
    let value = |suffix: &str| -> anyhow::Result<f64> {
        let series = format!("{name}_{suffix}{{{labels}}} ");
        let line = text.lines().find(|l| l.starts_with(&series)).ok_or_else(|| anyhow::anyhow!("no {series}"))?;
        Ok(line[series.len()..].trim().parse()?)
    };
    Ok((value("sum")?, value("count")?))
}

/// Event → handler lag at `rate` events per second for `duration`: each
/// event is published through the test component (one transaction each,
/// over 32 connections) and its delivery age read from the host's lag
/// histogram (interpolated within buckets, as Prometheus does). Returns the
/// rate achieved, p50, p99 and the mean of this run alone.
pub async fn lag(host: &Host, rate: u32, duration: Duration) -> anyhow::Result<(f64, Duration, Duration, Duration)> {
    const SERIES: &str = r#"subscription="test-guest.test""#;
    let before = reqwest::get(host.url("/metrics")).await?.text().await?;
    let delivered_before = delivered(&before);
    let addr = addr(&host.base);
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let target = addr.clone();
    let request: http1::Request = Arc::new(move |worker, n| {
        post(&target, &format!("/test/publish?topic=test&id=lag-{run_id}-{worker}-{n}"), "bench-lag", "\"ok\"")
    });
    let run = http1::paced(&addr, 32, rate as f64, duration, 202, request).await;
    let sent = run.latency.count as u64;
    // Wait for the subscription to drain, then read what this run added.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = reqwest::get(host.url("/metrics")).await?.text().await?;
        if delivered(&text) - delivered_before >= sent as f64 || Instant::now() > deadline {
            let buckets = difference(
                &buckets(&text, "todo_pubsub_delivery_lag_seconds", SERIES),
                &buckets(&before, "todo_pubsub_delivery_lag_seconds", SERIES),
            );
            let sum = |t: &str| sample(t, &format!("todo_pubsub_delivery_lag_seconds_sum{{{SERIES}}}"));
            let count = buckets.last().map_or(0.0, |b| b.1);
            let mean = Duration::from_secs_f64((sum(&text) - sum(&before)) / count.max(1.0));
            return Ok((run.per_second, quantile(&buckets, 0.5), quantile(&buckets, 0.99), mean));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn delivered(text: &str) -> f64 {
    sample(text, r#"todo_pubsub_deliveries_total{subscription="test-guest.test",outcome="success"}"#)
}

fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

/// A histogram's cumulative buckets: (upper bound, count), ascending.
fn buckets(text: &str, name: &str, labels: &str) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{");
    text.lines()
        .filter(|l| l.starts_with(&prefix) && l.contains(labels))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let count = l.rsplit(' ').next()?;
            Some((le.parse().ok()?, count.parse().ok()?))
        })
        .collect()
}

fn difference(after: &[(f64, f64)], before: &[(f64, f64)]) -> Vec<(f64, f64)> {
    after.iter().map(|(le, n)| (*le, n - before.iter().find(|b| b.0 == *le).map_or(0.0, |b| b.1))).collect()
}

/// The `q` quantile, linearly interpolated within its bucket (an infinite
/// bound reads as the largest finite one).
fn quantile(buckets: &[(f64, f64)], q: f64) -> Duration {
    let total = buckets.last().map_or(0.0, |b| b.1);
    let rank = total * q;
    let mut lower = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if !le.is_finite() {
                return Duration::from_secs_f64(lower.0);
            }
            let within = if count > lower.1 { (rank - lower.1) / (count - lower.1) } else { 1.0 };
            return Duration::from_secs_f64(lower.0 + (le - lower.0) * within);
        }
        lower = (le, count);
    }
    Duration::from_secs_f64(lower.0)
}

pub fn row(name: &str, run: &Run) -> String {
    format!("| {name} | {:.0}/s | {} | {} | {} |", run.per_second, ms(run.latency.p50), ms(run.latency.p99), run.errors)
}
