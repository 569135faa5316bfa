//! The data version for the page cache, read once for many requests.
//!
//! Every cache hit needs the current `data_version` (see [`super::cache`]): reading it per
//! request made the database the bottleneck of cached pages (a query per hit; issue 17
//! measured cached `/` at 0.31x nginx). Here concurrent requests share reads: a request
//! joins the next read that *starts after it arrived*, so each still sees every write
//! committed before it came in (read-after-commit holds exactly as with a read of its
//! own), while at most one read is in flight and one reads for all the requests that came
//! during it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::oneshot;

/// What a read gives its waiters: the version, or nothing (the database did not answer
/// within the limit, or failed).
type Reply = Option<i64>;

#[derive(Default)]
struct Queue {
    /// Requests waiting for a read that has not started yet.
    waiters: Vec<oneshot::Sender<Reply>>,
    /// Whether a reader task is running (it takes the waiters in rounds).
    reading: bool,
}

/// Shared reads of `data_version` (cheap to clone).
#[derive(Clone, Default)]
pub struct VersionReads {
    queue: Arc<Mutex<Queue>>,
    /// Reads sent to the database so far.
    reads: Arc<AtomicU64>,
}

impl VersionReads {
    /// Reads sent to the database so far (each answers every request waiting for it).
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// The current data version, read after this call began; `None` when the database
    /// does not answer within `limit`.
    pub async fn current(&self, pool: &PgPool, limit: Duration) -> Reply {
        let (tx, rx) = oneshot::channel();
        let start_reader = {
            let Ok(mut q) = self.queue.lock() else {
                self.reads.fetch_add(1, Ordering::Relaxed);
                return read(pool, limit).await;
            };
            q.waiters.push(tx);
            !std::mem::replace(&mut q.reading, true)
        };
        if start_reader {
            // A task of its own: a request that goes away (client gone, timeout) does not
            // take the others' read with it.
            let reader = Reader {
                reads: self.clone(),
                finished: false,
            };
            tokio::spawn(reader.rounds(pool.clone(), limit));
        }
        match tokio::time::timeout(limit, rx).await {
            Ok(Ok(v)) => v,
            // The reader task ended without answering (a panic): read alone.
            Ok(Err(_)) => {
                self.reads.fetch_add(1, Ordering::Relaxed);
                read(pool, limit).await
            }
            Err(_) => None,
        }
    }
}

/// Clears `reading` if the reader task ends abnormally (a panic, the runtime shutting
/// down), so that a later request starts one.
struct Reader {
    reads: VersionReads,
    /// Set when the rounds ended normally (`reading` was cleared under the lock).
    finished: bool,
}

impl Reader {
    /// Read for the waiting requests, round after round, until none is waiting.
    async fn rounds(mut self, pool: PgPool, limit: Duration) {
        loop {
            let batch = {
                let Ok(mut q) = self.reads.queue.lock() else {
                    return;
                };
                if q.waiters.is_empty() {
                    // Under the same lock as the check: a request that comes next sees
                    // no reader and starts one.
                    q.reading = false;
                    self.finished = true;
                    return;
                }
                std::mem::take(&mut q.waiters)
            };
            self.reads.reads.fetch_add(1, Ordering::Relaxed);
            let v = read(&pool, limit).await;
            for tx in batch {
                let _ = tx.send(v);
            }
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let Ok(mut q) = self.reads.queue.lock() {
            // After a panic or at shutdown: the requests still waiting read on their own
            // (their senders are dropped here), and the next request starts a reader.
            q.reading = false;
            q.waiters.clear();
        }
    }
}

async fn read(pool: &PgPool, limit: Duration) -> Reply {
    let q = sqlx::query_scalar!("SELECT version FROM data_version").fetch_one(pool);
    tokio::time::timeout(limit, q).await.ok()?.ok()
}
