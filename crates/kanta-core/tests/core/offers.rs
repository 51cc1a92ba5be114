//! Offers with a control group on both backends: an offer to a segment spanning two
//! tiers with 20 % control draws each tier's control group, leaves ended, let-lapse,
//! non-consenting and address-less customers out of both arms, queues mail only to the
//! offer arm, refuses a second send; the uplift is computed from known orders; the
//! write hook and the manager-only rule hold.

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use kanta_core::access::Role;
use kanta_core::{Acting, Channel, Core, CoreError};
use kanta_domain::schema::{CUSTOMERS, OFFERS, TRANSACTIONS};
use kanta_domain::{Value, WriteBatch};

use crate::support::{all_fields, audit_of, each_backend, fields, text};

fn manager() -> Acting {
    Acting::user(3, "maija.manager@cafe.example", Role::Manager, Channel::Ui)
}

fn staff() -> Acting {
    Acting::user(4, "sami.staff@cafe.example", Role::Staff, Channel::Ui)
}

fn date(y: i32, m: u32, d: u32) -> Value {
    Value::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

/// An offer with the defaults filled in and `given` over them.
fn offer_values(given: &[(&str, Value)]) -> Vec<Value> {
    let mut all: Vec<(&str, Value)> = vec![
        ("name", text("Kahvi kaupan päälle")),
        ("text_fi", text("Seuraava kahvi on meiltä.")),
        ("text_en", text("Your next coffee is on us.")),
        ("channel", text("email")),
        ("audience", text("everyone")),
        ("valid_from", date(2026, 1, 1)),
        ("valid_until", date(2026, 1, 31)),
        ("control_percent", Value::Int(20)),
        ("hoped_points", Value::Float(5.0)),
        ("status", text("draft")),
    ];
    for (k, v) in given {
        all.retain(|(n, _)| n != k);
        all.push((k, v.clone()));
    }
    all_fields(&OFFERS, &all)
}

/// 150 regulars: r000-r094 tier A, r095-r149 tier B (fi and en alternately), and 10
/// others of tier C. r000 and r001 ended, r002 let lapse, r003 without marketing
/// consent, r004 without an email address.
async fn customers(core: &Core) {
    let f = fields(
        &CUSTOMERS,
        &[
            "name",
            "email",
            "locale",
            "segment",
            "tier",
            "marketing_consent",
            "status",
            "let_lapse",
        ],
    );
    let mut b = WriteBatch::new(&CUSTOMERS, f);
    for i in 0..160 {
        let regular = i < 150;
        let id = if regular {
            format!("r{i:03}")
        } else {
            format!("x{i:03}")
        };
        let tier = if i < 95 {
            "A"
        } else if regular {
            "B"
        } else {
            "C"
        };
        b.push(
            id.clone(),
            vec![
                text(&format!("Asiakas {i}")),
                if i == 4 {
                    Value::Null
                } else {
                    text(&format!("{id}@example.fi"))
                },
                text(if i % 2 == 0 { "fi" } else { "en" }),
                text(if regular { "regulars" } else { "others" }),
                text(tier),
                Value::Bool(i != 3),
                text(if i < 2 { "ended" } else { "active" }),
                Value::Bool(i == 2),
            ],
        );
    }
    core.write_batch(&Acting::cli(), b).await.unwrap();
}

#[tokio::test]
async fn offer_to_a_segment_with_a_control_group() {
    each_backend(|backend, store| async move {
        let core = Core::new(store.clone());
        customers(&core).await;
        // Only managers make offers.
        let refused = core
            .create_record(
                &staff(),
                &OFFERS,
                "o1",
                offer_values(&[("audience", text("segment"))]),
            )
            .await;
        assert!(matches!(refused, Err(CoreError::Forbidden(_))), "{backend}");
        core.create_record(
            &manager(),
            &OFFERS,
            "o1",
            offer_values(&[
                ("audience", text("segment")),
                ("audience_value", text("regulars")),
                ("code", text("KAHVI")),
                ("cost_per_redemption", Value::Int(100)),
            ]),
        )
        .await
        .unwrap_or_else(|e| panic!("{backend}: {e}"));
        assert!(matches!(
            core.send_offer(&staff(), "o1", None).await,
            Err(CoreError::Forbidden(_))
        ));
        // The preview keeps nothing.
        let preview = core.preview_offer(&manager(), "o1").await.unwrap();
        assert!(preview.preview);
        assert_eq!(core.offer(&manager(), "o1").await.unwrap().status, "draft");

        let sent_at = Utc.with_ymd_and_hms(2025, 12, 31, 10, 0, 0).unwrap();
        let sent = core
            .send_offer(&manager(), "o1", Some(sent_at))
            .await
            .unwrap_or_else(|e| panic!("{backend}: {e}"));
        assert_eq!(sent.considered, 150, "{backend}");
        assert_eq!(
            sent.excluded,
            vec![
                ("ended".to_string(), 2),
                ("let_lapse".to_string(), 1),
                ("no_consent".to_string(), 1),
                ("no_email".to_string(), 1),
            ],
            "{backend}"
        );
        // tier A: 95 - 5 left out = 90 → 18 control; tier B: 55 → 11.
        let tiers: Vec<(String, i64, i64)> = sent
            .tiers
            .iter()
            .map(|t| (t.tier.clone(), t.offer, t.control))
            .collect();
        assert_eq!(
            tiers,
            vec![("A".to_string(), 72, 18), ("B".to_string(), 44, 11)],
            "{backend}"
        );
        assert_eq!((sent.offer_arm, sent.control_arm), (116, 29));
        assert_eq!(sent.mails, 116, "{backend}");
        // The same draw from the recorded seed.
        let seed = core.offer(&manager(), "o1").await.unwrap().seed.unwrap();
        assert_eq!(seed as u64, sent.seed);

        // Mails only to the offer arm, in the customer's language.
        let oid = store.get(&OFFERS, "o1").await.unwrap().unwrap().id;
        let offer_arm = store.offer_member_ids(oid, "offer").await.unwrap();
        let control_arm = store.offer_member_ids(oid, "control").await.unwrap();
        assert_eq!((offer_arm.len(), control_arm.len()), (116, 29));
        for left_out in ["r000", "r001", "r002", "r003", "r004", "x150"] {
            assert!(!offer_arm.iter().chain(&control_arm).any(|c| c == left_out));
        }
        let mails = store.outbox(1000).await.unwrap();
        let mut to: Vec<String> = mails
            .iter()
            .filter(|m| m.key.starts_with("offer:"))
            .map(|m| m.to.trim_end_matches("@example.fi").to_string())
            .collect();
        to.sort();
        assert_eq!(to, offer_arm, "{backend}");
        let fi = mails.iter().find(|m| m.to == "r006@example.fi");
        let en = mails.iter().find(|m| m.to == "r007@example.fi");
        if let Some(m) = fi {
            assert!(m.text.contains("Seuraava kahvi on meiltä.") && m.text.contains("KAHVI"));
        }
        if let Some(m) = en {
            assert!(m.text.contains("Your next coffee is on us."));
        }
        // The seed is drawn afresh: r006 and r007 may both be in the control group,
        // but among 116 recipients each language has some.
        assert!(
            mails
                .iter()
                .any(|m| m.text.contains("Seuraava kahvi on meiltä.") && m.text.contains("KAHVI")),
            "{backend}"
        );
        assert!(
            mails
                .iter()
                .any(|m| m.text.contains("Your next coffee is on us.")),
            "{backend}"
        );

        // A second send is refused and changes nothing.
        let again = core.send_offer(&manager(), "o1", None).await;
        assert!(
            matches!(again, Err(CoreError::Conflict { .. })),
            "{again:?}"
        );
        assert_eq!(store.outbox(1000).await.unwrap().len(), mails.len());
        let entries = audit_of(&store, "offer_sent").await;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].entry.details["offer_arm"], 116);

        // Known orders in January 2026 (and one outside the window): every second
        // offer-arm member buys once for 10,00 with the code; one of them refunds 4,00;
        // every fourth control member buys once for 10,00.
        let f = fields(
            &TRANSACTIONS,
            &[
                "customer_id",
                "occurred_at",
                "amount",
                "currency",
                "offer_code",
            ],
        );
        let mut b = WriteBatch::new(&TRANSACTIONS, f);
        let jan = |d: u32| Value::Time(Utc.with_ymd_and_hms(2026, 1, d, 12, 0, 0).unwrap());
        let mut buyers_t = 0;
        for (i, c) in offer_arm.iter().enumerate() {
            if i % 2 == 0 {
                buyers_t += 1;
                b.push(
                    format!("t-{c}"),
                    vec![
                        text(c),
                        jan(10),
                        Value::Int(1000),
                        text("EUR"),
                        text("KAHVI"),
                    ],
                );
            }
        }
        b.push(
            format!("refund-{}", offer_arm[0]),
            vec![
                text(&offer_arm[0]),
                jan(12),
                Value::Int(-400),
                text("EUR"),
                Value::Null,
            ],
        );
        let mut buyers_c = 0;
        for (i, c) in control_arm.iter().enumerate() {
            if i % 4 == 0 {
                buyers_c += 1;
                b.push(
                    format!("t-{c}"),
                    vec![text(c), jan(20), Value::Int(1000), text("EUR"), Value::Null],
                );
            }
        }
        b.push(
            "outside".into(),
            vec![
                text(&control_arm[1]),
                Value::Time(Utc.with_ymd_and_hms(2026, 2, 3, 12, 0, 0).unwrap()),
                Value::Int(5000),
                text("EUR"),
                Value::Null,
            ],
        );
        core.write_batch(&Acting::cli(), b).await.unwrap();

        let r = core.offer_report(&manager(), "o1").await.unwrap();
        assert!(r.window_ended);
        assert_eq!(r.redemptions, buyers_t, "{backend}");
        assert_eq!(r.told, 116);
        assert_eq!(r.excluded.len(), 4);
        let u = r.uplift.unwrap();
        assert_eq!((u.n_offer, u.n_control), (116, 29));
        let pt = buyers_t as f64 / 116.0;
        let pc = buyers_c as f64 / 29.0;
        assert!((u.purchase.offer.mean - pt).abs() < 1e-12, "{backend}");
        assert!((u.purchase.control.mean - pc).abs() < 1e-12, "{backend}");
        let rev_t = (buyers_t * 1000 - 400) as f64 / 116.0;
        assert!((u.revenue.offer.mean - rev_t).abs() < 1e-9, "{backend}");
        assert!((u.revenue.control.mean - pc * 1000.0).abs() < 1e-9);
        let w = u.purchase.absolute.unwrap();
        assert!((w.diff.estimate - (pt - pc)).abs() < 1e-12);
        assert!(w.diff.low < w.diff.estimate && w.diff.estimate < w.diff.high);
        assert!(u.purchase.relative.is_some());
        // cost: redemptions × 1,00 over the offer arm
        let cost = buyers_t as f64 * 100.0 / 116.0;
        assert!((u.cost_per_member_minor - cost).abs() < 1e-9);
        let net = u.net_revenue.unwrap();
        assert!((net.estimate - (rev_t - pc * 1000.0 - cost)).abs() < 1e-9);
        // 145 customers cannot show a 5-point rise: not enough data, with the n needed.
        assert_eq!(u.not_yet, Some(kanta_models::uplift::NotYet::TooFew));
        assert!(u.needed_per_arm.unwrap() > 116);

        let overview = core.offers_overview(&manager()).await.unwrap();
        assert_eq!(overview.len(), 1);
        assert_eq!(overview[0].n_offer, 116);
    })
    .await;
}

#[tokio::test]
async fn an_offer_to_a_tier_and_the_write_hook() {
    each_backend(|backend, store| async move {
        let core = Core::new(store.clone());
        customers(&core).await;
        // A/A: channel none, a tier, nobody told, no text needed.
        core.create_record(
            &manager(),
            &OFFERS,
            "aa",
            offer_values(&[
                ("channel", text("none")),
                ("text_fi", Value::Null),
                ("text_en", Value::Null),
                ("audience", text("tier")),
                ("audience_value", text("a")),
            ]),
        )
        .await
        .unwrap_or_else(|e| panic!("{backend}: {e}"));
        let sent = core.send_offer(&manager(), "aa", None).await.unwrap();
        // tier A: 95 considered, ended 2 and let lapse 1 left out (consent and email
        // do not matter when nobody is told) → 92, 18 control.
        assert_eq!(sent.considered, 95);
        assert_eq!((sent.offer_arm, sent.control_arm), (74, 18), "{backend}");
        assert_eq!(sent.mails, 0);
        assert!(store.outbox(10).await.unwrap().is_empty());
        let r = core.offer_report(&manager(), "aa").await.unwrap();
        assert_eq!(r.told, 0);
        assert_eq!(r.tiers.len(), 1);

        // The hook: the window's days in order, a text for a channel that tells, and
        // `sent` only by sending.
        let e = core
            .create_record(
                &manager(),
                &OFFERS,
                "bad",
                offer_values(&[("valid_from", date(2026, 2, 1))]),
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("valid_until"), "{e}");
        let e = core
            .create_record(
                &manager(),
                &OFFERS,
                "bad",
                offer_values(&[("text_fi", Value::Null), ("text_en", Value::Null)]),
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("text_fi"), "{e}");
        let e = core
            .create_record(
                &manager(),
                &OFFERS,
                "bad",
                offer_values(&[("status", text("sent"))]),
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("by sending"), "{e}");
        // An audience without customers is said so.
        core.create_record(
            &manager(),
            &OFFERS,
            "empty",
            offer_values(&[
                ("audience", text("segment")),
                ("audience_value", text("nobody")),
            ]),
        )
        .await
        .unwrap();
        let e = core
            .send_offer(&manager(), "empty", None)
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("no customers match segment 'nobody'"),
            "{e}"
        );
        let _ = Duration::days(1);
    })
    .await;
}
