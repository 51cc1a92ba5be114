//! Kudos (`kanta_core::kudos`): the thanks customers give reach the staff they name.
//!
//! - `GET /thanks` (anyone signed in): the thanks of the staff member whose email is
//!   the user's, newest first: the answer's words, its date, the words that named
//!   them and, for staff and above, the customer (a link to their page). A user no
//!   staff row has is told so.
//! - `GET /kudos` (managers): kudos per person and month over 12 months (store time
//!   zone); `GET /kudos?staff=ID`: one person's thanks.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use kanta_core::kudos::{KudosItem, LIST_LIMIT};
use kanta_store::accounts::Role;
use serde::Deserialize;

use super::{PageError, core_error, render};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::i18n::Tr;

/// Months the managers' table covers.
const MONTHS: u32 = 12;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/thanks", get(thanks))
        .route("/kudos", get(kudos))
}

/// One thanks as a page shows it.
pub(crate) struct ThanksLine {
    date: String,
    matched: String,
    customer_id: Option<String>,
    customer: Option<String>,
    /// (question, text) of the answer's free texts.
    texts: Vec<(String, String)>,
    nps: Option<String>,
}

fn lines(tr: &Tr, items: Vec<KudosItem>) -> Vec<ThanksLine> {
    items
        .into_iter()
        .map(|k| {
            let texts = [
                ("did_well", &k.did_well),
                ("do_better", &k.do_better),
                ("comment", &k.comment),
            ]
            .into_iter()
            .filter_map(|(f, t)| {
                t.as_deref()
                    .filter(|t| !t.trim().is_empty())
                    .map(|t| (tr.t(&format!("kudos.field.{f}")).to_string(), t.to_string()))
            })
            .collect();
            ThanksLine {
                date: tr.date(&k.answered_at),
                matched: k.matched,
                customer: k.customer_name.clone().or_else(|| k.customer_id.clone()),
                customer_id: k.customer_id,
                texts,
                nps: k.nps.map(|n| n.to_string()),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "thanks.html")]
pub(crate) struct ThanksPage {
    tr: Tr,
    me: Option<Me>,
    /// Whose thanks; `None`: no staff row has the user's email.
    name: Option<String>,
    total: String,
    shown_all: bool,
    items: Vec<ThanksLine>,
    /// A manager looking at someone else's (`/kudos?staff=`).
    other: bool,
    /// The navigation's current area.
    area: &'static str,
}

/// `GET /thanks`.
async fn thanks(State(s): State<AppState>, signed: SignedIn) -> Result<Response, PageError> {
    let tr = signed.tr;
    let t = s
        .core
        .my_thanks(&signed.acting())
        .await
        .map_err(core_error(&signed))?;
    let shown_all = t.total as usize <= t.items.len();
    let view = ThanksPage {
        me: Some(signed.me()),
        name: t.staff_name,
        total: t.total.to_string(),
        shown_all,
        items: lines(&tr, t.items),
        other: false,
        area: "thanks",
        tr,
    };
    Ok(render(&view))
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct KudosParams {
    staff: Option<String>,
}

pub(crate) struct PersonLine {
    staff_id: String,
    name: String,
    months: Vec<String>,
    total: String,
}

#[derive(Template)]
#[template(path = "kudos.html")]
pub(crate) struct KudosPage {
    tr: Tr,
    me: Option<Me>,
    months: Vec<String>,
    time_zone: String,
    people: Vec<PersonLine>,
}

/// `GET /kudos`, `GET /kudos?staff=ID`.
async fn kudos(
    State(s): State<AppState>,
    signed: SignedIn,
    Query(q): Query<KudosParams>,
) -> Result<Response, PageError> {
    signed.require(Role::Manager)?;
    let tr = signed.tr;
    let acting = signed.acting();
    if let Some(staff) = q.staff.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let (items, total) = s
            .core
            .kudos_of_staff(&acting, staff, LIST_LIMIT)
            .await
            .map_err(core_error(&signed))?;
        let name = items.first().map(|i| i.staff_name.clone()).or(Some(
            s.store
                .staff_row(staff)
                .await?
                .map(|r| r.name)
                .unwrap_or_else(|| staff.to_string()),
        ));
        let view = ThanksPage {
            me: Some(signed.me()),
            name,
            total: total.to_string(),
            shown_all: total as usize <= items.len(),
            items: lines(&tr, items),
            other: true,
            area: "kudos",
            tr,
        };
        return Ok(render(&view));
    }
    let o = s
        .core
        .kudos_overview(&acting, MONTHS)
        .await
        .map_err(core_error(&signed))?;
    let people = o
        .people
        .into_iter()
        .map(|p| PersonLine {
            staff_id: p.staff_id,
            name: p.name,
            months: p
                .months
                .iter()
                .map(|n| {
                    if *n == 0 {
                        String::new()
                    } else {
                        n.to_string()
                    }
                })
                .collect(),
            total: p.total.to_string(),
        })
        .collect();
    let view = KudosPage {
        me: Some(signed.me()),
        months: o.months,
        time_zone: o.time_zone,
        people,
        tr,
    };
    Ok(render(&view))
}
