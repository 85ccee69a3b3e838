//! The declared `rust-version` is what the locked dependencies need: the highest
//! `rust-version` among the packages in `Cargo.lock`'s resolution (read through
//! `cargo metadata --locked`). Updating a dependency that needs a newer compiler fails this
//! test until the declaration follows.

use std::process::Command;

fn parse(version: &str) -> Vec<u64> {
    let mut parts: Vec<u64> = version.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    parts.resize(3, 0);
    parts
}

#[test]
fn declared_rust_version_matches_what_the_lockfile_needs() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let resolved: Vec<&str> = metadata["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["id"].as_str())
        .collect();
    let members: Vec<&str> = metadata["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    let mut needed = (vec![0, 0, 0], String::new());
    let mut declared = Vec::new();
    for package in metadata["packages"].as_array().unwrap() {
        let id = package["id"].as_str().unwrap();
        let Some(version) = package["rust_version"].as_str() else {
            continue;
        };
        if members.contains(&id) {
            declared.push((package["name"].as_str().unwrap().to_owned(), parse(version)));
        } else if resolved.contains(&id) && parse(version) > needed.0 {
            needed = (parse(version), package["name"].as_str().unwrap().to_owned());
        }
    }
    assert!(
        !declared.is_empty(),
        "the workspace declares no rust-version"
    );
    for (name, version) in declared {
        assert_eq!(
            version, needed.0,
            "{name} declares rust-version {version:?}, but the locked {} needs {:?}",
            needed.1, needed.0
        );
    }
}
