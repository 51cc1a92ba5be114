//! The store's own settings: what managers change while Kanta runs (the store's
//! currency, time zone, language, business hours; later: thresholds). They live in
//! the store's `settings` table, start from the configuration's `store_defaults`, and
//! every change is audited with its value before and after.

use chrono::{DateTime, Utc};
use kanta_domain::Currency;
use kanta_domain::time::{DEFAULT_ZONE, Tz, parse_zone};
use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::access::{SETTINGS, require};
use crate::actor::Acting;
use crate::{Core, CoreError, Result};
use kanta_store::accounts::Role;

/// How long the store settings read are reused.
pub const SETTINGS_REUSE: std::time::Duration = std::time::Duration::from_secs(5);

/// One setting a manager may change.
#[derive(Debug, Clone, Copy)]
pub struct StoreSettingDef {
    pub key: &'static str,
    /// What it is, in a sentence (English; the settings page translates by key).
    pub description: &'static str,
    /// Checks and normalises a value as typed; the reason when it is not valid.
    pub parse: fn(&str) -> std::result::Result<String, String>,
}

/// Every store setting, in the order the settings page shows them.
pub const STORE_SETTINGS: &[StoreSettingDef] = &[
    StoreSettingDef {
        key: "currency",
        description: "The store's currency (ISO 4217, e.g. EUR): money given without one is in it, and figures are shown in it",
        parse: parse_currency,
    },
    StoreSettingDef {
        key: "time_zone",
        description: "The time zone times are shown in, and dates and times typed without an offset are read in (IANA name, e.g. Europe/Helsinki; a user may choose their own for the pages)",
        parse: parse_time_zone,
    },
    StoreSettingDef {
        key: "language",
        description: "The language of pages and messages when a user or customer has none (fi or en)",
        parse: parse_language,
    },
    StoreSettingDef {
        key: "business_hours",
        description: "When the business serves customers, e.g. mon-fri 08:00-16:00 (service-level timers count these hours)",
        parse: parse_business_hours,
    },
    StoreSettingDef {
        key: "holidays",
        description: "Days the business is closed, skipped by service-level timers in business hours: fi (Finnish public holidays, computed for every year), extra dates (2026-12-31 or 31.12.2026, comma-separated, with or without fi), or none (default fi)",
        parse: parse_holidays,
    },
    StoreSettingDef {
        key: "sla_low",
        description: "Service-level targets of low-severity cases: first response / resolution in business or calendar hours, e.g. 16h/80h business (Finnish 16h/80h työaika; default 16h/80h business)",
        parse: parse_sla_policy,
    },
    StoreSettingDef {
        key: "sla_normal",
        description: "Service-level targets of normal-severity cases: first response / resolution, e.g. 8h/40h business (default 8h/40h business)",
        parse: parse_sla_policy,
    },
    StoreSettingDef {
        key: "sla_high",
        description: "Service-level targets of high-severity cases: first response / resolution, e.g. 4h/16h business (default 4h/16h business)",
        parse: parse_sla_policy,
    },
    StoreSettingDef {
        key: "sla_critical",
        description: "Service-level targets of critical cases: first response / resolution, e.g. 1h/8h calendar (Finnish 1h/8h kalenteri; default 1h/8h calendar)",
        parse: parse_sla_policy,
    },
    StoreSettingDef {
        key: "sla_warn_hours",
        description: "Hours before a service-level target when the case's owner is warned (mail and the cases list's due-soon filter; default 4)",
        parse: parse_sla_warn_hours,
    },
    StoreSettingDef {
        key: "small_claim_limit",
        description: "The small-claim rule: compensation claims up to and including this amount (in the store's currency, e.g. 50,00) are approved at once by any staff member, no questions asked; larger ones wait for a manager",
        parse: parse_small_claim_limit,
    },
    StoreSettingDef {
        key: "repeat_claims",
        description: "Claims in 12 months that flag a customer on the repeat-claim view (default 3); it informs managers and never changes the small-claim rule",
        parse: parse_repeat_claims,
    },
    StoreSettingDef {
        key: "trust_good_job",
        description: "The trust ledger's credit for a good job (a positive interaction, a case resolved within its SLA, a promoter's answer): a whole number, 1 or more (default 1)",
        parse: parse_trust_good_job,
    },
    StoreSettingDef {
        key: "trust_mistake",
        description: "The trust ledger's debit for a mistake (a case that was our fault, a breached SLA, a detractor's answer): a negative whole number (default -10, ten good jobs)",
        parse: parse_trust_mistake,
    },
    StoreSettingDef {
        key: "owner_rule",
        description: "Who owns a new customer that comes without an owner: none (nobody, the default), round_robin (staff members who sign in, in turn) or least_value (the one whose customers are worth least)",
        parse: crate::owners::parse_owner_rule,
    },
    StoreSettingDef {
        key: "health_min_events",
        description: "Churn events the health score must have seen in the store's own history before it learns its weights; with fewer, documented expert weights are used (a whole number, 10 or more; default 50)",
        parse: crate::health::parse_min_events,
    },
    StoreSettingDef {
        key: "cadence_a",
        description: "Contact cadence of tier A customers: days without a proactive contact (not sales or renewal) before they enter the contact queue, or none (default 30)",
        parse: crate::queue::parse_cadence,
    },
    StoreSettingDef {
        key: "cadence_b",
        description: "Contact cadence of tier B customers: days, or none (default 60)",
        parse: crate::queue::parse_cadence,
    },
    StoreSettingDef {
        key: "cadence_c",
        description: "Contact cadence of tier C customers and customers without a tier: days, or none (default 120)",
        parse: crate::queue::parse_cadence,
    },
    StoreSettingDef {
        key: "cadence_d",
        description: "Contact cadence of tier D customers: days, or none (default none: no cadence)",
        parse: crate::queue::parse_cadence,
    },
    StoreSettingDef {
        key: "p_alive_floor",
        description: "A repeat customer whose P(alive) falls below this probability enters the contact queue (0 to 1, e.g. 0,3; default 0.3)",
        parse: crate::queue::parse_p_alive_floor,
    },
    StoreSettingDef {
        key: "health_drop_points",
        description: "A customer whose health score fell by this many points or more in 30 days enters the contact queue (default 15)",
        parse: crate::queue::parse_health_drop_points,
    },
    StoreSettingDef {
        key: "onboarding_stall_days",
        description: "Days an onboarding task may be overdue before it is stalled and its customer enters the contact queue (default 7)",
        parse: crate::queue::parse_stall_days,
    },
    StoreSettingDef {
        key: "renewal_days",
        description: "A customer whose quarterly or yearly subscription renews within this many days enters the contact queue (default 60)",
        parse: crate::queue::parse_renewal_days,
    },
    StoreSettingDef {
        key: "usage_drop_min",
        description: "The least fall of usage, in % of the customer's own 12-week baseline, that counts as a usage drop when it is also beyond the week-to-week noise (default 30)",
        parse: crate::queue::parse_usage_drop_min,
    },
    StoreSettingDef {
        key: "survey_cooldown_days",
        description: "Days between two survey invitations to the same customer, across all surveys (0: no limit; default 90)",
        parse: crate::feedback_settings::parse_survey_cooldown_days,
    },
    StoreSettingDef {
        key: "survey_link_days",
        description: "Days a personal survey link stays valid (default 30)",
        parse: crate::feedback_settings::parse_survey_link_days,
    },
    StoreSettingDef {
        key: "survey_reminder_days",
        description: "Days after an unanswered invitation its one reminder goes (0: no reminder; default 7)",
        parse: crate::feedback_settings::parse_survey_reminder_days,
    },
    StoreSettingDef {
        key: "survey_skip_critical",
        description: "Invite no customer with an open critical case (yes or no; default yes)",
        parse: crate::feedback_settings::parse_survey_skip_critical,
    },
    StoreSettingDef {
        key: "survey_quiet_hours",
        description: "Hours of the store's clock in which no invitation is mailed, e.g. 21-08 (none: any time; default 21-08)",
        parse: crate::feedback_settings::parse_survey_quiet_hours,
    },
    StoreSettingDef {
        key: "survey_rate_limit",
        description: "Answers and page loads per minute that one address may make on the public survey pages (default 30)",
        parse: crate::feedback_settings::parse_survey_rate_limit,
    },
    StoreSettingDef {
        key: "detractor_nps_max",
        description: "The highest NPS answer that counts as a detractor's (default 6)",
        parse: crate::feedback_settings::parse_detractor_nps_max,
    },
    StoreSettingDef {
        key: "detractor_csat_max",
        description: "The highest CSAT answer that counts as a detractor's (default 2)",
        parse: crate::feedback_settings::parse_detractor_csat_max,
    },
    StoreSettingDef {
        key: "detractor_opens_case",
        description: "A detractor's answer opens a case (yes or no; default no)",
        parse: crate::feedback_settings::parse_detractor_opens_case,
    },
    StoreSettingDef {
        key: "feedback_min_answers",
        description: "Answers a period needs before its NPS, CSAT or CES is shown; fewer show as not enough answers (default 30)",
        parse: crate::feedback_settings::parse_feedback_min_answers,
    },
    StoreSettingDef {
        key: "exposure_promoter",
        description: "People a satisfied customer tells (default 3)",
        parse: crate::feedback_settings::parse_exposure_promoter,
    },
    StoreSettingDef {
        key: "exposure_detractor",
        description: "People a dissatisfied customer tells (default 11)",
        parse: crate::feedback_settings::parse_exposure_detractor,
    },
    StoreSettingDef {
        key: "ending_notice_fi",
        description: "The notice mailed in Finnish when a relationship is ended with notice: text with {name}, {end_date} and {business}; a line break is written \\n",
        parse: crate::endings::parse_notice_template,
    },
    StoreSettingDef {
        key: "ending_notice_en",
        description: "The notice mailed in English when a relationship is ended with notice: text with {name}, {end_date} and {business}; a line break is written \\n",
        parse: crate::endings::parse_notice_template,
    },
    StoreSettingDef {
        key: "business_name",
        description: "The business's name as its customers know it, signed under notices to customers (empty: customer service)",
        parse: crate::endings::parse_business_name,
    },
    StoreSettingDef {
        key: "cost_hourly",
        description: "What an hour of staff time costs, in the store's currency (e.g. 40,00; default 40.00): interactions and cases given in minutes cost their share of it",
        parse: crate::value_settings::parse_cost_hourly,
    },
    StoreSettingDef {
        key: "interaction_costs",
        description: "What each kind of interaction costs: minutes of staff time or a fixed amount, e.g. call 10min, meeting 60min, visit 12,50 (default call 10min, meeting 60min, email 5min, visit 45min, chat 5min, note 0min, other 10min)",
        parse: crate::value_settings::parse_interaction_costs,
    },
    StoreSettingDef {
        key: "case_costs",
        description: "What a case costs by severity: minutes of staff time or a fixed amount, e.g. low 15min, high 2h (default low 15min, normal 30min, high 120min, critical 240min)",
        parse: crate::value_settings::parse_case_costs,
    },
    StoreSettingDef {
        key: "goods_margin",
        description: "The share of revenue that is gross margin where an order has no cost recorded, and of subscriptions' revenue (0 to 100 %, default 40%)",
        parse: crate::value_settings::parse_goods_margin,
    },
    StoreSettingDef {
        key: "retention_answer_text_years",
        description: "Years the free text of answers is kept; older text is deleted daily, the scores stay (0 = kept forever, the default)",
        parse: crate::retention::parse_years,
    },
    StoreSettingDef {
        key: "retention_inactive_customer_years",
        description: "Years a customer with no order, contact, answer or case (and no running subscription) is kept; then their personal data is erased, their figures kept (0 = kept forever, the default)",
        parse: crate::retention::parse_years,
    },
    StoreSettingDef {
        key: "retention_audit_years",
        description: "Years audit log entries are kept; older ones are deleted daily (0 = kept forever, the default)",
        parse: crate::retention::parse_years,
    },
    StoreSettingDef {
        key: "two_factor_admins",
        description: "Whether admins must sign in with a code from an authenticator app as well as their password (required or optional; default optional). Admins only",
        parse: crate::security::parse_two_factor_admins,
    },
    StoreSettingDef {
        key: "sign_in_rate_limit",
        description: "Requests a minute one address may make to the sign-in forms; more answer 429 (default 20). Admins only",
        parse: crate::security::parse_sign_in_rate_limit,
    },
    StoreSettingDef {
        key: "api_rate_limit",
        description: "Requests a minute one API token (or session, or address) may make to the API; more answer 429 (default 6000). Admins only",
        parse: crate::security::parse_api_rate_limit,
    },
    StoreSettingDef {
        key: "retention_closed_case_years",
        description: "Years the summary and resolution of closed cases are kept; then they are deleted, the case's dates and figures stay (0 = kept forever, the default)",
        parse: crate::retention::parse_years,
    },
];

/// `holidays`: `fi`, `none`, dates, or `fi` and dates ([`kanta_domain::sla::Holidays`]).
fn parse_holidays(s: &str) -> std::result::Result<String, String> {
    crate::cases::parse_holidays(s)
}

/// `sla_<severity>`: `8h/40h business`, `1h/8h kalenteri` ([`kanta_domain::sla::SlaPolicy`]).
fn parse_sla_policy(s: &str) -> std::result::Result<String, String> {
    crate::cases::parse_sla_policy(s)
}

/// `sla_warn_hours`: 0 to 168 hours.
fn parse_sla_warn_hours(s: &str) -> std::result::Result<String, String> {
    crate::cases::parse_warn_hours(s)
}

/// The value a service rule's setting has while the store holds none (the rules'
/// own defaults, in the form the setting is typed).
fn default_value(key: &str) -> String {
    match key {
        "holidays" => "fi".into(),
        "sla_warn_hours" => crate::cases::DEFAULT_WARN_HOURS.to_string(),
        "small_claim_limit" => crate::claims::DEFAULT_SMALL_CLAIM_LIMIT.into(),
        "repeat_claims" => crate::claims::DEFAULT_REPEAT_CLAIMS.to_string(),
        "trust_good_job" => crate::trust::DEFAULT_GOOD_JOB.to_string(),
        "trust_mistake" => crate::trust::DEFAULT_MISTAKE.to_string(),
        "owner_rule" => "none".into(),
        "health_min_events" => crate::health::DEFAULT_MIN_EVENTS.to_string(),
        k if crate::feedback_settings::default_setting(k).is_some() => {
            crate::feedback_settings::default_setting(k)
                .unwrap_or_default()
                .into()
        }
        k if crate::value_settings::default_setting(k).is_some() => {
            crate::value_settings::default_setting(k)
                .unwrap_or_default()
                .into()
        }
        k if crate::endings::default_setting(k).is_some() => crate::endings::default_setting(k)
            .unwrap_or_default()
            .into(),
        k if crate::security::default_setting(k).is_some() => crate::security::default_setting(k)
            .unwrap_or_default()
            .into(),
        k if crate::queue::default_setting(k).is_some() => {
            crate::queue::default_setting(k).unwrap_or_default().into()
        }
        k => match k.strip_prefix("sla_") {
            Some(severity) => kanta_domain::sla::SlaPolicy::default_for(severity).normalised(),
            None => String::new(),
        },
    }
}

/// Business hours before a manager sets them.
pub const DEFAULT_BUSINESS_HOURS: &str = "mon-fri 08:00-16:00";

/// The store settings in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreSettings {
    pub currency: Currency,
    pub time_zone: String,
    pub language: String,
    pub business_hours: String,
    /// Every setting the store holds, as stored (JSON strings unquoted), by key: the
    /// service rules ([`crate::rules`]) read theirs from here with their defaults.
    pub stored: std::collections::BTreeMap<String, String>,
}

impl StoreSettings {
    /// A stored setting's value, `None` when the default applies.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.stored.get(key).map(String::as_str)
    }
}

/// One setting as the settings page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ShownStoreSetting {
    pub key: &'static str,
    pub value: String,
    pub description: &'static str,
    /// Whether the store holds a value (else the default applies).
    pub set: bool,
}

fn parse_currency(s: &str) -> std::result::Result<String, String> {
    s.parse::<Currency>()
        .map(|c| c.to_string())
        .map_err(|_| format!("'{}' is not a currency code like EUR", s.trim()))
}

/// An IANA time zone name, checked against the time zone database and written as
/// the database writes it (`europe/helsinki` is `Europe/Helsinki`).
fn parse_time_zone(s: &str) -> std::result::Result<String, String> {
    kanta_domain::time::parse_zone(s).map(|z| z.name().to_string())
}

fn parse_language(s: &str) -> std::result::Result<String, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "fi" | "suomi" | "finnish" => Ok("fi".into()),
        "en" | "englanti" | "english" => Ok("en".into()),
        other => Err(format!(
            "'{other}' is not a language Kanta speaks: fi or en"
        )),
    }
}

/// `mon-fri 08:00-16:00` (also Finnish `ma-pe 8.00-16.00`), normalised to the
/// English form (the rule is the SLA calendar's own, `kanta_domain::sla::WeeklyHours`).
fn parse_business_hours(s: &str) -> std::result::Result<String, String> {
    kanta_domain::sla::WeeklyHours::parse(s).map(|h| h.normalised())
}

/// The small-claim threshold as typed (`50`, `50,00`, `50.00 €`, `EUR 50`), normalised
/// to a plain decimal (`50.00`): an amount in the store's currency, zero or more.
pub fn parse_small_claim_limit(s: &str) -> std::result::Result<String, String> {
    // As a claim's amount is typed: at most 2 decimals (the minor digits of the
    // common currencies), no exponent, within the bounds of every amount.
    let m = kanta_domain::money::Money::parse_strict(s, kanta_domain::money::Currency::EUR)
        .map_err(|e| match e {
            kanta_domain::money::MoneyError::Empty
            | kanta_domain::money::MoneyError::NotANumber(_)
            | kanta_domain::money::MoneyError::BadCurrency(_) => format!(
                "'{}' is not an amount like 50,00 (in the store's currency)",
                kanta_domain::value::excerpt(s.trim())
            ),
            e => e.to_string(),
        })?;
    if m.minor < 0 {
        return Err(format!(
            "'{}' is below zero: the small-claim limit is an amount of 0 or more",
            s.trim()
        ));
    }
    Ok(m.plain())
}

/// A whole number as typed: `10`, `+10`, `-10`, `−10` (the typographic minus), with
/// `points`/`pistettä` and the like after it.
fn whole_number(s: &str) -> Option<i64> {
    let first = s.split_whitespace().next()?;
    let t = first.replace(['\u{2212}', '\u{2013}'], "-");
    t.strip_prefix('+').unwrap_or(&t).parse().ok()
}

/// The trust ledger's credit for a good job: a whole number from 1 to 1000.
pub fn parse_trust_good_job(s: &str) -> std::result::Result<String, String> {
    match whole_number(s) {
        Some(n) if (1..=1000).contains(&n) => Ok(n.to_string()),
        Some(n) if n <= 0 => Err(format!(
            "{n} is not a credit: a good job adds to the balance, so give a whole number from 1 to 1000 (default 1)"
        )),
        _ => Err(format!(
            "'{}' is not a whole number from 1 to 1000 (default 1)",
            s.trim()
        )),
    }
}

/// The trust ledger's debit for a mistake: a negative whole number from -1 to -100000.
pub fn parse_trust_mistake(s: &str) -> std::result::Result<String, String> {
    match whole_number(s) {
        Some(n) if (-100_000..=-1).contains(&n) => Ok(n.to_string()),
        Some(n) if n >= 0 => Err(format!(
            "{n} is not a debit: a mistake takes from the balance, so give a negative whole number such as -10 (default -10)"
        )),
        _ => Err(format!(
            "'{}' is not a whole number from -1 to -100000 (default -10)",
            s.trim()
        )),
    }
}

/// Claims in 12 months that flag a customer: a whole number, 1 or more (`3`, `3 claims`,
/// `3 korvausta`).
pub fn parse_repeat_claims(s: &str) -> std::result::Result<String, String> {
    let first = s.split_whitespace().next().unwrap_or("");
    match first.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n.to_string()),
        _ => Err(format!(
            "'{}' is not a number of claims: a whole number, 1 or more",
            s.trim()
        )),
    }
}

/// Times as a person reads them: on the wall clock of one zone (the store's, or a
/// user's own), with the zone named once where the times are listed. The API and
/// JSON keep UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplayZone(pub Tz);

impl DisplayZone {
    pub fn zone(self) -> Tz {
        self.0
    }

    /// The zone's IANA name (`Europe/Helsinki`), to name it once by a list of times.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// `t` on the zone's wall clock.
    pub fn local(self, t: DateTime<Utc>) -> DateTime<Tz> {
        t.with_timezone(&self.0)
    }

    /// `2024-12-31 12:05` (local, without the zone: name it once by the list).
    pub fn date_time(self, t: DateTime<Utc>) -> String {
        self.local(t).format("%Y-%m-%d %H:%M").to_string()
    }

    /// The local date of `t`, `2024-12-31`.
    pub fn date(self, t: DateTime<Utc>) -> String {
        self.local(t).format("%Y-%m-%d").to_string()
    }
}

/// The zone of a name, or the default zone (Europe/Helsinki) for a name the time zone
/// database does not know.
pub fn zone_or_default(name: &str) -> Tz {
    parse_zone(name).unwrap_or(DEFAULT_ZONE)
}

fn def(key: &str) -> Result<&'static StoreSettingDef> {
    STORE_SETTINGS.iter().find(|d| d.key == key).ok_or_else(|| {
        CoreError::invalid(
            "key",
            format!(
                "'{key}' is not a store setting; the settings are {}",
                STORE_SETTINGS
                    .iter()
                    .map(|d| d.key)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
}

impl Core {
    /// The store settings in force: the store's values over the defaults. Read at most
    /// every [`SETTINGS_REUSE`] (every customer view needs the currency); a change
    /// through this core shows at once, one by another process within that time.
    pub async fn store_settings(&self) -> Result<StoreSettings> {
        if let Some((at, s)) = self.settings_cache.lock().expect("not poisoned").as_ref()
            && at.elapsed() < SETTINGS_REUSE
        {
            return Ok(s.clone());
        }
        let fresh = self.read_store_settings().await?;
        *self.settings_cache.lock().expect("not poisoned") =
            Some((std::time::Instant::now(), fresh.clone()));
        Ok(fresh)
    }

    async fn read_store_settings(&self) -> Result<StoreSettings> {
        let stored = self.store.settings().await?;
        let get = |k: &str| {
            stored
                .iter()
                .find(|(key, _)| key == k)
                .and_then(|(_, v)| v.as_str().map(str::to_string))
        };
        let d = &self.defaults;
        Ok(StoreSettings {
            currency: get("currency")
                .and_then(|c| c.parse().ok())
                .unwrap_or(d.currency),
            time_zone: get("time_zone").unwrap_or_else(|| d.time_zone.clone()),
            language: get("language").unwrap_or_else(|| d.language.code().to_string()),
            business_hours: get("business_hours")
                .unwrap_or_else(|| DEFAULT_BUSINESS_HOURS.to_string()),
            stored: stored
                .iter()
                .map(|(k, v)| {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    (k.clone(), v)
                })
                .collect(),
        })
    }

    /// The store's currency.
    pub async fn currency(&self) -> Result<Currency> {
        Ok(self.store_settings().await?.currency)
    }

    /// The store's time zone: times without an offset are read in it and times are
    /// shown in it (unless a user chose their own). A stored name the database does
    /// not know (written before names were checked) falls back to the default.
    pub async fn time_zone(&self) -> Result<Tz> {
        Ok(zone_or_default(&self.store_settings().await?.time_zone))
    }

    /// Today's date in the store's time zone (what "today" means for billing,
    /// scoring's default as-of and the jobs that run by day).
    pub async fn today(&self) -> Result<chrono::NaiveDate> {
        Ok(Utc::now()
            .with_timezone(&self.time_zone().await?)
            .date_naive())
    }

    /// The zone times are shown in: `user_zone` (a user's own) when the database
    /// knows it, else the store's.
    pub async fn display_zone(&self, user_zone: Option<&str>) -> Result<DisplayZone> {
        if let Some(z) = user_zone.and_then(|z| parse_zone(z).ok()) {
            return Ok(DisplayZone(z));
        }
        Ok(DisplayZone(self.time_zone().await?))
    }

    /// `t` as the store shows it (`2024-12-31 12:05`, in the store's time zone).
    pub async fn local_time(&self, t: DateTime<Utc>) -> Result<String> {
        Ok(self.display_zone(None).await?.date_time(t))
    }

    /// Every store setting with its value in force, for the settings page.
    pub async fn shown_store_settings(&self) -> Result<Vec<ShownStoreSetting>> {
        let stored = self.store.settings().await?;
        let now = self.read_store_settings().await?;
        let value = |k: &str| match k {
            "currency" => now.currency.to_string(),
            "time_zone" => now.time_zone.clone(),
            "language" => now.language.clone(),
            "business_hours" => now.business_hours.clone(),
            _ => now
                .value(k)
                .map_or_else(|| default_value(k), str::to_string),
        };
        Ok(STORE_SETTINGS
            .iter()
            .map(|d| ShownStoreSetting {
                key: d.key,
                value: value(d.key),
                description: d.description,
                set: stored.iter().any(|(k, _)| k == d.key),
            })
            .collect())
    }

    /// Changes one store setting (managers and above; those of
    /// [`crate::security::ADMIN_ONLY`] admins only), audited with its value before
    /// and after in the same transaction. Returns the value as stored.
    pub async fn set_store_setting(
        &self,
        acting: &Acting,
        key: &str,
        text: &str,
    ) -> Result<String> {
        require(acting, SETTINGS)?;
        if crate::security::ADMIN_ONLY.contains(&key) {
            require(acting, Role::Admin)?;
        }
        let d = def(key)?;
        let value = (d.parse)(text).map_err(|reason| CoreError::invalid(key, reason))?;
        let before = self
            .shown_store_settings()
            .await?
            .into_iter()
            .find(|s| s.key == key)
            .map(|s| s.value);
        let mut entry = acting.audit("settings", Some(key), "setting_change");
        entry.changes = json!({ key: { "before": before, "after": value } });
        let _turn = self.writes.write().await;
        self.store
            .set_setting(key, &Json::String(value.clone()), &entry)
            .await?;
        *self.settings_cache.lock().expect("not poisoned") = None;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_hours_in_english_and_finnish() {
        assert_eq!(
            parse_business_hours("ma-pe 8.00-16.30").unwrap(),
            "mon-fri 08:00-16:30"
        );
        assert_eq!(
            parse_business_hours("mon-sat 07:00-22:00").unwrap(),
            "mon-sat 07:00-22:00"
        );
        assert!(parse_business_hours("fri-mon 8-16").is_err());
        assert!(parse_business_hours("mon-fri 16-8").is_err());
        assert!(parse_business_hours("always").is_err());
    }

    #[test]
    fn values_are_checked() {
        assert_eq!(parse_currency(" sek ").unwrap(), "SEK");
        assert!(parse_currency("euro").is_err());
        assert_eq!(
            parse_time_zone("Europe/Helsinki").unwrap(),
            "Europe/Helsinki"
        );
        assert!(parse_time_zone("helsinki").is_err());
        assert_eq!(
            parse_time_zone("america/new_york").unwrap(),
            "America/New_York"
        );
        let e = parse_time_zone("Europe/Helsingfors").unwrap_err();
        assert!(e.contains("like Europe/Helsinki"), "{e}");
        assert!(parse_time_zone("Mars/Base").is_err());
        assert_eq!(zone_or_default("Mars/Base"), DEFAULT_ZONE);
        let z = DisplayZone(DEFAULT_ZONE);
        let t = "2024-06-01T05:30:00Z".parse().unwrap();
        assert_eq!(z.date_time(t), "2024-06-01 08:30");
        let t = "2024-12-31T22:30:00Z".parse().unwrap();
        assert_eq!(
            (z.date_time(t), z.date(t)),
            ("2025-01-01 00:30".into(), "2025-01-01".into())
        );
        assert_eq!(parse_language("Suomi").unwrap(), "fi");
        assert!(parse_language("sv").is_err());
    }
}
