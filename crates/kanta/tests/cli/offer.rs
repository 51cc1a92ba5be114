//! `kanta offer list|send` and `kanta report offer ID [--json]` with the real binary on
//! both backends: customers and an offer imported from CSV, the offer sent by hand
//! (manual channel) with 20 % control per tier, a second send refused in words,
//! orders with the code imported, and the report's groups, redemptions and uplift.

use crate::helpers::{BACKENDS, Env, stderr};

#[test]
fn offer_send_and_report() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let mut customers = String::from("id,name,tier,segment,status\n");
        for i in 0..40 {
            let tier = if i < 20 { "A" } else { "B" };
            let status = if i == 0 { "ended" } else { "active" };
            customers.push_str(&format!("c{i:02},Asiakas {i},{tier},kanta,{status}\n"));
        }
        let c = env.file("customers.csv", &customers);
        env.ok(&["import", "customers", c.to_str().unwrap()]);
        let o = env.file(
            "offers.csv",
            "id,name,text_fi,channel,audience,audience_value,valid_from,valid_until,code,cost_per_redemption,control_percent\n\
             o1,Kahvi kaupan päälle,Seuraava kahvi meiltä,manual,segment,kanta,2026-01-01,2026-01-31,KAHVI,\"1,00\",20\n",
        );
        env.ok(&["import", "offers", o.to_str().unwrap()]);
        let list = env.json(&["offer", "list"]);
        assert_eq!(list[0]["status"], "draft", "{backend}: {list}");

        let sent = env.json(&["offer", "send", "o1"]);
        // 39 drawn (c00 ended): tier A 19 → 4 control, tier B 20 → 4.
        assert_eq!(sent["considered"], 40, "{backend}: {sent}");
        assert_eq!(sent["excluded"][0][0], "ended");
        assert_eq!(sent["offer_arm"], 31, "{sent}");
        assert_eq!(sent["control_arm"], 8, "{sent}");
        let again = env.run(&["offer", "send", "o1"]);
        assert!(!again.status.success());
        assert!(
            stderr(&again).contains("sent already"),
            "{}",
            stderr(&again)
        );

        let mut orders = String::from("id,customer_id,occurred_at,amount,offer_code\n");
        for i in 1..40 {
            orders.push_str(&format!("t{i},c{i:02},2026-01-15 12:00,\"10,00\",KAHVI\n"));
        }
        let t = env.file("orders.csv", &orders);
        env.ok(&["import", "transactions", t.to_str().unwrap()]);
        let r = env.json(&["report", "offer", "o1"]);
        assert_eq!(r["redemptions"], 31, "{backend}: {r}");
        assert_eq!(r["uplift"]["n_offer"], 31);
        assert_eq!(r["uplift"]["purchase"]["offer"]["mean"], 1.0);
        assert_eq!(r["uplift"]["not_yet"], "too_few", "{r}");
        let text = env.ok(&["report", "offer", "o1"]);
        for want in [
            "Offer group 31 (told 31), control group 8; redemptions 31.",
            "Not enough data yet",
            "purchase rate",
            "relationship ended: 1",
        ] {
            assert!(text.contains(want), "{backend}: {want}\n{text}");
        }
    }
}

/// The demo's offer (docs/demo.md): sent by `kanta demo` with a 20 % control group,
/// its stated true uplift (+10 points of purchase rate) lies in the report's 95 %
/// interval of the purchase rate's difference.
#[test]
fn demo_offer_interval_covers_the_true_uplift() {
    let env = Env::new(BACKENDS[0]);
    env.ok(&["demo", "--no-serve", "--as-of", "2026-11-01"]);
    let r = env.json(&["report", "offer", "cafe-offer-1"]);
    let u = &r["uplift"];
    let (nt, nc) = (
        u["n_offer"].as_f64().unwrap(),
        u["n_control"].as_f64().unwrap(),
    );
    assert!(nt + nc >= 100.0, "{r}");
    let share = nc / (nt + nc);
    assert!((share - 0.2).abs() < 0.01, "80/20 split: {nt} / {nc}");
    let d = &u["purchase"]["absolute"]["diff"];
    let (low, high) = (d["low"].as_f64().unwrap(), d["high"].as_f64().unwrap());
    let truth = 0.10;
    assert!(
        low <= truth && truth <= high,
        "the interval {low:.3}..{high:.3} covers the true +10 points: {r}"
    );
}
