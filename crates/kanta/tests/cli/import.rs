use std::fmt::Write as _;

use crate::helpers::{BACKENDS, Env, datasets, oldest_first, stderr};

const CDNOW: &[&str] = &[
    "--delimiter",
    "whitespace",
    "--no-header",
    "--map",
    "2=customer_id",
    "--map",
    "3=occurred_at",
    "--map",
    "5=amount",
    "--date-format",
    "%Y%m%d",
];

fn cdnow_args(extra: &[&'static str]) -> Vec<String> {
    let path = datasets().join("CDNOW_sample.txt");
    let mut a: Vec<String> = vec![
        "import".into(),
        "transactions".into(),
        path.display().to_string(),
    ];
    a.extend(CDNOW.iter().map(|s| s.to_string()));
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

#[test]
fn cdnow_sample_gives_6919_transactions_and_2357_customers_twice() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let args = cdnow_args(&[]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let first = env.json(&args);
        assert_eq!(first["inserted"], 6919, "{backend}: {first}");
        assert_eq!(first["customers_created"], 2357, "{backend}");
        let second = env.json(&args);
        assert_eq!(
            (second["inserted"].as_i64(), second["unchanged"].as_i64()),
            (Some(0), Some(6919)),
            "{backend}"
        );
        assert_eq!(second["customers_created"], 0);
        assert_eq!(
            (env.count("transactions"), env.count("customers")),
            (6919, 2357),
            "{backend}"
        );

        // Customer 0001's first purchase: 1997-01-01, 29.33.
        let show = oldest_first(env.json(&["customers", "show", "0001", "--events", "100000"]));
        let tl = show["timeline"].as_array().expect("timeline");
        assert_eq!(tl.len(), 4);
        // A date alone is the start of that day in the store's time zone (Helsinki,
        // UTC+2 in winter); JSON keeps UTC.
        assert_eq!(tl[0]["at"], "1996-12-31T22:00:00Z");
        assert_eq!(tl[0]["record"]["amount"], 2933);
    }
}

#[test]
fn online_retail_rejects_rows_without_customer_and_imports_the_rest_as_orders() {
    let gz = datasets().join("online_retail.csv.gz");
    for backend in BACKENDS {
        let env = Env::new(backend);
        let csv = env.dir.path().join("online_retail.csv");
        let out = std::process::Command::new("gzip")
            .arg("-dc")
            .arg(&gz)
            .output()
            .expect("gzip");
        std::fs::write(&csv, out.stdout).expect("unpack");
        let base = [
            "import",
            "transactions",
            "online_retail.csv",
            "--map",
            "InvoiceNo=order_id",
            "--map",
            "CustomerID=customer_id",
            "--map",
            "InvoiceDate=occurred_at",
            "--map",
            "Quantity=quantity",
            "--map",
            "UnitPrice=unit_price",
            "--currency",
            "GBP",
        ];
        let out = env.run(&base);
        assert!(!out.status.success());
        let err = stderr(&out);
        // Line 624 is the first data row without a CustomerID (line 1 is the header).
        assert!(
            err.contains("online_retail.csv:624: customer_id: is required"),
            "{err}"
        );
        assert!(err.contains("135080 of 541909 rows are invalid"), "{err}");
        assert_eq!(env.count("transactions"), 0, "nothing written");

        let mut args = base.to_vec();
        args.push("--skip-invalid");
        args.push("--json");
        let s: serde_json::Value = serde_json::from_str(&env.ok(&args)).unwrap();
        assert_eq!(s["rejected"], 135080, "{backend}");
        assert_eq!(
            s["inserted"], 22190,
            "{backend}: one order per invoice with a customer"
        );
        assert_eq!(env.count("customers"), 4372, "{backend}");
        let rejects =
            std::fs::read_to_string(env.dir.path().join("online_retail.csv.rejects.csv")).unwrap();
        assert_eq!(rejects.lines().count(), 135081);
        assert!(
            rejects
                .lines()
                .nth(1)
                .unwrap()
                .starts_with("624,customer_id,is required,536414,22139")
        );

        // Invoice 536365: 7 lines of customer 17850, 139.12 in all.
        let show = oldest_first(env.json(&["customers", "show", "17850", "--events", "100000"]));
        let order = show["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["record"]["id"] == "536365")
            .expect("order 536365")
            .clone();
        assert_eq!(order["record"]["amount"], 13912);
        assert_eq!(order["record"]["quantity"], 40);
        assert_eq!(order["record"]["currency"], "GBP");
        // A cancellation is a refund.
        let refunds = show["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "refund")
            .count();
        assert!(refunds > 0);
    }
}

fn csv_with_bad_date_on_line_57() -> String {
    let mut s = String::from("id,customer_id,occurred_at,amount\n");
    for i in 2..=70 {
        let date = if i == 57 {
            "31.13.2024".to_string()
        } else {
            format!("{:02}.12.2024", i % 28 + 1)
        };
        let _ = writeln!(s, "t{i},c{},{date},\"12,50\"", i % 7);
    }
    s
}

#[test]
fn a_bad_date_on_line_57_names_the_line_and_writes_nothing() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        env.file(
            "good.csv",
            "id,customer_id,occurred_at,amount\nx1,c1,2024-01-01,5\n",
        );
        env.ok(&["import", "transactions", "good.csv"]);
        env.file("bad.csv", &csv_with_bad_date_on_line_57());
        let out = env.run(&["import", "transactions", "bad.csv"]);
        assert_eq!(out.status.code(), Some(1), "{backend}");
        let err = stderr(&out);
        assert!(
            err.contains("bad.csv:57: occurred_at: '31.13.2024' is not a time"),
            "{backend}: {err}"
        );
        assert_eq!(err.lines().filter(|l| l.starts_with("bad.csv:")).count(), 1);
        assert_eq!(
            (env.count("transactions"), env.count("customers")),
            (1, 1),
            "{backend}: store unchanged"
        );

        // --dry-run validates only; --skip-invalid imports the other 68.
        let out = env.run(&["import", "transactions", "bad.csv", "--dry-run"]);
        assert!(!out.status.success());
        let s = env.json(&[
            "import",
            "transactions",
            "bad.csv",
            "--skip-invalid",
            "--dry-run",
        ]);
        assert_eq!(
            (s["rejected"].as_i64(), s["written"].as_bool()),
            (Some(1), Some(false))
        );
        assert_eq!(env.count("transactions"), 1);
        let s = env.json(&["import", "transactions", "bad.csv", "--skip-invalid"]);
        assert_eq!(
            (s["inserted"].as_i64(), s["rejected"].as_i64()),
            (Some(68), Some(1))
        );
        let rejects = std::fs::read_to_string(env.dir.path().join("bad.csv.rejects.csv")).unwrap();
        assert!(
            rejects.contains("57,occurred_at,\"'31.13.2024' is not a time"),
            "{rejects}"
        );
    }
}

#[test]
fn identical_rows_stay_distinct_and_changed_rows_update() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        // Two identical purchases and one other, no ids: Finnish formats, semicolons.
        let f = "asiakas;pvm;summa\nc1;31.12.2024;12,50\nc1;31.12.2024;12,50\nc1;1.1.2025;3,20\n";
        env.file("kassa.csv", f);
        let args = [
            "import",
            "transactions",
            "kassa.csv",
            "--map",
            "asiakas=customer_id",
            "--map",
            "pvm=occurred_at",
            "--map",
            "summa=amount",
        ];
        let s = env.json(&args);
        assert_eq!(s["inserted"], 3, "{backend}: identical purchases stay two");
        let s = env.json(&args);
        assert_eq!(
            (s["inserted"].as_i64(), s["unchanged"].as_i64()),
            (Some(0), Some(3)),
            "{backend}"
        );
        let show = oldest_first(env.json(&["customers", "show", "c1", "--events", "100000"]));
        let amounts: Vec<i64> = show["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["record"]["amount"].as_i64().unwrap())
            .collect();
        assert_eq!(amounts, [1250, 1250, 320]);

        // With ids, a changed row updates its record.
        env.file(
            "c.csv",
            "id,name,email\nc1,Aino,aino@example.fi\nc2,Bo,bo@example.fi\n",
        );
        assert_eq!(
            env.json(&["import", "customers", "c.csv"])["updated"],
            1,
            "c1 existed, created by its purchases"
        );
        env.file(
            "c.csv",
            "id,name,email\nc1,Aino Virtanen,aino@example.fi\nc2,Bo,bo@example.fi\n",
        );
        let s = env.json(&["import", "customers", "c.csv"]);
        assert_eq!(
            (s["updated"].as_i64(), s["unchanged"].as_i64()),
            (Some(1), Some(1)),
            "{backend}"
        );
        let c1 = oldest_first(env.json(&["customers", "show", "c1", "--events", "100000"]));
        assert_eq!(c1["customer"]["name"], "Aino Virtanen");
        // A duplicate id in one file is an error naming both lines.
        env.file("dup.csv", "id,name\nc3,A\nc3,B\n");
        let out = env.run(&["import", "customers", "dup.csv"]);
        assert!(
            stderr(&out).contains("dup.csv:3: id: 'c3' is also on line 2"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn order_lines_become_one_order_and_negative_ones_a_refund() {
    let env = Env::new("sqlite");
    env.file(
        "lines.csv",
        "order,cust,when,qty,price\n\
         A1,c1,2024-03-01 10:00,2,\"2,55\"\n\
         A2,c2,2024-03-01 11:00,1,10\n\
         A1,c1,2024-03-01 09:59,3,0.10\n\
         C9,c1,2024-03-02 12:00,-1,\"2,55\"\n",
    );
    let s = env.json(&[
        "import",
        "transactions",
        "lines.csv",
        "--map",
        "order=order_id",
        "--map",
        "cust=customer_id",
        "--map",
        "when=occurred_at",
        "--map",
        "qty=quantity",
        "--map",
        "price=unit_price",
    ]);
    assert_eq!(
        (s["rows_read"].as_i64(), s["inserted"].as_i64()),
        (Some(4), Some(3))
    );
    let show = oldest_first(env.json(&["customers", "show", "c1", "--events", "100000"]));
    let tl = show["timeline"].as_array().unwrap();
    assert_eq!(tl[0]["record"]["id"], "A1");
    assert_eq!(tl[0]["record"]["amount"], 540, "2 × 2.55 + 3 × 0.10");
    assert_eq!(tl[0]["record"]["quantity"], 5);
    // 09.59 in Helsinki (UTC+2) is 07:59 UTC.
    assert_eq!(
        tl[0]["at"], "2024-03-01T07:59:00Z",
        "the earliest line's time"
    );
    assert_eq!(
        (tl[1]["kind"].as_str(), tl[1]["record"]["amount"].as_i64()),
        (Some("refund"), Some(-255))
    );

    // An order whose lines name two customers is rejected whole.
    env.file(
        "mixed.csv",
        "order_id,customer_id,occurred_at,amount\nB1,c1,2024-01-01,1\nB1,c2,2024-01-01,1\n",
    );
    let out = env.run(&["import", "transactions", "mixed.csv"]);
    assert!(
        stderr(&out)
            .contains("mixed.csv:3: customer_id: order B1 has lines for customers c1 and c2"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn every_entity_imports_and_unknown_references_are_named() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let files: &[(&str, &str, &str)] = &[
            (
                "staff",
                "staff.csv",
                "id,name,email\ns1,Maija Mehiläinen,maija@example.fi\n",
            ),
            (
                "customers",
                "customers.jsonl",
                "{\"id\":\"k1\",\"kind\":\"company\",\"name\":\"Kahvi Oy\",\"locale\":\"fi\",\"survey_consent\":true,\"acquisition_cost\":\"120,00\",\"acquired_on\":\"1.2.2023\"}\n{\"id\":\"k2\",\"name\":\"Tea Ltd\",\"segment\":\"b2b\"}\n",
            ),
            (
                "contacts",
                "contacts.csv",
                "id,customer_id,name,email,is_primary\np1,k1,Liisa,liisa@example.fi,kyllä\n",
            ),
            (
                "subscriptions",
                "subs.csv",
                "id,customer_id,plan,amount,period,started_on,renews_on\ns1,k1,Pro,\"99,00\",month,1.3.2023,1.12.2024\n",
            ),
            (
                "interactions",
                "int.csv",
                "id,customer_id,occurred_at,kind,direction,staff_id,outcome,proactive,note\ni1,k1,2024-01-05 10:00,call,outbound,s1,positive,yes,\"Soitettiin, kaikki hyvin\"\n",
            ),
            (
                "cases",
                "cases.csv",
                "id,customer_id,opened_at,category,severity,our_fault,resolved_at,compensation\nx1,k1,2024-02-01 09:00,billing,high,true,2024-02-01 15:00,\"25,00\"\n",
            ),
            (
                "feedback",
                "fb.csv",
                "id,customer_id,answered_at,nps,did_well,do_better,language\nf1,k1,2024-02-03,9,Nopea apu,<b>Hinnat</b>,fi\n",
            ),
            (
                "usage",
                "usage.csv",
                "customer_id,occurred_at,metric,value\nk1,2024-01-01,logins,\"12,5\"\nk1,2024-01-08,logins,14\n",
            ),
            (
                "trust",
                "trust.csv",
                "id,customer_id,occurred_at,delta,reason,source\ne1,k1,2024-02-01 14:00,-10,billing mistake,case\n",
            ),
        ];
        for (entity, name, content) in files {
            env.file(name, content);
            let s = env.json(&["import", entity, name]);
            assert!(
                s["inserted"].as_i64().unwrap() >= 1,
                "{backend} {entity}: {s}"
            );
        }
        let stats = env.json(&["stats"]);
        for e in [
            "staff",
            "customers",
            "contacts",
            "subscriptions",
            "interactions",
            "cases",
            "feedback",
            "trust",
        ] {
            assert!(stats[e].as_i64().unwrap() >= 1, "{backend}: {e} {stats}");
        }
        assert_eq!(stats["usage"], 2);
        let show = oldest_first(env.json(&["customers", "show", "k1", "--events", "100000"]));
        assert_eq!(show["customer"]["acquisition_cost"], 12000);
        assert_eq!(show["customer"]["kind"], "company");
        let kinds: Vec<&str> = show["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                // The ledger's rules add their entries at the events' times: the
                // positive call (+1), the case that was our fault (-10), its first
                // response missed (high: 4 business hours; answered only by the
                // resolution at 15:00: -10 at the 13:00 target), the imported entry,
                // the promoter's answer (+1).
                "subscription_started",
                "usage",
                "trust",
                "call",
                "usage",
                "trust",
                "case_opened",
                "trust",
                "trust",
                "case_resolved",
                "trust",
                "feedback"
            ],
            "{backend}"
        );
        assert_eq!(
            show["timeline"][11]["record"]["do_better"], "<b>Hinnat</b>",
            "kept as written"
        );

        // A reference to nobody is an error with the line; nothing is written.
        env.file(
            "int2.csv",
            "id,customer_id,occurred_at,kind\ni2,k1,2024-03-01,visit\ni3,ghost,2024-03-01,visit\n",
        );
        let out = env.run(&["import", "interactions", "int2.csv"]);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("int2.csv:3: customer_id: no customers record with id 'ghost'"),
            "{}",
            stderr(&out)
        );
        assert_eq!(env.count("interactions"), 1);
        // Bad values name their field and reason.
        env.file("fb2.csv", "customer_id,answered_at,nps\nk1,2024-01-01,11\n");
        let out = env.run(&["import", "feedback", "fb2.csv"]);
        assert!(
            stderr(&out).contains("fb2.csv:2: nps: 11 is out of range 0..10"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn errors_are_one_sentence_and_never_a_panic() {
    let env = Env::new("sqlite");
    let cases: &[(&[&str], &str)] = &[
        (
            &["import", "widgets", "x.csv"],
            "there is no entity 'widgets' to import",
        ),
        (
            &["import", "customers", "missing.csv"],
            "missing.csv is not a file",
        ),
        (
            &["customers", "show", "nobody"],
            "there is no customer with id 'nobody'",
        ),
        (
            &["customers", "list", "--sort", "height"],
            "--sort height is not one of",
        ),
    ];
    for (args, expected) in cases {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.starts_with("error: ") && err.contains(expected),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "one sentence: {err}");
        assert!(!err.contains("panicked"));
    }
    env.file("t.csv", "customer_id,occurred_at\nc1,2024-01-01\n");
    let out = env.run(&["import", "transactions", "t.csv"]);
    assert!(
        stderr(&out).contains("transactions need an amount, or a quantity and a unit_price"),
        "{}",
        stderr(&out)
    );
    env.file("t.csv", "customer_id,occurred_at,amount\nc1,2024-01-01,1\n");
    let out = env.run(&["import", "transactions", "t.csv", "--map", "amount=price"]);
    assert!(
        stderr(&out).contains("transactions has no field 'price'"),
        "{}",
        stderr(&out)
    );
    let out = env
        .cmd()
        .args(["stats"])
        .env("KANTA_DATABASE_URL", "mysql://x")
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("not a database URL"),
        "{}",
        stderr(&out)
    );
}
