//! Resources: the counterpart of DRF's `ModelViewSet` + `DefaultRouter`.
//!
//! A resource declares its table, fields, list filters, permission policy and scope; the
//! framework derives list / create / retrieve / update / partial_update / destroy routes,
//! the API root, OPTIONS metadata, DRF's validation and error texts, and runs every request
//! through the same path: authenticate → view permission → (detail) scoped lookup, 404 →
//! object permission → validate → act.
//!
//! ```
//! use axum_drf::resource::{Field, Resource};
//! use axum_drf::permissions::Model;
//! let belongings = Resource::new("belongings", Model::new("lending", "Belonging"), "lending_belonging")
//!     .field(Field::id())
//!     .field(Field::char("name", "t.name", 100));
//! assert_eq!(belongings.basename(), "belongings");
//! ```

pub(crate) mod field;
mod query;
mod routes;

use std::sync::Arc;

pub use field::{Field, FieldKind};
pub use query::{Loaded, ObjectRef};
pub use routes::{DetailAction, ResourceRouter};

pub use crate::permissions::Scope;
use crate::permissions::{IsAuthenticated, Model, Perm, Permission};
use crate::store::Value as Sql;

/// A boolean list filter: `?param=true` or `?param=1` adds `sql` to the WHERE clause;
/// any other value is ignored (as the reference's `TRUE_VALUES` check does).
#[derive(Debug, Clone, Copy)]
pub struct ListFilter {
    /// Query parameter name.
    pub param: &'static str,
    /// Condition against alias `t`, may use `{name}` parameters.
    pub sql: &'static str,
}

type ParamFn = Arc<dyn Fn() -> Vec<(&'static str, Sql)> + Send + Sync>;

/// A declared resource. See the module docs.
#[derive(Clone)]
pub struct Resource {
    pub(crate) basename: &'static str,
    pub(crate) model: Model,
    pub(crate) table: &'static str,
    pub(crate) owner_column: &'static str,
    pub(crate) fields: Vec<Field>,
    pub(crate) filters: Vec<ListFilter>,
    pub(crate) params: ParamFn,
    pub(crate) permission: Perm,
    pub(crate) scope: Scope,
    pub(crate) page_size: i64,
    pub(crate) owner_count: Option<&'static str>,
    // Scopes of the resources that related fields point at, filled in by the router.
    pub(crate) targets: Vec<(&'static str, Model, Scope)>,
    // List SQL text per request shape (scope form, filters on): see `Resource::list`.
    pub(crate) list_sql: dashmap::DashMap<(String, u64), Arc<query::ListSql>>,
}

impl Resource {
    /// A resource at `/<prefix>/<basename>/` over `table`, whose rows are called by the
    /// model's class name in messages (`No Friend matches the given query.`) and whose
    /// permissions are named after it (`lending.view_friend`).
    pub fn new(basename: &'static str, model: Model, table: &'static str) -> Self {
        Resource {
            basename,
            model,
            table,
            owner_column: "owner_id",
            fields: Vec::new(),
            filters: Vec::new(),
            params: Arc::new(Vec::new),
            permission: Perm::new(IsAuthenticated),
            scope: Scope::Owner,
            page_size: 100,
            owner_count: None,
            targets: Vec::new(),
            list_sql: dashmap::DashMap::new(),
        }
    }

    /// Adds a field (order is the JSON order).
    pub fn field(mut self, field: Field) -> Self {
        self.fields.push(field);
        self
    }

    /// Adds a list filter.
    pub fn filter(mut self, param: &'static str, sql: &'static str) -> Self {
        self.filters.push(ListFilter { param, sql });
        self
    }

    /// Supplies values for `{name}` placeholders, computed per request.
    pub fn params(
        mut self,
        f: impl Fn() -> Vec<(&'static str, Sql)> + Send + Sync + 'static,
    ) -> Self {
        self.params = Arc::new(f);
        self
    }

    /// The permission policy.
    pub fn permission(mut self, p: impl Permission) -> Self {
        self.permission = Perm::new(p);
        self
    }

    /// The row scope.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// The column holding the owner's user id (default `owner_id`).
    pub fn owner_column(mut self, column: &'static str) -> Self {
        self.owner_column = column;
        self
    }

    /// A table `(tbl, owner_id, n)` in which triggers keep this table's row count per owner:
    /// owner-scoped lists without filters then read their total with one index seek, so
    /// their cost does not grow with the number of rows a user has.
    pub fn owner_count(mut self, table: &'static str) -> Self {
        self.owner_count = Some(table);
        self
    }

    /// Default page size (DRF's `PAGE_SIZE`, 100).
    pub fn page_size(mut self, n: i64) -> Self {
        self.page_size = n;
        self
    }

    /// URL name.
    pub fn basename(&self) -> &'static str {
        self.basename
    }

    /// The model, for permission names.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The table.
    pub fn table(&self) -> &'static str {
        self.table
    }
}

/// A [`Migration`](crate::store::Migration) that creates the per-owner row counts
/// [`Resource::owner_count`] reads: the table `$counts (tbl, owner_id, n)`, triggers on each
/// listed table (owner column `owner_id`) that keep it exact through inserts, deletes and
/// cascades, and the counts of the rows already there. Built at compile time, so an app's
/// migration list stays a `const`.
///
/// ```
/// use axum_drf::store::Migration;
/// const COUNTS: Migration =
///     axum_drf::owner_count_migration!("notes_0002_counts", "notes_owner_count", ["notes_note"]);
/// assert!(COUNTS.sqlite.contains("CREATE TRIGGER notes_note_count_insert"));
/// assert!(COUNTS.postgres.contains("EXECUTE FUNCTION notes_owner_count_fn()"));
/// ```
#[macro_export]
macro_rules! owner_count_migration {
    ($name:literal, $counts:literal, [$($table:literal),+ $(,)?]) => {
        $crate::store::Migration {
            name: $name,
            sqlite: concat!(
                "CREATE TABLE ", $counts, " (tbl TEXT NOT NULL, owner_id INTEGER NOT NULL, ",
                "n INTEGER NOT NULL, PRIMARY KEY (tbl, owner_id));\n",
                $(
                    "CREATE TRIGGER ", $table, "_count_insert AFTER INSERT ON ", $table, " BEGIN ",
                    "INSERT INTO ", $counts, " (tbl, owner_id, n) VALUES ('", $table, "', NEW.owner_id, 1) ",
                    "ON CONFLICT (tbl, owner_id) DO UPDATE SET n = n + 1; END;\n",
                    "CREATE TRIGGER ", $table, "_count_delete AFTER DELETE ON ", $table, " BEGIN ",
                    "UPDATE ", $counts, " SET n = n - 1 WHERE tbl = '", $table, "' AND owner_id = OLD.owner_id; END;\n",
                    "INSERT INTO ", $counts, " (tbl, owner_id, n) SELECT '", $table, "', owner_id, COUNT(*) FROM ",
                    $table, " GROUP BY owner_id;\n",
                )+
            ),
            postgres: concat!(
                "CREATE TABLE ", $counts, " (tbl TEXT NOT NULL, owner_id BIGINT NOT NULL, ",
                "n BIGINT NOT NULL, PRIMARY KEY (tbl, owner_id));\n",
                "CREATE FUNCTION ", $counts, "_fn() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ",
                "IF TG_OP = 'INSERT' THEN INSERT INTO ", $counts, " (tbl, owner_id, n) ",
                "VALUES (TG_TABLE_NAME, NEW.owner_id, 1) ON CONFLICT (tbl, owner_id) ",
                "DO UPDATE SET n = ", $counts, ".n + 1; RETURN NEW; END IF; ",
                "UPDATE ", $counts, " SET n = n - 1 WHERE tbl = TG_TABLE_NAME AND owner_id = OLD.owner_id; ",
                "RETURN OLD; END $$;\n",
                $(
                    "CREATE TRIGGER ", $table, "_count AFTER INSERT OR DELETE ON ", $table,
                    " FOR EACH ROW EXECUTE FUNCTION ", $counts, "_fn();\n",
                    "INSERT INTO ", $counts, " (tbl, owner_id, n) SELECT '", $table, "', owner_id, COUNT(*) FROM ",
                    $table, " GROUP BY owner_id;\n",
                )+
            ),
        }
    };
}
