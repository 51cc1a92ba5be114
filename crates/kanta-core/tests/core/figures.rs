//! A customer's figures: the same numbers from the customer's page
//! (`Core::customer_with_figures`) and from the customer list's row.

use kanta_core::Acting;
use kanta_core::figures::CustomerFigures;
use kanta_domain::schema::{TRANSACTIONS, TRUST_LEDGER};
use kanta_domain::{Value, WriteBatch};
use kanta_store::records::CustomerFilter;

use crate::support::{at, each_core, fields, text, time};

#[tokio::test]
async fn figures_count_refunds_apart_from_orders() {
    each_core(|backend, core| async move {
        let f = fields(
            &TRANSACTIONS,
            &["customer_id", "occurred_at", "amount", "currency", "kind"],
        );
        let mut b = WriteBatch::new(&TRANSACTIONS, f);
        for (id, day, amount, kind) in [
            ("o1", 1, 1000, "order"),
            ("o2", 5, 2000, "order"),
            ("o3", 9, 3000, "order"),
            ("r1", 12, -500, "refund"),
        ] {
            b.push(
                id.into(),
                [
                    text("c1"),
                    time(2024, 4, day),
                    Value::Int(amount),
                    text("EUR"),
                    text(kind),
                ],
            );
        }
        // Another customer's order counts for them only.
        b.push(
            "x1".into(),
            [
                text("c2"),
                time(2024, 4, 2),
                Value::Int(99_900),
                text("EUR"),
                text("order"),
            ],
        );
        core.write_batch(&Acting::cli(), b).await.unwrap();
        let mut trust = WriteBatch::new(
            &TRUST_LEDGER,
            fields(
                &TRUST_LEDGER,
                &["customer_id", "occurred_at", "delta", "reason"],
            ),
        );
        trust.push(
            "t1".into(),
            [
                text("c1"),
                time(2024, 4, 3),
                Value::Int(3),
                text("kept a promise"),
            ],
        );
        trust.push(
            "t2".into(),
            [
                text("c1"),
                time(2024, 4, 4),
                Value::Int(-1),
                text("late delivery"),
            ],
        );
        core.write_batch(&Acting::cli(), trust).await.unwrap();

        let (c1, figures) = core.customer_with_figures("c1").await.unwrap().unwrap();
        assert_eq!(c1.external_id, "c1");
        assert_eq!(
            figures,
            CustomerFigures {
                orders: 3,
                refunds: 1,
                revenue_minor: 5500,
                order_revenue_minor: 5500,
                subscription_revenue_minor: 0,
                refunded_minor: 500,
                average_order_minor: Some(2000),
                currency: "EUR".into(),
                first_purchase_at: Some(at(2024, 4, 1)),
                last_purchase_at: Some(at(2024, 4, 9)),
                plan: None,
                mrr_minor: 0,
                next_renewal_on: None,
                trust_balance: Some(2),
            },
            "{backend}"
        );

        // The customer list's row gives the same figures (no trust balance there).
        let page = core
            .store()
            .customers(&CustomerFilter {
                search: Some("c1".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page.customers.len(), 1, "{backend}");
        let row = &page.customers[0];
        assert_eq!(row.id, "c1");
        assert_eq!(row.orders_count, 3);
        let from_row = CustomerFigures::of_summary(row, "EUR");
        assert_eq!(
            from_row,
            CustomerFigures {
                trust_balance: None,
                ..figures
            },
            "{backend}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_customer_without_orders_has_no_average() {
    each_core(|backend, core| async move {
        let mut b = WriteBatch::new(
            &TRANSACTIONS,
            fields(
                &TRANSACTIONS,
                &["customer_id", "occurred_at", "amount", "currency", "kind"],
            ),
        );
        b.push(
            "r1".into(),
            [
                text("c1"),
                time(2024, 4, 1),
                Value::Int(-700),
                text("EUR"),
                text("refund"),
            ],
        );
        core.write_batch(&Acting::cli(), b).await.unwrap();
        let (_, f) = core.customer_with_figures("c1").await.unwrap().unwrap();
        assert_eq!(
            (
                f.orders,
                f.refunds,
                f.revenue_minor,
                f.refunded_minor,
                f.average_order_minor
            ),
            (0, 1, -700, 700, None),
            "{backend}"
        );
        assert_eq!(f.trust_balance, Some(0));
    })
    .await;
}
