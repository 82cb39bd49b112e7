//! A customer's browser without a browser: a cookie-keeping client that calls the panel's
//! server functions the way its pages do.

use std::time::Duration;

use serde_json::Value;

pub struct Customer {
    pub base: String,
    pub client: reqwest::Client,
}

impl Customer {
    /// A browser on the panel's pages: it sends their `Origin` with every POST, as browsers do.
    pub fn new(base: &str) -> Customer {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::ORIGIN,
            base.parse().expect("the panel's origin is a header value"),
        );
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client");
        Customer {
            base: base.to_owned(),
            client,
        }
    }

    /// POSTs `form` to the server function at `/api/<endpoint>`, as the hydrated page does.
    pub async fn call(&self, endpoint: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}/api/{endpoint}", self.base))
            .form(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /api/{endpoint}: {e}"))
    }

    /// Like `call`, and returns the status with the JSON body.
    pub async fn call_json(&self, endpoint: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let res = self.call(endpoint, form).await;
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn page(&self, path: &str) -> (u16, String) {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET a page");
        (res.status().as_u16(), res.text().await.unwrap_or_default())
    }

    pub async fn create_site(&self, title: &str, slug: &str) {
        let (status, body) = self
            .call_json("create_site", &[("title", title), ("slug", slug)])
            .await;
        assert_eq!(status, 200, "create_site {slug}: {body}");
    }

    pub async fn site(&self, slug: &str) -> (u16, Value) {
        self.call_json("get_site", &[("slug", slug)]).await
    }

    /// Waits (bounded) until the site's status is `want`; returns its detail.
    pub async fn wait_status(&self, slug: &str, want: &str, timeout: Duration) -> Value {
        crate::wait_for(&format!("site {slug} to be {want}"), timeout, || async {
            let (status, body) = self.site(slug).await;
            if status == 200 && body["site"]["status"] == want {
                Ok(body)
            } else if status == 200 && want == "live" && body["site"]["status"] == "failed" {
                panic!("site {slug} failed: {body}")
            } else {
                Err(format!("{status} {body}"))
            }
        })
        .await
    }

    /// Waits (bounded) until the site is gone from the panel.
    pub async fn wait_gone(&self, slug: &str, timeout: Duration) {
        crate::wait_for(&format!("site {slug} to be deleted"), timeout, || async {
            match self.site(slug).await {
                (404, _) => Ok(()),
                (status, body) => Err(format!("{status} {body}")),
            }
        })
        .await
    }
}
