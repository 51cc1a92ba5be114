//! Cost to serve and profitability (issue 14): a store built through the core with
//! known orders, a subscription, interactions, cases and a paid claim; every component
//! and the unprofitable flag checked against numbers worked out by hand, on both
//! backends.

use chrono::{Duration, Utc};
use kanta_core::CoreError;
use kanta_core::actor::{Acting, Channel};
use kanta_core::claims::NewClaim;
use kanta_core::profit::{ProfitQuery, parse_filter};
use kanta_domain::schema::{CASES, CUSTOMERS, INTERACTIONS, SUBSCRIPTIONS, TRANSACTIONS};
use kanta_domain::{Currency, Value, WriteBatch};
use kanta_store::accounts::Role;
use kanta_store::audit::AuditEntry;
use kanta_store::profit::CustomerProfit;
use kanta_store::scores::{CustomerScore, NewModelRun};

use crate::support::{audit_of, each_core, fields, text};

fn manager() -> Acting {
    Acting::user(3, "maija.manager@cafe.example", Role::Manager, Channel::Ui)
}

fn days_ago(n: i64) -> Value {
    Value::Time(Utc::now() - Duration::days(n))
}

/// p1: orders 100,00 (cost 30,00) and 50,00, a refund of 20,00, one call, an order 400
/// days ago (outside the window). s1: a monthly 10,00 subscription started 100 days
/// ago (4 periods billed). p2: an order of 10,00 and one meeting, with a large CLV.
/// u1: an order of 20,00, two high and one low case (and one 400 days ago), a meeting
/// and two emails, a paid claim of 30,00, a small CLV. c0: nothing.
async fn known_store(core: &kanta_core::Core) {
    let cli = Acting::cli();
    let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
    for (id, name) in [
        ("p1", "Paula Profit"),
        ("s1", "Sami Subscriber"),
        ("p2", "Pekka Promising"),
        ("u1", "Ulla Unprofitable"),
        ("c0", "Kaisa Quiet"),
    ] {
        c.push(id.into(), [text(name)]);
    }
    core.write_batch(&cli, c).await.unwrap();

    let mut t = WriteBatch::new(
        &TRANSACTIONS,
        fields(
            &TRANSACTIONS,
            &["customer_id", "occurred_at", "amount", "currency", "cost"],
        ),
    );
    for (id, who, ago, amount, cost) in [
        ("t1", "p1", 10, 10_000, Some(3_000)),
        ("t2", "p1", 20, 5_000, None),
        ("t3", "p1", 5, -2_000, None),
        ("t4", "p1", 400, 90_000, None),
        ("t5", "p2", 30, 1_000, None),
        ("t6", "u1", 40, 2_000, None),
    ] {
        t.push(
            id.into(),
            [
                text(who),
                days_ago(ago),
                Value::Int(amount),
                text("EUR"),
                cost.map_or(Value::Null, Value::Int),
            ],
        );
    }
    core.write_batch(&cli, t).await.unwrap();

    let mut s = WriteBatch::new(
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
            ],
        ),
    );
    let started = (Utc::now() - Duration::days(100)).date_naive();
    s.push(
        "sub1".into(),
        [
            text("s1"),
            text("basic"),
            Value::Int(1_000),
            text("EUR"),
            text("month"),
            Value::Date(started),
        ],
    );
    core.write_batch(&cli, s).await.unwrap();

    let mut i = WriteBatch::new(
        &INTERACTIONS,
        fields(&INTERACTIONS, &["customer_id", "occurred_at", "kind"]),
    );
    for (id, who, ago, kind) in [
        ("i1", "p1", 3, "call"),
        ("i2", "p2", 3, "meeting"),
        ("i3", "u1", 3, "meeting"),
        ("i4", "u1", 4, "email"),
        ("i5", "u1", 5, "email"),
        ("i6", "u1", 500, "meeting"),
    ] {
        i.push(id.into(), [text(who), days_ago(ago), text(kind)]);
    }
    core.write_batch(&cli, i).await.unwrap();

    let mut k = WriteBatch::new(
        &CASES,
        fields(
            &CASES,
            &["customer_id", "opened_at", "category", "severity"],
        ),
    );
    for (id, ago, severity) in [
        ("k1", 30, "high"),
        ("k2", 20, "high"),
        ("k3", 10, "low"),
        ("k4", 400, "critical"),
    ] {
        k.push(
            id.into(),
            [text("u1"), days_ago(ago), text("quality"), text(severity)],
        );
    }
    core.write_batch(&cli, k).await.unwrap();

    // A claim of 30,00, approved at once (the small-claim rule) and paid; a second one
    // approved and not paid costs nothing yet.
    let staff = Acting::user(2, "sari.staff@cafe.example", Role::Staff, Channel::Ui);
    let claim = |m| NewClaim {
        amount_minor: m,
        currency: Currency::EUR,
        kind: "refund".into(),
    };
    let paid = core.add_claim(&staff, "k1", claim(3_000)).await.unwrap();
    core.pay_claim(&staff, &paid.id).await.unwrap();
    core.add_claim(&staff, "k2", claim(2_000)).await.unwrap();

    // Scores: p2 is worth 1 000,00 over the next 12 months, u1 10,00.
    let store = core.store();
    let keys = store
        .customer_keys(&["p2", "u1"].map(String::from))
        .await
        .unwrap();
    let scores: Vec<CustomerScore> = keys
        .iter()
        .map(|(id, key)| CustomerScore {
            customer_id: *key,
            p_alive: if id == "p2" { 0.5 } else { 0.8 },
            clv_12_minor: Some(if id == "p2" { 100_000 } else { 1_000 }),
            tier: 'C',
            ..CustomerScore::default()
        })
        .collect();
    let entry = AuditEntry {
        ..Acting::cli().audit("model_runs", None, "score")
    };
    store
        .save_model_run(
            &NewModelRun {
                model: "bgnbd".into(),
                spend_model: None,
                as_of: Utc::now().date_naive(),
                calibration_end: None,
                first_purchase_on: None,
                currency: Some("EUR".into()),
                details: serde_json::json!({}),
                forecast: Vec::new(),
            },
            &scores,
            &entry,
        )
        .await
        .unwrap();
}

fn row<'a>(rows: &'a [kanta_core::profit::ProfitCustomer], id: &str) -> &'a CustomerProfit {
    &rows
        .iter()
        .find(|r| r.row.external_id == id)
        .unwrap_or_else(|| panic!("no row for {id}"))
        .row
        .profit
}

#[tokio::test(flavor = "multi_thread")]
async fn each_component_and_the_unprofitable_flag_by_hand() {
    each_core(|backend, core| async move {
        known_store(&core).await;
        // The goods margin where no cost is recorded: 50 % (typed the Finnish way).
        core.set_store_setting(&manager(), "goods_margin", "50 %")
            .await
            .unwrap();

        // Staff may not run the pass; a manager may.
        let staff = Acting::user(2, "sari.staff@cafe.example", Role::Staff, Channel::Ui);
        match core.run_profitability(&staff, None).await {
            Err(CoreError::Forbidden(_)) => {}
            other => panic!("{backend}: staff ran the pass: {other:?}"),
        }
        let today = core.today().await.unwrap();
        let run = core
            .run_profitability(&manager(), Some(today))
            .await
            .unwrap();
        assert_eq!(run.customers, 5, "{backend}");
        assert_eq!(run.unprofitable, 1, "{backend}");
        assert_eq!(run.as_of, today);
        assert_eq!(
            audit_of(core.store(), "profit_run").await.len(),
            1,
            "{backend}"
        );

        let viewer = Acting::user(4, "ville.viewer@cafe.example", Role::Viewer, Channel::Ui);
        let all = core
            .profit_customers(&viewer, &ProfitQuery::default())
            .await
            .unwrap();
        assert_eq!(all.total, 5);
        let rows = &all.rows;

        // p1: revenue 100 + 50 - 20 = 130,00; goods 30,00 + (50 - 20) × 50 % = 45,00;
        // one call: 10 min of 40,00 €/h = 6,67.
        let p1 = row(rows, "p1");
        assert_eq!(
            (p1.revenue_minor, p1.goods_cost_minor, p1.gross_margin_minor),
            (13_000, 4_500, 8_500),
            "{backend}: {p1:?}"
        );
        assert_eq!(
            (p1.interactions, p1.cost_interactions_minor, p1.cases),
            (1, 667, 0)
        );
        assert_eq!(
            (p1.cost_to_serve_minor, p1.margin_after_minor),
            (667, 7_833)
        );
        assert_eq!(
            p1.expected_margin_minor, None,
            "{backend}: p1 has no scores"
        );
        assert!(!p1.unprofitable);

        // s1: 4 monthly periods of 10,00 billed in the window, half of it margin.
        let s1 = row(rows, "s1");
        assert_eq!(
            (s1.revenue_minor, s1.goods_cost_minor, s1.margin_after_minor),
            (4_000, 2_000, 2_000),
            "{backend}: {s1:?}"
        );

        // p2: 10,00 at 50 % = 5,00 margin, a meeting of 40,00: -35,00 this year, but
        // 1 000,00 × 50 % - 40,00 × P(alive) 0,5 = 480,00 expected: not unprofitable.
        let p2 = row(rows, "p2");
        assert_eq!(p2.margin_after_minor, -3_500, "{backend}: {p2:?}");
        assert_eq!(p2.expected_margin_minor, Some(48_000));
        assert!(!p2.unprofitable, "{backend}");

        // u1: 20,00 at 50 % = 10,00 margin; two high cases (2 h each) and a low one
        // (15 min) = 170,00; a meeting and two emails (5 min: 3,33 each) = 46,66; the
        // paid claim 30,00 (the unpaid one and the old case and meeting not counted).
        let u1 = row(rows, "u1");
        assert_eq!(
            (u1.revenue_minor, u1.gross_margin_minor),
            (2_000, 1_000),
            "{backend}: {u1:?}"
        );
        assert_eq!((u1.cases, u1.cost_cases_minor), (3, 17_000), "{backend}");
        assert_eq!((u1.interactions, u1.cost_interactions_minor), (3, 4_666));
        assert_eq!(u1.cost_compensations_minor, 3_000, "{backend}");
        assert_eq!(u1.cost_offers_minor, 0);
        assert_eq!(u1.cost_to_serve_minor, 24_666);
        assert_eq!(u1.margin_after_minor, -23_666);
        // 10,00 × 50 % - 246,66 × 0,8 = 5,00 - 197,33 = -192,33.
        assert_eq!(u1.expected_margin_minor, Some(-19_233));
        assert!(u1.unprofitable);

        let c0 = row(rows, "c0");
        assert_eq!(
            c0,
            &CustomerProfit {
                customer_id: c0.customer_id,
                ..CustomerProfit::default()
            }
        );

        // The lowest margin first.
        assert_eq!(rows[0].row.external_id, "u1");

        // The summary: totals, components, the unprofitable list with its reasons.
        let v = core.value_summary(&viewer).await.unwrap();
        assert_eq!(v.totals.customers, 5);
        assert_eq!(v.totals.unprofitable, 1);
        assert_eq!(v.totals.negative_margin, 2);
        assert_eq!(v.totals.revenue_minor, 13_000 + 4_000 + 1_000 + 2_000);
        assert_eq!(v.totals.cost_to_serve_minor, 667 + 4_000 + 24_666);
        let cases = v.components.iter().find(|c| c.key == "cases").unwrap();
        assert_eq!(
            (cases.cost_minor, cases.customers, cases.count),
            (17_000, 1, 3)
        );
        assert_eq!(v.bins.iter().map(|b| b.customers).sum::<i64>(), 5);
        // -236,66 € lies in -1000 ≤ m < -100 €: bin 1.
        assert_eq!(v.bins[1].customers, 1, "{backend}: {:?}", v.bins);
        let names: Vec<&str> = v
            .unprofitable
            .iter()
            .map(|c| c.row.external_id.as_str())
            .collect();
        assert_eq!(names, ["u1"]);
        let words: Vec<String> = v.unprofitable[0]
            .reasons
            .iter()
            .map(|r| r.words(false, Currency::EUR))
            .collect();
        assert_eq!(
            words,
            [
                "2 high-severity cases cost €160.00",
                "1 meeting cost €40.00",
                "compensations paid €30.00 (1 claim)",
                "margin 50 % on €20.00 revenue",
                "expected future margin -€192.33",
            ],
            "{backend}"
        );
        let fi = v.unprofitable[0].reasons[0].words(true, Currency::EUR);
        assert_eq!(fi, "2 vakavuudeltaan korkeaa tapausta maksoi 160,00\u{a0}€");

        // Drill-downs: by component and by margin bin.
        let q = |show: &str| ProfitQuery {
            filter: parse_filter(show, Currency::EUR).unwrap(),
            ..ProfitQuery::default()
        };
        let ids = |p: kanta_core::profit::ProfitPage| {
            p.rows
                .into_iter()
                .map(|r| r.row.external_id)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids(core.profit_customers(&viewer, &q("cases")).await.unwrap()),
            ["u1"]
        );
        assert_eq!(
            ids(core
                .profit_customers(&viewer, &q("negative"))
                .await
                .unwrap()),
            ["u1", "p2"]
        );
        assert_eq!(
            ids(core
                .profit_customers(&viewer, &q("unprofitable"))
                .await
                .unwrap()),
            ["u1"]
        );
        assert_eq!(
            ids(core.profit_customers(&viewer, &q("bin-5")).await.unwrap()),
            ["s1", "p1"]
        );
        assert!(parse_filter("bin-99", Currency::EUR).is_err());

        // A second pass replaces the first.
        core.run_profitability(&Acting::cli(), Some(today))
            .await
            .unwrap();
        let again = core.value_summary(&viewer).await.unwrap();
        assert_eq!(again.totals.customers, 5, "{backend}");
        assert_eq!(again.totals, v.totals);
    })
    .await;
}
