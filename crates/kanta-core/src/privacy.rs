//! The GDPR's rights for a business's customers: access and portability (an export of
//! everything Kanta holds about one customer, as JSON and as a zip of CSVs with a short
//! summary in the customer's language), erasure (personal data deleted or irreversibly
//! anonymised in every table, the figures kept), and the consent ledger (every change
//! of consent with its source, wording version and address).
//!
//! Both the export and the erasure are for admins and are audited: the export names the
//! customer and the tables it read; the erasure's entry names who, when and why, under
//! the customer's new random id, with no personal data. See
//! [`kanta_store::privacy`] for what the erasure does table by table.

use std::collections::BTreeMap;
use std::io::Write as _;

use chrono::{DateTime, Utc};
use kanta_domain::schema::CUSTOMERS;
use kanta_store::privacy::{ConsentEntry, ErasureCounts, ExportTable, WriteContext};
use serde::Serialize;
use serde_json::{Map, Value as Json, json};

use crate::access::{Role, require};
use crate::actor::{Acting, Actor, Channel};
use crate::write::run_info;
use crate::{Core, CoreError, Result};

/// The version of the consent wording Kanta's own pages and mail show (the unsubscribe
/// pages, the double opt-in mail): recorded with each change of consent made there.
pub const CONSENT_WORDING: &str = "kanta-consent-2026-12";

/// Where a write comes from, for the consent ledger: the link or confirmation that let
/// a customer in, else the channel.
pub fn context_of(acting: &Acting) -> WriteContext {
    let (source, wording) = match &acting.actor {
        Actor::Public { via } if via.contains("opt-in") => ("double_opt_in", true),
        Actor::Public { .. } => ("unsubscribe_link", true),
        Actor::Import { .. } => ("import", false),
        _ => match acting.channel {
            Channel::Ui => ("page", true),
            Channel::Api => ("api", false),
            Channel::Cli => ("cli", false),
            Channel::Import => ("import", false),
            Channel::Job => ("job", false),
        },
    };
    let (_, _, name) = acting.audit_names();
    WriteContext {
        source: source.into(),
        actor: Some(name),
        address: acting.ip.clone(),
        wording: wording.then(|| CONSENT_WORDING.to_string()),
        unlock: false,
    }
}

/// What an erasure did.
#[derive(Debug, Clone, Serialize)]
pub struct Erasure {
    /// The id the anonymised row now has (the old one is gone everywhere).
    pub new_id: String,
    pub counts: ErasureCounts,
}

/// Everything Kanta holds about one customer.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerExport {
    pub customer_id: String,
    pub generated_at: DateTime<Utc>,
    /// `fi` or `en`: the customer's language, else the store's.
    pub language: String,
    /// A few lines saying what the export holds, in `language`.
    pub summary: String,
    pub tables: Vec<ExportTable>,
}

impl Core {
    /// Exports everything the store holds about customer `external_id` (admins only;
    /// audited as `export`). Not found for an unknown or erased id.
    pub async fn export_customer(
        &self,
        acting: &Acting,
        external_id: &str,
    ) -> Result<CustomerExport> {
        require(acting, Role::Admin)?;
        let id = self
            .store()
            .customer_internal_id(external_id)
            .await?
            .ok_or_else(|| not_found(external_id))?;
        let tables = self.store().customer_export(id).await?;
        let customer = tables
            .iter()
            .find(|t| t.table == "customers")
            .and_then(|t| t.rows.first())
            .cloned()
            .unwrap_or_default();
        let store_language = self.store_settings().await?.language;
        let language = match customer.get("locale").and_then(Json::as_str) {
            Some("fi") => "fi",
            Some("en") => "en",
            _ if store_language == "en" => "en",
            _ => "fi",
        }
        .to_string();
        let generated_at = Utc::now();
        let zone = self.time_zone().await?;
        let summary = summary(&language, external_id, &customer, &tables, {
            generated_at
                .with_timezone(&zone)
                .format("%-d.%-m.%Y")
                .to_string()
        });
        // The export itself is recorded (who read whose data, and what).
        let counts: Map<String, Json> = tables
            .iter()
            .map(|t| (t.table.clone(), json!(t.rows.len())))
            .collect();
        let mut tx = self
            .begin_plain_write(acting, Role::Admin, &CUSTOMERS)
            .await?;
        let mut entry = tx.acting().audit("customers", Some(external_id), "export");
        entry.details = json!({ "tables": counts });
        tx.writer_mut().audit(&entry).await?;
        tx.finish(&run_info("", 0), Vec::new()).await?;
        Ok(CustomerExport {
            customer_id: external_id.to_string(),
            generated_at,
            language,
            summary,
            tables,
        })
    }

    /// Erases customer `external_id`'s personal data (admins only; `reason` required):
    /// see [`kanta_store::privacy`]. Their figures stay under a new random id; the
    /// audit entry names who, when and why, and nothing about the person.
    pub async fn erase_customer(
        &self,
        acting: &Acting,
        external_id: &str,
        reason: &str,
    ) -> Result<Erasure> {
        require(acting, Role::Admin)?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(CoreError::invalid(
                "reason",
                "say why the customer's data is erased (it is kept in the audit log)",
            ));
        }
        if reason.chars().count() > 500 {
            return Err(CoreError::invalid("reason", "at most 500 characters"));
        }
        let mut tx = self
            .begin_plain_write(acting, Role::Admin, &CUSTOMERS)
            .await?;
        let w = tx.writer_mut();
        let id = w
            .customer_id_of(external_id)
            .await?
            .ok_or_else(|| not_found(external_id))?;
        let mut ctx = context_of(acting);
        ctx.unlock = true;
        ctx.source = "erasure".into();
        w.set_context(&ctx).await?;
        let new_id = format!("erased-{}", &crate::secrets::new_secret()[..16]);
        let counts = w.erase_customer(id, &new_id).await?;
        let mut entry = tx.acting().audit("customers", Some(&new_id), "erase");
        // Who and when are the entry's own; why is the reason. The old id is not kept.
        entry.details = json!({ "reason": reason, "deleted": counts.deleted,
            "anonymised": counts.anonymised, "audit_entries": counts.audit_entries });
        tx.finish(&run_info("", 0), vec![entry]).await?;
        // The WAL's copies of the erased pages go back into the file (best effort).
        if let Err(e) = self.store().checkpoint().await {
            tracing::warn!("checkpoint after an erasure: {e}");
        }
        Ok(Erasure { new_id, counts })
    }

    /// A customer's consent ledger, oldest first (any signed-in role).
    pub async fn consent_history(
        &self,
        acting: &Acting,
        external_id: &str,
    ) -> Result<Vec<ConsentEntry>> {
        require(acting, Role::Viewer)?;
        let id = self
            .store()
            .customer_internal_id(external_id)
            .await?
            .ok_or_else(|| not_found(external_id))?;
        Ok(self.store().consent_history(id).await?)
    }
}

fn not_found(id: &str) -> CoreError {
    CoreError::NotFound(format!("no customer with id '{id}'"))
}

/// Names of the tables for people, by language.
fn table_name(table: &str, fi: bool) -> &str {
    let names: &[(&str, &str, &str)] = &[
        ("customers", "asiakastiedot", "customer record"),
        ("contacts", "yhteyshenkilöt", "contacts"),
        ("transactions", "ostot ja palautukset", "orders and refunds"),
        ("subscriptions", "tilaukset (sopimukset)", "subscriptions"),
        ("interactions", "yhteydenotot", "contacts with us"),
        ("cases", "palvelupyynnöt ja reklamaatiot", "cases"),
        ("case_events", "palvelupyyntöjen vaiheet", "case steps"),
        ("claims", "hyvitykset", "claims"),
        ("feedback", "palautteet", "feedback"),
        ("survey_invitations", "kyselykutsut", "survey invitations"),
        ("usage_events", "käyttötiedot", "usage"),
        ("trust_entries", "luottamuskirjaukset", "trust entries"),
        ("customer_scores", "ennusteet", "model scores"),
        ("health_scores", "asiakkuuden terveys", "health history"),
        ("goals", "tavoitteet", "goals"),
        ("goal_notes", "tavoitteiden merkinnät", "goal notes"),
        ("onboardings", "aloitukset", "onboardings"),
        (
            "onboarding_tasks",
            "aloituksen tehtävät",
            "onboarding tasks",
        ),
        ("offers", "tarjoukset", "offers"),
        ("offer_members", "tarjousten kohderyhmät", "offer audiences"),
        ("redemptions", "käytetyt tarjoukset", "redemptions"),
        ("customer_endings", "asiakkuuden päättäminen", "endings"),
        ("customer_profit", "kannattavuus", "profitability"),
        ("contact_queue", "yhteydenottolista", "contact queue"),
        (
            "queue_actions",
            "yhteydenottolistan toimet",
            "contact queue actions",
        ),
        ("consent_entries", "suostumushistoria", "consent history"),
        ("consent_requests", "suostumuspyynnöt", "consent requests"),
        ("ideas", "ideat", "ideas"),
        ("outbox", "lähetetyt viestit", "messages sent"),
        ("audit_log", "muutosloki", "audit log"),
    ];
    names
        .iter()
        .find(|(t, _, _)| *t == table)
        .map(|(_, f, e)| if fi { *f } else { *e })
        .unwrap_or(table)
}

/// The export's few lines for the customer, in their language.
fn summary(
    language: &str,
    id: &str,
    customer: &Map<String, Json>,
    tables: &[ExportTable],
    date: String,
) -> String {
    let fi = language == "fi";
    let name = customer
        .get("name")
        .and_then(Json::as_str)
        .unwrap_or(if fi { "(ei nimeä)" } else { "(no name)" });
    let mut out = String::new();
    if fi {
        out.push_str(&format!(
            "Tiedot, jotka meillä on asiakkaasta {name} (tunnus {id}), {date}.\n\n\
             Tiedosto export.json sisältää kaiken alla luetellun; kukin taulukko on myös \
             CSV-tiedostona.\n\n"
        ));
    } else {
        out.push_str(&format!(
            "The data we hold about {name} (id {id}), {date}.\n\n\
             export.json holds everything listed below; each table is also a CSV file.\n\n"
        ));
    }
    for t in tables {
        out.push_str(&format!(
            "- {}: {}\n",
            table_name(&t.table, fi),
            t.rows.len()
        ));
    }
    out.push('\n');
    out.push_str(if fi {
        "Voit pyytää tietojesi korjaamista tai poistamista. Tilauksia ja laskuja \
         koskevat tiedot säilytetään kirjanpitolain vaatiman ajan ilman henkilötietoja.\n"
    } else {
        "You may ask us to correct or erase your data. Orders and invoices are kept for \
         as long as bookkeeping law requires, without your personal data.\n"
    });
    out
}

impl CustomerExport {
    /// The export as one JSON document.
    pub fn to_json(&self) -> Json {
        let tables: Map<String, Json> = self
            .tables
            .iter()
            .map(|t| {
                (
                    t.table.clone(),
                    Json::Array(t.rows.iter().cloned().map(Json::Object).collect()),
                )
            })
            .collect();
        json!({
            "customer_id": self.customer_id,
            "generated_at": self.generated_at,
            "language": self.language,
            "summary": self.summary,
            "tables": tables,
        })
    }

    /// The export as a zip: `export.json`, `summary.txt` and one CSV per table.
    pub fn to_zip(&self) -> Result<Vec<u8>> {
        let io = |e: std::io::Error| CoreError::Other(anyhow::anyhow!("cannot write the zip: {e}"));
        let zerr = |e: zip::result::ZipError| {
            CoreError::Other(anyhow::anyhow!("cannot write the zip: {e}"))
        };
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("summary.txt", opts).map_err(zerr)?;
        zip.write_all(self.summary.as_bytes()).map_err(io)?;
        zip.start_file("export.json", opts).map_err(zerr)?;
        let json =
            serde_json::to_vec_pretty(&self.to_json()).map_err(|e| CoreError::Other(e.into()))?;
        zip.write_all(&json).map_err(io)?;
        for t in &self.tables {
            zip.start_file(format!("{}.csv", t.table), opts)
                .map_err(zerr)?;
            zip.write_all(&to_csv(&t.rows)?).map_err(io)?;
        }
        Ok(zip.finish().map_err(zerr)?.into_inner())
    }
}

/// Rows as CSV: the columns of the first row (then any others met), nested JSON as
/// its text, nulls empty.
fn to_csv(rows: &[Map<String, Json>]) -> Result<Vec<u8>> {
    let mut columns: Vec<String> = Vec::new();
    let mut seen = BTreeMap::new();
    for r in rows {
        for k in r.keys() {
            if seen.insert(k.clone(), ()).is_none() {
                columns.push(k.clone());
            }
        }
    }
    let err = |e: csv::Error| CoreError::Other(anyhow::anyhow!("cannot write a CSV: {e}"));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&columns).map_err(err)?;
    for r in rows {
        w.write_record(columns.iter().map(|c| match r.get(c) {
            None | Some(Json::Null) => String::new(),
            Some(Json::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        }))
        .map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| CoreError::Other(anyhow::anyhow!("cannot write a CSV: {e}")))
}

/// Days a double opt-in link stays valid.
pub const OPT_IN_DAYS: i64 = 14;

/// What a double opt-in link finds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum OptIn {
    /// No such link (altered, or its customer erased).
    Invalid,
    /// Too old: ask for a new one.
    Expired { locale: Option<String> },
    /// A request to confirm, or confirmed (`done`).
    Open { locale: Option<String>, done: bool },
}

impl Core {
    /// Mails the customer a link that gives marketing consent when they confirm it
    /// (double opt-in; staff and above). Refused without an email address, for a
    /// customer marked "do not contact", and when consent is given already. Returns
    /// the request's id.
    pub async fn request_marketing_consent(&self, acting: &Acting, customer: &str) -> Result<i64> {
        use kanta_domain::Value;
        require(acting, Role::Staff)?;
        let c = self
            .store()
            .get(&CUSTOMERS, customer)
            .await?
            .ok_or_else(|| not_found(customer))?;
        let email = c
            .text("email")
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .ok_or_else(|| CoreError::invalid("email", "the customer has no email address"))?
            .to_string();
        if c.get("do_not_contact") == &Value::Bool(true) {
            return Err(CoreError::Conflict {
                field: Some("do_not_contact".into()),
                message: "the customer is marked do not contact".into(),
            });
        }
        if c.get("marketing_consent") == &Value::Bool(true) {
            return Err(CoreError::Conflict {
                field: Some("marketing_consent".into()),
                message: "the customer has given marketing consent already".into(),
            });
        }
        let fi = match c.text("locale") {
            Some(l) => l == "fi",
            None => self.store_settings().await?.language != "en",
        };
        let token = crate::secrets::new_secret();
        let link = format!(
            "{}/c/{token}",
            self.links().public_url.trim_end_matches('/')
        );
        let name = c.text("name").unwrap_or("").to_string();
        let (subject, text) = if fi {
            (
                "Vahvista, että haluat tarjouksemme".to_string(),
                format!(
                    "Hei {name},\n\nhaluatko saada meiltä tarjouksia ja uutisia sähköpostiin? \
                     Vahvista se tästä linkistä {OPT_IN_DAYS} päivän kuluessa:\n\n{link}\n\n\
                     Jos et pyytänyt tätä, voit jättää viestin huomiotta: emme lähetä \
                     markkinointia ilman vahvistustasi.\n"
                ),
            )
        } else {
            (
                "Please confirm you'd like our offers".to_string(),
                format!(
                    "Hello {name},\n\nwould you like our offers and news by email? \
                     Confirm it with this link within {OPT_IN_DAYS} days:\n\n{link}\n\n\
                     If you did not ask for this, ignore this message: we send no \
                     marketing without your confirmation.\n"
                ),
            )
        };
        let mut tx = self
            .begin_plain_write(acting, Role::Staff, &CUSTOMERS)
            .await?;
        let w = tx.writer_mut();
        let id = w
            .customer_id_of(customer)
            .await?
            .ok_or_else(|| not_found(customer))?;
        let now = Utc::now().timestamp_millis();
        let request = w
            .add_consent_request(
                id,
                &crate::secrets::digest(&token),
                CONSENT_WORDING,
                acting.ip.as_deref(),
                now,
                now + OPT_IN_DAYS * 86_400_000,
            )
            .await?;
        w.queue_mail(&kanta_store::outbox::NewMail {
            key: format!("opt-in-{request}"),
            to: email,
            subject,
            text,
            html: None,
        })
        .await?;
        let mut entry = tx
            .acting()
            .audit("customers", Some(customer), "consent_request");
        entry.details = json!({ "purpose": "marketing", "request": request });
        tx.finish(&run_info("", 0), vec![entry]).await?;
        Ok(request)
    }

    /// What a double opt-in link finds (a GET: changes nothing).
    pub async fn open_opt_in(&self, token: &str) -> Result<OptIn> {
        Ok(self.opt_in_request(token).await?.1)
    }

    /// The request of a double opt-in link, and what the link finds.
    async fn opt_in_request(
        &self,
        token: &str,
    ) -> Result<(Option<kanta_store::privacy::ConsentRequest>, OptIn)> {
        let Some(r) = self
            .store()
            .consent_request(&crate::secrets::digest(token.trim()))
            .await?
        else {
            return Ok((None, OptIn::Invalid));
        };
        let locale = r.locale.clone();
        let state = if r.confirmed_ms.is_some() {
            OptIn::Open { locale, done: true }
        } else if r.expires_ms < Utc::now().timestamp_millis() {
            OptIn::Expired { locale }
        } else {
            OptIn::Open {
                locale,
                done: false,
            }
        };
        Ok((Some(r), state))
    }

    /// Confirms a double opt-in link: marketing consent given, through the write path
    /// as `Acting::public("double opt-in")` from `ip` (the ledger records the source,
    /// the wording version and the address), the request marked confirmed in the same
    /// transaction. Again is a no-op.
    pub async fn confirm_opt_in(
        &self,
        token: &str,
        channel: Channel,
        ip: Option<String>,
    ) -> Result<OptIn> {
        use kanta_domain::{Value, WriteBatch};
        let (request, state) = self.opt_in_request(token).await?;
        let (
            Some(r),
            OptIn::Open {
                locale,
                done: false,
            },
        ) = (request, &state)
        else {
            return Ok(state);
        };
        let locale = locale.clone();
        let acting = Acting::public("double opt-in link", channel).from_ip(ip);
        let f = |n: &str| CUSTOMERS.field(n).expect("schema");
        let fields = vec![f("marketing_consent"), f("marketing_consent_at")];
        let now = Utc::now();
        let mut tx = self
            .begin_write(&acting, &CUSTOMERS, fields.clone())
            .await?;
        if !tx
            .writer_mut()
            .confirm_consent_request(r.id, now.timestamp_millis())
            .await?
        {
            return Ok(OptIn::Open { locale, done: true });
        }
        let mut batch = WriteBatch::new(&CUSTOMERS, fields);
        batch.push(
            r.customer.clone(),
            vec![Value::Bool(true), Value::Time(now)],
        );
        tx.write(batch).await?;
        let mut entry = acting.audit("customers", Some(&r.customer), "update");
        entry.changes = json!({ "marketing_consent": { "before": null, "after": true } });
        entry.details = json!({ "via": "double opt-in", "request": r.id });
        tx.finish(&run_info("double opt-in", 1), vec![entry])
            .await?;
        Ok(OptIn::Open { locale, done: true })
    }
}
