//! Offers with a control group (issue 14; migration 0014's `offers`, `offer_members`).
//!
//! Sending is one transaction of the core: [`Writer::offer_candidates`] reads the
//! audience (the same rule as survey waves, [`crate::survey_send::audience_filter`])
//! with each customer's reason to be left out (`ended`, `let_lapse`, and for the
//! email channel `no_consent` to marketing and `no_email`), the core draws the groups,
//! [`Writer::insert_offer_members`] writes them in bulk (one JSON parameter),
//! [`Writer::mark_offer_sent`] turns the draft into `sent` once (a second send finds
//! no draft), and [`Writer::link_offer_mails`] ties the queued mails (outbox keys
//! [`offer_mail_key`]) to their members.
//!
//! The report reads [`Store::offer_outcomes`]: the members counted per arm and tier,
//! and the window's transactions summed once per customer from the covering index
//! `transactions (occurred_at, customer_id, kind, amount_minor, offer_code)` (migration
//! 0016), joined to the members and summed per arm (sums and sums of squares): two
//! small answers, not 90,000 index probes nor a row per buyer.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::AssertSqlSafe;

use crate::survey_send::{Audience, audience_filter};
use crate::write::{DbTx, on_tx};
use crate::{Result, Store, json_err, with_pool};

/// A customer of an offer's audience, with why they are left out (`None`: drawn).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub customer_id: i64,
    pub external_id: String,
    /// The value tier, `-` when the customer has none yet.
    pub tier: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub locale: Option<String>,
    /// `ended`, `let_lapse`, `no_consent`, `no_email`, or `None`.
    pub reason: Option<String>,
}

/// One member to write: customer, control group or not, tier at the draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewMember {
    #[serde(rename = "c")]
    pub customer_id: i64,
    #[serde(rename = "a")]
    pub arm: &'static str,
    #[serde(rename = "t")]
    pub tier: String,
}

/// The outbox key of an offer's mail to a member.
pub fn offer_mail_key(offer_id: i64, customer_id: i64) -> String {
    format!("offer:{offer_id}:{customer_id}")
}

/// What the offers' write hook checks of an offer after a write.
#[derive(Debug, Clone, PartialEq)]
pub struct OfferCheck {
    pub external_id: String,
    /// `YYYY-MM-DD`.
    pub valid_from: String,
    pub valid_until: String,
    pub channel: String,
    pub text_fi: Option<String>,
    pub text_en: Option<String>,
    pub status: String,
    /// Members drawn (a sent offer has its groups).
    pub members: i64,
}

/// One arm's outcomes in the offer's window, summed over its members who bought or
/// were refunded anything in it (every other member bought nothing).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmOutcomes {
    pub control: bool,
    /// Members with a transaction in the window.
    pub active: i64,
    /// Members with an order in the window.
    pub buyers: i64,
    /// Orders in the window (refunds not counted), and the sum of each member's
    /// orders squared.
    pub orders: i64,
    pub orders_squared: i64,
    /// Orders and refunds summed (refunds are negative), minor units, and the sum of
    /// each member's revenue squared.
    pub revenue_minor: i64,
    pub revenue_squared: f64,
    /// Orders that redeem the offer: with its code, or any order when it has none.
    pub redemptions: i64,
}

/// An offer's members in one arm and tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArmGroup {
    pub control: bool,
    pub tier: String,
    pub members: i64,
    /// Members told (a mail queued or the offer marked told).
    pub told: i64,
}

/// An offer's outcomes: every arm and tier's size, and each arm's sums over its
/// members with a transaction in the window.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct OfferOutcomes {
    pub groups: Vec<ArmGroup>,
    pub arms: Vec<ArmOutcomes>,
}

/// An offer as the list shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfferListRow {
    pub id: i64,
    pub external_id: String,
    pub name: String,
    pub status: String,
    pub channel: String,
    pub audience: String,
    pub audience_value: Option<String>,
    /// `YYYY-MM-DD`.
    pub valid_from: String,
    pub valid_until: String,
    pub control_percent: i64,
    pub offer_members: i64,
    pub control_members: i64,
}

impl crate::Writer {
    /// The audience's customers with each one's reason to be left out, in this
    /// transaction, ordered by id.
    pub async fn offer_candidates(
        &mut self,
        audience: &Audience,
        needs_email: bool,
    ) -> Result<Vec<Candidate>> {
        let pg = self.tx.is_postgres();
        let (filter, value) = audience_filter(audience, pg, "$2")?;
        let sql = format!(
            "SELECT c.id, c.external_id, COALESCE(c.tier, '-'), c.name, c.email, c.locale, \
             CASE WHEN c.status = 'ended' THEN 'ended' \
                  WHEN COALESCE(c.let_lapse, FALSE) = TRUE THEN 'let_lapse' \
                  WHEN $1 AND (COALESCE(c.marketing_consent, FALSE) <> TRUE \
                      OR c.do_not_contact = TRUE) THEN 'no_consent' \
                  WHEN $1 AND (c.email IS NULL OR c.email = '') THEN 'no_email' END \
             FROM customers c WHERE {filter} ORDER BY c.id"
        );
        type Row = (
            i64,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = on_tx!(&mut self.tx, tx => sqlx::query_as(AssertSqlSafe(sql))
            .bind(needs_email)
            .bind(value)
            .fetch_all(&mut **tx)
            .await?);
        Ok(rows
            .into_iter()
            .map(|r| Candidate {
                customer_id: r.0,
                external_id: r.1,
                tier: r.2,
                name: r.3,
                email: r.4,
                locale: r.5,
                reason: r.6,
            })
            .collect())
    }

    /// Writes an offer's members in bulk (chunks of 10,000 through one JSON
    /// parameter). Returns the rows written.
    pub async fn insert_offer_members(
        &mut self,
        offer_id: i64,
        members: &[NewMember],
    ) -> Result<u64> {
        let pg = self.tx.is_postgres();
        let source = if pg {
            "SELECT c, a, t FROM jsonb_to_recordset(CAST($2 AS JSONB)) AS r(c BIGINT, a TEXT, t TEXT)"
        } else {
            "SELECT json_extract(value, '$.c'), json_extract(value, '$.a'), \
             json_extract(value, '$.t') FROM json_each($2)"
        };
        let sql = format!(
            "INSERT INTO offer_members (offer_id, customer_id, arm, tier) \
             SELECT $1, q.* FROM ({source}) q"
        );
        let mut n = 0;
        for chunk in members.chunks(10_000) {
            let json = serde_json::to_string(chunk).map_err(json_err)?;
            n += on_tx!(&mut self.tx, tx => sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(offer_id)
                .bind(json)
                .execute(&mut **tx)
                .await?
                .rows_affected());
        }
        Ok(n)
    }

    /// Marks a draft offer sent with its draw's seed; `false` when the offer is not
    /// a draft any more (sent before: nothing changes).
    pub async fn mark_offer_sent(
        &mut self,
        offer_id: i64,
        seed: i64,
        sent_at: DateTime<Utc>,
    ) -> Result<bool> {
        let sql = "UPDATE offers SET status = 'sent', seed = $2, sent_at = $3, updated_at = $3 \
                   WHERE id = $1 AND status = 'draft'";
        let n = match &mut self.tx {
            DbTx::Sqlite(tx) => sqlx::query(sql)
                .bind(offer_id)
                .bind(seed)
                .bind(kanta_domain::value::format_time(&sent_at))
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            DbTx::Postgres(tx) => sqlx::query(sql)
                .bind(offer_id)
                .bind(seed)
                .bind(sent_at)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        };
        Ok(n == 1)
    }

    /// Ties the offer arm's queued mails to their members and marks them told at
    /// `now_ms`; for the manual channel (no mail) only the told time is set when
    /// `told_without_mail`. Returns the members told.
    pub async fn link_offer_mails(
        &mut self,
        offer_id: i64,
        now_ms: i64,
        told_without_mail: bool,
    ) -> Result<u64> {
        let sql = if told_without_mail {
            "UPDATE offer_members SET told_ms = $2 WHERE offer_id = $1 AND arm = 'offer'"
        } else {
            "UPDATE offer_members SET told_ms = $2, mail_id = o.id FROM outbox o \
             WHERE offer_members.offer_id = $1 AND offer_members.arm = 'offer' \
             AND o.unique_key = 'offer:' || CAST($1 AS TEXT) || ':' || CAST(offer_members.customer_id AS TEXT)"
        };
        Ok(on_tx!(&mut self.tx, tx => sqlx::query(sql)
            .bind(offer_id)
            .bind(now_ms)
            .execute(&mut **tx)
            .await?
            .rows_affected()))
    }

    /// The offers named by `ids` (external ids) as the write hook checks them.
    pub async fn offers_to_check(&mut self, ids: &[String]) -> Result<Vec<OfferCheck>> {
        let pg = self.tx.is_postgres();
        let list = if pg {
            "(SELECT jsonb_array_elements_text(CAST($1 AS JSONB)))"
        } else {
            "(SELECT value FROM json_each($1))"
        };
        let sql = format!(
            "SELECT o.external_id, CAST(o.valid_from AS TEXT), CAST(o.valid_until AS TEXT), \
             o.channel, o.text_fi, o.text_en, o.status, \
             CAST((SELECT count(*) FROM offer_members m WHERE m.offer_id = o.id) AS BIGINT) \
             FROM offers o WHERE o.external_id IN {list} ORDER BY o.id"
        );
        type Row = (
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            String,
            i64,
        );
        let mut out = Vec::new();
        for chunk in ids.chunks(10_000) {
            let json = serde_json::to_string(chunk).map_err(json_err)?;
            let rows: Vec<Row> = on_tx!(&mut self.tx, tx => sqlx::query_as(AssertSqlSafe(sql.clone()))
                .bind(json)
                .fetch_all(&mut **tx)
                .await?);
            out.extend(rows.into_iter().map(|r| OfferCheck {
                external_id: r.0,
                valid_from: r.1,
                valid_until: r.2,
                channel: r.3,
                text_fi: r.4,
                text_en: r.5,
                status: r.6,
                members: r.7,
            }));
        }
        Ok(out)
    }
}

impl Store {
    /// An offer's arms: members and those told per arm and tier (the covering index
    /// `offer_members (offer_id, arm, tier, told_ms)`, migration 0018), and per arm the
    /// sums of the members' orders, revenue (net of refunds) and redemptions in
    /// `[from, to)`: the window's transactions summed once per customer from the
    /// covering index on `occurred_at` (migration 0016), joined to the members. A
    /// redemption is an order carrying `code`, or any order in the window when `code`
    /// is `None`. The two reads run at once.
    pub async fn offer_outcomes(
        &self,
        offer_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        code: Option<&str>,
    ) -> Result<OfferOutcomes> {
        let groups_sql = "SELECT m.arm, m.tier, CAST(count(*) AS BIGINT), \
             CAST(count(m.told_ms) AS BIGINT) \
             FROM offer_members m WHERE m.offer_id = $1 GROUP BY m.arm, m.tier ORDER BY m.arm, m.tier";
        let active_sql = "SELECT m.arm, CAST(count(*) AS BIGINT), \
             CAST(SUM(CASE WHEN w.orders > 0 THEN 1 ELSE 0 END) AS BIGINT), \
             CAST(SUM(w.orders) AS BIGINT), CAST(SUM(w.orders * w.orders) AS BIGINT), \
             CAST(SUM(w.revenue) AS BIGINT), \
             SUM(CAST(w.revenue AS DOUBLE PRECISION) * CAST(w.revenue AS DOUBLE PRECISION)), \
             CAST(SUM(w.redemptions) AS BIGINT) FROM \
             (SELECT t.customer_id, \
             CAST(SUM(CASE WHEN t.kind = 'order' THEN 1 ELSE 0 END) AS BIGINT) AS orders, \
             CAST(SUM(t.amount_minor) AS BIGINT) AS revenue, \
             CAST(SUM(CASE WHEN t.kind = 'order' AND (CAST($4 AS TEXT) IS NULL \
             OR t.offer_code = $4) THEN 1 ELSE 0 END) AS BIGINT) AS redemptions \
             FROM transactions t WHERE t.occurred_at >= $2 AND t.occurred_at < $3 \
             GROUP BY t.customer_id) w \
             JOIN offer_members m ON m.customer_id = w.customer_id AND m.offer_id = $1 \
             GROUP BY m.arm ORDER BY m.arm";
        type Group = (String, String, i64, i64);
        type Active = (String, i64, i64, i64, i64, i64, f64, i64);
        // The two reads are independent: both at once (a reader each).
        macro_rules! both {
            ($pool:expr, $from:expr, $to:expr) => {
                tokio::try_join!(
                    sqlx::query_as(groups_sql).bind(offer_id).fetch_all($pool),
                    sqlx::query_as(active_sql)
                        .bind(offer_id)
                        .bind($from)
                        .bind($to)
                        .bind(code)
                        .fetch_all($pool)
                )?
            };
        }
        let (groups, active): (Vec<Group>, Vec<Active>) = match &self.backend {
            crate::Backend::Sqlite(pool) => {
                let t = kanta_domain::value::format_time;
                both!(pool, t(&from), t(&to))
            }
            crate::Backend::Postgres(pool) => both!(pool, from, to),
        };
        Ok(OfferOutcomes {
            groups: groups
                .into_iter()
                .map(|g| ArmGroup {
                    control: g.0 == "control",
                    tier: g.1,
                    members: g.2,
                    told: g.3,
                })
                .collect(),
            arms: active
                .into_iter()
                .map(|r| ArmOutcomes {
                    control: r.0 == "control",
                    active: r.1,
                    buyers: r.2,
                    orders: r.3,
                    orders_squared: r.4,
                    revenue_minor: r.5,
                    revenue_squared: r.6,
                    redemptions: r.7,
                })
                .collect(),
        })
    }

    /// Every offer, newest first, with its arms' sizes.
    pub async fn offer_list(&self) -> Result<Vec<OfferListRow>> {
        let sql = "SELECT o.id, o.external_id, o.name, o.status, o.channel, o.audience, \
             o.audience_value, CAST(o.valid_from AS TEXT), CAST(o.valid_until AS TEXT), \
             CAST(o.control_percent AS BIGINT), \
             CAST((SELECT count(*) FROM offer_members m WHERE m.offer_id = o.id AND m.arm = 'offer') AS BIGINT), \
             CAST((SELECT count(*) FROM offer_members m WHERE m.offer_id = o.id AND m.arm = 'control') AS BIGINT) \
             FROM offers o ORDER BY o.id DESC";
        type Row = (
            i64,
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            String,
            String,
            i64,
            i64,
            i64,
        );
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|r| OfferListRow {
                id: r.0,
                external_id: r.1,
                name: r.2,
                status: r.3,
                channel: r.4,
                audience: r.5,
                audience_value: r.6,
                valid_from: r.7,
                valid_until: r.8,
                control_percent: r.9,
                offer_members: r.10,
                control_members: r.11,
            })
            .collect())
    }

    /// The external ids of an offer's members in one arm (`offer` or `control`),
    /// ordered (the drill-down from a figure to its customers).
    pub async fn offer_member_ids(&self, offer_id: i64, arm: &str) -> Result<Vec<String>> {
        let sql = "SELECT c.external_id FROM offer_members m JOIN customers c ON c.id = m.customer_id \
                   WHERE m.offer_id = $1 AND m.arm = $2 ORDER BY c.external_id";
        Ok(with_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(offer_id)
            .bind(arm)
            .fetch_all(pool)
            .await?))
    }
}
