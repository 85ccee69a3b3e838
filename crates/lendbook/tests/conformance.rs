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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recorded_drf_cases() {
    let app = TestApp::spawn().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance");
    let cases = Runner::load_cases(&dir);
    assert!(cases.len() >= 43, "fixtures missing: {}", cases.len());
    let base = app.base.clone();
    let cli_app = &app;
    let create_user = move |u: &CreateUser| -> Result<(), String> {
        let mut args = vec![
            "users",
            "create",
            "--username",
            &u.username,
            "--password",
            &u.password,
            "--email",
            &u.email,
            // The recorded users were made by Django's ORM, which does not validate.
            "--no-validate",
        ];
        if u.staff {
            args.push("--staff");
        }
        if u.superuser {
            args.push("--superuser");
        }
        let out = cli_app.cli(&args);
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "create-user command failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    let results = tokio::task::block_in_place(|| {
        let runner = Runner {
            base,
            create_user: Some(&create_user),
        };
        runner.run_all_parallel(&cases, 4)
    });

    let mut problems = Vec::new();
    let (mut passed, mut expected_failures) = (0, 0);
    for r in &results {
        let expected_fail = EXPECTED_TO_FAIL.contains(&r.name.as_str());
        match (&r.outcome, expected_fail) {
            (Outcome::Pass, false) => passed += 1,
            (Outcome::Pass, true) => problems.push(format!(
                "{}: passes now; remove it from EXPECTED_TO_FAIL",
                r.name
            )),
            (Outcome::Fail(_), true) => expected_failures += 1,
            (Outcome::Fail(why), false) => problems.push(format!("{}: {why}", r.name)),
            (Outcome::Skip(why), _) => problems.push(format!("{}: skipped ({why})", r.name)),
        }
    }
    eprintln!(
        "conformance: {passed} passed, {expected_failures} expected failures, {} problems",
        problems.len()
    );
    assert!(problems.is_empty(), "\n{}", problems.join("\n\n"));
}
