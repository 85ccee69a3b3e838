//! Replays the recorded Django REST Framework cases (`tests/fixtures/conformance/`, copied
//! from `shared/conformance/cases/`) against the real server, with the semantics of
//! `shared/conformance/run.py`.

#[path = "support/conformance.rs"]
mod conformance;
mod support;

use std::path::Path;

use conformance::{CreateUser, Outcome, Runner};
use support::TestApp;

/// Cases that need work not landed yet. A case listed here that passes fails the test, so
/// the list shrinks as work lands and stays honest.
const EXPECTED_TO_FAIL: &[&str] = &[];

/// Cases where lendbook deliberately answers differently with its default settings (each
/// documented in docs/security.md), with the setting that restores the reference's
/// behaviour. Against the defaults they must fail (so the list stays honest); against a
/// server with that setting they must pass.
#[allow(clippy::type_complexity)]
const DELIBERATE_DEVIATIONS: &[(&str, fn(&mut lendbook::config::Config))] = &[
    // "old token keeps working" after set_password: lendbook revokes it by default.
    ("set_password_flow", |c| {
        c.auth.revoke_tokens_on_password_change = false
    }),
];

/// run.py's `--create-user-cmd`, through the real CLI against `app`'s database.
fn create_user_on(app: &TestApp, u: &CreateUser) -> Result<(), String> {
    let mut args = vec![
        "users",
        "create",
        "--username",
        &u.username,
        "--password",
        &u.password,
        "--email",
        &u.email,
    ];
    if u.staff {
        args.push("--staff");
    }
    if u.superuser {
        args.push("--superuser");
    }
    let out = app.cli(&args);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "create-user command failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn replay(app: &TestApp, cases: &[(String, serde_json::Value)]) -> Vec<conformance::CaseResult> {
    let create_user = |u: &CreateUser| create_user_on(app, u);
    tokio::task::block_in_place(|| {
        let runner = Runner {
            base: app.base.clone(),
            create_user: Some(&create_user),
        };
        runner.run_all_parallel(cases, 4)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recorded_drf_cases() {
    let app = TestApp::spawn().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance");
    let cases = Runner::load_cases(&dir);
    assert!(cases.len() >= 43, "fixtures missing: {}", cases.len());
    let results = replay(&app, &cases);
    let deviates = |name: &str| DELIBERATE_DEVIATIONS.iter().any(|(n, _)| *n == name);

    let mut problems = Vec::new();
    let (mut passed, mut expected_failures) = (0, 0);
    for r in &results {
        let expected_fail = EXPECTED_TO_FAIL.contains(&r.name.as_str()) || deviates(&r.name);
        match (&r.outcome, expected_fail) {
            (Outcome::Pass, false) => passed += 1,
            (Outcome::Pass, true) => problems.push(format!(
                "{}: passes now; remove it from EXPECTED_TO_FAIL / DELIBERATE_DEVIATIONS",
                r.name
            )),
            (Outcome::Fail(_), true) => expected_failures += 1,
            (Outcome::Fail(why), false) => problems.push(format!("{}: {why}", r.name)),
            (Outcome::Skip(why), _) => problems.push(format!("{}: skipped ({why})", r.name)),
        }
    }
    // Each deliberate deviation conforms once its compatibility setting is on.
    for (name, setting) in DELIBERATE_DEVIATIONS {
        let compat = TestApp::spawn_with(setting).await;
        let case: Vec<_> = cases.iter().filter(|(n, _)| n == name).cloned().collect();
        assert_eq!(case.len(), 1, "no recorded case {name}");
        for r in replay(&compat, &case) {
            match r.outcome {
                Outcome::Pass => passed += 1,
                other => problems.push(format!("{name} with its setting: {other:?}")),
            }
        }
    }
    eprintln!(
        "conformance: {passed} passed, {expected_failures} expected failures or deliberate \
         deviations, {} problems",
        problems.len()
    );
    assert!(problems.is_empty(), "\n{}", problems.join("\n\n"));
}
