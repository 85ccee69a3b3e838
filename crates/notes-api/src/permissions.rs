//! Who may do what: one permission of the app's own, and each resource's policy read from
//! the configuration.

use std::collections::BTreeMap;

use axum_drf::permissions::{
    Access, IsOwner, IsOwnerOrReadOnly, Perm, Permission, PolicyError, Registry,
};

/// Anyone may read; writing needs an email address on the account, so that a note's
/// author can be reached (a view-level rule: it looks at the user, not the object).
#[derive(Debug, Clone, Copy, Default)]
pub struct HasEmailOrReadOnly;

impl Permission for HasEmailOrReadOnly {
    fn has_permission(&self, access: &Access<'_>) -> bool {
        access.is_safe_method() || access.user().is_some_and(|u| !u.email.is_empty())
    }
    fn message(&self) -> Option<&str> {
        Some("Add an email address to your account before writing.")
    }
}

/// A resource's policy that does not parse, or a policy for a resource that does not exist.
#[derive(Debug, thiserror::Error)]
pub enum PolicyConfigError {
    /// `[permissions] <resource>` does not parse.
    #[error("[permissions] {resource}: {source}")]
    Invalid {
        /// The resource.
        resource: String,
        /// Where and why.
        source: PolicyError,
    },
    /// Not one of the app's resources.
    #[error("[permissions] {0}: unknown resource (known: notebooks, notes)")]
    UnknownResource(String),
}

/// The app's resources.
pub const RESOURCES: [&str; 2] = ["notebooks", "notes"];

/// The policy of every resource, parsed once at start-up.
pub fn policies(
    configured: &BTreeMap<String, String>,
) -> Result<BTreeMap<&'static str, Perm>, PolicyConfigError> {
    let mut registry = Registry::with_builtins();
    registry
        .register("IsOwner", IsOwner)
        .register("IsOwnerOrReadOnly", IsOwnerOrReadOnly)
        .register("HasEmailOrReadOnly", HasEmailOrReadOnly);
    if let Some(unknown) = configured.keys().find(|k| !RESOURCES.contains(&k.as_str())) {
        return Err(PolicyConfigError::UnknownResource(unknown.clone()));
    }
    RESOURCES
        .iter()
        .map(|&name| {
            let expression = configured
                .get(name)
                .map_or("IsAuthenticated & IsOwner", |e| e);
            let perm = registry
                .parse(expression)
                .map_err(|source| PolicyConfigError::Invalid {
                    resource: name.into(),
                    source,
                })?;
            Ok((name, perm))
        })
        .collect()
}
