//! A site's database in and out of a snapshot: `mariadb-dump` writes it (one consistent
//! transaction, no locks), gzip-compressed; `mariadb` loads it back after dropping every
//! table, so tables a plugin made after the snapshot do not linger.
//!
//! Both tools log in as the site's own database user, which can read and rewrite its
//! database and nothing else; the load runs in `--binary-mode`, so nothing in a dump is
//! ever a client command (`\!` would run a shell). Its password goes to them in an option
//! file readable by this process only, never on a command line.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use flate2::{read::GzDecoder, write::GzEncoder, Compression};

use super::{HashingWriter, Written};
use crate::{
    domain::{SiteSpec, StepError},
    secrets::{MasterKey, Secret},
    sitedb::{self, DbNamespace, DbServer},
};

/// The client programs (Debian's mariadb-client).
const DUMP_BIN: &str = "mariadb-dump";
const CLIENT_BIN: &str = "mariadb";

/// A site's database and how to reach it as the site.
pub struct SiteDatabase {
    name: String,
    user: String,
    password: Secret,
    server: DbServer,
}

impl SiteDatabase {
    pub fn of(
        site: &SiteSpec,
        ns: &DbNamespace,
        key: &MasterKey,
        server: &DbServer,
    ) -> Result<Self, StepError> {
        let db = sitedb::SiteDatabase::of(site, ns, key)?;
        Ok(Self {
            user: db.name.clone(),
            name: db.name,
            password: db.password,
            server: server.clone(),
        })
    }

    /// An option file in `dir` with the connection and credentials, mode 0600.
    fn option_file(&self, dir: &Path) -> Result<PathBuf, StepError> {
        use std::os::unix::fs::OpenOptionsExt;
        let where_ = match &self.server {
            DbServer::Socket(socket) => format!("socket={}\n", socket.display()),
            DbServer::Tcp { host, port, .. } => format!("host={host}\nport={port}\n"),
        };
        let text = format!(
            "[client]\nuser={}\npassword={}\n{where_}default-character-set=utf8mb4\n",
            self.user,
            self.password.expose()
        );
        let path = dir.join("client.cnf");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| StepError::transient(format!("cannot write {}: {e}", path.display())))?;
        file.write_all(text.as_bytes())
            .map_err(|e| StepError::transient(format!("cannot write {}: {e}", path.display())))?;
        Ok(path)
    }

    fn command(&self, program: &str, options: &Path) -> Command {
        let mut cmd = Command::new(program);
        // Must come first, as these tools require.
        cmd.arg(format!("--defaults-extra-file={}", options.display()));
        cmd
    }

    /// Dumps the database, gzip-compressed, into `out`; `work` holds the option file.
    pub fn dump(&self, work: &Path, out: &Path) -> Result<Written, StepError> {
        let options = self.option_file(work)?;
        let mut child = self
            .command(DUMP_BIN, &options)
            .args([
                "--single-transaction",
                "--quick",
                "--skip-lock-tables",
                "--no-tablespaces",
                "--hex-blob",
                "--triggers",
                "--skip-dump-date",
            ])
            .arg(&self.name)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(ErrorLog::create(work)?.stdio())
            .spawn()
            .map_err(|e| spawn_error(DUMP_BIN, e))?;
        let file = std::fs::File::create(out)
            .map_err(|e| StepError::transient(format!("cannot write {}: {e}", out.display())))?;
        let mut gz = GzEncoder::new(HashingWriter::new(file), Compression::default());
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let copied = std::io::copy(&mut stdout, &mut gz);
        let status = child.wait().map_err(|e| spawn_error(DUMP_BIN, e))?;
        if !status.success() {
            return Err(tool_error("dump the database", &ErrorLog::read(work)));
        }
        copied.map_err(|e| StepError::transient(format!("cannot write the dump: {e}")))?;
        let written = gz
            .finish()
            .and_then(|w| w.finish())
            .map_err(|e| StepError::transient(format!("cannot write the dump: {e}")))?;
        Ok(written)
    }

    /// Replaces the database's content by the gzip-compressed dump at `dump`.
    pub fn load(&self, work: &Path, dump: &Path) -> Result<(), StepError> {
        let options = self.option_file(work)?;
        let drops = self.drop_statements(&options)?;
        let mut child = self
            .command(CLIENT_BIN, &options)
            // The dump is data: a line such as `\! rm -rf /` in it (a table's content
            // crafted by the site) is sent to the server, never run as a client command.
            .args(["--batch", "--binary-mode"])
            .arg(&self.name)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(ErrorLog::create(work)?.stdio())
            .spawn()
            .map_err(|e| spawn_error(CLIENT_BIN, e))?;
        let file = std::fs::File::open(dump)
            .map_err(|e| StepError::transient(format!("cannot read {}: {e}", dump.display())))?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        // The client may stop reading early (a failed statement): its exit status says why.
        let fed = stdin
            .write_all(drops.as_bytes())
            .and_then(|()| std::io::copy(&mut GzDecoder::new(file), &mut stdin).map(|_| ()));
        drop(stdin);
        let status = child.wait().map_err(|e| spawn_error(CLIENT_BIN, e))?;
        if !status.success() {
            return Err(tool_error(
                "load the snapshot's database",
                &ErrorLog::read(work),
            ));
        }
        fed.map_err(|e| StepError::permanent(format!("cannot read the snapshot's dump: {e}")))
    }

    /// `DROP` statements for every table and view the database has now.
    fn drop_statements(&self, options: &Path) -> Result<String, StepError> {
        let out = self
            .command(CLIENT_BIN, options)
            .args(["--batch", "--skip-column-names", "--raw", "-e"])
            .arg(
                "SELECT table_type, table_name FROM information_schema.tables \
                 WHERE table_schema = DATABASE()",
            )
            .arg(&self.name)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| spawn_error(CLIENT_BIN, e))?;
        if !out.status.success() {
            return Err(tool_error(
                "list the database's tables",
                &String::from_utf8_lossy(&out.stderr),
            ));
        }
        let mut sql = String::from("SET FOREIGN_KEY_CHECKS = 0;\n");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Some((kind, name)) = line.split_once('\t') else {
                continue;
            };
            let what = if kind == "VIEW" { "VIEW" } else { "TABLE" };
            sql.push_str(&format!(
                "DROP {what} IF EXISTS `{}`;\n",
                name.replace('`', "``")
            ));
        }
        Ok(sql)
    }
}

/// A tool's error output, in a file of the operation's work directory: a pipe could fill
/// while this process is busy with the tool's stdin or stdout, and both would wait forever.
struct ErrorLog(std::fs::File);

impl ErrorLog {
    const NAME: &'static str = "tool-errors.log";

    fn create(work: &Path) -> Result<Self, StepError> {
        let path = work.join(Self::NAME);
        std::fs::File::create(&path)
            .map(Self)
            .map_err(|e| StepError::transient(format!("cannot write {}: {e}", path.display())))
    }

    fn stdio(self) -> Stdio {
        Stdio::from(self.0)
    }

    fn read(work: &Path) -> String {
        std::fs::read_to_string(work.join(Self::NAME)).unwrap_or_default()
    }
}

fn spawn_error(program: &str, e: std::io::Error) -> StepError {
    if e.kind() == std::io::ErrorKind::NotFound {
        StepError::Permanent(format!(
            "{program} is not installed on this host (Debian: apt-get install mariadb-client)"
        ))
    } else {
        StepError::transient(format!("cannot run {program}: {e}"))
    }
}

/// A client tool's failure: connection trouble is worth a retry, the rest is not.
fn tool_error(what: &str, stderr: &str) -> StepError {
    let detail = stderr.trim();
    let detail = detail.lines().last().unwrap_or("no detail");
    let message = format!("could not {what}: {detail}");
    let transient = [
        "(2002)", "(2003)", "(2006)", "(2013)", "(1040)", "(1205)", "(1213)",
    ];
    if transient.iter().any(|code| detail.contains(code)) {
        StepError::Transient(message)
    } else {
        StepError::Permanent(message)
    }
}
