//! The private PostgreSQL cluster used when no DATABASE_URL is set: created on first use,
//! reused by a second process, stopped by the process that started it.

use std::path::Path;
use std::process::Command as Std;

use assert_cmd::Command;
use catalyst::db::{Database, DbOptions};

fn running(dir: &Path) -> bool {
    let bin = catalyst::db::embedded::find_bin_dir().unwrap();
    let mut cmd = Std::new(bin.join("pg_ctl"));
    cmd.arg("status").arg("-D").arg(dir.join("pgdata"));
    if nix::unistd::Uid::effective().is_root() {
        // pg_ctl, like the server, refuses root; ask as the user that owns the cluster.
        use std::os::unix::process::CommandExt;
        let owner = nix::unistd::User::from_name("postgres")
            .unwrap()
            .or_else(|| nix::unistd::User::from_name("nobody").unwrap())
            .unwrap();
        cmd.uid(owner.uid.as_raw()).gid(owner.gid.as_raw());
    }
    cmd.output().unwrap().status.success()
}

fn temp_cluster_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("catalyst-emb-")
        .tempdir_in("/tmp")
        .unwrap()
}

#[tokio::test]
async fn the_private_cluster_starts_migrates_is_shared_and_stops() {
    let dir = temp_cluster_dir();
    let opts = DbOptions {
        database_url: None,
        pg_dir: Some(dir.path().to_path_buf()),
    };
    let first = Database::open(&opts).await.unwrap();
    assert!(running(dir.path()));
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'price_bars'",
    )
    .fetch_one(&first.pool)
    .await
    .unwrap();
    assert_eq!(tables, 1);

    // A second user of the same directory reuses the server and leaves it running.
    let second = Database::open(&opts).await.unwrap();
    second.close().await;
    assert!(
        running(dir.path()),
        "the second user must not stop the first's server"
    );
    sqlx::query("SELECT 1").execute(&first.pool).await.unwrap();

    first.close().await;
    assert!(!running(dir.path()), "the starter stops the server");
}

#[test]
fn the_binary_without_database_url_uses_and_then_stops_a_private_cluster() {
    let dir = temp_cluster_dir();
    Command::cargo_bin("catalyst")
        .unwrap()
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "off")
        .args(["migrate", "--pg-dir"])
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicates::str::contains("private PostgreSQL"));
    assert!(dir.path().join("pgdata/PG_VERSION").exists());
    assert!(!running(dir.path()));
}
