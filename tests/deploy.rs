//! The deployment files work as written: every command the systemd units and the
//! crontab example run parses with this binary's arguments; the environment file reads
//! alike under systemd's `EnvironmentFile=` rules and under `set -a; .` (cron); and the
//! crontab lines and the units, run as written with the example files (only the URLs and
//! paths pointed at a test database and directory), reach the configured database.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;

use catalyst::cli::Cli;

/// Every shipped unit.
const UNITS: &[&str] = &[
    "catalyst.service",
    "catalyst-web.service",
    "catalyst-worker.service",
    "catalyst-ingest.service",
    "catalyst-prices.service",
    "catalyst-study.service",
];

fn deploy_file(name: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy")
            .join(name),
    )
    .unwrap_or_else(|e| panic!("deploy/{name}: {e}"))
}

/// `catalyst ...` invocations in a line, split into arguments (no quoting is used).
fn invocations(line: &str) -> Vec<Vec<String>> {
    line.split(['&', ';'])
        .filter_map(|part| {
            let words: Vec<&str> = part.split_whitespace().collect();
            let at = words.iter().position(|w| w.ends_with("bin/catalyst"))?;
            let args: Vec<String> = words[at..]
                .iter()
                .take_while(|w| !w.starts_with(">>") && !w.starts_with("2>"))
                .map(|w| w.to_string())
                .collect();
            Some(args)
        })
        .collect()
}

#[test]
fn every_unit_and_cron_command_parses() {
    let mut seen = 0;
    for name in UNITS.iter().copied().chain(["crontab.example"]) {
        let text = deploy_file(name);
        for line in text.lines() {
            let line = line.trim_start_matches("ExecStart=");
            for args in invocations(line) {
                Cli::try_parse_from(&args)
                    .unwrap_or_else(|e| panic!("deploy/{name}: {args:?}: {e}"));
                seen += 1;
            }
        }
    }
    assert!(seen >= 9, "{seen} commands");
}

#[test]
fn timers_name_existing_services_and_the_example_config_parses() {
    for (timer, service) in [
        ("catalyst-ingest.timer", "catalyst-ingest.service"),
        ("catalyst-prices.timer", "catalyst-prices.service"),
        ("catalyst-study.timer", "catalyst-study.service"),
    ] {
        assert!(deploy_file(timer).contains("[Timer]"));
        assert!(deploy_file(service).contains("Type=oneshot"));
    }
    let text = deploy_file("catalyst.toml.example");
    catalyst::cli::config::parse_file(&text, "deploy/catalyst.toml.example").unwrap();
    // The secrets example is an environment file, never the TOML.
    assert!(deploy_file("catalyst.env.example").contains("DATABASE_URL="));
}

/// Parse an environment file by systemd's `EnvironmentFile=` rules (systemd.exec(5)):
/// lines starting with `#` or `;` and lines without `=` are ignored; leading and trailing
/// whitespace is dropped; a value in single quotes is verbatim, in double quotes takes
/// the escapes \" \\ \$ \` and a backslash-newline; an unquoted value keeps its interior
/// whitespace and quotes, a backslash keeps the next character, and a trailing backslash
/// continues the line.
fn systemd_env(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let mut line = line.trim().to_string();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        while line.ends_with('\\') {
            line.pop();
            match lines.next() {
                Some(next) => line.push_str(next),
                None => break,
            }
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let parsed = if let Some(v) = value.strip_prefix('\'') {
            v.strip_suffix('\'').unwrap_or(v).to_string()
        } else if let Some(v) = value.strip_prefix('"') {
            let v = v.strip_suffix('"').unwrap_or(v);
            let mut s = String::new();
            let mut chars = v.chars();
            while let Some(c) = chars.next() {
                match (c, chars.clone().next()) {
                    ('\\', Some(n @ ('"' | '\\' | '$' | '`'))) => {
                        s.push(n);
                        chars.next();
                    }
                    _ => s.push(c),
                }
            }
            s
        } else {
            let mut s = String::new();
            let mut chars = value.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => s.extend(chars.next()),
                    c => s.push(c),
                }
            }
            s
        };
        out.insert(key.trim().to_string(), parsed);
    }
    out
}

/// The variables `set -a; . FILE; set +a` gives a POSIX shell (dash on Debian), for the
/// names `names`.
fn shell_env(file: &Path, names: &[&String]) -> BTreeMap<String, String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"set -a; . "$1"; set +a; env -0"#)
        .arg("sh")
        .arg(file)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| names.iter().any(|n| n.as_str() == *k))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_env_file_reads_alike_under_systemd_and_under_set_a_dot() {
    let dir = tempfile::tempdir().unwrap();
    let compare = |text: &str| {
        let file = dir.path().join("catalyst.env");
        std::fs::write(&file, text).unwrap();
        let systemd = systemd_env(text);
        let names: Vec<&String> = systemd.keys().collect();
        (systemd.clone(), shell_env(&file, &names))
    };
    let (systemd, shell) = compare(&deploy_file("catalyst.env.example"));
    assert_eq!(
        systemd.keys().collect::<Vec<_>>(),
        ["CATALYST_WEB_DATABASE_URL", "DATABASE_URL"]
    );
    assert_eq!(systemd, shell);
    // Single quotes, as the example's comment advises for other characters, read alike.
    let (systemd, shell) = compare("DATABASE_URL='postgres://u:pa$$@db/x?a=1&b=2'\n");
    assert_eq!(systemd["DATABASE_URL"], "postgres://u:pa$$@db/x?a=1&b=2");
    assert_eq!(systemd, shell);
    // The comparison tells the two apart where they differ (so the example is checked,
    // not assumed): a space, quotes, a dollar.
    for text in ["A=one two\n", "A='quoted' tail\n", "A=pa$word\n"] {
        let (systemd, shell) = compare(text);
        assert_ne!(systemd, shell, "{text}");
    }
}

/// The test database's URLs in the example environment file, as an operator edits it:
/// each `NAME=` line keeps its name and gets the value.
fn env_file_for(db: &common::TestDb, web_url: &str, dir: &Path) -> PathBuf {
    let text: String = deploy_file("catalyst.env.example")
        .lines()
        .map(|line| match line.split_once('=') {
            Some(("DATABASE_URL", _)) => format!("DATABASE_URL={}\n", db.url),
            Some(("CATALYST_WEB_DATABASE_URL", _)) => {
                format!("CATALYST_WEB_DATABASE_URL={web_url}\n")
            }
            _ => format!("{line}\n"),
        })
        .collect();
    let path = dir.join("catalyst.env");
    std::fs::write(&path, text).unwrap();
    path
}

/// A read-only role for the web URL (as the operations guide says), dropped at the end.
struct ReadOnlyRole {
    name: String,
    url: String,
}

async fn read_only_role(db: &common::TestDb, tag: &str) -> ReadOnlyRole {
    let name = format!("catalyst_deploy_{tag}_{}", std::process::id());
    catalyst::db::roles::grant_readonly(&db.pool, &name, true, None)
        .await
        .unwrap();
    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_username(&name).unwrap();
    ReadOnlyRole {
        name,
        url: url.to_string(),
    }
}

async fn drop_role(db: &common::TestDb, role: ReadOnlyRole) {
    for sql in [
        format!("DROP OWNED BY {}", role.name),
        format!("DROP ROLE {}", role.name),
    ] {
        sqlx::query(&sql).execute(&db.pool).await.unwrap();
    }
}

/// What `config check` must say when the job reaches the configured database.
fn assert_reaches(output: &str, db: &common::TestDb, what: &str) {
    let redacted_host = url::Url::parse(&db.url).unwrap();
    let host = redacted_host.host_str().unwrap_or_default();
    let line = output
        .lines()
        .find(|l| l.trim_start().starts_with("database.url"))
        .unwrap_or_else(|| panic!("{what}: no database.url line:\n{output}"));
    assert!(
        line.contains(host) && line.contains("env DATABASE_URL"),
        "{what}: {line}"
    );
    assert!(
        output.contains("ok   database answers"),
        "{what}: the database does not answer:\n{output}"
    );
    assert!(
        output.contains("reads and cannot write"),
        "{what}:\n{output}"
    );
}

#[tokio::test]
async fn the_crontab_lines_as_written_reach_the_configured_database() {
    let db = common::test_db().await;
    let role = read_only_role(&db, "cron").await;
    let dir = tempfile::tempdir().unwrap();
    let env_file = env_file_for(&db, &role.url, dir.path());
    let toml = dir.path().join("catalyst.toml");
    std::fs::write(&toml, deploy_file("catalyst.toml.example")).unwrap();
    let logs = dir.path().join("log");
    std::fs::create_dir(&logs).unwrap();
    let bin = env!("CARGO_BIN_EXE_catalyst");

    // cron runs each command with `SHELL -c`, in an environment of the crontab's own
    // variables (and HOME, LOGNAME, PATH from cron itself).
    let crontab = deploy_file("crontab.example");
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut jobs = Vec::new();
    for line in crontab.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // A variable line is NAME=value; a job line starts with its schedule.
        match line.split_once('=') {
            Some((name, value))
                if !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                vars.push((name.to_string(), value.to_string()))
            }
            _ => jobs.push(line.splitn(6, ' ').nth(5).unwrap_or_default().to_string()),
        }
    }
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    // Every directory the jobs write to is created by the documented install steps.
    let operations =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/operations.md"))
            .unwrap();
    for job in &jobs {
        for target in job.split(">>").skip(1) {
            let file = target.split_whitespace().next().unwrap_or_default();
            let dir = Path::new(file).parent().unwrap().display().to_string();
            assert!(
                operations.contains(&format!("install -d -m 0750 -o catalyst -g catalyst {dir}")),
                "docs/operations.md does not create {dir}, where the crontab writes"
            );
        }
    }
    let shell = vars
        .iter()
        .find(|(k, _)| k == "SHELL")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "/bin/sh".into());

    let run = |command: &str| {
        let mut cmd = Command::new(&shell);
        cmd.arg("-c").arg(command).env_clear();
        cmd.env("PATH", "/usr/bin:/bin")
            .env("HOME", dir.path())
            .env("LOGNAME", "catalyst");
        for (k, v) in &vars {
            let v = v.replace("/etc/catalyst/catalyst.toml", toml.to_str().unwrap());
            cmd.env(k, v);
        }
        cmd.status().unwrap()
    };
    for job in &jobs {
        // As written, with the files where the test keeps them, and each catalyst
        // command replaced by `config check` (the jobs themselves would go online).
        let mut command = job
            .replace("/etc/catalyst/catalyst.env", env_file.to_str().unwrap())
            .replace("/var/log/catalyst", logs.to_str().unwrap());
        let mut rewritten = String::new();
        while let Some(at) = command.find("/usr/local/bin/catalyst") {
            rewritten.push_str(&command[..at]);
            rewritten.push_str(&format!("{bin} config check "));
            let rest = &command[at..];
            let end = rest.find(">>").unwrap_or(rest.len());
            command = rest[end..].to_string();
        }
        rewritten.push_str(&command);
        let status = run(&rewritten);
        assert!(status.success(), "{rewritten}: {status}");
    }
    for log in ["ingest.log", "prices.log", "study.log"] {
        let text = std::fs::read_to_string(logs.join(log)).unwrap();
        assert_reaches(&text, &db, log);
    }

    // The old line (`. FILE && catalyst ...`) sources without exporting: its commands do
    // not see DATABASE_URL. This is what the check above would catch.
    let old = format!(
        ". {} && {bin} config check >>{}/old.log 2>&1",
        env_file.display(),
        logs.display()
    );
    run(&old);
    let text = std::fs::read_to_string(logs.join("old.log")).unwrap();
    assert!(text.contains("(not set)"), "{text}");
    drop_role(&db, role).await;
}

/// `Environment=` and `EnvironmentFile=` of a unit, and its `ExecStart=` arguments.
fn unit_settings(unit: &str) -> (Vec<(String, String)>, Vec<String>, Vec<String>) {
    let (mut env, mut files, mut exec) = (Vec::new(), Vec::new(), Vec::new());
    for line in deploy_file(unit).lines() {
        if let Some(kv) = line.strip_prefix("Environment=") {
            let (k, v) = kv.split_once('=').unwrap();
            env.push((k.to_string(), v.to_string()));
        } else if let Some(f) = line.strip_prefix("EnvironmentFile=") {
            files.push(f.trim_start_matches('-').to_string());
        } else if let Some(e) = line.strip_prefix("ExecStart=") {
            exec = e.split_whitespace().map(str::to_string).collect();
        }
    }
    (env, files, exec)
}

#[tokio::test]
async fn every_unit_as_written_reaches_the_configured_database_and_logs_to_the_journal() {
    let db = common::test_db().await;
    let role = read_only_role(&db, "unit").await;
    let dir = tempfile::tempdir().unwrap();
    let env_file = env_file_for(&db, &role.url, dir.path());
    let toml = dir.path().join("catalyst.toml");
    std::fs::write(&toml, deploy_file("catalyst.toml.example")).unwrap();
    for unit in UNITS {
        let (env, files, exec) = unit_settings(unit);
        assert_eq!(files, ["/etc/catalyst/catalyst.env"], "{unit}");
        assert_eq!(
            exec.first().map(String::as_str),
            Some("/usr/local/bin/catalyst"),
            "{unit}"
        );
        // The journal takes stdout and stderr: no log file, no log directory to create.
        let text = deploy_file(unit);
        assert!(
            !text.contains("StandardOutput=file") && !text.contains("/var/log"),
            "{unit}"
        );
        // systemd gives the process the file's variables and the unit's own, nothing
        // else of ours.
        let from_file = systemd_env(&std::fs::read_to_string(&env_file).unwrap());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_catalyst"));
        cmd.args(["config", "check"])
            .env_clear()
            .env("PATH", "/usr/bin:/bin");
        for (k, v) in from_file {
            cmd.env(k, v);
        }
        for (k, v) in env {
            cmd.env(
                k,
                v.replace("/etc/catalyst/catalyst.toml", toml.to_str().unwrap()),
            );
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{unit}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_reaches(&stdout, &db, unit);
        assert!(
            stdout.contains(&format!("file {}", toml.display())),
            "{unit}: {stdout}"
        );
    }
    drop_role(&db, role).await;
}
