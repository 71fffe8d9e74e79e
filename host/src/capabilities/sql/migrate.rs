//! Schema histories, each applied in order, each version once, each in its
//! own transaction: the host's own (`host/migrations/<dialect>/`, built into
//! the binary, recorded in `todo_host_migration`: the outbox) and the
//! application's (the directory its manifest names, recorded in
//! `schema_migration`). An application without migrations has an empty
//! history.

use super::{Dialect, Sql, SqlTransaction, Value};
use anyhow::Context;
use std::path::{Path, PathBuf};

/// One history: the table that records it, and its versions in order.
pub struct History {
    table: &'static str,
    versions: Vec<(String, String)>,
}

/// The host's own tables, in the dialect's history.
pub fn host_history(dialect: Dialect) -> History {
    let versions: &[(&str, &str)] = match dialect {
        Dialect::Sqlite => &[
            ("0001_outbox", include_str!("../../../migrations/sqlite/0001_outbox.sql")),
            ("0002_log", include_str!("../../../migrations/sqlite/0002_log.sql")),
        ],
        Dialect::Postgres => &[
            ("0001_outbox", include_str!("../../../migrations/postgres/0001_outbox.sql")),
            ("0002_log", include_str!("../../../migrations/postgres/0002_log.sql")),
        ],
    };
    History {
        table: "todo_host_migration",
        versions: versions.iter().map(|(v, s)| ((*v).to_owned(), (*s).to_owned())).collect(),
    }
}

/// The application's history: `<dir>/<dialect>/*.sql` sorted by name
/// (`0001_init.sql`, ...); empty without a directory.
pub fn app_history(dir: Option<&Path>, dialect: Dialect) -> anyhow::Result<History> {
    let mut versions = Vec::new();
    if let Some(dir) = dir {
        for file in files(dir, dialect.dir_name())? {
            let script = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            versions.push((version(&file), script));
        }
    }
    Ok(History { table: "schema_migration", versions })
}

/// The migration files of one dialect, sorted by name.
pub fn files(migrations_dir: &Path, dialect_dir: &str) -> anyhow::Result<Vec<PathBuf>> {
    let dir = migrations_dir.join(dialect_dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading migrations from {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    Ok(files)
}

fn version(path: &Path) -> String {
    path.file_stem().unwrap_or_default().to_string_lossy().into_owned()
}

/// Begins a transaction that holds the dialect's migration lock.
async fn locked(sql: &dyn Sql) -> anyhow::Result<Box<dyn SqlTransaction>> {
    let mut tx = sql.begin().await?;
    if let Some(lock) = sql.dialect().migration_lock() {
        tx.execute(lock, vec![]).await.context("taking the migration lock")?;
    }
    Ok(tx)
}

pub async fn apply(sql: &dyn Sql, history: &History) -> anyhow::Result<()> {
    let table = history.table;
    let mut tx = locked(sql).await?;
    tx.execute_script(&format!(
        "CREATE TABLE IF NOT EXISTS {table} (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    ))
    .await?;
    tx.commit().await?;
    for (version, script) in &history.versions {
        let mut tx = locked(sql).await?;
        let applied =
            tx.query(&format!("SELECT 1 FROM {table} WHERE version = $1"), vec![Value::Text(version.clone())]).await?;
        if !applied.rows.is_empty() {
            continue;
        }
        tracing::info!(%version, history = %table, "applying migration");
        tx.execute_script(script).await.with_context(|| format!("applying migration {version} ({table})"))?;
        tx.execute(
            &format!("INSERT INTO {table} (version, applied_at) VALUES ($1, $2)"),
            vec![Value::Text(version.clone()), Value::Text(chrono::Utc::now().to_rfc3339())],
        )
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::sql::sqlite::SqliteSql;
    use std::time::Duration;

    fn repo_migrations() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations")
    }

    #[test]
    fn sqlite_and_postgres_have_the_same_histories() {
        let names = |d| files(&repo_migrations(), d).unwrap().iter().map(|p| version(p)).collect::<Vec<_>>();
        assert!(!names("sqlite").is_empty());
        assert_eq!(names("sqlite"), names("postgres"));
        let host = |d| host_history(d).versions.into_iter().map(|(v, _)| v).collect::<Vec<_>>();
        assert_eq!(host(Dialect::Sqlite), host(Dialect::Postgres));
    }

    #[tokio::test]
    async fn applies_each_version_once_and_keeps_the_histories_apart() {
        let dir = tempfile::tempdir().unwrap();
        let sql = SqliteSql::open(dir.path().join("app.db"), Duration::from_secs(5)).unwrap();
        let app = || app_history(Some(&repo_migrations()), Dialect::Sqlite).unwrap();
        for _ in 0..2 {
            apply(&sql, &host_history(Dialect::Sqlite)).await.unwrap();
            apply(&sql, &app()).await.unwrap();
        }
        let count = |table: &'static str| {
            let sql = &sql;
            async move { sql.query(&format!("SELECT count(*) FROM {table}"), vec![]).await.unwrap().rows[0][0].clone() }
        };
        assert_eq!(count("schema_migration").await, Value::Integer(app().versions.len() as i64));
        assert_eq!(
            count("todo_host_migration").await,
            Value::Integer(host_history(Dialect::Sqlite).versions.len() as i64)
        );
        sql.query("SELECT id, tags FROM task", vec![]).await.unwrap();
        sql.query("SELECT seq, event_id FROM outbox", vec![]).await.unwrap();
    }

    #[tokio::test]
    async fn an_app_without_migrations_has_an_empty_history() {
        let dir = tempfile::tempdir().unwrap();
        let sql = SqliteSql::open(dir.path().join("app.db"), Duration::from_secs(5)).unwrap();
        let none = app_history(None, Dialect::Sqlite).unwrap();
        assert!(none.versions.is_empty());
        apply(&sql, &none).await.unwrap();
        let missing = app_history(Some(&dir.path().join("nowhere")), Dialect::Sqlite).err().unwrap();
        assert!(format!("{missing:#}").contains("nowhere"), "{missing:#}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL: scripts/test.sh runs it"]
    async fn replicas_starting_together_on_postgres_migrate_once() {
        use crate::capabilities::sql::postgres::PostgresSql;
        let wait = Duration::from_secs(30);
        let server = std::env::var("TODO_TEST_POSTGRES_URL").expect("TODO_TEST_POSTGRES_URL: run scripts/test.sh");
        let name = format!("m_{}", uuid::Uuid::new_v4().simple());
        PostgresSql::new(&server, 1, wait).unwrap().execute(&format!("CREATE DATABASE {name}"), vec![]).await.unwrap();
        let url = format!("{}/{name}", server.rsplit_once('/').unwrap().0);
        let replicas = (0..4).map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                let sql = PostgresSql::new(&url, 2, wait).unwrap();
                apply(&sql, &host_history(Dialect::Postgres)).await?;
                apply(&sql, &app_history(Some(&repo_migrations()), Dialect::Postgres)?).await
            })
        });
        for replica in futures::future::join_all(replicas).await {
            replica.unwrap().unwrap();
        }
        let sql = PostgresSql::new(&url, 1, wait).unwrap();
        let rows = sql.query("SELECT count(*) FROM schema_migration", vec![]).await.unwrap();
        assert_eq!(rows.rows[0][0], Value::Integer(files(&repo_migrations(), "postgres").unwrap().len() as i64));
    }
}
