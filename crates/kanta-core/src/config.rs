//! Layered settings: what an operator sets once, before Kanta starts.
//!
//! Every setting has a dotted key (`serve.bind`), a type, a default, a one-line
//! description and whether it is a secret, all in one table ([`SETTINGS`], written by
//! the `settings!` invocation below), so `kanta config show`, the example file
//! ([`EXAMPLE`]) and the docs cannot drift apart: a test checks that the example
//! names every key exactly once, with its description, and parses to the defaults.
//!
//! Layers, lowest to highest; a higher layer wins key by key:
//!
//! 1. the built-in defaults;
//! 2. a TOML file: the explicit `--config FILE` (or `KANTA_CONFIG`), which must
//!    exist, else `kanta.toml` in the data folder when it exists;
//! 3. environment variables `KANTA_SECTION__KEY`, with a double underscore between
//!    section and key (`KANTA_SERVE__BIND=127.0.0.1:9000`,
//!    `KANTA_STORE_DEFAULTS__CURRENCY=SEK`). Only names with `__` are settings:
//!    `KANTA_DATA`, `KANTA_DATABASE_URL`, `KANTA_CONFIG`, `KANTA_LOG` and
//!    `KANTA_TEST_*` are not;
//! 4. command-line flags, handed to the loader as `(key, value)` overrides. The
//!    global `--data DIR` (`KANTA_DATA`) and `--database-url URL`
//!    (`KANTA_DATABASE_URL`) are such overrides of `store.data` and
//!    `store.database_url`, so both keep working.
//!
//! Where the file is found: `--config FILE` when given; otherwise
//! `{store.data}/kanta.toml`, with `store.data` taken from the flags, the
//! environment or the default. A `kanta.toml` inside the data folder therefore
//! cannot move that folder: setting `store.data` in it is an error (an explicit
//! `--config` file may set it).
//!
//! [`Config::load`] validates every value and names where a bad one came from
//! (`kanta.toml line 3: serve.bind: 'abc' is not an address like 127.0.0.1:8080`,
//! `environment KANTA_SERVE__WORKERS: 'x' is not a whole number`); unknown keys and
//! unknown `KANTA_X__Y` variables are errors with the nearest known key suggested.
//! [`Config`] remembers where each value came from ([`Origin`]), for
//! [`Config::show`].
//!
//! Secrets ([`Secret`]: the SMTP URL, the secret key, the database URL) never print
//! themselves: not in `Debug`, not in [`Config::show`], not in error messages.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::proxies::{IpRange, TrustedProxies};
use kanta_domain::Currency;
use serde::{Deserialize, Serialize, Serializer};
use thiserror::Error;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The documented example settings file: every key, commented out, with its
/// description and default.
pub const EXAMPLE: &str = include_str!("kanta.example.toml");

/// The settings file's name in the data folder.
pub const FILE_NAME: &str = "kanta.toml";

/// The environment variable naming an explicit settings file (as `--config`).
pub const CONFIG_ENV: &str = "KANTA_CONFIG";

/// A string that never prints itself: `Debug`, `Display` and `Serialize` give `***`.
/// Read it with [`Secret::expose`], at the one place that needs the value.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

/// The languages of the UI and of mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Fi,
    En,
}

impl Language {
    /// `fi` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Language::Fi => "fi",
            Language::En => "en",
        }
    }
}

/// One setting, as the table describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingInfo {
    /// `section.key`, as in the file (`serve.bind`).
    pub key: &'static str,
    /// What a value must be, in words: "an address like 127.0.0.1:8080".
    pub expects: &'static str,
    /// The default as one would write it in an environment variable; empty when the
    /// setting is unset by default.
    pub default: &'static str,
    /// One line on what it does.
    pub description: &'static str,
    /// Whether the value is shown as `***` (the database URL: with its password
    /// hidden).
    pub secret: bool,
}

impl SettingInfo {
    /// The environment variable that sets it: `KANTA_SERVE__BIND`.
    pub fn env_name(&self) -> String {
        env_name(self.key)
    }

    /// The flag an override of it is named by in messages: `--bind`.
    pub fn flag_name(&self) -> String {
        flag_name(self.key)
    }
}

/// Defines the sections, the [`Config`] and the [`SETTINGS`] table from one list.
/// Each entry: a doc line (the description), `key: Type = "default"` (the default as
/// text, parsed like an environment variable's value), and optionally
/// `check = f` (a further check of the parsed value) and `show = f` (how it is shown
/// instead of the type's way).
macro_rules! settings {
    ($(
        $(#[doc = $sdoc:literal])*
        [$section:ident] $Section:ident {
            $(
                #[doc = $doc:literal]
                $key:ident: $ty:ty = $default:literal
                    $(, check = $check:expr)?
                    $(, show = $show:expr)?;
            )*
        }
    )*) => {
        $(
            $(#[doc = $sdoc])*
            #[derive(Debug, Clone, PartialEq)]
            pub struct $Section {
                $(
                    #[doc = $doc]
                    pub $key: $ty,
                )*
            }

            impl Default for $Section {
                fn default() -> Self {
                    Self {
                        $(
                            $key: <$ty as SettingType>::parse(Raw::Text($default))
                                .expect("the built-in defaults are valid"),
                        )*
                    }
                }
            }
        )*

        /// The settings, section by section, and where each value came from.
        #[derive(Debug, Clone)]
        pub struct Config {
            $(pub $section: $Section,)*
            /// Where each setting's value came from, in the order of [`SETTINGS`].
            origins: Vec<Origin>,
            /// The settings file that was read, if any.
            file: Option<PathBuf>,
        }

        impl Default for Config {
            /// The built-in defaults.
            fn default() -> Self {
                Config {
                    $($section: $Section::default(),)*
                    origins: vec![Origin::Default; SETTINGS.len()],
                    file: None,
                }
            }
        }

        /// Every setting, in the order of the example file.
        pub static SETTINGS: &[SettingInfo] = &[
            $($(
                SettingInfo {
                    key: concat!(stringify!($section), ".", stringify!($key)),
                    expects: <$ty as SettingType>::EXPECTS,
                    default: $default,
                    description: $doc.trim_ascii(),
                    secret: <$ty as SettingType>::SECRET,
                },
            )*)*
        ];

        impl Config {
            /// Parses and checks `raw` as the value of `key` (a key of [`SETTINGS`])
            /// and sets it.
            fn set_raw(&mut self, key: &str, raw: Raw<'_>) -> Result<(), String> {
                $($(
                    if key == concat!(stringify!($section), ".", stringify!($key)) {
                        let value = <$ty as SettingType>::parse(raw)?;
                        $(($check)(&value)?;)?
                        self.$section.$key = value;
                        return Ok(());
                    }
                )*)*
                unreachable!("set_raw is called with known keys only, not {key}")
            }

            /// The value of `key` for people (`None`: not set) and for JSON.
            fn shown(&self, key: &str) -> (Option<String>, serde_json::Value) {
                $($(
                    if key == concat!(stringify!($section), ".", stringify!($key)) {
                        return shown!(&self.$section.$key $(, $show)?);
                    }
                )*)*
                unreachable!("shown is called with known keys only, not {key}")
            }
        }
    };
}

/// A value's display text and JSON: the type's way, or the entry's `show` function
/// (whose text is also the JSON string).
macro_rules! shown {
    ($value:expr) => {{
        let value = $value;
        (SettingType::show(value), SettingType::to_json(value))
    }};
    ($value:expr, $show:expr) => {{
        let text: Option<String> = ($show)($value);
        let json = text
            .clone()
            .map_or(serde_json::Value::Null, serde_json::Value::String);
        (text, json)
    }};
}

settings! {
    /// `[store]`: where the data lives.
    [store] StoreConfig {
        /// Data folder of the embedded SQLite store (kanta.db); a kanta.toml inside it cannot move it
        data: PathBuf = "./kanta-data";
        /// Database URL instead of the data folder: postgres://USER:PASSWORD@HOST/DB or sqlite://PATH; empty = SQLite in the data folder
        database_url: Option<Secret> = "", check = check_database_url, show = show_database_url;
        /// Hours a time (an order's, a case's, ...) may lie ahead of now; later ones are refused as typos (dates must also be 1900-2200)
        max_future_hours: u32 = "24", check = between(0, 87_600);
        /// Database connections each process keeps open at most (0 = the backend's default: 4 for SQLite, 8 for PostgreSQL)
        connections: u32 = "0", check = between(0, 1_000);
    }

    /// `[serve]`: `kanta serve`.
    [serve] ServeConfig {
        /// Address the web UI and the API listen on
        bind: SocketAddr = "127.0.0.1:8080";
        /// Background job workers
        workers: u32 = "2", check = between(1, 64);
        /// Score the customers again when the newest model run is this many hours old (0 = never)
        score_every_hours: f64 = "24", check = at_least(0.0);
        /// Reverse proxies (IP addresses or ranges like 10.0.0.0/8) whose X-Forwarded-For names the client; empty = the header is never believed
        trusted_proxies: TrustedProxies = "";
        /// The address customers reach this Kanta at, for links in mail and QR codes (e.g. https://kanta.example.fi)
        public_url: String = "http://127.0.0.1:8080", check = check_public_url;
    }

    /// `[scoring]`: `kanta score` and the scheduled scoring.
    [scoring] ScoringConfig {
        /// Days at the end held out to choose between the purchase models (0 = BG/NBD without a choice)
        holdout_days: u32 = "91", check = between(0, 3650);
        /// Share of revenue that is profit, for CLV (1 = revenue)
        margin: f64 = "1.0", check = check_margin;
        /// Discount rate per month, for CLV
        discount_rate: f64 = "0.01", check = check_discount_rate;
    }

    /// `[jobs]`: the background job queue.
    [jobs] JobsConfig {
        /// Seconds a worker holds a job before another worker may take it over
        lease_seconds: u64 = "300", check = at_least(1);
        /// Milliseconds between an idle worker's looks for new jobs
        poll_ms: u64 = "500", check = at_least(1);
        /// Attempts at a failing job before it is given up
        max_attempts: u32 = "8", check = at_least(1);
        /// Seconds before a failed job's first retry; each further retry waits twice as long (at most an hour)
        retry_seconds: u64 = "10", check = at_least(1);
    }

    /// `[mail]`: the mailer.
    [mail] MailConfig {
        /// Mail server: smtp://USER:PASSWORD@HOST:PORT or smtps://USER:PASSWORD@HOST:PORT; empty = no mail
        smtp_url: Option<Secret> = "", check = check_smtp_url;
        /// Sender of Kanta's mail
        from: String = "Kanta <kanta@localhost>", check = check_mailbox;
        /// Seconds to wait for the mail server
        timeout_seconds: u64 = "10", check = at_least(1);
    }

    /// `[backup]`: scheduled copies of the store (`kanta serve` takes them).
    [backup] BackupConfig {
        /// Folder for scheduled backups; empty = none (kanta backup FILE still works)
        dir: String = "";
        /// Hours between scheduled backups
        every_hours: f64 = "24", check = at_least(0.1);
        /// Scheduled backups kept; older ones are deleted
        keep: u32 = "7", check = between(1, 10_000);
    }

    /// `[security]`: keys.
    [security] SecurityConfig {
        /// Key for signed links, at least 32 characters (openssl rand -hex 32 makes one)
        secret_key: Option<Secret> = "", check = check_secret_key;
    }

    /// `[store_defaults]`: what a new store starts with; managers change these in the
    /// store itself later.
    [store_defaults] StoreDefaults {
        /// Currency of a new store
        currency: Currency = "EUR";
        /// Time zone of a new store
        time_zone: String = "Europe/Helsinki", check = check_time_zone;
        /// Language of a new store: fi or en
        language: Language = "fi";
    }
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The built-in default.
    Default,
    /// The settings file.
    File(PathBuf),
    /// An environment variable, by name.
    Env(String),
    /// A command-line flag, by name (`--bind`).
    Flag(String),
}

impl fmt::Display for Origin {
    /// `default`, `file:/path`, `env:KANTA_SERVE__BIND` or `flag:--bind`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(p) => write!(f, "file:{}", p.display()),
            Origin::Env(name) => write!(f, "env:{name}"),
            Origin::Flag(flag) => write!(f, "flag:{flag}"),
        }
    }
}

impl Serialize for Origin {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One setting as `kanta config show` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShownSetting {
    pub key: &'static str,
    /// The value as text: `***` for a set secret, `(not set)` when unset, the
    /// database URL with its password hidden.
    pub value: String,
    #[serde(rename = "source")]
    pub origin: Origin,
    pub description: &'static str,
    pub secret: bool,
}

/// Where to find the settings.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// An explicit settings file (`--config FILE`), which must exist. When `None`,
    /// `KANTA_CONFIG` in [`LoadOptions::env`] is used, else `kanta.toml` in the data
    /// folder when it exists.
    pub file: Option<PathBuf>,
    /// Where to look for `kanta.toml` when no file is given; `None`: the data folder
    /// (`store.data` from the flags, the environment or the default).
    pub data_dir_hint: Option<PathBuf>,
    /// The environment: `std::env::vars().collect()` in production, a fixed list in
    /// tests.
    pub env: Vec<(String, String)>,
    /// Command-line flags as `(key, value)`: `("serve.bind", "127.0.0.1:9200")`,
    /// `("store.data", DIR)` for `--data`.
    pub overrides: Vec<(String, String)>,
}

/// A setting that cannot be loaded, named by where it came from.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// A value that does not fit its setting. `place` is `kanta.toml line 3:
    /// serve.bind`, `environment KANTA_SERVE__BIND` or `flag --bind`.
    #[error("{place}: {reason}")]
    Invalid {
        place: String,
        key: &'static str,
        reason: String,
    },
    /// A key no setting has. `place` is `kanta.toml line 3`,
    /// `environment KANTA_SERVE__BNID` or `flag --bnid`; `suggestion` is written as
    /// the place would spell it (`serve.bind`, `KANTA_SERVE__BIND`).
    #[error("{place}: unknown setting {key}{}", did_you_mean(.suggestion))]
    Unknown {
        place: String,
        key: String,
        suggestion: Option<String>,
    },
    /// The file is not TOML; the message is the toml crate's.
    #[error("{}: not valid TOML: {message}", at_line(.path, *.line, *.column))]
    Syntax {
        path: PathBuf,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    #[error("the settings file {} does not exist", .path.display())]
    Missing { path: PathBuf },
    #[error("cannot read the settings file {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean {s}?"),
        None => String::new(),
    }
}

fn at_line(path: &Path, line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("{} line {l}, column {c}", path.display()),
        (Some(l), None) => format!("{} line {l}", path.display()),
        _ => path.display().to_string(),
    }
}

impl Config {
    /// Loads the settings: defaults, then the file, then the environment, then the
    /// flags (see the module documentation).
    pub fn load(o: &LoadOptions) -> Result<Config, ConfigError> {
        let mut env = Vec::new();
        for (name, value) in &o.env {
            if let Some(key) = env_key(name) {
                let index = find(&key).ok_or_else(|| ConfigError::Unknown {
                    place: format!("environment {name}"),
                    key: key.clone(),
                    suggestion: nearest(&key).map(env_name),
                })?;
                env.push((index, name, value));
            }
        }
        let mut flags = Vec::new();
        for (key, value) in &o.overrides {
            let index = find(key).ok_or_else(|| ConfigError::Unknown {
                place: format!("flag {}", flag_name(key)),
                key: key.clone(),
                suggestion: nearest(key).map(str::to_string),
            })?;
            flags.push((index, value));
        }
        let apply_env_and_flags = |config: &mut Config| -> Result<(), ConfigError> {
            for &(i, name, value) in &env {
                config.apply(i, Raw::Text(value), Origin::Env(name.clone()), || {
                    format!("environment {name}")
                })?;
            }
            for &(i, value) in &flags {
                let flag = SETTINGS[i].flag_name();
                config.apply(i, Raw::Text(value), Origin::Flag(flag.clone()), || {
                    format!("flag {flag}")
                })?;
            }
            Ok(())
        };

        // Where the file is: the explicit one, or kanta.toml in the data folder as
        // the layers above the file set it.
        let explicit = o.file.clone().or_else(|| {
            o.env
                .iter()
                .rev()
                .find(|(name, value)| name == CONFIG_ENV && !value.is_empty())
                .map(|(_, value)| PathBuf::from(value))
        });
        let (path, in_data_folder) = match explicit {
            Some(path) => (path, false),
            None => {
                let dir = match &o.data_dir_hint {
                    Some(dir) => dir.clone(),
                    None => {
                        let mut above = Config::default();
                        apply_env_and_flags(&mut above)?;
                        above.store.data
                    }
                };
                (dir.join(FILE_NAME), true)
            }
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && in_data_folder => None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::Missing { path });
            }
            Err(source) => return Err(ConfigError::Read { path, source }),
        };

        let mut config = Config::default();
        if let Some(text) = text {
            config.apply_file(&path, &text, in_data_folder)?;
            config.file = Some(path);
        }
        apply_env_and_flags(&mut config)?;
        Ok(config)
    }

    /// Sets setting `index` from `raw`, remembering `origin`; an error names
    /// `place()`.
    fn apply(
        &mut self,
        index: usize,
        raw: Raw<'_>,
        origin: Origin,
        place: impl FnOnce() -> String,
    ) -> Result<(), ConfigError> {
        let key = SETTINGS[index].key;
        self.set_raw(key, raw)
            .map_err(|reason| ConfigError::Invalid {
                place: place(),
                key,
                reason,
            })?;
        self.origins[index] = origin;
        Ok(())
    }

    /// Applies a settings file's text, in the order of its lines.
    fn apply_file(
        &mut self,
        path: &Path,
        text: &str,
        in_data_folder: bool,
    ) -> Result<(), ConfigError> {
        let doc = DeTable::parse(text).map_err(|e| {
            let (line, column) = match e.span() {
                Some(span) => {
                    let (l, c) = line_column(text, span.start);
                    (Some(l), Some(c))
                }
                None => (None, None),
            };
            ConfigError::Syntax {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        let line_of = |offset: usize| line_column(text, offset).0;

        let mut entries: Vec<(String, usize, &Spanned<DeValue<'_>>)> = Vec::new();
        for (section, value) in doc.get_ref().iter() {
            let name: &str = section.get_ref();
            match value.get_ref() {
                DeValue::Table(table) if SETTINGS.iter().any(|s| section_of(s.key) == name) => {
                    for (key, value) in table.iter() {
                        let full = format!("{name}.{}", key.get_ref());
                        entries.push((full, key.span().start, value));
                    }
                }
                DeValue::Table(_) => {
                    return Err(ConfigError::Unknown {
                        place: format!("{} line {}", path.display(), line_of(section.span().start)),
                        key: format!("[{name}]"),
                        suggestion: nearest_section(name).map(|s| format!("[{s}]")),
                    });
                }
                _ => entries.push((name.to_string(), section.span().start, value)),
            }
        }
        entries.sort_by_key(|&(_, offset, _)| offset);

        for (key, offset, value) in entries {
            let line = line_of(offset);
            let Some(index) = find(&key) else {
                return Err(ConfigError::Unknown {
                    place: format!("{} line {line}", path.display()),
                    suggestion: nearest(&key).map(str::to_string),
                    key,
                });
            };
            let place = || format!("{} line {line}: {key}", path.display());
            if in_data_folder && SETTINGS[index].key == "store.data" {
                return Err(ConfigError::Invalid {
                    place: place(),
                    key: SETTINGS[index].key,
                    reason: "cannot be set in the kanta.toml inside the data folder (the file \
                             cannot move the folder it is in); use --data, KANTA_STORE__DATA or \
                             --config FILE"
                        .to_string(),
                });
            }
            self.apply(
                index,
                Raw::Toml(value.get_ref()),
                Origin::File(path.to_path_buf()),
                place,
            )?;
        }
        Ok(())
    }

    /// The database URL: `store.database_url`, else SQLite in the data folder
    /// (`sqlite://{store.data}/kanta.db`).
    pub fn database_url(&self) -> String {
        match &self.store.database_url {
            Some(url) => url.expose().to_string(),
            None => format!("sqlite://{}", self.store.data.join("kanta.db").display()),
        }
    }

    /// Where the value of `key` came from; `None` for a key no setting has.
    pub fn origin(&self, key: &str) -> Option<&Origin> {
        find(key).map(|i| &self.origins[i])
    }

    /// The settings file that was read, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Every setting with its value, origin and description, secrets hidden.
    pub fn show(&self) -> Vec<ShownSetting> {
        SETTINGS
            .iter()
            .zip(&self.origins)
            .map(|(s, origin)| ShownSetting {
                key: s.key,
                value: self
                    .shown(s.key)
                    .0
                    .unwrap_or_else(|| "(not set)".to_string()),
                origin: origin.clone(),
                description: s.description,
                secret: s.secret,
            })
            .collect()
    }

    /// `{"file": PATH or null, "settings": {"serve.bind": {"value", "source",
    /// "description", "secret"}, ...}}`, keyed by setting: values as JSON (numbers as
    /// numbers, `null` when not set, `"***"` for a set secret), sources as `default`,
    /// `file:/path`, `env:KANTA_SERVE__BIND` or `flag:--bind`.
    pub fn show_json(&self) -> serde_json::Value {
        let settings: serde_json::Map<String, serde_json::Value> = SETTINGS
            .iter()
            .zip(&self.origins)
            .map(|(s, origin)| {
                (
                    s.key.to_string(),
                    serde_json::json!({
                        "value": self.shown(s.key).1,
                        "source": origin.to_string(),
                        "description": s.description,
                        "secret": s.secret,
                    }),
                )
            })
            .collect();
        serde_json::json!({
            "file": self.file.as_ref().map(|f| f.display().to_string()),
            "settings": settings,
        })
    }
}

/// The position in [`SETTINGS`] of `key`.
fn find(key: &str) -> Option<usize> {
    SETTINGS.iter().position(|s| s.key == key)
}

fn section_of(key: &str) -> &str {
    key.split_once('.').map_or(key, |(s, _)| s)
}

/// `serve.bind` → `KANTA_SERVE__BIND`.
fn env_name(key: &str) -> String {
    format!("KANTA_{}", key.replacen('.', "__", 1).to_ascii_uppercase())
}

/// `store.database_url` → `--database-url`.
fn flag_name(key: &str) -> String {
    let last = key.rsplit_once('.').map_or(key, |(_, k)| k);
    format!("--{}", last.replace('_', "-"))
}

/// The setting key a variable names, when it names one: `KANTA_SECTION__KEY` →
/// `section.key`. Names without `__` (`KANTA_DATA`, `KANTA_LOG`, ...) and
/// `KANTA_TEST_*` are not settings.
fn env_key(name: &str) -> Option<String> {
    let rest = name.strip_prefix("KANTA_")?;
    if name.starts_with("KANTA_TEST_") {
        return None;
    }
    let (section, key) = rest.split_once("__")?;
    Some(format!(
        "{}.{}",
        section.to_ascii_lowercase(),
        key.to_ascii_lowercase()
    ))
}

/// The known key nearest to an unknown one, if any is near: by edit distance of the
/// whole key, or of the part after the section (`store.bind` → `serve.bind`,
/// `bind` → `serve.bind`), or by one name starting the other (`mail.smtp` →
/// `mail.smtp_url`).
fn nearest(unknown: &str) -> Option<&'static str> {
    let unknown = unknown.to_ascii_lowercase();
    let last = unknown.rsplit_once('.').map_or(&*unknown, |(_, k)| k);
    let limit = (unknown.len() / 3).max(2);
    SETTINGS
        .iter()
        .map(|s| {
            let known_last = s.key.rsplit_once('.').map_or(s.key, |(_, k)| k);
            let mut d = edit_distance(&unknown, s.key).min(edit_distance(last, known_last) + 1);
            // A shortened or lengthened name: mail.smtp → mail.smtp_url.
            if last.len() >= 3 && (known_last.starts_with(last) || last.starts_with(known_last)) {
                d = d.min(1 + usize::from(section_of(&unknown) != section_of(s.key)));
            }
            (d, s.key)
        })
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

fn nearest_section(unknown: &str) -> Option<&'static str> {
    let unknown = unknown.to_ascii_lowercase();
    let limit = (unknown.len() / 3).max(2);
    SETTINGS
        .iter()
        .map(|s| section_of(s.key))
        .map(|s| (edit_distance(&unknown, s), s))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, s)| s)
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..text.floor_char_boundary(offset.min(text.len()))];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

// ---------------------------------------------------------------------------------
// The types of settings.

/// A value as it arrives: text (environment, flags, the defaults) or a TOML value.
#[derive(Clone, Copy)]
enum Raw<'a> {
    Text(&'a str),
    Toml(&'a DeValue<'a>),
}

/// What a setting's type needs: parsing from either form, and showing.
trait SettingType: Sized {
    /// What a value must be, in words.
    const EXPECTS: &'static str;
    /// Shown as `***`, never echoed in errors.
    const SECRET: bool = false;
    fn parse(raw: Raw<'_>) -> Result<Self, String>;
    /// The value for people; `None`: not set.
    fn show(&self) -> Option<String>;
    fn to_json(&self) -> serde_json::Value;
}

/// A TOML value named for an error message: its text for scalars, its kind else.
fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) => format!("'{s}'"),
        DeValue::Integer(i) if i.radix() == 10 => format!("'{}'", i.as_str()),
        DeValue::Integer(_) => "a non-decimal number".to_string(),
        DeValue::Float(f) => format!("'{}'", f.as_str()),
        DeValue::Boolean(b) => format!("'{b}'"),
        DeValue::Datetime(d) => format!("'{d}'"),
        DeValue::Array(_) => "a list".to_string(),
        DeValue::Table(_) => "a table".to_string(),
    }
}

/// The text of a text setting: a TOML string, or any text from outside the file.
fn text<'a>(raw: Raw<'a>, expects: &str) -> Result<&'a str, String> {
    match raw {
        Raw::Text(t) => Ok(t),
        Raw::Toml(DeValue::String(s)) => Ok(s.as_ref()),
        Raw::Toml(other) => Err(format!(
            "{} is not {expects} (text goes in quotes)",
            describe(other)
        )),
    }
}

/// A whole number from text or a TOML integer.
fn whole(raw: Raw<'_>) -> Result<i128, String> {
    const NOT: &str = "is not a whole number";
    match raw {
        Raw::Text(t) => t
            .trim()
            .replace('_', "")
            .parse::<i128>()
            .map_err(|_| format!("'{t}' {NOT}")),
        Raw::Toml(DeValue::Integer(i)) => i128::from_str_radix(i.as_str(), i.radix())
            .map_err(|_| format!("'{}' {NOT}", i.as_str())),
        Raw::Toml(DeValue::String(s)) => whole(Raw::Text(s.as_ref())),
        Raw::Toml(other) => Err(format!("{} {NOT}", describe(other))),
    }
}

fn whole_in<T: TryFrom<i128>>(raw: Raw<'_>, max: u128) -> Result<T, String> {
    let n = whole(raw)?;
    T::try_from(n).map_err(|_| {
        if n < 0 {
            format!("'{n}' is below 0")
        } else {
            format!("'{n}' is too large (at most {max})")
        }
    })
}

impl SettingType for u32 {
    const EXPECTS: &'static str = "a whole number";
    fn parse(raw: Raw<'_>) -> Result<Self, String> {
        whole_in(raw, u32::MAX.into())
    }
    fn show(&self) -> Option<String> {
        Some(self.to_string())
    }
    fn to_json(&self) -> serde_json::Value {
        (*self).into()
    }
}

impl SettingType for u64 {
    const EXPECTS: &'static str = "a whole number";
    fn parse(raw: Raw<'_>) -> Result<Self, String> {
        whole_in(raw, u64::MAX.into())
    }
    fn show(&self) -> Option<String> {
        Some(self.to_string())
    }
    fn to_json(&self) -> serde_json::Value {
        (*self).into()
    }
}

impl SettingType for f64 {
    const EXPECTS: &'static str = "a number";
    fn parse(raw: Raw<'_>) -> Result<Self, String> {
        let n = match raw {
            Raw::Text(t) => {
                let trimmed = t.trim();
                match trimmed.replace('_', "").parse::<f64>() {
                    Ok(n) => n,
                    Err(_) if trimmed.contains(',') => {
                        return Err(format!(
                            "'{t}' is not a number (write a point: {})",
                            trimmed.replace(',', ".")
                        ));
                    }
                    Err(_) => return Err(format!("'{t}' is not a number")),
                }
            }
            Raw::Toml(DeValue::Float(f)) => f
                .as_str()
                .parse::<f64>()
                .map_err(|_| format!("'{}' is not a number", f.as_str()))?,
            Raw::Toml(DeValue::Integer(_)) => whole(raw)? as f64,
            Raw::Toml(DeValue::String(s)) => {
                return <f64 as SettingType>::parse(Raw::Text(s.as_ref()));
            }
            Raw::Toml(other) => return Err(format!("{} is not a number", describe(other))),
        };
        if n.is_finite() {
            Ok(n)
        } else {
            Err(format!("'{n}' is not a finite number"))
        }
    }
    fn show(&self) -> Option<String> {
        Some(self.to_string())
    }
    fn to_json(&self) -> serde_json::Value {
        (*self).into()
    }
}

impl SettingType for String {
    const EXPECTS: &'static str = "text";
    fn parse(raw: Raw<'_>) -> Result<Self, String> {
        Ok(text(raw, Self::EXPECTS)?.to_string())
    }
    fn show(&self) -> Option<String> {
        Some(self.clone())
    }
    fn to_json(&self) -> serde_json::Value {
        self.clone().into()
    }
}

impl SettingType for PathBuf {
    const EXPECTS: &'static str = "a path";
    fn parse(raw: Raw<'_>) -> Result<Self, String> {
        let t = text(raw, Self::EXPECTS)?;
        if t.trim().is_empty() {
            return Err("a path cannot be empty".to_string());
        }
        Ok(PathBuf::from(t))
    }
    fn show(&self) -> Option<String> {
        Some(self.display().to_string())
    }
    fn to_json(&self) -> serde_json::Value {
        self.display().to_string().into()
    }
}

impl SettingType for SocketAddr {
    const EXPECTS: &'static str = "an address like 127.0.0.1:8080";
    fn parse(raw: Raw<'_>) -> Result<Self, String> {
        let t = text(raw, Self::EXPECTS)?;
        t.trim()
            .parse()
            .map_err(|_| format!("'{t}' is not {}", Self::EXPECTS))
    }
    fn show(&self) -> Option<String> {
        Some(self.to_string())
    }
    fn to_json(&self) -> serde_json::Value {
        self.to_string().into()
    }
}

impl SettingType for Language {
    const EXPECTS: &'static str = "fi or en";
    fn parse(raw: Raw<'_>) -> Result<Self, String> {
        let t = text(raw, Self::EXPECTS)?;
        match t.trim().to_ascii_lowercase().as_str() {
            "fi" => Ok(Language::Fi),
            "en" => Ok(Language::En),
            _ => Err(format!("'{t}' is not a language: use fi or en")),
        }
    }
    fn show(&self) -> Option<String> {
        Some(self.code().to_string())
    }
    fn to_json(&self) -> serde_json::Value {
        self.code().into()
    }
}

impl SettingType for Currency {
    const EXPECTS: &'static str = "a currency code like EUR";
    fn parse(raw: Raw<'_>) -> Result<Self, String> {
        let t = text(raw, Self::EXPECTS)?;
        t.parse()
            .map_err(|_| format!("'{t}' is not {}", Self::EXPECTS))
    }
    fn show(&self) -> Option<String> {
        Some(self.code().to_string())
    }
    fn to_json(&self) -> serde_json::Value {
        self.code().into()
    }
}

/// An optional secret: empty means not set. Its value is never echoed.
impl SettingType for Option<Secret> {
    const EXPECTS: &'static str = "text";
    const SECRET: bool = true;
    fn parse(raw: Raw<'_>) -> Result<Self, String> {
        let t = match raw {
            Raw::Text(t) => t,
            Raw::Toml(DeValue::String(s)) => s.as_ref(),
            Raw::Toml(_) => return Err("must be text, in quotes".to_string()),
        };
        let t = t.trim();
        Ok((!t.is_empty()).then(|| Secret::new(t)))
    }
    fn show(&self) -> Option<String> {
        self.as_ref().map(|_| "***".to_string())
    }
    fn to_json(&self) -> serde_json::Value {
        self.as_ref()
            .map_or(serde_json::Value::Null, |_| "***".into())
    }
}

/// Trusted proxies: a TOML list of strings, or text with commas (an environment
/// variable's or a flag's form).
impl SettingType for TrustedProxies {
    const EXPECTS: &'static str = "IP addresses or ranges like 10.0.0.0/8";
    fn parse(raw: Raw<'_>) -> Result<Self, String> {
        match raw {
            Raw::Toml(DeValue::Array(items)) => {
                let mut ranges = Vec::new();
                for item in items.iter() {
                    let DeValue::String(s) = item.get_ref() else {
                        return Err(format!(
                            "{} is not an IP address (addresses go in quotes)",
                            describe(item.get_ref())
                        ));
                    };
                    ranges.push(IpRange::parse(s)?);
                }
                Ok(TrustedProxies::new(ranges))
            }
            raw => TrustedProxies::parse_list(text(raw, Self::EXPECTS)?),
        }
    }
    fn show(&self) -> Option<String> {
        Some(self.to_string())
    }
    fn to_json(&self) -> serde_json::Value {
        self.ranges().iter().map(|r| r.to_string()).collect()
    }
}

// Further checks, by setting. Messages never echo a secret.

fn at_least<T: PartialOrd + fmt::Display + Copy>(min: T) -> impl Fn(&T) -> Result<(), String> {
    move |v| {
        if *v >= min {
            Ok(())
        } else {
            Err(format!("'{v}' is too small (at least {min})"))
        }
    }
}

fn between<T: PartialOrd + fmt::Display + Copy>(
    min: T,
    max: T,
) -> impl Fn(&T) -> Result<(), String> {
    move |v| {
        if (min..=max).contains(v) {
            Ok(())
        } else {
            Err(format!("'{v}' is not between {min} and {max}"))
        }
    }
}

fn check_margin(v: &f64) -> Result<(), String> {
    if *v > 0.0 && *v <= 1.0 {
        Ok(())
    } else {
        Err(format!(
            "'{v}' is not a share of revenue: more than 0, at most 1"
        ))
    }
}

fn check_discount_rate(v: &f64) -> Result<(), String> {
    if (0.0..1.0).contains(v) {
        Ok(())
    } else {
        Err(format!(
            "'{v}' is not a monthly rate: at least 0, below 1 (0.01 is 1 %)"
        ))
    }
}

fn check_public_url(v: &String) -> Result<(), String> {
    let ok = (v.starts_with("http://") || v.starts_with("https://"))
        && v.len() > "https://".len()
        && !v.chars().any(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{v}' is not an address customers can open: write it as https://kanta.example.fi"
        ))
    }
}

fn check_database_url(v: &Option<Secret>) -> Result<(), String> {
    let Some(url) = v else { return Ok(()) };
    let url = url.expose();
    if ["sqlite:", "postgres://", "postgresql://"]
        .iter()
        .any(|scheme| url.starts_with(scheme))
    {
        Ok(())
    } else {
        Err("not a database URL: use postgres://USER:PASSWORD@HOST/DB or sqlite://PATH".into())
    }
}

/// The database URL with its password hidden: `postgres://u:***@h/db`.
fn show_database_url(v: &Option<Secret>) -> Option<String> {
    let url = kanta_store::redact(v.as_ref()?.expose());
    // A password may also come as a query parameter.
    Some(match url.split_once('?') {
        Some((base, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) if name.eq_ignore_ascii_case("password") => {
                        format!("{name}=***")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            format!("{base}?{}", query.join("&"))
        }
        None => url,
    })
}

fn check_smtp_url(v: &Option<Secret>) -> Result<(), String> {
    let Some(url) = v else { return Ok(()) };
    let rest = url
        .expose()
        .strip_prefix("smtp://")
        .or_else(|| url.expose().strip_prefix("smtps://"))
        .ok_or("not a mail server URL: use smtp://USER:PASSWORD@HOST:PORT or smtps://...")?;
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() || host.starts_with(':') {
        return Err("the URL names no host: use smtp://USER:PASSWORD@HOST:PORT".into());
    }
    Ok(())
}

#[allow(clippy::ptr_arg)] // the setting's type is String
fn check_mailbox(v: &String) -> Result<(), String> {
    v.parse::<lettre::message::Mailbox>()
        .map(|_| ())
        .map_err(|_| format!("'{v}' is not a sender like Kanta <kanta@example.com>"))
}

fn check_secret_key(v: &Option<Secret>) -> Result<(), String> {
    match v {
        Some(key) if key.expose().chars().count() < 32 => Err(
            "too short: a key needs at least 32 characters (openssl rand -hex 32 makes one)".into(),
        ),
        _ => Ok(()),
    }
}

/// An IANA time zone name the time zone database knows (`Europe/Helsinki`, `UTC`).
#[allow(clippy::ptr_arg)] // the setting's type is String
fn check_time_zone(v: &String) -> Result<(), String> {
    kanta_domain::time::parse_zone(v).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Options that read no file (the data folder hint points nowhere).
    fn no_file() -> LoadOptions {
        LoadOptions {
            data_dir_hint: Some(PathBuf::from("/nonexistent/kanta-config-test")),
            ..LoadOptions::default()
        }
    }

    #[test]
    fn defaults_parse_and_pass_their_checks() {
        let c = Config::load(&no_file()).unwrap();
        assert_eq!(c.serve.bind, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.serve.workers, 2);
        assert_eq!(c.serve.score_every_hours, 24.0);
        assert_eq!(c.scoring.holdout_days, 91);
        assert_eq!(c.scoring.discount_rate, 0.01);
        assert_eq!(c.jobs.lease_seconds, 300);
        assert_eq!(c.mail.smtp_url, None);
        assert_eq!(c.store_defaults.language, Language::Fi);
        assert_eq!(c.store_defaults.currency, Currency::EUR);
        assert!(c.origins.iter().all(|o| *o == Origin::Default));
        // Each default passes its setting's checks, not only its type.
        for s in SETTINGS {
            let mut d = Config::default();
            d.set_raw(s.key, Raw::Text(s.default))
                .unwrap_or_else(|e| panic!("{}: {e}", s.key));
        }
    }

    #[test]
    fn trusted_proxies_come_as_a_list_or_as_text() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kanta.toml");
        std::fs::write(
            &file,
            "[serve]\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n",
        )
        .unwrap();
        let from_file = LoadOptions {
            file: Some(file.clone()),
            ..LoadOptions::default()
        };
        let c = Config::load(&from_file).unwrap();
        assert_eq!(c.serve.trusted_proxies.to_string(), "127.0.0.1, 10.0.0.0/8");
        assert!(Config::default().serve.trusted_proxies.is_empty());
        let c = Config::load(&LoadOptions {
            env: vec![(
                "KANTA_SERVE__TRUSTED_PROXIES".into(),
                "::1, 192.0.2.0/24".into(),
            )],
            ..no_file()
        })
        .unwrap();
        assert_eq!(c.serve.trusted_proxies.to_string(), "::1, 192.0.2.0/24");
        std::fs::write(&file, "[serve]\ntrusted_proxies = [\"proxy.local\"]\n").unwrap();
        let e = Config::load(&from_file).unwrap_err().to_string();
        assert!(
            e.contains("serve.trusted_proxies") && e.contains("'proxy.local' is not an IP address"),
            "{e}"
        );
        std::fs::write(&file, "[serve]\ntrusted_proxies = [1]\n").unwrap();
        let e = Config::load(&from_file).unwrap_err().to_string();
        assert!(e.contains("'1' is not an IP address"), "{e}");
    }

    #[test]
    fn the_table_is_consistent() {
        for (i, s) in SETTINGS.iter().enumerate() {
            assert_eq!(find(s.key), Some(i), "{} twice", s.key);
            assert!(!s.description.is_empty() && !s.description.contains('\n'));
            assert_eq!(env_key(&s.env_name()).as_deref(), Some(s.key));
        }
    }

    #[test]
    fn environment_names() {
        assert_eq!(env_key("KANTA_SERVE__BIND").as_deref(), Some("serve.bind"));
        assert_eq!(
            env_key("KANTA_STORE_DEFAULTS__TIME_ZONE").as_deref(),
            Some("store_defaults.time_zone")
        );
        for name in [
            "KANTA_DATA",
            "KANTA_DATABASE_URL",
            "KANTA_CONFIG",
            "KANTA_LOG",
            "KANTA_TEST_PG__URL",
            "PATH",
        ] {
            assert_eq!(env_key(name), None, "{name}");
        }
        assert_eq!(flag_name("store.database_url"), "--database-url");
        assert_eq!(
            env_name("store_defaults.currency"),
            "KANTA_STORE_DEFAULTS__CURRENCY"
        );
    }

    #[test]
    fn suggestions() {
        assert_eq!(nearest("serve.bnid"), Some("serve.bind"));
        assert_eq!(nearest("store.bind"), Some("serve.bind"));
        assert_eq!(nearest("bind"), Some("serve.bind"));
        assert_eq!(nearest("mail.smtp"), Some("mail.smtp_url"));
        assert_eq!(nearest("something.else_entirely"), None);
        assert_eq!(nearest_section("serv"), Some("serve"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn values_from_text() {
        let mut c = Config::default();
        let set = |c: &mut Config, k: &str, v: &str| c.set_raw(k, Raw::Text(v));
        assert_eq!(
            set(&mut c, "serve.workers", "x").unwrap_err(),
            "'x' is not a whole number"
        );
        assert_eq!(
            set(&mut c, "serve.workers", "-1").unwrap_err(),
            "'-1' is below 0"
        );
        assert!(set(&mut c, "serve.workers", "0").is_err());
        assert_eq!(
            set(&mut c, "serve.bind", "abc").unwrap_err(),
            "'abc' is not an address like 127.0.0.1:8080"
        );
        assert!(
            set(&mut c, "scoring.margin", "0,5")
                .unwrap_err()
                .contains("write a point: 0.5")
        );
        assert!(set(&mut c, "scoring.margin", "NaN").is_err());
        assert!(set(&mut c, "scoring.margin", "0").is_err());
        set(&mut c, "store_defaults.language", "EN").unwrap();
        assert_eq!(c.store_defaults.language, Language::En);
        set(&mut c, "store_defaults.currency", "sek").unwrap();
        assert_eq!(c.store_defaults.currency.code(), "SEK");
        assert!(set(&mut c, "store_defaults.time_zone", "Helsinki time").is_err());
        // Names are checked against the time zone database, not only their shape.
        let e = set(&mut c, "store_defaults.time_zone", "Europe/Helsingfors").unwrap_err();
        assert!(e.contains("Europe/Helsinki"), "{e}");
        assert!(set(&mut c, "store_defaults.time_zone", "America/New_York").is_ok());
        assert!(set(&mut c, "mail.from", "nobody").is_err());
        set(&mut c, "mail.smtp_url", "smtps://u:p@mail.example.com:465").unwrap();
        set(&mut c, "mail.smtp_url", "").unwrap();
        assert_eq!(c.mail.smtp_url, None);
        let e = set(&mut c, "mail.smtp_url", "http://u:hunter2@x").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        let e = set(&mut c, "security.secret_key", "hunter2").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn database_url_is_redacted() {
        let mut c = Config::default();
        assert_eq!(c.database_url(), "sqlite://./kanta-data/kanta.db");
        c.set_raw(
            "store.database_url",
            Raw::Text("postgres://u:pw@h/db?sslmode=require&password=pw2"),
        )
        .unwrap();
        assert_eq!(
            c.shown("store.database_url").0.unwrap(),
            "postgres://u:***@h/db?sslmode=require&password=***"
        );
        assert_eq!(
            c.database_url(),
            "postgres://u:pw@h/db?sslmode=require&password=pw2"
        );
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?} {:?}", Some(&s)), "*** *** Some(***)");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"***\"");
        let back: Secret = serde_json::from_str("\"hunter2\"").unwrap();
        assert_eq!(back.expose(), "hunter2");
    }

    #[test]
    fn line_and_column() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 9), (2, 3));
    }
}
