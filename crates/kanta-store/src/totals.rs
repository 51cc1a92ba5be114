//! Per-customer totals of the transactions (`transactions_count`, `revenue_minor`,
//! `last_purchase_at` on `customers`), kept by the [`Writer`](crate::Writer) in the same
//! transaction as the rows they sum.
//!
//! The customer list sorts 100,000 customers by revenue or last purchase; summing a
//! million transactions per page would take seconds, walking an index over these
//! columns takes a millisecond. A write of transactions first notes which customers
//! it touches (those its rows name, and those that owned rows it changes), merges,
//! then recomputes those customers' totals from their rows; a bulk load into the
//! empty table computes everyone's in one grouped pass.
//!
//! **Invariant:** whatever changes or deletes transactions outside the writer must
//! recompute the totals of the customers concerned ([`recompute_for`]).

use kanta_domain::schema::Field;

/// Statements to run before the stage is merged: the touched customers into
/// `kanta_touched` and, on PostgreSQL, their rows locked in id order, so two writers
/// touching one customer recompute one after the other and the later sees the
/// earlier's rows.
pub(crate) fn before_merge(fields: &[&Field], postgres: bool) -> Vec<String> {
    let named = fields.iter().any(|f| f.column == "customer_id");
    let select = format!(
        "{}SELECT t.customer_id FROM transactions t JOIN kanta_stage s ON s.external_id = t.external_id",
        if named {
            "SELECT customer_id FROM kanta_stage UNION "
        } else {
            ""
        }
    );
    if postgres {
        vec![
            format!("CREATE TEMP TABLE kanta_touched ON COMMIT DROP AS {select}"),
            "SELECT id FROM customers WHERE id IN (SELECT customer_id FROM kanta_touched) ORDER BY id FOR UPDATE"
                .into(),
        ]
    } else {
        vec![
            "DROP TABLE IF EXISTS temp.kanta_touched".into(),
            format!("CREATE TEMP TABLE kanta_touched AS {select}"),
        ]
    }
}

/// Recomputes the totals of the customers in `kanta_touched`.
pub(crate) fn after_merge(postgres: bool) -> Vec<String> {
    let mut v = vec![recompute_for("SELECT customer_id FROM kanta_touched")];
    if !postgres {
        v.push("DROP TABLE temp.kanta_touched".into());
    }
    v
}

/// Recomputes the totals of the customers whose ids `ids_sql` selects (each from its
/// own rows, through the `(customer_id, occurred_at)` index).
pub(crate) fn recompute_for(ids_sql: &str) -> String {
    format!(
        "UPDATE customers SET \
         transactions_count = (SELECT count(*) FROM transactions t WHERE t.customer_id = customers.id), \
         revenue_minor = (SELECT CAST(coalesce(sum(t.amount_minor), 0) AS BIGINT) FROM transactions t WHERE t.customer_id = customers.id), \
         last_purchase_at = (SELECT max(t.occurred_at) FROM transactions t WHERE t.customer_id = customers.id AND t.kind = 'order') \
         WHERE id IN ({ids_sql})"
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
