//! PostgreSQL through a deadpool connection pool; statements are prepared once per
//! connection (`prepare_cached`).

use std::error::Error;
use std::str::FromStr;

use bytes::BytesMut;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::{AsyncMessage, NoTls};

use super::{Migration, Row, Statement, StoreError, Value};

/// Handle to the PostgreSQL pool; cheap to clone.
#[derive(Clone)]
pub struct PgDb {
    pool: Pool,
    config: tokio_postgres::Config,
    statements: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// A `NOTIFY` received on a channel this process listens to.
#[derive(Debug, Clone)]
pub struct PgNotification {
    /// The channel name.
    pub channel: String,
    /// The payload text.
    pub payload: String,
}

impl PgDb {
    /// Connects a pool (size from `?pool_size=` is not parsed; 16 connections) and checks it.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::InvalidUrl(e.to_string()))?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(16)
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let db = PgDb {
            pool,
            config,
            statements: Default::default(),
        };
        // Fail at start-up, not on the first request, when the server is unreachable.
        drop(db.client().await?);
        Ok(db)
    }

    /// Statements executed so far (for tests and metrics).
    pub fn statements(&self) -> u64 {
        self.statements.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn count(&self, n: usize) {
        self.statements
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        let start = std::time::Instant::now();
        let client = self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => map_err(e),
            other => StoreError::Pool(other.to_string()),
        });
        crate::metrics::pool_wait(start.elapsed());
        client
    }

    /// Pool occupancy.
    pub fn pool_status(&self) -> super::PoolStatus {
        let s = self.pool.status();
        super::PoolStatus {
            max: s.max_size,
            in_use: s.size.saturating_sub(s.available),
            idle: s.available,
            waiting: s.waiting,
        }
    }

    pub(super) async fn query(&self, stmt: Statement) -> Result<Vec<Row>, StoreError> {
        self.count(1);
        let client = self.client().await?;
        run_query(&client, &stmt).await
    }

    pub(super) async fn execute(&self, stmt: Statement) -> Result<u64, StoreError> {
        self.count(1);
        let client = self.client().await?;
        let prepared = client.prepare_cached(&stmt.sql).await.map_err(map_err)?;
        client
            .execute(&prepared, &params(&stmt.params))
            .await
            .map_err(map_err)
    }

    pub(super) async fn transaction(
        &self,
        stmts: Vec<Statement>,
    ) -> Result<Vec<Vec<Row>>, StoreError> {
        self.count(stmts.len());
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let mut out = Vec::with_capacity(stmts.len());
        for stmt in &stmts {
            let prepared = tx.prepare_cached(&stmt.sql).await.map_err(map_err)?;
            let rows = tx
                .query(&prepared, &params(&stmt.params))
                .await
                .map_err(map_err)?;
            out.push(rows.iter().map(decode_row).collect::<Result<_, _>>()?);
        }
        tx.commit().await.map_err(map_err)?;
        Ok(out)
    }

    pub(super) async fn read_batch(
        &self,
        stmts: Vec<Statement>,
    ) -> Result<Vec<Vec<Row>>, StoreError> {
        self.count(stmts.len());
        let client = self.client().await?;
        // Issued together, tokio-postgres pipelines them over the one connection.
        futures::future::try_join_all(stmts.iter().map(|s| run_query(&client, s))).await
    }

    pub(super) async fn migrate(
        &self,
        migrations: &[Migration],
    ) -> Result<Vec<&'static str>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        // Serialises concurrent starts of several instances on one database.
        tx.batch_execute(
            "SELECT pg_advisory_xact_lock(7212345001);
             CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL);",
        )
        .await
        .map_err(map_err)?;
        let mut applied = Vec::new();
        for m in migrations {
            let done = tx
                .query_one(
                    "SELECT EXISTS(SELECT 1 FROM _migrations WHERE name = $1)",
                    &[&m.name],
                )
                .await
                .map_err(map_err)?
                .get::<_, bool>(0);
            if done {
                continue;
            }
            tx.batch_execute(m.postgres).await.map_err(map_err)?;
            tx.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES ($1, $2)",
                &[&m.name, &super::now_micros()],
            )
            .await
            .map_err(map_err)?;
            applied.push(m.name);
        }
        tx.commit().await.map_err(map_err)?;
        Ok(applied)
    }

    /// `NOTIFY channel, payload` (through `pg_notify`, so any channel name is safe).
    pub async fn notify(&self, channel: &str, payload: String) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute("SELECT pg_notify($1, $2)", &[&channel, &payload])
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Opens a dedicated connection that `LISTEN`s on `channel`. The listener's `recv`
    /// returns `None` once the connection is lost, so the caller can react (e.g. drop caches
    /// that the notifications keep fresh) and listen again.
    pub async fn listen(
        &self,
        channels: &[&str],
        application_name: &str,
    ) -> Result<PgListener, StoreError> {
        // Named, so writers can count the listening instances (see `count_listeners`).
        let mut config = self.config.clone();
        config.application_name(application_name);
        let (client, mut connection) = config.connect(NoTls).await.map_err(map_err)?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(msg) = messages.next().await {
                match msg {
                    Ok(AsyncMessage::Notification(n)) => {
                        let note = PgNotification {
                            channel: n.channel().to_owned(),
                            payload: n.payload().to_owned(),
                        };
                        if tx.send(note).is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "postgres listener connection lost");
                        break;
                    }
                }
            }
        });
        // Channel names cannot be bound as parameters; quote them as identifiers.
        let listen: String = channels
            .iter()
            .map(|c| format!("LISTEN \"{}\";", c.replace('"', "\"\"")))
            .collect();
        client.batch_execute(&listen).await.map_err(map_err)?;
        Ok(PgListener {
            rx,
            _client: client,
        })
    }
}

/// `application_name` of the instances' invalidation listeners (counted by writers).
pub const LISTENER_APPLICATION_NAME: &str = "axum_drf_listener";
/// `application_name` of short-lived listeners that only wait for acknowledgements.
pub const ACK_WAITER_APPLICATION_NAME: &str = "axum_drf_ack_waiter";

impl PgDb {
    /// How many listener connections (one per running instance) this database has now.
    pub async fn count_listeners(&self) -> Result<i64, StoreError> {
        self.count(1);
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity \
                 WHERE application_name = $1 AND datname = current_database()",
                &[&LISTENER_APPLICATION_NAME],
            )
            .await
            .map_err(map_err)?;
        Ok(row.get::<_, i64>(0))
    }
}

/// A live `LISTEN` subscription; see [`PgDb::listen`].
pub struct PgListener {
    rx: mpsc::UnboundedReceiver<PgNotification>,
    // Dropping the client would close the connection that carries the notifications.
    _client: tokio_postgres::Client,
}

impl PgListener {
    /// The next notification, or `None` when the connection is gone.
    pub async fn recv(&mut self) -> Option<PgNotification> {
        self.rx.recv().await
    }
}

async fn run_query(
    client: &deadpool_postgres::Object,
    stmt: &Statement,
) -> Result<Vec<Row>, StoreError> {
    let prepared = client.prepare_cached(&stmt.sql).await.map_err(map_err)?;
    let rows = client
        .query(&prepared, &params(&stmt.params))
        .await
        .map_err(map_err)?;
    rows.iter().map(decode_row).collect()
}

fn params(values: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

fn decode_row(row: &tokio_postgres::Row) -> Result<Row, StoreError> {
    let mut values = Vec::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let decode = |e: tokio_postgres::Error| StoreError::Decode(e.to_string());
        let v = match *col.type_() {
            Type::INT8 => row
                .try_get::<_, Option<i64>>(i)
                .map_err(decode)?
                .map(Value::Int),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(i)
                .map_err(decode)?
                .map(|v| Value::Int(v.into())),
            Type::INT2 => row
                .try_get::<_, Option<i16>>(i)
                .map_err(decode)?
                .map(|v| Value::Int(v.into())),
            Type::BOOL => row
                .try_get::<_, Option<bool>>(i)
                .map_err(decode)?
                .map(Value::Bool),
            _ => row
                .try_get::<_, Option<String>>(i)
                .map_err(decode)?
                .map(Value::Text),
        };
        values.push(v.unwrap_or(Value::Null));
    }
    Ok(Row(values))
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            // Parameters are typed by PostgreSQL's inference; narrow to what it asked for.
            Value::Int(v) => match *ty {
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => v.to_string().to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Value::Bool(v) => v.to_sql(ty, out),
            Value::Text(v) => v.as_str().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn map_err(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        if *db.code() == SqlState::UNIQUE_VIOLATION {
            return StoreError::UniqueViolation(db.message().to_owned());
        }
        if *db.code() == SqlState::FOREIGN_KEY_VIOLATION {
            return StoreError::ForeignKeyViolation(db.message().to_owned());
        }
    }
    StoreError::Postgres(e)
}
