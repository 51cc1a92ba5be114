//! The admin area's pages, each a thin shell over one core use case:
//!
//! - `audit`: the audit log (`Core::audit_page`), filtered and paged, newest first.
//! - `jobs`: the background jobs and the outbox (`Core::jobs_overview`), and retrying
//!   a failed job (`Core::retry_job`).
//! - `settings`: the store settings (`Core::shown_store_settings`), changed by
//!   managers (`Core::set_store_setting`).
//!
//! Every page and form passes one gate, [`Frame::open`] or [`Frame::post`]: the
//! role the core asks for (the 403 page below it) and, for forms, the session's CSRF
//! token. The core checks the role again; its refusal is the same 403 page.
//! Times are shown in UTC, marked so.

mod audit;
mod jobs;
mod settings;

use axum::Router;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use kanta_store::accounts::Role;

use super::{PageError, form_allowed};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::i18n::Tr;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/audit", get(audit::page))
        .route("/admin/jobs", get(jobs::page))
        .route("/admin/jobs/{id}/retry", post(jobs::retry))
        .route("/admin/settings", get(settings::page).post(settings::save))
}

/// What every admin page carries besides its own part: the language, the user for
/// the header, and the session's CSRF token for its forms.
pub(crate) struct Frame {
    pub tr: Tr,
    pub me: Option<Me>,
    pub csrf: String,
}

impl Frame {
    fn of(signed: &SignedIn) -> Frame {
        Frame {
            tr: signed.tr,
            me: Some(signed.me()),
            csrf: signed.csrf.clone(),
        }
    }

    /// A page `signed` may open with at least `min` (the 403 page otherwise).
    pub(crate) fn open(signed: &SignedIn, min: Role) -> Result<Frame, PageError> {
        signed.require(min)?;
        Ok(Frame::of(signed))
    }

    /// A form `signed` may send with at least `min`, carrying the session's CSRF token
    /// (the 403 page otherwise; nothing is done).
    pub(crate) fn post(signed: &SignedIn, min: Role, csrf: &str) -> Result<Frame, PageError> {
        form_allowed(signed, min, csrf)?;
        Ok(Frame::of(signed))
    }
}

/// A moment as the admin pages show it: the language's date and time on the wall
/// clock of the page's zone, which the pages name once ([`Tr::zone_label`]).
pub(crate) fn utc(tr: &Tr, t: &DateTime<Utc>) -> String {
    tr.date_time(t)
}
