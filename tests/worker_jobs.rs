//! The live tracker's job rules in `worker_jobs`: the study and upkeep wait while the
//! first-start backfill runs; new data asks for the study, which then runs once per gap;
//! a request made during a run survives it; progress is recorded and cleared.

mod common;

use catalyst::worker::store::{self, Gate};
use catalyst::worker::{PRICE_BACKFILL_JOB, STUDY_JOB};

const AFTER_BACKFILL: &[&str] = &[PRICE_BACKFILL_JOB];

fn study_gate(min_gap_secs: f64) -> Gate<'static> {
    Gate {
        min_gap_secs,
        blocked_by: AFTER_BACKFILL,
    }
}

#[tokio::test]
async fn the_study_waits_for_the_backfill_then_runs_when_new_data_asks() {
    let db = common::test_db().await;
    let pool = &db.pool;
    // First start: the backfill is claimed; the study (due, never run) must wait.
    assert!(
        store::claim(pool, PRICE_BACKFILL_JOB, "w1", 60.0, Gate::default())
            .await
            .unwrap()
    );
    assert!(!store::claim(pool, STUDY_JOB, "w1", 60.0, study_gate(0.0))
        .await
        .unwrap());
    assert_eq!(
        store::next_due(pool, STUDY_JOB, study_gate(0.0))
            .await
            .unwrap(),
        None,
        "a blocked job has no due time: the backfill's end wakes the worker"
    );
    store::progress(pool, PRICE_BACKFILL_JOB, "w1", 41, 82)
        .await
        .unwrap();
    let jobs = store::all(pool).await.unwrap();
    let backfill = jobs.iter().find(|j| j.name == PRICE_BACKFILL_JOB).unwrap();
    assert_eq!(
        (backfill.progress_done, backfill.progress_total),
        (Some(41), Some(82))
    );
    store::finish(pool, PRICE_BACKFILL_JOB, "w1", true, "done", 86_400.0)
        .await
        .unwrap();
    let jobs = store::all(pool).await.unwrap();
    let backfill = jobs.iter().find(|j| j.name == PRICE_BACKFILL_JOB).unwrap();
    assert_eq!(
        backfill.progress_done, None,
        "progress is cleared at the end"
    );

    // Now the study runs, and is scheduled an hour on.
    assert!(store::claim(pool, STUDY_JOB, "w1", 60.0, study_gate(0.0))
        .await
        .unwrap());
    // New articles arrive while it runs: the request must survive the run.
    store::want(pool, STUDY_JOB).await.unwrap();
    store::finish(pool, STUDY_JOB, "w1", true, "ran", 3_600.0)
        .await
        .unwrap();
    assert!(
        store::claim(pool, STUDY_JOB, "w2", 60.0, study_gate(0.0))
            .await
            .unwrap(),
        "the request made during the run makes the study due again at once"
    );
    store::finish(pool, STUDY_JOB, "w2", true, "ran", 3_600.0)
        .await
        .unwrap();
    assert!(
        !store::claim(pool, STUDY_JOB, "w2", 60.0, study_gate(0.0))
            .await
            .unwrap(),
        "that run covered the request: nothing is due for an hour"
    );

    // A request within the gap waits for it: due one gap after the last start.
    store::want(pool, STUDY_JOB).await.unwrap();
    assert!(
        !store::claim(pool, STUDY_JOB, "w2", 60.0, study_gate(3_600.0))
            .await
            .unwrap()
    );
    let due = store::next_due(pool, STUDY_JOB, study_gate(3_600.0))
        .await
        .unwrap()
        .expect("due at some time");
    let (started,): (chrono::DateTime<chrono::Utc>,) =
        sqlx::query_as("SELECT last_started_at FROM worker_jobs WHERE name = 'study'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(due, started + chrono::Duration::hours(1));
    // With no gap it is due now.
    assert!(store::claim(pool, STUDY_JOB, "w2", 60.0, study_gate(0.0))
        .await
        .unwrap());
}

#[tokio::test]
async fn asking_for_a_job_no_worker_runs_changes_nothing() {
    let db = common::test_db().await;
    store::want(&db.pool, STUDY_JOB).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM worker_jobs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(rows, 0);
}
