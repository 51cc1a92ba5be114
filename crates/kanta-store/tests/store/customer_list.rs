//! The customer list's totals (kept by the writer) and every sort, forwards and from
//! the far end.

use chrono::{DateTime, Utc};
use kanta_domain::Value;
use kanta_domain::schema::{CUSTOMERS, TRANSACTIONS};
use kanta_store::records::{CustomerFilter, CustomerSort};
use kanta_store::{Store, WriteBatch};

use crate::{each_backend, fields, raw_execute, t, text};

fn order(id: &str, customer: &str, day: u32, amount: i64, kind: &str) -> (String, [Value; 5]) {
    (
        id.to_string(),
        [
            text(customer),
            t(day),
            Value::Int(amount),
            text("EUR"),
            text(kind),
        ],
    )
}

fn batch(rows: Vec<(String, [Value; 5])>) -> WriteBatch {
    let mut b = WriteBatch::new(
        &TRANSACTIONS,
        fields(
            &TRANSACTIONS,
            &["customer_id", "occurred_at", "amount", "currency", "kind"],
        ),
    );
    for (id, v) in rows {
        b.push(id, v);
    }
    b
}

/// The invariant: every customer's totals equal the sums of their transactions, read
/// back row by row.
async fn totals_match_rows(store: &Store) {
    let p = store
        .customers(&CustomerFilter {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(p.total as usize == p.customers.len());
    for c in &p.customers {
        let record = store.customer(&c.id).await.unwrap().unwrap();
        let rows = store
            .records_of_customer(&TRANSACTIONS, record.id)
            .await
            .unwrap();
        let amount = |r: &kanta_store::Record| r.get("amount").as_int().unwrap();
        let is = |kind: &'static str| move |r: &&kanta_store::Record| r.text("kind") == Some(kind);
        let orders: Vec<DateTime<Utc>> = rows
            .iter()
            .filter(is("order"))
            .map(|r| match r.get("occurred_at") {
                Value::Time(t) => *t,
                v => panic!("{v:?}"),
            })
            .collect();
        let refunds = rows.iter().filter(is("refund"));
        assert_eq!(c.transactions as usize, rows.len(), "{}", c.id);
        assert_eq!(
            c.revenue_minor,
            rows.iter().map(amount).sum::<i64>(),
            "{}",
            c.id
        );
        assert_eq!(
            c.refunds_count as usize,
            refunds.clone().count(),
            "{}",
            c.id
        );
        assert_eq!(
            c.refunds_minor,
            refunds.map(amount).sum::<i64>(),
            "{}",
            c.id
        );
        assert_eq!(c.orders_count as usize, orders.len(), "{}", c.id);
        assert_eq!(c.orders_count, c.transactions - c.refunds_count);
        assert_eq!(
            c.first_purchase_at,
            orders.iter().min().copied(),
            "{}",
            c.id
        );
        assert_eq!(c.last_purchase_at, orders.iter().max().copied(), "{}", c.id);
    }
    // The revenue and last-purchase sorts follow the totals just checked (PostgreSQL
    // walks `customer_sort_keys`, which its triggers keep: migration 0020).
    let newest = store
        .customers(&CustomerFilter {
            sort: CustomerSort::Newest,
            limit: 10_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .customers;
    for sort in [CustomerSort::Revenue, CustomerSort::LastPurchase] {
        let page = store
            .customers(&CustomerFilter {
                sort,
                limit: 10_000,
                ..Default::default()
            })
            .await
            .unwrap();
        let ids = |list: &[kanta_store::records::CustomerSummary]| {
            list.iter().map(|c| c.id.clone()).collect::<Vec<_>>()
        };
        let mut expected = p.customers.clone();
        match sort {
            CustomerSort::Revenue => expected.sort_by_key(|c| {
                (
                    std::cmp::Reverse(c.revenue_minor + c.subscription_revenue_minor),
                    store_order(&newest, &c.id),
                )
            }),
            _ => expected.sort_by_key(|c| {
                (
                    c.last_purchase_at.is_none(),
                    std::cmp::Reverse(c.last_purchase_at),
                    store_order(&newest, &c.id),
                )
            }),
        }
        assert_eq!(ids(&page.customers), ids(&expected), "{sort:?}");
    }
}

/// A customer's position in the list sorted newest first (internal ids descending),
/// reversed: ties in every sort are broken by the internal id, lowest first.
fn store_order(
    list: &[kanta_store::records::CustomerSummary],
    id: &str,
) -> std::cmp::Reverse<usize> {
    std::cmp::Reverse(list.iter().position(|c| c.id == id).unwrap())
}

#[tokio::test]
async fn the_writer_keeps_each_customers_totals() {
    each_backend(|store| async move {
        let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name", "tier"]));
        c.push("a".into(), [text("Aino"), text("A")]);
        c.push("b".into(), [text("Bertil"), text("C")]);
        c.push("z".into(), [text("Zorro"), Value::Null]);
        store.write(&c).await.unwrap();
        store
            .write(&batch(vec![
                order("o1", "a", 3, 1000, "order"),
                order("o2", "a", 9, 500, "order"),
                order("r1", "a", 12, -200, "refund"),
                order("o3", "b", 5, 5000, "order"),
            ]))
            .await
            .unwrap();
        let by_revenue = || async {
            store
                .customers(&CustomerFilter {
                    sort: CustomerSort::Revenue,
                    ..Default::default()
                })
                .await
                .unwrap()
        };
        let p = by_revenue().await;
        let line = |id: &str| p.customers.iter().find(|c| c.id == id).unwrap().clone();
        assert_eq!(
            p.customers
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>(),
            ["b", "a", "z"]
        );
        let a = line("a");
        assert_eq!((a.transactions, a.revenue_minor), (3, 1300));
        assert_eq!(
            (a.orders_count, a.refunds_count, a.refunds_minor),
            (2, 1, -200),
            "refunds apart from orders"
        );
        assert_eq!((line("b").refunds_count, line("b").refunds_minor), (0, 0));
        totals_match_rows(&store).await;
        assert_eq!(
            a.last_purchase_at.map(|t| t.format("%d").to_string()),
            Some("09".into()),
            "a refund is not a purchase"
        );
        assert_eq!(
            a.first_purchase_at.map(|t| t.format("%d").to_string()),
            Some("03".into())
        );
        assert_eq!(a.tier.as_deref(), Some("A"));
        assert_eq!(line("z").transactions, 0);
        assert_eq!(line("z").last_purchase_at, None);
        assert_eq!(line("z").first_purchase_at, None);
        assert_eq!(
            line("b")
                .first_purchase_at
                .map(|t| t.format("%d").to_string()),
            Some("05".into())
        );

        // A transaction moved to another customer and a changed amount: both
        // customers' totals follow.
        store
            .write(&batch(vec![order("o3", "a", 20, 7000, "order")]))
            .await
            .unwrap();
        let p = by_revenue().await;
        let line = |id: &str| p.customers.iter().find(|c| c.id == id).unwrap().clone();
        assert_eq!((line("a").transactions, line("a").revenue_minor), (4, 8300));
        assert_eq!((line("b").transactions, line("b").revenue_minor), (0, 0));
        assert_eq!(line("b").last_purchase_at, None);
        assert_eq!(
            line("b").first_purchase_at,
            None,
            "b's only order moved to a"
        );
        totals_match_rows(&store).await;

        // An older order adds to the sums without moving the last purchase back; the
        // same rows written again change nothing.
        for _ in 0..2 {
            store
                .write(&batch(vec![
                    order("o5", "a", 1, 100, "order"),
                    order("o3", "a", 20, 7000, "order"),
                ]))
                .await
                .unwrap();
            let p = by_revenue().await;
            let a = p.customers.iter().find(|c| c.id == "a").unwrap();
            assert_eq!((a.transactions, a.revenue_minor), (5, 8400));
            assert_eq!(
                a.last_purchase_at.map(|t| t.format("%d").to_string()),
                Some("20".into())
            );
            assert_eq!(
                a.first_purchase_at.map(|t| t.format("%d").to_string()),
                Some("01".into()),
                "an older order moves the first purchase back"
            );
            totals_match_rows(&store).await;
        }

        // An order turned into a refund, and a refund into an order: the changed
        // rows' customer is recomputed.
        store
            .write(&batch(vec![order("o2", "a", 9, -500, "refund")]))
            .await
            .unwrap();
        let p = by_revenue().await;
        let a = p.customers.iter().find(|c| c.id == "a").unwrap();
        assert_eq!((a.transactions, a.orders_count, a.refunds_count), (5, 3, 2));
        assert_eq!((a.revenue_minor, a.refunds_minor), (7400, -700));
        totals_match_rows(&store).await;
        store
            .write(&batch(vec![order("r1", "a", 12, 200, "order")]))
            .await
            .unwrap();
        let p = by_revenue().await;
        let a = p.customers.iter().find(|c| c.id == "a").unwrap();
        assert_eq!((a.refunds_count, a.refunds_minor), (1, -500));
        assert_eq!((a.revenue_minor, a.orders_count), (7800, 4));
        totals_match_rows(&store).await;

        // A new customer created by its first order has totals too.
        let mut b = batch(vec![order("o4", "new", 25, 50, "order")]);
        b.create_customers = vec!["new".into()];
        store.write(&b).await.unwrap();
        let p = store
            .customers(&CustomerFilter {
                sort: CustomerSort::LastPurchase,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            p.customers
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>(),
            ["new", "a", "b", "z"],
            "latest purchase first, customers without any last"
        );
        let p = store
            .customers(&CustomerFilter {
                tier: Some("C".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(p.total, 1);
        assert_eq!(p.customers[0].id, "b");
        totals_match_rows(&store).await;
    })
    .await;
}

#[tokio::test]
async fn a_bulk_load_counts_refunds_apart_from_orders() {
    each_backend(|store| async move {
        let n = kanta_store::write::BULK_MIN_ROWS;
        let refund = |i: usize| i.is_multiple_of(7);
        let rows = (0..n)
            .map(|i| {
                let (amount, kind) = if refund(i) {
                    (-30 - (i % 5) as i64, "refund")
                } else {
                    (100 + (i % 3) as i64, "order")
                };
                order(
                    &format!("t{i}"),
                    &format!("c{}", i % 100),
                    1 + (i % 28) as u32,
                    amount,
                    kind,
                )
            })
            .collect();
        let mut b = batch(rows);
        b.create_customers = (0..100).map(|i| format!("c{i}")).collect();
        let s = store.write(&b).await.unwrap();
        assert_eq!(s.inserted as usize, n);
        let c0 = store
            .customers(&CustomerFilter {
                search: Some("c0".into()),
                ..Default::default()
            })
            .await
            .unwrap()
            .customers
            .into_iter()
            .find(|c| c.id == "c0")
            .unwrap();
        let expected = (0..n).filter(|i| i % 100 == 0 && refund(*i)).count();
        assert!(expected > 0);
        assert_eq!(c0.refunds_count as usize, expected);
        totals_match_rows(&store).await;

        // then staged writes: an order turned into a refund, a refund into an order,
        // a new refund
        store
            .write(&batch(vec![
                order("t1", "c1", 2, -60, "refund"),
                order("t7", "c7", 8, 70, "order"),
                order("new", "c2", 3, -10, "refund"),
            ]))
            .await
            .unwrap();
        totals_match_rows(&store).await;
    })
    .await;
}

#[tokio::test]
async fn migration_0006_backfills_the_refund_totals() {
    each_backend(|store| async move {
        let mut b = batch(vec![
            order("o1", "a", 3, 1000, "order"),
            order("r1", "a", 4, -300, "refund"),
            order("r2", "a", 5, -200, "refund"),
            order("o2", "b", 5, 500, "order"),
        ]);
        b.create_customers = vec!["a".into(), "b".into()];
        store.write(&b).await.unwrap();
        // Undo migration 0006 and apply it again over the data.
        store.close().await;
        let postgres = store.url().starts_with("postgres");
        let undo = format!(
            "DROP TABLE audit_log; DROP TABLE jobs; DROP TABLE outbox; {} \
             ALTER TABLE customers DROP COLUMN refunds_count; \
             ALTER TABLE customers DROP COLUMN refunds_minor; \
             DELETE FROM _sqlx_migrations WHERE version = 6",
            if postgres {
                "DROP FUNCTION kanta_audit_append_only();"
            } else {
                ""
            }
        );
        raw_execute(&store, &undo).await.unwrap();
        let url = store.url().to_string();
        let store = Store::open(&url).await.unwrap();
        let p = store.customers(&CustomerFilter::default()).await.unwrap();
        let a = p.customers.iter().find(|c| c.id == "a").unwrap();
        assert_eq!(
            (a.refunds_count, a.refunds_minor, a.orders_count),
            (2, -500, 1)
        );
        totals_match_rows(&store).await;
        store.close().await;
    })
    .await;
}

/// One writer taking a batch of new rows (written straight into the table), then a
/// batch mixing a changed row, an unchanged one and a new one (merged through the
/// stage), then new rows again: the counts and every customer's totals are those of
/// the rows, and a later write of the same rows changes nothing.
#[tokio::test]
async fn one_writer_mixes_new_and_changed_batches() {
    each_backend(|store| async move {
        let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
        c.push("a".into(), [text("Aino")]);
        c.push("b".into(), [text("Bertil")]);
        store.write(&c).await.unwrap();
        store
            .write(&batch(vec![
                order("old1", "a", 2, 300, "order"),
                order("old2", "b", 4, 400, "order"),
            ]))
            .await
            .unwrap();
        let cols = ["customer_id", "occurred_at", "amount", "currency", "kind"];
        let mut w = store
            .writer(&TRANSACTIONS, fields(&TRANSACTIONS, &cols))
            .await
            .unwrap();
        w.write(batch(vec![
            order("n1", "a", 10, 1000, "order"),
            order("n2", "b", 11, 2000, "order"),
            order("n3", "a", 1, -50, "refund"),
        ]))
        .await
        .unwrap();
        w.write(batch(vec![
            // old1 moves from a to b with a new amount; old2 stays as it was
            order("old1", "b", 3, 350, "order"),
            order("old2", "b", 4, 400, "order"),
            order("n4", "a", 12, 70, "order"),
        ]))
        .await
        .unwrap();
        w.write(batch(vec![order("n5", "b", 20, 5, "order")]))
            .await
            .unwrap();
        let s = w
            .finish(&kanta_store::write::RunInfo::default())
            .await
            .unwrap();
        assert_eq!((s.inserted, s.updated, s.unchanged), (5, 1, 1));
        let p = store
            .customers(&CustomerFilter {
                sort: CustomerSort::Revenue,
                ..Default::default()
            })
            .await
            .unwrap();
        let line = |id: &str| p.customers.iter().find(|c| c.id == id).unwrap().clone();
        // a: n1 1000, n3 -50 (refund), n4 70; b: old1 350, old2 400, n2 2000, n5 5
        assert_eq!((line("a").transactions, line("a").revenue_minor), (3, 1020));
        assert_eq!((line("a").refunds_count, line("a").refunds_minor), (1, -50));
        assert_eq!((line("b").transactions, line("b").revenue_minor), (4, 2755));
        let day = |t: Option<DateTime<Utc>>| t.map(|t| t.format("%d").to_string());
        assert_eq!(day(line("a").first_purchase_at), Some("10".into()));
        assert_eq!(day(line("a").last_purchase_at), Some("12".into()));
        assert_eq!(day(line("b").first_purchase_at), Some("03".into()));
        assert_eq!(day(line("b").last_purchase_at), Some("20".into()));
        totals_match_rows(&store).await;

        // The same rows again: every one found unchanged, the totals as they were.
        let again = store
            .write(&batch(vec![
                order("n1", "a", 10, 1000, "order"),
                order("n5", "b", 20, 5, "order"),
            ]))
            .await
            .unwrap();
        assert_eq!((again.inserted, again.updated, again.unchanged), (0, 0, 2));
        totals_match_rows(&store).await;
    })
    .await;
}

#[tokio::test]
async fn a_bulk_load_computes_everyones_totals() {
    each_backend(|store| async move {
        let n = kanta_store::write::BULK_MIN_ROWS;
        let rows = (0..n)
            .map(|i| {
                order(
                    &format!("t{i}"),
                    &format!("c{}", i % 100),
                    1 + (i % 28) as u32,
                    100,
                    "order",
                )
            })
            .collect();
        let mut b = batch(rows);
        b.create_customers = (0..100).map(|i| format!("c{i}")).collect();
        store.write(&b).await.unwrap();
        let p = store
            .customers(&CustomerFilter {
                sort: CustomerSort::Revenue,
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(p.total, 100);
        for c in &p.customers {
            assert_eq!(c.transactions as usize, n / 100, "{}", c.id);
            assert_eq!(c.revenue_minor as usize, 100 * n / 100, "{}", c.id);
            assert!(c.last_purchase_at.is_some());
            // customer k's orders fall on days 1 + (i % 28) for i = k, k + 100, ...:
            // the earliest is day 1 + min over them
            let k: usize = c.id[1..].parse().unwrap();
            let first = (0..n)
                .filter(|i| i % 100 == k)
                .map(|i| 1 + i % 28)
                .min()
                .unwrap();
            let last = (0..n)
                .filter(|i| i % 100 == k)
                .map(|i| 1 + i % 28)
                .max()
                .unwrap();
            let day =
                |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.format("%d").to_string());
            assert_eq!(
                day(c.first_purchase_at),
                Some(format!("{first:02}")),
                "{}",
                c.id
            );
            assert_eq!(
                day(c.last_purchase_at),
                Some(format!("{last:02}")),
                "{}",
                c.id
            );
        }
    })
    .await;
}

#[tokio::test]
async fn every_sort_pages_the_same_from_either_end() {
    each_backend(|store| async move {
        let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
        for i in 0..23 {
            // Some without a name, some sharing one: ties break by id.
            let name = match i % 5 {
                0 => Value::Null,
                1 => text("Sama Nimi"),
                _ => text(&format!("Asiakas {:02}", (i * 7) % 23)),
            };
            c.push(format!("c{i:02}"), [name]);
        }
        store.write(&c).await.unwrap();
        let rows = (0..40)
            .map(|i| {
                order(
                    &format!("t{i}"),
                    &format!("c{:02}", (i * 3) % 19),
                    1 + (i % 7) as u32,
                    100 * ((i % 4) as i64),
                    "order",
                )
            })
            .collect();
        store.write(&batch(rows)).await.unwrap();
        for sort in CustomerSort::NAMES {
            let sort = CustomerSort::parse(sort).unwrap();
            let page = |offset: u64, limit: u32| {
                let store = store.clone();
                async move {
                    store
                        .customers(&CustomerFilter {
                            sort,
                            limit,
                            offset,
                            ..Default::default()
                        })
                        .await
                        .unwrap()
                }
            };
            let all: Vec<String> = page(0, 100)
                .await
                .customers
                .into_iter()
                .map(|c| c.id)
                .collect();
            assert_eq!(all.len(), 23);
            let mut paged = Vec::new();
            for offset in (0..23).step_by(5) {
                let p = page(offset, 5).await;
                assert_eq!(p.total, 23);
                paged.extend(p.customers.into_iter().map(|c| c.id));
            }
            assert_eq!(paged, all, "{sort:?}: pages from the far end agree");
        }
    })
    .await;
}

/// The API's page of customers reads each one's totals and trust balance in the page's
/// own statement: they are the list's (computed apart, by `Store::customers`), page
/// after page of a figure's sort, and the pages are the plain list's.
#[tokio::test]
async fn a_page_with_totals_carries_the_lists_figures() {
    use kanta_domain::schema::TRUST_LEDGER;
    use kanta_store::keyset::{RecordQuery, Sort};
    each_backend(|store| async move {
        let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
        for i in 0..12 {
            c.push(format!("c{i:02}"), [text(&format!("Asiakas {i:02}"))]);
        }
        store.write(&c).await.unwrap();
        let rows = (0..30)
            .map(|i| {
                let kind = if i % 7 == 3 { "refund" } else { "order" };
                let amount = if kind == "refund" { -150 } else { 100 + 37 * i };
                order(
                    &format!("t{i}"),
                    &format!("c{:02}", (i * 5) % 11),
                    1 + (i % 9) as u32,
                    amount,
                    kind,
                )
            })
            .collect();
        store.write(&batch(rows)).await.unwrap();
        let mut trust = WriteBatch::new(
            &TRUST_LEDGER,
            fields(
                &TRUST_LEDGER,
                &["customer_id", "occurred_at", "delta", "reason"],
            ),
        );
        for i in 0..9 {
            let delta = if i % 3 == 0 { -2 } else { 1 };
            trust.push(
                format!("e{i}"),
                [
                    text(&format!("c{:02}", i % 4)),
                    t(2),
                    Value::Int(delta),
                    text("test"),
                ],
            );
        }
        store.write(&trust).await.unwrap();
        let list = store
            .customers(&CustomerFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(list.customers.len(), 12);
        assert!(list.customers.iter().any(|c| c.trust_balance < 0));
        assert!(list.customers.iter().any(|c| c.refunds_count > 0));
        for sort in ["id", "-revenue", "name"] {
            let mut q = RecordQuery::new(&CUSTOMERS);
            q.sort = Sort::parse(&CUSTOMERS, sort).unwrap();
            q.limit = 5;
            let mut seen = Vec::new();
            loop {
                let (page, totals) = store.list_with_totals(&q).await.unwrap();
                let plain = store.list(&q).await.unwrap();
                assert_eq!(page.next_cursor, plain.next_cursor, "{sort}");
                assert_eq!(page.items.len(), totals.len(), "{sort}");
                for ((r, s), p) in page.items.iter().zip(&totals).zip(&plain.items) {
                    assert_eq!(r.external_id, p.external_id, "{sort}");
                    assert_eq!(s.id, r.external_id, "{sort}");
                    let want = list.customers.iter().find(|c| c.id == s.id).unwrap();
                    assert_eq!(
                        (
                            s.transactions,
                            s.orders_count,
                            s.refunds_count,
                            s.revenue_minor,
                            s.refunds_minor,
                            s.first_purchase_at,
                            s.last_purchase_at,
                            s.trust_balance,
                        ),
                        (
                            want.transactions,
                            want.orders_count,
                            want.refunds_count,
                            want.revenue_minor,
                            want.refunds_minor,
                            want.first_purchase_at,
                            want.last_purchase_at,
                            want.trust_balance,
                        ),
                        "{sort} {}",
                        s.id
                    );
                    seen.push(s.id.clone());
                }
                match page.next_cursor {
                    Some(c) => {
                        q.after = Some(kanta_store::keyset::Cursor::decode(&c, &q.sort).unwrap())
                    }
                    None => break,
                }
            }
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), 12, "{sort}: every customer once");
        }
    })
    .await;
}
