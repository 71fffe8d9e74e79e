//! Applies `migrations/<dialect>/*.sql` in order, each version once, each in
//! its own transaction, recorded in `schema_migration`.

use crate::backends::sql::{Sql, Value};
use anyhow::Context;
use std::path::{Path, PathBuf};

/// The migration files of one dialect, sorted by name (`0001_init.sql`, ...).
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
async fn locked(sql: &dyn Sql) -> anyhow::Result<Box<dyn crate::backends::sql::SqlTransaction>> {
    let mut tx = sql.begin().await?;
    if let Some(lock) = sql.dialect().migration_lock() {
        tx.execute(lock, vec![]).await.context("taking the migration lock")?;
    }
    Ok(tx)
}

pub async fn apply(sql: &dyn Sql, migrations_dir: &Path) -> anyhow::Result<()> {
    let mut tx = locked(sql).await?;
    tx.execute_script("CREATE TABLE IF NOT EXISTS schema_migration (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        .await?;
    tx.commit().await?;
    for file in files(migrations_dir, sql.dialect().dir_name())? {
        let version = version(&file);
        let script = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        let mut tx = locked(sql).await?;
        let applied = tx
            .query("SELECT 1 FROM schema_migration WHERE version = $1", vec![Value::Text(version.clone())])
            .await?;
        if !applied.rows.is_empty() {
            continue;
        }
        tracing::info!(%version, "applying migration");
        tx.execute_script(&script).await.with_context(|| format!("applying migration {version}"))?;
        tx.execute(
            "INSERT INTO schema_migration (version, applied_at) VALUES ($1, $2)",
            vec![Value::Text(version), Value::Text(chrono::Utc::now().to_rfc3339())],
        )
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::sqlite::SqliteSql;

    fn repo_migrations() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations")
    }

    #[test]
    fn sqlite_and_postgres_have_the_same_history() {
        let names = |d| files(&repo_migrations(), d).unwrap().iter().map(|p| version(p)).collect::<Vec<_>>();
        assert!(!names("sqlite").is_empty());
        assert_eq!(names("sqlite"), names("postgres"));
    }

    #[tokio::test]
    async fn applies_each_version_once() {
        let dir = tempfile::tempdir().unwrap();
        let sql = SqliteSql::open(dir.path().join("app.db")).unwrap();
        apply(&sql, &repo_migrations()).await.unwrap();
        apply(&sql, &repo_migrations()).await.unwrap();
        let rows = sql.query("SELECT count(*) FROM schema_migration", vec![]).await.unwrap();
        assert_eq!(rows.rows[0][0], Value::Integer(files(&repo_migrations(), "sqlite").unwrap().len() as i64));
        sql.query("SELECT id, tags FROM task", vec![]).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL: scripts/test.sh runs it"]
    async fn replicas_starting_together_on_postgres_migrate_once() {
        use crate::backends::postgres::PostgresSql;
        let server = std::env::var("TODO_TEST_POSTGRES_URL").expect("TODO_TEST_POSTGRES_URL: run scripts/test.sh");
        let name = format!("m_{}", uuid::Uuid::new_v4().simple());
        PostgresSql::new(&server, 1).unwrap().execute(&format!("CREATE DATABASE {name}"), vec![]).await.unwrap();
        let url = format!("{}/{name}", server.rsplit_once('/').unwrap().0);
        let replicas = (0..4).map(|_| {
            let url = url.clone();
            tokio::spawn(async move { apply(&PostgresSql::new(&url, 2).unwrap(), &repo_migrations()).await })
        });
        for replica in futures::future::join_all(replicas).await {
            replica.unwrap().unwrap();
        }
        let sql = PostgresSql::new(&url, 1).unwrap();
        let rows = sql.query("SELECT count(*) FROM schema_migration", vec![]).await.unwrap();
        assert_eq!(rows.rows[0][0], Value::Integer(files(&repo_migrations(), "postgres").unwrap().len() as i64));
    }
}
