//! `kanta ending` with the real binary, on both backends: a customer in the contact
//! queue is proposed for ending as unprofitable with a notice, the refusal without a
//! reason is refused in one sentence (exit 1), the approval with today's date ends
//! them (the notice in the outbox, the customer ended with the code), they leave the
//! queue, and `list` shows the ending; `due` reports none left.

use crate::helpers::{BACKENDS, Env, stderr};

#[test]
fn an_unprofitable_customer_is_ended_and_leaves_the_queue() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let customers = env.file(
            "customers.csv",
            "id,name,email,locale,acquired_on,tier\n\
             c1,Raimo Reklamoija,raimo@example.fi,fi,2020-01-15,A\n\
             c2,Ulla Uskollinen,ulla@example.fi,en,2020-01-15,A\n",
        );
        env.ok(&["import", "customers", customers.to_str().unwrap()]);
        env.ok(&["queue", "refresh"]);
        let q = env.json(&["queue"]);
        let ids: Vec<&str> = q["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["customer_id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&"c1") && ids.contains(&"c2"), "{backend}: {q}");

        let p = env.json(&[
            "ending",
            "propose",
            "c1",
            "--reason",
            "unprofitable",
            "--note",
            "Neljä vakavaa reklamaatiota, pieni kate",
            "--notify",
        ]);
        assert_eq!(p["status"], "proposed", "{backend}: {p}");
        let id = p["id"].as_i64().unwrap().to_string();
        let out = env.run(&["ending", "refuse", &id]);
        assert_eq!(out.status.code(), Some(1), "{backend}");
        assert!(
            stderr(&out).contains("a refusal needs its reason"),
            "{backend}: {}",
            stderr(&out)
        );
        let text = env.ok(&["ending", "approve", &id]);
        assert!(
            text.contains(&format!(
                "Ending {id} of customer c1 (Raimo Reklamoija): unprofitable"
            )) && text.contains("ended")
                && text.contains("notice queued"),
            "{backend}: {text}"
        );
        let q = env.json(&["queue"]);
        assert!(
            !q["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["customer_id"] == "c1"),
            "{backend}: {q}"
        );
        let l = env.json(&["ending", "list"]);
        assert_eq!(l[0]["customer_id"], "c1", "{backend}: {l}");
        assert_eq!(l[0]["status"], "ended");
        assert_eq!(l[0]["customer_status"], "ended");
        assert!(l[0]["mail_id"].as_i64().is_some(), "{backend}: {l}");
        let table = env.ok(&["ending", "list", "--status", "ended"]);
        assert!(
            table.contains("Raimo Reklamoija") && table.contains("queued"),
            "{table}"
        );
        assert!(env.ok(&["ending", "due"]).contains("0 customers ended"));
        let out = env.run(&["ending", "propose", "c2", "--reason", "bored"]);
        assert_eq!(out.status.code(), Some(1), "{backend}");
        assert!(stderr(&out).contains("not a reason"), "{}", stderr(&out));
    }
}
