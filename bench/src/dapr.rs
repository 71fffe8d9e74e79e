//! `bench dapr`: the distributed backend beside the embedded default, same
//! application, same load. Starts PostgreSQL, Redis and Kafka with the
//! scripts the tests use (scripts/services/, private loopback ports, a
//! temporary directory), two replicas each with its daprd, and measures
//! creates, write → SSE across the replicas (write on one, stream on the
//! other), event → handler lag, and what each hop costs on its own.

use crate::host::{repo, Host};
use crate::report::Verdicts;
use crate::stats::{ms, summarize, Summary};
use crate::{sse, workloads};
use anyhow::{bail, Context};
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const NAMESPACE: &str = "bench";

/// The figures compared between the backends.
struct Figures {
    creates_8: f64,
    creates_32: f64,
    sync: Summary,
    lag_rate: f64,
    lag_p99: Duration,
}

pub async fn run(
    binary: &Path,
    manifest: &Path,
    dir: &Path,
    duration: Duration,
    verdicts: &mut Verdicts,
) -> anyhow::Result<()> {
    let embedded = {
        let host = Host::start(binary, manifest, &dir.join("dapr-embedded"))?;
        figures(&host, &host, duration).await?
    };
    let services = Services::start(&dir.join("services"))?;
    let daprd = services.daprd()?;
    let a = Replica::start(binary, manifest, &services, &daprd, "a")?;
    let b = Replica::start(binary, manifest, &services, &daprd, "b")?;
    let distributed = figures(&a.host, &b.host, duration).await?;
    println!("\n## The distributed backend beside the embedded default (same app, same load)\n");
    println!("| measure | embedded | distributed (2 replicas) |\n|---|---|---|");
    println!("| creates/s at concurrency 8 | {:.0} | {:.0} |", embedded.creates_8, distributed.creates_8);
    println!("| creates/s at concurrency 32 | {:.0} | {:.0} |", embedded.creates_32, distributed.creates_32);
    println!(
        "| write → SSE p50 / p99 (server side; distributed: write on replica a, stream on b) | {} / {} | {} / {} |",
        ms(embedded.sync.p50),
        ms(embedded.sync.p99),
        ms(distributed.sync.p50),
        ms(distributed.sync.p99)
    );
    println!(
        "| event → handler lag p99 (rate) | {} ({:.0}/s) | {} ({:.0}/s) |",
        ms(embedded.lag_p99),
        embedded.lag_rate,
        ms(distributed.lag_p99),
        distributed.lag_rate
    );
    hops(&services, &a).await?;
    verdicts.check(
        "distributed: events/s with sync p99 < 2 s and lag p99 < 10 s (floor)",
        format!(
            "{:.0} events/s, sync p99 {}, lag p99 {}",
            distributed.lag_rate,
            ms(distributed.sync.p99),
            ms(distributed.lag_p99)
        ),
        "≥ 100/s",
        distributed.lag_rate >= 95.0
            && distributed.sync.p99 < Duration::from_secs(2)
            && distributed.lag_p99 < Duration::from_secs(10),
    );
    verdicts.check(
        "distributed: creates at concurrency 32 (aim)",
        format!("{:.0}/s ({:.0}/s embedded)", distributed.creates_32, embedded.creates_32),
        "≥ 1,000/s",
        distributed.creates_32 >= 1000.0,
    );
    verdicts.check(
        "distributed: write → SSE p99 across replicas (aim)",
        ms(distributed.sync.p99),
        "≤ 100 ms",
        distributed.sync.p99 <= Duration::from_millis(100),
    );
    Ok(())
}

/// Creates on `writer`; write → SSE from `writer` to a stream on `reader`;
/// event → handler lag at the highest of 1,000 / 500 / 100 events/s that
/// holds 10 s p99.
async fn figures(writer: &Host, reader: &Host, duration: Duration) -> anyhow::Result<Figures> {
    let creates_8 = workloads::creates(&writer.base, 8, duration).await.per_second;
    let creates_32 = workloads::creates(&writer.base, 32, duration).await.per_second;
    let sync = sse::latency(writer, reader, 500, 0.0).await?.from_commit;
    let mut lag = (0.0, Duration::ZERO);
    for rate in [1000, 500, 100] {
        let (achieved, _, p99, _) = workloads::lag(writer, rate, duration).await?;
        lag = (achieved, p99);
        if p99 < Duration::from_secs(10) {
            break;
        }
    }
    Ok(Figures { creates_8, creates_32, sync, lag_rate: lag.0, lag_p99: lag.1 })
}

/// Each hop alone, sequentially: the sidecar's HTTP API, a publish through
/// it (the sidecar and Kafka's acknowledgement), and a PostgreSQL
/// transaction like a create's (four inserts and the commit).
async fn hops(services: &Services, a: &Replica) -> anyhow::Result<()> {
    const N: usize = 500;
    let http = reqwest::Client::new();
    let sidecar = format!("http://127.0.0.1:{}", a.dapr_http);
    let mut health = Vec::with_capacity(N);
    let mut publish = Vec::with_capacity(N);
    for n in 0..N {
        let t = Instant::now();
        http.get(format!("{sidecar}/v1.0/healthz")).send().await?.bytes().await?;
        health.push(t.elapsed());
        let t = Instant::now();
        let res = http
            .post(format!("{sidecar}/v1.0/publish/pubsub/bench-hop"))
            .header("content-type", "application/json")
            .body(format!(r#"{{"n":{n}}}"#))
            .send()
            .await?;
        if !res.status().is_success() {
            bail!("publishing through the sidecar: {}", res.status());
        }
        publish.push(t.elapsed());
    }
    let postgres = postgres_transactions(&services.postgres_url, N).await?;
    println!("\n## What each hop costs (sequential, {N} each)\n");
    println!("| hop | p50 | p99 |\n|---|---|---|");
    for (name, s) in [
        ("sidecar: its HTTP API (GET /v1.0/healthz)", summarize(health)),
        ("sidecar + Kafka: a publish, until Kafka acknowledged it", summarize(publish)),
        ("PostgreSQL: a create's transaction (4 inserts + commit)", postgres),
    ] {
        println!("| {name} | {} | {} |", ms(s.p50), ms(s.p99));
    }
    Ok(())
}

async fn postgres_transactions(url: &str, n: usize) -> anyhow::Result<Summary> {
    let (mut client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client.batch_execute("CREATE TABLE IF NOT EXISTS bench_hop (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)").await?;
    let insert = client.prepare("INSERT INTO bench_hop (body) VALUES ($1)").await?;
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        let tx = client.transaction().await?;
        for k in 0..4 {
            tx.execute(&insert, &[&format!("row {i}.{k}")]).await?;
        }
        tx.commit().await?;
        times.push(t.elapsed());
    }
    Ok(summarize(times))
}

/// PostgreSQL, Redis and Kafka on free loopback ports, stopped on drop.
struct Services {
    dir: PathBuf,
    postgres_url: String,
    redis: String,
    kafka: String,
}

fn script(name: &str) -> PathBuf {
    repo().join("scripts/services").join(name)
}

fn sh(command: &mut Command) -> anyhow::Result<String> {
    let out = command.stderr(Stdio::inherit()).output().with_context(|| format!("running {command:?}"))?;
    if !out.status.success() {
        bail!("{command:?} failed");
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

fn free_port() -> anyhow::Result<u16> {
    // Below the ephemeral range, as the scripts' free_port picks.
    for _ in 0..1000 {
        let port = 20_000 + (uuid::Uuid::new_v4().as_u128() % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free port")
}

impl Services {
    fn start(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        // The postgres user must reach its data directory.
        sh(Command::new("chmod").arg("755").arg(dir))?;
        let (pg, redis, kafka, controller) = (free_port()?, free_port()?, free_port()?, free_port()?);
        let services = Services {
            dir: dir.to_owned(),
            postgres_url: format!("postgres://postgres@127.0.0.1:{pg}/todo"),
            redis: format!("127.0.0.1:{redis}"),
            kafka: format!("127.0.0.1:{kafka}"),
        };
        sh(Command::new(script("postgres.sh")).arg("start").arg(dir.join("pg")).arg(pg.to_string()))?;
        sh(Command::new(script("redis.sh")).arg("start").arg(dir.join("redis")).arg(redis.to_string()))?;
        sh(Command::new(script("kafka.sh"))
            .arg("start")
            .arg(dir.join("kafka"))
            .arg(kafka.to_string())
            .arg(controller.to_string())
            .arg(NAMESPACE))?;
        Ok(services)
    }

    /// daprd (built once into the cache) and dapr/'s files with the local overlay.
    fn daprd(&self) -> anyhow::Result<PathBuf> {
        sh(Command::new(script("daprd.sh")).arg("install"))?;
        sh(Command::new(script("daprd.sh")).arg("local").arg(self.dir.join("dapr")))?;
        Ok(PathBuf::from(sh(Command::new(script("daprd.sh")).arg("path"))?))
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        for (name, sub) in [("kafka.sh", "kafka"), ("redis.sh", "redis"), ("postgres.sh", "pg")] {
            let _ = Command::new(script(name)).arg("stop").arg(self.dir.join(sub)).status();
        }
    }
}

/// One replica: its daprd and its host, on the shared services.
struct Replica {
    sidecar: Child,
    dapr_http: u16,
    host: Host,
}

impl Replica {
    fn start(binary: &Path, manifest: &Path, services: &Services, daprd: &Path, name: &str) -> anyhow::Result<Self> {
        let (http, app) = (free_port()?, free_port()?);
        let dir = services.dir.join("dapr");
        let log = std::fs::File::create(services.dir.join(format!("daprd-{name}.log")))?;
        let sidecar = Command::new(daprd)
            .current_dir(&dir)
            .args(["--app-id", "todo", "--app-port", &app.to_string()])
            .args(["--dapr-http-port", &http.to_string(), "--dapr-listen-addresses", "127.0.0.1"])
            .args(["--dapr-grpc-port", &free_port()?.to_string()])
            .args(["--dapr-internal-grpc-port", &free_port()?.to_string()])
            .args(["--dapr-internal-grpc-listen-address", "127.0.0.1"])
            .args(["--metrics-port", &free_port()?.to_string(), "--metrics-listen-address", "127.0.0.1"])
            .arg("--resources-path")
            .arg(dir.join("resources"))
            .args(["--log-level", "warn"])
            .env("KAFKA_BROKERS", &services.kafka)
            .env("REDIS_HOST", &services.redis)
            .env("NAMESPACE", NAMESPACE)
            .env("POD_NAME", name)
            .env("TODO_REPLICA_INITIAL_OFFSET", "oldest")
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting daprd")?;
        let config = services.dir.join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                "[sql]\ntype = \"postgres\"\nurl = \"{}\"\n[state]\ntype = \"dapr\"\n[pubsub]\ntype = \"dapr\"\n[dapr]\nhttp_url = \"http://127.0.0.1:{http}\"\napp_listen = \"127.0.0.1:{app}\"\n",
                services.postgres_url
            ),
        )?;
        let env = [("TODO_RUNTIME_CONFIG_FILE", config.display().to_string()), ("TODO_REPLICA_ID", name.to_owned())];
        let host = Host::start_with(binary, manifest, &services.dir.join(format!("data-{name}")), &env)?;
        let replica = Replica { sidecar, dapr_http: http, host };
        replica.ready()?;
        Ok(replica)
    }

    /// Ready once its sidecar has loaded the components and subscribed.
    fn ready(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(120);
        let url = self.host.url("/readyz");
        while !answers_200(&url) {
            if Instant::now() > deadline {
                bail!("replica not ready after 120 s (see daprd-*.log)");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.sidecar.kill();
        let _ = self.sidecar.wait();
    }
}

/// Whether `GET url` answers 200 (a blocking socket: called outside the runtime's tasks).
fn answers_200(url: &str) -> bool {
    use std::io::{Read, Write};
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let (addr, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if write!(stream, "GET {path} HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && &head[9..12] == b"200"
}
