//! Offers with a control group (issue 14, seed 003: "give a reason to come back, and
//! measure whether it worked").
//!
//! An offer (entity `offers`, made and edited through the generic write path) names an
//! audience (everyone, a segment, a tier, a list of customers, the contact queue), a
//! channel (email through the outbox, manual: staff tell, none: nobody is told, an
//! A/A check), a validity window, an optional code and cost per redemption, and the
//! share of the audience drawn into the control group.
//!
//! - [`Core::send_offer`] (managers): one transaction. The audience is read with the
//!   survey waves' rule; ended and let-lapse customers are left out, and for email also
//!   those without marketing consent or an email address: out of **both** arms,
//!   counted by reason. The seed is the draft's own when it has one (the demo sets it,
//!   so it knows the groups in advance), else random; it is recorded on the offer. The
//!   draw is [`kanta_domain::draw::draw_control`] (stratified by tier). Members are
//!   written; for email the offer arm's mails (template `offer`, the customer's
//!   language, each with its signed one-click unsubscribe link: RFC 8058
//!   `List-Unsubscribe`, [`Core::unsubscribe_offer_link`] turns marketing consent off)
//!   are queued in the outbox with their jobs; the offer becomes `sent`;
//!   one audit entry. A second send is refused.
//! - [`Core::offer_report`]: the arms' sizes per tier, and the orders, revenue (net of
//!   refunds) and redemptions in the window `valid_from ..= valid_until` (store time)
//!   summed per arm (sums and sums of squares) over the members who bought or were
//!   refunded in it (the rest count as zeros), then
//!   [`kanta_models::uplift::analyse_sums`]: purchase rate, orders and
//!   revenue per customer, absolute (Welch) and relative (delta method) with 95%
//!   intervals, net of the offer's cost, and "not enough data yet" with the sample
//!   size the hoped effect needs.
//! - [`Core::offers_overview`]: every sent offer's headline figures (the value page).
//! - [`Core::save_offer`] (managers): a draft offer made or changed from texts (the
//!   offers page's form): every rule checked and named by field.
//! - [`after_write`]: the write hook: `valid_from <= valid_until`, a text in at least
//!   one language unless the channel is `none`, and `sent` only by sending.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use kanta_domain::schema::OFFERS;
use kanta_domain::time::Tz;
use kanta_domain::value::Value;
use kanta_models::uplift::{self, Uplift, UpliftInputs};
use kanta_store::offers::{NewMember, OfferListRow, offer_mail_key};
use kanta_store::survey_send::SurveyMail;
use serde::Serialize;
use serde_json::json;

pub use kanta_store::survey_send::Audience;

use crate::access::{Role, require};
use crate::actor::Acting;
use crate::mail::{Lang, render};
use crate::survey_send::parse_tier;
use crate::write::{WriteTx, run_info};
use crate::{Core, CoreError, Problem, Result};

/// The reasons a customer of the audience is left out of both arms, in the order the
/// rules apply.
pub const EXCLUDED_REASONS: [&str; 4] = ["ended", "let_lapse", "no_consent", "no_email"];

/// One tier's split between the arms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TierSplit {
    /// `A`-`D`, or `-` for customers without a tier.
    pub tier: String,
    pub offer: i64,
    pub control: i64,
}

/// What sending an offer did (or, for a preview, would do).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfferSent {
    pub offer: String,
    pub channel: String,
    pub audience: String,
    /// The draw's seed, recorded on the offer.
    pub seed: u64,
    /// Customers of the audience.
    pub considered: i64,
    /// Left out of both arms, per reason (zeros left out), in [`EXCLUDED_REASONS`] order.
    pub excluded: Vec<(String, i64)>,
    pub offer_arm: i64,
    pub control_arm: i64,
    pub tiers: Vec<TierSplit>,
    /// Mails queued (email channel).
    pub mails: u64,
    pub sent_at: DateTime<Utc>,
    /// A preview: nothing was kept.
    pub preview: bool,
}

/// An offer as pages, the API and the command line show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfferView {
    pub id: String,
    pub name: String,
    pub text_fi: Option<String>,
    pub text_en: Option<String>,
    pub channel: String,
    pub audience: String,
    pub audience_value: Option<String>,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub cost_per_redemption_minor: Option<i64>,
    pub currency: String,
    pub code: Option<String>,
    pub control_percent: i64,
    pub hoped_points: f64,
    pub seed: Option<i64>,
    pub status: String,
    pub sent_at: Option<DateTime<Utc>>,
}

/// An offer's report: its groups, redemptions and uplift.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfferReport {
    pub offer: OfferView,
    /// Per tier, the arms' sizes.
    pub tiers: Vec<TierSplit>,
    /// Left out of both arms at sending, per reason (from the send's audit entry).
    pub excluded: Vec<(String, i64)>,
    /// Offer-arm members told (mailed or marked told).
    pub told: i64,
    /// Redemptions in the window by the offer arm.
    pub redemptions: i64,
    /// The window in UTC: `[from, to)`.
    pub window_from: DateTime<Utc>,
    pub window_to: DateTime<Utc>,
    pub window_ended: bool,
    /// `None` until the offer is sent.
    pub uplift: Option<Uplift>,
    /// Milliseconds the report took.
    pub millis: u64,
}

/// An offer's headline figures (the value page's offers section).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfferSummary {
    pub id: String,
    pub name: String,
    pub status: String,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub n_offer: u64,
    pub n_control: u64,
    /// Purchase rate difference (share, 0-1) with its interval.
    pub purchase: Option<uplift::Interval>,
    /// Relative lift of the purchase rate.
    pub relative: Option<uplift::Interval>,
    /// Net revenue per customer (minor units) after the offer's cost.
    pub net_revenue: Option<uplift::Interval>,
    pub needed_per_arm: Option<u64>,
    pub not_yet: Option<uplift::NotYet>,
    pub currency: String,
}

fn date_of(v: &Value) -> Option<NaiveDate> {
    match v {
        Value::Date(d) => Some(*d),
        Value::Text(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
        _ => None,
    }
}

fn view_of(r: &kanta_store::records::Record, currency: &str) -> Result<OfferView> {
    let text = |n: &str| r.text(n).map(str::to_string);
    let bad = |f: &str| CoreError::Other(anyhow::anyhow!("offer '{}': no {f}", r.external_id));
    Ok(OfferView {
        id: r.external_id.clone(),
        name: text("name").unwrap_or_default(),
        text_fi: text("text_fi"),
        text_en: text("text_en"),
        channel: text("channel").unwrap_or_else(|| "email".into()),
        audience: text("audience").unwrap_or_else(|| "everyone".into()),
        audience_value: text("audience_value"),
        valid_from: date_of(r.get("valid_from")).ok_or_else(|| bad("valid_from"))?,
        valid_until: date_of(r.get("valid_until")).ok_or_else(|| bad("valid_until"))?,
        cost_per_redemption_minor: r.get("cost_per_redemption").as_int(),
        currency: text("currency").unwrap_or_else(|| currency.to_string()),
        code: text("code").filter(|c| !c.trim().is_empty()),
        control_percent: r.get("control_percent").as_int().unwrap_or(20),
        hoped_points: match r.get("hoped_points") {
            Value::Float(f) => *f,
            Value::Int(i) => *i as f64,
            _ => 5.0,
        },
        seed: r.get("seed").as_int(),
        status: text("status").unwrap_or_else(|| "draft".into()),
        sent_at: match r.get("sent_at") {
            Value::Time(t) => Some(*t),
            _ => None,
        },
    })
}

/// The offer's audience as the survey waves' rule takes it.
fn audience_of(v: &OfferView) -> Result<Audience> {
    let value = v
        .audience_value
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let need = |what: &str| {
        CoreError::invalid(
            "audience_value",
            format!("the audience '{}' needs {what}", v.audience),
        )
    };
    Ok(match v.audience.as_str() {
        "everyone" => Audience::All,
        "queue" => Audience::Queue,
        "segment" => Audience::Segment(value.ok_or_else(|| need("a segment's name"))?.into()),
        "tier" => {
            let t = value.ok_or_else(|| need("a tier (A-D)"))?;
            Audience::Tier(
                parse_tier(t)
                    .ok_or_else(|| {
                        CoreError::invalid(
                            "audience_value",
                            crate::survey_send::unknown_tier_message(t),
                        )
                    })?
                    .into(),
            )
        }
        "list" => {
            let ids: Vec<String> = value
                .ok_or_else(|| need("customers' ids separated by commas"))?
                .split([',', '\n', ';'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            Audience::Customers(ids)
        }
        other => {
            return Err(CoreError::invalid(
                "audience",
                format!("'{other}' is not an audience"),
            ));
        }
    })
}

/// The window `[from, to)` in UTC of the days `valid_from ..= valid_until` in `zone`.
pub fn window(zone: &Tz, from: NaiveDate, until: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|t| zone.from_local_datetime(&t).earliest())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight")))
    };
    (start(from), start(until + Duration::days(1)))
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Utc::now().timestamp_nanos_opt().unwrap_or_default() as u128);
    h.finish() & (i64::MAX as u64)
}

/// Members per tier and arm from (tier, control group, members) groups.
fn splits(rows: impl Iterator<Item = (String, bool, i64)>) -> Vec<TierSplit> {
    let mut map: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
    for (tier, control, n) in rows {
        let e = map.entry(tier).or_default();
        if control {
            e.1 += n;
        } else {
            e.0 += n;
        }
    }
    map.into_iter()
        .map(|(tier, (offer, control))| TierSplit {
            tier,
            offer,
            control,
        })
        .collect()
}

impl Core {
    /// One offer by external id (any signed-in role).
    pub async fn offer(&self, acting: &Acting, id: &str) -> Result<OfferView> {
        require(acting, Role::Viewer)?;
        Ok(self.offer_record(id).await?.1)
    }

    /// The offer's internal id and view.
    async fn offer_record(&self, id: &str) -> Result<(i64, OfferView)> {
        let currency = self.currency().await?;
        let r = self
            .store()
            .get(&OFFERS, id)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no offer with id '{id}'")))?;
        Ok((r.id, view_of(&r, currency.code())?))
    }

    /// The external ids of an offer's members in one arm (`offer` or `control`),
    /// sorted: the customers behind a figure (any signed-in role).
    pub async fn offer_arm_customers(
        &self,
        acting: &Acting,
        id: &str,
        arm: &str,
    ) -> Result<(OfferView, Vec<String>)> {
        require(acting, Role::Viewer)?;
        if !matches!(arm, "offer" | "control") {
            return Err(CoreError::invalid(
                "arm",
                format!("'{arm}' is not offer or control"),
            ));
        }
        let (offer_id, v) = self.offer_record(id).await?;
        let ids = self.store().offer_member_ids(offer_id, arm).await?;
        Ok((v, ids))
    }

    /// Every offer, newest first, with its arms' sizes (any signed-in role).
    pub async fn offers_list(&self, acting: &Acting) -> Result<Vec<OfferListRow>> {
        require(acting, Role::Viewer)?;
        Ok(self.store().offer_list().await?)
    }

    /// Sends the draft offer `id` (external id): see the module documentation.
    /// `at` is the moment recorded as sent (default now; the demo sends its offer at
    /// its past date). Managers only.
    pub async fn send_offer(
        &self,
        acting: &Acting,
        id: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<OfferSent> {
        self.send_or_preview(acting, id, at, false).await
    }

    /// What [`Core::send_offer`] would do now (the groups' sizes for the
    /// confirmation), keeping nothing. Managers only.
    pub async fn preview_offer(&self, acting: &Acting, id: &str) -> Result<OfferSent> {
        self.send_or_preview(acting, id, None, true).await
    }

    async fn send_or_preview(
        &self,
        acting: &Acting,
        id: &str,
        at: Option<DateTime<Utc>>,
        preview: bool,
    ) -> Result<OfferSent> {
        require(acting, Role::Manager)?;
        let settings = self.store_settings().await?;
        let (offer_id, v) = self.offer_record(id).await?;
        if v.status != "draft" {
            return Err(CoreError::Conflict {
                field: Some("status".into()),
                message: format!(
                    "offer '{id}' was sent already{}: an offer is sent once",
                    v.sent_at
                        .map(|t| format!(" ({})", t.format("%Y-%m-%d %H:%M UTC")))
                        .unwrap_or_default()
                ),
            });
        }
        let now = Utc::now();
        let sent_at = at.unwrap_or(now);
        if sent_at > now + Duration::hours(24) {
            return Err(CoreError::invalid(
                "at",
                "an offer cannot be sent in the future",
            ));
        }
        let audience = audience_of(&v)?;
        let seed = v.seed.map(|s| s as u64).unwrap_or_else(random_seed);
        let email = v.channel == "email";
        let zone = self.time_zone().await?;
        // The key that signs the mails' unsubscribe links, read before the write's
        // transaction (its first use stores it).
        let key = if email && !preview {
            Some(self.survey_key().await?)
        } else {
            None
        };
        let mut tx = self.begin_write(acting, &OFFERS, Vec::new()).await?;
        let candidates = tx.writer_mut().offer_candidates(&audience, email).await?;
        let considered = candidates.len() as i64;
        let mut excluded: Vec<(String, i64)> = Vec::new();
        for r in EXCLUDED_REASONS {
            let n = candidates
                .iter()
                .filter(|c| c.reason.as_deref() == Some(r))
                .count() as i64;
            if n > 0 {
                excluded.push((r.to_string(), n));
            }
        }
        let drawn: Vec<&kanta_store::offers::Candidate> =
            candidates.iter().filter(|c| c.reason.is_none()).collect();
        if drawn.is_empty() {
            let why = if considered == 0 {
                crate::survey_send::no_customers_message(&audience)
            } else {
                format!(
                    "all {considered} customers of the audience are left out ({})",
                    excluded
                        .iter()
                        .map(|(r, n)| format!("{r}: {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(CoreError::invalid("audience", why));
        }
        let pairs: Vec<(&str, &str)> = drawn
            .iter()
            .map(|c| (c.external_id.as_str(), c.tier.as_str()))
            .collect();
        let control =
            kanta_domain::draw::draw_control(&pairs, v.control_percent.clamp(0, 100) as u32, seed);
        let tiers = splits(
            drawn
                .iter()
                .zip(&control)
                .map(|(c, k)| (c.tier.clone(), *k, 1)),
        );
        let control_arm = control.iter().filter(|k| **k).count() as i64;
        let offer_arm = drawn.len() as i64 - control_arm;
        let mut result = OfferSent {
            offer: id.to_string(),
            channel: v.channel.clone(),
            audience: audience.label(),
            seed,
            considered,
            excluded,
            offer_arm,
            control_arm,
            tiers,
            mails: 0,
            sent_at,
            preview,
        };
        if preview {
            // Dropped unfinished: nothing is kept.
            return Ok(result);
        }
        let members: Vec<NewMember> = drawn
            .iter()
            .zip(&control)
            .map(|(c, k)| NewMember {
                customer_id: c.customer_id,
                arm: if *k { "control" } else { "offer" },
                tier: c.tier.clone(),
            })
            .collect();
        tx.writer_mut()
            .insert_offer_members(offer_id, &members)
            .await?;
        if !tx
            .writer_mut()
            .mark_offer_sent(offer_id, seed as i64, sent_at)
            .await?
        {
            return Err(CoreError::Conflict {
                field: Some("status".into()),
                message: format!("offer '{id}' was sent already: an offer is sent once"),
            });
        }
        match v.channel.as_str() {
            "email" => {
                let mut mails = Vec::new();
                for (c, k) in drawn.iter().zip(&control) {
                    if *k {
                        continue;
                    }
                    let lang = c
                        .locale
                        .as_deref()
                        .and_then(Lang::parse)
                        .or_else(|| Lang::parse(&settings.language))
                        .unwrap_or(Lang::Fi);
                    let unsubscribe = self.offer_unsubscribe_url(
                        key.as_deref().unwrap_or_default(),
                        offer_id,
                        &c.external_id,
                    );
                    mails.push(offer_mail(&v, c, lang, &zone, offer_id, unsubscribe)?);
                }
                result.mails = tx
                    .writer_mut()
                    .queue_survey_mails(&mails, now.timestamp_millis())
                    .await?;
                tx.writer_mut()
                    .link_offer_mails(offer_id, now.timestamp_millis(), false)
                    .await?;
            }
            "manual" => {
                tx.writer_mut()
                    .link_offer_mails(offer_id, sent_at.timestamp_millis(), true)
                    .await?;
            }
            _ => {}
        }
        let mut entry = acting.audit("offers", Some(id), "offer_sent");
        entry.changes = json!({
            "status": { "before": "draft", "after": "sent" },
            "seed": { "before": v.seed, "after": seed },
        });
        entry.details = json!({
            "seed": seed,
            "audience": result.audience,
            "channel": v.channel,
            "considered": considered,
            "excluded": result.excluded.iter().map(|(k, n)| (k.clone(), json!(n)))
                .collect::<serde_json::Map<_, _>>(),
            "offer_arm": offer_arm,
            "control_arm": control_arm,
            "tiers": result.tiers,
            "mails": result.mails,
            "sent_at": sent_at.to_rfc3339(),
        });
        tx.finish(&run_info("offer", members.len() as u64), vec![entry])
            .await?;
        Ok(result)
    }

    /// An offer's report: groups per tier, redemptions and the uplift (any signed-in
    /// role). See the module documentation.
    pub async fn offer_report(&self, acting: &Acting, id: &str) -> Result<OfferReport> {
        require(acting, Role::Viewer)?;
        let started = std::time::Instant::now();
        let (offer_id, v) = self.offer_record(id).await?;
        let zone = self.time_zone().await?;
        let (from, to) = window(&zone, v.valid_from, v.valid_until);
        let now = Utc::now();
        let mut report = OfferReport {
            tiers: Vec::new(),
            excluded: Vec::new(),
            told: 0,
            redemptions: 0,
            window_from: from,
            window_to: to,
            window_ended: now >= to,
            uplift: None,
            millis: 0,
            offer: v,
        };
        if report.offer.status == "draft" {
            return Ok(report);
        }
        let (rows, excluded) = tokio::join!(
            self.store()
                .offer_outcomes(offer_id, from, to, report.offer.code.as_deref()),
            self.sent_exclusions(id)
        );
        let rows = rows?;
        report.excluded = excluded?;
        report.tiers = splits(
            rows.groups
                .iter()
                .map(|g| (g.tier.clone(), g.control, g.members)),
        );
        report.told = rows
            .groups
            .iter()
            .filter(|g| !g.control)
            .map(|g| g.told)
            .sum();
        report.redemptions = rows
            .arms
            .iter()
            .filter(|a| !a.control)
            .map(|a| a.redemptions)
            .sum();
        let arm = |control: bool| -> uplift::ArmSums {
            let members = rows
                .groups
                .iter()
                .filter(|g| g.control == control)
                .map(|g| g.members.max(0) as u64)
                .sum();
            let mut sums = uplift::ArmSums {
                members,
                ..Default::default()
            };
            for a in rows.arms.iter().filter(|a| a.control == control) {
                sums.buyers += a.buyers.max(0) as u64;
                sums.orders += a.orders as f64;
                sums.orders_squared += a.orders_squared as f64;
                sums.revenue += a.revenue_minor as f64;
                sums.revenue_squared += a.revenue_squared;
            }
            sums
        };
        report.uplift = Some(uplift::analyse_sums(
            &arm(false),
            &arm(true),
            &UpliftInputs {
                redemptions: report.redemptions.max(0) as u64,
                cost_per_redemption_minor: report.offer.cost_per_redemption_minor.unwrap_or(0),
                hoped_points: report.offer.hoped_points,
                window_ended: report.window_ended,
            },
        ));
        report.millis = started.elapsed().as_millis() as u64;
        Ok(report)
    }

    /// The exclusions the send recorded in its audit entry.
    async fn sent_exclusions(&self, id: &str) -> Result<Vec<(String, i64)>> {
        let (entries, _) = self
            .store()
            .audit_page(&kanta_store::audit::AuditQuery {
                entity: Some("offers".into()),
                record_id: Some(id.to_string()),
                ..Default::default()
            })
            .await?;
        let Some(e) = entries.iter().find(|e| e.entry.action == "offer_sent") else {
            return Ok(Vec::new());
        };
        let ex = &e.entry.details["excluded"];
        Ok(EXCLUDED_REASONS
            .iter()
            .filter_map(|r| ex[*r].as_i64().map(|n| (r.to_string(), n)))
            .collect())
    }

    /// Every sent offer's headline figures, newest first (the value page's offers
    /// section; any signed-in role).
    pub async fn offers_overview(&self, acting: &Acting) -> Result<Vec<OfferSummary>> {
        require(acting, Role::Viewer)?;
        let mut out = Vec::new();
        for o in self.store().offer_list().await? {
            if o.status == "draft" {
                continue;
            }
            let r = self.offer_report(acting, &o.external_id).await?;
            let u = r.uplift.as_ref();
            out.push(OfferSummary {
                id: o.external_id,
                name: o.name,
                status: o.status,
                valid_from: r.offer.valid_from,
                valid_until: r.offer.valid_until,
                n_offer: u.map_or(0, |u| u.n_offer),
                n_control: u.map_or(0, |u| u.n_control),
                purchase: u.and_then(|u| u.purchase.absolute.map(|w| w.diff)),
                relative: u.and_then(|u| u.purchase.relative),
                net_revenue: u.and_then(|u| u.net_revenue),
                needed_per_arm: u.and_then(|u| u.needed_per_arm),
                not_yet: u.and_then(|u| u.not_yet),
                currency: r.offer.currency.clone(),
            });
        }
        Ok(out)
    }
}

fn offer_mail(
    v: &OfferView,
    c: &kanta_store::offers::Candidate,
    lang: Lang,
    zone: &Tz,
    offer_id: i64,
    unsubscribe: String,
) -> Result<SurveyMail> {
    let text = match lang {
        Lang::Fi => v.text_fi.as_deref().or(v.text_en.as_deref()),
        Lang::En => v.text_en.as_deref().or(v.text_fi.as_deref()),
    }
    .unwrap_or_default();
    let name = match c.name.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => match lang {
            Lang::Fi => "hyvä asiakas".into(),
            Lang::En => "there".into(),
        },
    };
    let code = match (&v.code, lang) {
        (Some(code), Lang::Fi) => format!("Koodi: {code}"),
        (Some(code), Lang::En) => format!("Code: {code}"),
        (None, _) => String::new(),
    };
    let until = match lang {
        Lang::Fi => v.valid_until.format("%-d.%-m.%Y").to_string(),
        Lang::En => v.valid_until.format("%-d %B %Y").to_string(),
    };
    let _ = zone;
    let r = render(
        "offer",
        lang,
        &[
            ("name", &name),
            ("offer", &v.name),
            ("text", text),
            ("code", &code),
            ("valid_until", &until),
            ("unsubscribe", &unsubscribe),
        ],
    )
    .map_err(|e| CoreError::Other(anyhow::anyhow!(e)))?;
    Ok(SurveyMail {
        key: offer_mail_key(offer_id, c.customer_id),
        to: c.email.clone().unwrap_or_default(),
        subject: r.subject,
        text: r.text,
        html: r.html,
        unsubscribe: Some(unsubscribe),
    })
}

/// The offers' write hook (every write of `offers`: pages, API, imports): the window's
/// days in order, a text in at least one language unless the channel is `none`, and
/// `sent` or `closed` only for an offer whose groups were drawn by sending it.
pub(crate) async fn after_write(tx: &mut WriteTx, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let rows = tx.writer_mut().offers_to_check(ids).await?;
    let mut problems = Vec::new();
    for r in rows {
        let index = ids.iter().position(|i| *i == r.external_id);
        let mut problem = |field: &str, reason: String| {
            problems.push(Problem {
                index,
                field: field.into(),
                reason: format!("offer '{}': {reason}", r.external_id),
            })
        };
        if r.valid_from > r.valid_until {
            problem(
                "valid_until",
                format!(
                    "the last day {} is before the first day {}",
                    r.valid_until, r.valid_from
                ),
            );
        }
        let has = |t: &Option<String>| t.as_deref().is_some_and(|t| !t.trim().is_empty());
        if r.channel != "none" && !has(&r.text_fi) && !has(&r.text_en) {
            problem(
                "text_fi",
                format!(
                    "the channel '{}' tells customers: write the offer's text in Finnish or English",
                    r.channel
                ),
            );
        }
        if r.status != "draft" && r.members == 0 {
            problem(
                "status",
                format!(
                    "'{}' is set by sending the offer (its groups are drawn then), not by a write",
                    r.status
                ),
            );
        }
        if r.status == "draft" && r.members > 0 {
            problem("status", "a sent offer cannot go back to draft".to_string());
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CoreError::Invalid(problems))
    }
}

// ---------------------------------------------------------------- the offer form

/// An offer as a form (or any caller with texts) gives it: every field as typed.
/// Money in major units (`12,50`), dates ISO or Finnish (`31.12.2026`), through the
/// schema's [`kanta_domain::value::parse_field`] as the API reads texts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct OfferInput {
    pub name: String,
    pub text_fi: String,
    pub text_en: String,
    /// `email`, `manual` or `none`.
    pub channel: String,
    /// `everyone`, `segment`, `tier`, `list` or `queue`.
    pub audience: String,
    /// The segment's name, the tier (A-D) or customers' ids separated by commas.
    pub audience_value: String,
    pub valid_from: String,
    pub valid_until: String,
    pub cost_per_redemption: String,
    pub code: String,
    /// Percent, 0-90; blank is 20.
    pub control_percent: String,
    /// Percentage points; blank is 5.
    pub hoped_points: String,
    /// Blank: one is drawn and recorded.
    pub seed: String,
}

impl OfferInput {
    /// The form of an offer as it is (to edit it).
    pub fn of_view(v: &OfferView) -> OfferInput {
        let currency: kanta_domain::Currency =
            v.currency.parse().unwrap_or(kanta_domain::Currency::EUR);
        OfferInput {
            name: v.name.clone(),
            text_fi: v.text_fi.clone().unwrap_or_default(),
            text_en: v.text_en.clone().unwrap_or_default(),
            channel: v.channel.clone(),
            audience: v.audience.clone(),
            audience_value: v.audience_value.clone().unwrap_or_default(),
            valid_from: v.valid_from.format("%Y-%m-%d").to_string(),
            valid_until: v.valid_until.format("%Y-%m-%d").to_string(),
            cost_per_redemption: v
                .cost_per_redemption_minor
                .map(|m| major_text(m, currency.minor_digits()))
                .unwrap_or_default(),
            code: v.code.clone().unwrap_or_default(),
            control_percent: v.control_percent.to_string(),
            hoped_points: format!("{}", v.hoped_points),
            seed: v.seed.map(|s| s.to_string()).unwrap_or_default(),
        }
    }
}

/// Minor units as a Finnish major-unit text: `1250` → `12,50`.
fn major_text(minor: i64, digits: u32) -> String {
    if digits == 0 {
        return minor.to_string();
    }
    let div = 10i64.pow(digits);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs() as i64;
    format!(
        "{sign}{},{:0width$}",
        abs / div,
        abs % div,
        width = digits as usize
    )
}

/// A readable id for a new offer from its name: `kevaan-kahvi`.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().to_lowercase().chars() {
        let c = match c {
            'ä' | 'å' | 'á' | 'à' => 'a',
            'ö' | 'ó' | 'ò' => 'o',
            'é' | 'è' => 'e',
            'ü' => 'u',
            c => c,
        };
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 40 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() { "offer".into() } else { out }
}

impl Core {
    /// Makes a new draft offer (`id` `None`: its id is made from its name) or changes
    /// the draft offer `id`, from texts (the offers page's form): every rule checked
    /// and every problem named by field (`CoreError::Invalid`): a name; days in order;
    /// a control share 0-90; the audience's value for a segment, tier (A-D) or list
    /// (whose ids must be customers: the unknown ones are named); a text unless the
    /// channel is `none`. A blank seed is drawn now and recorded, so the draw can be
    /// repeated. A sent offer cannot be changed (`Conflict`). Written through the one
    /// write path (audit entry with each change; the offers' write hook runs).
    /// Managers.
    pub async fn save_offer(
        &self,
        acting: &Acting,
        id: Option<&str>,
        input: &OfferInput,
    ) -> Result<OfferView> {
        use kanta_domain::schema::CUSTOMERS;
        use kanta_domain::value::{ParseContext, parse_field};
        require(acting, Role::Manager)?;
        let existing = match id {
            Some(id) => {
                let (_, v) = self.offer_record(id).await?;
                if v.status != "draft" {
                    return Err(CoreError::Conflict {
                        field: Some("status".into()),
                        message: format!(
                            "offer '{id}' was sent already: a sent offer cannot be edited"
                        ),
                    });
                }
                Some(v)
            }
            None => None,
        };
        let currency = match &existing {
            Some(v) => v.currency.parse().unwrap_or(self.currency().await?),
            None => self.currency().await?,
        };
        let cx = ParseContext {
            currency,
            date_format: None,
            zone: self.time_zone().await?,
        };
        let mut problems: Vec<Problem> = Vec::new();
        let mut values: Vec<(&'static str, Value)> = Vec::new();
        let field = |n: &str| OFFERS.field(n).expect("offers field");
        let parse = |name: &'static str,
                     text: &str,
                     values: &mut Vec<(&'static str, Value)>,
                     problems: &mut Vec<Problem>| {
            match parse_field(field(name).kind, text, &cx) {
                Ok(v) => {
                    values.push((name, v.clone()));
                    v
                }
                Err(e) => {
                    problems.push(Problem::new(name, e.to_string()));
                    Value::Null
                }
            }
        };
        let name = parse("name", &input.name, &mut values, &mut problems);
        if name.is_null() && !problems.iter().any(|p| p.field == "name") {
            problems.push(Problem::new("name", "is required: give the offer a name"));
        }
        let text_fi = parse("text_fi", &input.text_fi, &mut values, &mut problems);
        let text_en = parse("text_en", &input.text_en, &mut values, &mut problems);
        let channel = if input.channel.trim().is_empty() {
            "email"
        } else {
            input.channel.trim()
        };
        parse("channel", channel, &mut values, &mut problems);
        if channel != "none"
            && text_fi.is_null()
            && text_en.is_null()
            && !problems.iter().any(|p| p.field == "text_fi")
        {
            problems.push(Problem::new(
                "text_fi",
                format!(
                    "the channel '{channel}' tells customers: write the offer's text in Finnish or English"
                ),
            ));
        }
        let audience = if input.audience.trim().is_empty() {
            "everyone"
        } else {
            input.audience.trim()
        };
        let audience_ok = parse("audience", audience, &mut values, &mut problems);
        let value = input.audience_value.trim();
        if !audience_ok.is_null() {
            let need = |what: &str| {
                Problem::new(
                    "audience_value",
                    format!("the audience '{audience}' needs {what}"),
                )
            };
            match audience {
                "segment" if value.is_empty() => problems.push(need("a segment's name")),
                "tier" if value.is_empty() => problems.push(need("a tier (A-D)")),
                "tier" => match parse_tier(value) {
                    Some(t) => {
                        values.push(("audience_value", Value::Text(t.into())));
                    }
                    None => problems.push(Problem::new(
                        "audience_value",
                        crate::survey_send::unknown_tier_message(value),
                    )),
                },
                "list" => {
                    let ids: Vec<String> = value
                        .split([',', '\n', ';'])
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect();
                    if ids.is_empty() {
                        problems.push(need("customers' ids separated by commas"));
                    } else {
                        let known = self.store().existing_ids(&CUSTOMERS, &ids).await?;
                        let unknown: Vec<&str> = ids
                            .iter()
                            .filter(|i| !known.contains_key(*i))
                            .map(String::as_str)
                            .collect();
                        if unknown.is_empty() {
                            values.push(("audience_value", Value::Text(ids.join(", "))));
                        } else {
                            let shown: Vec<String> = unknown
                                .iter()
                                .take(20)
                                .map(|i| kanta_domain::value::excerpt(i))
                                .collect();
                            problems.push(Problem::new(
                                "audience_value",
                                format!(
                                    "no customer with the id{} {}{}",
                                    if unknown.len() == 1 { "" } else { "s" },
                                    shown.join(", "),
                                    if unknown.len() > 20 {
                                        format!(" (and {} more)", unknown.len() - 20)
                                    } else {
                                        String::new()
                                    }
                                ),
                            ));
                        }
                    }
                }
                "everyone" | "queue" => values.push(("audience_value", Value::Null)),
                _ => {
                    parse("audience_value", value, &mut values, &mut problems);
                }
            }
        }
        let from = parse("valid_from", &input.valid_from, &mut values, &mut problems);
        let until = parse(
            "valid_until",
            &input.valid_until,
            &mut values,
            &mut problems,
        );
        for (n, v) in [("valid_from", &from), ("valid_until", &until)] {
            if v.is_null() && !problems.iter().any(|p| p.field == n) {
                problems.push(Problem::new(n, "is required: a day such as 31.12.2026"));
            }
        }
        if let (Some(f), Some(u)) = (date_of(&from), date_of(&until))
            && u < f
        {
            problems.push(Problem::new(
                "valid_until",
                format!("the last day {u} is before the first day {f}"),
            ));
        }
        parse(
            "cost_per_redemption",
            &input.cost_per_redemption,
            &mut values,
            &mut problems,
        );
        values.push(("currency", Value::Text(currency.code().to_string())));
        parse("code", &input.code, &mut values, &mut problems);
        let control = if input.control_percent.trim().is_empty() {
            "20"
        } else {
            input.control_percent.trim()
        };
        parse("control_percent", control, &mut values, &mut problems);
        let hoped = if input.hoped_points.trim().is_empty() {
            "5"
        } else {
            input.hoped_points.trim()
        };
        if let Value::Float(x) = parse("hoped_points", hoped, &mut values, &mut problems)
            && !(x > 0.0 && x <= 100.0)
        {
            problems.push(Problem::new(
                "hoped_points",
                "must be more than 0 and at most 100 percentage points",
            ));
        }
        if input.seed.trim().is_empty() {
            values.push(("seed", Value::Int(random_seed() as i64)));
        } else {
            parse("seed", &input.seed, &mut values, &mut problems);
        }
        if !problems.is_empty() {
            return Err(CoreError::Invalid(problems));
        }
        // The last value given for a field counts (the audience's normalised value).
        let value_of = |n: &str| values.iter().rev().find(|(f, _)| *f == n).map(|(_, v)| v);
        let record = match (id, &existing) {
            (Some(id), Some(_)) => {
                let mut fields = Vec::new();
                let mut vals = Vec::new();
                for f in OFFERS.fields {
                    if let Some(v) = value_of(f.name) {
                        fields.push(f);
                        vals.push(v.clone());
                    }
                }
                self.update_record(acting, &OFFERS, id, fields, vals)
                    .await?
            }
            _ => {
                let defaults = ParseContext {
                    currency,
                    date_format: None,
                    zone: Tz::UTC,
                };
                let row: Vec<Value> = OFFERS
                    .fields
                    .iter()
                    .map(|f| match value_of(f.name) {
                        Some(v) if !v.is_null() => v.clone(),
                        _ => f
                            .default
                            .and_then(|d| parse_field(f.kind, d, &defaults).ok())
                            .unwrap_or(Value::Null),
                    })
                    .collect();
                let base = slug(input.name.as_str());
                let mut new_id = base.clone();
                let mut n = 2;
                while self.store().get(&OFFERS, &new_id).await?.is_some() {
                    new_id = format!("{base}-{n}");
                    n += 1;
                }
                self.create_record(acting, &OFFERS, &new_id, row).await?
            }
        };
        view_of(&record, currency.code())
    }
}

// ---------------------------------------------------------------- unsubscribing

/// The version tag of an offer mail's unsubscribe token.
const OFFER_LINK_VERSION: &str = "o1";
/// What the token's MAC covers besides its payload: a survey link's signature never
/// holds for an offer link, and the other way round.
const OFFER_LINK_DOMAIN: &[u8] = b"kanta offer unsubscribe\n";

fn offer_link_mac(key: &[u8], payload: &str) -> hmac::Hmac<sha2::Sha256> {
    use hmac::Mac;
    let mut m = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(key)
        .expect("HMAC takes a key of any length");
    m.update(OFFER_LINK_DOMAIN);
    m.update(payload.as_bytes());
    m
}

/// The signed token of an offer mail's one-click unsubscribe: the offer (internal id)
/// and the customer (external id), HMAC-SHA256 under `key` ([`Core::survey_key`]).
pub fn sign_offer_link(key: &[u8], offer_id: i64, customer: &str) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::Mac;
    let payload =
        URL_SAFE_NO_PAD.encode(format!("{OFFER_LINK_VERSION}:{offer_id}:{customer}").as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(offer_link_mac(key, &payload).finalize().into_bytes());
    format!("{payload}.{sig}")
}

/// The offer and customer of a token [`sign_offer_link`] made under `key`; `None`
/// when it is altered, made elsewhere or no token at all.
pub fn verify_offer_link(key: &[u8], token: &str) -> Option<(i64, String)> {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::Mac;
    let token = token.trim();
    if token.len() > 1024 {
        return None;
    }
    let (payload, sig) = token.split_once('.')?;
    let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
    offer_link_mac(key, payload).verify_slice(&sig).ok()?;
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let mut parts = text.splitn(3, ':');
    if parts.next()? != OFFER_LINK_VERSION {
        return None;
    }
    let offer = parts.next()?.parse().ok()?;
    let customer = parts.next()?.to_string();
    (!customer.is_empty()).then_some((offer, customer))
}

/// What an offer mail's unsubscribe page knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum OfferUnsubscribe {
    /// The link holds: the customer's language (`fi`, `en`) if known, and whether
    /// their marketing consent is off already.
    Valid { locale: Option<String>, done: bool },
    /// Altered, made elsewhere, or its customer is gone.
    Invalid,
}

impl Core {
    /// The one-click unsubscribe URL of an offer mail:
    /// `{public_url}/o/{token}/unsubscribe` (also its `List-Unsubscribe`).
    pub fn offer_unsubscribe_url(&self, key: &[u8], offer_id: i64, customer: &str) -> String {
        format!(
            "{}/o/{}/unsubscribe",
            self.links().public_url,
            sign_offer_link(key, offer_id, customer)
        )
    }

    /// What the unsubscribe page of an offer mail's link shows (changes nothing).
    pub async fn open_offer_unsubscribe(&self, token: &str) -> Result<OfferUnsubscribe> {
        use kanta_domain::schema::CUSTOMERS;
        let key = self.survey_key().await?;
        let Some((_, customer)) = verify_offer_link(&key, token) else {
            return Ok(OfferUnsubscribe::Invalid);
        };
        let Some(c) = self.store().get(&CUSTOMERS, &customer).await? else {
            return Ok(OfferUnsubscribe::Invalid);
        };
        Ok(OfferUnsubscribe::Valid {
            locale: c.text("locale").map(str::to_string),
            done: c.get("marketing_consent") == &Value::Bool(false),
        })
    }

    /// One-click unsubscribe from offers (RFC 8058) through an offer mail's link: the
    /// customer's `marketing_consent` set to false and `marketing_consent_at` to now
    /// (survey consent untouched), through the write path as
    /// `Acting::public("offer link")`, audited. Again is a no-op.
    pub async fn unsubscribe_offer_link(
        &self,
        token: &str,
        channel: crate::Channel,
        ip: Option<String>,
    ) -> Result<OfferUnsubscribe> {
        use kanta_domain::schema::CUSTOMERS;
        let key = self.survey_key().await?;
        let Some((_, customer)) = verify_offer_link(&key, token) else {
            return Ok(OfferUnsubscribe::Invalid);
        };
        let Some(c) = self.store().get(&CUSTOMERS, &customer).await? else {
            return Ok(OfferUnsubscribe::Invalid);
        };
        if c.get("marketing_consent") != &Value::Bool(false) {
            let acting = Acting::public("offer link", channel).from_ip(ip);
            let f = |n: &str| CUSTOMERS.field(n).expect("schema");
            self.update_record(
                &acting,
                &CUSTOMERS,
                &customer,
                vec![f("marketing_consent"), f("marketing_consent_at")],
                vec![Value::Bool(false), Value::Time(Utc::now())],
            )
            .await?;
        }
        Ok(OfferUnsubscribe::Valid {
            locale: c.text("locale").map(str::to_string),
            done: true,
        })
    }
}
