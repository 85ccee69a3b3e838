//! Files holding secrets are readable by their owner only, from the moment they exist and
//! whatever the umask: the SQLite database and its WAL/SHM (password hashes, emails), the
//! generated server secret, and mail files (live reset links) in a 0700 directory.
#![cfg(unix)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::json;
use support::mail::MailApp;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread")]
async fn database_secret_and_mail_are_private_even_with_a_permissive_umask() {
    // The most permissive umask: any mode that is not asked for at creation shows up.
    // SAFETY: umask only changes this process's file-creation mask; this test binary
    // holds this one test, so nothing else creates files meanwhile.
    unsafe { libc::umask(0) };
    let state_dir = tempfile::tempdir().unwrap();
    let db = state_dir.path().join("lendbook.sqlite3");
    let mail_dir = state_dir.path().join("spool").join("mail");
    let on_sqlite = support::postgres_url().is_none();
    let t = MailApp::spawn(|c| {
        if on_sqlite {
            c.database_url = format!("sqlite://{}", db.display());
            // Generated beside the database on first start.
            c.secret_key = None;
        }
        c.email.file_dir = Some(mail_dir.clone());
    })
    .await;
    t.register("pat", "pat@example.com").await;
    t.post(
        "/api/auth/users/reset_password/",
        None,
        json!({"email": "pat@example.com"}),
    )
    .await;
    // The message lands in the configured directory (created by the server).
    let mut eml = None;
    for _ in 0..200 {
        eml = std::fs::read_dir(&mail_dir).ok().and_then(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.extension().is_some_and(|e| e == "eml"))
        });
        if eml.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let eml = eml.expect("a reset mail was written");
    assert_eq!(mode(&eml), 0o600, "{}", eml.display());
    assert_eq!(mode(&mail_dir), 0o700);

    if on_sqlite {
        let side = |suffix: &str| {
            let mut name = db.file_name().unwrap().to_os_string();
            name.push(suffix);
            db.with_file_name(name)
        };
        for path in [db.clone(), side("-wal"), side("-shm"), side(".secret")] {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
}
