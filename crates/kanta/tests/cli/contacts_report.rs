//! `kanta report contacts`: contacts per staff member and month and the share that
//! was proactive and not about sales or renewal, as a table and as JSON, on both
//! backends; a bad `--months` is refused with the flag named.

use crate::helpers::{BACKENDS, Env, stderr};

#[test]
fn contacts_report_counts_sales_and_renewal_as_not_proactive() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let staff = env.file(
            "staff.csv",
            "id,name,email\ns1,Anna Aalto,anna@example.fi\n",
        );
        env.ok(&["import", "staff", staff.to_str().unwrap()]);
        let customers = env.file("customers.csv", "id,name\nc1,Kahvila\n");
        env.ok(&["import", "customers", customers.to_str().unwrap()]);
        let at = (chrono::Utc::now() - chrono::Duration::minutes(10)).to_rfc3339();
        let rows = [
            ("i1", "true", "check_in"),
            ("i2", "true", "sales"),
            ("i3", "true", "renewal"),
            ("i4", "false", "service"),
        ];
        let mut csv = String::from("id,customer_id,occurred_at,kind,staff_id,proactive,purpose\n");
        for (id, proactive, purpose) in rows {
            csv.push_str(&format!("{id},c1,{at},call,s1,{proactive},{purpose}\n"));
        }
        let interactions = env.file("interactions.csv", &csv);
        env.ok(&["import", "interactions", interactions.to_str().unwrap()]);

        let r = env.json(&["report", "contacts", "--months", "3"]);
        assert_eq!(r["months"].as_array().unwrap().len(), 3, "{backend}: {r}");
        let anna = &r["totals"][0];
        assert_eq!(anna["staff_id"], "s1", "{backend}: {r}");
        assert_eq!(anna["contacts"], 4);
        assert_eq!(anna["share"]["k"], 1);
        assert_eq!(anna["share"]["p"], 0.25);
        let table = env.ok(&["report", "contacts"]);
        assert!(
            table.contains("Anna Aalto") && table.contains("25.0 %"),
            "{table}"
        );
        let bad = env.run(&["report", "contacts", "--months", "0"]);
        assert!(!bad.status.success());
        assert!(stderr(&bad).contains("--months"), "{}", stderr(&bad));
    }
}
