//! A real SMTP server for tests, on `127.0.0.1:0` in the test process, and a small
//! reader of the messages it receives.
//!
//! [`SmtpServer`] speaks EHLO/HELO, AUTH PLAIN and LOGIN (recording the login), MAIL
//! FROM, RCPT TO, DATA (dot-unstuffed), RSET, NOOP and QUIT, keeps every message
//! ([`Received`]: envelope, login, raw data), and can be told to answer MAIL FROM with
//! a failure (451, 550), to require a login, or be stopped and restarted on its port.
//! [`parse`] takes a received message apart: headers, RFC 2047 subject, the leaf parts
//! of a multipart body with base64 or quoted-printable undone.
#![allow(dead_code)] // a helper for every test file; each uses part of it

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// MAIL FROM's address, without `<>`.
    pub from: String,
    /// The RCPT TO addresses.
    pub to: Vec<String>,
    /// The login of the session (user, password), if it logged in.
    pub login: Option<(String, String)>,
    /// The DATA, dot-unstuffed, lines ending in CRLF, without the final `.` line.
    pub data: String,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    mail_from_reply: Option<u16>,
    required_login: Option<(String, String)>,
    auth_mechanisms: Option<String>,
}

/// See the module documentation.
pub struct SmtpServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: Option<JoinHandle<()>>,
}

impl SmtpServer {
    /// A server on a free port of 127.0.0.1, accepting everything.
    pub async fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State::default()));
        let task = Some(tokio::spawn(serve(listener, state.clone())));
        SmtpServer { addr, state, task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `smtp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// The messages received so far, oldest first (a message is kept before the
    /// server answers its DATA, so a send that returned is in here).
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Answers MAIL FROM with `code` (451: try later; 550: refused) instead of 250;
    /// `None` accepts again.
    pub fn answer_mail_from(&self, code: Option<u16>) {
        self.state.lock().unwrap().mail_from_reply = code;
    }

    /// Accepts only this login (535 for another), and no mail before it (530).
    pub fn require_login(&self, user: &str, password: &str) {
        self.state.lock().unwrap().required_login = Some((user.into(), password.into()));
    }

    /// The AUTH mechanisms EHLO offers (default `PLAIN LOGIN`).
    pub fn offer_auth(&self, mechanisms: &str) {
        self.state.lock().unwrap().auth_mechanisms = Some(mechanisms.into());
    }

    /// Closes the port and every open session: connections are refused until
    /// [`SmtpServer::restart`].
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port, with the same settings and messages.
    pub async fn restart(&mut self) {
        self.stop().await;
        let listener = TcpListener::bind(self.addr).await.expect("bind again");
        self.task = Some(tokio::spawn(serve(listener, self.state.clone())));
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A port of 127.0.0.1 on which nothing listens (bound, then let go).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local address").port()
}

async fn serve(listener: TcpListener, state: Arc<Mutex<State>>) {
    // Dropping the set (when this task is aborted) aborts every session.
    let mut sessions = JoinSet::new();
    loop {
        if let Ok((stream, _)) = listener.accept().await {
            sessions.spawn(session(stream, state.clone()));
        }
        while sessions.try_join_next().is_some() {}
    }
}

async fn read_line(r: &mut (impl AsyncBufRead + Unpin)) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    if r.read_until(b'\n', &mut buf).await? == 0 {
        return Ok(None);
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

fn b64(s: &str) -> Option<String> {
    String::from_utf8(BASE64.decode(s.trim()).ok()?).ok()
}

fn address(arg: &str) -> String {
    let start = arg.find('<').map_or(0, |i| i + 1);
    let end = arg[start..].find('>').map_or(arg.len(), |i| start + i);
    arg[start..end].to_string()
}

/// The answer to an AUTH prompt: `given` (an initial response) or the next line.
async fn challenge(
    r: &mut BufReader<OwnedReadHalf>,
    w: &mut OwnedWriteHalf,
    prompt: &str,
    given: &str,
) -> std::io::Result<Option<String>> {
    if !given.is_empty() {
        return Ok(Some(given.to_string()));
    }
    w.write_all(format!("334 {prompt}\r\n").as_bytes()).await?;
    read_line(r).await
}

async fn session(stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 kanta-test ESMTP ready\r\n").await?;
    let (mut login, mut from, mut to) = (None::<(String, String)>, None::<String>, Vec::new());
    while let Some(line) = read_line(&mut r).await? {
        let (verb, arg) = line.split_once(' ').unwrap_or((&line, ""));
        let reply: String = match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                let auth = state.lock().unwrap().auth_mechanisms.clone();
                let auth = auth.unwrap_or_else(|| "PLAIN LOGIN".into());
                format!("250-kanta-test\r\n250-8BITMIME\r\n250-SIZE 10485760\r\n250 AUTH {auth}")
            }
            "HELO" => "250 kanta-test".into(),
            "AUTH" => {
                let (mechanism, initial) = arg.split_once(' ').unwrap_or((arg, ""));
                let credentials = match mechanism.to_ascii_uppercase().as_str() {
                    "PLAIN" => challenge(&mut r, &mut w, "", initial)
                        .await?
                        .and_then(|s| b64(&s))
                        .and_then(|s| {
                            let mut fields = s.split('\0').skip(1);
                            Some((fields.next()?.to_string(), fields.next()?.to_string()))
                        }),
                    "LOGIN" => {
                        let user = challenge(&mut r, &mut w, "VXNlcm5hbWU6", initial)
                            .await?
                            .and_then(|s| b64(&s));
                        let password = challenge(&mut r, &mut w, "UGFzc3dvcmQ6", "")
                            .await?
                            .and_then(|s| b64(&s));
                        user.zip(password)
                    }
                    _ => None,
                };
                let required = state.lock().unwrap().required_login.clone();
                match credentials {
                    None => "501 5.5.2 Cannot decode the credentials".into(),
                    Some(c) if required.as_ref().is_some_and(|r| *r != c) => {
                        "535 5.7.8 Authentication credentials invalid".into()
                    }
                    Some(c) => {
                        login = Some(c);
                        "235 2.7.0 Authentication successful".into()
                    }
                }
            }
            "MAIL" => {
                let (reply, required) = {
                    let s = state.lock().unwrap();
                    (s.mail_from_reply, s.required_login.is_some())
                };
                match reply {
                    Some(code) if code < 500 => format!("{code} 4.3.0 Busy, try again later"),
                    Some(code) => format!("{code} 5.7.1 Sender refused"),
                    None if required && login.is_none() => {
                        "530 5.7.0 Authentication required".into()
                    }
                    None => {
                        from = Some(address(arg));
                        to.clear();
                        "250 2.1.0 OK".into()
                    }
                }
            }
            "RCPT" if from.is_none() => "503 5.5.1 MAIL first".into(),
            "RCPT" => {
                to.push(address(arg));
                "250 2.1.5 OK".into()
            }
            "DATA" if to.is_empty() => "503 5.5.1 RCPT first".into(),
            "DATA" => {
                w.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = String::new();
                loop {
                    let Some(line) = read_line(&mut r).await? else {
                        return Ok(());
                    };
                    if line == "." {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                    data.push_str("\r\n");
                }
                state.lock().unwrap().received.push(Received {
                    from: from.take().unwrap_or_default(),
                    to: std::mem::take(&mut to),
                    login: login.clone(),
                    data,
                });
                "250 2.0.0 OK queued".into()
            }
            "RSET" => {
                (from, to) = (None, Vec::new());
                "250 2.0.0 OK".into()
            }
            "NOOP" => "250 2.0.0 OK".into(),
            "QUIT" => {
                w.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => "502 5.5.2 Command not recognized".into(),
        };
        w.write_all(format!("{reply}\r\n").as_bytes()).await?;
    }
    Ok(())
}

/// A received message taken apart.
#[derive(Debug)]
pub struct Mail {
    /// The top-level headers, unfolded, in order.
    pub headers: Vec<(String, String)>,
    /// The leaf parts, in order (one for a message that is not multipart).
    pub parts: Vec<Part>,
}

/// A leaf part: its `Content-Type` and its body decoded to text.
#[derive(Debug)]
pub struct Part {
    pub content_type: String,
    pub body: String,
}

impl Mail {
    /// The first header of that name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The subject with its RFC 2047 encoded words decoded.
    pub fn subject(&self) -> String {
        decode_words(self.header("subject").unwrap_or(""))
    }

    /// The body of the first part of that MIME type (`text/plain`, `text/html`), with
    /// CRLF turned back to `\n`.
    pub fn body(&self, mime: &str) -> Option<String> {
        self.parts
            .iter()
            .find(|p| p.content_type.to_ascii_lowercase().starts_with(mime))
            .map(|p| p.body.replace("\r\n", "\n"))
    }
}

/// Takes a message's DATA apart (see [`Mail`]).
pub fn parse(data: &str) -> Mail {
    let (headers, body) = split_entity(data);
    let mut parts = Vec::new();
    leaves(&headers, body, &mut parts);
    Mail { headers, parts }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn split_entity(raw: &str) -> (Vec<(String, String)>, &str) {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        match headers.last_mut() {
            Some((_, value)) if line.starts_with([' ', '\t']) => value.push_str(line),
            _ => {
                let (k, v) = line.split_once(':').expect("a header line");
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
    }
    (headers, body)
}

fn leaves(headers: &[(String, String)], body: &str, out: &mut Vec<Part>) {
    let content_type = header(headers, "content-type").unwrap_or("text/plain");
    if content_type.to_ascii_lowercase().starts_with("multipart/") {
        let at = content_type
            .to_ascii_lowercase()
            .find("boundary=")
            .expect("a boundary");
        let boundary = content_type[at + 9..]
            .split(';')
            .next()
            .unwrap()
            .trim_matches('"');
        for chunk in body.split(&format!("--{boundary}")).skip(1) {
            if chunk.starts_with("--") {
                break;
            }
            let chunk = chunk.strip_prefix("\r\n").unwrap_or(chunk);
            let (h, b) = split_entity(chunk.strip_suffix("\r\n").unwrap_or(chunk));
            leaves(&h, b, out);
        }
        return;
    }
    let encoding = header(headers, "content-transfer-encoding").unwrap_or("7bit");
    let bytes = match encoding.to_ascii_lowercase().as_str() {
        "base64" => BASE64
            .decode(body.split_whitespace().collect::<String>())
            .expect("base64"),
        "quoted-printable" => {
            quoted_printable::decode(body, quoted_printable::ParseMode::Strict).expect("QP")
        }
        _ => body.as_bytes().to_vec(),
    };
    out.push(Part {
        content_type: content_type.to_string(),
        body: String::from_utf8(bytes).expect("a UTF-8 body"),
    });
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`); the space
/// between two encoded words goes, other text stays.
fn decode_words(value: &str) -> String {
    let mut bytes = Vec::new();
    let mut previous_encoded = None;
    for word in value.split(' ') {
        let decoded = word
            .strip_prefix("=?")
            .and_then(|w| w.strip_suffix("?="))
            .and_then(|w| {
                let mut it = w.splitn(3, '?');
                let (_charset, kind, text) = (it.next()?, it.next()?, it.next()?);
                match kind {
                    "b" | "B" => BASE64.decode(text).ok(),
                    "q" | "Q" => quoted_printable::decode(
                        text.replace('_', " "),
                        quoted_printable::ParseMode::Robust,
                    )
                    .ok(),
                    _ => None,
                }
            });
        let encoded = decoded.is_some();
        if previous_encoded.is_some_and(|p| !(p && encoded)) {
            bytes.push(b' ');
        }
        bytes.extend(decoded.unwrap_or_else(|| word.as_bytes().to_vec()));
        previous_encoded = Some(encoded);
    }
    String::from_utf8(bytes).expect("a UTF-8 subject")
}
