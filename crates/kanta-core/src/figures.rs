//! A customer's figures, from one place: every page, list, command and API answer
//! shows the same revenue, orders, refunds, average order, last purchase, trust
//! balance and subscriptions (plan, MRR, next renewal).
//!
//! The figures come from the totals the store keeps on `customers` in the same
//! transaction as the transactions they sum (`transactions_count`, `refunds_count`,
//! `revenue_minor`, `refunds_minor`, first and last purchase) and from the
//! subscriptions' figures it keeps beside them (`mrr_minor`,
//! `subscription_revenue_minor`, `next_renewal_on`, `plan`: migration 0007), so
//! showing them never reads a customer's whole history. Refunds are counted apart
//! from orders; the average order is the orders' own average.
//!
//! **Revenue** is the orders net of refunds plus what the subscriptions billed:
//! subscription revenue is *billed periods* (`kanta_domain::subscription`: the amount
//! at the start of each period from the start, up to and including the period that
//! holds today, never from the end date on). Both parts are shown apart as
//! `order_revenue_minor` and `subscription_revenue_minor`.

use chrono::{DateTime, NaiveDate, Utc};
use kanta_store::{CustomerSummary, Record};
use serde::Serialize;

use crate::{Core, Result};

/// What a customer has bought and been given back, and how they trust us.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerFigures {
    /// Orders (transactions of kind `order`).
    pub orders: i64,
    /// Refunds (transactions of kind `refund`), counted apart from orders.
    pub refunds: i64,
    /// Revenue: orders net of refunds plus subscriptions billed, in minor units.
    pub revenue_minor: i64,
    /// The orders' part of revenue: orders net of refunds.
    pub order_revenue_minor: i64,
    /// The subscriptions' part of revenue: the periods billed to date.
    pub subscription_revenue_minor: i64,
    /// What the refunds gave back, as a positive amount in minor units.
    pub refunded_minor: i64,
    /// The orders' average value (before refunds), when there are orders.
    pub average_order_minor: Option<i64>,
    /// The currency of the money figures (ISO 4217).
    pub currency: String,
    pub first_purchase_at: Option<DateTime<Utc>>,
    pub last_purchase_at: Option<DateTime<Utc>>,
    /// The active subscriptions' plans, comma-joined (none without one).
    pub plan: Option<String>,
    /// Monthly recurring revenue: the active subscriptions' amounts per month (week
    /// × 52 / 12, quarter / 3, year / 12), in minor units.
    pub mrr_minor: i64,
    /// The nearest renewal of a subscription that has not ended.
    pub next_renewal_on: Option<NaiveDate>,
    /// The trust ledger's balance (credits minus debits), when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_balance: Option<i64>,
}

impl CustomerFigures {
    /// The figures of a row of the customer list (no trust balance: the list's row
    /// carries it apart).
    pub fn of_summary(s: &CustomerSummary, currency: &str) -> CustomerFigures {
        let orders = s.orders_count;
        let gross = s.revenue_minor - s.refunds_minor;
        CustomerFigures {
            orders,
            refunds: s.refunds_count,
            revenue_minor: s.revenue_minor.saturating_add(s.subscription_revenue_minor),
            order_revenue_minor: s.revenue_minor,
            subscription_revenue_minor: s.subscription_revenue_minor,
            refunded_minor: -s.refunds_minor,
            average_order_minor: (orders > 0).then(|| div_round(gross, orders)),
            currency: currency.to_string(),
            first_purchase_at: s.first_purchase_at,
            last_purchase_at: s.last_purchase_at,
            plan: s.plan.clone(),
            mrr_minor: s.mrr_minor,
            next_renewal_on: s.next_renewal_on,
            trust_balance: None,
        }
    }
}

/// `a / b` rounded half away from zero (money's rule).
fn div_round(a: i64, b: i64) -> i64 {
    let (q, r) = (a / b, a % b);
    if 2 * r.abs() >= b.abs() {
        q + a.signum() * b.signum()
    } else {
        q
    }
}

impl Core {
    /// A customer by external id with their figures (and trust balance), read in one
    /// query; `None` when there is no such customer.
    pub async fn customer_with_figures(
        &self,
        external_id: &str,
    ) -> Result<Option<(Record, CustomerFigures)>> {
        let Some(c) = self.store.customer_with_totals(external_id).await? else {
            return Ok(None);
        };
        let currency = match c.record.text("currency") {
            Some(cur) => cur.to_string(),
            None => self.currency().await?.to_string(),
        };
        let mut f = CustomerFigures::of_summary(&c.summary, &currency);
        f.trust_balance = Some(c.trust_balance);
        Ok(Some((c.record, f)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_round_half_away_from_zero() {
        assert_eq!(div_round(10, 4), 3);
        assert_eq!(div_round(9, 4), 2);
        assert_eq!(div_round(-10, 4), -3);
        assert_eq!(div_round(6000, 3), 2000);
    }
}
