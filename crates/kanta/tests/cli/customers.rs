use crate::helpers::{BACKENDS, Env};

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
        assert!(first < second, "time order:\n{text}");
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
            first["customers"], 5300,
            "{backend}: 5,000 café customers and 300 accounts"
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
        let show = env.json(&["customers", "show", "b2b-001"]);
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
