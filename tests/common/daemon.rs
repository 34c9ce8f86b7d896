//! A running `kyso serve` for tests, and a raw HTTP/1.1 client over loopback
//! that can send any Host and Origin header (a browser cannot, which is why
//! the server checks them).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::process::kyso_cmd;
use super::softhsm::SoftHsm;

/// A `kyso serve` child process, killed on drop.
pub struct Daemon {
    pub port: u16,
    child: Child,
    pub log: PathBuf,
    pub home: PathBuf,
}

/// A free loopback port (the OS picks; the tiny race is acceptable in tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl Daemon {
    /// Starts `kyso serve --port P <extra>` against `hsm` and waits until it
    /// answers `GET /v1/hello`.
    pub fn start(hsm: &SoftHsm, extra: &[&str]) -> Daemon {
        Daemon::start_with_env(hsm, extra, &[])
    }

    /// As [`Daemon::start`] with `--tls`; readiness is checked over HTTPS.
    pub fn start_tls(hsm: &SoftHsm, extra: &[&str]) -> Daemon {
        let mut args = vec!["--tls"];
        args.extend_from_slice(extra);
        Daemon::spawn(hsm, &args, &[], true)
    }

    /// As [`Daemon::start`] with extra environment variables.
    pub fn start_with_env(hsm: &SoftHsm, extra: &[&str], env: &[(&str, &str)]) -> Daemon {
        Daemon::spawn(hsm, extra, env, false)
    }

    fn spawn(hsm: &SoftHsm, extra: &[&str], env: &[(&str, &str)], tls: bool) -> Daemon {
        let port = free_port();
        let log = hsm.base_dir().join(format!("daemon-{port}.log"));
        let mut cmd = kyso_cmd(hsm);
        cmd.args(["serve", "--port", &port.to_string()]).args(extra);
        cmd.envs(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        cmd.stderr(std::fs::File::create(&log).expect("log file"));
        let child = cmd.spawn().expect("spawn kyso serve");
        let daemon = Daemon {
            port,
            child,
            log,
            home: hsm.base_dir().join("home"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let up = if tls {
                // The handshake succeeding is enough: HTTPS is checked by the test.
                let cert = daemon.home.join(".local/share/kyso/tls/cert.pem");
                cert.exists() && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            } else {
                matches!(daemon.try_request("GET", "/v1/hello", &[("X-Kyso-Request", "1")], b""), Ok(r) if r.status == 200)
            };
            if up {
                return daemon;
            }
            assert!(
                Instant::now() < deadline,
                "kyso serve did not start:\n{}",
                daemon.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A request with the right Host header and the given extra headers.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        self.try_request(method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.log_text()))
    }

    fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Response> {
        let mut all: Vec<(String, String)> = Vec::new();
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            all.push(("Host".into(), format!("127.0.0.1:{}", self.port)));
        }
        all.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        raw_request(self.port, method, path, &all, body)
    }

    /// An API call from `origin` (None: a local program) with the custom
    /// header and, for a body, its content type.
    pub fn api(
        &self,
        method: &str,
        path: &str,
        origin: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Response {
        let mut h: Vec<(&str, &str)> = vec![("X-Kyso-Request", "1")];
        if let Some(o) = origin {
            h.push(("Origin", o));
        }
        if let Some(ct) = content_type {
            h.push(("Content-Type", ct));
        }
        self.request(method, path, &h, body)
    }

    /// Uploads `pdf` to `POST /v1/sign` as `origin`.
    pub fn submit(&self, pdf: &Path, origin: Option<&str>) -> Response {
        let body = std::fs::read(pdf).expect("read pdf");
        self.api("POST", "/v1/sign", origin, Some("application/pdf"), &body)
    }

    /// Opens the consent URL of `job` (JSON from the API) and submits the
    /// form as the user would, from Kyso's own origin.
    pub fn answer_consent(
        &self,
        job: &serde_json::Value,
        decision: &str,
        pin: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Response {
        let url = job["consent_url"]
            .as_str()
            .unwrap_or_else(|| panic!("no consent_url in {job}"));
        let page = self.page(url);
        assert_eq!(page.status, 200, "{}", page.text());
        let t = hidden_field(&page.text(), "t").expect("one-time token in the form");
        let id = job["job_id"].as_str().expect("job id");
        let mut form = format!("t={t}&decision={decision}");
        if let Some(p) = pin {
            form.push_str(&format!("&pin={p}"));
        }
        for (k, v) in extra {
            form.push_str(&format!("&{k}={v}"));
        }
        self.post_form(&format!("/consent/{id}"), form.as_bytes())
    }

    /// Posts a form to one of Kyso's windows, as the window itself does.
    pub fn post_form(&self, path: &str, form: &[u8]) -> Response {
        let origin = self.base();
        self.request(
            "POST",
            path,
            &[
                ("Origin", &origin),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            form,
        )
    }

    /// Opens a URL on Kyso's own origin (a consent or pairing link).
    pub fn page(&self, url: &str) -> Response {
        let path = url
            .strip_prefix(&self.base())
            .unwrap_or_else(|| panic!("{url} is not on Kyso's origin"));
        self.request("GET", path, &[], b"")
    }

    /// Long-polls a job until it leaves `state`.
    pub fn wait_job(&self, id: &str, origin: Option<&str>) -> serde_json::Value {
        self.api("GET", &format!("/v1/jobs/{id}?wait=10"), origin, None, b"")
            .json()
    }
}

impl Daemon {
    /// Stops the daemon with SIGTERM, as a service manager does, and
    /// returns how it exited.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "kyso serve did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    /// SIGTERM first, so the daemon shuts down as a service manager would
    /// stop it; SIGKILL only if it hangs.
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `<input type="hidden" name="NAME" value="…">`.
pub fn hidden_field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The `error.code` of a JSON error body.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Sends one request on a fresh connection and reads the whole answer.
pub fn raw_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    // The server may answer (and close) before reading a refused body.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> std::io::Result<Response> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body).ok_or_else(|| bad("bad chunked body"))?;
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(
            std::str::from_utf8(&b[..line_end])
                .ok()?
                .split(';')
                .next()?
                .trim(),
            16,
        )
        .ok()?;
        b = &b[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}
