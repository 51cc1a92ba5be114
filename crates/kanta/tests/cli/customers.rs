use crate::helpers::{BACKENDS, Env, oldest_first};

#[test]
fn customers_list_filters_pages_and_shows_a_timeline() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let mut csv = String::from("id,name,email,segment,status\n");
        for i in 1..=25 {
            csv.push_str(&format!(
                "a{i:02},Asiakas {i:02},a{i}@example.fi,{},{}\n",
                if i <= 5 { "vip" } else { "regular" },
                if i == 25 { "ended" } else { "active" }
            ));
        }
        env.file("c.csv", &csv);
        env.ok(&["import", "customers", "c.csv"]);
        env.file("t.csv", "customer_id,occurred_at,amount\na03,2024-01-02,10\na03,2024-01-01,5\na07,2024-01-03,100\n");
        env.ok(&["import", "transactions", "t.csv"]);

        let page = env.json(&["customers", "list", "--segment", "vip"]);
        assert_eq!(page["total"], 5, "{backend}");
        let page = env.json(&["customers", "list", "--sort", "revenue", "--limit", "2"]);
        assert_eq!(page["customers"][0]["id"], "a07");
        assert_eq!(page["customers"][1]["id"], "a03");
        assert_eq!(page["customers"][1]["revenue_minor"], 1500);
        let page = env.json(&["customers", "list", "--limit", "10", "--page", "3"]);
        assert_eq!(page["customers"].as_array().unwrap().len(), 5);
        assert_eq!(page["customers"][0]["id"], "a21");
        let page = env.json(&["customers", "list", "--status", "ended"]);
        assert_eq!(page["customers"][0]["id"], "a25");

        let text = env.ok(&["customers", "list", "--search", "asiakas 0", "--limit", "3"]);
        assert!(
            text.contains("Asiakas 01") && text.contains("Customers 1-3 of 9."),
            "{text}"
        );

        let text = env.ok(&["customers", "show", "a03"]);
        let first = text.find("2024-01-01").expect("first purchase shown");
        let second = text.find("2024-01-02").expect("second purchase shown");
        assert!(second < first, "newest first:\n{text}");
        assert!(text.contains("amount=5.00 EUR"), "{text}");
    }
}

#[test]
fn demo_builds_the_same_store_on_both_backends_and_again() {
    let mut seen = Vec::new();
    for backend in BACKENDS {
        let env = Env::new(backend);
        let first = env.json(&["demo", "--no-serve", "--as-of", "2026-11-01"]);
        assert_eq!(
            first["customers"], 5311,
            "{backend}: 5,000 café customers, 300 accounts and 11 planted (docs/demo.md)"
        );
        assert!(
            first["transactions"].as_i64().unwrap() > 40_000,
            "{backend}: {first}"
        );
        for e in [
            "staff",
            "contacts",
            "subscriptions",
            "interactions",
            "cases",
            "feedback",
            "usage",
            "trust",
        ] {
            assert!(first[e].as_i64().unwrap() > 0, "{backend}: no {e}");
        }
        let again = env.json(&["demo", "--no-serve", "--as-of", "2026-11-01"]);
        assert_eq!(first, again, "{backend}: a second run changes nothing");
        let show = oldest_first(env.json(&["customers", "show", "b2b-001", "--events", "100000"]));
        assert_eq!(show["customer"]["kind"], "company");
        assert!(
            show["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == "subscription_started")
        );
        seen.push(first);
    }
    assert_eq!(seen[0], seen[1], "SQLite and PostgreSQL hold the same demo");
}

/// A customer's figures agree everywhere: refunds counted apart from orders, revenue
/// net of refunds; the timeline shows the newest events first, a bounded page of them.
#[test]
fn figures_count_refunds_apart_and_the_timeline_is_paged() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let mut csv = String::from("id,customer_id,occurred_at,amount,currency\n");
        csv.push_str("t1,C1,2024-01-05,10.00,EUR\nt2,C1,2024-02-05,20.00,EUR\n");
        csv.push_str("t3,C1,2024-03-05,30.00,EUR\nt4,C1,2024-03-07,-5.00,EUR\n");
        for i in 0..120 {
            csv.push_str(&format!(
                "u{i},C2,2024-04-{:02}T10:{:02}:00Z,1.00,EUR\n",
                1 + i / 60,
                i % 60
            ));
        }
        env.file("tx.csv", &csv);
        env.ok(&["import", "transactions", "tx.csv"]);
        let list = env.json(&["customers", "list"]);
        let c1 = list["customers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "C1")
            .expect("C1 listed")
            .clone();
        assert_eq!(
            (c1["orders_count"].as_i64(), c1["refunds_count"].as_i64()),
            (Some(3), Some(1)),
            "{backend}: {c1}"
        );
        assert_eq!(c1["revenue_minor"], 5500, "{backend}");
        let show = env.json(&["customers", "show", "C1"]);
        let f = &show["figures"];
        assert_eq!(
            (f["orders"].as_i64(), f["refunds"].as_i64()),
            (Some(3), Some(1)),
            "{backend}: {f}"
        );
        assert_eq!(
            (f["revenue_minor"].as_i64(), f["refunded_minor"].as_i64()),
            (Some(5500), Some(500))
        );
        assert_eq!(f["average_order_minor"], 2000, "(10 + 20 + 30) / 3");
        assert_eq!(show["timeline"][0]["record"]["id"], "t4", "newest first");
        let text = env.ok(&["customers", "list"]);
        let row = text.lines().find(|l| l.starts_with("C1 ")).expect("C1 row");
        assert!(
            row.split_whitespace().any(|w| w == "3") && row.contains("55.00"),
            "{row}"
        );

        let busy = env.json(&["customers", "show", "C2"]);
        assert_eq!(
            busy["timeline"].as_array().unwrap().len(),
            50,
            "{backend}: one page"
        );
        assert_eq!(busy["more_events"], true);
        let all = env.json(&["customers", "show", "C2", "--events", "1000"]);
        assert_eq!(all["timeline"].as_array().unwrap().len(), 120);
        assert_eq!(all["more_events"], false);
    }
}
