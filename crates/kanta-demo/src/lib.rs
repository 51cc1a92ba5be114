//! Deterministic demo data for Kanta: a café and a B2B service firm in one store.
//!
//! [`generate`] turns a [`DemoConfig`] (seed, the date the data end, sizes) into one
//! [`WriteBatch`] per entity, in the order the store must write them
//! ([`kanta_domain::schema::ENTITIES`]: staff, customers, contacts, transactions,
//! subscriptions, interactions, cases, claims, feedback, usage, trust). It does no I/O
//! and reads no clock: the same seed and `as_of` give the same rows, value for value.
//! `kanta demo` writes the batches through the core's one write path, whose hooks add
//! the SLA due times, case events and automatic trust entries.
//!
//! # The café (segment `kahvila`, ids `cafe-00001`, ...)
//!
//! `cafe_customers` people (default 5,000), each first seen at a moment drawn
//! uniformly over the whole window (the `years` calendar years ending on `as_of`), so
//! the customers' observation lengths `T` run from zero to the full window.
//! Purchases follow **BG/NBD** ([`BgNbd`], time in weeks) with [`CAFE`]`.purchases` =
//! `r = 0.9, alpha = 2.5, a = 0.6, b = 3.5`; every purchase (the first one too) is
//! worth a **Gamma-Gamma** draw ([`GammaGamma`], euros) with [`CAFE`]`.spend` =
//! `p = 6, q = 4, gamma = 4` (mean 8.00 € a visit), stored as cents in EUR. Around
//! the purchases: complaints (cases) over their life cycle against the default SLA
//! policies ([`SLA_POLICIES`]) with claims under the small-claim rule, a few repeat
//! claimants, conversations at the counter, short NPS answers in Finnish or English,
//! and a few manual trust entries (the core writes the automatic ones). How a
//! customer's first case ends decides whether they buy again ([`RECOVERY`]).
//!
//! The process runs in continuous time; [`CafeClock`] maps it onto the café's opening
//! hours without moving any purchase to another day, so day-level summaries
//! (`frequency`, `recency`, `T` as `lifetimes` computes them) see the process
//! exactly up to same-day purchases, and [`CafeClock::weeks`] undoes the map for an
//! exact continuous-time summary.
//!
//! # The B2B firm (segments `b2b-small`, `b2b-mid`, `b2b-enterprise`, ids `b2b-001`, ...)
//!
//! `b2b_accounts` companies (default 300) won uniformly over the window, each with one
//! subscription, monthly or yearly. At every renewal an account leaves with its own
//! probability `θ`: **shifted-beta-geometric** ([`Sbg`]) with [`B2B`]`.monthly` =
//! `alpha = 1, beta = 15` per month and [`B2B`]`.yearly` = `alpha = 1, beta = 4` per
//! year. Around them: contacts, weekly usage (`active_users`, `logins`) that falls
//! before many accounts leave, account managers' meetings and calls, support cases,
//! company-wide incidents, claims, NPS and CSAT answers, kudos, each account's owner
//! (its account manager), and a few manual trust entries.
//!
//! `docs/demo.md` in the repository states every parameter and every draw, for the
//! tests that fit the models on this data and check that they recover the parameters.

mod b2b;
mod cafe;
mod clock;
mod costs;
mod draw;
pub mod endings;
mod names;
pub mod offers;
mod params;
mod service;
mod success;
mod surveys;
mod tables;
mod texts;

use chrono::{DateTime, NaiveDate, Utc};
pub use costs::{Costly, UNPROFITABLE};
pub use kanta_domain::WriteBatch;

pub use surveys::{
    ANONYMOUS_ENGLISH, ANONYMOUS_PER_DAY, ANSWER_THEMES, AnswerTheme, B2B_THANKS, CAFE_THANKS,
    DEMO_SURVEYS, DemoInvitation, DemoWave, OLD_SURVEY_DAYS, THEME_MIX, WAVE_AUDIENCE,
    WAVE_LINK_DAYS, inflect, planted_theme,
};

pub use params::{
    ACCOUNT_MANAGER, B2B, B2bParams, BgNbd, CAFE, CHURN_FACTORS, CafeParams, ChurnFactor, DemoUser,
    GammaGamma, ONBOARDING, OnboardingParams, PLANS, PLANTED, RECOVERY, RecoveryParams,
    SLA_POLICIES, SMALL_CLAIM_LIMIT, Sbg, SlaPolicy, TIERS, TRUST, TrustParams,
};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoConfig {
    /// Seeds every random draw; the same seed and `as_of` give the same data.
    pub seed: u64,
    /// The last day of the data, in Helsinki. Every event happens before its end,
    /// the demo's "now" ([`DemoConfig::now`]); `kanta demo` passes yesterday's date,
    /// so that nothing is dated after the moment it runs.
    pub as_of: NaiveDate,
    /// Café customers (default 5,000).
    pub cafe_customers: usize,
    /// B2B accounts (default 300).
    pub b2b_accounts: usize,
    /// Length of the window in calendar years, 1 to 100 (default 3; values outside
    /// are clamped).
    pub years: u32,
}

impl Default for DemoConfig {
    /// Seed 2024, 5,000 café customers, 300 accounts, three years up to 2026-11-01
    /// (a fixed date for tests; the CLI passes today's date instead).
    fn default() -> DemoConfig {
        DemoConfig {
            seed: 2024,
            as_of: NaiveDate::from_ymd_opt(2026, 11, 1).expect("valid date"),
            cafe_customers: 5_000,
            b2b_accounts: 300,
            years: 3,
        }
    }
}

impl DemoConfig {
    /// The demo's "now": midnight in Helsinki after `as_of`. Nothing is dated after
    /// it, except what is in the future by nature (a running subscription's next
    /// renewal date, `subscriptions.renews_on`).
    pub fn now(&self) -> DateTime<Utc> {
        clock::Window::new(self.as_of, self.years).end
    }
}

/// Generates the demo data: one batch per entity, in the order of
/// [`kanta_domain::schema::ENTITIES`] (some may be empty), each with source `demo`.
/// Every batch carries the fields the demo fills (all but `transactions.order_id`;
/// fields it leaves out keep the database's defaults). References hold external ids
/// of rows in earlier batches.
pub fn generate(cfg: &DemoConfig) -> Vec<WriteBatch> {
    generate_with_waves(cfg).0
}

/// [`generate`]'s batches and the survey waves with their invitation logs
/// ([`DemoWave`]: the B2B relationship survey's waves, oldest first), which are no
/// entity's batch: `kanta demo` writes them through the core after the batches.
/// The batches are the same as [`generate`]'s, value for value.
pub fn generate_with_waves(cfg: &DemoConfig) -> (Vec<WriteBatch>, Vec<DemoWave>) {
    let w = clock::Window::new(cfg.as_of, cfg.years);
    let mut t = tables::Tables::new();
    cafe::generate(cfg, &w, &mut t);
    b2b::generate(cfg, &w, &mut t);
    surveys::write_surveys(&mut t);
    surveys::anonymous_answers(cfg, &w, &mut t);
    surveys::word_answers(cfg, &w, &mut t);
    let claims = std::mem::take(&mut t.claim_drafts);
    let mut rng = draw::stream(cfg.seed, draw::CLAIMS);
    service::write_claims(&mut rng, claims, w.end, &mut t);
    costs::generate(&w, &mut t);
    endings::generate(&w, &mut t);
    offers::generate(&w, &mut t);
    t.into_parts()
}

/// Whether `id` is a customer planted outside the generated populations: the
/// unprofitable ones ([`UNPROFITABLE`]) and the café customers the business ended
/// ([`endings::ENDED_BY_US`]). They follow none of the models (BG/NBD, sBG), so the
/// tests that check the models on the data leave them out; docs/demo.md counts them.
pub fn is_planted(id: &str) -> bool {
    UNPROFITABLE.iter().any(|c| c.id == id) || endings::ENDED_BY_US.iter().any(|e| e.id == id)
}

/// The B2B accounts at risk at `as_of` by construction (external ids): still served,
/// and either leaving within the 180 days after `as_of` (decided, not yet visible but
/// through its signs) or showing one of the stated churn factors ([`CHURN_FACTORS`])
/// now, plus the planted accounts but the healthy one ([`PLANTED`]). The contact queue
/// should rank these first.
pub fn accounts_at_risk(cfg: &DemoConfig) -> Vec<String> {
    b2b::at_risk(cfg, &clock::Window::new(cfg.as_of, cfg.years))
}

/// When a case of `severity` (low, normal, high, critical) opened at `opened` is due to
/// be put right under the store's default SLA policies ([`SLA_POLICIES`]: business
/// hours Mon-Fri 08-16 Helsinki without Finnish public holidays, or calendar hours), or
/// `None` for an unknown severity.
pub fn resolution_due(opened: DateTime<Utc>, severity: &str) -> Option<DateTime<Utc>> {
    let p = SLA_POLICIES.iter().find(|p| p.severity == severity)?;
    Some(service::due(opened, p.resolution_hours, p.business))
}

/// The same for the first response.
pub fn first_response_due(opened: DateTime<Utc>, severity: &str) -> Option<DateTime<Utc>> {
    let p = SLA_POLICIES.iter().find(|p| p.severity == severity)?;
    Some(service::due(opened, p.first_response_hours, p.business))
}

/// The café's clock: converts between wall-clock times of café events and the
/// continuous process time of the BG/NBD model.
///
/// Day `n` of the window (`n = 0` is the day after `as_of` minus `years`) is process
/// time `[n, n + 1)` days; within a day, process time is spread over the opening hours
/// 07-19 Helsinki time in proportion to how busy each hour is. A customer's `T` in
/// weeks is `horizon_weeks() - weeks(first purchase)`; recency is
/// `weeks(last) - weeks(first)`.
#[derive(Debug, Clone, Copy)]
pub struct CafeClock {
    window: clock::Window,
}

impl CafeClock {
    pub fn new(cfg: &DemoConfig) -> CafeClock {
        CafeClock {
            window: clock::Window::new(cfg.as_of, cfg.years),
        }
    }

    /// Process time of a café event in weeks since the window starts, or `None` for a
    /// time outside the opening hours (not a café event). Exact to the second.
    pub fn weeks(&self, t: DateTime<Utc>) -> Option<f64> {
        clock::cafe_process_days(&self.window, t).map(|d| d / 7.0)
    }

    /// The end of observation in the same units: the window's length in weeks.
    pub fn horizon_weeks(&self) -> f64 {
        self.window.days as f64 / 7.0
    }

    /// The first day of the window.
    pub fn start(&self) -> NaiveDate {
        self.window.start
    }
}
