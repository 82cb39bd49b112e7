//! What a client may make the panel spend: logins and signups per client address
//! (in-memory, `governor`'s keyed limiters), and password hashing, bounded to one argon2
//! run per core with a short queue (each run takes ~19 MiB and a core for a while).
//! The per-account login delays are the store's (they must hold across processes).

use std::{
    net::IpAddr,
    num::NonZeroU32,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;

use crate::error::AppError;

/// Per-address limits on logins and signups.
#[derive(Clone)]
pub struct AddressLimits {
    logins: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    signups: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl AddressLimits {
    pub fn new(logins_per_minute: NonZeroU32, signups_per_hour: NonZeroU32) -> AddressLimits {
        AddressLimits {
            logins: Arc::new(RateLimiter::keyed(Quota::per_minute(logins_per_minute))),
            signups: Arc::new(RateLimiter::keyed(Quota::per_hour(signups_per_hour))),
        }
    }

    /// One login attempt from `ip`, or `TooManyRequests`.
    pub fn login(&self, ip: IpAddr) -> Result<(), AppError> {
        self.logins.check_key(&ip).map_err(|_| {
            AppError::TooManyRequests(
                "Too many login attempts from your address. Wait a minute, then try again.".into(),
            )
        })?;
        self.sweep();
        Ok(())
    }

    /// One signup from `ip`, or `TooManyRequests`.
    pub fn signup(&self, ip: IpAddr) -> Result<(), AppError> {
        self.signups.check_key(&ip).map_err(|_| {
            AppError::TooManyRequests(
                "Too many new accounts from your address. Try again in an hour.".into(),
            )
        })?;
        self.sweep();
        Ok(())
    }

    /// Forgets addresses whose limits have recovered, so the maps stay small.
    fn sweep(&self) {
        for limiter in [&self.logins, &self.signups] {
            if limiter.len() > 10_000 {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        }
    }
}

/// Argon2 runs at once (one per core) and how many more may wait.
#[derive(Clone)]
pub struct PasswordHashing {
    running: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
}

impl PasswordHashing {
    /// One run per core, and up to `per_core_queue` waiting per core.
    pub fn per_core(per_core_queue: usize) -> PasswordHashing {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        PasswordHashing {
            running: Arc::new(Semaphore::new(cores)),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting: cores * per_core_queue,
        }
    }

    /// A place in the queue for one run, or `TooManyRequests` at once when too many wait.
    pub fn reserve(&self) -> Result<Reserved, AppError> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(AppError::TooManyRequests(
                "The panel is busy checking passwords. Try again in a few seconds.".into(),
            ));
        }
        Ok(Reserved {
            running: self.running.clone(),
            waiting: self.waiting.clone(),
        })
    }

    /// Runs `work` (an argon2 hash or verification) once a core is free (see `reserve`).
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        self.reserve()?.run(work).await
    }
}

/// A reserved place in the hashing queue; it is given up when dropped.
pub struct Reserved {
    running: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
}

impl Reserved {
    /// Runs `work` on the blocking pool once a core is free.
    pub async fn run<T: Send + 'static>(
        self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let permit = self.running.clone().acquire_owned().await;
        drop(self);
        let permit = permit.map_err(AppError::internal)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(AppError::internal)
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashing_is_bounded_and_the_rest_are_refused() {
        let hashing = PasswordHashing {
            running: Arc::new(Semaphore::new(1)),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting: 2,
        };
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(std::sync::Mutex::new(gate));
        let mut runs = Vec::new();
        for _ in 0..3 {
            let (h, gate) = (hashing.clone(), gate.clone());
            runs.push(tokio::spawn(async move {
                h.run(move || gate.lock().unwrap().recv().unwrap()).await
            }));
        }
        // One runs (blocked on the gate), two wait: a fourth is refused at once.
        let mut refused = None;
        for _ in 0..1000 {
            if hashing.waiting.load(Ordering::SeqCst) == 2 {
                refused = Some(hashing.run(|| ()).await);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(
            matches!(refused, Some(Err(AppError::TooManyRequests(_)))),
            "{refused:?}"
        );
        for _ in 0..3 {
            release.send(()).unwrap();
        }
        for run in runs {
            run.await.unwrap().unwrap();
        }
    }
}
