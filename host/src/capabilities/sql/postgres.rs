//! `sql` on PostgreSQL: a connection pool, transactions holding one pooled
//! connection, and values converted by the column / parameter type the
//! server reports, so components see what the SQLite backend gives them.

use super::{Constraint, ConstraintKind, Dialect, RowSet, Sql, SqlError, SqlTransaction, Value};
use async_trait::async_trait;
use bytes::BytesMut;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::{error::SqlState, NoTls, Row};

pub struct PostgresSql {
    pool: Pool,
}

impl PostgresSql {
    /// Connects lazily: the pool opens connections when first asked. A
    /// caller waits at most `wait` for a free connection.
    pub fn new(url: &str, pool_size: usize, wait: std::time::Duration) -> anyhow::Result<Self> {
        let config: tokio_postgres::Config = url.parse()?;
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .wait_timeout(Some(wait))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()?;
        Ok(Self { pool })
    }

    async fn client(&self) -> Result<Object, SqlError> {
        self.pool.get().await.map_err(|e| SqlError::Unavailable(e.to_string()))
    }
}

#[async_trait]
impl Sql for PostgresSql {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn execute(&self, statement: &str, params: Vec<Value>) -> Result<u64, SqlError> {
        execute(&self.client().await?, statement, &params).await
    }

    async fn query(&self, statement: &str, params: Vec<Value>) -> Result<RowSet, SqlError> {
        query(&self.client().await?, statement, &params).await
    }

    async fn begin(&self) -> Result<Box<dyn SqlTransaction>, SqlError> {
        let client = self.client().await?;
        client.batch_execute("BEGIN").await.map_err(map_err)?;
        Ok(Box::new(PostgresTransaction { client: Some(client) }))
    }

    async fn ping(&self) -> Result<(), SqlError> {
        self.client().await?.simple_query("SELECT 1").await.map(drop).map_err(map_err)
    }
}

/// Holds one pooled connection from BEGIN to COMMIT / ROLLBACK.
struct PostgresTransaction {
    client: Option<Object>,
}

impl PostgresTransaction {
    fn client(&self) -> Result<&Object, SqlError> {
        self.client.as_ref().ok_or(SqlError::TransactionClosed)
    }

    async fn finish(&mut self, sql: &str) -> Result<(), SqlError> {
        let client = self.client.take().ok_or(SqlError::TransactionClosed)?;
        let result = client.batch_execute(sql).await.map_err(map_err);
        if result.is_err() {
            let _ = client.batch_execute("ROLLBACK").await;
        }
        result
    }
}

#[async_trait]
impl SqlTransaction for PostgresTransaction {
    async fn execute(&mut self, statement: &str, params: Vec<Value>) -> Result<u64, SqlError> {
        execute(self.client()?, statement, &params).await
    }

    async fn query(&mut self, statement: &str, params: Vec<Value>) -> Result<RowSet, SqlError> {
        query(self.client()?, statement, &params).await
    }

    async fn execute_script(&mut self, script: &str) -> Result<(), SqlError> {
        self.client()?.batch_execute(script).await.map_err(map_err)
    }

    async fn commit(&mut self) -> Result<(), SqlError> {
        self.finish("COMMIT").await
    }

    async fn rollback(&mut self) -> Result<(), SqlError> {
        self.finish("ROLLBACK").await
    }
}

impl Drop for PostgresTransaction {
    /// Abandoned by a trapped or timed-out guest: roll back before the
    /// connection goes back to the pool.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            tokio::spawn(async move {
                if let Err(e) = client.batch_execute("ROLLBACK").await {
                    tracing::error!(error = %e, "rolling back an abandoned transaction");
                }
            });
        }
    }
}

/// A parameter, converted to whatever type the server inferred for it.
#[derive(Debug)]
struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let mismatch = || format!("cannot bind {:?} to a parameter of type {ty}", self.0).into();
        match (self.0, ty.clone()) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Boolean(b), Type::BOOL) => b.to_sql(ty, out),
            (Value::Boolean(b), Type::INT2 | Type::INT4 | Type::INT8) => {
                Param(&Value::Integer(*b as i64)).to_sql(ty, out)
            }
            (Value::Integer(i), Type::INT8) => i.to_sql(ty, out),
            (Value::Integer(i), Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
            (Value::Integer(i), Type::INT2) => i16::try_from(*i)?.to_sql(ty, out),
            (Value::Integer(i), Type::FLOAT8) => (*i as f64).to_sql(ty, out),
            (Value::Integer(i), Type::BOOL) => (*i != 0).to_sql(ty, out),
            (Value::Real(f), Type::FLOAT8) => f.to_sql(ty, out),
            (Value::Real(f), Type::FLOAT4) => (*f as f32).to_sql(ty, out),
            (Value::Text(s), Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN) => {
                s.to_sql(ty, out)
            }
            (Value::Blob(b), Type::BYTEA) => b.to_sql(ty, out),
            _ => Err(mismatch()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn params(values: &[Value]) -> Vec<Param<'_>> {
    values.iter().map(Param).collect()
}

fn refs<'a>(params: &'a [Param<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

async fn execute(client: &Object, statement: &str, values: &[Value]) -> Result<u64, SqlError> {
    let stmt = client.prepare_cached(statement).await.map_err(map_err)?;
    let params = params(values);
    client.execute(&stmt, &refs(&params)).await.map_err(map_err)
}

async fn query(client: &Object, statement: &str, values: &[Value]) -> Result<RowSet, SqlError> {
    let stmt = client.prepare_cached(statement).await.map_err(map_err)?;
    let params = params(values);
    let rows = client.query(&stmt, &refs(&params)).await.map_err(map_err)?;
    let columns = stmt.columns().iter().map(|c| c.name().to_owned()).collect();
    let rows = rows.iter().map(row).collect::<Result<_, _>>()?;
    Ok(RowSet { columns, rows })
}

fn row(row: &Row) -> Result<Vec<Value>, SqlError> {
    (0..row.len())
        .map(|i| {
            let ty = row.columns()[i].type_().clone();
            let value = match ty {
                Type::BOOL => row.try_get::<_, Option<bool>>(i).map(|v| v.map(Value::Boolean)),
                Type::INT2 => row.try_get::<_, Option<i16>>(i).map(|v| v.map(|n| Value::Integer(n.into()))),
                Type::INT4 => row.try_get::<_, Option<i32>>(i).map(|v| v.map(|n| Value::Integer(n.into()))),
                Type::INT8 => row.try_get::<_, Option<i64>>(i).map(|v| v.map(Value::Integer)),
                Type::FLOAT4 => row.try_get::<_, Option<f32>>(i).map(|v| v.map(|f| Value::Real(f.into()))),
                Type::FLOAT8 => row.try_get::<_, Option<f64>>(i).map(|v| v.map(Value::Real)),
                Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i).map(|v| v.map(Value::Blob)),
                _ => row.try_get::<_, Option<String>>(i).map(|v| v.map(Value::Text)),
            };
            value.map(|v| v.unwrap_or(Value::Null)).map_err(|e| SqlError::Other(format!("column {i} ({ty}): {e}")))
        })
        .collect()
}

fn map_err(e: tokio_postgres::Error) -> SqlError {
    let Some(db) = e.as_db_error() else {
        return if e.is_closed() { SqlError::Unavailable(e.to_string()) } else { SqlError::Other(e.to_string()) };
    };
    let message = format!("{}: {}", db.code().code(), db.message());
    let class = &db.code().code()[..2];
    match class {
        "23" => SqlError::ConstraintViolation(constraint(db, message)),
        "42" | "22" => SqlError::InvalidStatement(message),
        "08" | "53" | "57" => SqlError::Unavailable(message),
        _ if *db.code() == SqlState::T_R_SERIALIZATION_FAILURE || *db.code() == SqlState::T_R_DEADLOCK_DETECTED => {
            SqlError::Unavailable(message)
        }
        _ => SqlError::Other(message),
    }
}

/// The constraint a class-23 error names (PostgreSQL reports the
/// constraint or index name; NOT NULL names the column).
fn constraint(db: &tokio_postgres::error::DbError, message: String) -> Constraint {
    let kind = match db.code().code() {
        "23505" => ConstraintKind::Unique,
        "23503" => ConstraintKind::ForeignKey,
        "23514" => ConstraintKind::Check,
        "23502" => ConstraintKind::NotNull,
        _ => ConstraintKind::Other,
    };
    let name = match (db.constraint(), db.table(), db.column()) {
        (Some(name), _, _) => name.to_owned(),
        (None, Some(table), Some(column)) => format!("{table}.{column}"),
        _ => String::new(),
    };
    Constraint { kind, name, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// These run against the PostgreSQL that `scripts/test.sh` starts
    /// (`TODO_TEST_POSTGRES_URL`); without one they fail, saying so.
    fn url() -> String {
        std::env::var("TODO_TEST_POSTGRES_URL")
            .expect("TODO_TEST_POSTGRES_URL: run scripts/test.sh, which starts PostgreSQL")
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL: scripts/test.sh runs it"]
    async fn values_placeholders_errors_and_transactions_match_the_sqlite_backend() {
        let sql = PostgresSql::new(&url(), 4, std::time::Duration::from_secs(5)).unwrap();
        let table = format!("t_{}", uuid::Uuid::new_v4().simple());
        sql.execute(
            &format!("CREATE TABLE {table} (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE, done BOOLEAN, n BIGINT)"),
            vec![],
        )
        .await
        .unwrap();
        let n = sql
            .execute(
                &format!("INSERT INTO {table} (id, done, name, n) VALUES ($3, $2, $1, $3)"),
                vec![Value::Text("a".into()), Value::Boolean(true), Value::Integer(7)],
            )
            .await
            .unwrap();
        assert_eq!(n, 1);
        let rows = sql
            .query(&format!("SELECT name, done, n, id FROM {table} WHERE name = $1"), vec![Value::Text("a".into())])
            .await
            .unwrap();
        assert_eq!(rows.columns, vec!["name", "done", "n", "id"]);
        assert_eq!(
            rows.rows,
            vec![vec![Value::Text("a".into()), Value::Boolean(true), Value::Integer(7), Value::Integer(7)]]
        );

        let dup =
            sql.execute(&format!("INSERT INTO {table} (id, name) VALUES (8, $1)"), vec![Value::Text("a".into())]).await;
        assert!(matches!(dup, Err(SqlError::ConstraintViolation(_))), "{dup:?}");
        let bad = sql.query("SELEC nonsense", vec![]).await;
        assert!(matches!(bad, Err(SqlError::InvalidStatement(_))), "{bad:?}");

        let mut tx = sql.begin().await.unwrap();
        tx.execute(&format!("INSERT INTO {table} (id, name) VALUES (2, 'kept')"), vec![]).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(tx.commit().await, Err(SqlError::TransactionClosed));
        let mut tx = sql.begin().await.unwrap();
        tx.execute(&format!("INSERT INTO {table} (id, name) VALUES (3, 'undone')"), vec![]).await.unwrap();
        tx.rollback().await.unwrap();
        let mut tx = sql.begin().await.unwrap();
        tx.execute(&format!("INSERT INTO {table} (id, name) VALUES (4, 'dropped')"), vec![]).await.unwrap();
        drop(tx);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let rows = sql.query(&format!("SELECT name FROM {table} ORDER BY id"), vec![]).await.unwrap();
        assert_eq!(rows.rows, vec![vec![Value::Text("kept".into())], vec![Value::Text("a".into())]]);
        sql.execute(&format!("DROP TABLE {table}"), vec![]).await.unwrap();
    }
}
