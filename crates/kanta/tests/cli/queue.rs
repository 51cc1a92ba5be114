//! `kanta queue`: the contact queue on the command line, on both backends: `refresh`
//! computes it, `--json` lists the rows by value at risk with their reasons, the
//! table says them in words, filters by owner and reason, and a bad reason is refused
//! with the flag named.

use crate::helpers::{BACKENDS, Env, stderr};

#[test]
fn queue_lists_reasons_as_json_and_words() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let staff = env.file(
            "staff.csv",
            "id,name,email\ns1,Anna Aalto,anna@example.fi\n",
        );
        env.ok(&["import", "staff", staff.to_str().unwrap()]);
        let customers = env.file(
            "customers.csv",
            "id,name,owner_id,acquired_on\nc1,Kahvila Aalto,s1,\nc2,Leipomo,,2020-01-01\n",
        );
        env.ok(&["import", "customers", customers.to_str().unwrap()]);
        let at = (chrono::Utc::now() - chrono::Duration::hours(5)).to_rfc3339();
        let feedback = env.file(
            "feedback.csv",
            &format!("id,customer_id,answered_at,nps\nf1,c1,{at},1\n"),
        );
        env.ok(&["import", "feedback", feedback.to_str().unwrap()]);

        let before = env.json(&["queue"]);
        assert_eq!(
            before["items"].as_array().unwrap().len(),
            0,
            "{backend}: {before}"
        );
        let out = env.ok(&["queue"]);
        assert!(out.contains("kanta queue refresh"), "{backend}: {out}");

        let r = env.json(&["queue", "refresh"]);
        assert_eq!(r["queued"], 2, "{backend}: {r}");
        let q = env.json(&["queue"]);
        let items = q["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{backend}: {q}");
        let c1 = items.iter().find(|i| i["customer_id"] == "c1").unwrap();
        let keys: Vec<&str> = c1["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["key"].as_str().unwrap())
            .collect();
        assert!(keys.contains(&"detractor"), "{backend}: {q}");
        assert_eq!(c1["owner_name"], "Anna Aalto");
        let c2 = items.iter().find(|i| i["customer_id"] == "c2").unwrap();
        assert_eq!(c2["reasons"][0]["key"], "cadence", "{backend}: {q}");

        let mine = env.json(&["queue", "--owner", "anna@example.fi"]);
        assert_eq!(
            mine["items"].as_array().unwrap().len(),
            1,
            "{backend}: {mine}"
        );
        let by = env.json(&["queue", "--reason", "cadence"]);
        assert_eq!(by["items"][0]["customer_id"], "c2", "{backend}: {by}");
        let table = env.ok(&["queue"]);
        assert!(
            table.contains("Kahvila Aalto") && table.contains("Leipomo"),
            "{table}"
        );
        let bad = env.run(&["queue", "--reason", "vibes"]);
        assert!(!bad.status.success());
        assert!(stderr(&bad).contains("--reason"), "{}", stderr(&bad));
    }
}
