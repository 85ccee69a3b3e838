//! SQLite on dedicated threads: each worker owns a connection with a prepared-statement
//! cache and takes jobs from one shared channel. Async tasks never block on SQLite, and no
//! `spawn_blocking` thread explosion happens under load.

use std::path::Path;
use std::sync::Arc;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags, ToSql, TransactionBehavior};
use tokio::sync::oneshot;

use super::{sqlite_placeholders, Migration, Row, Statement, StoreError, Value};

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Handle to the SQLite worker threads; cheap to clone.
#[derive(Clone)]
pub struct SqliteDb {
    jobs: flume::Sender<Job>,
    _workers: Arc<Workers>,
    statements: Arc<std::sync::atomic::AtomicU64>,
}

struct Workers {
    handles: Vec<std::thread::JoinHandle<()>>,
}

impl Drop for Workers {
    fn drop(&mut self) {
        // Senders are gone once the last SqliteDb is dropped, so workers end by themselves;
        // joining here would deadlock if the last handle is dropped on a worker thread.
        self.handles.clear();
    }
}

/// Worker count: WAL lets readers run in parallel, a few threads cover a 2-8 core box.
pub(crate) fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 8)
}

/// Creates the database file readable by its owner only (0600, whatever the umask), before
/// SQLite opens it: it holds password hashes and emails. SQLite gives its `-wal` and `-shm`
/// files the database file's mode. An existing file is left as the operator made it.
fn create_private(path: &Path) -> Result<(), StoreError> {
    if path.as_os_str() == ":memory:" || path.as_os_str().is_empty() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        // Let SQLite report a bad path (e.g. a missing directory) in its own words.
        Err(_) => Ok(()),
    }
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(map_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(map_err)?;
    conn.execute_batch(
        // Memory-mapped reads: page accesses without a read() syscall each, shared with the
        // OS page cache rather than copied into every connection's own cache.
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA mmap_size = 268435456;",
    )
    .map_err(map_err)?;
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

impl SqliteDb {
    /// Opens (creating if needed) the database file with `workers` connection threads.
    pub fn open(path: impl AsRef<Path>, workers: usize) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        // Open one connection up front so a bad path fails here, not on the first query,
        // and so WAL mode is set before concurrent workers start.
        create_private(&path)?;
        let first = open_connection(&path)?;
        let (tx, rx) = flume::bounded::<Job>(1024);
        let mut handles = Vec::with_capacity(workers);
        let mut first = Some(first);
        for i in 0..workers.max(1) {
            let conn = match first.take() {
                Some(c) => c,
                None => open_connection(&path)?,
            };
            let rx = rx.clone();
            let handle = std::thread::Builder::new()
                .name(format!("sqlite-{i}"))
                .spawn(move || {
                    batch_scheduling();
                    let mut conn = conn;
                    while let Ok(job) = rx.recv() {
                        job(&mut conn);
                    }
                })
                .map_err(|e| StoreError::Pool(e.to_string()))?;
            handles.push(handle);
        }
        Ok(SqliteDb {
            jobs: tx,
            _workers: Arc::new(Workers { handles }),
            statements: Arc::default(),
        })
    }

    /// Statements executed so far (for tests and metrics).
    pub fn statements(&self) -> u64 {
        self.statements.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn count(&self, n: usize) {
        self.statements
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        self.jobs
            .send_async(job)
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    pub(super) async fn query(&self, stmt: Statement) -> Result<Vec<Row>, StoreError> {
        self.count(1);
        self.run(move |conn| query_rows(conn, &stmt)).await
    }

    pub(super) async fn execute(&self, stmt: Statement) -> Result<u64, StoreError> {
        self.count(1);
        self.run(move |conn| {
            let sql = sqlite_placeholders(&stmt.sql);
            let mut prepared = conn.prepare_cached(&sql).map_err(map_err)?;
            let n = prepared
                .execute(rusqlite::params_from_iter(stmt.params.iter()))
                .map_err(map_err)?;
            Ok(n as u64)
        })
        .await
    }

    pub(super) async fn transaction(
        &self,
        stmts: Vec<Statement>,
    ) -> Result<Vec<Vec<Row>>, StoreError> {
        self.count(stmts.len());
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let mut out = Vec::with_capacity(stmts.len());
            for stmt in &stmts {
                out.push(query_rows(&tx, stmt)?);
            }
            tx.commit().map_err(map_err)?;
            Ok(out)
        })
        .await
    }

    pub(super) async fn read_batch(
        &self,
        stmts: Vec<Statement>,
    ) -> Result<Vec<Vec<Row>>, StoreError> {
        self.count(stmts.len());
        // No explicit transaction: each statement reads its own snapshot, like the
        // autocommit queries DRF runs for a page and its count, and BEGIN/COMMIT would add
        // a lock round trip per request.
        self.run(move |conn| stmts.iter().map(|stmt| query_rows(conn, stmt)).collect())
            .await
    }

    pub(super) async fn migrate(
        &self,
        migrations: &[Migration],
    ) -> Result<Vec<&'static str>, StoreError> {
        let migrations = migrations.to_vec();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)",
            )
            .map_err(map_err)?;
            let mut applied = Vec::new();
            for m in &migrations {
                let done: bool = tx
                    .query_row(
                        "SELECT EXISTS(SELECT 1 FROM _migrations WHERE name = ?1)",
                        [m.name],
                        |r| r.get(0),
                    )
                    .map_err(map_err)?;
                if done {
                    continue;
                }
                tx.execute_batch(m.sqlite).map_err(map_err)?;
                tx.execute(
                    "INSERT INTO _migrations (name, applied_at) VALUES (?1, ?2)",
                    rusqlite::params![m.name, super::now_micros()],
                )
                .map_err(map_err)?;
                applied.push(m.name);
            }
            tx.commit().map_err(map_err)?;
            Ok(applied)
        })
        .await
    }
}

/// Linux `SCHED_BATCH`: a woken worker does not preempt the thread that queued the job,
/// so on a busy core the async workers queue several jobs before a worker runs and takes
/// them in one go, instead of a context switch per query.
#[cfg(target_os = "linux")]
fn batch_scheduling() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: sets the calling thread's policy; failure leaves the default in place.
    unsafe {
        libc::sched_setscheduler(0, libc::SCHED_BATCH, &param);
    }
}

#[cfg(not(target_os = "linux"))]
fn batch_scheduling() {}

fn query_rows(conn: &Connection, stmt: &Statement) -> Result<Vec<Row>, StoreError> {
    let sql = sqlite_placeholders(&stmt.sql);
    let mut prepared = conn.prepare_cached(&sql).map_err(map_err)?;
    let ncols = prepared.column_count();
    let mut rows = prepared
        .query(rusqlite::params_from_iter(stmt.params.iter()))
        .map_err(map_err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(map_err)? {
        let mut values = Vec::with_capacity(ncols);
        for i in 0..ncols {
            values.push(match row.get_ref(i).map_err(map_err)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(v) => Value::Int(v),
                ValueRef::Real(v) => Value::Int(v as i64),
                ValueRef::Text(t) | ValueRef::Blob(t) => {
                    Value::Text(String::from_utf8_lossy(t).into_owned())
                }
            });
        }
        out.push(Row(values));
    }
    Ok(out)
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Owned(rusqlite::types::Value::Null),
            Value::Int(v) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(*v)),
            Value::Bool(v) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(i64::from(*v))),
            Value::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
        })
    }
}

fn map_err(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        if f.code == ErrorCode::ConstraintViolation {
            let msg = msg.clone().unwrap_or_default();
            // Extended codes: 2067 UNIQUE, 1555 PRIMARYKEY, 787 FOREIGNKEY.
            match f.extended_code {
                2067 | 1555 => return StoreError::UniqueViolation(msg),
                787 => return StoreError::ForeignKeyViolation(msg),
                _ => {}
            }
        }
    }
    StoreError::Sqlite(e)
}
