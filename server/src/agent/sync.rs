//! One pass of the agent: read both directories, plan, apply with broken blocks isolated,
//! reload nginx.

use std::{
    collections::{BTreeMap, HashMap},
    io,
    path::{Path, PathBuf},
};

use super::{
    dirs,
    nginx::Nginx,
    plan::{content_hash, plan, ChangeSet, ContentHash, Shared},
};

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    /// New contents nginx refused, with its message: not retried until they change.
    pub rejected: Vec<(String, String)>,
    /// New contents not tried because `nginx -t` failed even without them: retried next pass.
    pub held_back: Vec<String>,
    /// Whether nginx was asked to reload and accepted.
    pub reloaded: bool,
    /// Why the reload failed (nginx not running, for instance).
    pub reload_error: Option<String>,
}

impl Report {
    /// Whether the local directory changed.
    pub fn applied(&self) -> bool {
        !(self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty())
    }
}

/// The agent's state between passes.
pub struct Agent<N> {
    shared_dir: PathBuf,
    local_dir: PathBuf,
    nginx: N,
    /// Shared files whose content nginx refused, by the content's hash.
    rejected: HashMap<String, ContentHash>,
    /// The last warning logged per subject, so that each is logged once, not every pass.
    warned: HashMap<String, String>,
    /// The local directory changed since nginx last reloaded.
    reload_pending: bool,
}

impl<N: Nginx> Agent<N> {
    /// An agent copying `shared_dir` into `local_dir` (created if missing).
    pub fn new(shared_dir: PathBuf, local_dir: PathBuf, nginx: N) -> io::Result<Self> {
        std::fs::create_dir_all(&local_dir)?;
        if let Ok(shared) = shared_dir.canonicalize() {
            if shared == local_dir.canonicalize()? {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the shared and the local directory are the same directory",
                ));
            }
        }
        dirs::remove_stale_temp_files(&local_dir)?;
        let reload_pending = dirs::reload_pending(&local_dir);
        Ok(Agent {
            shared_dir,
            local_dir,
            nginx,
            rejected: HashMap::new(),
            warned: HashMap::new(),
            reload_pending,
        })
    }

    pub fn nginx(&self) -> &N {
        &self.nginx
    }

    /// One pass. `Err` when it was skipped (a directory could not be read): the local
    /// directory is then exactly as it was.
    pub async fn pass(&mut self) -> Result<Report, String> {
        let shared_dir = self.shared_dir.clone();
        let listing = tokio::task::spawn_blocking(move || dirs::read_shared(&shared_dir))
            .await
            .map_err(|e| format!("reading the shared directory: {e}"))?;
        let listing = match listing {
            Ok(listing) => listing,
            Err(e) => {
                let message = format!(
                    "cannot list the shared directory {}: {e}; the local blocks stay as they are",
                    self.shared_dir.display()
                );
                self.warn_once("shared", &message);
                return Err(message);
            }
        };
        self.recovered("shared", "the shared directory can be listed again");
        self.note_skipped_and_held(&listing);
        self.rejected
            .retain(|name, _| listing.files.contains_key(name));

        let local = match dirs::read_local(&self.local_dir) {
            Ok(local) => local,
            Err(e) => {
                let message = format!(
                    "cannot read the local directory {}: {e}",
                    self.local_dir.display()
                );
                self.warn_once("local", &message);
                return Err(message);
            }
        };
        self.recovered("local", "the local directory can be read again");

        let set = plan(&listing.files, &local, &self.rejected);
        let mut report = Report::default();
        if !set.is_empty() {
            let applied = match dirs::set_reload_pending(&self.local_dir, true) {
                Ok(()) => self.apply(&set, &local, &mut report).await,
                Err(e) => Err(e),
            };
            if let Err(e) = applied {
                // Some of the change set may be in place: reload once it can be finished.
                self.reload_pending = true;
                let message = format!("cannot change the local directory: {e}");
                self.warn_once("apply", &message);
                return Err(message);
            }
            self.recovered("apply", "the local directory can be changed again");
            if report.applied() {
                self.reload_pending = true;
                tracing::info!(
                    added = report.added.len(),
                    changed = report.changed.len(),
                    removed = report.removed.len(),
                    "applied server blocks: added {:?}, changed {:?}, removed {:?}",
                    report.added,
                    report.changed,
                    report.removed,
                );
            }
        }
        if self.reload_pending {
            self.reload(&mut report).await;
        } else if !set.is_empty() {
            // Nothing stuck (all refused or held back): the marker set above is not needed.
            let _ = dirs::set_reload_pending(&self.local_dir, false);
        }
        Ok(report)
    }

    /// Applies `set`: removals, then every write at once; when `nginx -t` refuses that,
    /// the writes are reverted and admitted group by group, halving a refused group until
    /// the refused files are found alone. Those are rejected (remembered by content hash),
    /// and every other file is applied.
    async fn apply(
        &mut self,
        set: &ChangeSet,
        local: &BTreeMap<String, Vec<u8>>,
        report: &mut Report,
    ) -> io::Result<()> {
        let dir = self.local_dir.clone();
        for name in &set.removed {
            dirs::remove_file(&dir, name)?;
            report.removed.push(name.clone());
        }
        let writes = set.writes();
        if writes.is_empty() {
            return Ok(());
        }
        write_all(&dir, &writes)?;
        let first = match self.nginx.test().await {
            Ok(()) => {
                accept(&writes, local, report);
                self.recovered("baseline", "nginx -t passes again");
                return Ok(());
            }
            Err(message) => message,
        };
        revert(&dir, &writes, local)?;
        if let Err(message) = self.nginx.test().await {
            // Not these files' fault (nginx.conf, a local file, nginx itself): nothing to
            // blame, so nothing is rejected; they are tried again next pass.
            self.warn_once(
                "baseline",
                &format!(
                    "nginx -t fails even without this pass's new server blocks, so none is \
                     applied until it passes: {message}"
                ),
            );
            report.held_back = writes.into_iter().map(|(name, _)| name).collect();
            return Ok(());
        }
        self.recovered("baseline", "nginx -t passes again");
        if writes.len() == 1 {
            self.reject(&writes[0], local, first, report);
            return Ok(());
        }
        let mid = writes.len() / 2;
        let mut groups = vec![&writes[mid..], &writes[..mid]];
        while let Some(group) = groups.pop() {
            write_all(&dir, group)?;
            match self.nginx.test().await {
                Ok(()) => accept(group, local, report),
                Err(message) => {
                    revert(&dir, group, local)?;
                    if let [one] = group {
                        self.reject(one, local, message, report);
                    } else {
                        let mid = group.len() / 2;
                        groups.push(&group[mid..]);
                        groups.push(&group[..mid]);
                    }
                }
            }
        }
        report.added.sort();
        report.changed.sort();
        Ok(())
    }

    fn reject(
        &mut self,
        (name, content): &(String, Vec<u8>),
        local: &BTreeMap<String, Vec<u8>>,
        message: String,
        report: &mut Report,
    ) {
        let kept = if local.contains_key(name) {
            "its previous version stays in place"
        } else {
            "it is not served"
        };
        tracing::warn!(
            file = %name,
            "nginx refused the shared server block {name}; {kept} until its content changes: {message}"
        );
        self.rejected.insert(name.clone(), content_hash(content));
        report.rejected.push((name.clone(), message));
    }

    async fn reload(&mut self, report: &mut Report) {
        match self.nginx.reload().await {
            Ok(()) => {
                self.reload_pending = false;
                report.reloaded = true;
                if let Err(e) = dirs::set_reload_pending(&self.local_dir, false) {
                    tracing::warn!("cannot clear the reload marker: {e}");
                }
                self.recovered("reload", "nginx reloaded");
            }
            Err(message) => {
                self.warn_once(
                    "reload",
                    &format!(
                        "nginx did not reload (is it running?); the local directory is in \
                         place for its next start, and the reload is retried every pass: \
                         {message}"
                    ),
                );
                report.reload_error = Some(message);
            }
        }
    }

    /// Warns once about each shared entry that is skipped (bad name, not a regular file) or
    /// held back this pass (unreadable, changing), and forgets entries that are fine again.
    fn note_skipped_and_held(&mut self, listing: &dirs::SharedListing) {
        let mut current = Vec::new();
        for (name, why) in &listing.skipped {
            let subject = format!("file:{name}");
            self.warn_once(
                &subject,
                &format!("skipping {name} in the shared directory: {why}"),
            );
            current.push(subject);
        }
        for (name, file) in &listing.files {
            if let Shared::Held(why) = file {
                let subject = format!("file:{name}");
                self.warn_once(
                    &subject,
                    &format!("leaving the local copy of {name} as it is this pass: {why}"),
                );
                current.push(subject);
            }
        }
        self.warned
            .retain(|subject, _| !subject.starts_with("file:") || current.contains(subject));
    }

    fn warn_once(&mut self, subject: &str, message: &str) {
        if self.warned.get(subject).map(String::as_str) != Some(message) {
            tracing::warn!("{message}");
            self.warned.insert(subject.to_string(), message.to_string());
        }
    }

    fn recovered(&mut self, subject: &str, message: &str) {
        if self.warned.remove(subject).is_some() {
            tracing::info!("{message}");
        }
    }
}

fn write_all(dir: &Path, files: &[(String, Vec<u8>)]) -> io::Result<()> {
    files
        .iter()
        .try_for_each(|(name, content)| dirs::write_file(dir, name, content))
}

fn revert(
    dir: &Path,
    files: &[(String, Vec<u8>)],
    local: &BTreeMap<String, Vec<u8>>,
) -> io::Result<()> {
    files
        .iter()
        .try_for_each(|(name, _)| dirs::restore(dir, name, local.get(name).map(Vec::as_slice)))
}

fn accept(files: &[(String, Vec<u8>)], local: &BTreeMap<String, Vec<u8>>, report: &mut Report) {
    for (name, _) in files {
        if local.contains_key(name) {
            report.changed.push(name.clone());
        } else {
            report.added.push(name.clone());
        }
    }
}
