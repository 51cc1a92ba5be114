//! Per-customer totals of the transactions (`transactions_count`, `revenue_minor`,
//! `first_purchase_at`, `last_purchase_at` on `customers`; `refunds_count` and
//! `refunds_minor`, the refunds among them, migration 0006), kept by the
//! [`Writer`](crate::Writer) in the same transaction as the rows they sum.
//!
//! The customer list sorts 100,000 customers by revenue or last purchase; summing a
//! million transactions per page would take seconds, walking an index over these
//! columns takes a millisecond. Before a write of transactions merges, it sums its new
//! rows per customer and notes the customers of rows it changes; after the merge it
//! adds the sums and recomputes the noted customers from their rows; rows that stay
//! as they were cost nothing. A bulk load into the empty table sums its rows as they
//! pass ([`add_batch`]) and sets everyone's totals at the end.
//!
//! **Invariant:** whatever changes or deletes transactions outside the writer must
//! recompute the totals of the customers concerned ([`recompute_for`]).

use chrono::{DateTime, Utc};
use kanta_domain::Value;
use kanta_domain::schema::Field;
use rustc_hash::FxHashMap as HashMap;

use crate::WriteBatch;

/// The stage's columns that totals depend on.
const SUMMED: [&str; 4] = ["customer_id", "amount_minor", "kind", "occurred_at"];

/// Statements to run before the stage is merged, noting what the merge will change:
/// - `kanta_added`: per customer, the count, sum, refunds' count and sum, and first and
///   latest order of the stage's new rows (added to the totals after the merge, no
///   rows re-read);
/// - `kanta_touched`: the old and new customers of existing rows whose customer,
///   amount, kind or time the merge changes (their totals are recomputed from their
///   rows).
///
/// Rows the merge leaves as they are touch nothing. On PostgreSQL the customers
/// concerned are locked in id order, so two writers touching one customer take turns.
pub(crate) fn before_merge(fields: &[&Field], postgres: bool) -> Vec<String> {
    let has = |c: &str| fields.iter().any(|f| f.column == c);
    let temp = |name: &str, select: &str| {
        if postgres {
            vec![
                format!("CREATE TEMP TABLE {name} ON COMMIT DROP AS {select}"),
                // Temporary tables have no statistics until analysed.
                format!("ANALYZE {name}"),
            ]
        } else {
            vec![
                format!("DROP TABLE IF EXISTS temp.{name}"),
                format!("CREATE TEMP TABLE {name} AS {select}"),
            ]
        }
    };
    // New rows need a customer, an amount and a time; the kind defaults to an order.
    let added = if has("customer_id") && has("amount_minor") && has("occurred_at") {
        let (is_order, is_refund) = if has("kind") {
            ("s.kind = 'order'", "s.kind = 'refund'")
        } else {
            ("1 = 1", "1 = 0")
        };
        format!(
            "SELECT s.customer_id, count(*) AS n, CAST(coalesce(sum(s.amount_minor), 0) AS BIGINT) AS revenue, \
             CAST(count(CASE WHEN {is_refund} THEN 1 END) AS BIGINT) AS refunds, \
             CAST(coalesce(sum(CASE WHEN {is_refund} THEN s.amount_minor END), 0) AS BIGINT) AS refunds_sum, \
             min(CASE WHEN {is_order} THEN s.occurred_at END) AS first_order, \
             max(CASE WHEN {is_order} THEN s.occurred_at END) AS last_order \
             FROM kanta_stage s \
             WHERE NOT EXISTS (SELECT 1 FROM transactions t WHERE t.external_id = s.external_id) \
             GROUP BY s.customer_id"
        )
    } else {
        "SELECT customer_id, 0 AS n, 0 AS revenue, 0 AS refunds, 0 AS refunds_sum, \
         occurred_at AS first_order, occurred_at AS last_order FROM transactions WHERE 1 = 0"
            .to_string()
    };
    let changed: Vec<String> = SUMMED
        .iter()
        .filter(|c| has(c))
        .map(|c| format!("t.{c} IS DISTINCT FROM s.{c}"))
        .collect();
    let touched = if changed.is_empty() {
        "SELECT customer_id FROM transactions WHERE 1 = 0".to_string()
    } else {
        let join = format!(
            "FROM transactions t JOIN kanta_stage s ON s.external_id = t.external_id WHERE {}",
            changed.join(" OR ")
        );
        if has("customer_id") {
            format!("SELECT t.customer_id {join} UNION SELECT s.customer_id {join}")
        } else {
            format!("SELECT DISTINCT t.customer_id {join}")
        }
    };
    let mut v = temp("kanta_added", &added);
    v.extend(temp("kanta_touched", &touched));
    if postgres {
        // NO KEY: the totals are no key, so inserts of rows that reference these
        // customers (their foreign keys' KEY SHARE locks) need not wait.
        v.push(
            "SELECT id FROM customers WHERE id IN \
             (SELECT customer_id FROM kanta_touched UNION SELECT customer_id FROM kanta_added) \
             ORDER BY id FOR NO KEY UPDATE"
                .into(),
        );
    }
    v
}

/// After the merge: adds the new rows' sums, then recomputes the touched customers.
pub(crate) fn after_merge(postgres: bool) -> Vec<String> {
    let mut v = vec![
        format!(
            "{ADD_SET} FROM kanta_added a WHERE customers.id = a.customer_id \
             AND NOT EXISTS (SELECT 1 FROM kanta_touched k WHERE k.customer_id = a.customer_id)"
        ),
        recompute_for("SELECT customer_id FROM kanta_touched"),
    ];
    if !postgres {
        v.push("DROP TABLE temp.kanta_added".into());
        v.push("DROP TABLE temp.kanta_touched".into());
    }
    v
}

/// Adds the sums of new rows, from a relation `a` (customer id, `n`, `revenue`,
/// `refunds`, `refunds_sum`, `first_order`, `last_order`), to the customers' totals;
/// the statement goes on with `FROM ... a WHERE customers.id = a....`.
const ADD_SET: &str = "UPDATE customers SET transactions_count = transactions_count + a.n, \
     revenue_minor = revenue_minor + a.revenue, \
     refunds_count = refunds_count + a.refunds, \
     refunds_minor = refunds_minor + a.refunds_sum, \
     first_purchase_at = CASE WHEN a.first_order IS NULL THEN first_purchase_at \
       WHEN first_purchase_at IS NULL OR a.first_order < first_purchase_at THEN a.first_order \
       ELSE first_purchase_at END, \
     last_purchase_at = CASE WHEN a.last_order IS NULL THEN last_purchase_at \
       WHEN last_purchase_at IS NULL OR a.last_order > last_purchase_at THEN a.last_order \
       ELSE last_purchase_at END";

/// The relation of sums as [`SET_FROM_JSON`] and [`SET_FROM_ARRAYS`] take it, for
/// [`ADD_SET`].
const JSON_SUMS: &str = "(SELECT value->>0 AS id, value->>1 AS n, value->>2 AS revenue, \
     value->>3 AS refunds, value->>4 AS refunds_sum, value->>5 AS first_order, \
     value->>6 AS last_order FROM json_each($1)) a";
const ARRAY_SUMS: &str = "UNNEST($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], \
     $6::timestamptz[], $7::timestamptz[]) \
     AS a(id, n, revenue, refunds, refunds_sum, first_order, last_order)";

/// SQLite: the statement that adds sums of new rows (summed in Rust as they passed,
/// see [`add_batch`]) to the customers' totals, taking them as [`SET_FROM_JSON`] does.
pub(crate) fn add_from_json() -> String {
    format!("{ADD_SET} FROM {JSON_SUMS} WHERE customers.id = a.id")
}

/// PostgreSQL: the statement that adds sums of new rows to the customers' totals
/// (`add`), or sets the totals to them (after a bulk load), taking them as
/// [`SET_FROM_ARRAYS`] does, and sets the customer list's sort keys of the
/// customers it changed in the same statement: one set-based update instead of
/// migration 0020's row trigger, which the caller turns off for the statement
/// (`kanta.sort_keys_set`, migration 0021).
pub(crate) fn from_arrays(add: bool) -> String {
    let update = if add {
        format!("{ADD_SET} FROM {ARRAY_SUMS} WHERE customers.id = a.id")
    } else {
        SET_FROM_ARRAYS.to_string()
    };
    format!(
        "WITH u AS ({update} RETURNING customers.id, \
           customers.revenue_minor + customers.subscription_revenue_minor AS rk, \
           customers.last_purchase_at AS lp) \
         UPDATE customer_sort_keys k SET revenue_key = u.rk, last_purchase_at = u.lp FROM u \
         WHERE k.customer_id = u.id \
           AND (k.revenue_key IS DISTINCT FROM u.rk OR k.last_purchase_at IS DISTINCT FROM u.lp)"
    )
}

/// Up to this many customers, added totals leave the sort keys to migration 0020's
/// row trigger ([`add_from_arrays_by_trigger`]) rather than turning it off for a
/// statement that sets them: one statement less for an API create.
pub(crate) const FEW_CUSTOMERS: usize = 8;

/// PostgreSQL: adds the sums to the customers' totals; the trigger sets their sort keys.
pub(crate) fn add_from_arrays_by_trigger() -> String {
    format!("{ADD_SET} FROM {ARRAY_SUMS} WHERE customers.id = a.id")
}

/// PostgreSQL: [`add_from_arrays_by_trigger`] of one customer's sums, bound as
/// scalars in the order of [`ARRAY_SUMS`]'s arrays.
pub(crate) fn add_one() -> String {
    format!(
        "{ADD_SET} FROM (SELECT CAST($1 AS BIGINT) AS id, CAST($2 AS BIGINT) AS n, \
         CAST($3 AS BIGINT) AS revenue, CAST($4 AS BIGINT) AS refunds, \
         CAST($5 AS BIGINT) AS refunds_sum, CAST($6 AS TIMESTAMPTZ) AS first_order, \
         CAST($7 AS TIMESTAMPTZ) AS last_order) a WHERE customers.id = a.id"
    )
}

/// PostgreSQL: turns migration 0020's row trigger on customers' sort keys off (`on`)
/// for the statements of [`from_arrays`], which set the keys themselves, and on again.
pub(crate) fn sort_keys_set(on: bool) -> String {
    format!(
        "SELECT set_config('kanta.sort_keys_set', '{}', true)",
        if on { "on" } else { "off" }
    )
}

/// Recomputes the totals of the customers whose ids `ids_sql` selects (as a column
/// `customer_id`; repeats are fine):
/// one grouped pass over their rows through the `(customer_id, occurred_at)` index,
/// customers left without rows getting zeros.
pub(crate) fn recompute_for(ids_sql: &str) -> String {
    format!(
        "UPDATE customers SET transactions_count = a.n, revenue_minor = a.revenue, \
         refunds_count = a.refunds, refunds_minor = a.refunds_minor, \
         first_purchase_at = a.first_order, last_purchase_at = a.last_order \
         FROM (SELECT k.customer_id, count(t.id) AS n, \
               CAST(coalesce(sum(t.amount_minor), 0) AS BIGINT) AS revenue, \
               CAST(count(CASE WHEN t.kind = 'refund' THEN 1 END) AS BIGINT) AS refunds, \
               CAST(coalesce(sum(CASE WHEN t.kind = 'refund' THEN t.amount_minor END), 0) AS BIGINT) AS refunds_minor, \
               min(CASE WHEN t.kind = 'order' THEN t.occurred_at END) AS first_order, \
               max(CASE WHEN t.kind = 'order' THEN t.occurred_at END) AS last_order \
               FROM (SELECT DISTINCT customer_id FROM ({ids_sql}) d) k LEFT JOIN transactions t ON t.customer_id = k.customer_id \
               GROUP BY k.customer_id) a \
         WHERE customers.id = a.customer_id"
    )
}

/// One customer's totals, summed in Rust as a bulk load passes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CustomerTotals {
    pub count: i64,
    pub revenue: i64,
    /// The refunds among the rows: their count and their amounts (negative) summed.
    pub refunds: i64,
    pub refunds_minor: i64,
    pub first_order: Option<DateTime<Utc>>,
    pub last_order: Option<DateTime<Utc>>,
}

/// Totals by internal customer id.
pub(crate) type TotalsByCustomer = rustc_hash::FxHashMap<i64, CustomerTotals>;

/// Adds a batch of transactions (references resolved through `refs`) to `sums`.
/// A bulk load goes into an empty table, so these sums are the whole totals, and
/// summing the rows as they pass saves reading a million of them back; rows written
/// straight into the table (all new) are added to the totals the same way.
pub(crate) fn add_batch(
    sums: &mut TotalsByCustomer,
    batch: &WriteBatch,
    refs: &HashMap<&'static str, HashMap<String, i64>>,
) {
    let pos = |name: &str| {
        batch
            .fields
            .iter()
            .position(|f| f.name == name)
            .map(|k| k + 1)
    };
    let (Some(c), Some(a), Some(t)) = (pos("customer_id"), pos("amount"), pos("occurred_at"))
    else {
        return;
    };
    let kind = pos("kind");
    let ids = refs.get("customer_id");
    for row in batch.values.chunks(batch.stride()) {
        let id = match &row[c] {
            Value::Int(id) => Some(*id),
            Value::Text(ext) => ids.and_then(|m| m.get(ext)).copied(),
            _ => None,
        };
        let Some(id) = id else { continue };
        let s = sums.entry(id).or_default();
        let amount = row[a].as_int().unwrap_or(0);
        s.count += 1;
        // Amounts are within ±10^13 (`kanta_domain::money::MAX_MINOR`), so a customer
        // needs 900,000 of them at the bound to reach i64's end: saturate rather than wrap.
        s.revenue = s.revenue.saturating_add(amount);
        if kind.is_some_and(|k| row[k].as_text() == Some("refund")) {
            s.refunds += 1;
            s.refunds_minor = s.refunds_minor.saturating_add(amount);
        }
        let is_order = kind.is_none_or(|k| row[k].as_text().is_none_or(|v| v == "order"));
        if is_order && let Value::Time(at) = &row[t] {
            s.first_order = Some(s.first_order.map_or(*at, |f| f.min(*at)));
            s.last_order = Some(s.last_order.map_or(*at, |l| l.max(*at)));
        }
    }
}

/// SQLite: sets totals from a JSON array of `[id, count, revenue, refunds,
/// refunds_minor, first_order, last_order]`.
pub(crate) const SET_FROM_JSON: &str = "UPDATE customers SET transactions_count = a.n, \
     revenue_minor = a.revenue, refunds_count = a.refunds, refunds_minor = a.refunds_minor, \
     first_purchase_at = a.first_order, last_purchase_at = a.last_order \
     FROM (SELECT value->>0 AS id, value->>1 AS n, value->>2 AS revenue, value->>3 AS refunds, \
           value->>4 AS refunds_minor, value->>5 AS first_order, value->>6 AS last_order \
           FROM json_each($1)) a \
     WHERE customers.id = a.id";

/// PostgreSQL: sets totals from arrays of ids, counts, revenues, refunds' counts and
/// sums, first and last orders.
pub(crate) const SET_FROM_ARRAYS: &str = "UPDATE customers SET transactions_count = a.n, \
     revenue_minor = a.revenue, refunds_count = a.refunds, refunds_minor = a.refunds_minor, \
     first_purchase_at = a.first_order, last_purchase_at = a.last_order \
     FROM UNNEST($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], \
                 $6::timestamptz[], $7::timestamptz[]) \
     AS a(id, n, revenue, refunds, refunds_minor, first_order, last_order) \
     WHERE customers.id = a.id";
