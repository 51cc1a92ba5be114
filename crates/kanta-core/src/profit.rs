//! Cost to serve and profitability (issue 14, PRODUCT.md idea 6): per customer over the
//! 12 months up to `as_of`, revenue, goods cost and gross margin, the cost to serve by
//! component (interactions, cases, compensations paid, offers redeemed), the margin
//! after cost to serve and the expected future margin; the unprofitable list with what
//! makes each one unprofitable, in words.
//!
//! [`Core::run_profitability`] is the pass (the daily job [`JOB`], `kanta demo`, the
//! page's and API's refresh): one grouped statement per component
//! ([`kanta_store::profit`]), the arithmetic here, then one transaction that replaces
//! `customer_profit`, records a `profit_runs` row and the audit entry.
//!
//! The rules:
//! - revenue = orders net of refunds (`transactions` in the store's currency) +
//!   subscriptions billed in the window (`kanta_domain::subscription`);
//! - goods cost = the transactions' `cost` where present, else revenue × (1 −
//!   `goods_margin`); subscriptions' revenue × (1 − `goods_margin`);
//! - cost to serve = interactions × their kind's cost + cases opened × their severity's
//!   cost + claims paid in the window + offer redemptions × the offer's cost per
//!   redemption (settings in [`crate::value_settings`]);
//! - expected future margin = the newest scores' 12-month CLV × the customer's own
//!   gross-margin rate (else `goods_margin`) − this year's cost to serve × P(alive) (a
//!   buyer) or × the renewal probability (a subscriber); none without scores;
//! - unprofitable = margin after cost to serve < 0 and expected future margin < 0 (or
//!   none).

use std::collections::HashMap;

use chrono::{DateTime, Days, Months, NaiveDate, TimeZone, Utc};
use kanta_domain::money::{Currency, Money};
use kanta_domain::schema::CUSTOMERS;
use kanta_domain::subscription::{Period, Subscription, revenue_to_date};
use kanta_store::RunInfo;
use kanta_store::accounts::Role;
use kanta_store::profit::{
    CustomerProfit, NewProfitRun, ProfitFilter, ProfitListRow, ProfitRun, ProfitSort, ProfitTotals,
    ProfitWindow, ReasonFacts,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::access::require;
use crate::actor::Acting;
use crate::value_settings::CostSettings;
use crate::{Core, CoreError, Result};

/// The daily profitability pass's job kind.
pub const JOB: &str = "value.profit";

/// Customers in the value page's unprofitable list.
pub const TOP: i64 = 20;

/// Rows per page of the drill-down list.
pub const PER_PAGE: i64 = 50;

/// The cost components of cost to serve, in the order pages show them.
pub const COMPONENTS: &[&str] = &["interactions", "cases", "compensations", "offers"];

/// What a pass did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfitRunSummary {
    pub run_id: i64,
    pub as_of: NaiveDate,
    pub customers: usize,
    pub unprofitable: usize,
    pub millis: i64,
    pub currency: String,
}

/// One reason a customer is unprofitable, as data; [`Reason::words`] says it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// `cases`, `interactions`, `compensations`, `offers`, `margin`, `no_revenue` or
    /// `expected`.
    pub kind: String,
    /// The severity (cases) or kind (interactions) it counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub what: Option<String>,
    pub count: i64,
    /// The cost (a component), the revenue (`margin`) or the expected margin.
    pub amount_minor: i64,
    /// The gross-margin rate in percent (`margin`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
}

fn severity_words(s: &str, one: bool, fi: bool) -> String {
    match (fi, one) {
        (false, _) => s.to_string(),
        (true, true) => match s {
            "low" => "matala",
            "normal" => "normaali",
            "high" => "korkea",
            "critical" => "kriittinen",
            o => o,
        }
        .into(),
        (true, false) => match s {
            "low" => "matalaa",
            "normal" => "normaalia",
            "high" => "korkeaa",
            "critical" => "kriittistä",
            o => o,
        }
        .into(),
    }
}

fn interaction_words(k: &str, one: bool, fi: bool) -> &'static str {
    match (k, one, fi) {
        ("call", true, false) => "call",
        ("call", false, false) => "calls",
        ("meeting", true, false) => "meeting",
        ("meeting", false, false) => "meetings",
        ("email", true, false) => "email",
        ("email", false, false) => "emails",
        ("visit", true, false) => "visit",
        ("visit", false, false) => "visits",
        ("chat", true, false) => "chat",
        ("chat", false, false) => "chats",
        ("note", true, false) => "note",
        ("note", false, false) => "notes",
        (_, true, false) => "other contact",
        (_, false, false) => "other contacts",
        ("call", true, true) => "puhelu",
        ("call", false, true) => "puhelua",
        ("meeting", true, true) => "tapaaminen",
        ("meeting", false, true) => "tapaamista",
        ("email", true, true) => "sähköposti",
        ("email", false, true) => "sähköpostia",
        ("visit", true, true) => "käynti",
        ("visit", false, true) => "käyntiä",
        ("chat", true, true) => "chat-keskustelu",
        ("chat", false, true) => "chat-keskustelua",
        ("note", true, true) => "muistiinpano",
        ("note", false, true) => "muistiinpanoa",
        (_, true, true) => "muu yhteydenotto",
        (_, false, true) => "muuta yhteydenottoa",
    }
}

impl Reason {
    /// The reason as a sentence fragment in Finnish (`fi`) or English, amounts in
    /// `currency`: "4 high-severity cases cost 320,00 €", "margin 12 % on 300,00 €
    /// revenue".
    pub fn words(&self, fi: bool, currency: Currency) -> String {
        let money = |m: i64| Money::new(m, currency).display(fi);
        let n = self.count;
        let one = n == 1;
        let what = self.what.as_deref().unwrap_or("");
        match (self.kind.as_str(), fi) {
            ("cases", false) => format!(
                "{n} {}-severity case{} cost {}",
                severity_words(what, one, false),
                if one { "" } else { "s" },
                money(self.amount_minor)
            ),
            ("cases", true) => format!(
                "{n} vakavuudeltaan {} {} maksoi {}",
                severity_words(what, one, true),
                if one { "tapaus" } else { "tapausta" },
                money(self.amount_minor)
            ),
            ("interactions", fi) => format!(
                "{n} {} {} {}",
                interaction_words(what, one, fi),
                if fi { "maksoi" } else { "cost" },
                money(self.amount_minor)
            ),
            ("compensations", false) => format!(
                "compensations paid {} ({n} claim{})",
                money(self.amount_minor),
                if one { "" } else { "s" }
            ),
            ("compensations", true) => format!(
                "maksetut hyvitykset {} ({n} {})",
                money(self.amount_minor),
                if one { "korvaus" } else { "korvausta" }
            ),
            ("offers", false) => format!(
                "{n} offer redemption{} cost {}",
                if one { "" } else { "s" },
                money(self.amount_minor)
            ),
            ("offers", true) => format!(
                "{n} {} maksoi {}",
                if one {
                    "tarjouksen lunastus"
                } else {
                    "tarjouksen lunastusta"
                },
                money(self.amount_minor)
            ),
            ("margin", false) => format!(
                "margin {} % on {} revenue",
                percent_text(self.percent.unwrap_or(0.0), false),
                money(self.amount_minor)
            ),
            ("margin", true) => format!(
                "kate {} % liikevaihdosta {}",
                percent_text(self.percent.unwrap_or(0.0), true),
                money(self.amount_minor)
            ),
            ("no_revenue", false) => "no revenue in 12 months".into(),
            ("no_revenue", true) => "ei liikevaihtoa 12 kuukaudessa".into(),
            ("expected", false) => {
                format!("expected future margin {}", money(self.amount_minor))
            }
            ("expected", true) => format!("odotettu tuleva kate {}", money(self.amount_minor)),
            (other, _) => other.to_string(),
        }
    }
}

fn percent_text(p: f64, fi: bool) -> String {
    let t = format!("{:.0}", p);
    let t = if t == "-0" { "0".to_string() } else { t };
    if fi { t.replace('-', "−") } else { t }
}

/// A customer of the stored pass with its reasons (those with a negative margin after
/// cost to serve; others have none).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfitCustomer {
    #[serde(flatten)]
    pub row: ProfitListRow,
    pub reasons: Vec<Reason>,
}

/// One cost component summed over every customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Component {
    /// One of [`COMPONENTS`].
    pub key: &'static str,
    pub cost_minor: i64,
    /// Customers with a cost of this component above zero.
    pub customers: i64,
    /// Interactions, cases, claims paid (not stored: none) or redemptions.
    pub count: i64,
}

/// Customers whose margin after cost to serve falls in `lo <= m < hi`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarginBin {
    /// The bin's number, for the drill-down (`bin-K`).
    pub index: usize,
    pub lo_minor: Option<i64>,
    pub hi_minor: Option<i64>,
    pub customers: i64,
}

/// The value page's profitability part, from the stored pass only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueSummary {
    /// The newest pass; `None` before the first.
    pub run: Option<ProfitRun>,
    pub currency: String,
    pub totals: ProfitTotals,
    pub components: Vec<Component>,
    pub bins: Vec<MarginBin>,
    /// The most unprofitable customers (lowest margin after cost to serve first).
    pub unprofitable: Vec<ProfitCustomer>,
}

/// A drill-down page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfitPage {
    pub rows: Vec<ProfitCustomer>,
    /// Customers that match.
    pub total: i64,
    /// From 0.
    pub page: i64,
    pub per_page: i64,
    pub currency: String,
    pub as_of: Option<NaiveDate>,
}

/// Which customers a drill-down lists and in what order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProfitQuery {
    pub filter: ProfitFilter,
    pub sort: ProfitSort,
    /// From 0.
    pub page: i64,
}

/// The margin bins' edges in minor units of `currency`: -1000, -100, -10, 0, 10, 100,
/// 1000 (major units).
pub fn margin_edges(currency: Currency) -> Vec<i64> {
    let unit = 10i64.pow(currency.minor_digits());
    [-1000, -100, -10, 0, 10, 100, 1000]
        .iter()
        .map(|m| m * unit)
        .collect()
}

/// A drill-down's `show` as the page, API and CLI take it: `all`, `unprofitable`,
/// `negative` (margin after cost to serve below zero), a component (`interactions`,
/// `cases`, `compensations`, `offers`, `goods`) or a margin bin `bin-K`.
pub fn parse_filter(show: &str, currency: Currency) -> Result<ProfitFilter> {
    let s = show.trim().to_ascii_lowercase();
    Ok(match s.as_str() {
        "" | "all" => ProfitFilter::All,
        "unprofitable" => ProfitFilter::Unprofitable,
        "negative" => ProfitFilter::MarginBetween(None, Some(0)),
        "interactions" => ProfitFilter::Component("interactions"),
        "cases" => ProfitFilter::Component("cases"),
        "compensations" => ProfitFilter::Component("compensations"),
        "offers" => ProfitFilter::Component("offers"),
        "goods" => ProfitFilter::Component("goods"),
        b if b.starts_with("bin-") => {
            let edges = margin_edges(currency);
            let k: usize = b[4..]
                .parse()
                .ok()
                .filter(|k| *k <= edges.len())
                .ok_or_else(|| bad_show(show))?;
            let lo = k.checked_sub(1).map(|i| edges[i]);
            let hi = edges.get(k).copied();
            ProfitFilter::MarginBetween(lo, hi)
        }
        _ => return Err(bad_show(show)),
    })
}

fn bad_show(show: &str) -> CoreError {
    CoreError::invalid(
        "show",
        format!(
            "'{}' is not a list of customers: all, unprofitable, negative, interactions, cases, compensations, offers, goods or bin-0 .. bin-7",
            kanta_domain::value::excerpt(show.trim())
        ),
    )
}

/// A drill-down's `sort`: `margin` (lowest first, the default), `cost` (cost to serve,
/// highest first) or `revenue` (highest first).
pub fn parse_sort(sort: &str) -> Result<ProfitSort> {
    match sort.trim().to_ascii_lowercase().as_str() {
        "" | "margin" => Ok(ProfitSort::Margin),
        "cost" | "cost_to_serve" => Ok(ProfitSort::CostToServe),
        "revenue" => Ok(ProfitSort::Revenue),
        _ => Err(CoreError::invalid(
            "sort",
            format!(
                "'{}' is not a sort: margin, cost or revenue",
                kanta_domain::value::excerpt(sort.trim())
            ),
        )),
    }
}

/// The pass's window for `as_of` in `zone`: from the start of the day 12 months
/// before `as_of` + 1 day to the end of `as_of` (UTC, half open), and the window's
/// first day.
pub fn window<Z: TimeZone>(
    as_of: NaiveDate,
    zone: &Z,
) -> (DateTime<Utc>, DateTime<Utc>, NaiveDate) {
    let first = as_of
        .checked_sub_months(Months::new(12))
        .and_then(|d| d.checked_add_days(Days::new(1)))
        .unwrap_or(as_of);
    let next = as_of.succ_opt().unwrap_or(as_of);
    (day_start(first, zone), day_start(next, zone), first)
}

fn day_start<Z: TimeZone>(d: NaiveDate, zone: &Z) -> DateTime<Utc> {
    let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    zone.from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&midnight))
}

/// The value figures are for managers, admins and viewers (analysts); staff see their
/// customers' pages (as the retention economics on the same page).
fn require_reader(acting: &Acting) -> Result<()> {
    if acting.role() == Role::Staff {
        return Err(CoreError::Forbidden(
            "the value figures are for managers, admins and viewers (analysts); staff see their customers' pages".into(),
        ));
    }
    require(acting, Role::Viewer)
}

fn round(x: f64) -> i64 {
    if x.is_finite() {
        x.round().clamp(-9.0e15, 9.0e15) as i64
    } else {
        0
    }
}

/// What the pass records of its rules in the run's details.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunDetails {
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    costs: CostSettings,
    subscription_revenue_minor: i64,
    offers: usize,
}

impl Core {
    /// The profitability pass as of `as_of` (default: yesterday in the store's zone):
    /// every customer's figures over the 12 months up to it, stored in one transaction
    /// with a `profit_runs` row and an audit entry (managers, the command line, jobs).
    pub async fn run_profitability(
        &self,
        acting: &Acting,
        as_of: Option<NaiveDate>,
    ) -> Result<ProfitRunSummary> {
        require(acting, Role::Manager)?;
        let started = std::time::Instant::now();
        let settings = self.store_settings().await?;
        let costs = CostSettings::from_settings(&settings);
        let currency = settings.currency;
        let zone = crate::settings::zone_or_default(&settings.time_zone);
        let as_of = match as_of {
            Some(d) => d,
            None => self.today().await?.pred_opt().unwrap_or(NaiveDate::MIN),
        };
        let (from, until, first) = window(as_of, &zone);
        let w = ProfitWindow {
            from,
            until,
            currency: currency.to_string(),
        };
        let store = self.store();
        let (inputs, subs, offers) = tokio::try_join!(
            store.profit_inputs(&w),
            store.scoring_subscriptions(as_of),
            store.costed_offers(),
        )?;

        let mut rows: HashMap<i64, CustomerProfit> = inputs
            .customers
            .iter()
            .map(|&id| {
                (
                    id,
                    CustomerProfit {
                        customer_id: id,
                        ..CustomerProfit::default()
                    },
                )
            })
            .collect();
        let margin = costs.goods_margin;
        for o in &inputs.orders {
            if let Some(p) = rows.get_mut(&o.customer_id) {
                p.revenue_minor += o.revenue_minor;
                p.goods_cost_minor +=
                    o.cost_minor + round(o.uncosted_minor as f64 * (1.0 - margin));
            }
        }
        let before_first = first.pred_opt().unwrap_or(first);
        let mut subscription_revenue = 0i64;
        for s in &subs {
            if s.currency != w.currency {
                continue;
            }
            let Some(period) = Period::parse(&s.period) else {
                continue;
            };
            let sub = Subscription {
                plan: s.plan.clone(),
                amount_minor: s.amount_minor,
                period,
                started_on: s.started_on,
                ended_on: s.ended_on,
                renews_on: s.renews_on,
            };
            let billed = revenue_to_date(&sub, as_of) - revenue_to_date(&sub, before_first);
            if billed == 0 {
                continue;
            }
            if let Some(p) = rows.get_mut(&s.customer_id) {
                subscription_revenue += billed;
                p.revenue_minor += billed;
                p.goods_cost_minor += round(billed as f64 * (1.0 - margin));
            }
        }
        for (c, kind, n) in &inputs.interactions {
            if let Some(p) = rows.get_mut(c) {
                p.interactions += n;
                p.cost_interactions_minor += n * costs.interaction_minor(kind);
            }
        }
        for (c, severity, n) in &inputs.cases {
            if let Some(p) = rows.get_mut(c) {
                p.cases += n;
                p.cost_cases_minor += n * costs.case_minor(severity);
            }
        }
        for (c, _, amount) in &inputs.compensations {
            if let Some(p) = rows.get_mut(c) {
                p.cost_compensations_minor += amount;
            }
        }
        let mut offers_counted = 0;
        for o in &offers {
            if o.currency.as_deref().is_some_and(|c| c != w.currency) {
                continue;
            }
            let lo = day_start(o.valid_from, &zone).max(from);
            let hi = day_start(o.valid_until.succ_opt().unwrap_or(o.valid_until), &zone).min(until);
            offers_counted += 1;
            for (c, n) in store
                .offer_redemptions(o.id, o.code.as_deref(), lo, hi)
                .await?
            {
                if let Some(p) = rows.get_mut(&c) {
                    p.redemptions += n;
                    p.cost_offers_minor += n * o.cost_per_redemption_minor;
                }
            }
        }
        let scores: HashMap<i64, &kanta_store::profit::ScoreFacts> =
            inputs.scores.iter().map(|s| (s.customer_id, s)).collect();
        let mut out: Vec<CustomerProfit> = rows.into_values().collect();
        out.sort_by_key(|p| p.customer_id);
        let mut unprofitable = 0;
        for p in &mut out {
            p.gross_margin_minor = p.revenue_minor - p.goods_cost_minor;
            p.cost_to_serve_minor = p.cost_interactions_minor
                + p.cost_cases_minor
                + p.cost_compensations_minor
                + p.cost_offers_minor;
            p.margin_after_minor = p.gross_margin_minor - p.cost_to_serve_minor;
            p.expected_margin_minor = scores.get(&p.customer_id).and_then(|s| {
                let clv = s.clv_12_minor? as f64;
                let rate = if p.revenue_minor > 0 {
                    (p.gross_margin_minor as f64 / p.revenue_minor as f64).clamp(-1.0, 1.0)
                } else {
                    margin
                };
                let alive = s.renewal_probability.unwrap_or(s.p_alive).clamp(0.0, 1.0);
                Some(round(clv * rate) - round(p.cost_to_serve_minor as f64 * alive))
            });
            p.unprofitable =
                p.margin_after_minor < 0 && p.expected_margin_minor.is_none_or(|e| e < 0);
            unprofitable += usize::from(p.unprofitable);
        }

        let details = RunDetails {
            from,
            until,
            costs,
            subscription_revenue_minor: subscription_revenue,
            offers: offers_counted,
        };
        let millis = started.elapsed().as_millis() as i64;
        let run = NewProfitRun {
            as_of,
            ran_at: Utc::now(),
            millis,
            currency: w.currency.clone(),
            details: serde_json::to_value(&details).map_err(anyhow::Error::from)?,
        };
        let mut tx = self
            .begin_plain_write(acting, Role::Manager, &CUSTOMERS)
            .await?;
        let run_id = tx.writer_mut().save_profit_run(&run, &out).await?;
        let mut entry = acting.audit("profit_runs", Some(&run_id.to_string()), "profit_run");
        entry.details = json!({
            "as_of": as_of.format("%Y-%m-%d").to_string(),
            "customers": out.len(),
            "unprofitable": unprofitable,
            "currency": w.currency,
        });
        tx.finish(&RunInfo::default(), vec![entry]).await?;
        let millis = started.elapsed().as_millis() as i64;
        tracing::info!(
            "profitability: {} customers, {unprofitable} unprofitable, as of {as_of}, {millis} ms",
            out.len()
        );
        Ok(ProfitRunSummary {
            run_id,
            as_of,
            customers: out.len(),
            unprofitable,
            millis,
            currency: w.currency,
        })
    }

    /// The value page's profitability part from the stored pass (viewers, managers and
    /// admins; not staff).
    pub async fn value_summary(&self, acting: &Acting) -> Result<ValueSummary> {
        require_reader(acting)?;
        let store = self.store();
        let run = store.latest_profit_run().await?;
        let currency = self.run_currency(run.as_ref()).await?;
        let edges = margin_edges(currency);
        let (totals, bins, (top, _)) = tokio::try_join!(
            store.profit_totals(),
            store.profit_bins(&edges),
            store.profit_customers(&ProfitFilter::Unprofitable, ProfitSort::Margin, TOP, 0),
        )?;
        let components = vec![
            Component {
                key: "interactions",
                cost_minor: totals.cost_interactions_minor,
                customers: totals.with_interactions,
                count: totals.interactions,
            },
            Component {
                key: "cases",
                cost_minor: totals.cost_cases_minor,
                customers: totals.with_cases,
                count: totals.cases,
            },
            Component {
                key: "compensations",
                cost_minor: totals.cost_compensations_minor,
                customers: totals.with_compensations,
                count: 0,
            },
            Component {
                key: "offers",
                cost_minor: totals.cost_offers_minor,
                customers: totals.with_offers,
                count: totals.redemptions,
            },
        ];
        let bins = bins
            .into_iter()
            .enumerate()
            .map(|(k, n)| MarginBin {
                index: k,
                lo_minor: k.checked_sub(1).map(|i| edges[i]),
                hi_minor: edges.get(k).copied(),
                customers: n,
            })
            .collect();
        let unprofitable = self.with_reasons(run.as_ref(), currency, top).await?;
        Ok(ValueSummary {
            run,
            currency: currency.to_string(),
            totals,
            components,
            bins,
            unprofitable,
        })
    }

    /// A page of the stored pass's customers (the drill-down behind every figure).
    pub async fn profit_customers(&self, acting: &Acting, q: &ProfitQuery) -> Result<ProfitPage> {
        require_reader(acting)?;
        let store = self.store();
        let run = store.latest_profit_run().await?;
        let currency = self.run_currency(run.as_ref()).await?;
        let page = q.page.max(0);
        let (rows, total) = store
            .profit_customers(&q.filter, q.sort, PER_PAGE, page * PER_PAGE)
            .await?;
        let rows = self.with_reasons(run.as_ref(), currency, rows).await?;
        Ok(ProfitPage {
            rows,
            total,
            page,
            per_page: PER_PAGE,
            currency: currency.to_string(),
            as_of: run.map(|r| r.as_of),
        })
    }

    /// One customer's stored figures and reasons (by external id), if the pass has them.
    pub async fn customer_profit(
        &self,
        acting: &Acting,
        external_id: &str,
    ) -> Result<Option<ProfitCustomer>> {
        require_reader(acting)?;
        let store = self.store();
        let run = store.latest_profit_run().await?;
        let currency = self.run_currency(run.as_ref()).await?;
        let Some(row) = store.customer_profit(external_id).await? else {
            return Ok(None);
        };
        Ok(self
            .with_reasons(run.as_ref(), currency, vec![row])
            .await?
            .pop())
    }

    async fn run_currency(&self, run: Option<&ProfitRun>) -> Result<Currency> {
        match run.and_then(|r| r.currency.parse().ok()) {
            Some(c) => Ok(c),
            None => self.currency().await,
        }
    }

    /// `rows` with the reasons of those whose margin after cost to serve is negative.
    async fn with_reasons(
        &self,
        run: Option<&ProfitRun>,
        currency: Currency,
        rows: Vec<ProfitListRow>,
    ) -> Result<Vec<ProfitCustomer>> {
        let details: Option<RunDetails> =
            run.and_then(|r| serde_json::from_value(r.details.clone()).ok());
        let negative: Vec<i64> = rows
            .iter()
            .filter(|r| r.profit.margin_after_minor < 0)
            .map(|r| r.profit.customer_id)
            .collect();
        let facts: HashMap<i64, ReasonFacts> = match &details {
            Some(d) if !negative.is_empty() => self
                .store()
                .reason_facts(
                    &negative,
                    &ProfitWindow {
                        from: d.from,
                        until: d.until,
                        currency: currency.to_string(),
                    },
                )
                .await?
                .into_iter()
                .collect(),
            _ => HashMap::new(),
        };
        let costs = details.map(|d| d.costs).unwrap_or_default();
        Ok(rows
            .into_iter()
            .map(|row| {
                let reasons = if row.profit.margin_after_minor < 0 {
                    reasons(&row.profit, facts.get(&row.profit.customer_id), &costs)
                } else {
                    Vec::new()
                };
                ProfitCustomer { row, reasons }
            })
            .collect())
    }
}

/// What makes a customer unprofitable: the largest cost items (up to three: cases of a
/// severity, interactions of a kind, compensations paid, offers redeemed), then the
/// gross margin on the revenue (or no revenue), then a negative expected margin.
pub fn reasons(
    p: &CustomerProfit,
    facts: Option<&ReasonFacts>,
    costs: &CostSettings,
) -> Vec<Reason> {
    let mut items: Vec<Reason> = Vec::new();
    if let Some(f) = facts {
        for (severity, n) in &f.cases {
            items.push(Reason {
                kind: "cases".into(),
                what: Some(severity.clone()),
                count: *n,
                amount_minor: n * costs.case_minor(severity),
                percent: None,
            });
        }
        for (kind, n) in &f.interactions {
            items.push(Reason {
                kind: "interactions".into(),
                what: Some(kind.clone()),
                count: *n,
                amount_minor: n * costs.interaction_minor(kind),
                percent: None,
            });
        }
    } else {
        if p.cost_cases_minor > 0 {
            items.push(Reason {
                kind: "cases".into(),
                what: None,
                count: p.cases,
                amount_minor: p.cost_cases_minor,
                percent: None,
            });
        }
        if p.cost_interactions_minor > 0 {
            items.push(Reason {
                kind: "interactions".into(),
                what: None,
                count: p.interactions,
                amount_minor: p.cost_interactions_minor,
                percent: None,
            });
        }
    }
    if p.cost_compensations_minor > 0 {
        items.push(Reason {
            kind: "compensations".into(),
            what: None,
            count: facts.map_or(0, |f| f.claims_paid),
            amount_minor: p.cost_compensations_minor,
            percent: None,
        });
    }
    if p.cost_offers_minor > 0 {
        items.push(Reason {
            kind: "offers".into(),
            what: None,
            count: p.redemptions,
            amount_minor: p.cost_offers_minor,
            percent: None,
        });
    }
    items.retain(|r| r.amount_minor > 0);
    items.sort_by_key(|x| std::cmp::Reverse(x.amount_minor));
    items.truncate(3);
    if p.revenue_minor > 0 {
        items.push(Reason {
            kind: "margin".into(),
            what: None,
            count: 0,
            amount_minor: p.revenue_minor,
            percent: Some(100.0 * p.gross_margin_minor as f64 / p.revenue_minor as f64),
        });
    } else {
        items.push(Reason {
            kind: "no_revenue".into(),
            what: None,
            count: 0,
            amount_minor: 0,
            percent: None,
        });
    }
    if let Some(e) = p.expected_margin_minor.filter(|e| *e < 0) {
        items.push(Reason {
            kind: "expected".into(),
            what: None,
            count: 0,
            amount_minor: e,
            percent: None,
        });
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_in_both_languages() {
        let r = Reason {
            kind: "cases".into(),
            what: Some("high".into()),
            count: 4,
            amount_minor: 32000,
            percent: None,
        };
        assert_eq!(
            r.words(false, Currency::EUR),
            "4 high-severity cases cost €320.00"
        );
        assert_eq!(
            r.words(true, Currency::EUR),
            "4 vakavuudeltaan korkeaa tapausta maksoi 320,00\u{a0}€"
        );
        let m = Reason {
            kind: "margin".into(),
            what: None,
            count: 0,
            amount_minor: 30000,
            percent: Some(12.2),
        };
        assert_eq!(
            m.words(false, Currency::EUR),
            "margin 12 % on €300.00 revenue"
        );
        assert_eq!(
            m.words(true, Currency::EUR),
            "kate 12 % liikevaihdosta 300,00\u{a0}€"
        );
    }

    #[test]
    fn the_window_is_twelve_months_of_local_days() {
        let z = kanta_domain::time::parse_zone("Europe/Helsinki").unwrap();
        let (from, until, first) = window(NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(), &z);
        assert_eq!(first, NaiveDate::from_ymd_opt(2025, 7, 1).unwrap());
        assert_eq!(from.to_rfc3339(), "2025-06-30T21:00:00+00:00");
        assert_eq!(until.to_rfc3339(), "2026-06-30T21:00:00+00:00");
    }
}
