//! `cargo run --release -p bench -- all`: starts the release host on a fresh
//! data directory, drives it over loopback and prints tables, each figure
//! beside a baseline measured in the same run.

mod host;
mod load;
mod native;
mod sse;
mod stats;
mod workloads;

use clap::{Parser, Subcommand};
use stats::ms;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Benchmarks of the todo system (release build, loopback)")]
struct Cli {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// Every figure: creates, component overhead, SSE, event lag, start-up and memory.
    All {
        /// Seconds per load level.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// Write → SSE delivery latency, and concurrent streams with host RSS.
    Sse {
        /// Writes timed for the latency figures.
        #[arg(long, default_value_t = 3000)]
        writes: usize,
        /// Streams to hold at the last milestone.
        #[arg(long, default_value_t = 10_000)]
        streams: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let fds = host::raise_fd_limit(65_536);
    let binary = host::build()?;
    let dir = tempfile::tempdir()?;
    let manifest = host::app(&dir.path().join("app"))?;
    let data = dir.path().join("data");
    println!("machine: {} cores, {}; open-file limit {fds}", num_cpus(), kernel());
    match cli.what {
        What::All { seconds } => {
            let (host, cold, warm) = startup(&binary, &manifest, &data)?;
            tokio::time::sleep(Duration::from_secs(2)).await;
            let idle = host.rss_mib();
            println!("\n## Start-up and memory\n\n| measure | value |\n|---|---|");
            println!("| start-up, cold compiled-component cache | {} |", ms(cold));
            println!("| start-up, warm cache | {} |", ms(warm));
            println!("| host RSS idle | {idle:.1} MiB |");
            let native = native::start(dir.path()).await?;
            let under_load = creates(&host, &native, Duration::from_secs(seconds)).await?;
            println!("\nhost RSS under load (peak during creates at concurrency 32): {under_load:.1} MiB");
            overhead(&host, &native, Duration::from_secs(seconds)).await?;
            sse_section(&host, 2000, 10_000).await?;
            let (rate, lag, mean) = workloads::lag(&host, 1000, Duration::from_secs(seconds)).await?;
            println!("\n## Event → handler lag (publish through a component, deliver to a handler)\n");
            println!("| publish rate | lag p50 (bucket) | lag p99 (bucket) | mean |\n|---|---|---|---|");
            println!("| {rate:.0}/s | ≤ {} | ≤ {} | {} |", ms(lag.p50), ms(lag.max), ms(mean));
        }
        What::Sse { writes, streams } => {
            let host = host::Host::start(&binary, &manifest, &data)?;
            sse_section(&host, writes, streams).await?;
        }
    }
    Ok(())
}

/// Starts the host cold (empty cache: compiles every component), stops it,
/// and starts it again warm; returns the warm host and both times.
fn startup(
    binary: &std::path::Path,
    manifest: &std::path::Path,
    data: &std::path::Path,
) -> anyhow::Result<(host::Host, Duration, Duration)> {
    let t = Instant::now();
    drop(host::Host::start(binary, manifest, data)?);
    let cold = t.elapsed();
    let t = Instant::now();
    let host = host::Host::start(binary, manifest, data)?;
    Ok((host, cold, t.elapsed()))
}

/// Creates at three concurrency levels, host vs native baseline; returns the
/// host's peak RSS during the highest level.
async fn creates(host: &host::Host, native: &str, duration: Duration) -> anyhow::Result<f64> {
    println!("\n## Task creates (each with its audit row and two outbox events)\n");
    println!("| concurrency | server | creates | p50 | p99 | errors |\n|---|---|---|---|---|---|");
    let mut peak = 0f64;
    for concurrency in [1, 8, 32] {
        let sampling = concurrency == 32;
        let sampler = sampling.then(|| {
            let pid = host.pid();
            tokio::spawn(async move {
                let mut peak = 0f64;
                let end = Instant::now() + duration;
                while Instant::now() < end {
                    peak = peak.max(host::rss_of(pid));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                peak
            })
        });
        let wasm = workloads::creates(&host.base, concurrency, duration).await;
        if let Some(sampler) = sampler {
            peak = sampler.await?;
        }
        let base = workloads::creates(native, concurrency, duration).await;
        println!("{}", workloads::row(&format!("{concurrency} | host (wasm)"), &wasm));
        println!("{}", workloads::row(&format!("{concurrency} | native baseline"), &base));
        println!(
            "| {concurrency} | ratio host / native | {:.2} | {:.2} | {:.2} | |",
            wasm.per_second / base.per_second,
            wasm.latency.p50.as_secs_f64() / base.latency.p50.as_secs_f64(),
            wasm.latency.p99.as_secs_f64() / base.latency.p99.as_secs_f64()
        );
    }
    Ok(peak)
}

/// A trivial route through a fresh component instance vs a native handler.
async fn overhead(host: &host::Host, native: &str, duration: Duration) -> anyhow::Result<()> {
    let wasm = workloads::trivial(host.url("/test/version"), duration).await;
    let base = workloads::trivial(format!("{native}/version"), duration).await;
    let labels = r#"component="test-guest""#;
    let instantiate = workloads::metric_mean(host, "todo_instantiate_seconds", labels).await?;
    let call = workloads::metric_mean(host, "todo_http_request_seconds", r#"route="/test/...",component="test-guest""#)
        .await?;
    println!("\n## A trivial request: fresh component instance vs native handler (sequential)\n");
    println!("| server | requests | p50 | p99 | errors |\n|---|---|---|---|---|");
    println!("{}", workloads::row("host: GET /test/version (wasm)", &wasm));
    println!("{}", workloads::row("native baseline: GET /version", &base));
    println!("\nserver side, mean per request: instantiate {:.1} µs; instantiate + call + response {:.1} µs; client p50 ratio host / native {:.2}",
        instantiate.as_secs_f64() * 1e6, call.as_secs_f64() * 1e6, wasm.latency.p50.as_secs_f64() / base.latency.p50.as_secs_f64());
    Ok(())
}

async fn sse_section(host: &host::Host, writes: usize, streams: usize) -> anyhow::Result<()> {
    let l = sse::latency(host, writes).await?;
    println!("\n## Write → SSE delivery, {} sequential creates on one stream\n", l.from_request.count);
    println!("| measure | p50 | p99 | max |\n|---|---|---|---|");
    for (name, s) in [
        ("from the write request", &l.from_request),
        ("from the commit timestamp (server side)", &l.from_commit),
        ("baseline: GET /healthz round trip", &l.baseline),
    ] {
        println!("| {name} | {} | {} | {} |", ms(s.p50), ms(s.p99), ms(s.max));
    }
    let milestones: Vec<usize> = [1_000, streams].into_iter().filter(|m| *m <= streams).collect();
    let figures = sse::hold(host, &milestones).await?;
    println!("\n## Concurrent SSE streams (one user each) and host RSS\n");
    println!("| streams | host RSS | per stream |\n|---|---|---|");
    let idle = figures[0].1;
    for (n, rss) in figures {
        let per = if n > 0 { format!("{:.1} KiB", (rss - idle) * 1024.0 / n as f64) } else { "-".into() };
        println!("| {n} | {rss:.1} MiB | {per} |");
    }
    Ok(())
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| format!("Linux {}", s.trim())).unwrap_or_default()
}
