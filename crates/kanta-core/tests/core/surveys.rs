//! Surveys on both backends: questions checked and versioned on every write path, a
//! personal link answered once (a second and a concurrent second answer refused by the
//! database), expired, altered and closed links, the QR code's anonymous answer tied
//! to a customer, the one-click unsubscribe, and a detractor's answer through a link
//! leaving a trust debit and a contact-queue row.

use std::collections::BTreeMap;

use kanta_core::access::Role;
use kanta_core::surveys::{
    Gate, LinkClaims, Question, QuestionError, SurveyInput, checked_questions, default_questions,
    new_token_id, sign_link, verify_link,
};
use kanta_core::{Acting, Channel, Core, CoreError};
use kanta_domain::schema::{CUSTOMERS, FEEDBACK, SURVEYS};
use kanta_domain::{Value, WriteBatch};
use kanta_store::Store;

use crate::support::{all_fields, audit_of, each_core, fields, text};

fn manager() -> Acting {
    Acting::user(3, "maija.manager@cafe.example", Role::Manager, Channel::Ui)
}

fn staff() -> Acting {
    Acting::user(4, "sami.staff@cafe.example", Role::Staff, Channel::Ui)
}

fn viewer() -> Acting {
    Acting::user(5, "ville.viewer@cafe.example", Role::Viewer, Channel::Ui)
}

fn q(field: &str, fi: &str, en: &str) -> Question {
    Question {
        field: field.into(),
        fi: fi.into(),
        en: en.into(),
    }
}

async fn customers(core: &Core) {
    let f = fields(&CUSTOMERS, &["name", "email", "locale", "survey_consent"]);
    let mut b = WriteBatch::new(&CUSTOMERS, f);
    b.push(
        "c1".into(),
        vec![
            text("Sanna Saarinen"),
            text("sanna@example.fi"),
            text("fi"),
            Value::Bool(true),
        ],
    );
    b.push(
        "c2".into(),
        vec![
            text("Tom Smith"),
            text("tom@example.com"),
            text("en"),
            Value::Bool(true),
        ],
    );
    core.write_batch(&Acting::cli(), b).await.unwrap();
}

async fn active(core: &Core, id: &str, asks: &str) {
    core.create_survey(
        &manager(),
        Some(id),
        SurveyInput {
            name: Some("Kahvilan kysely".into()),
            anonymous_asks: Some(asks.into()),
            ..SurveyInput::default()
        },
    )
    .await
    .unwrap();
    core.set_survey_status(&manager(), id, "active")
        .await
        .unwrap();
}

fn answer(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn token_of(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_string()
}

async fn token_id(core: &Core, token: &str) -> String {
    verify_link(&core.survey_key().await.unwrap(), token)
        .unwrap()
        .token_id
}

async fn count_feedback(store: &Store) -> i64 {
    crate::support::count(store, &FEEDBACK).await
}

#[tokio::test]
async fn questions_are_checked_and_each_change_is_a_version() {
    each_core(|backend, core| async move {
        let id = core
            .create_survey(
                &manager(),
                Some("s1"),
                SurveyInput {
                    name: Some("Kahvila".into()),
                    ..SurveyInput::default()
                },
            )
            .await
            .unwrap();
        let s = core.survey(&viewer(), &id).await.unwrap();
        assert_eq!(s.questions, default_questions(), "{backend}");
        assert_eq!((s.version, s.status.as_str()), (1, "draft"), "{backend}");
        let v = core.survey_versions(&viewer(), "s1").await.unwrap();
        assert_eq!(v.len(), 1, "{backend}");

        // New wording: version 2; the name alone: no new version.
        let mut qs = default_questions();
        qs[1].en = "What did you like?".into();
        core.update_survey(
            &manager(),
            "s1",
            SurveyInput {
                questions: Some(qs.clone()),
                ..SurveyInput::default()
            },
        )
        .await
        .unwrap();
        core.update_survey(
            &manager(),
            "s1",
            SurveyInput {
                name: Some("Kahvila 2".into()),
                ..SurveyInput::default()
            },
        )
        .await
        .unwrap();
        let s = core.survey(&viewer(), "s1").await.unwrap();
        assert_eq!(s.version, 2, "{backend}");
        assert_eq!(s.questions[1].en, "What did you like?");
        let v = core.survey_versions(&viewer(), "s1").await.unwrap();
        assert_eq!(
            v.iter().map(|v| v.version).collect::<Vec<_>>(),
            [2, 1],
            "{backend}"
        );
        assert_eq!(v[1].questions, default_questions());

        // Bad questions, through the core's use case and through the generic write.
        let bad = [
            (vec![], "choose at least one question"),
            (
                vec![q("nps", "a", "a"), q("csat", "b", "b"), q("ces", "c", "c"), q("comment", "d", "d")],
                "one to three",
            ),
            (vec![q("mood", "a", "a")], "'mood' is not a survey field"),
            (vec![q("nps", "a", "a"), q("nps", "b", "b")], "asked twice"),
            (vec![q("nps", "a", " ")], "no English wording"),
            (vec![q("nps", "", "a")], "no Finnish wording"),
        ];
        for (qs, why) in bad {
            let e = core
                .update_survey(
                    &manager(),
                    "s1",
                    SurveyInput {
                        questions: Some(qs),
                        ..SurveyInput::default()
                    },
                )
                .await;
            match e {
                Err(CoreError::Invalid(p)) => {
                    assert_eq!(p[0].field, "questions");
                    assert!(p[0].reason.contains(why), "{backend}: {p:?}");
                }
                e => panic!("{backend}: {e:?}"),
            }
        }
        let generic = core
            .create_record(
                &manager(),
                &SURVEYS,
                "s2",
                all_fields(
                    &SURVEYS,
                    &[
                        ("name", text("Rikki")),
                        ("status", text("draft")),
                        ("version", Value::Int(1)),
                        ("send_after", text("none")),
                        ("send_after_days", Value::Int(0)),
                        ("anonymous_asks", text("none")),
                        ("questions", text(r#"[{"field":"nps","fi":"Suosittelisitko?"}]"#)),
                    ],
                ),
            )
            .await;
        match generic {
            Err(CoreError::Invalid(p)) => {
                assert_eq!(p[0].field, "questions", "{backend}");
                assert!(p[0].reason.contains("survey 's2'"), "{p:?}");
            }
            e => panic!("{backend}: {e:?}"),
        }
        assert!(core.survey(&viewer(), "s2").await.is_err(), "{backend}");
        // An import through the generic path gets its version too.
        let ok = core
            .create_record(
                &manager(),
                &SURVEYS,
                "s3",
                all_fields(
                    &SURVEYS,
                    &[
                        ("name", text("Tuotu")),
                        ("status", text("draft")),
                        ("version", Value::Int(7)),
                        ("send_after", text("none")),
                        ("send_after_days", Value::Int(0)),
                        ("anonymous_asks", text("none")),
                        (
                            "questions",
                            text(r#"[{"field":"csat","fi":"Olitko tyytyväinen?","en":"Were you satisfied?"}]"#),
                        ),
                    ],
                ),
            )
            .await;
        assert!(ok.is_ok(), "{backend}: {ok:?}");
        assert_eq!(core.survey_versions(&viewer(), "s3").await.unwrap().len(), 1);
        // The version is the store's to keep, whatever a write says.
        assert_eq!(core.survey(&viewer(), "s3").await.unwrap().version, 1, "{backend}");

        // Only managers change surveys.
        let e = core
            .set_survey_status(&staff(), "s1", "active")
            .await
            .unwrap_err();
        assert!(matches!(e, CoreError::Forbidden(_)), "{backend}");
        let e = core.set_survey_status(&manager(), "s1", "live").await;
        assert!(matches!(e, Err(CoreError::Invalid(_))), "{backend}");
    })
    .await;
}

#[tokio::test]
async fn a_link_is_answered_once_and_a_detractor_is_acted_on() {
    each_core(|backend, core| async move {
        let core = core.with_links("https://kahvila.example.fi/", None);
        customers(&core).await;
        active(&core, "s1", "none").await;
        let url = core.survey_link(&staff(), "s1", "c1").await.unwrap();
        assert!(url.starts_with("https://kahvila.example.fi/s/"), "{url}");
        let token = token_of(&url);
        let v = core.open_survey_link(&token).await.unwrap();
        assert_eq!(v.gate, Gate::Open, "{backend}");
        let s = v.survey.unwrap();
        assert_eq!(s.locale.as_deref(), Some("fi"));
        assert_eq!(s.name.as_deref(), Some("Sanna"));
        assert_eq!(s.questions.len(), 3);

        // A bad answer is refused by field, and uses nothing up.
        let e = core
            .answer_survey_link(&token, &answer(&[("nps", "11")]), "fi", Channel::Ui, None)
            .await;
        assert!(
            matches!(e, Err(CoreError::Invalid(ref p)) if p[0].field == "nps"),
            "{backend}: {e:?}"
        );
        let e = core
            .answer_survey_link(&token, &answer(&[]), "fi", Channel::Ui, None)
            .await;
        assert!(matches!(e, Err(CoreError::Invalid(_))), "{backend}");
        assert_eq!(count_feedback(core.store()).await, 0);

        let said = "Jono oli pitkä <script>alert(1)</script>";
        let v = core
            .answer_survey_link(
                &token,
                &answer(&[("nps", "3"), ("do_better", said), ("comment", "ignored")]),
                "fi",
                Channel::Ui,
                Some("203.0.113.9".into()),
            )
            .await
            .unwrap();
        assert_eq!(v.gate, Gate::Answered, "{backend}");
        let fid = format!("svy-{}", token_id(&core, &token).await);
        let f = core.store().get(&FEEDBACK, &fid).await.unwrap().unwrap();
        assert_eq!(f.get("customer_id"), &text("c1"), "{backend}");
        assert_eq!(f.get("nps"), &Value::Int(3));
        assert_eq!(f.get("do_better"), &text(said));
        assert_eq!(
            f.get("comment"),
            &Value::Null,
            "a field not asked is not kept"
        );
        assert_eq!(f.get("survey_id"), &text("s1"));
        assert_eq!(f.get("survey_version"), &Value::Int(1));
        assert_eq!(f.get("channel"), &text("link"));
        assert_eq!(f.get("language"), &text("fi"));
        let a = audit_of(core.store(), "create")
            .await
            .into_iter()
            .filter(|a| a.entry.entity == "feedback")
            .collect::<Vec<_>>();
        assert_eq!(a.len(), 1, "{backend}");
        assert_eq!(a[0].entry.actor_kind, "system");
        assert_eq!(a[0].entry.actor_id.as_deref(), Some("public"));
        assert_eq!(a[0].entry.actor_name, "survey link");
        assert_eq!(a[0].entry.ip.as_deref(), Some("203.0.113.9"));

        // The same link again: refused, nothing more written.
        let again = core
            .answer_survey_link(&token, &answer(&[("nps", "10")]), "fi", Channel::Ui, None)
            .await
            .unwrap();
        assert_eq!(again.gate, Gate::Used, "{backend}");
        assert_eq!(
            core.open_survey_link(&token).await.unwrap().gate,
            Gate::Used
        );
        assert_eq!(count_feedback(core.store()).await, 1, "{backend}");

        // The detractor: a trust debit and the contact queue with reason detractor.
        let t = core.trust_history(&viewer(), "c1").await.unwrap();
        assert!(
            t.entries
                .iter()
                .any(|e| e.delta < 0 && e.source == "feedback"),
            "{backend}: {:?}",
            t.entries
        );
        core.refresh_queue(&Acting::cli(), core.today().await.unwrap())
            .await
            .unwrap();
        let cq = core.customer_queue_reasons(&viewer(), "c1").await.unwrap();
        assert!(
            cq.entry
                .as_ref()
                .is_some_and(|e| e.reasons.iter().any(|r| r.key == "detractor")),
            "{backend}: {cq:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn two_concurrent_answers_with_one_link_make_one_answer() {
    each_core(|backend, core| async move {
        customers(&core).await;
        active(&core, "s1", "none").await;
        // A second process on the same database (its own pool and write turn).
        let other = Core::new(Store::open(core.store().url()).await.unwrap());
        for round in 0..3 {
            let token = token_of(&core.survey_link(&staff(), "s1", "c2").await.unwrap());
            let a = answer(&[("nps", "9"), ("did_well", "Fast")]);
            let (x, y) = tokio::join!(
                core.answer_survey_link(&token, &a, "en", Channel::Ui, None),
                other.answer_survey_link(&token, &a, "en", Channel::Api, None),
            );
            let mut gates = [x.unwrap().gate, y.unwrap().gate];
            gates.sort_by_key(|g| format!("{g:?}"));
            assert_eq!(
                gates,
                [Gate::Answered, Gate::Used],
                "{backend} round {round}"
            );
            assert_eq!(count_feedback(core.store()).await, round + 1, "{backend}");
        }
        other.store().close().await;
    })
    .await;
}

#[tokio::test]
async fn expired_altered_and_closed_links_say_so() {
    each_core(|backend, core| async move {
        customers(&core).await;
        active(&core, "s1", "none").await;
        let key = core.survey_key().await.unwrap();
        // The key is kept: the same on the next ask, and by another core on the store.
        assert_eq!(core.survey_key().await.unwrap(), key);
        let other = Core::new(Store::open(core.store().url()).await.unwrap());
        assert_eq!(other.survey_key().await.unwrap(), key, "{backend}");
        other.store().close().await;
        let sid = core.store().survey("s1").await.unwrap().unwrap().id;
        let expired = sign_link(
            &key,
            &LinkClaims {
                survey_id: sid,
                customer_id: None,
                token_id: new_token_id(),
                expires_ms: chrono::Utc::now().timestamp_millis() - 1000,
            },
        );
        assert_eq!(
            core.open_survey_link(&expired).await.unwrap().gate,
            Gate::Expired,
            "{backend}"
        );
        let a = answer(&[("nps", "8")]);
        let v = core
            .answer_survey_link(&expired, &a, "fi", Channel::Ui, None)
            .await
            .unwrap();
        assert_eq!(v.gate, Gate::Expired);
        let good = token_of(&core.survey_link(&staff(), "s1", "c1").await.unwrap());
        let mut altered = good.clone().into_bytes();
        altered[3] = if altered[3] == b'x' { b'y' } else { b'x' };
        let altered = String::from_utf8(altered).unwrap();
        assert_eq!(
            core.open_survey_link(&altered).await.unwrap().gate,
            Gate::Altered
        );
        let v = core
            .answer_survey_link(&altered, &a, "fi", Channel::Ui, None)
            .await
            .unwrap();
        assert_eq!(v.gate, Gate::Altered);
        assert_eq!(
            core.open_survey_link("not-a-link").await.unwrap().gate,
            Gate::Malformed
        );
        core.set_survey_status(&manager(), "s1", "closed")
            .await
            .unwrap();
        assert_eq!(
            core.open_survey_link(&good).await.unwrap().gate,
            Gate::Closed,
            "{backend}"
        );
        assert_eq!(count_feedback(core.store()).await, 0);
    })
    .await;
}

#[tokio::test]
async fn the_qr_page_answers_anonymously_or_for_a_customer() {
    each_core(|backend, core| async move {
        customers(&core).await;
        active(&core, "counter", "loyalty").await;
        let url = core.survey_qr_url("counter");
        assert!(url.ends_with("/q/counter"), "{url}");
        let v = core.open_survey_qr("counter").await.unwrap();
        assert_eq!(v.gate, Gate::Open);
        assert_eq!(v.survey.unwrap().asks, "loyalty");
        let a = answer(&[("nps", "10"), ("did_well", "Hyvä kahvi")]);
        let mut who = Vec::new();
        for (by, lang) in [(Some("c1"), "fi"), (None, "en"), (Some("nobody"), "en")] {
            let v = core
                .answer_survey_qr("counter", &a, by, lang, None)
                .await
                .unwrap();
            assert_eq!(v.gate, Gate::Answered, "{backend}");
            let f = core
                .store()
                .get(&FEEDBACK, &v.answer_id.unwrap())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(f.get("channel"), &text("qr"));
            who.push(f.get("customer_id").clone());
        }
        assert_eq!(who, [text("c1"), Value::Null, Value::Null], "{backend}");
        assert_eq!(
            core.open_survey_qr("nope").await.unwrap().gate,
            Gate::Unknown
        );
    })
    .await;
}

#[tokio::test]
async fn unsubscribing_through_a_link_withdraws_consent() {
    each_core(|backend, core| async move {
        customers(&core).await;
        active(&core, "s1", "none").await;
        let token = token_of(&core.survey_link(&staff(), "s1", "c1").await.unwrap());
        assert_eq!(
            core.open_survey_unsubscribe(&token).await.unwrap().gate,
            Gate::Open
        );
        let v = core
            .unsubscribe_survey_link(&token, Channel::Ui, Some("198.51.100.7".into()))
            .await
            .unwrap();
        assert_eq!(v.gate, Gate::Answered, "{backend}");
        let c = core.store().get(&CUSTOMERS, "c1").await.unwrap().unwrap();
        assert_eq!(c.get("survey_consent"), &Value::Bool(false), "{backend}");
        assert!(!c.get("survey_consent_at").is_null());
        let a: Vec<_> = audit_of(core.store(), "update")
            .await
            .into_iter()
            .filter(|a| a.entry.entity == "customers")
            .collect();
        assert_eq!(a.len(), 1, "{backend}");
        assert_eq!(a[0].entry.actor_id.as_deref(), Some("public"));
        // Again: nothing more.
        core.unsubscribe_survey_link(&token, Channel::Ui, None)
            .await
            .unwrap();
        let n = audit_of(core.store(), "update")
            .await
            .into_iter()
            .filter(|a| a.entry.entity == "customers")
            .count();
        assert_eq!(n, 1, "{backend}");
    })
    .await;
}

#[tokio::test]
async fn staff_cannot_write_surveys_by_any_path() {
    each_core(|backend, core| async move {
        core.create_survey(
            &manager(),
            Some("s1"),
            SurveyInput {
                name: Some("Kahvila".into()),
                ..SurveyInput::default()
            },
        )
        .await
        .unwrap();
        let name = SURVEYS.field("name").unwrap();
        // The generic write path (the API's, the importer's) wants a manager too.
        let e = core
            .update_record(&staff(), &SURVEYS, "s1", vec![name], vec![text("Changed")])
            .await
            .unwrap_err();
        assert!(matches!(e, CoreError::Forbidden(_)), "{backend}: {e:?}");
        let mut b = WriteBatch::new(&SURVEYS, fields(&SURVEYS, &["name"]));
        b.push("s2".into(), vec![text("Imported")]);
        let e = core.write_batch(&staff(), b).await.unwrap_err();
        assert!(matches!(e, CoreError::Forbidden(_)), "{backend}: {e:?}");
        core.update_record(
            &manager(),
            &SURVEYS,
            "s1",
            vec![name],
            vec![text("Changed")],
        )
        .await
        .unwrap();
    })
    .await;
}

#[test]
fn question_errors_have_a_kind_and_an_english_text() {
    let none = checked_questions(vec![]).unwrap_err();
    assert_eq!(none, QuestionError::NoQuestion);
    assert_eq!(none.to_string(), "choose at least one question");
    assert_eq!(none.key(), "surveys.error.no-question");
    let e = checked_questions(vec![q("", "a", "b")]).unwrap_err();
    assert_eq!(e.key(), "surveys.error.no-field");
    assert!(
        e.to_string().starts_with("question 1: choose what it asks"),
        "{e}"
    );
    let e = checked_questions(vec![q("nps", "", "b")]).unwrap_err();
    assert_eq!(e.to_string(), "question 1 ('nps') has no Finnish wording");
    assert_eq!(e.key(), "surveys.error.no-fi");
    assert!(e.args().contains(&("field", "nps".to_string())));
    let e = checked_questions(vec![q("nps", "a", "b"), q("nps", "c", "d")]).unwrap_err();
    assert_eq!(e.key(), "surveys.error.twice");
    assert!(e.args().contains(&("n", "2".to_string())));
}
