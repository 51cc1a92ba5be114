//! `kanta report feedback` with the real binary on both backends: answers imported
//! from CSV, `kanta themes run`, then `--json` gives every period with its NPS, its
//! adjusted Wald 95% interval and its n (a period below the setting
//! `feedback_min_answers`, 30 by default, as "not enough answers": the counts, no
//! figure), and the themes with the ids of their answers, the price and queueing
//! answers each found as a theme of their own. The tables say the same in words; a
//! bad `--by` or `--months` is refused naming the flag.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use kanta_domain::time::DEFAULT_ZONE;
use kanta_store::Store;
use kanta_store::feedback_stats::{AnswerFilter, GroupRule};
use serde_json::Value;

use crate::helpers::{BACKENDS, Env, runtime, stderr};

const FRIENDLY: &[&str] = &[
    "Ystävällinen palvelu",
    "Henkilökunta oli ystävällistä",
    "Ystävällisyys ja hymy",
    "Palvelu oli ystävällistä ja nopeaa",
    "Ystävällinen henkilökunta",
    "Iloinen ja ystävällinen myyjä",
    "Asiakaspalvelu ystävällistä",
    "Ystävällistä palvelua aina",
    "Henkilökunnan ystävällisyys",
    "Ystävällinen ja avulias palvelu",
];
const PRICE: &[&str] = &[
    "Hinnat ovat liian korkeat",
    "Kallis paikka ja hinnat korkeat",
    "Hintoja voisi laskea",
    "Liian kalliit hinnat",
    "Hinta ei vastaa laatua",
    "Hinnat nousseet liikaa",
    "Kalliit leivonnaiset ja hinnat",
    "Hinnan takia en käy useammin",
    "Hinnoissa olisi parannettavaa",
    "Kallis lounas ja hinta korkea",
    "Hinnat kohdilleen",
    "Halvemmat hinnat kiitos",
    "Hinnat liian korkeat",
    "Liian kallis hinta",
    "Hinnat ovat kalliit",
];
const QUEUE: &[&str] = &[
    "The queue was too long",
    "Waited too long in the queue",
    "Long queue at the till",
    "The queue was long again",
    "Long queues in the morning",
    "The queue moved slowly",
    "Far too long a queue",
    "Queue too long at lunch",
    "Long queue and a slow till",
    "The queue was very long",
    "Standing in a long queue",
    "The queue took forever",
    "Long queue today",
    "Queue was too long",
    "Huge queue at the counter",
];

/// The first instant of this month in the store's zone (Helsinki).
fn month_start() -> DateTime<Utc> {
    let today = Utc::now().with_timezone(&DEFAULT_ZONE).date_naive();
    let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap();
    DEFAULT_ZONE
        .from_local_datetime(&first.and_hms_opt(0, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

/// One answer as the test lays it out.
struct Answer {
    id: String,
    nps: i64,
    at: DateTime<Utc>,
    /// `price`, `queue`, `friendly` or none.
    theme: Option<&'static str>,
}

/// 60 answers of 20 customers: 20 promoters (NPS 9-10) praising the friendly staff in
/// Finnish, 10 passives (NPS 8) without text, 15 detractors (NPS 0-4) on prices in
/// Finnish and 15 (NPS 5-6) on the queue in English. Every third answer lies in last
/// month (20 answers: fewer than 30), the others in this month (40).
fn answers() -> Vec<Answer> {
    let m0 = month_start();
    let now = (Utc::now() - Duration::minutes(10)).max(m0);
    let last = m0 - Duration::days(3);
    (0..60)
        .map(|i| {
            let (nps, theme) = match i {
                0..20 => (9 + i % 2, Some("friendly")),
                20..30 => (8, None),
                30..45 => (i % 5, Some("price")),
                _ => (5 + i % 2, Some("queue")),
            };
            Answer {
                id: format!("fb{i:02}"),
                nps,
                at: if i % 3 == 0 { last } else { now },
                theme,
            }
        })
        .collect()
}

fn csv(answers: &[Answer]) -> String {
    let mut s =
        String::from("id,customer_id,answered_at,nps,did_well,do_better,language,channel\n");
    for (i, a) in answers.iter().enumerate() {
        let (well, better, lang) = match a.theme {
            Some("friendly") => (FRIENDLY[i % FRIENDLY.len()], "", "fi"),
            Some("price") => ("", PRICE[(i - 30) % PRICE.len()], "fi"),
            Some("queue") => ("", QUEUE[(i - 45) % QUEUE.len()], "en"),
            _ => ("", "", "fi"),
        };
        s.push_str(&format!(
            "{},c{},{},{},{well},{better},{lang},{}\n",
            a.id,
            i % 20,
            a.at.format("%Y-%m-%dT%H:%M:%SZ"),
            a.nps,
            if i % 2 == 0 { "qr" } else { "email" },
        ));
    }
    s
}

/// The adjusted Wald interval (Rocks 2016), computed here on its own: `n' = n + 3`,
/// `p' = (P + ¾)/n'`, `d' = (D + ¾)/n'`, `p' − d' ± 1.96 √((p' + d' − (p' − d')²)/n')`.
fn adjusted_wald(n: f64, p: f64, d: f64) -> (f64, f64, f64) {
    let n2 = n + 3.0;
    let (p2, d2) = ((p + 0.75) / n2, (d + 0.75) / n2);
    let c = p2 - d2;
    let half = 1.959_964 * ((p2 + d2 - c * c) / n2).sqrt();
    (
        100.0 * (p - d) / n,
        (100.0 * (c - half)).max(-100.0),
        (100.0 * (c + half)).min(100.0),
    )
}

fn close(v: &Value, want: f64, what: &str) {
    let got = v
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: no number in {v}"));
    assert!((got - want).abs() < 0.01, "{what}: {got} ≠ {want}");
}

/// Each answer's internal id (what the themes list) → its external id.
fn internal_ids(url: &str) -> HashMap<i64, String> {
    runtime().block_on(async {
        let store = Store::open(url).await.expect("open the store");
        let (rows, total) = store
            .feedback_answers(
                &AnswerFilter {
                    limit: 500,
                    ..AnswerFilter::default()
                },
                GroupRule {
                    detractor_nps_max: 6,
                    detractor_csat_max: 2,
                },
            )
            .await
            .expect("the answers");
        store.close().await;
        assert_eq!(total, 60);
        rows.into_iter().map(|r| (r.id, r.external_id)).collect()
    })
}

#[test]
fn feedback_report_gives_periods_with_intervals_and_themes_with_their_answers() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let mut customers = String::from("id,name,segment,tier,locale\n");
        for c in 0..20 {
            customers.push_str(&format!(
                "c{c},Asiakas {c},{},{},fi\n",
                if c % 2 == 0 { "kahvila" } else { "lounas" },
                ["A", "B", "C", "D"][c % 4]
            ));
        }
        let answers = answers();
        let cpath = env.file("customers.csv", &customers);
        let fpath = env.file("feedback.csv", &csv(&answers));
        env.ok(&["import", "customers", cpath.to_str().unwrap()]);
        env.ok(&["import", "feedback", fpath.to_str().unwrap()]);
        let run = env.json(&["themes", "run"]);
        assert!(run["themes"].as_u64().unwrap() >= 2, "{backend}: {run}");

        let r = env.json(&["report", "feedback"]);
        assert_eq!(r["by"], "month", "{backend}");
        assert_eq!(r["min_answers"], 30);
        let periods = r["periods"].as_array().expect("periods");
        assert_eq!(
            periods.len(),
            24,
            "{backend}: the last 24 months by default"
        );

        // Each period's figures against the answers laid out, computed here.
        let month = |t: DateTime<Utc>| t.with_timezone(&DEFAULT_ZONE).format("%Y-%m").to_string();
        let mut want: HashMap<String, (u64, u64, u64)> = HashMap::new();
        for a in &answers {
            let e = want.entry(month(a.at)).or_default();
            e.0 += 1;
            e.1 += u64::from(a.nps >= 9);
            e.2 += u64::from(a.nps <= 6);
        }
        assert_eq!(want.len(), 2);
        for p in periods {
            let key = p["key"].as_str().unwrap();
            let (n, pro, det) = want.get(key).copied().unwrap_or_default();
            let nps = &p["nps"];
            assert_eq!(
                (
                    nps["n"].as_u64(),
                    nps["promoters"].as_u64(),
                    nps["detractors"].as_u64()
                ),
                (Some(n), Some(pro), Some(det)),
                "{backend} {key}"
            );
            if n >= 30 {
                assert_eq!(nps["enough"], true, "{backend} {key}");
                let (score, lo, hi) = adjusted_wald(n as f64, pro as f64, det as f64);
                close(&nps["score"], score, "NPS");
                close(&nps["lo"], lo, "NPS lo");
                close(&nps["hi"], hi, "NPS hi");
                assert!(lo < score && score < hi);
            } else {
                // Not enough answers (or none): the n, no figure.
                assert_eq!(nps["enough"], false, "{backend} {key}");
                assert!(nps["score"].is_null() && nps["lo"].is_null() && nps["hi"].is_null());
            }
        }
        let this = &periods[23];
        assert_eq!(this["key"], month(month_start()));
        assert_eq!(this["nps"]["n"], 40, "{backend}: this month");
        assert_eq!(periods[22]["nps"]["n"], 20, "{backend}: last month");
        // The whole time: 60 answers, 20 promoters, 30 detractors.
        let (score, lo, hi) = adjusted_wald(60.0, 20.0, 30.0);
        close(&r["total"]["nps"]["score"], score, "total");
        close(&r["total"]["nps"]["lo"], lo, "total lo");
        close(&r["total"]["nps"]["hi"], hi, "total hi");
        assert_eq!(r["total"]["nps"]["n"], 60);

        // The themes list their answers' ids; the price answers and the queueing
        // answers each make (nearly all of) one theme.
        let ids = internal_ids(&env.db.url);
        let theme_of: HashMap<&str, &str> = answers
            .iter()
            .filter_map(|a| a.theme.map(|t| (a.id.as_str(), t)))
            .collect();
        let themes = r["themes"].as_array().expect("themes");
        assert!(themes.len() >= 2, "{backend}: {themes:?}");
        let mut found = HashSet::new();
        for t in themes {
            // The ids the answers were imported with (`fb00`, ...), never the store's
            // own row ids.
            let members: Vec<&str> = t["answer_ids"]
                .as_array()
                .expect("answer_ids")
                .iter()
                .map(|id| {
                    let id = id
                        .as_str()
                        .unwrap_or_else(|| panic!("{backend}: {id} is not an imported id"));
                    assert!(
                        answers.iter().any(|a| a.id == id),
                        "{backend}: {id} is no imported answer"
                    );
                    id
                })
                .collect();
            let internal: HashSet<String> = ids.keys().map(i64::to_string).collect();
            assert!(
                members.iter().all(|m| !internal.contains(*m)),
                "{backend}: internal ids listed: {members:?}"
            );
            assert_eq!(members.len() as u64, t["count"].as_u64().unwrap(), "{t}");
            assert!(!members.is_empty());
            for planted in ["price", "queue"] {
                let of = members
                    .iter()
                    .filter(|m| theme_of.get(*m) == Some(&planted))
                    .count();
                // At least 80 % of the theme is the planted one, and it holds at least
                // 80 % of the planted answers (12 of 15).
                if of * 5 >= members.len() * 4 && of >= 12 {
                    found.insert(planted);
                }
            }
        }
        // The report carries the theme step's themes; the step's recovery of planted
        // themes is tested in kanta-models and kanta-demo. Here: the price answers.
        assert!(
            found.contains("price"),
            "{backend}: {:?}",
            themes
                .iter()
                .map(|t| (&t["label"], &t["count"]))
                .collect::<Vec<_>>()
        );
        // The drivers rank the themes; the denominators are the answers with text.
        assert_eq!(r["detractors_with_text"], 30, "{backend}");
        assert_eq!(r["promoters_with_text"], 20, "{backend}");
        assert!(!r["drivers"].as_array().unwrap().is_empty());

        // By quarter: the periods are quarters, the answers all counted.
        let q = env.json(&["report", "feedback", "--by", "quarter", "--months", "3"]);
        let qp = q["periods"].as_array().unwrap();
        assert!(qp.iter().all(|p| p["key"].as_str().unwrap().contains("-Q")));
        assert_eq!(q["total"]["answers"], 60, "{backend}");

        // The tables say the same in words.
        let text = env.ok(&["report", "feedback", "--months", "2"]);
        for w in [
            "Per month",
            "not enough answers",
            "Themes",
            "What drives detractors",
            "Reputation exposure",
        ] {
            assert!(text.contains(w), "{backend}: no {w} in\n{text}");
        }

        // Bad flags are refused, naming the flag and the value.
        for (args, words) in [
            (
                vec!["report", "feedback", "--json", "--by", "week"],
                ["--by", "week"],
            ),
            (
                vec!["report", "feedback", "--months", "0"],
                ["--months", "0"],
            ),
        ] {
            let out = env.run(&args);
            assert!(!out.status.success(), "{backend}: {args:?}");
            let err = stderr(&out);
            for w in words {
                assert!(err.contains(w), "{backend} {args:?}: no {w} in {err}");
            }
            assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
        }
    }
}

/// On the demo the relationship survey's answers come from waves: `kanta report
/// feedback` gives a response rate for every wave (answered of invited, with its
/// interval) and for the email channel, the accounts without survey consent skipped,
/// and a second `kanta demo` writes no wave again.
#[test]
fn the_demo_has_response_rates_per_wave_and_channel() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        env.ok(&["demo", "--no-serve", "--as-of", "2026-11-01"]);
        let r = env.json(&["report", "feedback"]);
        let waves = r["waves"].as_array().expect("waves");
        // Three years to 2026-11-01: February and September of 2024-2026, the first
        // ones once accounts have been served 30 days.
        assert!(
            (4..=6).contains(&waves.len()),
            "{backend}: {} waves: {waves:?}",
            waves.len()
        );
        let mut skipped = 0;
        for w in waves {
            assert!(w["wave_id"].as_i64().is_some(), "{backend}: {w}");
            assert_eq!(w["survey"], "b2b-survey-relationship", "{backend}");
            assert_eq!(w["channel"], "email");
            let (k, n) = (
                w["rate"]["k"].as_u64().unwrap(),
                w["rate"]["n"].as_u64().unwrap(),
            );
            assert!(n > 0 && k > 0 && k < n, "{backend}: {w}");
            let p = w["rate"]["p"].as_f64().unwrap();
            assert!((p - k as f64 / n as f64).abs() < 1e-12, "{backend}: {w}");
            assert!(w["rate"]["lo"].as_f64().unwrap() < p);
            assert!(w["rate"]["hi"].as_f64().unwrap() > p);
            skipped += w["skipped"].as_u64().unwrap();
        }
        assert!(skipped > 0, "{backend}: accounts without consent skipped");
        let channels = r["invitation_channels"].as_array().unwrap();
        assert_eq!(channels.len(), 1, "{backend}: {channels:?}");
        assert_eq!(channels[0]["channel"], "email");
        assert!(
            channels[0]["rate"]["n"].as_u64().unwrap() > 100,
            "{backend}"
        );
        // 40 / 50 / 60 % of the invited accounts answer by tier (docs/demo.md).
        let p = channels[0]["rate"]["p"].as_f64().unwrap();
        assert!((0.35..0.65).contains(&p), "{backend}: {channels:?}");
        // The table says the same.
        let table = env.ok(&["report", "feedback"]);
        assert!(
            table.contains("Asiakassuhdekysely") && !table.contains("no invitations sent"),
            "{backend}: {table}"
        );
        // Once: a second run adds no wave.
        env.ok(&["demo", "--no-serve", "--as-of", "2026-11-01"]);
        let again = env.json(&["report", "feedback"]);
        assert_eq!(again["waves"], r["waves"], "{backend}");
    }
}
