//! `kanta customers show` as a user reads it: contacts, the trust balance, the
//! subscription (plan, MRR, next renewal, revenue billed), the newest scores and the
//! timeline newest first; `kanta customers list` filtering by trust and refusing an
//! unknown tier by name; help for `--segment` and `--json`.

use crate::helpers::{BACKENDS, Env, stderr};

#[test]
fn customers_show_has_contacts_trust_subscriptions_and_scores() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        env.file(
            "c.csv",
            "id,name,kind\nb1,Betoni Oy,company\np1,Pekka,person\n",
        );
        env.ok(&["import", "customers", "c.csv"]);
        env.file(
            "k.csv",
            "customer_id,name,email,title,is_primary\nb1,Maija Mallikas,maija@betoni.example,CFO,yes\n",
        );
        env.ok(&["import", "contacts", "k.csv"]);
        env.file(
            "s.csv",
            "id,customer_id,plan,amount,currency,period,started_on\ns1,b1,Pro,120,EUR,month,2024-01-31\n",
        );
        env.ok(&["import", "subscriptions", "s.csv"]);
        env.file(
            "t.csv",
            "customer_id,occurred_at,delta,reason\nb1,2024-02-01,-3,late delivery\n",
        );
        env.ok(&["import", "trust", "t.csv"]);

        let text = env.ok(&["customers", "show", "b1"]);
        for want in [
            "Contacts",
            "Maija Mallikas, CFO, maija@betoni.example, main contact",
            "trust balance          -3 (trust deficit)",
            "plan                   Pro",
            "MRR                    120.00 EUR",
            "next renewal",
            "Subscriptions",
            "Pro                    120.00 EUR per month, from 2024-01-31",
            "Scores",
            "not scored yet",
        ] {
            assert!(text.contains(want), "{backend}: {want}:\n{text}");
        }
        let j = env.json(&["customers", "show", "b1"]);
        assert_eq!(j["figures"]["mrr_minor"], 12_000, "{backend}: {j}");
        assert!(j["figures"]["subscription_revenue_minor"].as_i64().unwrap() >= 12_000);
        assert_eq!(
            j["figures"]["revenue_minor"], j["figures"]["subscription_revenue_minor"],
            "no orders: revenue is what the subscription billed"
        );
        assert_eq!(j["contacts"][0]["name"], "Maija Mallikas");
        assert_eq!(j["subscriptions"][0]["plan"], "Pro");
        assert!(j["scores"].is_null());

        let page = env.json(&["customers", "list", "--trust", "deficit"]);
        assert_eq!(page["total"], 1, "{backend}");
        assert_eq!(page["customers"][0]["id"], "b1");
        let page = env.json(&["customers", "list", "--sort", "mrr"]);
        assert_eq!(page["customers"][0]["id"], "b1");
        assert_eq!(page["customers"][0]["plan"], "Pro");
        assert_eq!(
            page["customers"][0]["figures"]["revenue_minor"], j["figures"]["revenue_minor"],
            "the list's figures are the customer's"
        );
        let text = env.ok(&["customers", "list"]);
        assert!(text.contains("MRR") && text.contains("Pro"), "{text}");

        let o = env.run(&["customers", "list", "--tier", "Z"]);
        assert!(!o.status.success());
        assert!(
            stderr(&o).contains("--tier Z is not one of A, B, C, D"),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn customers_list_and_show_explain_segment_and_json() {
    let env = Env::new("sqlite");
    let help = env.ok(&["customers", "list", "--help"]);
    assert!(help.contains("Only customers of this segment"), "{help}");
    assert!(help.contains("Print the page as JSON"), "{help}");
    let help = env.ok(&["customers", "show", "--help"]);
    assert!(help.contains("as JSON"), "{help}");
}
