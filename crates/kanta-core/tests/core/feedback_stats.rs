//! Feedback analytics on both backends against hand-computed figures: NPS with the
//! adjusted Wald interval, CSAT's Wilson share and t mean, CES, "not enough answers",
//! months cut at the store's midnight (Europe/Helsinki, not UTC), segments, tiers,
//! surveys and channels, response rates per wave and channel, exposure, detractor
//! drivers with merged themes, and the answers behind a figure.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use kanta_core::feedback_stats::{AnswersQuery, Cell, FeedbackReport, Period};
use kanta_core::{Acting, Core, CoreError};

use crate::support::each_core;

fn close(a: Option<f64>, b: f64, what: &str) {
    let a = a.unwrap_or_else(|| panic!("{what}: no value"));
    assert!((a - b).abs() < 1e-3, "{what}: {a} ≠ {b}");
}

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The first instant of this month in Helsinki.
fn month_start() -> DateTime<Utc> {
    let zone = kanta_domain::time::DEFAULT_ZONE;
    let today = Utc::now().with_timezone(&zone).date_naive();
    let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap();
    zone.from_local_datetime(&first.and_hms_opt(0, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

/// The answers (see the module documentation of the figures each one makes):
///
/// This month: 1-10 with NPS 10, 10, 9, 9, 9, 8, 7, 6, 3, 0 (5 promoters, 3
/// detractors: NPS 20), CSAT 5, 4, 4 (1-3), 3 (9), 1 (10) and a CSAT-only 1 (11),
/// CES 2, 3, 7 (1-3). Answer 1 lies at the month's first instant (Helsinki).
/// Last month: 12 (NPS 10, one millisecond before this month), 13 and 14 (NPS 2), 15
/// (NPS 5). Customers c1 (kahvila, A): 1-4, 12; c2 (b2b, B): 5-8, 11, 13, 14; none:
/// 9, 10, 15. Survey s1: 1-3; channels email (1), qr (2), link (3).
async fn lay_out(core: &Core) {
    let m0 = month_start();
    let t0 = (Utc::now() - Duration::minutes(1)).max(m0);
    let before = m0 - Duration::milliseconds(1);
    let last = m0 - Duration::days(5);
    let mut sql = String::from(
        "INSERT INTO customers (id, external_id, name, segment, tier) VALUES \
         (1, 'c1', 'Aino', 'kahvila', 'A'), (2, 'c2', '<b>Bertta</b>', 'b2b', 'B'), \
         (3, 'c3', 'C', NULL, NULL), (4, 'c4', 'D', NULL, NULL), (5, 'c5', 'E', NULL, NULL);\n\
         INSERT INTO surveys (id, external_id, name, status, questions) VALUES \
         (1, 's1', 'Kahvilakysely', 'active', '[]');\n",
    );
    type A<'a> = (
        i64,
        &'a str,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        &'a str,
        &'a str,
        &'a str,
        bool,
        DateTime<Utc>,
    );
    let answers: Vec<A> = vec![
        (
            1,
            "1",
            Some(10),
            Some(5),
            Some(2),
            "Ystävällinen palvelu",
            "",
            "email",
            true,
            m0,
        ),
        (2, "1", Some(10), Some(4), Some(3), "", "", "qr", true, t0),
        (3, "1", Some(9), Some(4), Some(7), "", "", "link", true, t0),
        (4, "1", Some(9), None, None, "", "", "", false, t0),
        (5, "2", Some(9), None, None, "", "", "", false, t0),
        (6, "2", Some(8), None, None, "", "", "", false, t0),
        (7, "2", Some(7), None, None, "", "", "", false, t0),
        (
            8,
            "2",
            Some(6),
            None,
            None,
            "",
            "Jono oli pitkä",
            "",
            false,
            t0,
        ),
        (
            9,
            "",
            Some(3),
            Some(3),
            None,
            "",
            "Jonotus kesti",
            "",
            false,
            t0,
        ),
        (
            10,
            "",
            Some(0),
            Some(1),
            None,
            "",
            "Hinta <liian> kallis",
            "",
            false,
            t0,
        ),
        (
            11,
            "2",
            None,
            Some(1),
            None,
            "",
            "Jonossa meni ikuisuus",
            "",
            false,
            t0,
        ),
        (12, "1", Some(10), None, None, "", "", "", false, before),
        (13, "2", Some(2), None, None, "", "Jono", "", false, last),
        (14, "2", Some(2), None, None, "", "", "", false, last),
        (15, "", Some(5), None, None, "", "", "", false, last),
    ];
    let opt = |v: Option<i64>| v.map_or("NULL".to_string(), |v| v.to_string());
    let txt = |s: &str| {
        if s.is_empty() {
            "NULL".to_string()
        } else {
            format!("'{s}'")
        }
    };
    for (id, customer, nps, csat, ces, well, better, channel, s1, at) in answers {
        sql.push_str(&format!(
            "INSERT INTO feedback (id, external_id, customer_id, answered_at, nps, csat, ces, \
             did_well, do_better, channel, survey_id) VALUES ({id}, 'f{id}', {}, '{}', {}, {}, {}, {}, {}, {}, {});\n",
            if customer.is_empty() { "NULL" } else { customer },
            ts(at),
            opt(nps),
            opt(csat),
            opt(ces),
            txt(well),
            txt(better),
            txt(channel),
            if s1 { "1" } else { "NULL" },
        ));
    }
    // Themes: 1 queueing (and 4, waiting, merged into it), 2 price, 3 service.
    sql.push_str(
        "INSERT INTO feedback_themes (id, theme_key, label, words, answers, created_ms, updated_ms) VALUES \
         (1, 'jono', 'jonotus', 'jono,jonotus', 4, 0, 0), (2, 'hinta', 'hinta', 'hinta,kallis', 1, 0, 0), \
         (3, 'palvelu', 'palvelu', 'ystävällinen,palvelu', 1, 0, 0), (4, 'odotus', 'odotus', 'odotus', 1, 0, 0);\n\
         UPDATE feedback_themes SET merged_into = 1 WHERE id = 4;\n\
         INSERT INTO feedback_theme_members (feedback_id, field, theme_id, weight) VALUES \
         (8, 'do_better', 1, 1.0), (9, 'do_better', 1, 1.0), (11, 'do_better', 4, 1.0), \
         (13, 'do_better', 1, 1.0), (10, 'do_better', 2, 1.0), (1, 'did_well', 3, 1.0);\n",
    );
    // A wave by email: c1 and c5 answered, c2 and c3 invited, c4 skipped; triggered by
    // link: c1 answered, c2 invited.
    sql.push_str(
        "INSERT INTO survey_waves (id, survey_id, channel, audience, considered, invited, skipped, created_ms) \
         VALUES (1, 1, 'email', 'all', 5, 4, 1, 1000);\n\
         INSERT INTO survey_invitations (id, survey_id, customer_id, wave_id, trigger_key, channel, status, reason, created_ms) VALUES \
         (1, 1, 1, 1, NULL, 'email', 'answered', NULL, 1000), (2, 1, 2, 1, NULL, 'email', 'invited', NULL, 1000), \
         (3, 1, 3, 1, NULL, 'email', 'invited', NULL, 1000), (4, 1, 4, 1, NULL, 'email', 'skipped', 'no_consent', 1000), \
         (5, 1, 5, 1, NULL, 'email', 'answered', NULL, 1000), \
         (6, 1, 1, NULL, 'order:1:1', 'link', 'answered', NULL, 500), (7, 1, 2, NULL, 'order:2:1', 'link', 'invited', NULL, 600);\n",
    );
    core.store().feedback_stats_test_sql(&sql).await.unwrap();
    core.set_store_setting(&Acting::cli(), "feedback_min_answers", "5")
        .await
        .unwrap();
}

fn find<'a>(cells: &'a [Cell], key: &str) -> &'a Cell {
    cells
        .iter()
        .find(|c| c.key == key)
        .unwrap_or_else(|| panic!("no cell {key}: {cells:?}"))
}

fn check(backend: &str, r: &FeedbackReport) {
    let m0 = month_start().with_timezone(&kanta_domain::time::DEFAULT_ZONE);
    let this = m0.format("%Y-%m").to_string();
    let prev = (m0 - Duration::days(1)).format("%Y-%m").to_string();
    assert_eq!(r.periods.len(), 2, "{backend}");
    assert_eq!(r.periods[0].key, prev);
    assert_eq!(r.periods[1].key, this);
    assert_eq!(r.min_answers, 5);

    // This month: n 10, P 5, D 3: NPS 20, adjusted Wald −30.33 … 61.10.
    let c = find(&r.periods, &this);
    assert_eq!(c.answers, 11, "{backend}");
    assert_eq!(
        (c.nps.n, c.nps.promoters, c.nps.passives, c.nps.detractors),
        (10, 5, 2, 3),
        "{backend}: answer 1 at the month's first instant counts in this month"
    );
    assert!(c.nps.enough);
    close(c.nps.score, 20.0, "NPS");
    close(c.nps.lo, -30.325_994, "NPS lo");
    close(c.nps.hi, 61.095_225, "NPS hi");
    // CSAT 5, 4, 4, 3, 1, 1: 3 of 6 satisfied, Wilson 18.8 … 81.2 %; mean 3 with
    // sd √2.8, t(5) = 2.5706: 1.2439 … 4.7561.
    assert_eq!((c.csat.n, c.csat.satisfied), (6, 3));
    close(c.csat.share, 0.5, "CSAT share");
    close(c.csat.lo, 0.187_616, "CSAT lo");
    close(c.csat.hi, 0.812_384, "CSAT hi");
    close(c.csat.mean, 3.0, "CSAT mean");
    close(c.csat.mean_lo, 1.243_958, "CSAT mean lo");
    close(c.csat.mean_hi, 4.756_042, "CSAT mean hi");
    // CES 2, 3, 7: 3 answers, fewer than 5: not enough, no figure.
    assert_eq!((c.ces.n, c.ces.enough, c.ces.mean), (3, false, None));
    // The rule's groups: answer 11 (CSAT 1, no NPS) is a detractor too.
    assert_eq!((c.promoters, c.detractors), (5, 4));

    // Last month: 4 NPS answers (answer 12 one millisecond before this month): not
    // enough, the counts kept.
    let p = find(&r.periods, &prev);
    assert_eq!(
        (p.nps.n, p.nps.promoters, p.nps.detractors, p.nps.enough),
        (4, 1, 3, false),
        "{backend}"
    );
    assert_eq!((p.nps.score, p.nps.lo, p.nps.hi), (None, None, None));

    // Both months: n 14, P 6, D 6: NPS 0 ± 42.36.
    assert_eq!(r.total.answers, 15);
    close(r.total.nps.score, 0.0, "total NPS");
    close(r.total.nps.lo, -42.360_985, "total lo");
    close(r.total.nps.hi, 42.360_985, "total hi");

    // Segments: kahvila 5 answers all promoters: NPS 100, 17.49 … 100; b2b 6 NPS
    // answers, P 1, D 3: −33.3, −71.19 … 26.74; none: 3, not enough.
    let k = find(&r.segments, "kahvila");
    assert_eq!((k.answers, k.nps.n), (5, 5));
    close(k.nps.score, 100.0, "kahvila");
    close(k.nps.lo, 17.491_453, "kahvila lo");
    close(k.nps.hi, 100.0, "kahvila hi");
    let b = find(&r.segments, "b2b");
    assert_eq!((b.answers, b.nps.n), (7, 6));
    close(b.nps.score, -33.333_333, "b2b");
    close(b.nps.lo, -71.187_703, "b2b lo");
    close(b.nps.hi, 26.743_259, "b2b hi");
    let none = find(&r.segments, "");
    assert_eq!((none.answers, none.nps.enough), (3, false));
    assert_eq!(
        r.tiers.iter().map(|t| t.key.as_str()).collect::<Vec<_>>(),
        ["A", "B", ""]
    );
    assert_eq!(find(&r.tiers, "A").answers, 5);
    let s1 = find(&r.surveys, "s1");
    assert_eq!(
        (s1.answers, s1.label.as_deref()),
        (3, Some("Kahvilakysely"))
    );
    assert_eq!(find(&r.surveys, "").answers, 12);
    assert_eq!(find(&r.channels, "qr").answers, 1);
    assert_eq!(find(&r.channels, "").answers, 12);

    // Response rates: the wave 2 of 4 invited (one skipped), Wilson 15.0 … 85.0 %;
    // the triggers 1 of 2; by channel email 2/4, link 1/2.
    assert_eq!(r.waves.len(), 2);
    let w = &r.waves[0];
    assert_eq!(
        (w.wave_id, w.rate.k, w.rate.n, w.skipped),
        (Some(1), 2, 4, 1)
    );
    close(w.rate.lo, 0.150_039, "wave lo");
    close(w.rate.hi, 0.849_961, "wave hi");
    let t = &r.waves[1];
    assert_eq!(
        (t.wave_id, t.channel.as_str(), t.rate.k, t.rate.n),
        (None, "link", 1, 2)
    );
    let ch: Vec<(&str, u64, u64)> = r
        .invitation_channels
        .iter()
        .map(|c| (c.channel.as_str(), c.rate.k, c.rate.n))
        .collect();
    assert_eq!(ch, [("email", 2, 4), ("link", 1, 2)]);

    // Exposure: this month 5 promoters × 3 = 15, 4 detractors × 11 = 44; last month
    // 1 × 3 against 3 × 11.
    let e: Vec<(u64, u64)> = r
        .exposure
        .iter()
        .map(|e| (e.told_good, e.told_bad))
        .collect();
    assert_eq!(e, [(3, 33), (15, 44)], "{backend}");

    // Drivers: 5 detractors and 1 promoter wrote something. Queueing (with waiting
    // merged into it): 4 of 5 detractors, 0 of 1 promoters: +80 points, Newcombe
    // −9.99 … 96.38; price 1/5 vs 0/1; service 0/5 vs 1/1 (−100, −100 … −9.54).
    assert_eq!((r.detractors_with_text, r.promoters_with_text), (5, 1));
    let order: Vec<&str> = r.drivers.iter().map(|d| d.label.as_str()).collect();
    assert_eq!(order, ["jonotus", "hinta", "palvelu"], "{backend}");
    let q = &r.drivers[0];
    assert_eq!(
        (q.detractors.k, q.detractors.n, q.promoters.k, q.promoters.n),
        (4, 5, 0, 1)
    );
    close(q.difference, 0.8, "queue difference");
    close(q.lo, -0.099_853, "queue lo");
    close(q.hi, 0.963_776, "queue hi");
    assert!(!q.clear && !q.enough);
    let s = &r.drivers[2];
    close(s.difference, -1.0, "service");
    close(s.hi, -0.095_379, "service hi");
    assert_eq!(r.themes.len(), 3);
}

#[tokio::test]
async fn figures_match_hand_computed_ones_on_both_backends() {
    each_core(|backend, core| async move {
        lay_out(&core).await;
        let viewer = Acting::user(
            9,
            "v@example.fi",
            kanta_store::accounts::Role::Viewer,
            kanta_core::Channel::Ui,
        );
        let r = core
            .feedback_report(&viewer, Period::Month, 2)
            .await
            .unwrap();
        check(backend, &r);

        // By quarter: the months fall into one or two quarters, summing to the total.
        let q = core
            .feedback_report(&viewer, Period::Quarter, 2)
            .await
            .unwrap();
        assert!(q.periods.iter().all(|p| p.key.contains("-Q")), "{backend}");
        let sum: u64 = q.periods.iter().map(|p| p.answers).sum();
        assert!(sum >= 15, "{backend}: {sum}");

        // Bad input names the field.
        let e = core
            .feedback_report(&viewer, Period::Month, 0)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, CoreError::Invalid(p) if p[0].field == "months"),
            "{e}"
        );

        // The answers behind this month's detractors, newest first (ties by id).
        let this = month_start()
            .with_timezone(&kanta_domain::time::DEFAULT_ZONE)
            .format("%Y-%m")
            .to_string();
        let page = core
            .feedback_answers(
                &viewer,
                &AnswersQuery {
                    period: Some(this.clone()),
                    group: Some("detractor".into()),
                    limit: 100,
                    ..AnswersQuery::default()
                },
            )
            .await
            .unwrap();
        let ids: Vec<&str> = page.items.iter().map(|a| a.external_id.as_str()).collect();
        assert_eq!(ids, ["f11", "f10", "f9", "f8"], "{backend}");
        assert_eq!(page.total, 4);
        // A theme's answers include those of the theme merged into it.
        let page = core
            .feedback_answers(
                &viewer,
                &AnswersQuery {
                    theme: Some(1),
                    limit: 2,
                    ..AnswersQuery::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page.total, 4, "{backend}");
        assert_eq!(page.items.len(), 2);
        // Answers without a segment; of one survey; of a tier.
        for (q, n) in [
            (
                AnswersQuery {
                    segment: Some(String::new()),
                    ..AnswersQuery::default()
                },
                3,
            ),
            (
                AnswersQuery {
                    survey: Some("s1".into()),
                    measure: Some("ces".into()),
                    ..AnswersQuery::default()
                },
                3,
            ),
            (
                AnswersQuery {
                    tier: Some("B".into()),
                    group: Some("promoter".into()),
                    ..AnswersQuery::default()
                },
                1,
            ),
        ] {
            let page = core
                .feedback_answers(
                    &viewer,
                    &AnswersQuery {
                        limit: 50,
                        ..q.clone()
                    },
                )
                .await
                .unwrap();
            assert_eq!(page.total, n, "{backend}: {q:?}");
        }
        let page = core
            .feedback_answers(
                &viewer,
                &AnswersQuery {
                    segment: Some("b2b".into()),
                    limit: 1,
                    offset: 0,
                    ..AnswersQuery::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            page.items[0].customer_name.as_deref(),
            Some("<b>Bertta</b>")
        );
        for (q, field) in [
            (
                AnswersQuery {
                    period: Some("lokakuu".into()),
                    ..AnswersQuery::default()
                },
                "period",
            ),
            (
                AnswersQuery {
                    group: Some("angry".into()),
                    ..AnswersQuery::default()
                },
                "group",
            ),
            (
                AnswersQuery {
                    theme: Some(99),
                    ..AnswersQuery::default()
                },
                "theme",
            ),
        ] {
            let e = core.feedback_answers(&viewer, &q).await.unwrap_err();
            assert!(
                matches!(&e, CoreError::Invalid(p) if p[0].field == field),
                "{e}"
            );
        }
    })
    .await;
}
