//! A small, fixed pool of low-priority threads for password hashing.
//!
//! argon2id at OWASP parameters needs ~19 MiB and tens of milliseconds of CPU per hash. On
//! tokio's blocking pool each new thread brings its own malloc arena that keeps those
//! buffers (RSS grew past 300 MiB under a login flood); a fixed set of threads bounds the
//! memory at `threads × 19 MiB`. The threads also run at the lowest CPU priority, so on a
//! busy core request handling preempts hashing and reads keep their latency while logins
//! queue.

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// Handle to the hashing threads; cheap to clone.
#[derive(Clone, Debug)]
pub struct HashingPool {
    jobs: flume::Sender<Job>,
}

/// The pool has shut down (only at process exit).
#[derive(Debug, thiserror::Error)]
#[error("the password hashing pool is gone")]
pub struct PoolClosed;

impl HashingPool {
    /// Starts `threads` hashing threads (at least one).
    pub fn new(threads: usize) -> Self {
        // A short queue: beyond it callers wait asynchronously (backpressure), not in memory.
        let (tx, rx) = flume::bounded::<Job>(threads.max(1) * 4);
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("hashing-{i}"))
                .spawn(move || {
                    lower_priority();
                    while let Ok(job) = rx.recv() {
                        job();
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        HashingPool { jobs: tx }
    }

    /// Runs `f` on a hashing thread and returns its result.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let pool = axum_drf::auth::hashing::HashingPool::new(1);
    /// assert_eq!(pool.run(|| 6 * 7).await.unwrap(), 42);
    /// # });
    /// ```
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PoolClosed> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        // Counted from the moment the caller waits until the hash is done (the gauge goes
        // back down even if the caller's future is dropped).
        crate::metrics::hashing_in_flight(1.0);
        struct Leave;
        impl Drop for Leave {
            fn drop(&mut self) {
                crate::metrics::hashing_in_flight(-1.0);
            }
        }
        let _leave = Leave;
        self.jobs.send_async(job).await.map_err(|_| PoolClosed)?;
        rx.await.map_err(|_| PoolClosed)
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: plain syscalls on the calling thread; failure only leaves the priority as is.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 19);
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}
