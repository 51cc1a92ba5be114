//! `/admin/audit`: who did what, newest first, filtered by actor, entity, record and
//! time (a GET form), a page at a time with the core's cursor ("Older"). Each entry
//! shows its changes as a small before → after table. Everything an entry carries was
//! typed by someone (a customer's name, a note) and reaches the HTML through askama's
//! escaping only.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use kanta_core::CoreError;
use kanta_core::access::ADMIN_AREA;
use kanta_core::audit::{AuditQuery, AuditRecord, parse_cursor, parse_moment};
use kanta_domain::schema::ENTITIES;
use serde::Deserialize;
use serde_json::Value as Json;

use super::{Frame, utc};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::i18n::Tr;
use crate::pages::{PageError, core_error, render_status, urlencode};

/// Entries per page.
const PAGE: u32 = 50;

/// What the audit log names besides the schema's entities.
const OTHER_ENTITIES: [&str; 6] = [
    "users",
    "api_tokens",
    "sessions",
    "settings",
    "jobs",
    "outbox",
];

/// The filter form as sent; every part optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Params {
    actor: String,
    entity: String,
    record: String,
    since: String,
    until: String,
    /// The cursor of the page (the core's `next_cursor`); a bad one is ignored.
    before: String,
}

impl Params {
    /// The query string of these filters (without the cursor).
    fn filters(&self) -> String {
        [
            ("actor", &self.actor),
            ("entity", &self.entity),
            ("record", &self.record),
            ("since", &self.since),
            ("until", &self.until),
        ]
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", urlencode(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
    }

    fn link(&self, before: Option<&str>) -> String {
        let mut parts = vec![self.filters()];
        if let Some(b) = before {
            parts.push(format!("before={}", urlencode(b)));
        }
        parts.retain(|p| !p.is_empty());
        if parts.is_empty() {
            "/admin/audit".into()
        } else {
            format!("/admin/audit?{}", parts.join("&"))
        }
    }
}

/// A date without a time (`2024-12-31`, `31.12.2024`) given as `until` means the
/// whole day: entries before the next midnight.
fn is_day(text: &str) -> bool {
    let t = text.trim();
    !t.contains('T') && !t.contains(':') && !t.contains("klo") && !t.contains(' ')
}

/// The core's query of the form, or the problems by field (in the page's language).
fn query(tr: &Tr, p: &Params) -> Result<AuditQuery, Vec<(&'static str, String)>> {
    let text = |v: &str| Some(v.trim().to_string()).filter(|s| !s.is_empty());
    let mut errors = Vec::new();
    let mut moment = |field: &'static str, v: &str| -> Option<DateTime<Utc>> {
        let v = text(v)?;
        match parse_moment(field, &v, tr.zone) {
            Ok(t) if field == "until" && is_day(&v) => Some(t + chrono::Duration::days(1)),
            Ok(t) => Some(t),
            Err(_) => {
                errors.push((field, tr.t("audit.bad-time").to_string()));
                None
            }
        }
    };
    let since = moment("since", &p.since);
    let until = moment("until", &p.until);
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        errors.push(("until", tr.t("audit.until-first").to_string()));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(AuditQuery {
        actor: text(&p.actor),
        entity: text(&p.entity),
        record_id: text(&p.record),
        since,
        until,
        before_id: parse_cursor(&p.before).ok().flatten(),
        limit: PAGE,
    })
}

/// One change of a field.
pub(crate) struct ChangeView {
    field: String,
    before: Option<String>,
    after: Option<String>,
}

/// One entry, ready to show.
pub(crate) struct EntryView {
    at: String,
    actor: String,
    actor_kind: String,
    channel: String,
    entity: String,
    record: Option<String>,
    /// The customer's page, when the entry is about a customer.
    record_href: Option<String>,
    action: String,
    changes: Vec<ChangeView>,
    details: Vec<(String, String)>,
    ip: Option<String>,
}

/// A stored JSON value as text: a string as itself, nothing as `None`, anything else
/// as JSON.
fn shown(v: &Json) -> Option<String> {
    match v {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn changes(v: &Json) -> Vec<ChangeView> {
    let Json::Object(fields) = v else {
        return Vec::new();
    };
    fields
        .iter()
        .map(|(field, c)| match c {
            Json::Object(o) if o.contains_key("before") || o.contains_key("after") => ChangeView {
                field: field.clone(),
                before: o.get("before").and_then(shown),
                after: o.get("after").and_then(shown),
            },
            other => ChangeView {
                field: field.clone(),
                before: None,
                after: shown(other),
            },
        })
        .collect()
}

/// An entry as shown; `labels` names user actors `Name (email)` (by actor id).
fn entry(
    tr: &Tr,
    r: &AuditRecord,
    labels: &std::collections::HashMap<String, String>,
) -> EntryView {
    let e = &r.entry;
    let details = match &e.details {
        Json::Object(o) => o
            .iter()
            .filter_map(|(k, v)| shown(v).map(|v| (k.clone(), v)))
            .collect(),
        _ => Vec::new(),
    };
    EntryView {
        at: utc(tr, &r.at),
        actor: e
            .actor_id
            .as_ref()
            .filter(|_| e.actor_kind == "user")
            .and_then(|id| labels.get(id))
            .cloned()
            .unwrap_or_else(|| e.actor_name.clone()),
        actor_kind: tr.text_or(&format!("audit.kind.{}", e.actor_kind), &e.actor_kind),
        channel: tr.text_or(&format!("audit.channel.{}", e.channel), &e.channel),
        entity: tr.text_or(&format!("audit.entity.{}", e.entity), &e.entity),
        record: e.record_id.clone(),
        record_href: e
            .record_id
            .as_deref()
            .filter(|_| e.entity == "customers")
            .map(|id| format!("/customers/{}", urlencode(id))),
        action: tr.text_or(&format!("audit.action.{}", e.action), &e.action),
        changes: changes(&e.changes)
            .into_iter()
            .map(|c| ChangeView {
                field: tr.text_or(&format!("audit.field.{}", c.field), &c.field),
                ..c
            })
            .collect(),
        details,
        ip: e.ip.clone(),
    }
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
pub(crate) struct AuditPage {
    tr: Tr,
    me: Option<Me>,
    params: Params,
    errors: Vec<(&'static str, String)>,
    entities: Vec<&'static str>,
    entries: Vec<EntryView>,
    older: Option<String>,
    newest: Option<String>,
}

impl AuditPage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, e)| e.as_str())
    }
}

pub(crate) async fn page(
    State(s): State<AppState>,
    signed: SignedIn,
    Query(params): Query<Params>,
) -> Result<Response, PageError> {
    let Frame { tr, me, .. } = Frame::open(&signed, ADMIN_AREA)?;
    let mut view = AuditPage {
        tr,
        me,
        params,
        errors: Vec::new(),
        entities: ENTITIES
            .iter()
            .map(|e| e.name)
            .chain(OTHER_ENTITIES)
            .collect(),
        entries: Vec::new(),
        older: None,
        newest: None,
    };
    let q = match query(&tr, &view.params) {
        Ok(q) => q,
        Err(errors) => {
            view.errors = errors;
            return Ok(render_status(&view, StatusCode::UNPROCESSABLE_ENTITY));
        }
    };
    let page = match s.core.audit_page(&signed.acting(), &q).await {
        Ok(p) => p,
        Err(CoreError::Invalid(problems)) => {
            view.errors = problems
                .iter()
                .map(|p| match p.field.as_str() {
                    "since" => ("since", tr.t("audit.bad-time").to_string()),
                    _ => ("until", tr.t("audit.until-first").to_string()),
                })
                .collect();
            return Ok(render_status(&view, StatusCode::UNPROCESSABLE_ENTITY));
        }
        Err(e) => return Err(core_error(&signed)(e)),
    };
    // The users named on the page, in one query (a failed look-up keeps the emails).
    let labels = s
        .core
        .audit_user_labels(&page.items)
        .await
        .unwrap_or_default();
    view.entries = page.items.iter().map(|r| entry(&tr, r, &labels)).collect();
    view.older = page
        .next_cursor
        .as_deref()
        .map(|c| view.params.link(Some(c)));
    view.newest = q.before_id.map(|_| view.params.link(None));
    Ok(render_status(&view, StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn a_day_as_until_takes_the_whole_day() {
        let tr = Tr::new(Lang::En);
        let p = Params {
            since: "1.5.2024".into(),
            until: "2024-05-01".into(),
            ..Params::default()
        };
        let q = query(&tr, &p).unwrap();
        assert_eq!(
            q.until.unwrap() - q.since.unwrap(),
            chrono::Duration::days(1)
        );
        let p = Params {
            until: "2024-05-01T10:00:00Z".into(),
            ..Params::default()
        };
        assert_eq!(
            query(&tr, &p).unwrap().until.unwrap().to_rfc3339(),
            "2024-05-01T10:00:00+00:00"
        );
        let p = Params {
            since: "yesterday".into(),
            ..Params::default()
        };
        assert_eq!(query(&tr, &p).unwrap_err()[0].0, "since");
    }

    #[test]
    fn links_keep_the_filters() {
        let p = Params {
            actor: "a@b.fi".into(),
            entity: "customers".into(),
            ..Params::default()
        };
        assert_eq!(
            p.link(Some("41")),
            "/admin/audit?actor=a%40b.fi&entity=customers&before=41"
        );
        assert_eq!(Params::default().link(None), "/admin/audit");
    }

    #[test]
    fn a_user_is_shown_by_name_and_email() {
        let tr = Tr::new(Lang::En);
        let record = |kind: &str, id: &str, name: &str| AuditRecord {
            id: 1,
            at: Utc::now(),
            entry: kanta_store::audit::AuditEntry {
                actor_kind: kind.into(),
                actor_id: Some(id.into()),
                actor_name: name.into(),
                channel: "ui".into(),
                entity: "claims".into(),
                record_id: Some("claim-1".into()),
                action: "approve".into(),
                changes: serde_json::json!({}),
                details: serde_json::json!({}),
                ip: None,
            },
        };
        let labels = std::collections::HashMap::from([(
            "3".to_string(),
            "Maija Manager (maija@cafe.example)".to_string(),
        )]);
        let user = record("user", "3", "maija@cafe.example");
        assert_eq!(
            entry(&tr, &user, &labels).actor,
            "Maija Manager (maija@cafe.example)"
        );
        // A user no longer there keeps the stored email; other actors their name.
        let gone = record("user", "9", "old@cafe.example");
        assert_eq!(entry(&tr, &gone, &labels).actor, "old@cafe.example");
        let job = record("job", "3", "cases.sla");
        assert_eq!(entry(&tr, &job, &labels).actor, "cases.sla");
    }

    #[test]
    fn changes_show_before_and_after() {
        let c = changes(&serde_json::json!({
            "name": {"before": null, "after": "<b>x</b>"},
            "delta": {"before": 1, "after": 2},
        }));
        assert_eq!(c.len(), 2);
        let name = c.iter().find(|c| c.field == "name").unwrap();
        assert_eq!(
            (name.before.as_deref(), name.after.as_deref()),
            (None, Some("<b>x</b>"))
        );
        let delta = c.iter().find(|c| c.field == "delta").unwrap();
        assert_eq!(delta.after.as_deref(), Some("2"));
    }
}
