//! Ending a relationship cleanly (seed 002: an unprofitable relationship is better
//! ended cleanly than left to drift), and the quiet way, "let lapse".
//!
//! The workflow on `customer_endings`:
//!
//! 1. [`Core::propose_ending`]: a reason code ([`END_REASONS`]), a note, an end date and
//!    whether the customer is told. Staff propose for the customers they own (the
//!    customer's owner is their staff row, by email); managers and admins for anyone.
//!    One ending is in progress per customer at a time.
//! 2. [`Core::decide_ending`]: a manager approves (a note optional) or refuses (the
//!    note, the reason, required). On approval with notice, the notice is queued in the
//!    outbox in the customer's language (their `locale`, else the store's) from the
//!    template of the settings `ending_notice_fi` / `ending_notice_en` (placeholders
//!    `{name}`, `{end_date}`, `{business}`; `business_name` names the business). An end
//!    date that is today or past ends the customer at once, in the same transaction.
//! 3. On the end date the daily job `endings.due` ([`Core::run_due_endings`]) writes the
//!    customer through the write path: status `ended`, `ended_on` the end date,
//!    `end_reason` the note (else the reason's words in the store's language) and
//!    `end_reason_code`; the customer's contact queue row goes in the same transaction
//!    (surveys and offers skip ended customers by their status).
//! 4. [`Core::cancel_ending`]: a manager cancels a proposed or approved ending before it
//!    ends (the staff member who proposed one may withdraw it while it is proposed).
//!
//! Every step is one transaction with its audit entry (`customer_endings` `propose`,
//! `approve`, `refuse`, `cancel`; `customers` `end` with each field before and after;
//! the notice's `outbox` `mail_queued`).
//!
//! "Let lapse" ([`Core::set_let_lapse`], or the customers field `let_lapse` through the
//! generic API) stops the contact cadence and the proactive reminders of the contact
//! queue (`crate::queue::reasons_of`) without telling the customer.

use chrono::{NaiveDate, Utc};
use kanta_domain::schema::{CUSTOMERS, END_REASONS, Field};
use kanta_domain::{Value, WriteBatch};
use kanta_store::endings::NewEndingRow;
pub use kanta_store::endings::{EndingQuery, EndingRow};
use kanta_store::outbox::NewMail;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::access::{Role, require};
use crate::actor::{Acting, Actor, Channel};
use crate::mail::Lang;
use crate::write::{WriteTx, change, run_info};
use crate::{Core, CoreError, Problem, Result};

/// The daily job that ends the customers whose approved end date has come.
pub const DUE_JOB: &str = "endings.due";
/// An ending's statuses.
pub const ENDING_STATUSES: [&str; 5] = ["proposed", "approved", "refused", "ended", "cancelled"];
/// Who approves, refuses and cancels endings.
pub const DECIDES: Role = Role::Manager;
/// The longest note, in characters.
pub const MAX_NOTE: usize = 2000;
/// The longest notice template, in characters.
pub const MAX_TEMPLATE: usize = 4000;
/// The placeholders a notice template may use.
pub const PLACEHOLDERS: [&str; 3] = ["name", "end_date", "business"];

/// The settings of this module with their defaults, as typed. A line break in a
/// template is written `\n` (the settings page's field is one line).
pub const SETTINGS: [(&str, &str); 3] = [
    (
        "ending_notice_fi",
        "Hei {name},\\n\\nkiitos yhteistyöstä tähän asti. Olemme päättäneet, että asiakkuutesi meillä päättyy {end_date}. Siihen asti hoidamme kaiken sovitun tavalliseen tapaan, eikä sinun tarvitse tehdä mitään.\\n\\nJos sinulla on kysyttävää, vastaathan tähän viestiin.\\n\\nYstävällisin terveisin\\n{business}",
    ),
    (
        "ending_notice_en",
        "Hello {name},\\n\\nThank you for your custom so far. We have decided to end our customer relationship with you on {end_date}. Until then we will see to everything agreed as usual, and you need not do anything.\\n\\nIf you have any questions, please reply to this message.\\n\\nKind regards\\n{business}",
    ),
    ("business_name", ""),
];

/// A setting's default (`None`: not one of this module's).
pub fn default_setting(key: &str) -> Option<&'static str> {
    SETTINGS.iter().find(|(k, _)| *k == key).map(|(_, d)| *d)
}

/// `ending_notice_fi` / `ending_notice_en`: text with the placeholders `{name}`,
/// `{end_date}` (required: a notice says when) and `{business}`; at most
/// [`MAX_TEMPLATE`] characters.
pub fn parse_notice_template(s: &str) -> std::result::Result<String, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("write the notice's text (it is empty)".into());
    }
    let n = t.chars().count();
    if n > MAX_TEMPLATE {
        return Err(format!("at most {MAX_TEMPLATE} characters, not {n}"));
    }
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err("a '{' without its '}': write placeholders as {name}".into());
        };
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "{{{}}} is not a placeholder; the notice knows {{name}}, {{end_date}} and {{business}}",
                kanta_domain::value::excerpt(name)
            ));
        }
        rest = &after[close + 1..];
    }
    if !t.contains("{end_date}") {
        return Err("the notice must say when the relationship ends: put {end_date} in it".into());
    }
    Ok(t.to_string())
}

/// `business_name`: the business's name as its customers know it (at most 200
/// characters; empty: the notices sign as customer service).
pub fn parse_business_name(s: &str) -> std::result::Result<String, String> {
    let t = s.trim();
    let n = t.chars().count();
    if n > 200 {
        return Err(format!("at most 200 characters, not {n}"));
    }
    Ok(t.to_string())
}

/// A proposal as typed (pages, API, command line).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndingInput {
    /// One of [`END_REASONS`].
    pub reason: String,
    pub note: Option<String>,
    /// The end date as typed (`2026-12-31`, `31.12.2026`); empty: today.
    pub end_on: Option<String>,
    /// Mail the customer a notice on approval.
    pub notify: bool,
}

/// An ending as the pages, the API and the command line show it.
pub type Ending = EndingRow;

/// What the daily job did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EndingsDue {
    /// Customers ended.
    pub ended: u64,
}

/// The reason's words.
pub fn reason_words(code: &str, lang: Lang) -> &'static str {
    match (code, lang) {
        ("unprofitable", Lang::Fi) => "kannattamaton",
        ("unprofitable", Lang::En) => "unprofitable",
        ("breaks_agreements", Lang::Fi) => "ei pidä sopimuksia",
        ("breaks_agreements", Lang::En) => "does not keep agreements",
        ("abusive", Lang::Fi) => "asiaton käytös",
        ("abusive", Lang::En) => "abusive",
        ("moved_away", Lang::Fi) => "muuttanut pois",
        ("moved_away", Lang::En) => "moved away",
        (_, Lang::Fi) => "muu syy",
        (_, Lang::En) => "other",
    }
}

/// A reason code as typed: the code, or its words in Finnish or English.
pub fn parse_reason(s: &str) -> Result<&'static str> {
    let t = s.trim().to_lowercase().replace([' ', '-'], "_");
    if let Some(code) = END_REASONS.iter().find(|c| **c == t) {
        return Ok(code);
    }
    let words = s.trim().to_lowercase();
    for code in END_REASONS {
        if Lang::ALL
            .iter()
            .any(|l| reason_words(code, *l).eq_ignore_ascii_case(&words))
        {
            return Ok(code);
        }
    }
    Err(CoreError::invalid(
        "reason",
        format!(
            "'{}' is not a reason to end a relationship: {}",
            kanta_domain::value::excerpt(s.trim()),
            END_REASONS.join(", ")
        ),
    ))
}

/// The end date as the notice writes it: `31.12.2026` in Finnish, `31 December 2026`
/// in English.
pub fn date_words(d: NaiveDate, lang: Lang) -> String {
    match lang {
        Lang::Fi => d.format("%-d.%-m.%Y").to_string(),
        Lang::En => d.format("%-d %B %Y").to_string(),
    }
}

/// A notice rendered: subject, text and HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Replaces the placeholders in one pass (a value is not read again).
fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').and_then(|close| {
            vars.iter()
                .find(|(k, _)| *k == &after[..close])
                .map(|(_, v)| (close, v))
        }) {
            Some((close, v)) => {
                out.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The notice to a customer from a template (see [`SETTINGS`]): `name` the customer's
/// (else a polite stand-in), the end date in the language's form, `business` the
/// business's name (else "customer service").
pub fn render_notice(
    template: &str,
    lang: Lang,
    name: Option<&str>,
    end_on: NaiveDate,
    business: &str,
) -> Notice {
    let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => n.to_string(),
        None => match lang {
            Lang::Fi => "hyvä asiakas".into(),
            Lang::En => "there".into(),
        },
    };
    let business = match business.trim() {
        "" => match lang {
            Lang::Fi => "Asiakaspalvelu".to_string(),
            Lang::En => "Customer service".to_string(),
        },
        b => b.to_string(),
    };
    let date = date_words(end_on, lang);
    let vars = [
        ("name", name.as_str()),
        ("end_date", date.as_str()),
        ("business", business.as_str()),
    ];
    let text = fill(&template.replace("\\n", "\n"), &vars);
    let subject = match lang {
        Lang::Fi => format!("Asiakkuutesi päättyy {date}"),
        Lang::En => format!("Your customer relationship with us ends on {date}"),
    };
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n</head>\n<body style=\"margin:0;padding:24px;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:16px;line-height:1.5;color:#1f2933;background:#ffffff\">\n",
        lang.code(),
        escape(&subject)
    );
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        let lines: Vec<String> = para.lines().map(escape).collect();
        html.push_str(&format!("<p>{}</p>\n", lines.join("<br>\n")));
    }
    html.push_str("</body>\n</html>\n");
    Notice {
        subject,
        text,
        html,
    }
}

fn end_fields() -> Vec<&'static Field> {
    ["status", "ended_on", "end_reason", "end_reason_code"]
        .iter()
        .map(|n| CUSTOMERS.field(n).expect("customers have the field"))
        .collect()
}

fn note_of(note: Option<&str>, field: &str) -> Result<Option<String>> {
    let Some(n) = note.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    let len = n.chars().count();
    if len > MAX_NOTE {
        return Err(CoreError::invalid(
            field,
            format!("at most {MAX_NOTE} characters, not {len}"),
        ));
    }
    Ok(Some(n.to_string()))
}

fn found(row: Option<EndingRow>, id: i64) -> Result<EndingRow> {
    row.ok_or_else(|| CoreError::NotFound(format!("no ending with id {id}")))
}

/// Writes the customer ended (through the write path: the customer's hooks run) and
/// the ending `ended`, takes them out of the contact queue and audits `customers`
/// `end`, in `tx`. `store_lang`: the words of the reason when there is no note.
async fn end_in_tx(tx: &mut WriteTx, e: &EndingRow, store_lang: Lang) -> Result<()> {
    let words = e
        .note
        .clone()
        .unwrap_or_else(|| reason_words(&e.reason, store_lang).to_string());
    let values = vec![
        Value::Text("ended".into()),
        Value::Date(e.end_on),
        Value::Text(words),
        Value::Text(e.reason.clone()),
    ];
    let mut changes = serde_json::Map::new();
    changes.insert(
        "status".into(),
        change(&Value::Text(e.customer_status.clone()), &values[0]),
    );
    for (n, v) in ["ended_on", "end_reason", "end_reason_code"]
        .iter()
        .zip(&values[1..])
    {
        changes.insert((*n).into(), change(&Value::Null, v));
    }
    let mut batch = WriteBatch::new(&CUSTOMERS, end_fields());
    batch.push(e.customer_id.clone(), values);
    tx.write(batch).await?;
    let now = Utc::now();
    let w = tx.writer_mut();
    w.set_ending_status(e.id, "ended", Some(now), None).await?;
    w.drop_from_queue(e.customer_key).await?;
    let mut entry = tx
        .acting()
        .audit(CUSTOMERS.name, Some(&e.customer_id), "end");
    entry.changes = serde_json::Value::Object(changes);
    entry.details = json!({ "ending_id": e.id, "reason": e.reason, "end_on": e.end_on });
    tx.writer_mut().audit(&entry).await?;
    Ok(())
}

impl Core {
    async fn store_lang(&self) -> Result<Lang> {
        Ok(Lang::parse(&self.store_settings().await?.language).unwrap_or(Lang::Fi))
    }

    /// Proposes ending a customer's relationship (see the module): staff for the
    /// customers they own, managers for anyone. The end date is the store's today when
    /// none is given, and may not lie in the past. Audited `customer_endings`
    /// `propose`.
    pub async fn propose_ending(
        &self,
        acting: &Acting,
        customer_id: &str,
        input: EndingInput,
    ) -> Result<Ending> {
        require(acting, Role::Staff)?;
        let mut problems = Vec::new();
        let reason = match parse_reason(&input.reason) {
            Ok(r) => Some(r),
            Err(CoreError::Invalid(p)) => {
                problems.extend(p);
                None
            }
            Err(e) => return Err(e),
        };
        let note = match note_of(input.note.as_deref(), "note") {
            Ok(n) => n,
            Err(CoreError::Invalid(p)) => {
                problems.extend(p);
                None
            }
            Err(e) => return Err(e),
        };
        let today = self.today().await?;
        let zone = self.time_zone().await?;
        let end_on = match input
            .end_on
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => Some(today),
            Some(s) => match kanta_domain::time::parse_date_in(s, None, zone) {
                Ok(d) if d < today => {
                    problems.push(Problem::new(
                        "end_on",
                        format!("{d} is in the past: an ending is from today ({today}) on"),
                    ));
                    None
                }
                Ok(d) if d > today + chrono::Duration::days(3650) => {
                    problems.push(Problem::new(
                        "end_on",
                        format!("{d} is more than ten years ahead"),
                    ));
                    None
                }
                Ok(d) => Some(d),
                Err(e) => {
                    problems.push(Problem::new("end_on", e.to_string()));
                    None
                }
            },
        };
        if !problems.is_empty() {
            return Err(CoreError::Invalid(problems));
        }
        let (reason, end_on) = (reason.expect("checked"), end_on.expect("checked"));
        let staff_email = match &acting.actor {
            Actor::User { email, .. } => Some(email.trim().to_lowercase()),
            _ => None,
        };
        let mut tx = self.begin_write(acting, &CUSTOMERS, end_fields()).await?;
        let c = tx
            .writer_mut()
            .ending_customer(customer_id)
            .await?
            .ok_or_else(|| {
                CoreError::NotFound(format!(
                    "no customer with id '{}'",
                    kanta_domain::value::excerpt(customer_id)
                ))
            })?;
        if acting.role() < DECIDES {
            let owns = match (&staff_email, &c.owner_email) {
                (Some(me), Some(owner)) => owner.trim().to_lowercase() == *me,
                _ => false,
            };
            if !owns {
                return Err(CoreError::Forbidden(format!(
                    "staff propose endings for their own customers; customer '{customer_id}' is not yours: ask a manager"
                )));
            }
        }
        if c.status == "ended" {
            return Err(CoreError::Conflict {
                field: Some("status".into()),
                message: format!("customer '{customer_id}' has ended already"),
            });
        }
        if let Some(open) = tx.writer_mut().open_ending_of(c.key).await? {
            return Err(CoreError::Conflict {
                field: None,
                message: format!(
                    "customer '{customer_id}' has an ending in progress already (ending {open}): decide or cancel it first"
                ),
            });
        }
        if input.notify && c.email.as_deref().is_none_or(|e| e.trim().is_empty()) {
            return Err(CoreError::invalid(
                "notify",
                format!(
                    "customer '{customer_id}' has no email address, so no notice can be mailed: untick the notice and tell them another way"
                ),
            ));
        }
        let id = tx
            .writer_mut()
            .insert_ending(&NewEndingRow {
                customer_key: c.key,
                reason: reason.to_string(),
                note: note.clone(),
                end_on,
                notify: input.notify,
                proposed_by: acting.user_id(),
                proposed_at: Utc::now(),
            })
            .await?;
        let row = found(tx.writer_mut().ending_in_tx(id).await?, id)?;
        let mut entry = acting.audit("customer_endings", Some(&id.to_string()), "propose");
        entry.details = json!({
            "customer_id": customer_id,
            "reason": reason,
            "note": note,
            "end_on": end_on,
            "notify": input.notify,
        });
        tx.finish(&run_info(acting.channel.as_str(), 0), vec![entry])
            .await?;
        Ok(row)
    }

    /// A manager approves (`note` optional) or refuses (`note` required: the reason) a
    /// proposed ending. On approval the notice is queued when asked for, and an end
    /// date that is today or past ends the customer at once. Audited
    /// `customer_endings` `approve` / `refuse` (and `outbox` `mail_queued`, `customers`
    /// `end`), all in one transaction.
    pub async fn decide_ending(
        &self,
        acting: &Acting,
        id: i64,
        approve: bool,
        note: Option<String>,
    ) -> Result<Ending> {
        require(acting, DECIDES)?;
        let note = note_of(note.as_deref(), "note")?;
        if !approve && note.is_none() {
            return Err(CoreError::invalid(
                "note",
                "a refusal needs its reason: write why the relationship goes on",
            ));
        }
        let settings = self.store_settings().await?;
        let store_lang = Lang::parse(&settings.language).unwrap_or(Lang::Fi);
        let today = self.today().await?;
        let mut tx = self.begin_write(acting, &CUSTOMERS, end_fields()).await?;
        let before = found(tx.writer_mut().ending_in_tx(id).await?, id)?;
        if before.status != "proposed" {
            return Err(CoreError::Conflict {
                field: Some("status".into()),
                message: format!(
                    "ending {id} is {} already: only proposed endings are decided",
                    before.status
                ),
            });
        }
        let now = Utc::now();
        let status = if approve { "approved" } else { "refused" };
        tx.writer_mut()
            .decide_ending(id, status, acting.user_id(), now, note.as_deref())
            .await?;
        let mut entries = Vec::new();
        let mut entry = acting.audit(
            "customer_endings",
            Some(&id.to_string()),
            if approve { "approve" } else { "refuse" },
        );
        entry.changes = json!({ "status": change(&Value::Text(before.status.clone()), &Value::Text(status.into())) });
        let mut details = json!({
            "customer_id": before.customer_id,
            "reason": before.reason,
            "end_on": before.end_on,
            "note": note,
        });
        if approve && before.notify {
            let Some(to) = before
                .customer_email
                .clone()
                .filter(|e| !e.trim().is_empty())
            else {
                return Err(CoreError::Conflict {
                    field: Some("notify".into()),
                    message: format!(
                        "customer '{}' has no email address any more, so the notice cannot be mailed: refuse this ending and propose it again without a notice",
                        before.customer_id
                    ),
                });
            };
            let lang = before
                .customer_locale
                .as_deref()
                .and_then(Lang::parse)
                .unwrap_or(store_lang);
            let key = format!("notice_{}", lang.code());
            let template = settings
                .value(&format!("ending_{key}"))
                .or_else(|| default_setting(&format!("ending_{key}")))
                .unwrap_or_default()
                .to_string();
            let business = settings
                .value("business_name")
                .unwrap_or_default()
                .to_string();
            let n = render_notice(
                &template,
                lang,
                before.customer_name.as_deref(),
                before.end_on,
                &business,
            );
            let mail_key = format!("ending:{id}");
            let mail_id = tx
                .writer_mut()
                .queue_mail(&NewMail {
                    key: mail_key.clone(),
                    to: to.clone(),
                    subject: n.subject.clone(),
                    text: n.text,
                    html: Some(n.html),
                })
                .await?;
            if let Some(mail_id) = mail_id {
                tx.writer_mut().set_ending_mail(id, mail_id).await?;
                let mut m = acting.audit("outbox", Some(&mail_key), "mail_queued");
                m.details = json!({ "to": to, "subject": n.subject, "mail_id": mail_id, "lang": lang.code() });
                entries.push(m);
                details["notice_mail_id"] = json!(mail_id);
                details["notice_lang"] = json!(lang.code());
            }
        }
        entry.details = details;
        entries.insert(0, entry);
        if approve && before.end_on <= today {
            let e = found(tx.writer_mut().ending_in_tx(id).await?, id)?;
            end_in_tx(&mut tx, &e, store_lang).await?;
        }
        let row = found(tx.writer_mut().ending_in_tx(id).await?, id)?;
        tx.finish(&run_info(acting.channel.as_str(), 1), entries)
            .await?;
        Ok(row)
    }

    /// Cancels a proposed or approved ending before it ends: managers, or the staff
    /// member who proposed it while it is proposed. Audited `customer_endings`
    /// `cancel`. (A notice mailed already is not taken back: tell the customer.)
    pub async fn cancel_ending(
        &self,
        acting: &Acting,
        id: i64,
        note: Option<String>,
    ) -> Result<Ending> {
        require(acting, Role::Staff)?;
        let note = note_of(note.as_deref(), "note")?;
        let mut tx = self.begin_write(acting, &CUSTOMERS, end_fields()).await?;
        let before = found(tx.writer_mut().ending_in_tx(id).await?, id)?;
        let own = before.proposed_by.is_some() && before.proposed_by == acting.user_id();
        if acting.role() < DECIDES && !(own && before.status == "proposed") {
            return Err(CoreError::Forbidden(format!(
                "cancelling ending {id} needs the role 'manager' or above (staff withdraw only their own proposals)"
            )));
        }
        if !matches!(before.status.as_str(), "proposed" | "approved") {
            return Err(CoreError::Conflict {
                field: Some("status".into()),
                message: format!(
                    "ending {id} is {}: only proposed or approved endings are cancelled",
                    before.status
                ),
            });
        }
        tx.writer_mut()
            .set_ending_status(id, "cancelled", None, note.as_deref())
            .await?;
        let row = found(tx.writer_mut().ending_in_tx(id).await?, id)?;
        let mut entry = acting.audit("customer_endings", Some(&id.to_string()), "cancel");
        entry.changes = json!({ "status": change(&Value::Text(before.status.clone()), &Value::Text("cancelled".into())) });
        entry.details = json!({
            "customer_id": before.customer_id,
            "note": note,
            "notice_was_mailed": before.mail_id.is_some(),
        });
        tx.finish(&run_info(acting.channel.as_str(), 1), vec![entry])
            .await?;
        Ok(row)
    }

    /// Ends every approved ending whose date has come (the daily job `endings.due`,
    /// also `kanta ending due`): each customer in a transaction of its own (one that
    /// fails leaves the others ended). Managers and above (the job and the command
    /// line act as admins).
    pub async fn run_due_endings(&self, acting: &Acting) -> Result<EndingsDue> {
        require(acting, DECIDES)?;
        let today = self.today().await?;
        let store_lang = self.store_lang().await?;
        let mut out = EndingsDue::default();
        for id in self.store().due_endings(today).await? {
            let mut tx = self.begin_write(acting, &CUSTOMERS, end_fields()).await?;
            let Some(e) = tx.writer_mut().ending_in_tx(id).await? else {
                continue;
            };
            // Cancelled or ended by another instance meanwhile.
            if e.status != "approved" || e.end_on > today {
                continue;
            }
            end_in_tx(&mut tx, &e, store_lang).await?;
            tx.finish(&run_info(acting.channel.as_str(), 1), Vec::new())
                .await?;
            out.ended += 1;
        }
        Ok(out)
    }

    /// Endings by `q` (any signed-in role reads them; staff see what managers see:
    /// the approval queue is the team's).
    pub async fn endings(&self, acting: &Acting, q: &EndingQuery) -> Result<Vec<Ending>> {
        require(acting, Role::Viewer)?;
        for s in &q.statuses {
            if !ENDING_STATUSES.contains(&s.as_str()) {
                return Err(CoreError::invalid(
                    "status",
                    format!(
                        "'{}' is not a status of an ending: {}",
                        kanta_domain::value::excerpt(s),
                        ENDING_STATUSES.join(", ")
                    ),
                ));
            }
        }
        Ok(self.store().endings(q).await?)
    }

    /// One ending.
    pub async fn ending(&self, acting: &Acting, id: i64) -> Result<Ending> {
        require(acting, Role::Viewer)?;
        found(self.store().ending(id).await?, id)
    }

    /// Sets or clears "let lapse" on a customer (staff and above), through the write
    /// path (audited `customers` `update`); the customer's contact queue row is then
    /// recomputed, so the cadence stops (or starts again) at once.
    pub async fn set_let_lapse(
        &self,
        acting: &Acting,
        customer_id: &str,
        lapse: bool,
    ) -> Result<kanta_store::Record> {
        let field = CUSTOMERS
            .field("let_lapse")
            .expect("customers have let_lapse");
        let rec = self
            .update_record(
                acting,
                &CUSTOMERS,
                customer_id,
                vec![field],
                vec![Value::Bool(lapse)],
            )
            .await?;
        if !matches!(acting.channel, Channel::Ui | Channel::Api) {
            // Pages and the API get the refresh from the write's hook.
            let today = self.today().await?;
            self.refresh_queue_for(acting, today, &[customer_id.to_string()])
                .await?;
        }
        Ok(rec)
    }
}

/// Runs in the transaction of a write of customers that carries `let_lapse` or
/// `status` from a page or the API: their contact queue rows are recomputed by the
/// `queue.refresh` job (imports and the demo wait for the daily refresh).
pub(crate) async fn after_customers_write(tx: &mut WriteTx, ids: &[String]) -> Result<()> {
    if !matches!(tx.acting().channel, Channel::Ui | Channel::Api)
        || ids.len() > crate::queue::FULL_REFRESH_OVER
    {
        return Ok(());
    }
    crate::queue::after_write(tx, ids).await
}

/// The `endings.due` job.
pub async fn run_due_job(core: &Core) -> crate::jobs::Outcome {
    match core.run_due_endings(&Acting::job(DUE_JOB)).await {
        Ok(r) => {
            if r.ended > 0 {
                tracing::info!("endings: {} customers ended", r.ended);
            }
            crate::jobs::Outcome::Done
        }
        Err(e) => crate::jobs::Outcome::Retry(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_fill_placeholders_once_and_escape_html() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        let n = render_notice(
            default_setting("ending_notice_fi").unwrap(),
            Lang::Fi,
            Some("Aino <b>{end_date}</b>"),
            d,
            "Kahvila Kanta",
        );
        assert!(
            n.text.starts_with("Hei Aino <b>{end_date}</b>,\n\n"),
            "{}",
            n.text
        );
        assert!(n.text.contains("päättyy 31.12.2026."));
        assert!(n.text.ends_with("Ystävällisin terveisin\nKahvila Kanta"));
        assert_eq!(n.subject, "Asiakkuutesi päättyy 31.12.2026");
        assert!(n.html.contains("Aino &lt;b&gt;{end_date}&lt;/b&gt;"));
        assert!(!n.html.contains("<b>"));
        let e = render_notice(
            default_setting("ending_notice_en").unwrap(),
            Lang::En,
            None,
            d,
            "",
        );
        assert!(e.text.starts_with("Hello there,"));
        assert!(e.text.contains("on 31 December 2026."));
        assert!(e.text.ends_with("Customer service"));
    }

    #[test]
    fn templates_and_reasons_parse() {
        for (k, d) in SETTINGS.iter().take(2) {
            assert_eq!(parse_notice_template(d).unwrap(), *d, "{k}");
        }
        assert!(parse_notice_template("Hei {name}").is_err());
        assert!(parse_notice_template("{end_date} {hinta}").is_err());
        assert!(parse_notice_template("").is_err());
        assert_eq!(parse_reason("Unprofitable").unwrap(), "unprofitable");
        assert_eq!(parse_reason("moved away").unwrap(), "moved_away");
        assert_eq!(parse_reason("kannattamaton").unwrap(), "unprofitable");
        assert!(parse_reason("bored").is_err());
    }
}
