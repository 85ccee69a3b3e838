//! The SQL a resource runs: built from its fields once per request shape, identical text on
//! both engines (so prepared statements are reused), never a query per row.

use serde_json::{Map, Value};

use super::field::{self, Field, FieldKind, Parsed};
use super::{ListFilter, Resource};
use crate::auth::User;
use crate::error::ApiError;
use crate::fields::Errors;
use crate::pagination::LimitOffset;
use crate::permissions::{scope_filter, Object, Scope};
use crate::store::{now_micros, Database, Row, Statement, StoreError, Value as Sql};

/// A row loaded for a detail route: its id, owner and rendered JSON.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Primary key.
    pub id: i64,
    /// Owner's user id.
    pub owner_id: Option<i64>,
    /// The rendered object.
    pub body: Value,
}

impl Object for Loaded {
    fn owner_id(&self) -> Option<i64> {
        self.owner_id
    }

    fn pk(&self) -> Option<i64> {
        Some(self.id)
    }
}

/// A loaded object with what an extra action needs to change and re-render it.
pub struct ObjectRef {
    pub(crate) resource: std::sync::Arc<Resource>,
    pub(crate) db: Database,
    pub(crate) user: Option<std::sync::Arc<User>>,
    /// The object as loaded (scope and object permission already passed).
    pub object: Loaded,
}

impl ObjectRef {
    /// Sets columns of this row (trusted values, not client input).
    pub async fn update_columns(&self, columns: &[(&'static str, Sql)]) -> Result<(), ApiError> {
        self.resource
            .update(&self.db, self.object.id, columns.to_vec())
            .await
            .map_err(ApiError::from)
    }

    /// Reloads and renders the row.
    pub async fn render(&self) -> Result<Value, ApiError> {
        let loaded = self
            .resource
            .fetch(&self.db, self.user.as_deref(), self.object.id)
            .await?
            .ok_or_else(|| self.resource.not_found())?;
        Ok(loaded.body)
    }

    /// The database, for action-specific statements.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Current time in storage format.
    pub fn now(&self) -> i64 {
        now_micros()
    }
}

/// Replaces `{name}` placeholders with `$n`, appending their values to `params`.
fn bind(sql: &str, named: &[(&'static str, Sql)], params: &mut Vec<Sql>) -> String {
    let mut out = sql.to_owned();
    // Most expressions are plain columns: nothing to look for.
    if !out.contains('{') {
        return out;
    }
    for (name, value) in named {
        let token = format!("{{{name}}}");
        if out.contains(&token) {
            params.push(value.clone());
            out = out.replace(&token, &format!("${}", params.len()));
        }
    }
    out
}

impl Resource {
    pub(crate) fn not_found(&self) -> ApiError {
        ApiError::NotFound(format!(
            "No {} matches the given query.",
            self.model.object_name()
        ))
    }

    fn columns(&self, named: &[(&'static str, Sql)], params: &mut Vec<Sql>) -> String {
        let mut cols: Vec<String> = self
            .fields
            .iter()
            .map(|f| bind(f.select, named, params))
            .collect();
        cols.push(format!("t.{}", self.owner_column));
        cols.join(", ")
    }

    fn scope_sql(&self, user: Option<&User>, params: &mut Vec<Sql>) -> String {
        let owner = format!("t.{}", self.owner_column);
        let filter = scope_filter(
            self.scope,
            user,
            &self.model,
            &owner,
            "t.id",
            params.len() + 1,
        );
        params.extend(filter.params);
        filter.sql
    }

    fn render_row(&self, row: &Row) -> Result<Loaded, ApiError> {
        let mut body = Map::new();
        for (i, f) in self.fields.iter().enumerate() {
            body.insert(f.name.to_owned(), f.render(row, i)?);
        }
        let id = body.get("id").and_then(Value::as_i64).unwrap_or_default();
        Ok(Loaded {
            id,
            owner_id: row.opt_int(self.fields.len())?,
            body: Value::Object(body),
        })
    }

    /// The rows as a JSON array, written straight into bytes: no `Value` tree per row.
    fn write_rows(&self, rows: &[Row]) -> Result<Vec<u8>, ApiError> {
        let mut out = Vec::with_capacity(64 + rows.len() * 24 * self.fields.len());
        out.push(b'[');
        for (n, row) in rows.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.push(b'{');
            for (i, f) in self.fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                // Field names are identifiers from code: no escaping needed.
                out.push(b'"');
                out.extend_from_slice(f.name.as_bytes());
                out.extend_from_slice(b"\":");
                f.write_json(row, i, &mut out)?;
            }
            out.push(b'}');
        }
        out.push(b']');
        Ok(out)
    }

    /// One page plus the total, in one round trip.
    pub(crate) async fn list(
        &self,
        db: &Database,
        user: Option<&User>,
        filters: &[&ListFilter],
        page: &LimitOffset,
    ) -> Result<(i64, Vec<u8>), ApiError> {
        let named = (self.params)();
        let mut where_params = Vec::new();
        let mut conditions = vec![self.scope_sql(user, &mut where_params)];
        for f in filters {
            conditions.push(bind(f.sql, &named, &mut where_params));
        }
        let where_sql = conditions.join(" AND ");
        let count = match (self.owner_count, self.scope, user) {
            (Some(counts), Scope::Owner, Some(user)) if filters.is_empty() => Statement::new(
                format!(
                    "SELECT COALESCE((SELECT n FROM {counts} WHERE tbl = $1 AND owner_id = $2), 0)"
                ),
                vec![Sql::Text(self.table.to_owned()), Sql::Int(user.id)],
            ),
            _ => Statement::new(
                format!("SELECT COUNT(*) FROM {} t WHERE {where_sql}", self.table),
                where_params.clone(),
            ),
        };
        // The page query numbers its select-list parameters first, then the WHERE ones.
        let mut params = Vec::new();
        let cols = self.columns(&named, &mut params);
        let mut rows_where = vec![self.scope_sql(user, &mut params)];
        for f in filters {
            rows_where.push(bind(f.sql, &named, &mut params));
        }
        params.push(Sql::Int(page.limit));
        params.push(Sql::Int(page.offset));
        let n = params.len();
        let rows = Statement::new(
            format!(
                "SELECT {cols} FROM {} t WHERE {} ORDER BY t.id LIMIT ${} OFFSET ${}",
                self.table,
                rows_where.join(" AND "),
                n - 1,
                n
            ),
            params,
        );
        let mut results = db.read_batch(vec![count, rows]).await?.into_iter();
        let count = results
            .next()
            .and_then(|r| r.into_iter().next())
            .map(|r| r.int(0))
            .transpose()?
            .unwrap_or(0);
        let rows = results.next().unwrap_or_default();
        Ok((count, self.write_rows(&rows)?))
    }

    /// The row with `id` if the user's scope reaches it.
    pub(crate) async fn fetch(
        &self,
        db: &Database,
        user: Option<&User>,
        id: i64,
    ) -> Result<Option<Loaded>, ApiError> {
        let named = (self.params)();
        let mut params = Vec::new();
        let cols = self.columns(&named, &mut params);
        params.push(Sql::Int(id));
        let id_param = params.len();
        let scope = self.scope_sql(user, &mut params);
        let sql = format!(
            "SELECT {cols} FROM {} t WHERE t.id = ${id_param} AND {scope}",
            self.table
        );
        db.query_opt(sql, params)
            .await?
            .map(|row| self.render_row(&row))
            .transpose()
    }

    /// DRF's serializer validation: every writable field in order, errors collected; then
    /// referenced ids are checked against the rows the user reaches under the referenced
    /// resource's scope.
    pub(crate) async fn validate(
        &self,
        db: &Database,
        user: &User,
        data: &Map<String, Value>,
        partial: bool,
        form: bool,
    ) -> Result<Vec<(&'static str, Sql)>, ApiError> {
        let mut errors = Errors::default();
        let mut columns = Vec::new();
        let mut references: Vec<(&Field, i64, String)> = Vec::new();
        for f in self.fields.iter().filter(|f| f.writable()) {
            let Some(value) = data.get(f.name) else {
                if let Some(message) = field::missing(f, data, partial) {
                    errors.add(f.name, message);
                }
                continue;
            };
            let column = f.column.unwrap_or(f.name);
            match field::parse(f, value, form) {
                Ok(Parsed::Value(v)) => columns.push((column, v)),
                Ok(Parsed::Reference {
                    id: Some(id),
                    shown,
                }) => references.push((f, id, shown)),
                Ok(Parsed::Reference { id: None, shown }) => {
                    errors.add(f.name, does_not_exist(&shown))
                }
                Err(messages) => errors.extend(f.name, messages),
            }
        }
        if !references.is_empty() {
            let stmts = references
                .iter()
                .map(|(f, id, _)| {
                    let FieldKind::Related {
                        table,
                        owner_column,
                    } = f.kind
                    else {
                        unreachable!("only related fields produce references")
                    };
                    // The target's own scope when it is a registered resource, else
                    // ownership (what the reference's OwnedPrimaryKeyRelatedField checks).
                    let (scope, model) = self
                        .targets
                        .iter()
                        .find(|(t, _, _)| *t == table)
                        .map(|(_, m, s)| (*s, m.clone()))
                        .unwrap_or((Scope::Owner, self.model.clone()));
                    let owner = format!("r.{owner_column}");
                    let filter = scope_filter(scope, Some(user), &model, &owner, "r.id", 2);
                    let mut params = vec![Sql::Int(*id)];
                    params.extend(filter.params);
                    Statement::new(
                        format!("SELECT 1 FROM {table} r WHERE r.id = $1 AND {}", filter.sql),
                        params,
                    )
                })
                .collect();
            let found = db.read_batch(stmts).await?;
            for ((f, id, shown), rows) in references.iter().zip(found) {
                if rows.is_empty() {
                    errors.add(f.name, does_not_exist(shown));
                } else {
                    columns.push((f.column.unwrap_or(f.name), Sql::Int(*id)));
                }
            }
        }
        errors.into_result()?;
        // Keep declaration order so the SQL text, and its prepared statement, is stable.
        let order = |c: &str| self.fields.iter().position(|f| f.column == Some(c));
        columns.sort_by_key(|(c, _)| order(c));
        Ok(columns)
    }

    pub(crate) async fn insert(
        &self,
        db: &Database,
        user_id: i64,
        columns: Vec<(&'static str, Sql)>,
    ) -> Result<i64, StoreError> {
        let mut names = vec![self.owner_column];
        let mut params = vec![Sql::Int(user_id)];
        for f in &self.fields {
            if let Some(c) = f.created_at {
                names.push(c);
                params.push(Sql::Int(now_micros()));
            }
        }
        for (c, v) in columns {
            names.push(c);
            params.push(v);
        }
        let placeholders: Vec<String> = (1..=params.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({}) RETURNING id",
            self.table,
            names.join(", "),
            placeholders.join(", ")
        );
        let row = db
            .query_opt(sql, params)
            .await?
            .ok_or_else(|| StoreError::Decode("INSERT returned no id".into()))?;
        row.int(0)
    }

    pub(crate) async fn update(
        &self,
        db: &Database,
        id: i64,
        columns: Vec<(&'static str, Sql)>,
    ) -> Result<(), StoreError> {
        if columns.is_empty() {
            return Ok(());
        }
        let mut params = Vec::with_capacity(columns.len() + 1);
        let sets: Vec<String> = columns
            .into_iter()
            .map(|(c, v)| {
                params.push(v);
                format!("{c} = ${}", params.len())
            })
            .collect();
        params.push(Sql::Int(id));
        let sql = format!(
            "UPDATE {} SET {} WHERE id = ${}",
            self.table,
            sets.join(", "),
            params.len()
        );
        db.execute(sql, params).await?;
        Ok(())
    }

    /// A write refused by a foreign key lost a race with the delete of a row it names,
    /// after validation had found it. Had the delete come first, validation would have
    /// answered DRF's 400 for that field — so validate again, now that it is gone, and
    /// answer that. (Not a 500: the client did nothing wrong that a retry cannot show.)
    pub(crate) async fn vanished_reference(
        &self,
        db: &Database,
        user: &User,
        data: &Map<String, Value>,
        partial: bool,
        form: bool,
        error: StoreError,
    ) -> ApiError {
        match self.validate(db, user, data, partial, form).await {
            Err(answer) => answer,
            // Every named row is there: the violated key is not one a field names.
            Ok(_) => error.into(),
        }
    }

    pub(crate) async fn delete(&self, db: &Database, id: i64) -> Result<(), ApiError> {
        db.execute(
            format!("DELETE FROM {} WHERE id = $1", self.table),
            vec![Sql::Int(id)],
        )
        .await?;
        Ok(())
    }
}

fn does_not_exist(shown: &str) -> String {
    format!("Invalid pk \"{shown}\" - object does not exist.")
}
