//! Acting on an answer at once (issue 13), on both backends: with the setting
//! `detractor_opens_case` on, a recent detractor's answer (NPS or CSAT, thresholds from
//! the settings) opens one case owned by the customer's owner and quoting the answer,
//! once however often the answer is written; old answers, passives and promoters open
//! none, and with the setting off nothing opens.

use chrono::{DateTime, Utc};
use kanta_core::{Acting, Channel, Core};
use kanta_domain::schema::{CASES, CUSTOMERS, FEEDBACK, STAFF};
use kanta_domain::{Value, WriteBatch};
use kanta_store::accounts::Role;

use crate::support::{all_fields, audit_of, each_core, fields, text};

fn staff() -> Acting {
    Acting::user(3, "sanna@example.fi", Role::Staff, Channel::Ui)
}

fn manager() -> Acting {
    Acting::user(2, "maija@example.fi", Role::Manager, Channel::Ui)
}

fn ago(hours: i64) -> DateTime<Utc> {
    Utc::now() - chrono::Duration::hours(hours)
}

/// Staff member `s1`, customer `c1` owned by her, customers `c2`..`c6` with no owner.
async fn setup(core: &Core) {
    let cli = Acting::cli();
    let mut s = WriteBatch::new(&STAFF, fields(&STAFF, &["name", "email"]));
    s.push(
        "s1".into(),
        [text("Sanna Virtanen"), text("sanna@example.fi")],
    );
    core.write_batch(&cli, s).await.unwrap();
    let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name", "owner_id"]));
    c.push("c1".into(), [text("Kahvila Åkerlund"), text("s1")]);
    for i in 2..=6 {
        c.push(
            format!("c{i}"),
            [text(&format!("Asiakas {i}")), Value::Null],
        );
    }
    core.write_batch(&cli, c).await.unwrap();
}

fn answer(
    customer: &str,
    at: DateTime<Utc>,
    nps: Option<i64>,
    csat: Option<i64>,
    do_better: Option<&str>,
) -> Vec<Value> {
    all_fields(
        &FEEDBACK,
        &[
            ("customer_id", text(customer)),
            ("answered_at", Value::Time(at)),
            ("nps", nps.map_or(Value::Null, Value::Int)),
            ("csat", csat.map_or(Value::Null, Value::Int)),
            ("do_better", do_better.map_or(Value::Null, text)),
        ],
    )
}

async fn feedback_cases(core: &Core) -> Vec<kanta_store::Record> {
    let mut q = kanta_store::RecordQuery::new(&CASES);
    q.filters = vec![(CASES.field("category").unwrap(), text("feedback"))];
    let page = core.store().list(&q).await.unwrap();
    page.items
        .into_iter()
        .filter(|r| r.text("category") == Some("feedback"))
        .collect()
}

#[tokio::test]
async fn without_the_setting_a_detractor_opens_no_case() {
    each_core(|backend, core| async move {
        setup(&core).await;
        core.create_record(
            &staff(),
            &FEEDBACK,
            "f1",
            answer("c1", ago(2), Some(2), None, Some("Jono oli pitkä")),
        )
        .await
        .unwrap();
        assert!(feedback_cases(&core).await.is_empty(), "{backend}");
    })
    .await;
}

#[tokio::test]
async fn a_recent_detractor_opens_one_case_quoting_the_answer() {
    each_core(|backend, core| async move {
        setup(&core).await;
        core.set_store_setting(&manager(), "detractor_opens_case", "yes")
            .await
            .unwrap();
        core.create_record(
            &staff(),
            &FEEDBACK,
            "f1",
            answer("c1", ago(2), Some(3), None, Some("Jono oli <b>pitkä</b>")),
        )
        .await
        .unwrap();
        let cases = feedback_cases(&core).await;
        assert_eq!(cases.len(), 1, "{backend}: {cases:?}");
        let k = &cases[0];
        assert_eq!(k.external_id, "feedback-f1");
        assert_eq!(k.text("customer_id"), Some("c1"));
        assert_eq!(k.text("severity"), Some("normal"));
        assert_eq!(k.text("status"), Some("open"));
        assert_eq!(k.text("channel"), Some("survey"));
        assert_eq!(k.text("staff_id"), Some("s1"), "the customer's owner");
        assert_eq!(
            k.text("summary"),
            Some("Arvostelijan vastaus (NPS 3/10): \"Jono oli <b>pitkä</b>\""),
            "{backend}"
        );
        let detail = core.case_detail(&staff(), "feedback-f1").await.unwrap();
        assert!(
            !detail.timers.is_empty() && !detail.events.is_empty(),
            "{backend}: due times and a timeline: {detail:?}"
        );
        let audit = audit_of(core.store(), "open").await;
        assert!(
            audit.iter().any(|a| a.entry.entity == "cases"
                && a.entry.record_id.as_deref() == Some("feedback-f1")),
            "{backend}: {audit:?}"
        );

        // Written again (a re-import, a correction): still one case.
        let mut b = WriteBatch::new(&FEEDBACK, FEEDBACK.fields.iter().collect());
        b.push(
            "f1".into(),
            answer("c1", ago(2), Some(2), None, Some("Jono oli pitkä")),
        );
        core.write_batch(&Acting::import("again.csv"), b)
            .await
            .unwrap();
        assert_eq!(feedback_cases(&core).await.len(), 1, "{backend}");

        // A CSAT detractor opens one; passives, promoters and old answers none.
        let mut b = WriteBatch::new(&FEEDBACK, FEEDBACK.fields.iter().collect());
        b.push("f2".into(), answer("c2", ago(1), None, Some(2), None));
        b.push("f3".into(), answer("c3", ago(1), Some(7), None, Some("ok")));
        b.push("f4".into(), answer("c4", ago(1), Some(10), Some(5), None));
        b.push("f5".into(), answer("c5", ago(24 * 10), Some(0), None, None));
        b.push("f6".into(), answer("c6", ago(1), None, Some(3), None));
        core.write_batch(&Acting::import("answers.csv"), b)
            .await
            .unwrap();
        let mut ids: Vec<String> = feedback_cases(&core)
            .await
            .into_iter()
            .map(|k| k.external_id)
            .collect();
        ids.sort();
        assert_eq!(ids, ["feedback-f1", "feedback-f2"], "{backend}");
        let f2 = feedback_cases(&core)
            .await
            .into_iter()
            .find(|k| k.external_id == "feedback-f2")
            .unwrap();
        assert_eq!(f2.text("staff_id"), None, "{backend}: no owner");
        assert_eq!(
            f2.text("summary"),
            Some("Arvostelijan vastaus (CSAT 2/5): (ei vapaata tekstiä)")
        );
    })
    .await;
}

#[tokio::test]
async fn the_thresholds_follow_the_settings() {
    each_core(|backend, core| async move {
        setup(&core).await;
        for (k, v) in [
            ("detractor_opens_case", "yes"),
            ("detractor_nps_max", "4"),
            ("detractor_csat_max", "1"),
            ("language", "en"),
        ] {
            core.set_store_setting(&manager(), k, v).await.unwrap();
        }
        let mut b = WriteBatch::new(&FEEDBACK, FEEDBACK.fields.iter().collect());
        b.push("f1".into(), answer("c1", ago(1), Some(5), None, None));
        b.push(
            "f2".into(),
            answer("c2", ago(1), Some(4), None, Some("Slow")),
        );
        b.push("f3".into(), answer("c3", ago(1), None, Some(2), None));
        b.push("f4".into(), answer("c4", ago(1), None, Some(1), None));
        core.write_batch(&Acting::import("answers.csv"), b)
            .await
            .unwrap();
        let mut cases: Vec<(String, Option<String>)> = feedback_cases(&core)
            .await
            .into_iter()
            .map(|k| (k.external_id.clone(), k.text("summary").map(str::to_string)))
            .collect();
        cases.sort();
        assert_eq!(
            cases,
            [
                (
                    "feedback-f2".to_string(),
                    Some("A detractor's answer (NPS 4/10): \"Slow\"".to_string())
                ),
                (
                    "feedback-f4".to_string(),
                    Some("A detractor's answer (CSAT 1/5): (no free text)".to_string())
                ),
            ],
            "{backend}"
        );
    })
    .await;
}
