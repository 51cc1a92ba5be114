//! Kanta's application core: every use case, called alike by the command line, the
//! JSON API, the pages and the background jobs.
//!
//! The crates below it hold data and mechanisms (`kanta-domain`: the schema and the
//! parsing of what users paste; `kanta-store`: SQL; `kanta-models`: the statistics;
//! `kanta-import`: files to rows; `kanta-demo`: demo rows). The crates above it
//! (`kanta-web`, `kanta`) parse input, call the core and render; they hold no business
//! rules.
//!
//! - [`actor`]: who acts ([`Actor`]) and through what ([`Channel`]); every write names
//!   one ([`Acting`]).
//! - [`access`]: roles and who may do what.
//! - [`secrets`]: passwords (argon2id), random secrets and API tokens, digests, and
//!   [`secrets::Secret`], a string that never prints itself.
//! - [`config`]: layered settings (defaults, `kanta.toml`, `KANTA_SECTION__KEY`, flags).
//! - [`write`]: the one write path: the reference policy, the write lock and the audit
//!   entry in the same transaction as the change.
//! - [`figures`]: a customer's figures (revenue, orders, refunds, subscriptions, ...),
//!   from one place; [`subscriptions`]: the daily refresh of the subscriptions' figures.
//! - [`scoring`]: `score_store` (model choice, fits, tiers, forecast).
//! - [`jobs`]: background jobs and their workers; [`mail`]: the mailer and the outbox.
//! - Service recovery: [`cases`] (life cycle, SLA timers and job), [`claims`] (the
//!   small-claim rule), [`trust`] (the ledger's rules, escalation), [`recovery`] (how
//!   customers fare after a case), [`rules`] (their settings as one snapshot).
//! - Whom to contact today: [`health`] (the learned health score), [`queue`] (the
//!   daily contact queue and its reasons), [`owners`], [`onboarding`], [`goals`].

pub mod access;
pub mod accounts;
pub mod actor;
pub mod admin;
pub mod audit;
pub mod backup;
pub mod cases;
pub mod claims;
pub mod config;
pub mod customer_records;
pub mod economics;
pub mod endings;
pub mod exposure;
pub mod feedback;
pub mod feedback_settings;
pub mod feedback_stats;
pub mod figures;
pub mod goals;
pub mod health;
pub mod ideas;
pub mod import;
pub mod jobs;
pub mod kudos;
pub mod mail;
pub mod offers;
pub mod onboarding;
pub mod outbox;
pub mod owners;
pub mod privacy;
pub mod profit;
pub mod proxies;
pub mod queue;
pub mod queue_words;
pub mod recovery;
pub mod retention;
pub mod rules;
pub mod scoring;
pub mod secrets;
pub mod security;
pub mod settings;
pub mod subscriptions;
pub mod survey_send;
pub mod surveys;
pub mod themes;
pub mod trust;
pub mod two_factor;
pub mod value_settings;
pub mod write;

use std::sync::Arc;

use kanta_store::{Store, StoreError};
use serde::Serialize;
use thiserror::Error;

pub use actor::{Acting, Actor, Channel};

/// One problem of a request or file: where (the item of a batch, the field) and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// The position of the item in a batch (`events[index]`), from 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    pub field: String,
    pub reason: String,
}

impl Problem {
    pub fn new(field: &str, reason: impl Into<String>) -> Problem {
        Problem {
            index: None,
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}

/// What a use case refuses or fails with, in words a user can act on.
#[derive(Debug, Error)]
pub enum CoreError {
    /// The actor's role does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// What the request names does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The input is invalid: every problem, by field.
    #[error("{}", .0.iter().map(|p| format!("{}: {}", p.field, p.reason)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
    /// The request clashes with what exists (a duplicate id).
    #[error("{message}")]
    Conflict {
        field: Option<String>,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else (models that cannot be fitted, I/O), as one sentence.
    #[error("{0:#}")]
    Other(#[from] anyhow::Error),
}

impl CoreError {
    pub fn invalid(field: &str, reason: impl Into<String>) -> CoreError {
        CoreError::Invalid(vec![Problem::new(field, reason)])
    }

    /// Whether a shared write ([`Core::begin_shared_write`]) failed only because other
    /// writes ran beside it: made again alone ([`Core::begin_write`]), it will do.
    pub fn is_contention(&self) -> bool {
        matches!(self, CoreError::Store(e) if e.is_contention())
    }
}

pub type Result<T, E = CoreError> = std::result::Result<T, E>;

/// The application: the store and what every use case shares (the write lock).
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct Core {
    store: Store,
    /// Writes of one process take turns (see [`write`]); shared writes
    /// ([`Core::begin_shared_write`]) run beside each other.
    writes: Arc<tokio::sync::RwLock<()>>,
    /// The store settings' values before a manager changes them.
    defaults: Arc<config::StoreDefaults>,
    /// The store settings as last read, and when (see [`Core::store_settings`]).
    settings_cache: SettingsCache,
    /// The reverse proxies whose `X-Forwarded-For` is believed (see [`proxies`]).
    trusted_proxies: Arc<proxies::TrustedProxies>,
    /// How far ahead of now a written time may lie (`store.max_future_hours`; see
    /// [`write::value_problems`]).
    max_future: chrono::Duration,
    /// Where customers reach Kanta and the key that signs their links (see
    /// [`Core::with_links`]).
    links: Arc<Links>,
    /// The newest model run's "+5 points of retention" figure, by run id (see
    /// [`economics`]): it rests on the run alone and takes seconds to compute.
    five_points_cache: economics::FivePointsCache,
    /// Health models as shown, by id (see [`health::ModelViews`]).
    model_views: health::ModelViews,
}

/// Where customers reach Kanta (`serve.public_url`, for links in mail and QR codes)
/// and the configured key for signed links (`security.secret_key`; without one the
/// survey code keeps a random key in the store).
#[derive(Debug, Clone)]
pub struct Links {
    pub public_url: String,
    pub secret_key: Option<config::Secret>,
}

impl Default for Links {
    fn default() -> Self {
        Links {
            public_url: "http://127.0.0.1:8080".into(),
            secret_key: None,
        }
    }
}

type SettingsCache = Arc<std::sync::Mutex<Option<(std::time::Instant, settings::StoreSettings)>>>;

impl Core {
    /// The core over a store, with the built-in store defaults.
    pub fn new(store: Store) -> Core {
        Core::with_defaults(store, config::StoreDefaults::default())
    }

    /// The core over a store, with the configuration's store defaults.
    pub fn with_defaults(store: Store, defaults: config::StoreDefaults) -> Core {
        Core {
            store,
            writes: Default::default(),
            defaults: Arc::new(defaults),
            settings_cache: Default::default(),
            trusted_proxies: Default::default(),
            max_future: chrono::Duration::hours(24),
            links: Default::default(),
            five_points_cache: Default::default(),
            model_views: Default::default(),
        }
    }

    /// The core with the public address and the signing key of links.
    pub fn with_links(mut self, public_url: &str, secret_key: Option<config::Secret>) -> Core {
        self.links = Arc::new(Links {
            public_url: public_url.trim_end_matches('/').to_string(),
            secret_key,
        });
        self
    }

    /// The public address and signing key of links.
    pub fn links(&self) -> &Links {
        &self.links
    }

    /// The core that refuses times more than `hours` ahead of now
    /// (`store.max_future_hours`).
    pub fn with_max_future_hours(mut self, hours: u32) -> Core {
        self.max_future = chrono::Duration::hours(i64::from(hours));
        self
    }

    /// The latest time a write accepts now.
    pub fn latest_time(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + self.max_future
    }

    /// Whether writes of new rows run beside each other ([`Core::begin_shared_write`]):
    /// on PostgreSQL.
    pub fn shares_writes(&self) -> bool {
        self.store.shares_writes()
    }

    /// The store, for reads.
    pub fn store(&self) -> &Store {
        &self.store
    }
}
