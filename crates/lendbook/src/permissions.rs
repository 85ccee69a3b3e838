//! Who may do what: the seed's `IsOwner`, the lending resources' models, and the
//! per-resource policies read from configuration (`[permissions]`, `[resources.<name>]`).

use std::collections::BTreeMap;

use axum_drf::permissions::{Model, Perm, PolicyError, Registry, Scope};

use crate::config::Config;

/// The seed's `IsOwner` and its read-only variant are the framework's (the DRF tutorial's).
pub use axum_drf::permissions::{IsOwner, IsOwnerOrReadOnly};

/// A lending resource and the model its objects are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    /// URL / configuration name, e.g. `belongings`.
    pub name: &'static str,
    /// The model's app label.
    pub app_label: &'static str,
    /// The model's class name (DRF's `object_name`), e.g. `Borrowed`.
    pub object_name: &'static str,
}

impl Resource {
    /// The resource's model.
    pub fn model(&self) -> Model {
        Model::new(self.app_label, self.object_name)
    }
}

/// The lending resources; `borrowings` holds the reference's `Borrowed` model.
pub const RESOURCES: &[Resource] = &[
    Resource {
        name: "friends",
        app_label: "lending",
        object_name: "Friend",
    },
    Resource {
        name: "belongings",
        app_label: "lending",
        object_name: "Belonging",
    },
    Resource {
        name: "borrowings",
        app_label: "lending",
        object_name: "Borrowed",
    },
];

/// The models whose permissions lendbook registers at start-up.
pub fn models() -> Vec<Model> {
    RESOURCES.iter().map(Resource::model).collect()
}

/// The table holding `resource`'s objects (Django's `<app_label>_<model>` naming).
pub fn table_of(resource: &Resource) -> String {
    format!(
        "{}_{}",
        resource.app_label,
        resource.object_name.to_ascii_lowercase()
    )
}

/// The resource called `name`.
pub fn resource(name: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.name == name)
}

/// The resource whose model is `app_label.model_name`, for printing grants.
pub fn resource_of(app_label: &str, model_name: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.app_label == app_label && r.object_name.eq_ignore_ascii_case(model_name))
}

/// An object reference given on the command line.
#[derive(Debug, thiserror::Error)]
pub enum ObjectSpecError {
    /// Not `<resource>:<id>`.
    #[error("\"{0}\" is not an object: expected <resource>:<id>, e.g. belongings:42")]
    Malformed(String),
    /// No resource of that name.
    #[error("unknown resource \"{0}\" (known: {known})", known = resource_names())]
    UnknownResource(String),
}

fn resource_names() -> String {
    RESOURCES
        .iter()
        .map(|r| r.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses `belongings:42` into the resource's model and the object id.
pub fn parse_object_spec(spec: &str) -> Result<(Model, i64), ObjectSpecError> {
    let (name, id) = spec
        .split_once(':')
        .ok_or_else(|| ObjectSpecError::Malformed(spec.to_owned()))?;
    let id: i64 = id
        .parse()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ObjectSpecError::Malformed(spec.to_owned()))?;
    let resource = resource(name).ok_or_else(|| ObjectSpecError::UnknownResource(name.into()))?;
    Ok((resource.model(), id))
}

/// The permission classes configuration may name: DRF's built-ins plus `IsOwner` and
/// `IsOwnerOrReadOnly`.
pub fn registry() -> Registry {
    let mut registry = Registry::with_builtins();
    registry
        .register("IsOwner", IsOwner)
        .register("IsOwnerOrReadOnly", IsOwnerOrReadOnly);
    registry
}

/// The reference's `OwnedViewSet.permission_classes = [IsAuthenticated, IsOwner]`.
pub const DEFAULT_RESOURCE_PERMISSION: &str = "IsAuthenticated & IsOwner";

/// A resource's access rules.
#[derive(Debug, Clone)]
pub struct ResourcePolicy {
    /// The policy text, as configured.
    pub expression: String,
    /// The policy.
    pub permission: Perm,
    /// Which objects it lists and finds.
    pub scope: Scope,
    /// The model of its objects.
    pub model: Model,
}

/// Configured policies that cannot be used; start-up stops with this message.
#[derive(Debug, thiserror::Error)]
pub enum PolicyConfigError {
    /// `[permissions] default` does not parse.
    #[error("[permissions] default: {0}")]
    Default(PolicyError),
    /// `[docs] permission` does not parse.
    #[error("[docs] permission: {0}")]
    Docs(PolicyError),
    /// `[resources.<name>] permission` does not parse.
    #[error("[resources.{resource}] permission: {source}")]
    Resource {
        /// The resource.
        resource: String,
        /// The parse error.
        source: PolicyError,
    },
    /// A `[resources.<name>]` section for a resource lendbook does not have.
    #[error("[resources.{0}]: unknown resource (known: {known})", known = resource_names())]
    UnknownResource(String),
}

/// Every policy, built once at start-up.
#[derive(Debug, Clone)]
pub struct Policies {
    /// `[permissions] default`: the policy of views that set none.
    pub default: Perm,
    /// `[docs] permission`: who may read the schema and its docs page.
    pub docs: Perm,
    resources: BTreeMap<&'static str, ResourcePolicy>,
}

impl Policies {
    /// Builds the policies of `config`; a bad expression or an unknown resource is an error
    /// pointing at the spot.
    pub fn from_config(config: &Config) -> Result<Self, PolicyConfigError> {
        let registry = registry();
        let default = registry
            .parse(&config.permissions.default)
            .map_err(PolicyConfigError::Default)?;
        let docs = registry
            .parse(&config.docs.permission)
            .map_err(PolicyConfigError::Docs)?;
        if let Some(unknown) = config.resources.keys().find(|k| resource(k).is_none()) {
            return Err(PolicyConfigError::UnknownResource(unknown.clone()));
        }
        let mut resources = BTreeMap::new();
        for r in RESOURCES {
            let settings = config.resources.get(r.name);
            let expression = settings
                .and_then(|s| s.permission.clone())
                .unwrap_or_else(|| DEFAULT_RESOURCE_PERMISSION.to_owned());
            let permission =
                registry
                    .parse(&expression)
                    .map_err(|source| PolicyConfigError::Resource {
                        resource: r.name.to_owned(),
                        source,
                    })?;
            let scope = settings.and_then(|s| s.scope).unwrap_or_default();
            resources.insert(
                r.name,
                ResourcePolicy {
                    expression,
                    permission,
                    scope,
                    model: r.model(),
                },
            );
        }
        Ok(Policies {
            default,
            docs,
            resources,
        })
    }

    /// The policy of the resource called `name` (`friends`, `belongings`, `borrowings`).
    pub fn resource(&self, name: &str) -> Option<&ResourcePolicy> {
        self.resources.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ResourceSettings;
    use axum_drf::permissions::Permission;

    #[test]
    fn defaults_reproduce_the_reference() {
        let p = Policies::from_config(&Config::default()).unwrap();
        for r in RESOURCES {
            let policy = p.resource(r.name).unwrap();
            assert_eq!(policy.expression, "IsAuthenticated & IsOwner");
            assert_eq!(policy.scope, Scope::Owner);
        }
        assert_eq!(
            p.resource("borrowings").unwrap().model.label(),
            "lending.borrowed"
        );
    }

    #[test]
    fn configured_policies_are_checked() {
        let mut c = Config::default();
        c.resources.insert(
            "belongings".into(),
            ResourceSettings {
                permission: Some("IsAuthenticated & (IsOwner | DjangoObjectPermissions)".into()),
                scope: Some(Scope::Granted),
            },
        );
        let p = Policies::from_config(&c).unwrap();
        assert_eq!(p.resource("belongings").unwrap().scope, Scope::Granted);
        assert!(
            p.resource("belongings")
                .unwrap()
                .permission
                .needs()
                .object_grants
        );

        c.resources.get_mut("belongings").unwrap().permission =
            Some("IsAuthenticated & IsOwnr".into());
        let e = Policies::from_config(&c).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "[resources.belongings] permission: column 19: unknown permission class \"IsOwnr\""
            ),
            "{e}"
        );

        let mut c = Config::default();
        c.resources
            .insert("belonging".into(), ResourceSettings::default());
        assert!(Policies::from_config(&c)
            .unwrap_err()
            .to_string()
            .contains("unknown resource"));

        let mut c = Config::default();
        c.permissions.default = "IsAuthenticated |".into();
        assert!(Policies::from_config(&c)
            .unwrap_err()
            .to_string()
            .starts_with("[permissions] default: column 18"));
    }

    #[test]
    fn object_specs() {
        let (model, id) = parse_object_spec("borrowings:42").unwrap();
        assert_eq!((model.label(), id), ("lending.borrowed".to_owned(), 42));
        assert!(parse_object_spec("borrowings").is_err());
        assert!(parse_object_spec("borrowings:x").is_err());
        assert!(parse_object_spec("borrowings:0").is_err());
        assert!(parse_object_spec("books:1")
            .unwrap_err()
            .to_string()
            .contains("known: friends, belongings, borrowings"));
        assert_eq!(
            resource_of("lending", "borrowed").unwrap().name,
            "borrowings"
        );
    }
}
