//! Configuration: a TOML file plus environment variables plus flags.
//!
//! Precedence, highest first: command-line flag, environment variable, configuration file,
//! built-in default. Secrets (database URLs, which may carry passwords, and API keys) are
//! read from the environment only; the file refuses them. `catalyst config check` shows
//! every setting with where it came from, and checks that it works.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Where the configuration file is looked for when neither `--config` nor
/// `CATALYST_CONFIG` names one: the working directory, then /etc.
pub const DEFAULT_CONFIG_PATHS: [&str; 2] = ["catalyst.toml", "/etc/catalyst/catalyst.toml"];

pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 8080));

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {key}: secrets are read from the environment only; set {env} instead")]
    SecretInFile {
        path: String,
        key: &'static str,
        env: &'static str,
    },
    #[error("{var}={value:?}: {message}")]
    BadEnv {
        var: &'static str,
        value: String,
        message: String,
    },
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for journald, Loki, ...).
    Json,
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "unknown log format {other:?} (expected text or json)"
            )),
        }
    }
}

/// The configuration file's contents. Unknown keys are errors, so a typo is not silently
/// ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub database: DatabaseSection,
    #[serde(default)]
    pub web: WebSection,
    #[serde(default)]
    pub log: LogSection,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    /// Directory of the private cluster, used when DATABASE_URL is not set.
    pub pg_dir: Option<PathBuf>,
    /// Refused: a URL may carry a password.
    url: Option<toml::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSection {
    /// Address `catalyst serve` listens on.
    pub addr: Option<SocketAddr>,
    /// Refused: a URL may carry a password.
    database_url: Option<toml::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    pub format: Option<LogFormat>,
    /// A tracing filter, e.g. "catalyst=debug,sqlx=warn". RUST_LOG overrides it.
    pub level: Option<String>,
}

/// Parse a configuration file's text; `path` names it in errors.
pub fn parse_file(text: &str, path: &str) -> Result<FileConfig, ConfigError> {
    let config: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_string(),
        message: e.to_string().trim_end().replace('\n', " "),
    })?;
    let secret = |key, env| ConfigError::SecretInFile {
        path: path.to_string(),
        key,
        env,
    };
    if config.database.url.is_some() {
        return Err(secret("database.url", "DATABASE_URL"));
    }
    if config.web.database_url.is_some() {
        return Err(secret("web.database_url", "CATALYST_WEB_DATABASE_URL"));
    }
    Ok(config)
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag(&'static str),
    Env(&'static str),
    File(PathBuf),
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(flag) => write!(f, "flag {flag}"),
            Origin::Env(var) => write!(f, "env {var}"),
            Origin::File(path) => write!(f, "file {}", path.display()),
            Origin::Default => f.write_str("default"),
        }
    }
}

/// A resolved value and its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<T> {
    pub value: T,
    pub origin: Origin,
}

/// What the flags said (None: not given).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub config: Option<PathBuf>,
    pub pg_dir: Option<PathBuf>,
    pub addr: Option<SocketAddr>,
    pub log_format: Option<LogFormat>,
}

/// Every setting, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file read, if any.
    pub file: Option<PathBuf>,
    pub database_url: Setting<Option<String>>,
    pub web_database_url: Setting<Option<String>>,
    pub pg_dir: Setting<Option<PathBuf>>,
    pub addr: Setting<SocketAddr>,
    pub log_format: Setting<LogFormat>,
    pub log_level: Setting<Option<String>>,
}

/// The environment, as a lookup (tests pass their own).
pub trait Env {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment; empty values count as unset.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Env for std::collections::HashMap<&str, &str> {
    fn get(&self, name: &str) -> Option<String> {
        std::collections::HashMap::get(self, name)
            .map(|v| v.to_string())
            .filter(|v| !v.is_empty())
    }
}

/// Find and read the configuration file: `--config`, else `CATALYST_CONFIG`, else the
/// first of [`DEFAULT_CONFIG_PATHS`] that exists. A file named explicitly must exist.
pub fn load_file(
    flags: &Flags,
    env: &dyn Env,
) -> Result<Option<(PathBuf, FileConfig)>, ConfigError> {
    let explicit = flags
        .config
        .clone()
        .or_else(|| env.get("CATALYST_CONFIG").map(PathBuf::from));
    let path = match explicit {
        Some(p) => p,
        None => match DEFAULT_CONFIG_PATHS
            .iter()
            .map(Path::new)
            .find(|p| p.is_file())
        {
            Some(p) => p.to_path_buf(),
            None => return Ok(None),
        },
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let config = parse_file(&text, &path.display().to_string())?;
    Ok(Some((path, config)))
}

/// Resolve every setting: flag, then environment, then file, then default.
pub fn resolve(
    flags: &Flags,
    env: &dyn Env,
    file: Option<(PathBuf, FileConfig)>,
) -> Result<Settings, ConfigError> {
    let (path, cfg) = match file {
        Some((p, c)) => (Some(p), c),
        None => (None, FileConfig::default()),
    };
    let from_file = || Origin::File(path.clone().unwrap_or_default());

    fn pick<T>(
        flag: Option<(T, &'static str)>,
        env: Option<(T, &'static str)>,
        file: Option<T>,
        file_origin: impl FnOnce() -> Origin,
        default: T,
    ) -> Setting<T> {
        if let Some((value, name)) = flag {
            Setting {
                value,
                origin: Origin::Flag(name),
            }
        } else if let Some((value, var)) = env {
            Setting {
                value,
                origin: Origin::Env(var),
            }
        } else if let Some(value) = file {
            Setting {
                value,
                origin: file_origin(),
            }
        } else {
            Setting {
                value: default,
                origin: Origin::Default,
            }
        }
    }

    let addr_env = match env.get("CATALYST_ADDR") {
        Some(v) => Some((
            v.parse::<SocketAddr>().map_err(|e| ConfigError::BadEnv {
                var: "CATALYST_ADDR",
                value: v.clone(),
                message: e.to_string(),
            })?,
            "CATALYST_ADDR",
        )),
        None => None,
    };
    let format_env = match env.get("CATALYST_LOG_FORMAT") {
        Some(v) => Some((
            v.parse::<LogFormat>()
                .map_err(|message| ConfigError::BadEnv {
                    var: "CATALYST_LOG_FORMAT",
                    value: v.clone(),
                    message,
                })?,
            "CATALYST_LOG_FORMAT",
        )),
        None => None,
    };
    Ok(Settings {
        database_url: pick(
            None,
            env.get("DATABASE_URL").map(|v| (Some(v), "DATABASE_URL")),
            None,
            from_file,
            None,
        ),
        web_database_url: pick(
            None,
            env.get("CATALYST_WEB_DATABASE_URL")
                .map(|v| (Some(v), "CATALYST_WEB_DATABASE_URL")),
            None,
            from_file,
            None,
        ),
        pg_dir: pick(
            flags.pg_dir.clone().map(|v| (Some(v), "--pg-dir")),
            env.get("CATALYST_PG_DIR")
                .map(|v| (Some(PathBuf::from(v)), "CATALYST_PG_DIR")),
            cfg.database.pg_dir.clone().map(Some),
            from_file,
            None,
        ),
        addr: pick(
            flags.addr.map(|v| (v, "--addr")),
            addr_env,
            cfg.web.addr,
            from_file,
            DEFAULT_ADDR,
        ),
        log_format: pick(
            flags.log_format.map(|v| (v, "--log-format")),
            format_env,
            cfg.log.format,
            from_file,
            LogFormat::Text,
        ),
        log_level: pick(
            None,
            env.get("RUST_LOG").map(|v| (Some(v), "RUST_LOG")),
            cfg.log.level.clone().map(Some),
            from_file,
            None,
        ),
        file: path,
    })
}

/// A database URL with its password hidden, for display.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(not a valid URL)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn file(text: &str) -> Option<(PathBuf, FileConfig)> {
        Some((
            PathBuf::from("/etc/catalyst/catalyst.toml"),
            parse_file(text, "/etc/catalyst/catalyst.toml").unwrap(),
        ))
    }

    #[test]
    fn flag_beats_env_beats_file_beats_default() {
        let f = file("[web]\naddr = \"0.0.0.0:9000\"\n[log]\nformat = \"json\"\n");
        let env: HashMap<&str, &str> = HashMap::from([("CATALYST_ADDR", "127.0.0.1:7000")]);
        let flags = Flags {
            log_format: Some(LogFormat::Text),
            ..Default::default()
        };
        let s = resolve(&flags, &env, f.clone()).unwrap();
        assert_eq!(s.addr.value.to_string(), "127.0.0.1:7000");
        assert_eq!(s.addr.origin, Origin::Env("CATALYST_ADDR"));
        assert_eq!(s.log_format.value, LogFormat::Text);
        assert_eq!(s.log_format.origin, Origin::Flag("--log-format"));

        let s = resolve(&Flags::default(), &HashMap::new(), f).unwrap();
        assert_eq!(s.addr.value.to_string(), "0.0.0.0:9000");
        assert!(matches!(s.addr.origin, Origin::File(_)));
        assert_eq!(s.log_format.value, LogFormat::Json);

        let s = resolve(&Flags::default(), &HashMap::new(), None).unwrap();
        assert_eq!(s.addr.value, DEFAULT_ADDR);
        assert_eq!(s.addr.origin, Origin::Default);
        assert_eq!(s.database_url.value, None);
    }

    #[test]
    fn secrets_in_the_file_are_refused_with_the_variable_to_use() {
        let err = parse_file("[database]\nurl = \"postgres://u:pw@h/db\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("c.toml") && err.contains("DATABASE_URL"),
            "{err}"
        );
        let err = parse_file("[web]\ndatabase_url = \"x\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("CATALYST_WEB_DATABASE_URL"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_file_and_key() {
        let err = parse_file("[web]\nadr = \"1.2.3.4:5\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("c.toml") && err.contains("adr"), "{err}");
        let err = parse_file("[log]\nformat = \"xml\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("c.toml") && err.contains("xml"), "{err}");
        let env: HashMap<&str, &str> = HashMap::from([("CATALYST_ADDR", "nowhere")]);
        let err = resolve(&Flags::default(), &env, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("CATALYST_ADDR") && err.contains("nowhere"),
            "{err}"
        );
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact_url("postgres://analyst:s3cret@db.example:5432/catalyst"),
            "postgres://analyst:***@db.example:5432/catalyst"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/catalyst"),
            "postgres://postgres@127.0.0.1/catalyst"
        );
    }
}
