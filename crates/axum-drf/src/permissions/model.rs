//! Models and permission names: Django's `<app_label>.<action>_<model_name>`.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// A model permissions are about, identified as Django does by `app_label` and a model
/// name (`lending.belonging`).
///
/// `object_name` keeps the class-style spelling (`Belonging`) for messages such as
/// "No Belonging matches the given query."; `model_name` is its lower-case form, the one
/// permission names use.
///
/// ```
/// use axum_drf::permissions::Model;
/// let m = Model::new("lending", "Borrowed");
/// assert_eq!(m.label(), "lending.borrowed");
/// assert_eq!(m.perm("change"), "lending.change_borrowed");
/// assert_eq!(m.object_name(), "Borrowed");
///
/// // Parsed from configuration text: `app.model`, any case.
/// let parsed: Model = "lending.friend".parse().unwrap();
/// assert_eq!(parsed.object_name(), "Friend");
/// assert!("friend".parse::<Model>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Model {
    app_label: String,
    model_name: String,
    object_name: String,
}

/// The four actions Django creates a permission for on every model.
pub const DEFAULT_ACTIONS: [&str; 4] = ["add", "change", "delete", "view"];

impl Model {
    /// A model of `app_label` whose class is called `object_name` (e.g. `"Belonging"`).
    pub fn new(app_label: impl Into<String>, object_name: impl Into<String>) -> Self {
        let object_name = object_name.into();
        Model {
            app_label: app_label.into(),
            model_name: object_name.to_lowercase(),
            object_name,
        }
    }

    /// The application label, e.g. `lending`.
    pub fn app_label(&self) -> &str {
        &self.app_label
    }

    /// The lower-case model name, e.g. `belonging`.
    pub fn model_name(&self) -> &str {
        &self.model_name
    }

    /// The class-style name, e.g. `Belonging`.
    pub fn object_name(&self) -> &str {
        &self.object_name
    }

    /// `app_label.model_name`.
    pub fn label(&self) -> String {
        format!("{}.{}", self.app_label, self.model_name)
    }

    /// The codename of `action` on this model: `change` -> `change_belonging`.
    pub fn codename(&self, action: &str) -> String {
        format!("{action}_{}", self.model_name)
    }

    /// The full permission name of `action`: `change` -> `lending.change_belonging`.
    pub fn perm(&self, action: &str) -> String {
        format!("{}.{}_{}", self.app_label, action, self.model_name)
    }

    /// DRF's perms_map template expansion: `%(app_label)s` / `%(model_name)s`, written
    /// here as `{app_label}` / `{model_name}`.
    pub fn expand(&self, template: &str) -> String {
        template
            .replace("{app_label}", &self.app_label)
            .replace("{model_name}", &self.model_name)
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.app_label, self.model_name)
    }
}

/// Text that does not name a model or permission.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Not `app_label.model`.
    #[error("\"{0}\" is not a model name: expected <app_label>.<model>, e.g. lending.belonging")]
    Model(String),
    /// Not `app_label.codename`.
    #[error(
        "\"{0}\" is not a permission name: expected <app_label>.<codename>, \
         e.g. lending.change_belonging"
    )]
    Permission(String),
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl FromStr for Model {
    type Err = NameError;

    /// `app.model` (any case); the object name is the model name with a capital first letter.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (app, model) = s
            .split_once('.')
            .filter(|(a, m)| is_identifier(a) && is_identifier(m))
            .ok_or_else(|| NameError::Model(s.to_owned()))?;
        let mut object_name = String::with_capacity(model.len());
        let mut chars = model.chars();
        if let Some(first) = chars.next() {
            object_name.extend(first.to_uppercase());
            object_name.push_str(chars.as_str());
        }
        Ok(Model::new(app, object_name))
    }
}

/// Splits `app_label.codename` into its parts.
///
/// ```
/// use axum_drf::permissions::parse_perm;
/// assert_eq!(parse_perm("lending.view_friend").unwrap(), ("lending", "view_friend"));
/// assert!(parse_perm("view_friend").is_err());
/// ```
pub fn parse_perm(name: &str) -> Result<(&str, &str), NameError> {
    name.split_once('.')
        .filter(|(a, c)| is_identifier(a) && is_identifier(c))
        .ok_or_else(|| NameError::Permission(name.to_owned()))
}

/// A set of permission names (`app_label.codename`): a user's model permissions, or the
/// grants a user holds on one object.
///
/// ```
/// use axum_drf::permissions::PermSet;
/// let perms: PermSet = ["lending.add_friend", "lending.view_friend"].into_iter().collect();
/// assert!(perms.contains("lending.add_friend"));
/// assert!(!perms.contains("lending.delete_friend"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermSet(BTreeSet<String>);

impl PermSet {
    /// No permissions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `perm` (`app_label.codename`) is in the set.
    pub fn contains(&self, perm: &str) -> bool {
        self.0.contains(perm)
    }

    /// Adds a permission name.
    pub fn insert(&mut self, perm: impl Into<String>) {
        self.0.insert(perm.into());
    }

    /// The names, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Number of permissions.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<S: Into<String>> FromIterator<S> for PermSet {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        PermSet(iter.into_iter().map(Into::into).collect())
    }
}
