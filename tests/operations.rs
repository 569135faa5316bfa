//! Operating Catalyst: configuration precedence and `config check`, JSON logs, and an
//! older binary running against a newer schema (rolling upgrades).

mod common;

use assert_cmd::Command;

fn catalyst() -> Command {
    let mut cmd = Command::cargo_bin("catalyst").unwrap();
    for var in [
        "DATABASE_URL",
        "CATALYST_CONFIG",
        "CATALYST_ADDR",
        "CATALYST_LOG_FORMAT",
        "CATALYST_WEB_DATABASE_URL",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    // No ./catalyst.toml of the developer's may leak in.
    cmd.current_dir(std::env::temp_dir());
    cmd
}

#[tokio::test]
async fn config_check_shows_origins_redacts_passwords_and_fails_on_problems() {
    let db = common::test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalyst.toml");
    std::fs::write(
        &file,
        "[web]\naddr = \"0.0.0.0:9000\"\n[log]\nformat = \"text\"\n",
    )
    .unwrap();

    let out = catalyst()
        .args(["--config", file.to_str().unwrap(), "config", "check"])
        .env("DATABASE_URL", &db.url)
        .env("CATALYST_LOG_FORMAT", "json")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    let line = |key: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap_or_else(|| panic!("{key} in {stdout}"))
            .to_string()
    };
    assert!(line("web.addr").contains("0.0.0.0:9000") && line("web.addr").contains("file"));
    // Environment beats the file.
    assert!(line("log.format").contains("json") && line("log.format").contains("env"));
    assert!(stdout.contains("ok   database answers"), "{stdout}");

    // A password never shows; an unreachable database is a failure with exit status 1.
    let out = catalyst()
        .args(["config", "check"])
        .env(
            "DATABASE_URL",
            "postgres://someone:hunter2@127.0.0.1:1/none",
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        !stdout.contains("hunter2") && stdout.contains("someone:***@"),
        "{stdout}"
    );
    assert!(stdout.contains("FAIL"), "{stdout}");

    // A secret in the file is refused, naming the file and the variable to use.
    std::fs::write(&file, "[database]\nurl = \"postgres://u:pw@h/db\"\n").unwrap();
    let out = catalyst()
        .args(["--config", file.to_str().unwrap(), "config", "check"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("catalyst.toml") && stderr.contains("DATABASE_URL"),
        "{stderr}"
    );
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let db = common::test_db().await;
    let out = catalyst()
        .args(["--log-format", "json", "-v", "migrate"])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(!lines.is_empty());
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
        assert!(v["timestamp"].is_string() && v["level"].is_string(), "{l}");
    }
}

#[tokio::test]
async fn an_older_binary_keeps_working_on_a_newer_schema() {
    let db = common::test_db().await;
    // A newer binary has applied a migration this one does not know.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99990101000000, 'from the future', true, '\\x00', 1)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let out = catalyst()
        .arg("migrate")
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "catalyst=warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("schema is newer than this binary"),
        "{stderr}"
    );
    // And it still reads and writes its tables.
    let out = catalyst()
        .args(["taxonomy", "load"])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
