//! `/owners`: who owns the customers, and how they keep in touch.
//!
//! - Each owner (and each staff member who may own customers) with their customers,
//!   the value they own (12-month CLV of the newest model run, else revenue), their
//!   rows in the contact queue and their share of proactive, non-sales contacts over
//!   the last 12 months; the customers without an owner one click away
//!   (`/customers?owner=none`); the `owner_rule` in force with a link to the settings.
//! - The proactive share per owner and month (store time zone) with its Wilson 95%
//!   interval (seed 000: contact beyond renewals), from `Core::proactive_share`.
//! - Bulk assignment (`POST /owners/assign`, managers; everyone else reads): by
//!   segment, tier or a pasted list of customer ids (one per line or comma-separated;
//!   unknown ids are named in the error), optionally only customers without an owner,
//!   through `Core::assign_owners` (one write, one audit entry); 303 back with the
//!   count, or 422 with the form kept and the error.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kanta_core::CoreError;
use kanta_core::owners::{OwnerRule, ProactiveShare, Selector, parse_id_list};
use kanta_core::recovery::Rate;
use kanta_domain::schema::TIERS;
use kanta_store::accounts::Role;
use serde::Deserialize;

use super::retention::percent;
use super::{PageError, core_error, form_allowed, render, render_status, see_other};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::i18n::Tr;

/// The least role that assigns owners.
pub(crate) const ASSIGNS: Role = Role::Manager;
/// Months of the proactive share.
const MONTHS: u32 = 12;

#[derive(Debug, Deserialize, Default)]
pub(crate) struct PageParams {
    /// After an assignment: how many customers changed.
    assigned: Option<String>,
}

/// The bulk-assignment form.
#[derive(Debug, Deserialize, Default, Clone)]
pub(crate) struct AssignForm {
    #[serde(default)]
    csrf: String,
    /// `segment`, `tier` or `ids`.
    #[serde(default)]
    by: String,
    #[serde(default)]
    segment: String,
    #[serde(default)]
    tier: String,
    #[serde(default)]
    ids: String,
    /// A staff member's id; empty: no owner.
    #[serde(default)]
    owner: String,
    #[serde(default)]
    only_unowned: Option<String>,
}

/// One owner's line.
pub(crate) struct OwnerLine {
    staff_id: String,
    name: String,
    customers: String,
    value: String,
    queue: String,
    share: String,
    interval: String,
}

/// One owner's proactive share per month.
pub(crate) struct ShareLine {
    name: String,
    cells: Vec<ShareCell>,
}

pub(crate) struct ShareCell {
    /// `3/10 (30 %)` or empty.
    text: String,
    /// `95 %: 11–60 %`.
    interval: String,
}

/// A choice of a select.
pub(crate) struct Opt {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "owners.html")]
pub(crate) struct OwnersPage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    can_assign: bool,
    can_settings: bool,
    rule: String,
    owners: Vec<OwnerLine>,
    unowned: String,
    months: Vec<String>,
    shares: Vec<ShareLine>,
    everyone: ShareLine,
    time_zone: String,
    notice: Option<String>,
    error: Option<String>,
    /// The form as sent (or empty).
    by: Vec<Opt>,
    segment: String,
    tiers: Vec<Opt>,
    ids: String,
    staff: Vec<Opt>,
    only_unowned: bool,
}

fn share_text(tr: &Tr, r: &Rate) -> (String, String) {
    match (r.p, r.lo, r.hi) {
        (Some(p), Some(lo), Some(hi)) => (
            format!("{}/{} ({})", r.k, r.n, percent(tr, p, 0)),
            format!(
                "{}: {}–{}",
                tr.t("owners.interval"),
                percent(tr, lo, 0),
                percent(tr, hi, 0)
            ),
        ),
        _ => (String::new(), String::new()),
    }
}

fn rule_words(tr: &Tr, rule: OwnerRule) -> String {
    tr.t(&format!("owners.rule.{}", rule.name())).to_string()
}

async fn page(
    s: &AppState,
    signed: &SignedIn,
    notice: Option<String>,
    sent: Option<(AssignForm, String)>,
) -> Result<OwnersPage, PageError> {
    let tr = signed.tr;
    let acting = signed.acting();
    let (overview, share) = tokio::join!(
        s.core.owners_overview(&acting),
        s.core.proactive_share(&acting, MONTHS)
    );
    let overview = overview.map_err(core_error(signed))?;
    let share: ProactiveShare = share.map_err(core_error(signed))?;
    let currency = overview.currency;
    let owners = overview
        .owners
        .iter()
        .map(|o| {
            let total = share.totals.iter().find(|t| t.staff_id == o.staff_id);
            let (text, interval) =
                total.map_or_else(Default::default, |t| share_text(&tr, &t.share));
            OwnerLine {
                staff_id: o.staff_id.clone(),
                name: o.name.clone(),
                customers: o.customers.to_string(),
                value: tr.money(o.value_minor, currency),
                queue: o.queue.to_string(),
                share: text,
                interval,
            }
        })
        .collect();
    let cells = |staff: &str| -> Vec<ShareCell> {
        share
            .months
            .iter()
            .map(|m| {
                let row = if staff.is_empty() {
                    share.by_month.iter().find(|r| &r.month == m)
                } else {
                    share
                        .rows
                        .iter()
                        .find(|r| &r.month == m && r.staff_id == staff)
                };
                let (text, interval) =
                    row.map_or_else(Default::default, |r| share_text(&tr, &r.share));
                ShareCell { text, interval }
            })
            .collect()
    };
    let shares = share
        .totals
        .iter()
        .map(|t| ShareLine {
            name: t.name.clone(),
            cells: cells(&t.staff_id),
        })
        .collect();
    let everyone = ShareLine {
        name: tr.t("owners.everyone").to_string(),
        cells: cells(""),
    };
    let (form, error) = match sent {
        Some((f, e)) => (f, Some(e)),
        None => (AssignForm::default(), None),
    };
    let by = ["segment", "tier", "ids"]
        .iter()
        .map(|b| Opt {
            value: b.to_string(),
            label: tr.t(&format!("owners.by.{b}")).to_string(),
            selected: form.by == *b,
        })
        .collect();
    let tiers = TIERS
        .iter()
        .map(|t| Opt {
            value: t.to_string(),
            label: t.to_string(),
            selected: form.tier == *t,
        })
        .collect();
    let staff = s
        .store
        .staff_choices()
        .await?
        .into_iter()
        .map(|(id, name)| Opt {
            selected: form.owner == id,
            value: id,
            label: name,
        })
        .collect();
    Ok(OwnersPage {
        me: Some(signed.me()),
        csrf: signed.csrf.clone(),
        can_assign: signed.user.role >= ASSIGNS,
        can_settings: signed.user.role >= kanta_core::access::SETTINGS,
        rule: rule_words(&tr, overview.rule),
        owners,
        unowned: overview.unowned.to_string(),
        months: share.months.clone(),
        shares,
        everyone,
        time_zone: share.time_zone.clone(),
        notice,
        error,
        by,
        segment: form.segment.clone(),
        tiers,
        ids: form.ids.clone(),
        staff,
        only_unowned: form.only_unowned.is_some(),
        tr,
    })
}

/// `GET /owners`.
pub(crate) async fn list(
    State(s): State<AppState>,
    signed: SignedIn,
    Query(q): Query<PageParams>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    let notice = q
        .assigned
        .as_deref()
        .and_then(|n| n.parse::<u64>().ok())
        .map(|n| tr.t("owners.assigned").replace("{n}", &n.to_string()));
    let view = page(&s, &signed, notice, None).await?;
    Ok(render(&view))
}

/// `POST /owners/assign`: a manager's bulk assignment.
pub(crate) async fn assign(
    State(s): State<AppState>,
    signed: SignedIn,
    axum::Form(f): axum::Form<AssignForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, ASSIGNS, &f.csrf)?;
    let tr = signed.tr;
    let send_back = async |message: String| -> Result<Response, PageError> {
        let view = page(&s, &signed, None, Some((f.clone(), message))).await?;
        Ok(render_status(&view, StatusCode::UNPROCESSABLE_ENTITY))
    };
    let selector = match f.by.as_str() {
        "segment" if !f.segment.trim().is_empty() => {
            Selector::Segment(f.segment.trim().to_string())
        }
        "tier" if !f.tier.trim().is_empty() => Selector::Tier(f.tier.trim().to_string()),
        "ids" => {
            let ids = parse_id_list(&f.ids);
            if ids.is_empty() {
                return send_back(tr.t("owners.error.no-ids").to_string()).await;
            }
            Selector::Ids(ids)
        }
        "segment" => return send_back(tr.t("owners.error.no-segment").to_string()).await,
        "tier" => return send_back(tr.t("owners.error.no-tier").to_string()).await,
        _ => return send_back(tr.t("owners.error.by").to_string()).await,
    };
    let owner = Some(f.owner.trim()).filter(|o| !o.is_empty());
    match s
        .core
        .assign_owners(&signed.acting(), &selector, owner, f.only_unowned.is_some())
        .await
    {
        Ok(n) => Ok(see_other(format!("/owners?assigned={n}"))),
        Err(CoreError::Invalid(problems)) => {
            let message = problems
                .iter()
                .map(|p| {
                    let field = tr.text_or(&format!("owners.field.{}", p.field), &p.field);
                    // The ids the store does not know, named in the page's language.
                    match p.reason.strip_prefix("no customer with the id ") {
                        Some(ids) => format!("{field}: {} {ids}", tr.t("owners.error.unknown-ids")),
                        None => format!("{field}: {}", p.reason),
                    }
                })
                .collect::<Vec<_>>()
                .join("; ");
            send_back(message).await
        }
        Err(e) => Err(core_error(&signed)(e)),
    }
}
