//! Importing a Django project's data: the generic half (Django's auth schema, password
//! hashes, DRF's tokens, django-guardian's object permissions). An application adds its
//! own tables to the same [`ImportPlan`] and runs it in one transaction.
//!
//! ```no_run
//! # async fn demo() -> Result<(), axum_drf::django::ImportError> {
//! use axum_drf::django::{auth, DjangoSource, ImportPlan};
//! use axum_drf::store::Database;
//!
//! let target = Database::connect("sqlite://new.sqlite3").await?;
//! let source = DjangoSource::open("sqlite:///srv/django/db.sqlite3").await?;
//! let mut plan = ImportPlan::new(target.backend(), source.tables().await?);
//! auth::plan_import(&source, &mut plan, None).await?;
//! // ... the application's tables ...
//! plan.finish_unknown_tables(&source).await?;
//! let report = plan.run(&target).await?;
//! println!("{report}");
//! # Ok(()) }
//! ```

pub mod auth;
pub mod source;

use std::collections::BTreeSet;
use std::fmt;

pub use source::{DjangoSource, Kind};

use crate::store::{Backend, Database, Statement, StoreError, Value};

/// Why an import could not run. Nothing has been written when it is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The Django database could not be read.
    #[error("reading the Django database: {0}")]
    Source(String),
    /// The Django database lacks what the import needs, or holds inconsistent rows.
    #[error("{0}")]
    Invalid(String),
    /// The target already has data and `--replace` was not given.
    #[error("the target database is not empty ({0}); use --replace to overwrite it")]
    NotEmpty(String),
    /// Writing the target failed; the transaction was rolled back.
    #[error("writing the target database: {0}")]
    Store(#[from] StoreError),
}

/// Rows per multi-row `INSERT` (bounded by SQLite's and PostgreSQL's parameter limits).
const MAX_PARAMS_PER_INSERT: usize = 30_000;
const MAX_ROWS_PER_INSERT: usize = 500;

/// What an import will write, built table by table, then run in one transaction.
#[derive(Debug)]
pub struct ImportPlan {
    backend: Backend,
    source_tables: BTreeSet<String>,
    handled: BTreeSet<String>,
    statements: Vec<Statement>,
    finish: Vec<Statement>,
    report: ImportReport,
}

/// What an import moved (rows per table) and what it did not (by name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// `(source table, rows imported)`, in import order.
    pub rows: Vec<(String, u64)>,
    /// Content not imported or not usable as is, each naming the table or hasher.
    pub notes: Vec<String>,
    /// Whether this was a dry run (nothing written).
    pub dry_run: bool,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self.rows.iter().map(|(t, _)| t.len()).max().unwrap_or(0);
        let verb = if self.dry_run {
            "would import"
        } else {
            "imported"
        };
        for (table, n) in &self.rows {
            writeln!(f, "{table:<width$}  {n:>9} rows {verb}")?;
        }
        for note in &self.notes {
            writeln!(f, "not imported: {note}")?;
        }
        if self.dry_run {
            writeln!(f, "dry run: nothing was written")?;
        }
        Ok(())
    }
}

impl ImportPlan {
    /// An empty plan for a target on `backend`, reading a source with `source_tables`.
    pub fn new(backend: Backend, source_tables: Vec<String>) -> Self {
        ImportPlan {
            backend,
            source_tables: source_tables.into_iter().collect(),
            handled: BTreeSet::new(),
            statements: Vec::new(),
            finish: Vec::new(),
            report: ImportReport::default(),
        }
    }

    /// The target's engine.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the source has `table`.
    pub fn has_table(&self, table: &str) -> bool {
        self.source_tables.contains(table)
    }

    /// Inserts `rows` into `target` (`columns` in row order) with multi-row `INSERT`s, and
    /// reports them as `source` rows.
    pub fn insert_rows(
        &mut self,
        source: &str,
        target: &str,
        columns: &[&str],
        rows: Vec<Vec<Value>>,
    ) {
        self.record(source, rows.len() as u64);
        let per_insert = (MAX_PARAMS_PER_INSERT / columns.len().max(1)).min(MAX_ROWS_PER_INSERT);
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<Vec<Value>> = rows.by_ref().take(per_insert).collect();
            let mut sql = format!("INSERT INTO {target} ({}) VALUES ", columns.join(", "));
            let mut params = Vec::with_capacity(chunk.len() * columns.len());
            for (r, row) in chunk.into_iter().enumerate() {
                if r > 0 {
                    sql.push_str(", ");
                }
                sql.push('(');
                for c in 0..row.len() {
                    if c > 0 {
                        sql.push_str(", ");
                    }
                    sql.push('$');
                    sql.push_str(&(r * columns.len() + c + 1).to_string());
                }
                sql.push(')');
                params.extend(row);
            }
            self.statements.push(Statement::new(sql, params));
        }
    }

    /// Adds one statement to the transaction, in order.
    pub fn push(&mut self, statement: Statement) {
        self.statements.push(statement);
    }

    /// Adds a statement that runs after every insert (counters, sequences).
    pub fn push_last(&mut self, statement: Statement) {
        self.finish.push(statement);
    }

    /// Reports `n` rows of `source` as imported and marks the table handled.
    pub fn record(&mut self, source: &str, n: u64) {
        self.handled(source);
        match self.report.rows.iter_mut().find(|(t, _)| t == source) {
            Some((_, count)) => *count += n,
            None => self.report.rows.push((source.to_owned(), n)),
        }
    }

    /// Marks `table` as dealt with, so it is not reported as unknown.
    pub fn handled(&mut self, table: &str) {
        self.handled.insert(table.to_owned());
    }

    /// Reports content that is not imported or not usable, by name.
    pub fn note(&mut self, note: impl Into<String>) {
        self.report.notes.push(note.into());
    }

    /// After the ids of `table` are inserted as they were, makes its id sequence continue
    /// after `high_water` (or after its largest id, if higher), so new rows never reuse the
    /// id of a row deleted in the source.
    pub fn continue_ids_after(&mut self, table: &str, high_water: i64) {
        let sql = match self.backend {
            // SQLite's AUTOINCREMENT already moved past every inserted id.
            Backend::Sqlite => format!(
                "UPDATE sqlite_sequence SET seq = MAX(seq, $1) WHERE name = '{table}'; \
                 INSERT INTO sqlite_sequence (name, seq) SELECT '{table}', $1 \
                 WHERE $1 > 0 AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = '{table}')"
            ),
            Backend::Postgres => format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST(n, 1), n > 0) \
                 FROM (SELECT GREATEST(COALESCE(MAX(id), 0), $1::bigint) AS n FROM {table}) m"
            ),
        };
        match self.backend {
            Backend::Sqlite => {
                for part in sql.split("; ") {
                    self.finish
                        .push(Statement::new(part.to_owned(), vec![high_water.into()]));
                }
            }
            Backend::Postgres => self
                .finish
                .push(Statement::new(sql, vec![high_water.into()])),
        }
    }

    /// Reports every source table no step has handled, with its row count.
    pub async fn finish_unknown_tables(
        &mut self,
        source: &DjangoSource,
    ) -> Result<(), ImportError> {
        let unknown: Vec<String> = self
            .source_tables
            .difference(&self.handled)
            .cloned()
            .collect();
        for table in unknown {
            let n = source.count(&table).await?;
            self.note(format!("table {table} ({n} rows): unknown to lendbook"));
        }
        Ok(())
    }

    /// The report so far.
    pub fn report(&self) -> &ImportReport {
        &self.report
    }

    /// Statements the plan will run, in order.
    pub fn statement_count(&self) -> usize {
        self.statements.len() + self.finish.len()
    }

    /// Runs `before` (e.g. clearing the target), then the plan, in one transaction.
    pub async fn run_after(
        self,
        target: &Database,
        before: Vec<Statement>,
    ) -> Result<ImportReport, ImportError> {
        let mut all = before;
        all.extend(self.statements);
        all.extend(self.finish);
        target.transaction(all).await?;
        Ok(self.report)
    }

    /// Runs the plan in one transaction.
    pub async fn run(self, target: &Database) -> Result<ImportReport, ImportError> {
        self.run_after(target, Vec::new()).await
    }

    /// The report of a dry run: nothing is written.
    pub fn dry_run(self) -> ImportReport {
        ImportReport {
            dry_run: true,
            ..self.report
        }
    }
}
