//! `cargo run --release -p bench -- sse`: starts the release host on a fresh
//! data directory and prints figures, each beside its baseline.

mod host;
mod sse;
mod stats;

use clap::{Parser, Subcommand};
use stats::ms;

#[derive(Parser)]
#[command(about = "Benchmarks of the todo system (release build, loopback)")]
struct Cli {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
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
    let data = tempfile::tempdir()?;
    let host = host::Host::start(&binary, data.path())?;
    println!("machine: {} cores, {}; open-file limit {fds}", num_cpus(), kernel());
    match cli.what {
        What::Sse { writes, streams } => {
            let l = sse::latency(&host, writes).await?;
            println!("\nwrite → SSE delivery, {} sequential creates on one stream", l.from_request.count);
            println!("| measure | p50 | p99 | max |\n|---|---|---|---|");
            for (name, s) in [("from the write request", &l.from_request), ("from the commit timestamp", &l.from_commit), ("baseline: GET /healthz round trip", &l.baseline)] {
                println!("| {name} | {} | {} | {} |", ms(s.p50), ms(s.p99), ms(s.max));
            }
            println!("ratio p50 (write→SSE / round trip): {:.1}x", l.from_request.p50.as_secs_f64() / l.baseline.p50.as_secs_f64());
            let milestones: Vec<usize> = [1_000, streams].into_iter().filter(|m| *m <= streams).collect();
            let figures = sse::hold(&host, &milestones).await?;
            println!("\nconcurrent SSE streams (one user each) and host RSS");
            println!("| streams | host RSS | per stream |\n|---|---|---|");
            let idle = figures[0].1;
            for (n, rss) in figures {
                let per = if n > 0 { format!("{:.1} KiB", (rss - idle) * 1024.0 / n as f64) } else { "-".into() };
                println!("| {n} | {rss:.1} MiB | {per} |");
            }
        }
    }
    Ok(())
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| format!("Linux {}", s.trim())).unwrap_or_default()
}
