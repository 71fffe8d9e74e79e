//! `cargo run --release -p bench -- all`: starts the release host on a fresh
//! data directory, drives it over loopback and prints tables, each figure
//! beside a baseline (or the peer runtime) measured in the same run, and
//! the targets with whether they held. `bench dapr` does the same on the
//! distributed backend.

mod dapr;
mod host;
mod http1;
mod native;
mod peer;
mod report;
mod sse;
mod stats;
mod workloads;

use clap::{Parser, Subcommand};
use report::Verdicts;
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
    /// Every figure of the embedded default: creates, the trivial request
    /// (and the peer runtime), SSE, held streams, event lag, start-up and memory.
    All {
        /// Seconds per load level.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Streams to hold at the last milestone.
        #[arg(long, default_value_t = 100_000)]
        streams: usize,
        /// Then the distributed backend too (as `bench dapr`).
        #[arg(long)]
        distributed: bool,
    },
    /// Write → SSE delivery latency, and concurrent streams with host RSS.
    Sse {
        /// Writes timed for the latency figures.
        #[arg(long, default_value_t = 2000)]
        writes: usize,
        /// Streams to hold at the last milestone.
        #[arg(long, default_value_t = 100_000)]
        streams: usize,
    },
    /// Task creates only, host vs native baseline (to profile the host:
    /// its pid is printed, and it waits `--settle` seconds before the load).
    Creates {
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        #[arg(long, default_value_t = 0)]
        settle: u64,
        /// Another build of todo-host to run (a before/after comparison).
        #[arg(long)]
        host_binary: Option<std::path::PathBuf>,
    },
    /// The distributed backend (PostgreSQL, Redis, Kafka, two replicas with
    /// their daprd): creates, write → SSE across replicas, event lag, and
    /// what each hop costs.
    Dapr {
        /// Seconds per load level.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
}

/// Background writes (tasks per second, other users) during the SSE latency run.
const BACKGROUND_WRITES: f64 = 1000.0;
/// Events per second fanned out to the held streams.
const FAN_OUT_RATE: f64 = 1000.0;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Two descriptors per held stream (ours and the host's: it inherits the limit), and some.
    let fds = host::raise_fd_limit(262_144);
    let binary = host::build()?;
    let dir = tempfile::tempdir()?;
    let manifest = host::app(&dir.path().join("app"))?;
    let data = dir.path().join("data");
    println!("machine: {} cores, {}; open-file limit {fds}; load {}", num_cpus(), kernel(), load_average());
    let mut verdicts = Verdicts::new();
    match cli.what {
        What::All { seconds, streams, distributed } => {
            let duration = Duration::from_secs(seconds);
            let (host, cold, warm) = startup(&binary, &manifest, &data)?;
            tokio::time::sleep(Duration::from_secs(2)).await;
            let idle = host.rss_mib();
            println!("\n## Start-up and memory\n\n| measure | value |\n|---|---|");
            println!("| start-up, cold compiled-component cache | {} |", ms(cold));
            println!("| start-up, warm cache | {} |", ms(warm));
            println!("| host RSS idle | {idle:.1} MiB |");
            let native = native::start(dir.path()).await?;
            let under_load = creates(&host, &native, duration, &mut verdicts).await?;
            println!("\nhost RSS under load (peak during creates at concurrency 32): {under_load:.1} MiB");
            trivial(&host, &native, duration, &mut verdicts).await?;
            sse_latency(&host, 2000, &mut verdicts).await?;
            streams_section(&host, streams, fds, duration, &mut verdicts).await?;
            lag_section(&host, duration, &mut verdicts).await?;
            if distributed {
                drop(host);
                dapr::run(&binary, &manifest, dir.path(), duration, &mut verdicts).await?;
            }
        }
        What::Sse { writes, streams } => {
            let host = host::Host::start(&binary, &manifest, &data)?;
            sse_latency(&host, writes, &mut verdicts).await?;
            streams_section(&host, streams, fds, Duration::from_secs(5), &mut verdicts).await?;
        }
        What::Creates { seconds, settle, host_binary } => {
            let host = host::Host::start(host_binary.as_ref().unwrap_or(&binary), &manifest, &data)?;
            let native = native::start(dir.path()).await?;
            println!("host pid {}", host.pid());
            tokio::time::sleep(Duration::from_secs(settle)).await;
            creates(&host, &native, Duration::from_secs(seconds), &mut verdicts).await?;
        }
        What::Dapr { seconds } => {
            dapr::run(&binary, &manifest, dir.path(), Duration::from_secs(seconds), &mut verdicts).await?;
        }
    }
    verdicts.print();
    println!("\nload after the run: {}", load_average());
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
async fn creates(host: &host::Host, native: &str, duration: Duration, verdicts: &mut Verdicts) -> anyhow::Result<f64> {
    println!("\n## Task creates (each with its audit row and two outbox events)\n");
    println!("| concurrency | server | creates | p50 | p99 | errors |\n|---|---|---|---|---|---|");
    let mut peak = 0f64;
    for concurrency in [1, 8, 32] {
        let sampler = (concurrency == 32).then(|| {
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
        let ratio = wasm.per_second / base.per_second;
        println!(
            "| {concurrency} | ratio host / native | {ratio:.2} | {:.2} | {:.2} | |",
            wasm.latency.p50.as_secs_f64() / base.latency.p50.as_secs_f64(),
            wasm.latency.p99.as_secs_f64() / base.latency.p99.as_secs_f64()
        );
        let figure = format!("{:.0}/s ({:.0}/s native): {ratio:.2}×", wasm.per_second, base.per_second);
        if concurrency > 1 {
            verdicts.check(
                &format!("creates at concurrency {concurrency}"),
                figure.clone(),
                "≥ 0.6× native",
                ratio >= 0.6,
            );
        }
        if concurrency == 8 {
            verdicts.check("creates at concurrency 8", figure, "≥ 2,500/s", wasm.per_second >= 2500.0);
        }
    }
    Ok(peak)
}

/// The trivial request: a fresh component instance per request against a
/// native handler, and the same wasi:http component on `wasmtime serve`;
/// sequential and at 32 connections.
async fn trivial(host: &host::Host, native: &str, duration: Duration, verdicts: &mut Verdicts) -> anyhow::Result<()> {
    let wasmtime = peer::install()?;
    let serve = peer::Serve::start(&wasmtime, &host::wasm("hello-http"))?;
    let servers = [
        ("host: hello-http (wasi:http only)", host.base.as_str(), "/hello"),
        ("host: test-guest /test/version (Spin SDK)", host.base.as_str(), "/test/version"),
        ("wasmtime serve: hello-http", serve.base.as_str(), "/"),
        ("native baseline: GET /version", native, "/version"),
    ];
    println!("\n## A trivial request: fresh component instance vs peer runtime vs native handler\n");
    println!("| server | connections | requests | p50 | p99 | errors |\n|---|---|---|---|---|---|");
    // Server-side means per load level: the differences of the host's
    // histograms read before and after each level. The target is judged on
    // one connection (no queueing on the 2 cores); 32 is printed beside it.
    const SERIES: [(&str, &str); 3] = [
        ("todo_instantiate_seconds", r#"component="hello-http""#),
        ("todo_http_request_seconds", r#"route="/hello/...",component="hello-http""#),
        ("todo_http_request_seconds", r#"route="/test/...",component="test-guest""#),
    ];
    let totals = || async {
        let mut all = Vec::new();
        for (name, labels) in SERIES {
            all.push(workloads::metric_totals(host, name, labels).await.unwrap_or((0.0, 0.0)));
        }
        all
    };
    let mut at_32 = Vec::new();
    let mut readings = vec![totals().await];
    for connections in [1, 32] {
        for (name, base, path) in servers {
            let run = workloads::trivial(base, path, connections, duration).await;
            println!("{}", workloads::row(&format!("{name} | {connections}"), &run));
            if connections == 32 {
                at_32.push(run.per_second);
            }
        }
        readings.push(totals().await);
    }
    // µs per request of series `i` between readings `from` and `from + 1`.
    let mean = |from: usize, i: usize| {
        let ((s0, c0), (s1, c1)) = (readings[from][i], readings[from + 1][i]);
        (s1 - s0) / (c1 - c0).max(1.0) * 1e6
    };
    for (level, connections) in [(0, 1), (1, 32)] {
        println!(
            "\nserver side, mean per request at {connections} connection(s): hello-http instantiate {:.1} µs, instantiate + call + response {:.1} µs; test-guest (Spin SDK) {:.1} µs",
            mean(level, 0),
            mean(level, 1),
            mean(level, 2)
        );
    }
    let (instantiate, server_side) = (mean(0, 0), mean(0, 1));
    let (hello, peer, native) = (at_32[0], at_32[2], at_32[3]);
    verdicts.check(
        "trivial request, instantiate + call + response (server side, 1 connection)",
        format!("{server_side:.1} µs (instantiate {instantiate:.1} µs)"),
        "≤ 40 µs",
        server_side <= 40.0,
    );
    verdicts.check(
        "trivial request at 32 connections vs native",
        format!("{hello:.0}/s ({native:.0}/s native): {:.2}×", hello / native),
        "≥ 0.5× native",
        hello / native >= 0.5,
    );
    verdicts.check(
        "trivial request at 32 connections vs wasmtime serve",
        format!("{hello:.0}/s ({peer:.0}/s wasmtime serve): {:.2}×", hello / peer),
        "≥ 1.5× wasmtime serve",
        hello / peer >= 1.5,
    );
    Ok(())
}

async fn sse_latency(host: &host::Host, writes: usize, verdicts: &mut Verdicts) -> anyhow::Result<()> {
    for background in [0.0, BACKGROUND_WRITES] {
        let l = sse::latency(host, host, writes, background).await?;
        println!(
            "\n## Write → SSE delivery, {} sequential creates on one stream, other users writing {background:.0} tasks/s\n",
            l.from_request.count
        );
        println!("| measure | p50 | p99 | max |\n|---|---|---|---|");
        for (name, s) in [
            ("from the write request", &l.from_request),
            ("from the commit timestamp (server side)", &l.from_commit),
            ("baseline: GET /healthz round trip", &l.baseline),
        ] {
            println!("| {name} | {} | {} | {} |", ms(s.p50), ms(s.p99), ms(s.max));
        }
        if background > 0.0 {
            verdicts.check(
                "write → SSE p99, server side, other users writing 1,000 tasks/s",
                format!("{} (healthz round trip p99 {})", ms(l.from_commit.p99), ms(l.baseline.p99)),
                "≤ 5 ms",
                l.from_commit.p99 <= Duration::from_millis(5),
            );
        }
    }
    Ok(())
}

/// Holds `streams` (as many as the open-file limit allows: a stream takes
/// a descriptor in the bench and one in the host), then fans events out to
/// them.
async fn streams_section(
    host: &host::Host,
    wanted: usize,
    fds: u64,
    duration: Duration,
    verdicts: &mut Verdicts,
) -> anyhow::Result<()> {
    let streams = wanted.min(fds.saturating_sub(1_000) as usize);
    if streams < wanted {
        println!(
            "\n(the open-file limit is {fds} and cannot be raised here — the hard limit needs CAP_SYS_RESOURCE: holding {streams} streams, not {wanted})"
        );
    }
    let milestones: Vec<usize> = [1_000, 10_000, streams].into_iter().filter(|m| *m <= streams).collect();
    let opening = Instant::now();
    let mut held = sse::hold(host, &milestones).await?;
    let opened = opening.elapsed();
    println!("\n## Concurrent SSE streams (one user each, from 127.0.0.2-9) and host RSS\n");
    println!("| streams | host RSS | per stream |\n|---|---|---|");
    let idle = held.figures[0].1;
    for &(n, rss) in &held.figures {
        let per = if n > 0 { format!("{:.1} KiB", (rss - idle) * 1024.0 / n as f64) } else { "-".into() };
        println!("| {n} | {rss:.1} MiB | {per} |");
    }
    let (n, rss) = *held.figures.last().expect("a milestone");
    let per_stream = (rss - idle) / n as f64;
    let projected = idle + per_stream * 100_000.0;
    println!(
        "\n({n} opened in {:.1} s; at {:.1} KiB each, 100,000 would take {projected:.0} MiB)",
        opened.as_secs_f64(),
        per_stream * 1024.0
    );
    let figure = if n >= 100_000 {
        format!("{rss:.0} MiB")
    } else {
        format!("{n} held (open-file limit {fds}): {rss:.0} MiB; 100,000 projected {projected:.0} MiB")
    };
    verdicts.check("concurrent streams, host RSS", figure, "100,000 within 600 MiB", n >= 100_000 && rss <= 600.0);
    let (rate, delivery) = sse::fan_out(host, &mut held, FAN_OUT_RATE, duration).await?;
    println!("\n## Fan-out to the {n} held streams: {rate:.0} creates/s, each to another stream\n");
    println!("| measure | events | p50 | p99 | max |\n|---|---|---|---|---|");
    println!(
        "| commit → arrival on the stream | {} | {} | {} | {} |",
        delivery.count,
        ms(delivery.p50),
        ms(delivery.p99),
        ms(delivery.max)
    );
    verdicts.check(
        "fan-out of 1,000 events/s to the held streams, delivery p99",
        format!("{} at {rate:.0} events/s to {n} streams", ms(delivery.p99)),
        "≤ 50 ms",
        delivery.p99 <= Duration::from_millis(50) && rate >= 0.95 * FAN_OUT_RATE,
    );
    Ok(())
}

/// Event → handler lag from the highest rate down: the first rate that
/// holds 100 ms p99 at 5,000 events/s, else the highest holding 1 s p99.
async fn lag_section(host: &host::Host, duration: Duration, verdicts: &mut Verdicts) -> anyhow::Result<()> {
    println!("\n## Event → handler lag (publish through a component, deliver to a handler)\n");
    println!("| asked | achieved | lag p50 | lag p99 | mean |\n|---|---|---|---|---|");
    let mut highest = None;
    for asked in [5000, 3000, 2000, 1000, 500] {
        let (rate, p50, p99, mean) = workloads::lag(host, asked, duration).await?;
        println!("| {asked}/s | {rate:.0}/s | {} | {} | {} |", ms(p50), ms(p99), ms(mean));
        if asked == 5000 {
            verdicts.check(
                "event → handler lag p99 at 5,000 events/s",
                format!("{} at {rate:.0} events/s", ms(p99)),
                "≤ 100 ms",
                rate >= 4750.0 && p99 <= Duration::from_millis(100),
            );
        }
        if p99 <= Duration::from_secs(1) {
            highest = Some((rate, p99));
            break;
        }
    }
    let figure = match highest {
        Some((rate, p99)) => format!("{rate:.0} events/s (p99 {})", ms(p99)),
        None => "none of 5,000-500/s".into(),
    };
    verdicts.check(
        "event → handler lag: the highest rate holding 1 s p99",
        figure,
        "(else: 5,000/s)",
        highest.is_some(),
    );
    Ok(())
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| format!("Linux {}", s.trim())).unwrap_or_default()
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
