//! The figures of `bench all`: task creates against the native baseline,
//! the per-request cost of a trivial component, event → handler lag, and the
//! host's start-up time and memory.

use crate::host::{client, Host};
use crate::load::{self, Run};
use crate::stats::{ms, summarize, Summary};
use std::time::{Duration, Instant};

/// Creates for `duration` at `concurrency` against `base` (the host or the baseline).
pub async fn creates(base: &str, concurrency: usize, duration: Duration) -> Run {
    let (http, url) = (client("bench-creates"), format!("{base}/api/todos"));
    load::run(concurrency, duration, move |worker, n| {
        let request =
            http.post(url.clone()).json(&serde_json::json!({ "title": format!("w{worker} n{n}"), "tags": ["bench"] }));
        async move { request.send().await.is_ok_and(|r| r.status() == 201) }
    })
    .await
}

/// Sequential GETs of a trivial route.
pub async fn trivial(url: String, duration: Duration) -> Run {
    let http = client("bench-trivial");
    load::run(1, duration, move |_, _| {
        let request = http.get(url.clone());
        async move { request.send().await.is_ok_and(|r| r.status().is_success()) }
    })
    .await
}

/// The mean of a histogram in `/metrics`: `<name>_sum / <name>_count` for the
/// series with `labels`.
pub async fn metric_mean(host: &Host, name: &str, labels: &str) -> anyhow::Result<Duration> {
    let text = reqwest::get(host.url("/metrics")).await?.text().await?;
    let value = |suffix: &str| -> anyhow::Result<f64> {
        let series = format!("{name}_{suffix}{{{labels}}} ");
        let line = text.lines().find(|l| l.starts_with(&series)).ok_or_else(|| anyhow::anyhow!("no {series}"))?;
        Ok(line[series.len()..].trim().parse()?)
    };
    Ok(Duration::from_secs_f64(value("sum")? / value("count")?))
}

/// Event → handler lag at `rate` events per second for `duration`: each event
/// is published through the test component (one transaction each) and its
/// delivery age read from the host's lag histogram.
pub async fn lag(host: &Host, rate: u32, duration: Duration) -> anyhow::Result<(f64, Summary, Duration)> {
    let http = client("bench-lag");
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sends = tokio::task::JoinSet::new();
    let mut sent = 0u64;
    while started.elapsed() < duration {
        tick.tick().await;
        let request = http.post(host.url(&format!("/test/publish?topic=test&id=lag-{sent}"))).body("\"ok\"");
        sends.spawn(async move { request.send().await.is_ok_and(|r| r.status() == 202) });
        sent += 1;
        // Bound the requests in flight so a slow host shows as a lower rate.
        while sends.len() >= 64 {
            sends.join_next().await;
        }
    }
    while sends.join_next().await.is_some() {}
    let achieved = sent as f64 / started.elapsed().as_secs_f64();
    // Wait for the subscription to drain, then read its lag distribution.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = reqwest::get(host.url("/metrics")).await?.text().await?;
        let delivered = text
            .lines()
            .find(|l| {
                l.starts_with(r#"todo_pubsub_deliveries_total{subscription="test-guest.test",outcome="success"}"#)
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0);
        if delivered as u64 >= sent || Instant::now() > deadline {
            let (p50, p99) =
                histogram_quantiles(&text, "todo_pubsub_delivery_lag_seconds", r#"subscription="test-guest.test""#);
            let mean =
                metric_mean(host, "todo_pubsub_delivery_lag_seconds", r#"subscription="test-guest.test""#).await?;
            return Ok((achieved, summarize(vec![p50, p99]), mean));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The upper bounds of the buckets holding the 50th and 99th percentiles
/// (an infinite bound reads as one past the largest finite one).
fn histogram_quantiles(text: &str, name: &str, labels: &str) -> (Duration, Duration) {
    let prefix = format!("{name}_bucket{{");
    let buckets: Vec<(f64, f64)> = text
        .lines()
        .filter(|l| l.starts_with(&prefix) && l.contains(labels))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let count = l.rsplit(' ').next()?;
            Some((le.parse().ok()?, count.parse().ok()?))
        })
        .collect();
    let total = buckets.last().map_or(0.0, |b| b.1);
    let top = buckets.iter().map(|b| b.0).filter(|le| le.is_finite()).fold(0.0, f64::max);
    let at = |q: f64| {
        let le = buckets.iter().find(|(_, c)| *c >= total * q).map_or(f64::INFINITY, |b| b.0);
        Duration::from_secs_f64(if le.is_finite() { le } else { top * 2.0 })
    };
    (at(0.5), at(0.99))
}

pub fn row(name: &str, run: &Run) -> String {
    format!("| {name} | {:.0}/s | {} | {} | {} |", run.per_second, ms(run.latency.p50), ms(run.latency.p99), run.errors)
}
