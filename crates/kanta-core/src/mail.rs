//! Mail: the [`Mailer`] seam, SMTP delivery and the message templates.
//!
//! - [`Message`]: one message to one address, a text body and an optional HTML body
//!   (sent as `multipart/alternative`; text alone is `text/plain; charset=utf-8`).
//! - [`Mailer`]: what the outbox and `kanta mail test` call; [`SmtpMailer`] is the real
//!   one (lettre on tokio with its connection pool: connections are kept open and
//!   reused, at most [`POOL_IDLE_CONNECTIONS`] idle ones for [`POOL_IDLE_SECONDS`]; a
//!   reused connection is checked with `NOOP` first, a connection that failed is
//!   closed). Tests hand the core their own.
//! - [`SmtpMailer::from_url`] takes one URL:
//!   - `smtp://host:port`: plain SMTP, what a local relay offers (port 25 by default);
//!   - `smtp://user:password@host:port`: AUTH PLAIN or LOGIN over that plain
//!     connection, allowed only to this machine (`localhost`, `127.0.0.1`, `::1`);
//!     anywhere else a password needs TLS;
//!   - `smtp+starttls://user:password@host:587`: STARTTLS, required;
//!   - `smtps://user:password@host:465`: TLS from the first byte.
//!
//!   User name and password are percent-decoded (`%40` for `@`, `%2F` for `/`). TLS
//!   is rustls with the webpki (Mozilla) roots. The password is kept only inside the
//!   transport: no error, `Debug` output or log line shows it.
//! - [`MailError`]: in words a user can act on, and [`MailError::is_transient`] tells
//!   what is worth another try (connection refused or lost, timeout, a 4xx reply) from
//!   what is not (a bad address or setting, a 5xx reply, TLS that cannot be had).
//! - [`render`]: the templates under `templates/mail/`, embedded in the binary, in
//!   Finnish and English (see [`templates`]).

mod templates;

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use thiserror::Error;

pub use templates::{Lang, Rendered, TEMPLATES, render};

/// One message to one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The recipient: `maija@example.fi` or `Maija Meikäläinen <maija@example.fi>`.
    pub to: String,
    pub subject: String,
    /// The plain text body; always sent.
    pub text: String,
    /// An HTML body beside the text, if any.
    pub html: Option<String>,
}

/// What can go wrong with mail, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MailError {
    /// The mail URL or the sender address is not usable; nothing was sent.
    #[error("mail settings: {0}")]
    Config(String),
    /// A recipient (or the message built for it) is not valid.
    #[error("'{address}' is not a valid email address: {reason}")]
    Address { address: String, reason: String },
    /// A template is unknown, malformed, or a placeholder has no value.
    #[error("mail template {template}: {reason}")]
    Template { template: String, reason: String },
    /// The server refused for good: a 5xx reply (unknown recipient, failed login, ...).
    #[error("the mail server {server} refused the message: {reason}")]
    Rejected { server: String, reason: String },
    /// The server asked to try again later: a 4xx reply.
    #[error("the mail server {server} asked to try again later: {reason}")]
    Deferred { server: String, reason: String },
    /// No connection, a lost one, or no answer in time.
    #[error("could not talk to the mail server {server}: {reason}")]
    Connection { server: String, reason: String },
    /// The server lacks what the settings require (STARTTLS, a login mechanism).
    #[error("the mail server {server} cannot be used as set: {reason}")]
    Unsupported { server: String, reason: String },
    /// TLS failed: an untrusted or expired certificate, a failed handshake.
    #[error("no secure connection to the mail server {server}: {reason}")]
    Tls { server: String, reason: String },
}

impl MailError {
    /// Whether another try later may succeed: connection problems, timeouts and 4xx
    /// replies. Bad settings, bad addresses, 5xx replies and TLS failures need a
    /// person to act first.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            MailError::Deferred { .. } | MailError::Connection { .. }
        )
    }

    fn config(reason: impl Into<String>) -> MailError {
        MailError::Config(reason.into())
    }
}

/// The future a [`Mailer`] returns.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + 'a>>;

/// Sends messages. [`SmtpMailer`] is the real one; the core holds an
/// `Arc<dyn Mailer>`, so tests can give it another.
pub trait Mailer: Send + Sync {
    /// Delivers one message; `Ok` once the server has accepted it.
    fn send<'a>(&'a self, m: &'a Message) -> SendFuture<'a>;

    /// As [`Mailer::send`], with an RFC 8058 one-click unsubscribe URL
    /// (`List-Unsubscribe` and `List-Unsubscribe-Post` headers; survey mail). A mailer
    /// without headers sends the message as it is.
    fn send_unsubscribable<'a>(
        &'a self,
        m: &'a Message,
        unsubscribe: Option<&'a str>,
    ) -> SendFuture<'a> {
        let _ = unsubscribe;
        self.send(m)
    }
}

/// How the connection to the server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    Plain,
    StartTls,
    Tls,
}

impl Security {
    fn scheme(self) -> &'static str {
        match self {
            Security::Plain => "smtp",
            Security::StartTls => "smtp+starttls",
            Security::Tls => "smtps",
        }
    }
}

/// Idle SMTP connections an [`SmtpMailer`] keeps open for the next messages (each
/// worker sending at once uses one; more are opened when more send at once).
pub const POOL_IDLE_CONNECTIONS: u32 = 8;
/// How long an idle SMTP connection is kept open.
pub const POOL_IDLE_SECONDS: u64 = 30;

/// Delivers over SMTP; see the [module documentation](self) for the URL forms.
pub struct SmtpMailer {
    /// What the transport is built from: the pooled transport spawns its pool's
    /// cleaning task, so it is built at the first delivery, inside the runtime.
    builder: AsyncSmtpTransportBuilder,
    transport: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    timeout: Duration,
    /// `host:port`, for errors.
    server: String,
    /// The URL without the password, for `Debug` and the caller's messages.
    shown_url: String,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("url", &self.shown_url)
            .field("from", &self.from.to_string())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A mail URL taken apart.
struct Endpoint {
    security: Security,
    host: String,
    port: u16,
    login: Option<(String, String)>,
}

const URL_FORMS: &str = "use smtp://HOST:PORT, smtp+starttls://USER:PASSWORD@HOST:587 or smtps://USER:PASSWORD@HOST:465";

fn parse_url(url: &str) -> Result<Endpoint, MailError> {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(MailError::config(format!(
            "the mail URL has no scheme: {URL_FORMS}"
        )));
    };
    let (security, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "smtp" => (Security::Plain, 25),
        "smtp+starttls" => (Security::StartTls, 587),
        "smtps" => (Security::Tls, 465),
        _ => {
            // The scheme comes before any password, so it is safe to show.
            return Err(MailError::config(format!(
                "the mail URL's scheme '{scheme}' is unknown: {URL_FORMS}"
            )));
        }
    };
    // The last '@' ends the user part, so a '/', '?', '#' or '@' left unencoded in a
    // password still works, and no part of a password is ever shown in an error.
    let (userinfo, rest) = match rest.rsplit_once('@') {
        Some((u, r)) => (Some(u), r),
        None => (None, rest),
    };
    // The host and port end at the first '/', '?' or '#'; a mail URL has nothing after.
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (hostport, tail) = rest.split_at(end);
    if !tail.is_empty() && tail != "/" {
        return Err(MailError::config(
            "the mail URL has a path or query after the host, and takes none",
        ));
    }
    let (host, port) = split_host_port(hostport, default_port)?;
    let login = match userinfo {
        None => None,
        Some(userinfo) => {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let user = percent_decode(user).ok_or_else(|| {
                MailError::config("the user name in the mail URL has an invalid percent escape")
            })?;
            let password = percent_decode(password).ok_or_else(|| {
                MailError::config("the password in the mail URL has an invalid percent escape")
            })?;
            if user.is_empty() && password.is_empty() {
                return Err(MailError::config(
                    "the mail URL has an '@' but no user name or password before it",
                ));
            }
            if user.is_empty() {
                return Err(MailError::config(
                    "the mail URL has a password but no user name",
                ));
            }
            if password.is_empty() {
                return Err(MailError::config(
                    "the mail URL names a user but no password (smtp://USER:PASSWORD@HOST)",
                ));
            }
            Some((user, password))
        }
    };
    if login.is_some() && security == Security::Plain && !is_loopback(&host) {
        return Err(MailError::config(format!(
            "a password goes over plain smtp:// only to this machine (localhost); \
             for {host} use smtp+starttls://USER:PASSWORD@{host}:587 or smtps://USER:PASSWORD@{host}:465"
        )));
    }
    Ok(Endpoint {
        security,
        host,
        port,
        login,
    })
}

fn split_host_port(hostport: &str, default_port: u16) -> Result<(String, u16), MailError> {
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        let Some((host, after)) = bracketed.split_once(']') else {
            return Err(MailError::config(
                "the mail URL's IPv6 address has no closing ']'",
            ));
        };
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(MailError::config(format!(
                "'[{host}]' in the mail URL is not an IPv6 address"
            )));
        }
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => {
                    return Err(MailError::config(format!(
                        "the mail URL has '{after}' after the IPv6 address; expected :PORT"
                    )));
                }
            },
        }
    } else {
        let (host, port) = match hostport.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        };
        if host.contains(':') {
            return Err(MailError::config(
                "an IPv6 address in the mail URL goes in brackets: smtp://[::1]:25",
            ));
        }
        (host, port)
    };
    if host.is_empty() {
        return Err(MailError::config(format!(
            "the mail URL names no host: {URL_FORMS}"
        )));
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
    {
        return Err(MailError::config(format!(
            "'{host}' in the mail URL is not a host name or IP address"
        )));
    }
    let port = match port {
        None | Some("") => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(MailError::config(format!(
                    "the mail URL's port '{p}' is not a number from 1 to 65535"
                )));
            }
        },
    };
    Ok((host.to_ascii_lowercase(), port))
}

/// `%XX` escapes to bytes, then UTF-8; `None` for a broken escape or bytes that are
/// not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl SmtpMailer {
    /// A mailer for `url` (see the [module documentation](self)), sending as `from`
    /// (`kanta@example.fi` or `Kanta <kanta@example.fi>`). `timeout` bounds one whole
    /// delivery, connecting included. Nothing is sent or connected here.
    pub fn from_url(url: &str, from: &str, timeout: Duration) -> Result<SmtpMailer, MailError> {
        let endpoint = parse_url(url)?;
        let from: Mailbox = from.trim().parse().map_err(|e| {
            MailError::config(format!("the sender address '{from}' is not valid: {e}"))
        })?;
        let Endpoint {
            security,
            host,
            port,
            login,
        } = endpoint;
        let url_host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        let server = format!("{url_host}:{port}");
        let shown_url = match &login {
            Some((user, _)) => format!("{}://{user}@{server}", security.scheme()),
            None => format!("{}://{server}", security.scheme()),
        };
        let tls = match security {
            Security::Plain => Tls::None,
            Security::StartTls | Security::Tls => {
                let parameters = TlsParameters::builder(host.clone())
                    .certificate_store(CertificateStore::WebpkiRoots)
                    .build_rustls()
                    .map_err(|e| MailError::config(format!("TLS for {server}: {e}")))?;
                if security == Security::StartTls {
                    Tls::Required(parameters)
                } else {
                    Tls::Wrapper(parameters)
                }
            }
        };
        // Each step's own timeout is shorter than the whole delivery's, so a server
        // that stops answering fails the step (and its connection is closed, not
        // pooled) before the whole delivery is given up.
        let step = (timeout * 2 / 3).max(Duration::from_millis(1));
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(step))
            .pool_config(
                PoolConfig::new()
                    .max_size(POOL_IDLE_CONNECTIONS)
                    .idle_timeout(Duration::from_secs(POOL_IDLE_SECONDS)),
            );
        if let Some((user, password)) = login {
            builder = builder
                .credentials(Credentials::new(user, password))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        Ok(SmtpMailer {
            builder,
            transport: OnceLock::new(),
            from,
            timeout,
            server,
            shown_url,
        })
    }

    /// The URL without the password (`smtps://kanta@mail.example.fi:465`), for
    /// messages such as "sent through ...".
    pub fn url(&self) -> &str {
        &self.shown_url
    }

    /// The sender address.
    pub fn from_address(&self) -> &Mailbox {
        &self.from
    }

    async fn deliver(&self, m: &Message, unsubscribe: Option<&str>) -> Result<(), MailError> {
        let email = self.build(m, unsubscribe)?;
        let transport = self.transport.get_or_init(|| self.builder.clone().build());
        match tokio::time::timeout(self.timeout, transport.send(email)).await {
            Ok(Ok(_)) => {
                tracing::debug!(server = %self.server, "mail delivered");
                Ok(())
            }
            Ok(Err(e)) => {
                let error = self.classify(e);
                tracing::debug!(server = %self.server, error = %error, "mail not delivered");
                Err(error)
            }
            Err(_) => Err(MailError::Connection {
                server: self.server.clone(),
                reason: format!("no answer within {:?}", self.timeout),
            }),
        }
    }

    fn build(&self, m: &Message, unsubscribe: Option<&str>) -> Result<lettre::Message, MailError> {
        let address_error = |reason: String| MailError::Address {
            address: m.to.clone(),
            reason,
        };
        let to: Mailbox =
            m.to.trim()
                .parse()
                .map_err(|e| address_error(format!("{e}")))?;
        let builder = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.clone())
            .message_id(None);
        let builder = match unsubscribe {
            Some(url) => {
                use lettre::message::header::{HeaderName, HeaderValue};
                let url: String = url.chars().filter(|c| !c.is_control()).collect();
                builder
                    .raw_header(HeaderValue::new(
                        HeaderName::new_from_ascii_str("List-Unsubscribe"),
                        format!("<{url}>"),
                    ))
                    .raw_header(HeaderValue::new(
                        HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                        "List-Unsubscribe=One-Click".into(),
                    ))
            }
            None => builder,
        };
        let built = match &m.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                m.text.clone(),
                html.clone(),
            )),
            None => builder.singlepart(SinglePart::plain(m.text.clone())),
        };
        built.map_err(|e| address_error(e.to_string()))
    }

    fn classify(&self, e: lettre::transport::smtp::Error) -> MailError {
        let server = self.server.clone();
        let reason = e.to_string();
        if e.is_permanent() {
            MailError::Rejected { server, reason }
        } else if e.is_transient() {
            MailError::Deferred { server, reason }
        } else if e.is_tls() {
            MailError::Tls { server, reason }
        } else if e.is_client() {
            MailError::Unsupported { server, reason }
        } else {
            // Connection refused or lost, network and timeout errors, a garbled reply.
            MailError::Connection { server, reason }
        }
    }
}

impl Drop for SmtpMailer {
    fn drop(&mut self) {
        // The pool closes its connections in a task it spawns when dropped, which
        // needs a runtime: without one (a mailer dropped after its runtime ended),
        // the process is ending and the connections close with it.
        if let Some(t) = self.transport.take()
            && tokio::runtime::Handle::try_current().is_err()
        {
            std::mem::forget(t);
        }
    }
}

impl Mailer for SmtpMailer {
    fn send<'a>(&'a self, m: &'a Message) -> SendFuture<'a> {
        Box::pin(self.deliver(m, None))
    }

    fn send_unsubscribable<'a>(
        &'a self,
        m: &'a Message,
        unsubscribe: Option<&'a str>,
    ) -> SendFuture<'a> {
        Box::pin(self.deliver(m, unsubscribe))
    }
}
