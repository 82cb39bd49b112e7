//! A headless Chromium for the browser tests, driven through fantoccini by a `chromedriver`
//! the test starts itself.

use std::{
    future::Future,
    net::{TcpListener, TcpStream},
    os::unix::process::CommandExt,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{wd::WebDriverCompatibleCommand, Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs before any page script: remembers every element a `submit` listener is attached to,
/// so a test can tell when a form has been hydrated (leptos attaches its listeners then).
///
/// Only a script that runs before the page's own can see `addEventListener` calls, and plain
/// WebDriver has no such hook, so it goes in through chromedriver's CDP pass-through
/// (`Page.addScriptToEvaluateOnNewDocument`). Weaker signals were rejected: the wasm having
/// downloaded (resource timing) does not mean it has compiled and hydrated, and "submitting
/// does not navigate" needs a submission that may itself race hydration.
const HYDRATION_PROBE: &str = r#"(() => {
  const listening = new WeakSet();
  Object.defineProperty(window, '__mywpListening', { value: listening });
  const add = EventTarget.prototype.addEventListener;
  EventTarget.prototype.addEventListener = function (type, listener, options) {
    if (type === 'submit') listening.add(this);
    return add.call(this, type, listener, options);
  };
})();"#;

/// A `chromedriver` child process on a free loopback port. Dropping it kills its process
/// group: chromedriver and any browser it started.
pub struct Chromedriver {
    child: Child,
    pub url: String,
}

impl Chromedriver {
    /// Starts chromedriver and waits (bounded) until it accepts connections.
    pub async fn start() -> Chromedriver {
        let mut last = String::new();
        // A free port can be taken between our probe and chromedriver's bind: try again.
        for _ in 0..3 {
            let port = free_port();
            let child = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("start {CHROMEDRIVER}: {e}"));
            let mut driver = Chromedriver {
                child,
                url: format!("http://127.0.0.1:{port}"),
            };
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Ok(Some(status)) = driver.child.try_wait() {
                    last = format!("chromedriver exited: {status}");
                    break;
                }
                match TcpStream::connect(("127.0.0.1", port)) {
                    Ok(_) => return driver,
                    Err(e) => last = e.to_string(),
                }
                if Instant::now() > deadline {
                    panic!("chromedriver on port {port} not ready after 30 s: {last}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        panic!("chromedriver did not start: {last}");
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        use nix::{sys::signal::Signal, unistd::Pid};
        // Only the group of the process we started (process_group(0) made its id the group's).
        let _ = nix::sys::signal::killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A chromedriver-specific command fantoccini has no method for: `POST /session/{id}/{path}`.
#[derive(Debug)]
struct Vendor {
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for Vendor {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/{}",
            session.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

/// One headless Chromium session with its own fresh profile. Dropping it without `close`
/// (say, on a panic) still ends the session.
pub struct Browser {
    /// `None` once closed.
    client: Option<Client>,
    runtime: tokio::runtime::Handle,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Opens a session: headless Chromium as root, 1280×900, a fresh profile.
    pub async fn open(driver: &Chromedriver) -> Browser {
        let profile = tempfile::tempdir().expect("a profile directory");
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=1280,900".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": {"pageLoad": 60_000, "script": 30_000, "implicit": 0},
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        // Starting a browser on a busy two-core machine can be slow, but not this slow.
        let client = tokio::time::timeout(
            Duration::from_secs(120),
            ClientBuilder::new(HttpConnector::new())
                .capabilities(caps)
                .connect(&driver.url),
        )
        .await
        .expect("a session within 120 s")
        .expect("a session");
        let browser = Browser {
            client: Some(client),
            runtime: tokio::runtime::Handle::current(),
            _profile: profile,
        };
        browser
            .vendor(
                "goog/cdp/execute",
                json!({"cmd": "Page.addScriptToEvaluateOnNewDocument",
                       "params": {"source": HYDRATION_PROBE}}),
            )
            .await
            .expect("install the hydration probe");
        browser
    }

    /// The fantoccini client, for anything the helpers below do not cover.
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("an open session")
    }

    async fn vendor(&self, path: &'static str, body: Value) -> Result<Value, String> {
        self.client()
            .issue_cmd(Vendor { path, body })
            .await
            .map_err(|e| format!("{path}: {e}"))
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.client()
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The path of the page the browser shows.
    pub async fn path(&self) -> Result<String, String> {
        let url = self
            .client()
            .current_url()
            .await
            .map_err(|e| e.to_string())?;
        Ok(url.path().to_owned())
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Result<Value, String> {
        self.client()
            .execute(script, args)
            .await
            .map_err(|e| e.to_string())
    }

    /// The trimmed text of the first element `css` selects, or `None` if there is none.
    pub async fn text(&self, css: &str) -> Result<Option<String>, String> {
        let v = self
            .js(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : null;",
                vec![json!(css)],
            )
            .await?;
        Ok(v.as_str().map(str::to_owned))
    }

    /// Replaces the value of the input `css` selects by typing `text` into it.
    pub async fn fill(&self, css: &str, text: &str) {
        let el = self
            .client()
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"));
        el.clear()
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        el.send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Clicks the element `css` selects, as a user would.
    pub async fn click(&self, css: &str) {
        self.client()
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Saves a PNG of the viewport to `path`, creating its directory.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.client().screenshot().await.expect("take a screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("the screenshots directory");
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// What the pages logged to the console since the last call, one entry a line.
    pub async fn console(&self) -> String {
        match self.vendor("se/log", json!({"type": "browser"})).await {
            Ok(Value::Array(entries)) => entries
                .iter()
                .map(|e| format!("{} {}", e["level"], e["message"]))
                .collect::<Vec<_>>()
                .join("\n"),
            Ok(other) => other.to_string(),
            Err(e) => format!("(no console log: {e})"),
        }
    }

    /// Polls `check` every 200 ms until it yields `Ok`, for at most `timeout`; then fails
    /// with `what`, the last thing `check` saw, the page's path and its console log.
    pub async fn wait<T, F, Fut>(&self, what: &str, timeout: Duration, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, String>>,
    {
        let start = Instant::now();
        loop {
            match check().await {
                Ok(v) => return v,
                Err(last) if start.elapsed() > timeout => {
                    let path = self.path().await.unwrap_or_else(|e| e);
                    let console = self.console().await;
                    panic!(
                        "timed out after {timeout:?} waiting for {what}; last: {last}\n\
                         page: {path}\nconsole:\n{console}"
                    )
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// Waits until the page shows `path` and its form `form` (a CSS selector) is hydrated:
    /// leptos has attached its submit handler, so submitting it runs the client-side action.
    pub async fn wait_form(&self, path: &str, form: &str, timeout: Duration) {
        self.wait(&format!("{form} hydrated on {path}"), timeout, || async {
            let now = self.path().await?;
            if now != path {
                return Err(format!("on {now}"));
            }
            let hydrated = self
                .js(
                    "const f = document.querySelector(arguments[0]); \
                     return f ? window.__mywpListening.has(f) : null;",
                    vec![json!(form)],
                )
                .await?;
            match hydrated {
                Value::Bool(true) => Ok(()),
                Value::Bool(false) => Err("the form is not hydrated yet".into()),
                _ => Err("no such form yet".into()),
            }
        })
        .await
    }

    /// Ends the session (and its browser).
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            client.close().await.expect("close the session");
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        // Possibly mid-panic on the runtime's own thread, where we cannot block on it: end
        // the session from a plain thread, driven by the runtime's workers. Best effort.
        let runtime = self.runtime.clone();
        let _ = std::thread::spawn(move || {
            runtime.block_on(async {
                let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
            })
        })
        .join();
    }
}
