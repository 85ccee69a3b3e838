//! Django's `django.contrib.auth` tables, DRF's `authtoken_token` and django-guardian's
//! object permissions, planned into the framework's schema (see `auth/schema.rs`).
//!
//! - users keep their ids and every field; password hashes are copied as they are and
//!   upgraded to argon2id at each user's next login (`auth::password`); hashes of a hasher
//!   lendbook cannot verify are reported by hasher name;
//! - permissions are matched by app label and codename (ids differ between projects), so
//!   grants are written through subqueries on `(app_label, codename)`;
//! - token keys are stored as their SHA-256 in `auth_token` (`kind = 'imported'`, looked up
//!   after the derived token, see `auth/tokens.rs`), never in clear; under a `token_ttl`
//!   they end that long after their creation in Django, as lendbook's own tokens do.

use std::collections::{BTreeMap, HashMap};

use super::source::Kind;
use super::{DjangoSource, ImportError, ImportPlan};
use crate::auth::cache::INVALIDATION_CHANNEL;
use crate::auth::password::unsupported_hasher;
use crate::auth::token::hash_secret;
use crate::store::{Backend, Statement, Value};

/// Tables of a Django project the framework knows and deliberately does not import, with
/// the reason given in the report (when they hold rows).
const SKIPPED: &[(&str, &str)] = &[
    (
        "django_session",
        "browser sessions do not move: users log in again in the browser",
    ),
    (
        "django_admin_log",
        "the Django admin's change history has no counterpart",
    ),
];

/// Django bookkeeping that has no meaning outside Django (not reported).
const BOOKKEEPING: &[&str] = &[
    "django_migrations",
    "django_content_type",
    "sqlite_sequence",
];

const USER_COLUMNS: &[(&str, Kind)] = &[
    ("id", Kind::Int),
    ("password", Kind::Text),
    ("last_login", Kind::Time),
    ("is_superuser", Kind::Bool),
    ("username", Kind::Text),
    ("first_name", Kind::Text),
    ("last_name", Kind::Text),
    ("email", Kind::Text),
    ("is_staff", Kind::Bool),
    ("is_active", Kind::Bool),
    ("date_joined", Kind::Time),
];

/// A Django permission: `(app_label, model, codename, name)`.
type Permission = (String, String, String, String);

/// Plans the import of users, groups, permissions, grants (model and object) and tokens
/// (expiring `token_ttl` after their creation when one is configured). Fails when the
/// source has no `auth_user` table (a custom user model is not supported).
pub async fn plan_import(
    source: &DjangoSource,
    plan: &mut ImportPlan,
    token_ttl: Option<std::time::Duration>,
) -> Result<(), ImportError> {
    if !plan.has_table("auth_user") {
        return Err(ImportError::Invalid(
            "the Django database has no auth_user table (custom user models are not supported)"
                .into(),
        ));
    }
    for table in BOOKKEEPING {
        plan.handled(table);
    }
    users(source, plan).await?;
    let permissions = permissions(source, plan).await?;
    groups(source, plan).await?;
    grants(source, plan, &permissions).await?;
    object_grants(source, plan, &permissions).await?;
    tokens(source, plan, token_ttl).await?;
    for (table, why) in SKIPPED {
        if plan.has_table(table) {
            plan.handled(table);
            let n = source.count(table).await?;
            if n > 0 {
                plan.note(format!("table {table} ({n} rows): {why}"));
            }
        }
    }
    Ok(())
}

async fn users(source: &DjangoSource, plan: &mut ImportPlan) -> Result<(), ImportError> {
    let mut rows = source.read("auth_user", USER_COLUMNS).await?;
    let mut unsupported: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in &mut rows {
        let (Value::Text(password), Value::Text(username)) = (&row[1], &row[4]) else {
            return Err(ImportError::Invalid(
                "auth_user has a row without password or username".into(),
            ));
        };
        if let Some(hasher) = unsupported_hasher(password) {
            unsupported
                .entry(hasher.to_owned())
                .or_default()
                .push(username.clone());
        }
        // Django declares last_login nullable and date_joined not: keep that shape.
        if row[10] == Value::Null {
            return Err(ImportError::Invalid(format!(
                "auth_user {username:?} has no date_joined"
            )));
        }
    }
    for (hasher, users) in unsupported {
        plan.note(format!(
            "password hasher {hasher} ({} users: {}): lendbook cannot verify it; \
             these users must reset their password",
            users.len(),
            abbreviate(&users)
        ));
    }
    let names: Vec<&str> = USER_COLUMNS.iter().map(|(n, _)| *n).collect();
    plan.insert_rows("auth_user", "auth_user", &names, rows);
    let high = source.id_high_water("auth_user").await?;
    plan.continue_ids_after("auth_user", high);
    Ok(())
}

/// Django's permissions by id, inserted into the target by `(app_label, codename)`.
async fn permissions(
    source: &DjangoSource,
    plan: &mut ImportPlan,
) -> Result<HashMap<i64, Permission>, ImportError> {
    let mut out = HashMap::new();
    if !plan.has_table("auth_permission") || !plan.has_table("django_content_type") {
        return Ok(out);
    }
    let content_types: HashMap<i64, (String, String)> = source
        .read(
            "django_content_type",
            &[
                ("id", Kind::Int),
                ("app_label", Kind::Text),
                ("model", Kind::Text),
            ],
        )
        .await?
        .into_iter()
        .filter_map(|r| match <[Value; 3]>::try_from(r) {
            Ok([Value::Int(id), Value::Text(app), Value::Text(model)]) => Some((id, (app, model))),
            _ => None,
        })
        .collect();
    let rows = source
        .read(
            "auth_permission",
            &[
                ("id", Kind::Int),
                ("content_type_id", Kind::Int),
                ("codename", Kind::Text),
                ("name", Kind::Text),
            ],
        )
        .await?;
    let n = rows.len() as u64;
    for row in rows {
        let Ok([Value::Int(id), Value::Int(ct), Value::Text(codename), Value::Text(name)]) =
            <[Value; 4]>::try_from(row)
        else {
            return Err(ImportError::Invalid(
                "auth_permission has a row with empty fields".into(),
            ));
        };
        let Some((app_label, model)) = content_types.get(&ct).cloned() else {
            plan.note(format!(
                "permission {codename} (id {id}): its content type {ct} does not exist"
            ));
            continue;
        };
        plan.push(Statement::new(
            "INSERT INTO auth_permission (app_label, model, codename, name) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (app_label, codename) DO NOTHING",
            vec![
                app_label.clone().into(),
                model.clone().into(),
                codename.clone().into(),
                name.clone().into(),
            ],
        ));
        out.insert(id, (app_label, model, codename, name));
    }
    plan.record("auth_permission", n);
    Ok(out)
}

async fn groups(source: &DjangoSource, plan: &mut ImportPlan) -> Result<(), ImportError> {
    if !plan.has_table("auth_group") {
        return Ok(());
    }
    let rows = source
        .read("auth_group", &[("id", Kind::Int), ("name", Kind::Text)])
        .await?;
    plan.insert_rows("auth_group", "auth_group", &["id", "name"], rows);
    let high = source.id_high_water("auth_group").await?;
    plan.continue_ids_after("auth_group", high);
    if plan.has_table("auth_user_groups") {
        let rows = source
            .read(
                "auth_user_groups",
                &[("user_id", Kind::Int), ("group_id", Kind::Int)],
            )
            .await?;
        plan.insert_rows(
            "auth_user_groups",
            "auth_user_groups",
            &["user_id", "group_id"],
            rows,
        );
    }
    Ok(())
}

/// `auth_user_user_permissions` and `auth_group_permissions`: holder id + permission id.
async fn grants(
    source: &DjangoSource,
    plan: &mut ImportPlan,
    permissions: &HashMap<i64, Permission>,
) -> Result<(), ImportError> {
    for (table, holder, target) in [
        (
            "auth_user_user_permissions",
            "user_id",
            "auth_user_user_permissions",
        ),
        (
            "auth_group_permissions",
            "group_id",
            "auth_group_permissions",
        ),
    ] {
        if !plan.has_table(table) {
            continue;
        }
        let rows = source
            .read(table, &[(holder, Kind::Int), ("permission_id", Kind::Int)])
            .await?;
        let mut n = 0;
        for row in rows {
            let [Value::Int(holder_id), Value::Int(permission_id)] = row[..] else {
                continue;
            };
            let Some((app_label, _, codename, _)) = permissions.get(&permission_id) else {
                plan.note(format!(
                    "{table}: a grant of unknown permission id {permission_id}"
                ));
                continue;
            };
            plan.push(Statement::new(
                format!(
                    "INSERT INTO {target} ({holder}, permission_id) SELECT $1, id \
                     FROM auth_permission WHERE app_label = $2 AND codename = $3"
                ),
                vec![
                    holder_id.into(),
                    app_label.clone().into(),
                    codename.clone().into(),
                ],
            ));
            n += 1;
        }
        plan.record(table, n);
    }
    Ok(())
}

/// django-guardian's `guardian_userobjectpermission` / `guardian_groupobjectpermission`.
async fn object_grants(
    source: &DjangoSource,
    plan: &mut ImportPlan,
    permissions: &HashMap<i64, Permission>,
) -> Result<(), ImportError> {
    for (table, holder, target) in [
        (
            "guardian_userobjectpermission",
            "user_id",
            "auth_user_object_permissions",
        ),
        (
            "guardian_groupobjectpermission",
            "group_id",
            "auth_group_object_permissions",
        ),
    ] {
        if !plan.has_table(table) {
            continue;
        }
        let rows = source
            .read(
                table,
                &[
                    ("id", Kind::Int),
                    (holder, Kind::Int),
                    ("permission_id", Kind::Int),
                    ("object_pk", Kind::Text),
                ],
            )
            .await?;
        let mut n = 0;
        for row in rows {
            let [_, Value::Int(holder_id), Value::Int(permission_id), Value::Text(ref object_pk)] =
                row[..]
            else {
                continue;
            };
            let Some((app_label, model, codename, _)) = permissions.get(&permission_id) else {
                plan.note(format!(
                    "{table}: a grant of unknown permission id {permission_id}"
                ));
                continue;
            };
            let Ok(object_id) = object_pk.trim().parse::<i64>() else {
                plan.note(format!(
                    "{table}: {app_label}.{codename} on {model} {object_pk:?} (object ids must be integers)"
                ));
                continue;
            };
            plan.push(Statement::new(
                format!(
                    "INSERT INTO {target} ({holder}, permission_id, object_id) SELECT $1, id, $4 \
                     FROM auth_permission WHERE app_label = $2 AND codename = $3"
                ),
                vec![
                    holder_id.into(),
                    app_label.clone().into(),
                    codename.clone().into(),
                    object_id.into(),
                ],
            ));
            n += 1;
        }
        plan.record(table, n);
    }
    Ok(())
}

/// DRF's `authtoken_token`: each key keeps authenticating, stored only as its SHA-256.
async fn tokens(
    source: &DjangoSource,
    plan: &mut ImportPlan,
    token_ttl: Option<std::time::Duration>,
) -> Result<(), ImportError> {
    if !plan.has_table("authtoken_token") {
        return Ok(());
    }
    let rows = source
        .read(
            "authtoken_token",
            &[
                ("key", Kind::Text),
                ("user_id", Kind::Int),
                ("created", Kind::Time),
            ],
        )
        .await?;
    let mut hashed = Vec::with_capacity(rows.len());
    for row in rows {
        let [Value::Text(ref key), Value::Int(user_id), ref created] = row[..] else {
            return Err(ImportError::Invalid(
                "authtoken_token has a row with empty fields".into(),
            ));
        };
        let created = match created {
            Value::Int(t) => *t,
            _ => crate::store::now_micros(),
        };
        let expire_at = token_ttl
            .map(|ttl| created.saturating_add(i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX)));
        hashed.push(vec![
            hash_secret(key).into(),
            user_id.into(),
            created.into(),
            expire_at.into(),
            "imported".into(),
        ]);
    }
    plan.insert_rows(
        "authtoken_token",
        "auth_token",
        &["key_hash", "user_id", "created", "expire_at", "kind"],
        hashed,
    );
    Ok(())
}

/// The first few names of a list, for a one-line report.
fn abbreviate(names: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut out = names
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        out.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    out
}

/// Statements that empty the framework's data tables (users and everything they own,
/// groups), for an import with `--replace`; permissions stay (matched by codename). They
/// also tell running servers to drop every cached credential when the transaction commits
/// (the SQLite invalidation log; PostgreSQL's NOTIFY is delivered at commit), so a replaced
/// user's token or session stops working at once.
pub fn clear_statements(backend: Backend) -> Vec<Statement> {
    let forget_all = match backend {
        Backend::Sqlite => Statement::new(
            "INSERT INTO auth_invalidation (payload, created) VALUES ('all', $1)",
            vec![crate::store::now_micros().into()],
        ),
        Backend::Postgres => Statement::new(
            // pg_notify returns void, which is no column type a row can carry.
            format!("SELECT COUNT(*) FROM (SELECT pg_notify('{INVALIDATION_CHANNEL}', 'all')) n"),
            vec![],
        ),
    };
    let clear = [
        "DELETE FROM auth_user_object_permissions",
        "DELETE FROM auth_group_object_permissions",
        "DELETE FROM auth_user_user_permissions",
        "DELETE FROM auth_group_permissions",
        "DELETE FROM auth_user_groups",
        "DELETE FROM auth_group",
        "DELETE FROM auth_token",
        "DELETE FROM authtoken_token",
        "DELETE FROM auth_session",
        "DELETE FROM auth_used_link",
        "DELETE FROM auth_user",
    ]
    .into_iter()
    .map(|sql| Statement::new(sql, vec![]));
    clear.chain(std::iter::once(forget_all)).collect()
}

/// Whether the target holds users or groups (an import refuses it without `--replace`):
/// `Some(description)` when it does.
pub async fn existing_data(target: &crate::store::Database) -> Result<Option<String>, ImportError> {
    let row = target
        .query_opt(
            "SELECT (SELECT COUNT(*) FROM auth_user), (SELECT COUNT(*) FROM auth_group)",
            vec![],
        )
        .await?;
    let (users, groups) = match row {
        Some(r) => (r.int(0)?, r.int(1)?),
        None => (0, 0),
    };
    Ok((users > 0 || groups > 0).then(|| format!("{users} users, {groups} groups")))
}
