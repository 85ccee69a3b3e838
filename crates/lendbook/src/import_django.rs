//! `lendbook import-django`: moves a running DRF deployment of this API (the reference's
//! `lending` app on Django's auth) into lendbook, in one transaction. The framework plans
//! Django's auth tables (`axum_drf::django`); this module adds the lending tables, the
//! per-owner counters, the checks on the target and the terminal progress bars.

use std::sync::Mutex;

use axum_drf::django::{auth, DjangoSource, ImportError, ImportPlan, ImportReport, Kind};
use axum_drf::store::{Database, Statement};
use indicatif::{ProgressBar, ProgressStyle};

/// Tables with this many rows or more get a progress bar (on a terminal).
const PROGRESS_THRESHOLD: u64 = 10_000;

/// What to import and how.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The Django database: a SQLite path, `sqlite://PATH` or `postgres://…`.
    pub from: String,
    /// Report what would be imported without writing anything.
    pub dry_run: bool,
    /// Delete the target's users, groups and lending data first.
    pub replace: bool,
    /// Show progress bars for large tables (only drawn when stderr is a terminal).
    pub progress: bool,
    /// `[auth] token_ttl`: imported tokens end that long after their creation in Django.
    pub token_ttl: Option<std::time::Duration>,
}

/// The lending tables, in the order their foreign keys need: `(table, columns)`. The source
/// and target share table names (Django's `lending_*`); only `when` is renamed.
const LENDING_TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "lending_friend",
        &[
            ("id", Kind::Int),
            ("owner_id", Kind::Int),
            ("name", Kind::Text),
        ],
    ),
    (
        "lending_belonging",
        &[
            ("id", Kind::Int),
            ("owner_id", Kind::Int),
            ("name", Kind::Text),
        ],
    ),
    (
        "lending_borrowed",
        &[
            ("id", Kind::Int),
            ("owner_id", Kind::Int),
            ("what_id", Kind::Int),
            ("to_who_id", Kind::Int),
            ("when", Kind::Time),
            ("returned", Kind::Time),
        ],
    ),
];

/// Target column names where they differ from Django's.
fn target_column(column: &str) -> &str {
    match column {
        "when" => "lent_at",
        other => other,
    }
}

/// Imports the Django database `options.from` into `target` (migrated), returning what was
/// (or, on a dry run, would be) imported. Refuses a target with users or groups unless
/// `options.replace`; on any error nothing is written.
pub async fn import(
    target: &Database,
    options: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let mut source = DjangoSource::open(&options.from).await?;
    if options.progress {
        source.set_progress(progress_bars());
    }
    let existing = auth::existing_data(target).await?;
    if let (Some(existing), false, false) = (&existing, options.replace, options.dry_run) {
        return Err(ImportError::NotEmpty(existing.clone()));
    }
    let mut plan = ImportPlan::new(target.backend(), source.tables().await?);
    if let (Some(existing), false) = (&existing, options.replace) {
        plan.note(format!(
            "the target is not empty ({existing}): the import would be refused without --replace"
        ));
    }
    auth::plan_import(&source, &mut plan, options.token_ttl).await?;
    for (table, columns) in LENDING_TABLES {
        if !plan.has_table(table) {
            continue;
        }
        let rows = source.read(table, columns).await?;
        let names: Vec<&str> = columns.iter().map(|(c, _)| target_column(c)).collect();
        plan.insert_rows(table, table, &names, rows);
        let high = source.id_high_water(table).await?;
        plan.continue_ids_after(table, high);
    }
    // The triggers counted every insert (and the deletes of --replace); recount anyway so
    // the counters are exact whatever the target held before.
    plan.push_last(Statement::new("DELETE FROM lending_owner_count", vec![]));
    for (table, _) in LENDING_TABLES {
        plan.push_last(Statement::new(
            format!(
                "INSERT INTO lending_owner_count (tbl, owner_id, n) \
                 SELECT '{table}', owner_id, COUNT(*) FROM {table} GROUP BY owner_id"
            ),
            vec![],
        ));
    }
    plan.finish_unknown_tables(&source).await?;
    if options.dry_run {
        return Ok(plan.dry_run());
    }
    let mut before = Vec::new();
    if existing.is_some() {
        // The lending rows go with their owners (ON DELETE CASCADE); said explicitly so the
        // order does not depend on it.
        for (table, _) in LENDING_TABLES.iter().rev() {
            before.push(Statement::new(format!("DELETE FROM {table}"), vec![]));
        }
        before.extend(auth::clear_statements(target.backend()));
    }
    let spinner = options.progress.then(|| {
        let bar = ProgressBar::new_spinner().with_message(format!(
            "writing {} statements in one transaction",
            plan.statement_count()
        ));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    });
    let report = plan.run_after(target, before).await;
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    report
}

/// One progress bar per large table, drawn on stderr when it is a terminal.
fn progress_bars() -> axum_drf::django::source::ProgressFn {
    let current: Mutex<Option<(String, ProgressBar)>> = Mutex::new(None);
    Box::new(move |table: &str, done: u64, total: u64| {
        let Ok(mut current) = current.lock() else {
            return;
        };
        if !matches!(current.as_ref(), Some((t, _)) if t == table) {
            if let Some((_, bar)) = current.take() {
                bar.finish();
            }
            if total < PROGRESS_THRESHOLD {
                return;
            }
            let bar = ProgressBar::new(total).with_message(table.to_owned());
            if let Ok(style) =
                ProgressStyle::with_template("{msg:24} [{bar:40}] {pos}/{len} rows ({eta})")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            *current = Some((table.to_owned(), bar));
        }
        if let Some((_, bar)) = current.as_ref() {
            bar.set_position(done);
            if done >= total {
                bar.finish();
            }
        }
    })
}
