//! Themes on both backends: a run finds the labelled Finnish and English themes
//! (purity ≥ 0.8), reruns keep ids and keys, managers' rename, merge and split
//! survive a rerun, each write is audited, and "you said, we did" records a change
//! and mails the consenting customers who raised the theme in their language.

use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use kanta_core::themes::{NewChange, ThemeView};
use kanta_core::{Acting, Channel, Core, CoreError};
use kanta_domain::schema::{CUSTOMERS, FEEDBACK};
use kanta_domain::{Value, WriteBatch};
use kanta_store::accounts::Role;

use crate::support::{audit_of, each_core, fields, text};

const ANSWERS: &[(&str, &[&str])] = &[
    (
        "hinta",
        &[
            "Hinnat ovat liian korkeat",
            "Kallis paikka, hinnat korkeat",
            "Hintoja voisi laskea",
            "Liian kalliit hinnat",
            "Hinta ei vastaa laatua",
            "Hinnat nousseet liikaa",
            "Kalliit leivonnaiset ja hinnat",
            "Hinnan takia en käy useammin",
            "Hinnoissa olisi parannettavaa",
            "Kallis lounas, hinta korkea",
            "Hinnat kohdilleen",
            "Halvemmat hinnat kiitos",
        ],
    ),
    (
        "jonotus",
        &[
            "Jono oli pitkä",
            "Jouduin jonottamaan kauan",
            "Jonotus kesti liian kauan",
            "Pitkä jono kassalle",
            "Odottaa piti pitkään jonossa",
            "Odotus oli pitkä, jono",
            "Jonot liian pitkiä aamulla",
            "Jonottaa sai vartin",
            "Kassalla jonotettiin pitkään",
            "Lisää kassoja, jonot ovat pitkiä",
            "Jonossa seisoi paljon ihmisiä",
            "Hidas jono",
        ],
    ),
    (
        "ystävällisyys",
        &[
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
            "Lämmin ja ystävällinen palvelu",
            "Mukava ja ystävällinen henkilökunta",
        ],
    ),
    (
        "price",
        &[
            "Prices are too high",
            "Too expensive, high prices",
            "Expensive sandwiches, prices up",
            "The price has gone up",
            "Lower the prices please",
            "Prices keep rising",
            "Lunch prices are expensive",
            "Price of lunch too high",
            "Cheaper prices would help",
            "The prices are steep",
            "High prices",
            "The price increase was too much",
        ],
    ),
    (
        "waiting",
        &[
            "The queue was very long",
            "Waited too long in the queue",
            "Long waiting time",
            "The wait was long",
            "Queue at the till, long wait",
            "Waiting time was twenty minutes",
            "Slow, long queue",
            "Had to wait ages in the queue",
            "Long queues in the morning",
            "Too much waiting",
            "Waited in a long queue",
            "Long wait",
        ],
    ),
];

/// Customers c1 (Finnish, consents, email), c2 (English, consents, email), c3
/// (consent refused, email); answers round-robin over them, one a month back from
/// November 2026. Returns label by answer external id.
async fn seed(core: &Core) -> HashMap<String, &'static str> {
    let cli = Acting::cli();
    let mut c = WriteBatch::new(
        &CUSTOMERS,
        fields(&CUSTOMERS, &["name", "email", "locale", "survey_consent"]),
    );
    for (id, name, email, locale, consent) in [
        ("c1", "Aino", "aino@example.fi", "fi", true),
        ("c2", "Ben", "ben@example.com", "en", true),
        ("c3", "Cecilia", "cecilia@example.fi", "fi", false),
    ] {
        c.push(
            id.into(),
            [text(name), text(email), text(locale), Value::Bool(consent)],
        );
    }
    core.write_batch(&cli, c).await.unwrap();
    let mut b = WriteBatch::new(
        &FEEDBACK,
        fields(
            &FEEDBACK,
            &["customer_id", "answered_at", "nps", "did_well", "language"],
        ),
    );
    let mut labels = HashMap::new();
    let mut n = 0u32;
    for (label, answers) in ANSWERS {
        let lang = if matches!(*label, "price" | "waiting") {
            "en"
        } else {
            "fi"
        };
        for a in *answers {
            let id = format!("f{n}");
            let customer = if lang == "en" {
                ["c2", "c3"][n as usize % 2]
            } else {
                ["c1", "c3"][n as usize % 2]
            };
            let month = 11 - (n % 10);
            b.push(
                id.clone(),
                [
                    text(customer),
                    Value::Time(Utc.with_ymd_and_hms(2026, month, 10, 10, 0, 0).unwrap()),
                    Value::Int(5),
                    text(a),
                    text(lang),
                ],
            );
            labels.insert(id, *label);
            n += 1;
        }
    }
    core.write_batch(&cli, b).await.unwrap();
    labels
}

/// Answer external ids by internal id.
async fn external(core: &Core) -> HashMap<i64, String> {
    let ids: Vec<String> = (0..60).map(|n| format!("f{n}")).collect();
    core.store()
        .existing_ids(&FEEDBACK, &ids)
        .await
        .unwrap()
        .into_iter()
        .map(|(e, i)| (i, e))
        .collect()
}

/// The label most of a theme's answers carry, and its share. A theme lists its
/// answers by their external ids (`f0`, ...), never the store's row ids.
fn majority(
    t: &ThemeView,
    ext: &HashMap<i64, String>,
    labels: &HashMap<String, &'static str>,
) -> (&'static str, f64) {
    let mut c: HashMap<&str, usize> = HashMap::new();
    for id in &t.answer_ids {
        assert!(
            ext.values().any(|e| e == id),
            "{id} is not an answer's external id"
        );
        *c.entry(labels[id]).or_default() += 1;
    }
    let (l, n) = c.into_iter().max_by_key(|x| (x.1, x.0)).unwrap_or(("", 0));
    (l, n as f64 / t.answer_ids.len().max(1) as f64)
}

fn manager() -> Acting {
    Acting::user(1, "boss@example.fi", Role::Manager, Channel::Ui)
}

#[tokio::test]
async fn themes_are_found_and_edits_survive_a_rerun() {
    each_core(|backend, core| async move {
        let labels = seed(&core).await;
        let ext = external(&core).await;
        let boss = manager();
        let viewer = Acting::user(2, "v@example.fi", Role::Viewer, Channel::Ui);
        assert!(matches!(
            core.run_themes(&viewer).await,
            Err(CoreError::Forbidden(_))
        ));
        let run = core.run_themes(&boss).await.unwrap();
        assert_eq!(run.texts, 60, "{backend}");
        let themes = core.feedback_themes(&viewer).await.unwrap();
        assert!(themes.len() >= 5, "{backend}: {themes:#?}");
        // Purity over the themes' answers.
        let (mut right, mut all) = (0.0, 0.0);
        for t in &themes {
            let (_, share) = majority(t, &ext, &labels);
            right += share * t.answer_ids.len() as f64;
            all += t.answer_ids.len() as f64;
            assert_eq!(t.count as usize, t.answer_ids.len());
            assert!(!t.examples.is_empty() && t.examples.len() <= 3);
            assert_eq!(t.trend.iter().map(|x| x.1).sum::<u64>(), t.count);
        }
        assert!(right / all >= 0.8, "{backend}: purity {}", right / all);
        assert!(all >= 48.0, "{backend}: {all} answers in themes");
        let find = |ts: &[ThemeView], label: &str| -> ThemeView {
            ts.iter()
                .filter(|t| majority(t, &ext, &labels).0 == label)
                .max_by_key(|t| t.count)
                .unwrap_or_else(|| panic!("{backend}: no theme of {label}: {ts:#?}"))
                .clone()
        };
        // A rerun keeps ids and keys.
        core.run_themes(&boss).await.unwrap();
        let again = core.feedback_themes(&viewer).await.unwrap();
        let ids = |ts: &[ThemeView]| {
            let mut v: Vec<(i64, String)> = ts.iter().map(|t| (t.id, t.key.clone())).collect();
            v.sort();
            v
        };
        assert_eq!(ids(&themes), ids(&again), "{backend}");

        // Rename.
        let hinta = find(&again, "hinta");
        assert!(matches!(
            core.rename_theme(&viewer, hinta.id, "x").await,
            Err(CoreError::Forbidden(_))
        ));
        assert!(matches!(
            core.rename_theme(&boss, hinta.id, "  ").await,
            Err(CoreError::Invalid(_))
        ));
        core.rename_theme(&boss, hinta.id, "Hinnoittelu")
            .await
            .unwrap();
        // Merge the English price theme into it.
        let price = find(&again, "price");
        core.merge_themes(&boss, hinta.id, price.id).await.unwrap();
        assert!(
            core.merge_themes(&boss, price.id, hinta.id).await.is_err(),
            "{backend}: cycle"
        );
        // Split "queue" off the English waiting theme.
        let waiting = find(&again, "waiting");
        let queue = core.split_theme(&boss, waiting.id, "queue").await.unwrap();
        // The same split again: refused (the word's answers have gone to the split-off
        // theme, or the split exists).
        assert!(matches!(
            core.split_theme(&boss, waiting.id, "queue").await,
            Err(CoreError::Conflict { .. }) | Err(CoreError::Invalid(_))
        ));
        // A word no answer of the theme writes, and a theme that does not exist.
        let none = core
            .split_theme(&boss, waiting.id, "zzzznotaword")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            none.contains(&format!(
                "no answer of theme {} contains 'zzzznotaword'",
                waiting.id
            )),
            "{backend}: {none}"
        );
        let missing = core
            .split_theme(&boss, 999_999, "jono")
            .await
            .unwrap_err()
            .to_string();
        assert!(missing.contains("no theme 999999"), "{backend}: {missing}");

        for round in 0..2 {
            if round == 1 {
                core.run_themes(&boss).await.unwrap();
            }
            let ts = core.feedback_themes(&viewer).await.unwrap();
            let h = ts.iter().find(|t| t.id == hinta.id).expect("renamed theme");
            assert_eq!(h.label, "Hinnoittelu", "{backend} round {round}");
            assert!(h.manual);
            assert!(
                ts.iter().all(|t| t.id != price.id),
                "{backend}: merged theme listed"
            );
            for id in &price.answer_ids {
                assert!(
                    h.answer_ids.contains(id),
                    "{backend} round {round}: price answer {id} not merged"
                );
            }
            let q = ts.iter().find(|t| t.id == queue).expect("split theme");
            assert_eq!(q.label, "queue");
            assert!(q.count >= 5, "{backend} round {round}: {q:?}");
            let w = ts
                .iter()
                .find(|t| t.id == waiting.id)
                .expect("waiting theme");
            for id in &q.answer_ids {
                assert!(!w.answer_ids.contains(id));
                let text = &ANSWERS
                    .iter()
                    .flat_map(|a| a.1.iter())
                    .nth(id[1..].parse().unwrap())
                    .unwrap();
                assert!(text.to_lowercase().contains("queue"), "{text}");
            }
        }
        for action in ["themes_run", "theme_rename", "theme_merge", "theme_split"] {
            assert!(
                !audit_of(core.store(), action).await.is_empty(),
                "{backend}: {action}"
            );
        }

        // You said, we did.
        assert!(matches!(
            core.record_change(
                &boss,
                &NewChange {
                    theme_id: hinta.id,
                    title: "Halvempi lounas".into(),
                    changed_on: "31.13.2026".into(),
                    ..Default::default()
                }
            )
            .await,
            Err(CoreError::Invalid(_))
        ));
        let (change, mails) = core
            .record_change(
                &boss,
                &NewChange {
                    theme_id: hinta.id,
                    title: "Halvempi lounas <3".into(),
                    description: Some("Lounas nyt 9,90 €".into()),
                    changed_on: "1.7.2026".into(),
                    notify: true,
                },
            )
            .await
            .unwrap();
        assert_eq!(mails, 2, "{backend}: c1 and c2 consent, c3 does not");
        let outbox = core.store().outbox(100).await.unwrap();
        let to: Vec<(&str, &str)> = outbox
            .iter()
            .map(|m| (m.to.as_str(), m.subject.as_str()))
            .collect();
        assert!(
            to.contains(&(
                "aino@example.fi",
                "Kuuntelimme palautettasi: Halvempi lounas <3"
            )),
            "{to:?}"
        );
        assert!(
            to.contains(&("ben@example.com", "You said, we did: Halvempi lounas <3")),
            "{to:?}"
        );
        assert!(outbox.iter().all(|m| m.to != "cecilia@example.fi"));
        assert!(
            outbox
                .iter()
                .all(|m| !m.html.as_deref().unwrap_or("").contains("<3"))
        );
        let changes = core.theme_changes(&viewer, Some(hinta.id)).await.unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].id, change);
        assert_eq!(changes[0].changed_on, "2026-07-01");
        assert!(changes[0].notified);
        assert!(
            !changes[0].before.is_empty() && !changes[0].after.is_empty(),
            "{changes:?}"
        );
        assert!(
            changes[0]
                .before
                .iter()
                .all(|(m, _)| m.as_str() < "2026-07")
        );
        assert!(
            !audit_of(core.store(), "create")
                .await
                .iter()
                .all(|a| a.entry.entity != "feedback_changes")
        );
    })
    .await;
}

/// The "you said, we did" mail carries the one-click unsubscribe from surveys that
/// invitations carry: the link in the text and the HTML and as `List-Unsubscribe`
/// (with `List-Unsubscribe-Post`) when the mail job sends it to a real SMTP server;
/// the link withdraws the customer's survey consent, after which they are not mailed
/// again, and a customer who never consented (c3) is never mailed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_mail_has_the_one_click_unsubscribe_and_needs_consent() {
    use std::sync::Arc;
    use std::time::Duration;

    use kanta_core::jobs::{JobSettings, Services, Workers};
    use kanta_core::mail::{Mailer, SmtpMailer};
    use kanta_core::surveys::SurveyInput;

    use crate::smtp::{SmtpServer, parse};
    use crate::support::{each_backend, eventually};

    each_backend(|backend, store| async move {
        let core = Core::new(store.clone()).with_links("https://kahvila.example.fi", None);
        let labels = seed(&core).await;
        let boss = manager();
        core.run_themes(&boss).await.unwrap();
        core.create_survey(
            &boss,
            Some("kahvila"),
            SurveyInput {
                name: Some("Kahvila".into()),
                ..SurveyInput::default()
            },
        )
        .await
        .unwrap();
        core.set_survey_status(&boss, "kahvila", "active")
            .await
            .unwrap();
        // A Finnish theme: its answers are c1's (consents) and c3's (refused).
        let ext = external(&core).await;
        let themes = core.feedback_themes(&boss).await.unwrap();
        let jono = themes
            .iter()
            .filter(|t| majority(t, &ext, &labels).0 == "jonotus")
            .max_by_key(|t| t.count)
            .unwrap_or_else(|| panic!("{backend}: no queueing theme: {themes:#?}"))
            .clone();
        let change = |title: &str| NewChange {
            theme_id: jono.id,
            title: title.into(),
            description: Some("Kaksi kassaa aamuisin".into()),
            changed_on: "1.10.2026".into(),
            notify: true,
        };
        let (_, mails) = core
            .record_change(&boss, &change("Lisää kassoja"))
            .await
            .unwrap();
        assert_eq!(mails, 1, "{backend}: c1 only (c3 has not consented)");
        let outbox = store.outbox(100).await.unwrap();
        assert_eq!(outbox.len(), 1, "{backend}");
        assert_eq!(outbox[0].to, "aino@example.fi");

        // Sent by the mail job to a real SMTP server.
        let server = SmtpServer::start().await;
        let mailer: Arc<dyn Mailer> = Arc::new(
            SmtpMailer::from_url(
                &server.url(),
                "Kahvila <kahvila@example.fi>",
                Duration::from_secs(10),
            )
            .unwrap(),
        );
        let workers = Workers::start(
            Services {
                core: core.clone(),
                settings: JobSettings {
                    poll: Duration::from_millis(20),
                    score_every: None,
                    ..JobSettings::default()
                },
                mailer: Some(mailer),
            },
            1,
        );
        eventually(Duration::from_secs(60), "the mail sent", || {
            let server = &server;
            async move { (!server.received().is_empty()).then_some(()) }
        })
        .await;
        workers.stop().await;
        let received = server.received();
        assert_eq!(received.len(), 1, "{backend}");
        assert_eq!(received[0].to, ["aino@example.fi"]);
        let m = parse(&received[0].data);
        assert!(m.subject().contains("Lisää kassoja"), "{}", m.subject());
        let header = m.header("List-Unsubscribe").expect("List-Unsubscribe");
        let url = header
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string();
        assert!(
            url.starts_with("https://kahvila.example.fi/s/") && url.ends_with("/unsubscribe"),
            "{backend}: {header}"
        );
        assert_eq!(
            m.header("List-Unsubscribe-Post"),
            Some("List-Unsubscribe=One-Click")
        );
        let text = m.body("text/plain").unwrap();
        assert!(
            text.contains(&format!("peru ne tästä: {url}")),
            "{backend}: {text}"
        );
        let html = m.body("text/html").unwrap();
        assert!(
            html.contains(&format!("href=\"{url}\"")),
            "{backend}: {html}"
        );

        // One click: consent withdrawn, and the next change mails no one.
        let token = url
            .trim_start_matches("https://kahvila.example.fi/s/")
            .trim_end_matches("/unsubscribe")
            .to_string();
        let v = core
            .unsubscribe_survey_link(&token, Channel::Ui, None)
            .await
            .unwrap();
        assert_eq!(v.gate, kanta_core::surveys::Gate::Answered, "{backend}");
        let c1 = store.customer("c1").await.unwrap().unwrap();
        assert_eq!(c1.get("survey_consent"), &Value::Bool(false), "{backend}");
        let (_, mails) = core
            .record_change(&boss, &change("Kolmas kassa"))
            .await
            .unwrap();
        assert_eq!(mails, 0, "{backend}: nobody left who consents");
        // The link answers nothing: it expired as it was made.
        assert_eq!(
            core.open_survey_link(&token).await.unwrap().gate,
            kanta_core::surveys::Gate::Expired,
            "{backend}"
        );
    })
    .await;
}
