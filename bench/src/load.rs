//! A closed-loop load generator: `concurrency` workers send requests back to
//! back for a fixed time; every request's latency is kept.

use crate::stats::{summarize, Summary};
use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

pub struct Run {
    pub per_second: f64,
    pub latency: Summary,
    pub errors: usize,
}

/// Runs `request(worker, n)` from `concurrency` workers for `duration`;
/// a request answers whether it succeeded.
pub async fn run<F, Fut>(concurrency: usize, duration: Duration, request: F) -> Run
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|worker| {
            let request = request.clone();
            tokio::spawn(async move {
                let (mut latencies, mut errors) = (Vec::new(), 0);
                let mut n = 0;
                while started.elapsed() < duration {
                    let sent = Instant::now();
                    if request(worker, n).await {
                        latencies.push(sent.elapsed());
                    } else {
                        errors += 1;
                    }
                    n += 1;
                }
                (latencies, errors)
            })
        })
        .collect();
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for worker in workers {
        let (l, e) = worker.await.expect("a load worker panicked");
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Run { per_second: latencies.len() as f64 / elapsed, latency: summarize(latencies), errors }
}
