//! `kanta import` on bad files: one clear sentence naming the file, the line and the
//! field, an excerpt at most of any value, and nothing written.

use crate::helpers::{BACKENDS, Env, stderr};

#[test]
fn an_amount_beyond_the_bound_is_refused_by_line_and_field_on_both_backends() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        env.file(
            "big.csv",
            "id,customer_id,occurred_at,amount\nb1,X,2024-01-01,92233720368547758.07\nb2,X,2024-01-02,92233720368547758.07\n",
        );
        for _ in 0..2 {
            let out = env.run(&["import", "transactions", "big.csv"]);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{backend}: {err}");
            assert!(
                err.contains("big.csv:2: amount: 92233720368547758.07 is beyond the largest amount Kanta accepts, ±100,000,000,000.00"),
                "{backend}: {err}"
            );
            assert!(
                !err.contains("database error") && !err.contains("overflow"),
                "{err}"
            );
        }
        assert_eq!(env.count("transactions"), 0);
        // Order lines that add up past the bound are refused too (no sum overflows).
        env.file(
            "lines.csv",
            "order_id,customer_id,occurred_at,amount\no1,X,2024-01-01,90000000000\no1,X,2024-01-01,90000000000\n",
        );
        let out = env.run(&["import", "transactions", "lines.csv"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{backend}: {err}");
        assert!(
            err.contains("amount: 180000000000.00 is beyond"),
            "{backend}: {err}"
        );
    }
}

#[test]
fn times_far_ahead_are_refused_unless_the_setting_allows_them() {
    let env = Env::new("sqlite");
    let ahead = (chrono::Utc::now() + chrono::Duration::days(10))
        .format("%Y-%m-%d")
        .to_string();
    env.file(
        "t.csv",
        &format!(
            "customer_id,occurred_at,amount\nc1,2024-01-01,1\nc1,9999-12-31,1\nc1,{ahead},1\n"
        ),
    );
    let out = env.run(&["import", "transactions", "t.csv"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // (A date without a zone is read in the store's zone, so its UTC time may be the
    // day before.)
    assert!(
        err.contains("t.csv:3: occurred_at: 9999-12-3") && err.contains("is after 2200"),
        "{err}"
    );
    assert!(
        err.contains("t.csv:4: occurred_at: ") && err.contains("more than 24 hours ahead of now"),
        "{err}"
    );
    assert_eq!(env.count("transactions"), 0);
    // With a month allowed, the order ten days ahead is taken.
    env.file(
        "ok.csv",
        &format!("customer_id,occurred_at,amount\nc1,{ahead},1\n"),
    );
    let out = env
        .cmd()
        .env("KANTA_STORE__MAX_FUTURE_HOURS", "720")
        .args(["import", "transactions", "ok.csv"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.count("transactions"), 1);
}

#[test]
fn each_bad_file_says_what_is_wrong_once() {
    let env = Env::new("sqlite");
    env.file("empty.csv", "");
    env.file(
        "colons.csv",
        "customer_id:occurred_at:amount\nc1:2024-01-01:12.50\n",
    );
    env.file(
        "three.csv",
        "c1,2024-01-01,1\nc2,2024-01-02,2\nc3,2024-01-03,3\n",
    );
    env.file(
        "ok.csv",
        "customer_id,occurred_at,amount\nc1,2024-01-01,1\n",
    );
    env.file(
        "bad.jsonl",
        "{\"customer_id\":\"c1\",\"occurred_at\":\"2024-01-01\",\"amount\":1}\n{oops\n",
    );
    let cases: &[(&[&str], &str)] = &[
        (
            &["import", "transactions", "empty.csv"],
            "empty.csv: the file is empty",
        ),
        (
            &["import", "transactions", "colons.csv"],
            "the first line has none of the delimiters tried (comma, semicolon, tab, |) (it has ':'); name it with --delimiter",
        ),
        (
            &[
                "import",
                "transactions",
                "three.csv",
                "--no-header",
                "--map",
                "1=customer_id",
                "--map",
                "2=occurred_at",
                "--map",
                "9=amount",
            ],
            "there is no column 9: the file has 3 columns",
        ),
        (
            &["import", "transactions", "ok.csv", "--date-format", "%Q"],
            "--date-format '%Q' is not a format",
        ),
        (
            &["import", "transactions", "bad.jsonl"],
            "bad.jsonl:2: not a JSON object",
        ),
    ];
    for (args, expected) in cases {
        let out = env.run(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "said once: {err}");
        assert!(!err.contains("need an amount"), "{args:?}: {err}");
    }
}

#[test]
fn a_huge_line_or_field_stops_early_and_is_not_echoed() {
    let env = Env::new("sqlite");
    // A header line of 8 MB without a line end.
    let mut header = String::from("customer_id,occurred_at,amount,");
    header.push_str(&"h".repeat(8 << 20));
    env.file("head.csv", &header);
    let out = env.run(&["import", "transactions", "head.csv"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}", &err[..err.len().min(500)]);
    assert!(
        err.contains("head.csv: line 1 is longer than 1,048,576 bytes"),
        "{}",
        &err[..err.len().min(500)]
    );
    assert!(err.len() < 500, "{} bytes on stderr", err.len());
    // A field of 500 kB in a line of its own.
    let mut text = String::from("id,name,note\nc1,");
    text.push_str(&"n".repeat(500_000));
    text.push_str(",x\n");
    env.file("field.csv", &text);
    let out = env.run(&["import", "customers", "field.csv"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}", &err[..err.len().min(500)]);
    assert!(
        err.contains("field.csv:2: name: is longer than 65,536 bytes (500,000 bytes)"),
        "{}",
        &err[..err.len().min(500)]
    );
    assert!(err.len() < 1000, "{} bytes on stderr", err.len());
}
