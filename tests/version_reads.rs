//! The page cache's data version is read once for the requests that arrive together
//! (src/web/data_version.rs): fewer reads than requests, and still every write committed
//! before a request is seen by it.

mod common;

use std::time::Duration;

use catalyst::web::data_version::VersionReads;

const LIMIT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_share_reads_and_see_every_earlier_commit() {
    let db = common::test_db().await;
    let reads = VersionReads::default();

    // 64 requests at once: one version for all, from fewer reads than requests.
    let calls: Vec<_> = (0..64)
        .map(|_| {
            let (reads, pool) = (reads.clone(), db.pool.clone());
            tokio::spawn(async move { reads.current(&pool, LIMIT).await })
        })
        .collect();
    let mut seen = Vec::new();
    for c in calls {
        seen.push(c.await.unwrap().expect("the database answers"));
    }
    assert!(seen.iter().all(|v| *v == seen[0]), "{seen:?}");
    assert!(
        reads.reads() < 64,
        "{} reads for 64 requests",
        reads.reads()
    );

    // Read-after-commit under load: 16 tasks keep reads in flight while a writer commits
    // version bumps; a request made after a commit must see that commit (a request given
    // the answer of a read that began before it arrived would not, now and then).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hammer: Vec<_> = (0..16)
        .map(|_| {
            let (reads, pool, stop) = (reads.clone(), db.pool.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    reads.current(&pool, LIMIT).await;
                }
            })
        })
        .collect();
    for _ in 0..200 {
        let committed: i64 =
            sqlx::query_scalar("UPDATE data_version SET version = version + 1 RETURNING version")
                .fetch_one(&db.pool)
                .await
                .unwrap();
        let read = reads.current(&db.pool, LIMIT).await.expect("answers");
        assert!(read >= committed, "read {read} after commit {committed}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for h in hammer {
        h.await.unwrap();
    }
    let before = reads.reads();
    assert!(before > 0);

    // A reader that has finished leaves none behind: a lone request starts a new one.
    let v = reads.current(&db.pool, LIMIT).await;
    assert!(v.is_some());
    assert_eq!(reads.reads(), before + 1);
}
