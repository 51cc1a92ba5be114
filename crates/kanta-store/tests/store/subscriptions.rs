//! Subscriptions' figures on customers (MRR, revenue billed, next renewal, plan), kept
//! by the writer and refreshed as of a day; the customer list's sorts and filters by
//! derived values (trust, cases, scores), keyset paging by them, and a search that
//! takes `%`, `_` and `\` literally.

use chrono::{Months, NaiveDate, Utc};
use kanta_domain::Value;
use kanta_domain::schema::{CASES, CUSTOMERS, SUBSCRIPTIONS, TRUST_LEDGER};
use kanta_store::keyset::{Cursor, DerivedFilter, RecordQuery, Sort};
use kanta_store::records::{CustomerFilter, CustomerSort, TrustFilter};
use kanta_store::{RunInfo, Store, WriteBatch};

use crate::{each_backend, fields, t, text};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// A subscription row: id, customer, plan, amount, period, start, end.
pub(crate) type SubRow<'a> = (
    &'a str,
    &'a str,
    &'a str,
    i64,
    &'a str,
    NaiveDate,
    Option<NaiveDate>,
);

pub(crate) fn sub_batch(rows: &[SubRow<'_>]) -> WriteBatch {
    let mut b = WriteBatch::new(
        &SUBSCRIPTIONS,
        fields(
            &SUBSCRIPTIONS,
            &[
                "customer_id",
                "plan",
                "amount",
                "currency",
                "period",
                "started_on",
                "ended_on",
            ],
        ),
    );
    for (id, customer, plan, amount, period, started, ended) in rows {
        b.push(
            id.to_string(),
            [
                text(customer),
                text(plan),
                Value::Int(*amount),
                text("EUR"),
                text(period),
                Value::Date(*started),
                ended.map_or(Value::Null, Value::Date),
            ],
        );
    }
    b
}

async fn customers(store: &Store, ids: &[&str]) {
    let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name", "kind"]));
    for id in ids {
        c.push(
            id.to_string(),
            [text(&format!("Yritys {id}")), text("company")],
        );
    }
    store.write(&c).await.unwrap();
}

async fn row(store: &Store, id: &str) -> kanta_store::CustomerSummary {
    store
        .customer_with_totals(id)
        .await
        .unwrap()
        .unwrap()
        .summary
}

async fn refresh(store: &Store, as_of: NaiveDate) -> u64 {
    let mut w = store.writer(&SUBSCRIPTIONS, Vec::new()).await.unwrap();
    let n = w.refresh_subscription_figures(as_of).await.unwrap();
    w.finish(&RunInfo::default()).await.unwrap();
    n
}

#[tokio::test]
async fn the_writer_keeps_subscription_figures_and_a_refresh_moves_them_with_the_calendar() {
    each_backend(|store| async move {
        customers(&store, &["a", "b", "c"]).await;
        let today = Utc::now().date_naive();
        let start = today.checked_sub_months(Months::new(2)).unwrap();
        store
            .write(&sub_batch(&[
                ("s1", "a", "Pro", 10_000, "month", start, None),
                ("s2", "a", "Support", 120_000, "year", start, None),
                ("s3", "b", "Basic", 3_000, "week", today, None),
            ]))
            .await
            .unwrap();
        // As of today: a monthly plan started two months ago has billed three periods.
        let a = row(&store, "a").await;
        assert_eq!(a.subscription_revenue_minor, 3 * 10_000 + 120_000);
        assert_eq!(a.mrr_minor, 10_000 + 10_000);
        assert_eq!(a.plan.as_deref(), Some("Pro, Support"));
        assert_eq!(
            a.next_renewal_on,
            start.checked_add_months(Months::new(3)),
            "the monthly plan renews first"
        );
        let b = row(&store, "b").await;
        assert_eq!((b.subscription_revenue_minor, b.mrr_minor), (3_000, 13_000));
        let c = row(&store, "c").await;
        assert_eq!((c.mrr_minor, c.subscription_revenue_minor), (0, 0));
        assert_eq!((c.plan, c.next_renewal_on), (None, None));

        // Fixed days: started 31.1.2024, billed on 29.2. (leap year), renews 31.3.
        store
            .write(&sub_batch(&[(
                "s1",
                "a",
                "Pro",
                10_000,
                "month",
                d(2024, 1, 31),
                None,
            )]))
            .await
            .unwrap();
        store
            .write(&sub_batch(&[(
                "s2",
                "a",
                "Support",
                120_000,
                "year",
                d(2024, 1, 31),
                Some(d(2024, 2, 15)),
            )]))
            .await
            .unwrap();
        assert!(refresh(&store, d(2024, 3, 1)).await > 0);
        let a = row(&store, "a").await;
        assert_eq!(a.subscription_revenue_minor, 2 * 10_000 + 120_000);
        assert_eq!(a.mrr_minor, 10_000, "the ended yearly plan adds no MRR");
        assert_eq!(a.plan.as_deref(), Some("Pro"));
        assert_eq!(a.next_renewal_on, Some(d(2024, 3, 31)));
        // The same day again changes nothing.
        assert_eq!(refresh(&store, d(2024, 3, 1)).await, 0);

        // A subscription moved to another customer: both are recomputed.
        store
            .write(&sub_batch(&[(
                "s3", "c", "Basic", 3_000, "week", today, None,
            )]))
            .await
            .unwrap();
        let b = row(&store, "b").await;
        assert_eq!((b.mrr_minor, b.subscription_revenue_minor), (0, 0));
        assert_eq!(b.plan, None);
        let c = row(&store, "c").await;
        assert_eq!((c.mrr_minor, c.plan.as_deref()), (13_000, Some("Basic")));

        // The list sorts by MRR and by total revenue (orders + subscriptions).
        let p = store
            .customers(&CustomerFilter {
                sort: CustomerSort::Mrr,
                ..Default::default()
            })
            .await
            .unwrap();
        let ids: Vec<&str> = p.customers.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["c", "a", "b"]);
    })
    .await;
}

#[tokio::test]
async fn a_bulk_load_of_subscriptions_sets_every_subscribers_figures() {
    each_backend(|store| async move {
        let ids: Vec<String> = (0..50).map(|i| format!("k{i:02}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        customers(&store, &refs).await;
        let today = Utc::now().date_naive();
        let n = kanta_store::write::BULK_MIN_ROWS;
        let sub_ids: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
        let rows: Vec<_> = (0..n)
            .map(|i| {
                (
                    sub_ids[i].as_str(),
                    refs[i % refs.len()],
                    "Pro",
                    100,
                    "month",
                    today,
                    None,
                )
            })
            .collect();
        store.write(&sub_batch(&rows)).await.unwrap();
        let per = (n / refs.len()) as i64;
        let k0 = row(&store, "k00").await;
        assert_eq!(
            (k0.mrr_minor, k0.subscription_revenue_minor),
            (per * 100, per * 100)
        );
        assert_eq!(k0.next_renewal_on, today.checked_add_months(Months::new(1)));
    })
    .await;
}

/// PostgreSQL gets a search's pattern as a constant in the statement (planned for
/// that pattern): quotes and backslashes are the name's characters, never SQL.
#[tokio::test]
async fn a_search_with_quotes_and_backslashes_finds_the_names_holding_them() {
    each_backend(|store| async move {
        let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
        for (id, name) in [
            ("q1", "O'Hara"),
            ("q2", "Back\\' slash"),
            ("q3", "Tavallinen"),
        ] {
            c.push(id.into(), [text(name)]);
        }
        store.write(&c).await.unwrap();
        let search = |q: &'static str| {
            let store = store.clone();
            async move {
                let ui = store
                    .customers(&CustomerFilter {
                        search: Some(q.into()),
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                let mut rq = RecordQuery::new(&CUSTOMERS);
                rq.search = Some(q.into());
                let api = store.list(&rq).await.unwrap();
                // The page sorts by name, the API by id: compared in id order.
                let mut ui: Vec<String> = ui.customers.into_iter().map(|c| c.id).collect();
                ui.sort();
                let api: Vec<String> = api.items.into_iter().map(|r| r.external_id).collect();
                assert_eq!(ui, api, "{q:?}: the page and the API");
                ui
            }
        };
        assert_eq!(search("'").await, ["q1", "q2"]);
        assert_eq!(search("o'h").await, ["q1"]);
        assert_eq!(search("\\'").await, ["q2"]);
        assert_eq!(
            search("'; DROP TABLE customers; --").await,
            Vec::<String>::new()
        );
        assert!(search("\\").await == ["q2"]);
        // NUL, which no name holds, is left out of the search.
        assert_eq!(search("Har\0a").await, ["q1"]);
        assert_eq!(search("tavallinen").await, ["q3"]);
    })
    .await;
}

#[tokio::test]
async fn the_list_filters_and_sorts_by_trust_cases_and_scores_and_searches_literally() {
    each_backend(|store| async move {
        let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
        for (id, name) in [
            ("p1", "100% Kahvi"),
            ("p2", "a_b Oy"),
            ("p3", "Back\\slash"),
            ("p4", "Tavallinen"),
        ] {
            c.push(id.into(), [text(name)]);
        }
        store.write(&c).await.unwrap();
        let search = |q: &'static str| {
            let store = store.clone();
            async move {
                let p = store
                    .customers(&CustomerFilter {
                        search: Some(q.into()),
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                p.customers.into_iter().map(|c| c.id).collect::<Vec<_>>()
            }
        };
        assert_eq!(
            search("%").await,
            ["p1"],
            "% is a character, not a wildcard"
        );
        assert_eq!(search("_").await, ["p2"]);
        assert_eq!(search("\\").await, ["p3"]);
        assert_eq!(search("a_b").await, ["p2"]);
        assert!(search("a%b").await.is_empty());
        // The API's search too.
        let mut q = RecordQuery::new(&CUSTOMERS);
        q.search = Some("%".into());
        let page = store.list(&q).await.unwrap();
        assert_eq!(page.items.len(), 1);

        // Trust: p1 -3, p2 +2; open cases: p3 two, p4 one resolved.
        let mut tr = WriteBatch::new(
            &TRUST_LEDGER,
            fields(
                &TRUST_LEDGER,
                &["customer_id", "occurred_at", "delta", "reason"],
            ),
        );
        for (id, cust, delta) in [("t1", "p1", -5), ("t2", "p1", 2), ("t3", "p2", 2)] {
            tr.push(
                id.into(),
                [text(cust), t(1), Value::Int(delta), text("test")],
            );
        }
        store.write(&tr).await.unwrap();
        let mut cs = WriteBatch::new(
            &CASES,
            fields(
                &CASES,
                &["customer_id", "opened_at", "category", "resolved_at"],
            ),
        );
        for (id, cust, resolved) in [
            ("k1", "p3", None),
            ("k2", "p3", None),
            ("k3", "p4", Some(t(3))),
        ] {
            cs.push(
                id.into(),
                [
                    text(cust),
                    t(2),
                    text("late"),
                    resolved.unwrap_or(Value::Null),
                ],
            );
        }
        store.write(&cs).await.unwrap();
        let list = |f: CustomerFilter| {
            let store = store.clone();
            async move {
                store
                    .customers(&f)
                    .await
                    .unwrap()
                    .customers
                    .into_iter()
                    .map(|c| (c.id, c.trust_balance, c.open_cases))
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            list(CustomerFilter {
                trust: Some(TrustFilter::Deficit),
                ..Default::default()
            })
            .await,
            [("p1".to_string(), -3, 0)]
        );
        assert_eq!(
            list(CustomerFilter {
                open_cases: Some(true),
                ..Default::default()
            })
            .await,
            [("p3".to_string(), 0, 2)]
        );
        let by_trust: Vec<String> = list(CustomerFilter {
            sort: CustomerSort::TrustBalance,
            ..Default::default()
        })
        .await
        .into_iter()
        .map(|r| r.0)
        .collect();
        assert_eq!(by_trust, ["p1", "p3", "p4", "p2"]);
        let by_cases: Vec<String> = list(CustomerFilter {
            sort: CustomerSort::OpenCases,
            ..Default::default()
        })
        .await
        .into_iter()
        .map(|r| r.0)
        .collect();
        assert_eq!(by_cases[0], "p3");

        // Unscored customers have no CLV: a CLV filter matches none of them.
        assert!(
            list(CustomerFilter {
                clv_min_minor: Some(0),
                ..Default::default()
            })
            .await
            .is_empty()
        );

        // The API's keyset paging by a derived value visits each customer once, in order.
        for sort in [
            "trust_balance",
            "-trust_balance",
            "-open_cases",
            "clv",
            "-p_alive",
            "renewal_probability",
            "-revenue",
            "name",
            "-last_purchase",
            "next_renewal",
            "-mrr",
        ] {
            let mut q = RecordQuery::new(&CUSTOMERS);
            q.sort = Sort::parse(&CUSTOMERS, sort).unwrap();
            q.limit = 1;
            let mut seen = Vec::new();
            for _ in 0..10 {
                let page = store.list(&q).await.unwrap();
                seen.extend(page.items.into_iter().map(|r| r.external_id));
                match page.next_cursor {
                    Some(c) => q.after = Some(Cursor::decode(&c, &q.sort).unwrap()),
                    None => break,
                }
            }
            let mut sorted = seen.clone();
            sorted.sort();
            assert_eq!(sorted, ["p1", "p2", "p3", "p4"], "{sort}: {seen:?}");
            if sort == "trust_balance" {
                assert_eq!(seen, ["p1", "p3", "p4", "p2"]);
            }
            if sort == "-trust_balance" {
                assert_eq!(seen, ["p2", "p4", "p3", "p1"]);
            }
        }
        let mut q = RecordQuery::new(&CUSTOMERS);
        q.derived.push(DerivedFilter::TrustDeficit);
        let page = store.list(&q).await.unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].external_id, "p1");
    })
    .await;
}
