//! Blocking HTTP calls to a set of OpenAI-compatible endpoints, with a bounded
//! number of retries and exponential backoff.
//!
//! What is retried: transport failures (refused or dropped connections, resets,
//! timeouts) and the statuses a healthy deployment answers while it is busy or
//! restarting (408, 429, 500, 502, 503, 504). Anything else (400, 401, 404, 422,
//! …) is a property of the request or the deployment and fails at once. A retry
//! moves to the next endpoint, so one dead replica does not stall the run.

use std::time::Duration;

use anyhow::{anyhow, Result};
use serde_json::Value;

use crate::protocol::{error_message, snippet};

/// Connection and retry settings.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Base URLs (`http://host:port` or `http://host:port/v1`).
    pub endpoints: Vec<String>,
    /// Sent as `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// Whole-request limit: connecting, sending and receiving the reply.
    pub timeout: Duration,
    /// Attempts after the first one before a request fails.
    pub max_retries: u32,
    /// Wait before the first retry; doubled on each further retry up to `backoff_max`.
    pub backoff: Duration,
    pub backoff_max: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            endpoints: Vec::new(),
            api_key: None,
            timeout: Duration::from_secs(300),
            max_retries: 5,
            backoff: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
        }
    }
}

/// One failed attempt.
#[derive(Debug)]
pub enum CallError {
    /// The server could not be reached or the exchange broke off; worth retrying.
    Transport(String),
    /// The server answered with this status and body.
    Status(u16, String),
}

impl CallError {
    fn retryable(&self) -> bool {
        match self {
            CallError::Transport(_) => true,
            CallError::Status(code, _) => matches!(code, 408 | 429 | 500 | 502 | 503 | 504),
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Transport(m) => f.write_str(m),
            CallError::Status(code, body) => match error_message(body) {
                Some(m) => write!(f, "HTTP {code}: {m}"),
                None => write!(f, "HTTP {code}: {}", snippet(body)),
            },
        }
    }
}

/// A pool of connections to the endpoints, shareable between threads.
pub struct Client {
    agent: ureq::Agent,
    bases: Vec<String>,
    opts: ClientOptions,
}

/// `http://h:p`, `http://h:p/` and `http://h:p/v1/` all mean the server root.
fn normalise(url: &str) -> Result<String> {
    let u = url.trim().trim_end_matches('/');
    let u = u.strip_suffix("/v1").unwrap_or(u);
    if !(u.starts_with("http://") || u.starts_with("https://")) {
        return Err(anyhow!(
            "endpoint `{url}` is not an http:// or https:// URL"
        ));
    }
    Ok(u.to_string())
}

impl Client {
    pub fn new(opts: ClientOptions) -> Result<Self> {
        if opts.endpoints.is_empty() {
            return Err(anyhow!("no endpoint given"));
        }
        let bases = opts
            .endpoints
            .iter()
            .map(|e| normalise(e))
            .collect::<Result<Vec<_>>>()?;
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(opts.timeout))
            .timeout_connect(Some(opts.timeout.min(Duration::from_secs(10))))
            .http_status_as_error(false)
            .build();
        Ok(Self {
            agent: config.into(),
            bases,
            opts,
        })
    }

    /// The endpoints' base URLs, normalised.
    pub fn endpoints(&self) -> &[String] {
        &self.bases
    }

    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    fn finish(
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
        url: &str,
    ) -> Result<String, CallError> {
        let mut resp = resp.map_err(|e| CallError::Transport(transport_message(url, &e)))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_string()
            .map_err(|e| CallError::Transport(transport_message(url, &e)))?;
        if status == 200 {
            Ok(body)
        } else {
            Err(CallError::Status(status, body))
        }
    }

    /// One GET, no retry. `path` starts with `/`.
    pub fn get_once(&self, endpoint: usize, path: &str) -> Result<String, CallError> {
        let url = format!("{}{path}", self.bases[endpoint]);
        let mut req = self.agent.get(&url);
        if let Some(k) = &self.opts.api_key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        Self::finish(req.call(), &url)
    }

    /// One POST of a JSON body, no retry.
    pub fn post_once(
        &self,
        endpoint: usize,
        path: &str,
        body: &Value,
    ) -> Result<String, CallError> {
        let url = format!("{}{path}", self.bases[endpoint]);
        let mut req = self.agent.post(&url).content_type("application/json");
        if let Some(k) = &self.opts.api_key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        Self::finish(req.send(body.to_string()), &url)
    }

    /// Repeat `call(endpoint)` on retryable failures, starting at endpoint `first`
    /// and moving round-robin, waiting `backoff·2^k` (capped) between attempts.
    pub fn with_retries<T>(
        &self,
        first: usize,
        what: &str,
        mut call: impl FnMut(usize) -> Result<T, CallError>,
    ) -> Result<T, Failure> {
        let mut wait = self.opts.backoff;
        let mut attempt = 0u32;
        loop {
            let ep = (first + attempt as usize) % self.bases.len();
            match call(ep) {
                Ok(v) => return Ok(v),
                Err(e) if e.retryable() && attempt < self.opts.max_retries => {
                    attempt += 1;
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(self.opts.backoff_max);
                }
                Err(e) => {
                    let tries = attempt + 1;
                    let bound = if e.retryable() {
                        " (the retry bound, --max-retries)"
                    } else {
                        ""
                    };
                    let status = match &e {
                        CallError::Status(code, _) => Some(*code),
                        CallError::Transport(_) => None,
                    };
                    return Err(Failure {
                        status,
                        message: format!(
                            "{what} on {} failed after {tries} attempt{}{bound}: {e}",
                            self.bases[ep],
                            if tries == 1 { "" } else { "s" }
                        ),
                    });
                }
            }
        }
    }

    /// POST `/v1/completions`, retried; the reply body.
    pub fn complete(&self, first: usize, body: &Value) -> Result<String, Failure> {
        self.with_retries(first, "POST /v1/completions", |ep| {
            self.post_once(ep, "/v1/completions", body)
        })
    }
}

/// A request that failed for good: the last status (if the server answered) and
/// a message naming the endpoint, the attempts and the cause.
#[derive(Debug, Clone)]
pub struct Failure {
    pub status: Option<u16>,
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

fn transport_message(url: &str, e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => {
            format!("{url}: no complete answer within the request timeout ({t})")
        }
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            format!("{url}: connection refused (is the server running?)")
        }
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
            format!("{url}: cannot connect ({e})")
        }
        other => format!("{url}: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls_are_normalised() {
        assert_eq!(normalise("http://h:1/v1/").unwrap(), "http://h:1");
        assert_eq!(normalise("http://h:1").unwrap(), "http://h:1");
        assert!(normalise("h:1").is_err());
    }

    #[test]
    fn retry_classification() {
        assert!(CallError::Transport("x".into()).retryable());
        assert!(CallError::Status(503, String::new()).retryable());
        assert!(CallError::Status(500, String::new()).retryable());
        assert!(!CallError::Status(404, String::new()).retryable());
        assert!(!CallError::Status(400, String::new()).retryable());
    }

    #[test]
    fn retries_are_bounded_and_rotate_endpoints() {
        let c = Client::new(ClientOptions {
            endpoints: vec!["http://a".into(), "http://b".into()],
            max_retries: 3,
            backoff: Duration::from_millis(1),
            ..Default::default()
        })
        .unwrap();
        let mut seen = Vec::new();
        let r: Result<(), Failure> = c.with_retries(1, "call", |ep| {
            seen.push(ep);
            Err(CallError::Status(
                503,
                r#"{"error":{"message":"busy"}}"#.into(),
            ))
        });
        assert_eq!(seen, vec![1, 0, 1, 0]);
        let msg = r.unwrap_err().message;
        assert!(
            msg.contains("after 4 attempts") && msg.contains("busy"),
            "{msg}"
        );
        let mut n = 0;
        let r: Result<(), Failure> = c.with_retries(0, "call", |_| {
            n += 1;
            Err(CallError::Status(404, "nope".into()))
        });
        assert_eq!(n, 1);
        let f = r.unwrap_err();
        assert_eq!(f.status, Some(404));
        assert!(f.message.contains("HTTP 404: nope"), "{}", f.message);
    }
}
