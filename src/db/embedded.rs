//! A private PostgreSQL cluster started from the installed server binaries.
//!
//! Used when no `DATABASE_URL` is given, so that a new user's first command works on a
//! machine that merely has PostgreSQL installed. The cluster listens on a unix socket in
//! its own directory only (no TCP port), with trust authentication: the directory's
//! permissions (0700) are the access control.
//!
//! `initdb` and `postgres` refuse to run as root. When Catalyst runs as root, the server
//! runs as an unprivileged system user (`postgres`, else `nobody`) that owns the cluster
//! directory; root still connects through the socket. The synchronous API is on purpose:
//! it runs once at start-up and at exit, also from an `atexit` hook in tests.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nix::unistd::{Gid, Uid, User};

/// Superuser name created by `initdb`, and the database Catalyst uses.
pub const SUPERUSER: &str = "catalyst";
pub const DATABASE: &str = "catalyst";

/// Unix socket paths are limited to 107 bytes on Linux; the socket is `DIR/.s.PGSQL.5432`.
const MAX_SOCKET_DIR_LEN: usize = 90;

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "no PostgreSQL server binaries found (initdb, pg_ctl, postgres): install PostgreSQL \
         (Debian/Ubuntu: `apt-get install postgresql`; macOS: `brew install postgresql`) \
         or set DATABASE_URL to an existing database"
    )]
    NoBinaries,
    #[error("cluster directory {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cluster directory {0} is too long for a unix socket path; choose a shorter --pg-dir")]
    PathTooLong(PathBuf),
    #[error(
        "running as root, but no unprivileged user (postgres, nobody) exists to run the server as"
    )]
    NoServerUser,
    #[error("{command} failed ({status}): {detail}")]
    Command {
        command: String,
        status: String,
        detail: String,
    },
}

/// A running (or reused) private cluster.
#[derive(Debug)]
pub struct EmbeddedServer {
    bin_dir: PathBuf,
    dir: PathBuf,
    run_as: Option<(Uid, Gid)>,
    /// Whether this process started the server and so must stop it.
    owned: bool,
}

impl EmbeddedServer {
    /// Start the cluster in `dir` (creating it with `initdb` on first use), or reuse it if
    /// another Catalyst process already runs it.
    pub fn start(dir: &Path) -> Result<Self, EmbeddedError> {
        let bin_dir = find_bin_dir()?;
        let run_as = server_user()?;
        let dir = absolute(dir)?;
        if dir.as_os_str().len() > MAX_SOCKET_DIR_LEN {
            return Err(EmbeddedError::PathTooLong(dir));
        }
        prepare_dir(&dir, run_as)?;
        let mut server = EmbeddedServer {
            bin_dir,
            dir,
            run_as,
            owned: false,
        };
        if !server.pgdata().join("PG_VERSION").exists() {
            server.initdb()?;
        }
        if server.is_running() {
            // Take the server over when the process that started it is gone.
            server.owned = !owner_alive(&server.owner_file());
        } else {
            server.pg_ctl_start()?;
            server.owned = true;
        }
        if server.owned {
            let _ = fs::write(server.owner_file(), std::process::id().to_string());
        }
        Ok(server)
    }

    /// The directory holding the socket (`host` in a connection string).
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// A libpq/sqlx URL for `database` over the socket.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@localhost/{database}?host={}",
            self.dir.display()
        )
    }

    /// Stop the server if this process started it. Idempotent.
    pub fn stop(&mut self) {
        if !self.owned {
            return;
        }
        self.owned = false;
        let pgdata = self.pgdata();
        let mut cmd = self.command("pg_ctl");
        cmd.arg("stop")
            .arg("-D")
            .arg(&pgdata)
            .args(["-m", "fast", "-w"]);
        match run(&mut cmd, "pg_ctl stop") {
            Ok(_) => tracing::debug!(dir = %self.dir.display(), "private PostgreSQL stopped"),
            Err(e) => tracing::warn!("could not stop the private PostgreSQL: {e}"),
        }
        let _ = fs::remove_file(self.owner_file());
    }

    fn pgdata(&self) -> PathBuf {
        self.dir.join("pgdata")
    }

    fn owner_file(&self) -> PathBuf {
        self.dir.join("catalyst.owner")
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        cmd.current_dir(&self.dir)
            .env("LC_ALL", "C")
            .env_remove("PGDATA");
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid.as_raw()).gid(gid.as_raw());
        }
        cmd
    }

    fn initdb(&self) -> Result<(), EmbeddedError> {
        tracing::info!(dir = %self.dir.display(), "creating a private PostgreSQL cluster");
        let mut cmd = self.command("initdb");
        cmd.arg("-D")
            .arg(self.pgdata())
            .args([
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ])
            .arg("--no-instructions");
        run(&mut cmd, "initdb").map(drop)
    }

    fn is_running(&self) -> bool {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("status").arg("-D").arg(self.pgdata());
        cmd.output().map(|o| o.status.success()).unwrap_or(false)
    }

    fn pg_ctl_start(&self) -> Result<(), EmbeddedError> {
        let options = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' -c unix_socket_permissions=0700",
            self.dir.display()
        );
        let mut cmd = self.command("pg_ctl");
        cmd.arg("start")
            .arg("-D")
            .arg(self.pgdata())
            .arg("-l")
            .arg(self.dir.join("postgres.log"))
            .args(["-w", "-t", "60", "-o", &options]);
        run(&mut cmd, "pg_ctl start").map_err(|e| match e {
            EmbeddedError::Command {
                command,
                status,
                detail,
            } => EmbeddedError::Command {
                command,
                status,
                detail: format!("{detail}; see {}", self.dir.join("postgres.log").display()),
            },
            other => other,
        })?;
        tracing::info!(socket = %self.dir.display(), "private PostgreSQL started");
        Ok(())
    }
}

impl Drop for EmbeddedServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The default cluster directory: `$XDG_DATA_HOME/catalyst/postgres` (usually
/// `~/.local/share/catalyst/postgres`); for root `/var/lib/catalyst/postgres`, because
/// root's home is not reachable by the unprivileged user the server runs as.
pub fn default_dir() -> PathBuf {
    if Uid::effective().is_root() {
        return PathBuf::from("/var/lib/catalyst/postgres");
    }
    dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("catalyst")
        .join("postgres")
}

/// Where `initdb`, `pg_ctl` and `postgres` live: `$CATALYST_PG_BINDIR`, then `initdb` on
/// PATH (symlinks resolved), then `pg_config --bindir`, then the newest
/// `/usr/lib/postgresql/*/bin`.
pub fn find_bin_dir() -> Result<PathBuf, EmbeddedError> {
    first_complete(bin_dir_candidates())
}

/// The first directory holding all three server programs.
fn first_complete(candidates: Vec<PathBuf>) -> Result<PathBuf, EmbeddedError> {
    let complete = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    candidates
        .into_iter()
        .find(|d| complete(d))
        .ok_or(EmbeddedError::NoBinaries)
}

fn bin_dir_candidates() -> Vec<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("CATALYST_PG_BINDIR") {
        candidates.push(PathBuf::from(dir));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let initdb = dir.join("initdb");
            if let Ok(real) = fs::canonicalize(&initdb) {
                if let Some(parent) = real.parent() {
                    candidates.push(parent.to_path_buf());
                }
            }
        }
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        if out.status.success() {
            let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
            candidates.push(PathBuf::from(dir));
        }
    }
    if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<(u32, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                Some((v, e.path().join("bin")))
            })
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.0));
        candidates.extend(versions.into_iter().map(|(_, p)| p));
    }
    candidates
}

/// The user the server runs as: none (ourselves) unless we are root.
fn server_user() -> Result<Option<(Uid, Gid)>, EmbeddedError> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    for name in ["postgres", "nobody"] {
        if let Ok(Some(user)) = User::from_name(name) {
            return Ok(Some((user.uid, user.gid)));
        }
    }
    Err(EmbeddedError::NoServerUser)
}

fn absolute(dir: &Path) -> Result<PathBuf, EmbeddedError> {
    std::path::absolute(dir).map_err(|source| EmbeddedError::Dir {
        path: dir.to_path_buf(),
        source,
    })
}

fn prepare_dir(dir: &Path, run_as: Option<(Uid, Gid)>) -> Result<(), EmbeddedError> {
    let io = |source| EmbeddedError::Dir {
        path: dir.to_path_buf(),
        source,
    };
    fs::create_dir_all(dir).map_err(io)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
    if let Some((uid, gid)) = run_as {
        nix::unistd::chown(dir, Some(uid), Some(gid))
            .map_err(|e| io(std::io::Error::from_raw_os_error(e as i32)))?;
    }
    Ok(())
}

fn owner_alive(owner_file: &Path) -> bool {
    let Ok(text) = fs::read_to_string(owner_file) else {
        return false;
    };
    let Ok(pid) = text.trim().parse::<i32>() else {
        return false;
    };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

fn run(cmd: &mut Command, what: &str) -> Result<Output, EmbeddedError> {
    let output = cmd.output().map_err(|e| EmbeddedError::Command {
        command: what.to_string(),
        status: "not started".into(),
        detail: e.to_string(),
    })?;
    if output.status.success() {
        return Ok(output);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let detail = stderr
        .lines()
        .chain(stdout.lines())
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("no output")
        .to_string();
    Err(EmbeddedError::Command {
        command: what.to_string(),
        status: output.status.to_string(),
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_binaries_says_how_to_install_or_what_to_set() {
        let empty = tempfile_dir();
        let err = first_complete(vec![empty.clone(), empty.join("missing")]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("apt-get install postgresql"), "{msg}");
        assert!(msg.contains("DATABASE_URL"), "{msg}");
        let _ = fs::remove_dir_all(empty);
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("catalyst-bin-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        for b in ["initdb", "pg_ctl"] {
            fs::write(dir.join(b), "").unwrap();
        }
        dir
    }
}
