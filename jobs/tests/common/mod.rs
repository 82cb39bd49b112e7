//! Helpers shared by the `jobs` crate's integration tests.

use std::{
    sync::atomic::{AtomicU32, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

/// A name no other test (in this run, an earlier one, or against the same shared service)
/// uses: `prefix` + pid + counter + time; lower-case, DNS- and bucket-safe.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 1_000_000_000;
    format!("{prefix}{}-{n}-{t}", std::process::id())
}
