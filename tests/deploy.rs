//! The deployment files stay in step with the command line: every command the systemd
//! units and the crontab example run parses with this binary's arguments.

use clap::Parser;

use catalyst::cli::Cli;

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
    line.split("&&")
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
    for name in [
        "catalyst-web.service",
        "catalyst-worker.service",
        "catalyst-ingest.service",
        "catalyst-study.service",
        "crontab.example",
    ] {
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
    assert!(seen >= 7, "{seen} commands");
}

#[test]
fn timers_name_existing_services_and_the_example_config_parses() {
    for (timer, service) in [
        ("catalyst-ingest.timer", "catalyst-ingest.service"),
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
