//! The demo's surveys and the planted themes of its answers (issue 13, docs/demo.md
//! "Surveys and answers").

use std::collections::{BTreeMap, HashMap};

use chrono::TimeDelta;
use kanta_demo::{
    ANSWER_THEMES, DEMO_SURVEYS, DemoConfig, OLD_SURVEY_DAYS, THEME_MIX, inflect, planted_theme,
};

use crate::common::{batch, default_data, rows};

#[test]
fn surveys_are_written_and_every_answer_names_its_survey() {
    let data = default_data();
    let surveys: Vec<_> = rows(batch(data, "surveys")).collect();
    assert_eq!(surveys.len(), DEMO_SURVEYS.len());
    let ids: Vec<&str> = surveys.iter().map(|r| r.id()).collect();
    assert!(ids.contains(&"cafe-survey-visit"));
    let visit = surveys
        .iter()
        .find(|r| r.id() == "cafe-survey-visit")
        .unwrap();
    assert_eq!(visit.text("status"), Some("active"));
    assert_eq!(visit.text("send_after"), Some("order"));
    assert_eq!(visit.int("send_after_days"), Some(1));
    let q = visit.text("questions").unwrap();
    let fields: Vec<&str> = q
        .split("\"field\":\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert_eq!(fields, ["nps", "did_well", "do_better"]);
    assert!(q.contains("Mitä teimme hyvin?") && q.contains("What should we do better?"));
    assert_eq!(
        surveys
            .iter()
            .filter(|r| r.text("status") == Some("closed"))
            .count(),
        1
    );

    let old_before = DemoConfig::default().now() - TimeDelta::days(OLD_SURVEY_DAYS);
    let mut per_survey: BTreeMap<&str, usize> = BTreeMap::new();
    let mut channels: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows(batch(data, "feedback")) {
        let s = r.text("survey_id").expect("every answer has a survey");
        assert!(ids.contains(&s), "{s}");
        assert_eq!(r.int("survey_version"), Some(1));
        let ch = r.text("channel").unwrap();
        assert!(["email", "qr", "link"].contains(&ch), "{ch}");
        if r.id().starts_with("cafe-") {
            let old = r.time("answered_at").unwrap() < old_before;
            assert_eq!(s == "cafe-survey-old", old, "{}", r.id());
        } else {
            assert!(s.starts_with("b2b-"));
        }
        *per_survey.entry(s).or_default() += 1;
        *channels.entry(ch).or_default() += 1;
    }
    for (id, ..) in DEMO_SURVEYS {
        assert!(
            per_survey.get(id).copied().unwrap_or(0) > 20,
            "{id}: {per_survey:?}"
        );
    }
    assert!(channels.len() == 3, "{channels:?}");
}

fn group(nps: Option<i64>, csat: Option<i64>) -> &'static str {
    match (nps, csat) {
        (Some(0..=6), _) | (None, Some(1 | 2)) => "detractor",
        (Some(7 | 8), _) | (None, Some(3)) => "passive",
        _ => "promoter",
    }
}

/// Every free text of the demo: (business, kind well/better, group, language, theme,
/// thanks).
fn texts() -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    String,
    &'static str,
    bool,
    String,
)> {
    let data = default_data();
    let mut out = Vec::new();
    for r in rows(batch(data, "feedback")) {
        let business = if r.id().starts_with("cafe-") {
            "cafe"
        } else {
            "b2b"
        };
        let g = group(r.int("nps"), r.int("csat"));
        let thanks_field = if r.text("did_well").is_some() {
            "did_well"
        } else {
            "comment"
        };
        for field in ["did_well", "do_better", "comment"] {
            let Some(text) = r.text(field) else { continue };
            let kind = match field {
                "did_well" => "well",
                "do_better" => "better",
                _ if r.int("csat").is_some_and(|c| c >= 4) => "well",
                _ => "better",
            };
            let theme = planted_theme(business, text)
                .unwrap_or_else(|| panic!("{}: no planted theme in {text:?}", r.id()));
            let thanks = r.text("staff_id").is_some() && field == thanks_field;
            out.push((
                business,
                kind,
                g,
                r.text("language").unwrap().to_string(),
                theme,
                thanks,
                text.to_string(),
            ));
        }
    }
    out
}

#[test]
fn themes_are_planted_at_the_stated_shares() {
    let all = texts();
    for (business, kind, g, mix) in THEME_MIX {
        let cell: Vec<_> = all
            .iter()
            .filter(|t| t.0 == *business && t.1 == *kind && t.2 == *g && !t.5)
            .collect();
        let n = cell.len() as f64;
        if n < 100.0 {
            continue;
        }
        for (key, p) in *mix {
            let k = cell.iter().filter(|t| t.4 == *key).count() as f64;
            let tol = 4.0 * (p * (1.0 - p) / n).sqrt() + 0.005;
            assert!(
                (k / n - p).abs() <= tol,
                "{business} {kind} {g} {key}: {:.3} of {n}, stated {p}",
                k / n
            );
        }
    }
    // Every theme is there, in both languages.
    for t in ANSWER_THEMES {
        for lang in ["fi", "en"] {
            let k = all
                .iter()
                .filter(|x| x.0 == t.business && x.4 == t.key && x.3 == lang)
                .count();
            assert!(k >= 10, "{} {} {lang}: {k}", t.business, t.key);
        }
    }
}

#[test]
fn answers_are_worded_in_the_customers_language() {
    for (_, _, _, lang, _, _, text) in texts() {
        let finnish_letters = text.contains(['ä', 'ö']);
        if lang == "en" {
            assert!(!finnish_letters, "{text}");
        } else {
            let english = ANSWER_THEMES
                .iter()
                .flat_map(|t| t.positive.iter().chain(t.negative))
                .any(|s| text.contains(s.1) && s.0 != s.1);
            assert!(!english, "{text}");
        }
    }
}

#[test]
fn negative_themes_drive_detractors() {
    let all = texts();
    for (business, themes) in [
        ("cafe", ["queue", "price"]),
        ("b2b", ["response", "invoicing"]),
    ] {
        // Share of each group's answers (rows with any text) naming the theme.
        let share = |g: &str, key: &str| {
            let cell: Vec<_> = all.iter().filter(|t| t.0 == business && t.2 == g).collect();
            cell.iter().filter(|t| t.4 == key).count() as f64 / cell.len() as f64
        };
        for key in themes {
            let (d, p) = (share("detractor", key), share("promoter", key));
            assert!(
                d > 2.0 * p,
                "{business} {key}: detractors {d:.3}, promoters {p:.3}"
            );
        }
    }
}

#[test]
fn thanks_name_staff_with_finnish_case_endings() {
    let data = default_data();
    let staff: HashMap<&str, &str> = rows(batch(data, "staff"))
        .map(|r| (r.id(), r.text("name").unwrap().split(' ').next().unwrap()))
        .collect();
    let (mut thanked, mut inflected) = (0, 0);
    for r in rows(batch(data, "feedback")) {
        let Some(s) = r.text("staff_id") else {
            continue;
        };
        let first = staff[s];
        let text = r.text("did_well").or(r.text("comment")).unwrap();
        let forms = [
            first.to_string(),
            inflect(first, "n"),
            inflect(first, "lle"),
            inflect(first, "lta"),
        ];
        assert!(forms.iter().any(|f| text.contains(f.as_str())), "{text}");
        thanked += 1;
        if r.text("language") == Some("fi") && !text.contains(&format!("{first} ")) {
            inflected += 1;
        }
    }
    assert!(thanked > 30, "{thanked}");
    assert!(inflected > 10, "{inflected}");
}

/// Prints each theme's share of the free texts by business and language (the table of
/// docs/demo.md): `cargo test -p kanta-demo --test demo theme_shares -- --nocapture`.
#[test]
fn theme_shares() {
    let all = texts();
    for business in ["cafe", "b2b"] {
        for lang in ["fi", "en"] {
            let cell: Vec<_> = all
                .iter()
                .filter(|t| t.0 == business && t.3 == lang)
                .collect();
            let n = cell.len();
            let mut line = format!("{business} {lang} n={n}:");
            for t in ANSWER_THEMES.iter().filter(|t| t.business == business) {
                let k = cell.iter().filter(|x| x.4 == t.key).count();
                line += &format!(" {} {:.1}%", t.key, 100.0 * k as f64 / n as f64);
            }
            println!("{line}");
        }
    }
}

/// The theme step (`kanta_models::text::find_themes`, as `kanta themes run` uses it)
/// finds every planted theme of each business in each language, run on each
/// business's answers in one language at a time: the clusters in
/// which a planted theme is the majority hold at least 60 % of its answers, and at
/// least 70 % of those clusters' answers are of that theme.
#[test]
fn the_theme_step_finds_the_planted_themes() {
    use kanta_models::text::{Document, Lang, ThemeOptions, find_themes};
    let all = texts();
    let mut failed = Vec::new();
    let mut reports = String::new();
    for (business, lang) in [("cafe", "fi"), ("cafe", "en"), ("b2b", "fi"), ("b2b", "en")] {
        let mine: Vec<_> = all
            .iter()
            .filter(|t| t.0 == business && t.3 == lang)
            .collect();
        let docs: Vec<Document<'_>> = mine
            .iter()
            .map(|t| Document {
                text: &t.6,
                lang: Lang::from_code(&t.3),
            })
            .collect();
        let found = find_themes(&docs, &ThemeOptions::default());
        let mut report = String::new();
        for th in &found.themes {
            let mut count: BTreeMap<(&str, &str), usize> = BTreeMap::new();
            for (i, _) in &th.members {
                *count.entry((mine[*i].4, mine[*i].3.as_str())).or_default() += 1;
            }
            report += &format!("{} [{}]: {count:?}\n", th.label, th.words.join(", "));
        }
        for t in ANSWER_THEMES
            .iter()
            .filter(|t| t.business == business && t.key != "other")
        {
            {
                let planted = mine.iter().filter(|x| x.4 == t.key).count();
                let (mut hit, mut size) = (0, 0);
                for th in &found.themes {
                    let of = |i: &usize| mine[*i].4 == t.key && mine[*i].3 == lang;
                    let k = th.members.iter().filter(|(i, _)| of(i)).count();
                    if 2 * k > th.members.len() {
                        hit += k;
                        size += th.members.len();
                    }
                }
                let recall = hit as f64 / planted as f64;
                let purity = if size == 0 {
                    0.0
                } else {
                    hit as f64 / size as f64
                };
                println!(
                    "{business} {lang} {}: {planted} planted, recall {recall:.2}, purity {purity:.2}",
                    t.key
                );
                if !(recall >= 0.6 && purity >= 0.7) {
                    failed.push(format!(
                        "{business} {} {lang}: recall {recall:.2}, purity {purity:.2}",
                        t.key
                    ));
                }
            }
        }
        reports += &report;
    }
    assert!(failed.is_empty(), "{failed:#?}\n{reports}");
}

/// The relationship survey's answers come from waves: every `nps-YYYY-hN` answer is
/// the answered invitation of its wave (same account, same time), each wave also
/// invites accounts that do not answer and skips those without survey consent, and
/// the batches are `generate`'s, value for value.
#[test]
fn relationship_answers_come_from_waves() {
    let cfg = DemoConfig::default();
    let (batches, waves) = kanta_demo::generate_with_waves(&cfg);
    let data = default_data();
    assert_eq!(batches.len(), data.len());
    for (a, b) in batches.iter().zip(data) {
        assert_eq!(a.entity.name, b.entity.name);
        assert!(a.values == b.values, "{}: other values", a.entity.name);
    }
    let consent: HashMap<&str, bool> = rows(batch(data, "customers"))
        .map(|r| (r.id(), r.bool("survey_consent") == Some(true)))
        .collect();
    let answers: HashMap<&str, _> = rows(batch(data, "feedback"))
        .filter(|r| {
            r.text("survey_ref")
                .is_some_and(|s| s.starts_with("nps-20"))
        })
        .map(|r| (r.id(), r))
        .collect();
    assert!(waves.len() >= 4, "{} waves", waves.len());
    let mut answered = 0;
    for w in &waves {
        assert_eq!(w.survey, "b2b-survey-relationship");
        assert_eq!(w.channel, "email");
        let count = |s: &str| w.invitations.iter().filter(|i| i.status == s).count();
        assert!(count("invited") > 0 && count("answered") > 0, "{}", w.key);
        assert!(
            count("skipped") > 0,
            "{}: no account without consent",
            w.key
        );
        for i in &w.invitations {
            assert_eq!(i.status == "skipped", i.reason == Some("no_consent"));
            assert_eq!(i.status != "skipped", consent[i.customer.as_str()], "{i:?}");
            if let Some((id, at)) = &i.answer {
                let a = &answers[id.as_str()];
                assert_eq!(a.text("customer_id"), Some(i.customer.as_str()));
                assert_eq!(a.text("survey_ref"), Some(w.key.as_str()));
                assert_eq!(a.time("answered_at"), Some(*at));
                assert!(*at >= w.sent_at);
                answered += 1;
            }
        }
    }
    assert_eq!(
        answered,
        answers.len(),
        "every relationship answer has its wave"
    );
}
