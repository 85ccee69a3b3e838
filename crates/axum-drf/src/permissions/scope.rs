//! The SQL a resource adds to its queries so a user reaches only the objects of their
//! [`Scope`].

use super::store::{GRANTED_IDS, HAS_MODEL_PERM};
use super::{Model, Scope};
use crate::auth::User;
use crate::store::Value;

/// A `WHERE` fragment and the parameters its placeholders refer to.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeFilter {
    /// Portable SQL, always parenthesised or a single literal, safe to join with `AND`.
    pub sql: String,
    /// Values for the placeholders, numbered from the `first_param` given.
    pub params: Vec<Value>,
}

/// Renumbers `$1..$n` in `sql` to start at `$first`.
fn shift_placeholders(sql: &str, first: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            let mut n = 0usize;
            while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                n = n * 10 + d as usize;
                chars.next();
            }
            out.push_str(&format!("${}", n + first - 1));
        } else {
            out.push(c);
        }
    }
    out
}

/// The `WHERE` fragment restricting a query on `model`'s table to what `user` may reach
/// under `scope`. `owner_column` and `id_column` are the (trusted, code-supplied) column
/// expressions, e.g. `"t.owner_id"` and `"t.id"`; placeholders start at `$first_param`, so
/// the fragment can follow the query's own parameters.
///
/// - `Owner`: `owner_column = $n`.
/// - `Granted`: own objects, objects with a `view_<model>` grant to the user or one of their
///   groups, and every object if the user holds the model-level `view_<model>` (directly or
///   through a group) — all in the same statement, no extra round trip. An active superuser
///   gets no filter; an inactive user only their own objects.
/// - `All`: no filter (`TRUE`).
///
/// Anonymous users reach nothing under `Owner` and `Granted` (`FALSE`).
///
/// ```
/// use axum_drf::permissions::{scope_filter, Model, Scope};
/// use axum_drf::store::Value;
/// # let alice = axum_drf::auth::User { id: 7, username: "alice".into(), email: String::new(),
/// #     first_name: String::new(), last_name: String::new(), is_active: true, is_staff: false,
/// #     is_superuser: false, last_login: None, date_joined: 0, password: String::new(),
/// #     token_generation: 0 };
/// let model = Model::new("lending", "Belonging");
/// let f = scope_filter(Scope::Owner, Some(&alice), &model, "b.owner_id", "b.id", 3);
/// assert_eq!(f.sql, "b.owner_id = $3");
/// assert_eq!(f.params, vec![Value::Int(7)]);
/// let sql = format!("SELECT b.id FROM belongings b WHERE b.name LIKE $1 AND {} LIMIT $2", f.sql);
/// # let _ = sql;
///
/// let g = scope_filter(Scope::Granted, Some(&alice), &model, "owner_id", "id", 1);
/// assert!(g.sql.starts_with("(owner_id = $1 OR id IN ("));
/// assert_eq!(g.params, vec![Value::Int(7), "lending".into(), "view_belonging".into()]);
/// assert_eq!(scope_filter(Scope::All, None, &model, "owner_id", "id", 1).sql, "TRUE");
/// ```
pub fn scope_filter(
    scope: Scope,
    user: Option<&User>,
    model: &Model,
    owner_column: &str,
    id_column: &str,
    first_param: usize,
) -> ScopeFilter {
    let first = first_param.max(1);
    let none = || ScopeFilter {
        sql: "FALSE".into(),
        params: Vec::new(),
    };
    let all = || ScopeFilter {
        sql: "TRUE".into(),
        params: Vec::new(),
    };
    let own = |user: &User| ScopeFilter {
        sql: format!("{owner_column} = ${first}"),
        params: vec![Value::Int(user.id)],
    };
    match (scope, user) {
        (Scope::All, _) => all(),
        (_, None) => none(),
        (Scope::Owner, Some(u)) => own(u),
        // An inactive user holds no permission (Django's backends answer no).
        (Scope::Granted, Some(u)) if !u.is_active => own(u),
        (Scope::Granted, Some(u)) if u.is_superuser => all(),
        (Scope::Granted, Some(u)) => ScopeFilter {
            sql: format!(
                "({owner_column} = ${first} OR {id_column} IN ({}) OR EXISTS ({}))",
                shift_placeholders(GRANTED_IDS, first),
                shift_placeholders(HAS_MODEL_PERM, first),
            ),
            params: vec![
                Value::Int(u.id),
                model.app_label().into(),
                model.codename("view").into(),
            ],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::shift_placeholders;

    #[test]
    fn placeholders_shift() {
        assert_eq!(
            shift_placeholders("a = $1 AND b = $2", 1),
            "a = $1 AND b = $2"
        );
        assert_eq!(
            shift_placeholders("a = $1 AND b = $12", 4),
            "a = $4 AND b = $15"
        );
        assert_eq!(shift_placeholders("x$", 3), "x$");
    }
}
