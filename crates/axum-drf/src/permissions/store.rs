//! Stored permissions: models' permissions, groups, model-level grants to users and
//! groups, and per-object grants (django-guardian's model). The same SQL runs on SQLite
//! and PostgreSQL; the tables come from the `axum_drf_0004_permissions` migration.

use super::model::{parse_perm, Model, NameError, PermSet, DEFAULT_ACTIONS};
use crate::store::{Database, Statement, StoreError, Value};

/// A permission operation that cannot be done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PermissionStoreError {
    /// The name is not `app_label.codename`.
    #[error(transparent)]
    Name(#[from] NameError),
    /// No such permission is registered.
    #[error("unknown permission \"{0}\" (see `perms list` for the registered ones)")]
    UnknownPermission(String),
    /// No such group.
    #[error("group \"{0}\" does not exist")]
    UnknownGroup(String),
    /// A group of that name exists already.
    #[error("group \"{0}\" already exists")]
    GroupExists(String),
    /// A group name must not be empty and at most 150 characters (Django's limit).
    #[error("invalid group name \"{0}\"")]
    InvalidGroupName(String),
    /// An object grant whose permission belongs to another model.
    #[error("permission \"{perm}\" is about {perm_model}, not {object_model}")]
    WrongModel {
        /// The permission.
        perm: String,
        /// The model the permission belongs to.
        perm_model: String,
        /// The model of the object.
        object_model: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<PermissionStoreError> for crate::error::ApiError {
    fn from(e: PermissionStoreError) -> Self {
        crate::error::ApiError::Internal(e.to_string())
    }
}

/// Who a grant is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantTarget {
    /// A user, by id.
    User(i64),
    /// A group, by id.
    Group(i64),
}

/// A model-level or per-object grant, as listed for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `app_label.codename`.
    pub perm: String,
    /// `None`: model-level; else the object's id (of the permission's model).
    pub object_id: Option<i64>,
    /// `None`: granted to the user; else the name of the group that carries it.
    pub via_group: Option<String>,
}

/// A grant held by a group, as listed for the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupGrant {
    /// `app_label.codename`.
    pub perm: String,
    /// `None`: model-level; else the object's id.
    pub object_id: Option<i64>,
}

/// Everything a user holds, for `perms list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPermissions {
    /// Group names, sorted.
    pub groups: Vec<String>,
    /// Grants, direct and through groups, sorted by permission then object.
    pub grants: Vec<Grant>,
}

/// Permission queries and changes; cheap to clone.
///
/// ```no_run
/// # async fn demo(db: axum_drf::store::Database) -> Result<(), axum_drf::permissions::PermissionStoreError> {
/// use axum_drf::permissions::{GrantTarget, Model, PermissionStore};
/// let store = PermissionStore::new(db);
/// let friend = Model::new("lending", "Friend");
/// store.register_models(&[friend.clone()]).await?; // creates add/change/delete/view_friend
/// let editors = store.create_group("editors").await?;
/// store.add_user_to_group(editors, 1).await?;
/// store.grant(GrantTarget::Group(editors), "lending.change_friend", None).await?;
/// store.grant(GrantTarget::User(2), "lending.view_friend", Some((&friend, 42))).await?;
/// let perms = store.user_perms(1).await?;
/// assert!(perms.contains("lending.change_friend"));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct PermissionStore {
    db: Database,
}

// The user's model permissions: direct, and through every group they belong to.
const USER_PERMS: &str = "\
    SELECT p.app_label, p.codename FROM auth_permission p \
    WHERE p.id IN (SELECT up.permission_id FROM auth_user_user_permissions up WHERE up.user_id = $1) \
       OR p.id IN (SELECT gp.permission_id FROM auth_group_permissions gp \
                   JOIN auth_user_groups ug ON ug.group_id = gp.group_id WHERE ug.user_id = $1)";

// The user's grants on one object: direct, and through groups.
const OBJECT_PERMS: &str = "\
    SELECT p.app_label, p.codename FROM auth_permission p \
    WHERE p.app_label = $2 AND p.model = $3 AND ( \
        p.id IN (SELECT uo.permission_id FROM auth_user_object_permissions uo \
                 WHERE uo.user_id = $1 AND uo.object_id = $4) \
     OR p.id IN (SELECT gop.permission_id FROM auth_group_object_permissions gop \
                 JOIN auth_user_groups ug ON ug.group_id = gop.group_id \
                 WHERE ug.user_id = $1 AND gop.object_id = $4))";

/// Ids of the objects on which `$1` holds `$2.$3` (the permission's codename) through a
/// user or group grant. Used by [`PermissionStore::granted_object_ids`] and, as a
/// subquery, by the `granted` scope (`$1` user id, `$2` app label, `$3` codename after
/// renumbering).
pub(crate) const GRANTED_IDS: &str = "\
    SELECT uo.object_id FROM auth_user_object_permissions uo \
    JOIN auth_permission p ON p.id = uo.permission_id \
    WHERE uo.user_id = $1 AND p.app_label = $2 AND p.codename = $3 \
    UNION \
    SELECT gop.object_id FROM auth_group_object_permissions gop \
    JOIN auth_user_groups ug ON ug.group_id = gop.group_id \
    JOIN auth_permission p ON p.id = gop.permission_id \
    WHERE ug.user_id = $1 AND p.app_label = $2 AND p.codename = $3";

/// Whether `$1` holds the model permission `$2.$3` directly or through a group.
pub(crate) const HAS_MODEL_PERM: &str = "\
    SELECT 1 FROM auth_permission p \
    WHERE p.app_label = $2 AND p.codename = $3 AND ( \
        p.id IN (SELECT up.permission_id FROM auth_user_user_permissions up WHERE up.user_id = $1) \
     OR p.id IN (SELECT gp.permission_id FROM auth_group_permissions gp \
                 JOIN auth_user_groups ug ON ug.group_id = gp.group_id WHERE ug.user_id = $1))";

fn perm_set(rows: Vec<crate::store::Row>) -> Result<PermSet, StoreError> {
    rows.iter()
        .map(|r| Ok(format!("{}.{}", r.text(0)?, r.text(1)?)))
        .collect()
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

impl PermissionStore {
    /// Queries over `db`.
    pub fn new(db: Database) -> Self {
        PermissionStore { db }
    }

    /// Creates the four permissions (`add_`, `change_`, `delete_`, `view_`) of each model
    /// that does not have them yet (Django's `post_migrate` step). Call at start-up.
    pub async fn register_models(&self, models: &[Model]) -> Result<(), StoreError> {
        let mut stmts = Vec::with_capacity(models.len() * DEFAULT_ACTIONS.len());
        for model in models {
            for action in DEFAULT_ACTIONS {
                stmts.push(Self::insert_permission(
                    model,
                    &model.codename(action),
                    &format!("Can {action} {}", model.model_name()),
                ));
            }
        }
        self.db.transaction(stmts).await?;
        Ok(())
    }

    /// Creates a custom permission of `model` (Django's `Meta.permissions`), if missing.
    pub async fn register_permission(
        &self,
        model: &Model,
        codename: &str,
        name: &str,
    ) -> Result<(), StoreError> {
        self.db
            .transaction(vec![Self::insert_permission(model, codename, name)])
            .await?;
        Ok(())
    }

    fn insert_permission(model: &Model, codename: &str, name: &str) -> Statement {
        Statement::new(
            "INSERT INTO auth_permission (app_label, model, codename, name) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (app_label, codename) DO NOTHING",
            vec![
                model.app_label().into(),
                model.model_name().into(),
                codename.into(),
                name.into(),
            ],
        )
    }

    /// Every registered permission name, sorted.
    pub async fn all_permissions(&self) -> Result<Vec<String>, StoreError> {
        let rows = self
            .db
            .query(
                "SELECT app_label, codename FROM auth_permission ORDER BY app_label, codename",
                vec![],
            )
            .await?;
        Ok(perm_set(rows)?.iter().map(str::to_owned).collect())
    }

    /// The user's model permissions, direct and through groups: one query.
    pub async fn user_perms(&self, user_id: i64) -> Result<PermSet, StoreError> {
        perm_set(self.db.query(USER_PERMS, vec![user_id.into()]).await?)
    }

    /// The permissions the user holds on one object of `model`, through user and group
    /// grants: one query.
    pub async fn object_perms(
        &self,
        user_id: i64,
        model: &Model,
        object_id: i64,
    ) -> Result<PermSet, StoreError> {
        let rows = self
            .db
            .query(
                OBJECT_PERMS,
                vec![
                    user_id.into(),
                    model.app_label().into(),
                    model.model_name().into(),
                    object_id.into(),
                ],
            )
            .await?;
        perm_set(rows)
    }

    /// Ids of the objects of `model` on which the user holds `action` (e.g. `view`) by an
    /// object grant to them or a group: one query. Model-level permissions are not
    /// considered here; [`scope_filter`](super::scope_filter) does that.
    pub async fn granted_object_ids(
        &self,
        user_id: i64,
        model: &Model,
        action: &str,
    ) -> Result<Vec<i64>, StoreError> {
        let sql = format!("{GRANTED_IDS} ORDER BY 1");
        let rows = self
            .db
            .query(
                sql,
                vec![
                    user_id.into(),
                    model.app_label().into(),
                    model.codename(action).into(),
                ],
            )
            .await?;
        rows.iter().map(|r| r.int(0)).collect()
    }

    async fn permission_id(&self, perm: &str) -> Result<(i64, Model), PermissionStoreError> {
        let (app_label, codename) = parse_perm(perm)?;
        let row = self
            .db
            .query_opt(
                "SELECT id, model FROM auth_permission WHERE app_label = $1 AND codename = $2",
                vec![app_label.into(), codename.into()],
            )
            .await?
            .ok_or_else(|| PermissionStoreError::UnknownPermission(perm.to_owned()))?;
        let model = row.text(1)?;
        Ok((row.int(0)?, Model::new(app_label, capitalize(&model))))
    }

    /// Grants `perm` (`app_label.codename`) to a user or group, on the model or, with
    /// `object`, on one object. Returns whether it was new (granting twice is harmless).
    pub async fn grant(
        &self,
        target: GrantTarget,
        perm: &str,
        object: Option<(&Model, i64)>,
    ) -> Result<bool, PermissionStoreError> {
        self.change(target, perm, object, true).await
    }

    /// Withdraws a grant made by [`PermissionStore::grant`]; returns whether there was one.
    pub async fn revoke(
        &self,
        target: GrantTarget,
        perm: &str,
        object: Option<(&Model, i64)>,
    ) -> Result<bool, PermissionStoreError> {
        self.change(target, perm, object, false).await
    }

    async fn change(
        &self,
        target: GrantTarget,
        perm: &str,
        object: Option<(&Model, i64)>,
        grant: bool,
    ) -> Result<bool, PermissionStoreError> {
        let (perm_id, perm_model) = self.permission_id(perm).await?;
        if let Some((model, _)) = object {
            if model.app_label() != perm_model.app_label()
                || model.model_name() != perm_model.model_name()
            {
                return Err(PermissionStoreError::WrongModel {
                    perm: perm.to_owned(),
                    perm_model: perm_model.label(),
                    object_model: model.label(),
                });
            }
        }
        let (table, column, holder) = match (target, object.is_some()) {
            (GrantTarget::User(id), false) => ("auth_user_user_permissions", "user_id", id),
            (GrantTarget::Group(id), false) => ("auth_group_permissions", "group_id", id),
            (GrantTarget::User(id), true) => ("auth_user_object_permissions", "user_id", id),
            (GrantTarget::Group(id), true) => ("auth_group_object_permissions", "group_id", id),
        };
        let mut params: Vec<Value> = vec![holder.into(), perm_id.into()];
        let sql = match (object, grant) {
            (None, true) => format!(
                "INSERT INTO {table} ({column}, permission_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
            ),
            (None, false) => {
                format!("DELETE FROM {table} WHERE {column} = $1 AND permission_id = $2")
            }
            (Some((_, id)), true) => {
                params.push(id.into());
                format!(
                    "INSERT INTO {table} ({column}, permission_id, object_id) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING"
                )
            }
            (Some((_, id)), false) => {
                params.push(id.into());
                format!(
                    "DELETE FROM {table} WHERE {column} = $1 AND permission_id = $2 AND object_id = $3"
                )
            }
        };
        Ok(self.db.execute(sql, params).await? > 0)
    }

    /// Creates a group; returns its id.
    pub async fn create_group(&self, name: &str) -> Result<i64, PermissionStoreError> {
        if name.trim().is_empty() || name.chars().count() > 150 {
            return Err(PermissionStoreError::InvalidGroupName(name.to_owned()));
        }
        let rows = self
            .db
            .query(
                "INSERT INTO auth_group (name) VALUES ($1) RETURNING id",
                vec![name.into()],
            )
            .await
            .map_err(|e| match e {
                StoreError::UniqueViolation(_) => {
                    PermissionStoreError::GroupExists(name.to_owned())
                }
                other => other.into(),
            })?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Decode("INSERT returned no row".into()))?;
        Ok(row.int(0)?)
    }

    /// Deletes a group (its memberships and grants go with it); returns whether it existed.
    pub async fn delete_group(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .db
            .execute("DELETE FROM auth_group WHERE name = $1", vec![name.into()])
            .await?
            > 0)
    }

    /// The id of the group called `name`.
    pub async fn group_id(&self, name: &str) -> Result<i64, PermissionStoreError> {
        self.db
            .query_opt(
                "SELECT id FROM auth_group WHERE name = $1",
                vec![name.into()],
            )
            .await?
            .ok_or_else(|| PermissionStoreError::UnknownGroup(name.to_owned()))?
            .int(0)
            .map_err(Into::into)
    }

    /// Every group with its member count, sorted by name.
    pub async fn groups(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = self
            .db
            .query(
                "SELECT g.name, (SELECT COUNT(*) FROM auth_user_groups ug WHERE ug.group_id = g.id) \
                 FROM auth_group g ORDER BY g.name",
                vec![],
            )
            .await?;
        rows.iter().map(|r| Ok((r.text(0)?, r.int(1)?))).collect()
    }

    /// Adds a user to a group; returns whether they were not a member yet.
    pub async fn add_user_to_group(&self, group_id: i64, user_id: i64) -> Result<bool, StoreError> {
        Ok(self
            .db
            .execute(
                "INSERT INTO auth_user_groups (user_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                vec![user_id.into(), group_id.into()],
            )
            .await?
            > 0)
    }

    /// Removes a user from a group; returns whether they were a member.
    pub async fn remove_user_from_group(
        &self,
        group_id: i64,
        user_id: i64,
    ) -> Result<bool, StoreError> {
        Ok(self
            .db
            .execute(
                "DELETE FROM auth_user_groups WHERE user_id = $1 AND group_id = $2",
                vec![user_id.into(), group_id.into()],
            )
            .await?
            > 0)
    }

    /// Everything the user holds: groups, and grants direct or through groups.
    pub async fn describe_user(&self, user_id: i64) -> Result<UserPermissions, StoreError> {
        let groups = self
            .db
            .query(
                "SELECT g.name FROM auth_group g JOIN auth_user_groups ug ON ug.group_id = g.id \
                 WHERE ug.user_id = $1 ORDER BY g.name",
                vec![user_id.into()],
            )
            .await?
            .iter()
            .map(|r| r.text(0))
            .collect::<Result<Vec<_>, _>>()?;
        let rows = self
            .db
            .query(
                "SELECT p.app_label, p.codename, CAST(NULL AS BIGINT), CAST(NULL AS TEXT) FROM auth_user_user_permissions up \
                   JOIN auth_permission p ON p.id = up.permission_id WHERE up.user_id = $1 \
                 UNION ALL \
                 SELECT p.app_label, p.codename, uo.object_id, CAST(NULL AS TEXT) FROM auth_user_object_permissions uo \
                   JOIN auth_permission p ON p.id = uo.permission_id WHERE uo.user_id = $1 \
                 UNION ALL \
                 SELECT p.app_label, p.codename, CAST(NULL AS BIGINT), g.name FROM auth_group_permissions gp \
                   JOIN auth_permission p ON p.id = gp.permission_id \
                   JOIN auth_group g ON g.id = gp.group_id \
                   JOIN auth_user_groups ug ON ug.group_id = g.id WHERE ug.user_id = $1 \
                 UNION ALL \
                 SELECT p.app_label, p.codename, gop.object_id, g.name FROM auth_group_object_permissions gop \
                   JOIN auth_permission p ON p.id = gop.permission_id \
                   JOIN auth_group g ON g.id = gop.group_id \
                   JOIN auth_user_groups ug ON ug.group_id = g.id WHERE ug.user_id = $1",
                vec![user_id.into()],
            )
            .await?;
        let mut grants = rows
            .iter()
            .map(|r| {
                Ok(Grant {
                    perm: format!("{}.{}", r.text(0)?, r.text(1)?),
                    object_id: r.opt_int(2)?,
                    via_group: match &r.0[3] {
                        Value::Null => None,
                        _ => Some(r.text(3)?),
                    },
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        grants.sort_by(|a, b| {
            (&a.perm, a.object_id, &a.via_group).cmp(&(&b.perm, b.object_id, &b.via_group))
        });
        Ok(UserPermissions { groups, grants })
    }

    /// The grants a group holds, sorted.
    pub async fn describe_group(&self, group_id: i64) -> Result<Vec<GroupGrant>, StoreError> {
        let rows = self
            .db
            .query(
                "SELECT p.app_label, p.codename, CAST(NULL AS BIGINT) FROM auth_group_permissions gp \
                   JOIN auth_permission p ON p.id = gp.permission_id WHERE gp.group_id = $1 \
                 UNION ALL \
                 SELECT p.app_label, p.codename, gop.object_id FROM auth_group_object_permissions gop \
                   JOIN auth_permission p ON p.id = gop.permission_id WHERE gop.group_id = $1",
                vec![group_id.into()],
            )
            .await?;
        let mut grants = rows
            .iter()
            .map(|r| {
                Ok(GroupGrant {
                    perm: format!("{}.{}", r.text(0)?, r.text(1)?),
                    object_id: r.opt_int(2)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        grants.sort_by(|a, b| (&a.perm, a.object_id).cmp(&(&b.perm, b.object_id)));
        Ok(grants)
    }

    /// Usernames of a group's members, sorted.
    pub async fn group_members(&self, group_id: i64) -> Result<Vec<String>, StoreError> {
        self.db
            .query(
                "SELECT u.username FROM auth_user u JOIN auth_user_groups ug ON ug.user_id = u.id \
                 WHERE ug.group_id = $1 ORDER BY u.username",
                vec![group_id.into()],
            )
            .await?
            .iter()
            .map(|r| r.text(0))
            .collect()
    }
}
