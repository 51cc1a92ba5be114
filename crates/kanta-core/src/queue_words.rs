//! The contact queue's reasons as sentences, in Finnish and English, for what the
//! core writes itself (the weekly digest mail); the pages have their own texts
//! (`today.reason.*`). A reason is a key and its arguments (`contact_queue.reasons`:
//! `{"key": "...", "args": {..}}`, see the design of the queue); an argument a
//! sentence wants but the reason lacks is left out of the sentence rather than
//! guessed. A usage metric is said in words (`active_users` → "aktiiviset käyttäjät",
//! an unknown one humanised), never as its key.
//!
//! Arguments read, by key: `cadence`: `days_overdue`, `cadence_days`; `detractor`:
//! `nps` or `csat`, and `text` (what the customer wrote, quoted); `usage_drop`: `metric`, `drop_pct`; `trust_deficit`: `balance`;
//! `case`: `case`, `breached` (bool); `onboarding_stalled`: `step`, `days_overdue`;
//! `goal`: `title`, `due`, `status`; `renewal`: `date` (or `due`), `days`;
//! `p_alive`: `p_alive` (0-1); `health_drop`: `points` (or `change`).

use serde_json::Value as Json;

use crate::mail::Lang;

/// An argument as text (numbers without a trailing `.0`).
fn arg(args: &Json, name: &str) -> Option<String> {
    match args.get(name)? {
        Json::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Json::Number(n) => Some(match n.as_i64() {
            Some(i) => i.to_string(),
            None => {
                let x = n.as_f64().unwrap_or(0.0);
                format!("{}", (x * 10.0).round() / 10.0)
            }
        }),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn num(args: &Json, name: &str) -> Option<f64> {
    match args.get(name)? {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().replace(',', ".").parse().ok(),
        _ => None,
    }
}

/// A usage metric in words: the demo's and the common ones in `lang`, any other
/// humanised (`api_calls` → `api calls`) rather than shown as a key.
fn metric_word(metric: &str, lang: Lang) -> String {
    let fi = lang == Lang::Fi;
    match (metric, fi) {
        ("active_users", true) => "aktiiviset käyttäjät".into(),
        ("active_users", false) => "active users".into(),
        ("logins", true) => "kirjautumiset".into(),
        (m, _) => m.replace(['_', '-'], " "),
    }
}

/// One reason in words, in `lang`. An unknown key reads as the key itself.
pub fn reason_sentence(key: &str, args: &Json, lang: Lang) -> String {
    let fi = lang == Lang::Fi;
    let a = |n: &str| arg(args, n);
    match key {
        "cadence" => match (a("days_overdue"), a("cadence_days"), fi) {
            (Some(d), Some(c), true) => {
                format!("ei ennakoivaa yhteydenottoa: {d} päivää myöhässä {c} päivän rytmistä")
            }
            (Some(d), Some(c), false) => {
                format!("no proactive contact: {d} days past the {c}-day cadence")
            }
            (Some(d), None, true) => format!("ei ennakoivaa yhteydenottoa: {d} päivää myöhässä"),
            (Some(d), None, false) => format!("no proactive contact: {d} days overdue"),
            (None, _, true) => "ennakoiva yhteydenotto on myöhässä".into(),
            (None, _, false) => "a proactive contact is overdue".into(),
        },
        "detractor" => {
            let said = match (a("nps"), a("csat"), fi) {
                (Some(n), _, true) => {
                    format!("arvosteli suositteluhalukkuuden {n}/10 eikä ole kuultu sen jälkeen")
                }
                (Some(n), _, false) => format!("gave an NPS answer of {n}/10, no contact since"),
                (None, Some(c), true) => {
                    format!("antoi tyytyväisyydelle arvion {c}/5 eikä ole kuultu sen jälkeen")
                }
                (None, Some(c), false) => {
                    format!("gave a CSAT answer of {c}/5, no contact since")
                }
                (None, None, true) => {
                    "antoi kielteisen palautteen eikä ole kuultu sen jälkeen".into()
                }
                (None, None, false) => "gave a detractor answer, no contact since".into(),
            };
            match (a("text"), fi) {
                (Some(t), true) => format!("{said}: ”{t}”"),
                (Some(t), false) => format!("{said}: “{t}”"),
                (None, _) => said,
            }
        }
        "usage_drop" => {
            let metric = a("metric").map(|m| metric_word(&m, lang));
            let pct = num(args, "drop_pct").map(|p| format!("{:.0}", p.abs()));
            match (metric, pct, fi) {
                (Some(m), Some(p), true) => {
                    format!("käyttö ({m}) laski {p} % omasta 12 viikon tasostaan")
                }
                (Some(m), Some(p), false) => {
                    format!("usage of {m} down {p}% against own 12-week baseline")
                }
                (None, Some(p), true) => format!("käyttö laski {p} % omasta tasostaan"),
                (None, Some(p), false) => format!("usage down {p}% against own baseline"),
                (_, None, true) => "käyttö laski selvästi omasta tasostaan".into(),
                (_, None, false) => "usage dropped clearly against own baseline".into(),
            }
        }
        "trust_deficit" => match (a("balance"), fi) {
            (Some(b), true) => format!("luottamustili miinuksella ({b})"),
            (Some(b), false) => format!("trust balance in deficit ({b})"),
            (None, true) => "luottamustili miinuksella".into(),
            (None, false) => "trust balance in deficit".into(),
        },
        "case" => {
            let breached = args.get("breached").and_then(Json::as_bool) == Some(true);
            match (a("case"), breached, fi) {
                (Some(c), true, true) => format!("tapauksen {c} palvelutaso on ylittynyt"),
                (Some(c), true, false) => format!("case {c} has breached its service level"),
                (Some(c), false, true) => {
                    format!("tapaus {c} on eskaloitu tai palvelutason raja lähestyy")
                }
                (Some(c), false, false) => {
                    format!("case {c} is escalated or near its service level")
                }
                (None, _, true) => "avoin tapaus vaatii huomiota".into(),
                (None, _, false) => "an open case needs attention".into(),
            }
        }
        "onboarding_stalled" => match (a("step"), a("days_overdue"), fi) {
            (Some(s), Some(d), true) => {
                format!("käyttöönoton vaihe \"{s}\" on {d} päivää myöhässä")
            }
            (Some(s), Some(d), false) => format!("onboarding step \"{s}\" is {d} days overdue"),
            (Some(s), None, true) => format!("käyttöönoton vaihe \"{s}\" on jumissa"),
            (Some(s), None, false) => format!("onboarding step \"{s}\" has stalled"),
            (None, _, true) => "käyttöönotto on jumissa".into(),
            (None, _, false) => "onboarding has stalled".into(),
        },
        "goal" => {
            let at_risk = a("status").as_deref() == Some("at_risk");
            match (a("title"), a("due"), at_risk, fi) {
                (Some(t), _, true, true) => format!("yhteinen tavoite \"{t}\" on vaarassa"),
                (Some(t), _, true, false) => format!("agreed goal \"{t}\" is at risk"),
                (Some(t), Some(d), false, true) => {
                    format!("yhteisen tavoitteen \"{t}\" määräpäivä on {d}")
                }
                (Some(t), Some(d), false, false) => format!("agreed goal \"{t}\" is due {d}"),
                (Some(t), None, _, true) => format!("yhteinen tavoite \"{t}\" vaatii huomiota"),
                (Some(t), None, _, false) => format!("agreed goal \"{t}\" needs attention"),
                (None, _, _, true) => "yhteinen tavoite on vaarassa tai erääntymässä".into(),
                (None, _, _, false) => "an agreed goal is at risk or due soon".into(),
            }
        }
        "renewal" => match (a("date").or_else(|| a("due")), a("days"), fi) {
            (Some(d), _, true) => format!("sopimus uusiutuu {d}"),
            (Some(d), _, false) => format!("contract renews on {d}"),
            (None, Some(n), true) => format!("sopimus uusiutuu {n} päivän päästä"),
            (None, Some(n), false) => format!("contract renews in {n} days"),
            (None, None, true) => "sopimus uusiutuu pian".into(),
            (None, None, false) => "contract renews soon".into(),
        },
        "p_alive" => match (num(args, "p_alive"), fi) {
            (Some(p), true) => format!(
                "todennäköisyys, että asiakas on yhä aktiivinen, on pudonnut {:.0} %:iin",
                p * 100.0
            ),
            (Some(p), false) => format!(
                "chance the customer is still active down to {:.0}%",
                p * 100.0
            ),
            (None, true) => "asiakas ei ehkä ole enää aktiivinen".into(),
            (None, false) => "the customer may no longer be active".into(),
        },
        "health_drop" => match (num(args, "points").or_else(|| num(args, "change")), fi) {
            (Some(p), true) => format!(
                "terveyspisteet laskivat {:.0} pistettä 30 päivässä",
                p.abs()
            ),
            (Some(p), false) => format!("health score down {:.0} points in 30 days", p.abs()),
            (None, true) => "terveyspisteet laskivat selvästi 30 päivässä".into(),
            (None, false) => "health score dropped sharply in 30 days".into(),
        },
        other => other.replace('_', " "),
    }
}

/// The sentences of a queue row's stored reasons (a JSON array of
/// `{"key", "args"}`), in order; text that is not such an array gives none.
pub fn reason_sentences(reasons: &str, lang: Lang) -> Vec<String> {
    let Ok(Json::Array(items)) = serde_json::from_str::<Json>(reasons) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|r| {
            let key = r.get("key")?.as_str()?;
            let empty = Json::Object(Default::default());
            Some(reason_sentence(key, r.get("args").unwrap_or(&empty), lang))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sentences_in_both_languages() {
        let a = json!({"metric": "logins", "drop_pct": 45.2});
        assert_eq!(
            reason_sentence("usage_drop", &a, Lang::En),
            "usage of logins down 45% against own 12-week baseline"
        );
        assert_eq!(
            reason_sentence("usage_drop", &a, Lang::Fi),
            "käyttö (kirjautumiset) laski 45 % omasta 12 viikon tasostaan"
        );
        let a = json!({"metric": "active_users", "drop_pct": 50});
        assert_eq!(
            reason_sentence("usage_drop", &a, Lang::Fi),
            "käyttö (aktiiviset käyttäjät) laski 50 % omasta 12 viikon tasostaan"
        );
        assert_eq!(
            reason_sentence("usage_drop", &a, Lang::En),
            "usage of active users down 50% against own 12-week baseline"
        );
        let a = json!({"metric": "api_calls", "drop_pct": 31});
        assert_eq!(
            reason_sentence("usage_drop", &a, Lang::En),
            "usage of api calls down 31% against own 12-week baseline"
        );
        assert_eq!(
            reason_sentence("cadence", &json!({"days_overdue": 12}), Lang::En),
            "no proactive contact: 12 days overdue"
        );
        let a = json!({"nps": 2, "csat": null, "text": "Jono oli pitkä"});
        assert_eq!(
            reason_sentence("detractor", &a, Lang::Fi),
            "arvosteli suositteluhalukkuuden 2/10 eikä ole kuultu sen jälkeen: ”Jono oli pitkä”"
        );
        let a = json!({"nps": null, "csat": 1, "text": "Slow queue"});
        assert_eq!(
            reason_sentence("detractor", &a, Lang::En),
            "gave a CSAT answer of 1/5, no contact since: “Slow queue”"
        );
        assert_eq!(
            reason_sentence("detractor", &json!({"nps": 3}), Lang::En),
            "gave an NPS answer of 3/10, no contact since"
        );
        let s = reason_sentences(
            r#"[{"key":"trust_deficit","args":{"balance":-10}},{"key":"renewal","args":{}}]"#,
            Lang::Fi,
        );
        assert_eq!(
            s,
            vec!["luottamustili miinuksella (-10)", "sopimus uusiutuu pian"]
        );
    }
}
