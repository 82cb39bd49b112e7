//! The pipeline's one retry policy: a transient failure is tried again after an exponential
//! backoff (`Settings::backoff`, doubling), up to `Settings::max_attempts` tries; a
//! permanent one is not. Steps and backup work both go through it.
//!
//! A small loop rather than a crate's: between tries the steps save the failed try on their
//! row (so the UI shows retries as they happen), an async store write that may itself fail,
//! which retry crates' synchronous notification hooks cannot carry.

use std::{future::Future, time::Duration};

use super::Settings;
use crate::drivers::StepError;

/// Told of every failed try.
pub(super) trait Tries {
    /// What can go wrong while noting a failed try.
    type Error;
    /// Try number `tries` (from 1) failed with `error`; `again`: it will be tried again.
    /// An error ends the whole call (the store is unreachable: nothing sensible is left).
    fn failed(
        &mut self,
        tries: u32,
        error: &StepError,
        again: bool,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// How long to wait after failed try number `tries` (from 1).
pub(super) fn delay(settings: &Settings, tries: u32) -> Duration {
    settings
        .backoff
        .saturating_mul(2u32.saturating_pow(tries.saturating_sub(1)))
}

/// Calls `op` until it succeeds, fails for good (a permanent error), or has failed
/// `max_attempts` times; returns how many tries it took and the last result.
pub(super) async fn with_backoff<T, Fut, L: Tries>(
    settings: &Settings,
    tries_log: &mut L,
    mut op: impl FnMut() -> Fut,
) -> Result<(u32, Result<T, StepError>), L::Error>
where
    Fut: Future<Output = Result<T, StepError>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match op().await {
            Ok(v) => return Ok((tries, Ok(v))),
            Err(e) => {
                let again = e.is_transient() && tries < settings.max_attempts;
                tries_log.failed(tries, &e, again).await?;
                if !again {
                    return Ok((tries, Err(e)));
                }
                tokio::time::sleep(delay(settings, tries)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Seen(Vec<(u32, bool)>);

    impl Tries for Seen {
        type Error = std::convert::Infallible;
        async fn failed(
            &mut self,
            tries: u32,
            _: &StepError,
            again: bool,
        ) -> Result<(), Self::Error> {
            self.0.push((tries, again));
            Ok(())
        }
    }

    fn quick() -> Settings {
        Settings {
            max_attempts: 3,
            backoff: Duration::from_millis(1),
            ..Settings::default()
        }
    }

    #[test]
    fn the_delay_doubles_from_the_backoff() {
        let s = Settings::default();
        let delays: Vec<_> = (1..=4).map(|t| delay(&s, t).as_millis()).collect();
        assert_eq!(delays, [250, 500, 1000, 2000]);
    }

    #[tokio::test]
    async fn transient_errors_are_tried_up_to_max_attempts() {
        let mut seen = Seen(vec![]);
        let (tries, result) = with_backoff(&quick(), &mut seen, || async {
            Err::<(), _>(StepError::transient("busy"))
        })
        .await
        .unwrap();
        assert_eq!(tries, 3);
        assert!(result.is_err());
        assert_eq!(seen.0, [(1, true), (2, true), (3, false)]);
    }

    #[tokio::test]
    async fn a_permanent_error_is_not_retried_and_success_ends_it() {
        let mut seen = Seen(vec![]);
        let (tries, _) = with_backoff(&quick(), &mut seen, || async {
            Err::<(), _>(StepError::permanent("no"))
        })
        .await
        .unwrap();
        assert_eq!((tries, seen.0), (1, vec![(1, false)]));

        let mut calls = 0;
        let mut seen = Seen(vec![]);
        let (tries, result) = with_backoff(&quick(), &mut seen, || {
            calls += 1;
            let fail = calls < 2;
            async move {
                if fail {
                    Err(StepError::transient("once"))
                } else {
                    Ok(7)
                }
            }
        })
        .await
        .unwrap();
        assert_eq!((tries, result.unwrap(), seen.0), (2, 7, vec![(1, true)]));
    }
}
