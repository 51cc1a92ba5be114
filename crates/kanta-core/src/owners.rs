//! Who owns each customer: the rule for new customers (round robin or least total
//! value, the `owner_rule` setting), bulk assignment by segment, tier or list, the
//! owners' figures, the proactive share report, the weekly digest mail and its
//! opt-out. "My customers" are those whose owner is the staff row whose email is the
//! signed-in user's (`Store::staff_for_email`); a user with no staff row owns nobody.
//!
//! - [`after_write`]: in the transaction of every write of customers, the customers
//!   this write inserted without an owner get one by the rule (`none` by default:
//!   nothing is read but the setting). Staff who may own customers are active staff
//!   rows with the email of an active user of role staff or above. `round_robin`
//!   deals the new customers out in turn, going on after the owner of the newest owned
//!   customer; `least_value` gives each new customer to the one whose owned customers'
//!   value (12-month CLV of the newest model run, else revenue) is least (ties: fewer
//!   customers, then the older staff row). Computed in memory, written by one
//!   statement per 100,000 customers.
//! - [`Core::assign_owners`]: a manager's bulk assignment (segment, tier or a list of
//!   customer ids; optionally only those without an owner), one `UPDATE` in one write
//!   with one audit entry naming the selector and the count.
//! - [`Core::owners_overview`], [`Core::proactive_share`]: the `/owners` page and
//!   `kanta report contacts`: per staff member and month (store time zone) the contacts
//!   made and the share of them that were proactive and not about sales or renewal
//!   (seed 000: contact beyond renewals), with Wilson 95% intervals.
//! - [`Core::run_digest`]: the weekly `queue.digest` job (Monday 07:00 store time, one
//!   mail per owner with `users.weekly_digest`: their 20 first queue rows by value at
//!   risk with the reasons in words, [`crate::queue_words`]); [`Core::set_weekly_digest`]:
//!   the opt-out, audited.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use kanta_domain::money::{Currency, Money};
use kanta_domain::schema::CUSTOMERS;
use kanta_store::owners::{ContactCount, OwnerRow, OwnerSelector};
use serde::Serialize;
use serde_json::json;

use crate::access::{Role, require};
use crate::actor::Acting;
use crate::mail::{Lang, render};
use crate::recovery::Rate;
use crate::write::{WriteTx, run_info};
use crate::{Core, CoreError, Result};

/// The job kind of the weekly digest.
pub const DIGEST_JOB: &str = "queue.digest";
/// Queue rows a digest lists at most.
pub const DIGEST_ROWS: u32 = 20;

/// How new customers without an owner get one (`owner_rule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerRule {
    None,
    RoundRobin,
    LeastValue,
}

impl OwnerRule {
    /// `none`, `round_robin`, `least_value` (also with `-`, and Finnish `vuorotellen`,
    /// `pienin_arvo`).
    pub fn parse(s: &str) -> Option<OwnerRule> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "none" | "" | "ei" => Some(OwnerRule::None),
            "round_robin" | "vuorotellen" => Some(OwnerRule::RoundRobin),
            "least_value" | "pienin_arvo" => Some(OwnerRule::LeastValue),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            OwnerRule::None => "none",
            OwnerRule::RoundRobin => "round_robin",
            OwnerRule::LeastValue => "least_value",
        }
    }
}

/// The `owner_rule` setting as typed.
pub fn parse_owner_rule(s: &str) -> std::result::Result<String, String> {
    OwnerRule::parse(s)
        .map(|r| r.name().to_string())
        .ok_or_else(|| {
            format!(
                "'{}' is not an owner rule: none, round_robin or least_value",
                s.trim()
            )
        })
}

/// Runs in the transaction of every write of customers: gives new customers without
/// an owner one by the `owner_rule` setting.
pub(crate) async fn after_write(tx: &mut WriteTx, ids: &[String], new_after_id: i64) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let w = tx.writer_mut();
    let rule = w
        .owner_rule_setting()
        .await?
        .and_then(|s| OwnerRule::parse(&s))
        .unwrap_or(OwnerRule::None);
    if rule == OwnerRule::None {
        return Ok(());
    }
    // This write's rows: an id above the greatest before it ([`WriteTx::write`]).
    let new = w.new_unowned_customers(ids, new_after_id).await?;
    if new.is_empty() {
        return Ok(());
    }
    let candidates = w.owner_candidates(rule == OwnerRule::LeastValue).await?;
    if candidates.is_empty() {
        return Ok(());
    }
    let pairs: Vec<(i64, i64)> = match rule {
        OwnerRule::None => return Ok(()),
        OwnerRule::RoundRobin => {
            let last = w.last_assigned_owner().await?;
            let start = last
                .and_then(|l| candidates.iter().position(|c| c.staff_id > l))
                .unwrap_or(0);
            new.iter()
                .enumerate()
                .map(|(i, id)| (*id, candidates[(start + i) % candidates.len()].staff_id))
                .collect()
        }
        OwnerRule::LeastValue => {
            use std::cmp::Reverse;
            use std::collections::BinaryHeap;
            // New customers have no value yet (no orders, no scores): each still counts
            // one customer, so equal values are shared out.
            let mut heap: BinaryHeap<Reverse<(i64, i64, i64)>> = candidates
                .iter()
                .map(|c| Reverse((c.value_minor, c.customers, c.staff_id)))
                .collect();
            let mut out = Vec::with_capacity(new.len());
            for id in &new {
                let Some(Reverse((v, n, s))) = heap.pop() else {
                    break;
                };
                out.push((*id, s));
                heap.push(Reverse((v, n + 1, s)));
            }
            out
        }
    };
    w.set_owners(&pairs).await?;
    Ok(())
}

/// Which customers a bulk assignment takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Segment(String),
    /// A value tier, A-D.
    Tier(String),
    /// Customers by external id.
    Ids(Vec<String>),
}

impl Selector {
    fn describe(&self) -> serde_json::Value {
        match self {
            Selector::Segment(s) => json!({ "segment": s }),
            Selector::Tier(t) => json!({ "tier": t }),
            Selector::Ids(ids) => json!({ "customers": ids.len() }),
        }
    }
}

/// Customer ids pasted one per line or comma-separated (blanks and repeats dropped).
pub fn parse_id_list(text: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    text.split([',', '\n', '\r', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter(|s| seen.insert(s.to_string()))
        .map(str::to_string)
        .collect()
}

/// The owners page's figures.
#[derive(Debug, Clone, Serialize)]
pub struct OwnersOverview {
    pub rule: OwnerRule,
    pub owners: Vec<OwnerRow>,
    /// Customers with no owner.
    pub unowned: i64,
    pub currency: Currency,
}

/// One staff member's contacts in one month, with the proactive share.
#[derive(Debug, Clone, Serialize)]
pub struct ShareRow {
    pub month: String,
    pub staff_id: String,
    pub name: String,
    pub contacts: u64,
    /// Proactive contacts not about sales or renewal, of `contacts`, with the share's
    /// Wilson 95% interval.
    pub share: Rate,
}

/// The proactive share report.
#[derive(Debug, Clone, Serialize)]
pub struct ProactiveShare {
    /// The months covered, oldest first (`YYYY-MM`, store time zone).
    pub months: Vec<String>,
    pub time_zone: String,
    /// Per staff member and month (months without contacts left out).
    pub rows: Vec<ShareRow>,
    /// Per staff member over all the months (month `""`).
    pub totals: Vec<ShareRow>,
    /// Everyone together per month (staff id `""`).
    pub by_month: Vec<ShareRow>,
}

/// What a digest run did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DigestRun {
    /// Users with the digest on who own customers.
    pub recipients: u64,
    /// Mails queued (a user whose queue is empty gets none; a week's mail once).
    pub mails: u64,
}

fn share_row(month: &str, staff_id: &str, name: &str, contacts: i64, proactive: i64) -> ShareRow {
    let (n, k) = (contacts.max(0) as u64, proactive.max(0) as u64);
    ShareRow {
        month: month.to_string(),
        staff_id: staff_id.to_string(),
        name: name.to_string(),
        contacts: n,
        share: Rate::wilson(k, n),
    }
}

/// The first day of each of the last `months` months up to `today`'s, oldest first,
/// with its first instant in `zone`.
fn month_bounds<Z: TimeZone>(
    zone: &Z,
    today: NaiveDate,
    months: u32,
) -> Vec<(String, DateTime<Utc>)> {
    let mut first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
    for _ in 1..months {
        first = first
            .pred_opt()
            .and_then(|d| NaiveDate::from_ymd_opt(d.year(), d.month(), 1))
            .unwrap_or(first);
    }
    let mut out = Vec::new();
    let mut m = first;
    while m <= today {
        let midnight = m.and_hms_opt(0, 0, 0).unwrap_or_default();
        let start = zone
            .from_local_datetime(&midnight)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&midnight));
        out.push((m.format("%Y-%m").to_string(), start));
        m = (m + Duration::days(32))
            .with_day(1)
            .unwrap_or(m + Duration::days(31));
    }
    out
}

impl Core {
    /// The owner rule in force.
    pub async fn owner_rule(&self) -> Result<OwnerRule> {
        Ok(self
            .store_settings()
            .await?
            .value("owner_rule")
            .and_then(OwnerRule::parse)
            .unwrap_or(OwnerRule::None))
    }

    /// Gives the customers `selector` picks the owner `owner` (a staff member's id;
    /// `None` takes their owner away), only those without one when `only_unowned`.
    /// Managers and above; one write with one audit entry naming the selector, the
    /// owner and the count. Unknown customer ids are refused, all named.
    pub async fn assign_owners(
        &self,
        acting: &Acting,
        selector: &Selector,
        owner: Option<&str>,
        only_unowned: bool,
    ) -> Result<usize> {
        require(acting, Role::Manager)?;
        let owner = owner.map(str::trim).filter(|s| !s.is_empty());
        match selector {
            Selector::Segment(s) | Selector::Tier(s) if s.trim().is_empty() => {
                return Err(CoreError::invalid("selector", "give a segment or a tier"));
            }
            Selector::Ids(ids) if ids.is_empty() => {
                return Err(CoreError::invalid(
                    "customers",
                    "give at least one customer id",
                ));
            }
            _ => {}
        }
        let staff_key = match owner {
            None => None,
            Some(o) => Some(self.store().staff_key(o).await?.ok_or_else(|| {
                CoreError::invalid("owner", format!("there is no staff member with id '{o}'"))
            })?),
        };
        let mut tx = self.begin_write(acting, &CUSTOMERS, Vec::new()).await?;
        let store_selector = match selector {
            Selector::Segment(s) => OwnerSelector::Segment(s.trim().to_string()),
            Selector::Tier(t) => {
                let t = t.trim().to_ascii_uppercase();
                if !matches!(t.as_str(), "A" | "B" | "C" | "D") {
                    return Err(CoreError::invalid(
                        "tier",
                        format!("'{t}' is not a tier: A, B, C or D"),
                    ));
                }
                OwnerSelector::Tier(t)
            }
            Selector::Ids(ids) => {
                let known = tx.known(&CUSTOMERS, ids).await?;
                let unknown: Vec<&str> = ids
                    .iter()
                    .filter(|i| !known.contains_key(*i))
                    .map(String::as_str)
                    .collect();
                if !unknown.is_empty() {
                    let shown: Vec<&str> = unknown.iter().take(20).copied().collect();
                    let more = if unknown.len() > 20 {
                        format!(" and {} more", unknown.len() - 20)
                    } else {
                        String::new()
                    };
                    return Err(CoreError::invalid(
                        "customers",
                        format!("no customer with the id {}{more}", shown.join(", ")),
                    ));
                }
                let mut keys: Vec<i64> = known.into_values().collect();
                keys.sort_unstable();
                OwnerSelector::Ids(keys)
            }
        };
        let n = tx
            .writer_mut()
            .assign_owners_where(&store_selector, staff_key, only_unowned)
            .await?;
        let mut entry = acting.audit(CUSTOMERS.name, None, "assign_owner");
        entry.details = json!({
            "selector": selector.describe(),
            "owner": owner,
            "only_unowned": only_unowned,
            "customers": n,
        });
        if let Selector::Ids(ids) = selector {
            entry.details["ids"] = json!(ids.iter().take(100).collect::<Vec<_>>());
        }
        tx.finish(&run_info("", 0), vec![entry]).await?;
        Ok(n as usize)
    }

    /// Every owner (and staff member who may own customers) with their customers,
    /// the value they own and their rows in the contact queue. Any role.
    pub async fn owners_overview(&self, acting: &Acting) -> Result<OwnersOverview> {
        require(acting, Role::Viewer)?;
        let owners = self.store().owner_overview().await?;
        let unowned = self
            .store()
            .customers(&kanta_store::CustomerFilter {
                owner: Some(kanta_store::records::OwnerFilter::Unowned),
                limit: 0,
                ..Default::default()
            })
            .await?
            .total as i64;
        Ok(OwnersOverview {
            rule: self.owner_rule().await?,
            owners,
            unowned,
            currency: self.currency().await?,
        })
    }

    /// Contacts per staff member and month over the last `months` months (1-36, this
    /// one included, store time zone) and the share of them proactive and not about
    /// sales or renewal, with Wilson 95% intervals. Any role.
    pub async fn proactive_share(&self, acting: &Acting, months: u32) -> Result<ProactiveShare> {
        require(acting, Role::Viewer)?;
        if !(1..=36).contains(&months) {
            return Err(CoreError::invalid("months", "give 1 to 36 months"));
        }
        let zone = self.time_zone().await?;
        let today = Utc::now().with_timezone(&zone).date_naive();
        let bounds = month_bounds(&zone, today, months);
        let counts: Vec<ContactCount> = self.store().contact_counts(&bounds).await?;
        let rows = counts
            .iter()
            .map(|c| share_row(&c.month, &c.staff_id, &c.name, c.contacts, c.proactive))
            .collect();
        let mut totals: Vec<(String, String, i64, i64)> = Vec::new();
        let mut by_month: Vec<(String, i64, i64)> =
            bounds.iter().map(|(m, _)| (m.clone(), 0, 0)).collect();
        for c in &counts {
            match totals.iter_mut().find(|t| t.0 == c.staff_id) {
                Some(t) => {
                    t.2 += c.contacts;
                    t.3 += c.proactive;
                }
                None => totals.push((c.staff_id.clone(), c.name.clone(), c.contacts, c.proactive)),
            }
            if let Some(m) = by_month.iter_mut().find(|m| m.0 == c.month) {
                m.1 += c.contacts;
                m.2 += c.proactive;
            }
        }
        totals.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        Ok(ProactiveShare {
            months: bounds.iter().map(|(m, _)| m.clone()).collect(),
            time_zone: zone.name().to_string(),
            rows,
            totals: totals
                .iter()
                .map(|(id, name, n, k)| share_row("", id, name, *n, *k))
                .collect(),
            by_month: by_month
                .iter()
                .map(|(m, n, k)| share_row(m, "", "", *n, *k))
                .collect(),
        })
    }

    /// Whether the user gets the weekly digest.
    pub async fn weekly_digest(&self, user_id: i64) -> Result<bool> {
        Ok(self.store().weekly_digest(user_id).await?.unwrap_or(false))
    }

    /// Turns a user's weekly digest on or off: the user themself, or an admin;
    /// audited with the value before and after.
    pub async fn set_weekly_digest(&self, acting: &Acting, user_id: i64, on: bool) -> Result<()> {
        if acting.user_id() != Some(user_id) {
            require(acting, Role::Admin)?;
        }
        let entry = acting.audit("users", Some(&user_id.to_string()), "update");
        let _turn = self.writes.write().await;
        if !self.store().set_weekly_digest(user_id, on, &entry).await? {
            return Err(CoreError::NotFound(format!("no user with id {user_id}")));
        }
        Ok(())
    }

    /// The weekly digest (job `queue.digest`): to every user with the digest on who
    /// owns customers (see [`kanta_store::owners`]) and has rows in the contact
    /// queue, one mail with their first [`DIGEST_ROWS`] rows by value at risk, the
    /// reasons in the user's language, the counts and a link to `/today`; once per
    /// user and ISO week of `now` (the outbox's unique key). One write, one audit entry.
    pub async fn run_digest(&self, now: DateTime<Utc>) -> Result<DigestRun> {
        let acting = Acting::job(DIGEST_JOB);
        let settings = self.store_settings().await?;
        let zone = self.time_zone().await?;
        let store_lang = Lang::parse(&settings.language).unwrap_or(Lang::Fi);
        let local = now.with_timezone(&zone);
        let week = local.iso_week();
        let week_key = format!("{}-W{:02}", week.year(), week.week());
        let recipients = self.store().digest_recipients().await?;
        let site = format!("Kanta ({})", self.store().url());
        let mut run = DigestRun {
            recipients: recipients.len() as u64,
            mails: 0,
        };
        // Read before the write takes the lock.
        let mut mails = Vec::new();
        for r in &recipients {
            let (rows, total) = self.store().queue_of_owner(r.staff_id, DIGEST_ROWS).await?;
            if total == 0 {
                continue;
            }
            let lang = r
                .lang
                .as_deref()
                .and_then(Lang::parse)
                .unwrap_or(store_lang);
            let fi = lang == Lang::Fi;
            let mut lines = Vec::new();
            for (i, q) in rows.iter().enumerate() {
                let name = q
                    .customer_name
                    .clone()
                    .unwrap_or_else(|| q.customer_id.clone());
                let currency = q
                    .currency
                    .as_deref()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(settings.currency);
                let value = Money::new(q.value_at_risk_minor, currency).display(fi);
                let tier = q
                    .tier
                    .as_deref()
                    .map(|t| format!(", {t}"))
                    .unwrap_or_default();
                let reasons = crate::queue_words::reason_sentences(&q.reasons, lang).join("; ");
                let risk = if fi {
                    "arvo riskissä"
                } else {
                    "value at risk"
                };
                lines.push(format!(
                    "{}. {name} ({}{tier}), {risk} {value}: {reasons}",
                    i + 1,
                    q.customer_id
                ));
            }
            let shown = rows.len().to_string();
            let total_s = total.to_string();
            let week_text = week_key.clone();
            let list = lines.join("\n");
            let vars = [
                ("site", site.as_str()),
                ("name", r.name.as_str()),
                ("week", week_text.as_str()),
                ("total", total_s.as_str()),
                ("shown", shown.as_str()),
                ("rows", list.as_str()),
                ("path", "/today"),
            ];
            let m = render("queue_digest", lang, &vars).map_err(|e| CoreError::Other(e.into()))?;
            let key = format!("digest:{week_key}:{}", r.email.to_lowercase());
            mails.push((key, m.to(r.email.clone())));
        }
        let recipients = run.recipients;
        let queued = self
            .queue_mail_batch(&acting, mails, |queued| {
                (queued > 0).then(|| {
                    let mut entry = acting.audit("users", None, "digest");
                    entry.details =
                        json!({ "week": week_key, "recipients": recipients, "mails": queued });
                    entry
                })
            })
            .await?;
        run.mails = queued;
        Ok(run)
    }
}

/// When this week's digest runs: Monday 07:00 on the store's wall clock, as UTC
/// (the ISO week's key `YYYY-Www` with it), for `now`.
pub fn digest_time<Z: TimeZone>(zone: &Z, now: DateTime<Utc>) -> (String, DateTime<Utc>) {
    let local = now.with_timezone(zone).date_naive();
    let monday = local - Duration::days(i64::from(local.weekday().num_days_from_monday()));
    let at = monday.and_hms_opt(7, 0, 0).unwrap_or_default();
    let utc = zone
        .from_local_datetime(&at)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&at));
    let week = monday.iso_week();
    (format!("{}-W{:02}", week.year(), week.week()), utc)
}
