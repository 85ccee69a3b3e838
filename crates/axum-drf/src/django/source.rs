//! Reading a Django project's database: SQLite (through `rusqlite`, opened read-only) or
//! PostgreSQL (through `tokio-postgres`). Only what an import needs: the table list, row
//! counts, whole tables as typed columns, and each table's id high-water mark.
//!
//! The import is a one-shot batch job, so SQLite is read on the calling thread rather than
//! through the server's worker threads.

use std::fmt;

use futures::{pin_mut, TryStreamExt};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::ImportError;
use crate::store::Value;

/// How a source column is read; every kind passes SQL NULL through as [`Value::Null`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An integer column (ids, foreign keys).
    Int,
    /// A text column.
    Text,
    /// A boolean (SQLite: 0/1).
    Bool,
    /// A `DateTimeField`, read as microseconds since the Unix epoch ([`Value::Int`]).
    Time,
}

/// Called as rows are read: `(table, rows read so far, rows in the table)`.
pub type ProgressFn = Box<dyn Fn(&str, u64, u64) + Send + Sync>;

/// A Django database opened for reading.
pub struct DjangoSource {
    conn: Conn,
    progress: Option<ProgressFn>,
}

enum Conn {
    Sqlite(Connection),
    Postgres(tokio_postgres::Client),
}

impl fmt::Debug for DjangoSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.conn {
            Conn::Sqlite(_) => "DjangoSource(sqlite)",
            Conn::Postgres(_) => "DjangoSource(postgres)",
        })
    }
}

/// Rows reported to the progress callback at a time.
const PROGRESS_STEP: u64 = 1024;

impl DjangoSource {
    /// Opens `postgres://…`/`postgresql://…`, or a SQLite file given as `sqlite://PATH`,
    /// `sqlite:PATH` or a bare path. A SQLite file is opened read-only and must exist.
    pub async fn open(url: &str) -> Result<Self, ImportError> {
        let conn = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                // The URL may carry a password: it is not repeated in the message.
                .map_err(|e| ImportError::Source(format!("cannot connect to PostgreSQL: {e}")))?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %e, "connection to the Django database ended");
                }
            });
            Conn::Postgres(client)
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            if !std::path::Path::new(path).is_file() {
                return Err(ImportError::Source(format!("no SQLite file at {path}")));
            }
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| ImportError::Source(format!("cannot open {path}: {e}")))?;
            Conn::Sqlite(conn)
        };
        Ok(DjangoSource {
            conn,
            progress: None,
        })
    }

    /// Reports reading progress to `progress` (e.g. a terminal progress bar).
    pub fn set_progress(&mut self, progress: ProgressFn) {
        self.progress = Some(progress);
    }

    /// The database's tables (SQLite's internal ones excluded), sorted.
    pub async fn tables(&self) -> Result<Vec<String>, ImportError> {
        let mut names = match &self.conn {
            Conn::Sqlite(c) => {
                let mut stmt = c
                    .prepare(
                        "SELECT name FROM sqlite_master WHERE type = 'table' \
                         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
                    )
                    .map_err(sqlite_err)?;
                let rows = stmt
                    .query_map([], |r| r.get::<_, String>(0))
                    .map_err(sqlite_err)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(sqlite_err)?
            }
            Conn::Postgres(c) => c
                .query(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                    &[],
                )
                .await
                .map_err(pg_err)?
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect(),
        };
        names.sort();
        Ok(names)
    }

    /// Rows in `table`.
    pub async fn count(&self, table: &str) -> Result<u64, ImportError> {
        let sql = format!("SELECT COUNT(*) FROM {}", quote(table));
        let n: i64 = match &self.conn {
            Conn::Sqlite(c) => c.query_row(&sql, [], |r| r.get(0)).map_err(sqlite_err)?,
            Conn::Postgres(c) => c.query_one(&sql, &[]).await.map_err(pg_err)?.get(0),
        };
        Ok(n.max(0) as u64)
    }

    /// The column names of `table`.
    pub async fn columns(&self, table: &str) -> Result<Vec<String>, ImportError> {
        match &self.conn {
            Conn::Sqlite(c) => {
                let mut stmt = c
                    .prepare("SELECT name FROM pragma_table_info(?1)")
                    .map_err(sqlite_err)?;
                let rows = stmt
                    .query_map([table], |r| r.get::<_, String>(0))
                    .map_err(sqlite_err)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(sqlite_err)
            }
            Conn::Postgres(c) => Ok(c
                .query(
                    "SELECT column_name::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = $1",
                    &[&table],
                )
                .await
                .map_err(pg_err)?
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect()),
        }
    }

    /// The highest id `table`'s sequence has handed out (SQLite's `sqlite_sequence`,
    /// PostgreSQL's serial/identity sequence), which may exceed the largest id still
    /// present: the target must not reuse the ids of deleted rows either.
    pub async fn id_high_water(&self, table: &str) -> Result<i64, ImportError> {
        let n: Option<i64> = match &self.conn {
            Conn::Sqlite(c) => {
                let has_sequence: bool = c
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence')",
                        [],
                        |r| r.get(0),
                    )
                    .map_err(sqlite_err)?;
                if has_sequence {
                    c.query_row(
                        "SELECT MAX(seq) FROM sqlite_sequence WHERE name = ?1",
                        [table],
                        |r| r.get(0),
                    )
                    .map_err(sqlite_err)?
                } else {
                    None
                }
            }
            Conn::Postgres(c) => c
                .query_one(
                    "SELECT pg_sequence_last_value(pg_get_serial_sequence($1, 'id')::regclass)",
                    &[&quote(table)],
                )
                .await
                .map_err(pg_err)?
                .get(0),
        };
        Ok(n.unwrap_or(0))
    }

    /// Reads `columns` of every row of `table`, ordered by the first column, converting
    /// each value to `kind`. A value of another type fails with the table, column and row.
    pub async fn read(
        &self,
        table: &str,
        columns: &[(&str, Kind)],
    ) -> Result<Vec<Vec<Value>>, ImportError> {
        let total = self.count(table).await?;
        let report = |done: u64| {
            if let Some(progress) = &self.progress {
                progress(table, done, total);
            }
        };
        report(0);
        let mut next_report = PROGRESS_STEP;
        let mut out = Vec::with_capacity(total.min(1 << 20) as usize);
        match &self.conn {
            Conn::Sqlite(c) => {
                let list: Vec<String> = columns.iter().map(|(name, _)| quote(name)).collect();
                let sql = format!(
                    "SELECT {} FROM {} ORDER BY 1",
                    list.join(", "),
                    quote(table)
                );
                let mut stmt = c.prepare(&sql).map_err(sqlite_err)?;
                let mut rows = stmt.query([]).map_err(sqlite_err)?;
                while let Some(row) = rows.next().map_err(sqlite_err)? {
                    let mut values = Vec::with_capacity(columns.len());
                    for (i, (name, kind)) in columns.iter().enumerate() {
                        let raw = row.get_ref(i).map_err(sqlite_err)?;
                        values.push(
                            from_sqlite(raw, *kind)
                                .map_err(|e| bad_value(table, name, out.len(), &e))?,
                        );
                    }
                    out.push(values);
                    if out.len() as u64 >= next_report {
                        report(out.len() as u64);
                        next_report += PROGRESS_STEP;
                    }
                }
            }
            Conn::Postgres(c) => {
                // Casts make PostgreSQL do the conversions: any integer width to bigint,
                // timestamps (with or without time zone, read as UTC) to epoch microseconds.
                let list: Vec<String> = columns
                    .iter()
                    .map(|(name, kind)| match kind {
                        Kind::Int => format!("{}::bigint", quote(name)),
                        Kind::Text => format!("{}::text", quote(name)),
                        Kind::Bool => format!("{}::boolean", quote(name)),
                        Kind::Time => {
                            format!("(EXTRACT(EPOCH FROM {}) * 1000000)::bigint", quote(name))
                        }
                    })
                    .collect();
                let sql = format!(
                    "SELECT {} FROM {} ORDER BY 1",
                    list.join(", "),
                    quote(table)
                );
                let stream = c
                    .query_raw(&sql, std::iter::empty::<i64>())
                    .await
                    .map_err(pg_err)?;
                pin_mut!(stream);
                while let Some(row) = stream.try_next().await.map_err(pg_err)? {
                    let mut values = Vec::with_capacity(columns.len());
                    for (i, (_, kind)) in columns.iter().enumerate() {
                        values.push(match kind {
                            Kind::Int | Kind::Time => {
                                row.get::<_, Option<i64>>(i).map_or(Value::Null, Value::Int)
                            }
                            Kind::Text => row
                                .get::<_, Option<String>>(i)
                                .map_or(Value::Null, Value::Text),
                            Kind::Bool => row
                                .get::<_, Option<bool>>(i)
                                .map_or(Value::Null, Value::Bool),
                        });
                    }
                    out.push(values);
                    if out.len() as u64 >= next_report {
                        report(out.len() as u64);
                        next_report += PROGRESS_STEP;
                    }
                }
            }
        }
        report(out.len() as u64);
        Ok(out)
    }
}

fn from_sqlite(raw: ValueRef<'_>, kind: Kind) -> Result<Value, String> {
    Ok(match (kind, raw) {
        (_, ValueRef::Null) => Value::Null,
        (Kind::Int, ValueRef::Integer(i)) => Value::Int(i),
        (Kind::Text, ValueRef::Text(t)) => Value::Text(
            std::str::from_utf8(t)
                .map_err(|_| "text that is not UTF-8".to_owned())?
                .to_owned(),
        ),
        (Kind::Text, ValueRef::Integer(i)) => Value::Text(i.to_string()),
        (Kind::Bool, ValueRef::Integer(i)) => Value::Bool(i != 0),
        (Kind::Time, ValueRef::Text(t)) => {
            let text = std::str::from_utf8(t).map_err(|_| "a non-UTF-8 datetime".to_owned())?;
            Value::Int(parse_django_datetime(text)?)
        }
        (kind, other) => {
            return Err(format!(
                "{:?} where {kind:?} was expected",
                other.data_type()
            ))
        }
    })
}

/// Parses a datetime as Django's SQLite backend stores it: `YYYY-MM-DD HH:MM:SS[.ffffff]`,
/// in UTC when `USE_TZ = True` (an explicit `+HH:MM` offset is honoured too), into
/// microseconds since the Unix epoch.
///
/// ```
/// use axum_drf::django::source::parse_django_datetime;
/// assert_eq!(parse_django_datetime("1970-01-01 00:00:01.5").unwrap(), 1_500_000);
/// assert_eq!(parse_django_datetime("1970-01-01T01:00:00+01:00").unwrap(), 0);
/// assert!(parse_django_datetime("yesterday").is_err());
/// ```
pub fn parse_django_datetime(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z")
        .or_else(|_| chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%:z"))
    {
        return Ok(t.timestamp_micros());
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f"))
        .map(|t| t.and_utc().timestamp_micros())
        .map_err(|_| format!("the datetime {text:?}"))
}

/// An SQL identifier in double quotes (table names come from the source's own catalogue).
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn bad_value(table: &str, column: &str, row: usize, what: &str) -> ImportError {
    ImportError::Source(format!(
        "{table}.{column}, row {}: cannot read {what}",
        row + 1
    ))
}

fn sqlite_err(e: rusqlite::Error) -> ImportError {
    ImportError::Source(format!("sqlite: {e}"))
}

fn pg_err(e: tokio_postgres::Error) -> ImportError {
    ImportError::Source(format!("postgres: {e}"))
}
