use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kanta_store::testing::TestDb;

/// A store (SQLite in a temp folder, or a fresh PostgreSQL database) and a place
/// for input files.
pub struct Env {
    pub db: TestDb,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new(backend: &str) -> Env {
        Env {
            db: TestDb::new(backend),
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).expect("write input");
        p
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kanta"));
        c.env("KANTA_DATABASE_URL", &self.db.url)
            .env_remove("KANTA_DATA")
            .current_dir(self.dir.path());
        c
    }

    /// Runs kanta with `args`; returns the output whatever the exit code.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run kanta")
    }

    /// Runs kanta and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kanta {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.push("--json");
        serde_json::from_str(&self.ok(&a)).expect("JSON output")
    }

    pub fn count(&self, entity: &str) -> i64 {
        self.json(&["stats"])[entity].as_i64().expect("count")
    }
}

pub fn datasets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub const BACKENDS: &[&str] = kanta_store::testing::BACKENDS;

/// `kanta customers show --json` with its timeline turned oldest first (the command
/// shows the newest first).
pub fn oldest_first(mut show: serde_json::Value) -> serde_json::Value {
    if let Some(t) = show["timeline"].as_array_mut() {
        t.reverse();
    }
    show
}

// Running `kanta serve` and talking to it: a guard that kills the server however the
// test ends, a small HTTP/1.1 client, deadlines, free ports, a runtime for the SMTP
// test server.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Removes every `KANTA_SECTION__KEY` setting the test's own environment may hold, so
/// only what a test sets reaches `kanta`.
pub fn without_settings(c: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KANTA_") && name.to_string_lossy().contains("__") {
            c.env_remove(name);
        }
    }
    c
}

/// `kanta` with no store chosen (neither `KANTA_DATABASE_URL` nor `KANTA_DATA`) and no
/// setting inherited: for tests that pick the data folder themselves.
pub fn bare_kanta(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kanta"));
    c.env_remove("KANTA_DATABASE_URL")
        .env_remove("KANTA_DATA")
        .env_remove("KANTA_CONFIG")
        .env_remove("KANTA_LOG")
        .current_dir(dir);
    without_settings(&mut c);
    c
}

/// A port of 127.0.0.1 that was free a moment ago (bound, then let go).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Whether something accepts connections on `addr`.
pub fn listening(addr: &str) -> bool {
    TcpStream::connect_timeout(&addr.parse().expect("an address"), Duration::from_secs(2)).is_ok()
}

/// Polls `f` every 200 ms until it gives a value; panics with `what` after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "gave up after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Copies a child's pipe into `log` on a thread of its own (until the pipe closes).
fn collect(mut pipe: impl std::io::Read + Send + 'static, log: Arc<Mutex<Vec<u8>>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            log.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
}

/// Runs `c` to its end, killing it (and failing) when it takes longer than `limit`.
pub fn output_within(c: &mut Command, limit: Duration) -> Output {
    let (out, err) = (Arc::default(), Arc::default());
    let mut child = Running::spawn(c, &out, &err);
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "{c:?} still runs after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // The pipes close with the process; let the readers catch up.
    std::thread::sleep(Duration::from_millis(100));
    Output {
        status,
        stdout: out.lock().unwrap().clone(),
        stderr: err.lock().unwrap().clone(),
    }
}

/// A child process that is killed when this value goes, however the test ends.
struct Running(Child);

impl Running {
    fn spawn(c: &mut Command, out: &Arc<Mutex<Vec<u8>>>, err: &Arc<Mutex<Vec<u8>>>) -> Running {
        let mut child = c
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kanta");
        collect(child.stdout.take().expect("stdout"), out.clone());
        collect(child.stderr.take().expect("stderr"), err.clone());
        Running(child)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `kanta serve`: its address and everything it printed. Dropping it kills
/// the process (SIGKILL) and waits for it.
pub struct Serve {
    child: Running,
    log: Arc<Mutex<Vec<u8>>>,
    addr: Option<String>,
}

impl Serve {
    /// Starts `c` (a `kanta ... serve` command) without waiting for it.
    pub fn spawn(c: &mut Command) -> Serve {
        let log = Arc::new(Mutex::new(Vec::new()));
        let child = Running::spawn(c, &log, &log);
        Serve {
            child,
            log,
            addr: None,
        }
    }

    /// Starts `c` and waits until the server says where it listens.
    pub fn start(c: &mut Command) -> Serve {
        let mut s = Serve::spawn(c);
        s.ready();
        s
    }

    /// Waits (at most a minute) until the server prints "... on http://ADDR/".
    pub fn ready(&mut self) -> &str {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.addr.is_none() {
            let log = self.log();
            if let Some((_, rest)) = log.split_once(" on http://") {
                self.addr = rest.split('/').next().map(str::to_string);
                break;
            }
            if let Some(status) = self.child.0.try_wait().expect("wait") {
                panic!("kanta serve ended ({status}) before serving:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "kanta serve does not serve after a minute:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.addr()
    }

    /// `127.0.0.1:PORT`, as the server printed it.
    pub fn addr(&self) -> &str {
        self.addr.as_deref().expect("a server that is ready")
    }

    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// What it printed so far, stdout and stderr together.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&self.log.lock().unwrap()).into_owned()
    }

    /// `kill -9`, and waits for the process to end.
    pub fn kill(&mut self) {
        let _ = self.child.0.kill();
        let _ = self.child.0.wait();
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The header lines, as sent.
    pub head: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
}

/// One HTTP/1.1 request on its own connection (`Connection: close`), with a bearer
/// token and a JSON body when given.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    json: Option<&str>,
) -> Answer {
    let mut s =
        TcpStream::connect_timeout(&addr.parse().expect("an address"), Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = json.unwrap_or("");
    if json.is_some() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).expect("send the request");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the answer");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {raw}"));
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    Answer {
        status,
        head: head.to_string(),
        body: if chunked {
            dechunk(body)
        } else {
            body.to_string()
        },
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A runtime for async helpers (the SMTP test server): its tasks run on its own
/// thread while the test goes on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A TCP port that accepts connections and never answers (a mail server that hangs).
pub struct Tarpit {
    pub addr: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Tarpit {
    pub fn start() -> Tarpit {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("address").to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut held = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((s, _)) => held.push(s),
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            })
        };
        Tarpit {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Tarpit {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `kanta jobs --json`'s jobs of kind `mail.send`, newest first.
pub fn mail_jobs(overview: &serde_json::Value) -> Vec<serde_json::Value> {
    overview["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter(|j| j["kind"] == "mail.send")
        .cloned()
        .collect()
}
