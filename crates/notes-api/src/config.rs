//! Settings: defaults, then `notes.toml` (if present), then `NOTES_*` environment variables
//! (`NOTES_PERMISSIONS__NOTEBOOKS="IsAuthenticated & DjangoModelPermissions"`).

use std::collections::BTreeMap;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    pub bind: String,
    /// `sqlite://FILE` or `postgres://...`.
    pub database_url: String,
    /// Keys token derivation and signed values; without it, a random one per process (tokens
    /// then end with the process).
    pub secret_key: Option<String>,
    /// Policy per resource (`notebooks`, `notes`): an expression over DRF's permission
    /// classes, `IsOwner`, `IsOwnerOrReadOnly` and `HasEmailOrReadOnly`.
    pub permissions: BTreeMap<String, String>,
    /// One log line per request (as lendbook's default).
    pub access_log: bool,
    /// Throttle rates per scope (`"30/min"`, or `"off"`): `login`, `login_account`, and one
    /// scope per resource, named after it.
    pub throttle: BTreeMap<String, String>,
}

impl Default for Config {
    fn default() -> Self {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        Config {
            bind: "127.0.0.1:8000".into(),
            database_url: "sqlite://notes.sqlite3".into(),
            secret_key: None,
            access_log: true,
            permissions: map(&[
                ("notebooks", "IsAuthenticated & IsOwner"),
                ("notes", "IsAuthenticated & HasEmailOrReadOnly & IsOwner"),
            ]),
            throttle: map(&[
                ("login", "100/min"),
                ("login_account", "10/hour"),
                ("notebooks", "120/min"),
            ]),
        }
    }
}

impl Config {
    /// Loads the defaults, `notes.toml` and the environment.
    pub fn load() -> Result<Config, Box<figment::Error>> {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file("notes.toml"))
            .merge(Env::prefixed("NOTES_").split("__"))
            .extract()
            .map_err(Box::new)
    }
}
