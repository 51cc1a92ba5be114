//! Per-customer totals of the transactions (`transactions_count`, `revenue_minor`,
//! `last_purchase_at` on `customers`), kept by the [`Writer`](crate::Writer) in the same
//! transaction as the rows they sum.
//!
//! The customer list sorts 100,000 customers by revenue or last purchase; summing a
//! million transactions per page would take seconds, walking an index over these
//! columns takes a millisecond. Before a write of transactions merges, it sums its new
//! rows per customer and notes the customers of rows it changes; after the merge it
//! adds the sums and recomputes the noted customers from their rows; rows that stay
//! as they were cost nothing. A bulk load into the empty table computes everyone's
//! totals in one grouped pass.
//!
//! **Invariant:** whatever changes or deletes transactions outside the writer must
//! recompute the totals of the customers concerned ([`recompute_for`]).

use kanta_domain::schema::Field;

/// The stage's columns that totals depend on.
const SUMMED: [&str; 4] = ["customer_id", "amount_minor", "kind", "occurred_at"];

/// Statements to run before the stage is merged, noting what the merge will change:
/// - `kanta_added`: per customer, the count, sum and latest order of the stage's new
///   rows (added to the totals after the merge, no rows re-read);
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
        let is_order = if has("kind") {
            "s.kind = 'order'"
        } else {
            "1 = 1"
        };
        format!(
            "SELECT s.customer_id, count(*) AS n, CAST(coalesce(sum(s.amount_minor), 0) AS BIGINT) AS revenue, \
             max(CASE WHEN {is_order} THEN s.occurred_at END) AS last_order \
             FROM kanta_stage s \
             WHERE NOT EXISTS (SELECT 1 FROM transactions t WHERE t.external_id = s.external_id) \
             GROUP BY s.customer_id"
        )
    } else {
        "SELECT customer_id, 0 AS n, 0 AS revenue, occurred_at AS last_order FROM transactions WHERE 1 = 0"
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
        v.push(
            "SELECT id FROM customers WHERE id IN \
             (SELECT customer_id FROM kanta_touched UNION SELECT customer_id FROM kanta_added) \
             ORDER BY id FOR UPDATE"
                .into(),
        );
    }
    v
}

/// After the merge: adds the new rows' sums, then recomputes the touched customers.
pub(crate) fn after_merge(postgres: bool) -> Vec<String> {
    let mut v = vec![
        "UPDATE customers SET transactions_count = transactions_count + a.n, \
         revenue_minor = revenue_minor + a.revenue, \
         last_purchase_at = CASE WHEN a.last_order IS NULL THEN last_purchase_at \
           WHEN last_purchase_at IS NULL OR a.last_order > last_purchase_at THEN a.last_order \
           ELSE last_purchase_at END \
         FROM kanta_added a WHERE customers.id = a.customer_id \
         AND NOT EXISTS (SELECT 1 FROM kanta_touched k WHERE k.customer_id = a.customer_id)"
            .to_string(),
        recompute_for("SELECT customer_id FROM kanta_touched"),
    ];
    if !postgres {
        v.push("DROP TABLE temp.kanta_added".into());
        v.push("DROP TABLE temp.kanta_touched".into());
    }
    v
}

/// Recomputes the totals of the customers whose ids `ids_sql` selects (as a column
/// `customer_id`; repeats are fine):
/// one grouped pass over their rows through the `(customer_id, occurred_at)` index,
/// customers left without rows getting zeros.
pub(crate) fn recompute_for(ids_sql: &str) -> String {
    format!(
        "UPDATE customers SET transactions_count = a.n, revenue_minor = a.revenue, last_purchase_at = a.last_order \
         FROM (SELECT k.customer_id, count(t.id) AS n, \
               CAST(coalesce(sum(t.amount_minor), 0) AS BIGINT) AS revenue, \
               max(CASE WHEN t.kind = 'order' THEN t.occurred_at END) AS last_order \
               FROM (SELECT DISTINCT customer_id FROM ({ids_sql}) d) k LEFT JOIN transactions t ON t.customer_id = k.customer_id \
               GROUP BY k.customer_id) a \
         WHERE customers.id = a.customer_id"
    )
}

/// After a bulk load into the empty transactions table: everyone's totals in one
/// grouped pass (no customer had any before).
pub(crate) fn after_bulk_load() -> String {
    "UPDATE customers SET transactions_count = a.n, revenue_minor = a.revenue, last_purchase_at = a.last_order \
     FROM (SELECT customer_id, count(*) AS n, CAST(coalesce(sum(amount_minor), 0) AS BIGINT) AS revenue, \
           max(CASE WHEN kind = 'order' THEN occurred_at END) AS last_order \
           FROM transactions GROUP BY customer_id) a \
     WHERE customers.id = a.customer_id"
        .into()
}
