//! The small-claim rule, as the people using it see it: a staff member's small claim
//! approved at once, a large one waiting for a manager, decisions with reasons in the
//! audit log, payment once, the repeat-claim view that informs without blocking, and
//! the rule's effect in figures. Both backends.

use chrono::{Duration, Utc};
use kanta_core::Core;
use kanta_core::CoreError;
use kanta_core::actor::{Acting, Channel};
use kanta_core::claims::{AT_ONCE, ClaimRules, NewClaim, WAITS};
use kanta_core::settings::{parse_repeat_claims, parse_small_claim_limit};
use kanta_domain::schema::{CASES, CLAIMS, CUSTOMERS, TRANSACTIONS};
use kanta_domain::{Currency, Value, WriteBatch};
use kanta_store::accounts::Role;

use crate::support::{all_fields, audit_log, each_core, fields, text};

fn staff() -> Acting {
    Acting::user(2, "sari.staff@cafe.example", Role::Staff, Channel::Ui)
}

fn manager() -> Acting {
    Acting::user(3, "maija.manager@cafe.example", Role::Manager, Channel::Ui)
}

fn viewer() -> Acting {
    Acting::user(4, "ville.viewer@cafe.example", Role::Viewer, Channel::Ui)
}

fn eur(minor: i64) -> NewClaim {
    NewClaim {
        amount_minor: minor,
        currency: Currency::EUR,
        kind: "refund".into(),
    }
}

/// Customers `c0..cN` and one case each, `k0..kN`, opened a few days ago.
async fn customers_with_cases(core: &Core, n: usize) {
    let cli = Acting::cli();
    let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
    for i in 0..n {
        c.push(format!("c{i}"), [text(&format!("Asiakas {i}"))]);
    }
    core.write_batch(&cli, c).await.unwrap();
    let opened = Value::Time(Utc::now() - Duration::days(3));
    let mut k = WriteBatch::new(
        &CASES,
        fields(&CASES, &["customer_id", "opened_at", "category"]),
    );
    for i in 0..n {
        k.push(
            format!("k{i}"),
            [text(&format!("c{i}")), opened.clone(), text("quality")],
        );
    }
    core.write_batch(&cli, k).await.unwrap();
}

fn forbidden<T: std::fmt::Debug>(r: Result<T, CoreError>, what: &str) {
    match r {
        Err(CoreError::Forbidden(_)) => {}
        other => panic!("{what}: expected Forbidden, got {other:?}"),
    }
}

fn invalid_field<T: std::fmt::Debug>(r: Result<T, CoreError>, field: &str) -> String {
    match r {
        Err(CoreError::Invalid(p)) => {
            assert_eq!(p[0].field, field, "{p:?}");
            p[0].reason.clone()
        }
        other => panic!("expected a problem with {field}, got {other:?}"),
    }
}

fn conflict<T: std::fmt::Debug>(r: Result<T, CoreError>) -> String {
    match r {
        Err(e @ CoreError::Conflict { .. }) => e.to_string(),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn a_small_claim_is_approved_at_once_and_a_large_one_waits_for_a_manager() {
    each_core(|backend, core| async move {
        customers_with_cases(&core, 1).await;

        // 30 € by a staff member: approved at once, nothing asked.
        let small = core.add_claim(&staff(), "k0", eur(3000)).await.unwrap();
        assert_eq!(small.status, "approved", "{backend}");
        assert!(small.auto_approved, "{backend}");
        assert_eq!(small.decided_at, Some(small.claimed_at), "{backend}");
        assert_eq!(small.decided_by.as_deref(), Some("sari.staff@cafe.example"));
        assert_eq!(small.claimed_by.as_deref(), Some("sari.staff@cafe.example"));
        assert_eq!(small.customer_id.as_deref(), Some("c0"), "{backend}");
        assert_eq!(small.decision_reason, None);
        // Up to and including the limit.
        let at_limit = core.add_claim(&staff(), "k0", eur(5000)).await.unwrap();
        assert!(
            at_limit.auto_approved,
            "{backend}: 50,00 is within the limit"
        );

        // 120 €: waits on the managers' queue.
        let large = core.add_claim(&staff(), "k0", eur(12000)).await.unwrap();
        assert_eq!(large.status, "pending", "{backend}");
        assert!(!large.auto_approved);
        assert_eq!(large.decided_by, None);
        let queue = core.pending_claims(&manager(), None, 50).await.unwrap();
        let ids: Vec<&str> = queue.rows.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, [large.id.as_str()], "{backend}");
        assert_eq!(queue.rows[0].customer_name.as_deref(), Some("Asiakas 0"));

        // A staff member cannot decide it; a manager must give a reason.
        forbidden(
            core.decide_claim(&staff(), &large.id, true, "fine".into())
                .await,
            "staff deciding",
        );
        let reason = invalid_field(
            core.decide_claim(&manager(), &large.id, true, "  ".into())
                .await,
            "reason",
        );
        assert!(reason.contains("reason is required"), "{reason}");
        let approved = core
            .decide_claim(
                &manager(),
                &large.id,
                true,
                "Broken grinder, receipt seen".into(),
            )
            .await
            .unwrap();
        assert_eq!(approved.status, "approved");
        assert!(!approved.auto_approved);
        assert_eq!(
            approved.decided_by.as_deref(),
            Some("maija.manager@cafe.example")
        );
        assert_eq!(
            approved.decision_reason.as_deref(),
            Some("Broken grinder, receipt seen")
        );
        assert!(approved.decided_at.is_some());
        let again = conflict(
            core.decide_claim(&manager(), &large.id, false, "changed my mind".into())
                .await,
        );
        assert!(again.contains("only pending claims"), "{again}");
        assert!(
            core.pending_claims(&manager(), None, 50)
                .await
                .unwrap()
                .rows
                .is_empty()
        );

        // Both decisions are in the audit log, with the users' names.
        let log = audit_log(core.store()).await;
        let of = |id: &str, action: &str| {
            log.iter()
                .find(|r| {
                    r.entry.entity == "claims"
                        && r.entry.record_id.as_deref() == Some(id)
                        && r.entry.action == action
                })
                .unwrap_or_else(|| panic!("{backend}: no {action} of {id} in {log:#?}"))
                .entry
                .clone()
        };
        let e = of(&small.id, "create");
        assert_eq!(e.actor_name, "sari.staff@cafe.example");
        assert_eq!(e.details["decision"], AT_ONCE);
        let e = of(&large.id, "create");
        assert_eq!(e.details["decision"], WAITS);
        let e = of(&large.id, "approve");
        assert_eq!(e.actor_name, "maija.manager@cafe.example");
        assert_eq!(e.details["reason"], "Broken grinder, receipt seen");
        assert_eq!(e.changes["status"]["before"], "pending");
        assert_eq!(e.changes["status"]["after"], "approved");

        // The case's claims, for its page, and each step on its timeline.
        let of_case = core.claims_of_case(&viewer(), "k0").await.unwrap();
        assert_eq!(of_case.len(), 3, "{backend}");
        let detail = core.case_detail(&viewer(), "k0").await.unwrap();
        assert_eq!(detail.claims.len(), 3);
        let steps: Vec<(&str, &str)> = detail
            .events
            .iter()
            .filter(|e| e.kind.starts_with("claim"))
            .map(|e| (e.kind.as_str(), e.actor.as_str()))
            .collect();
        let sari = "sari.staff@cafe.example";
        let maija = "maija.manager@cafe.example";
        assert_eq!(
            steps,
            [
                ("claim", sari),
                ("claim_approved", sari),
                ("claim", sari),
                ("claim_approved", sari),
                ("claim", sari),
                ("claim_approved", maija),
            ],
            "{backend}"
        );
    })
    .await;
}

#[tokio::test]
async fn refusing_needs_a_reason_and_only_approved_claims_are_paid_once() {
    each_core(|backend, core| async move {
        customers_with_cases(&core, 1).await;
        let large = core.add_claim(&staff(), "k0", eur(20000)).await.unwrap();
        invalid_field(
            core.decide_claim(&manager(), &large.id, false, String::new())
                .await,
            "reason",
        );
        let refused = core
            .decide_claim(&manager(), &large.id, false, "Bought elsewhere".into())
            .await
            .unwrap();
        assert_eq!(refused.status, "refused", "{backend}");
        let why = conflict(core.pay_claim(&staff(), &large.id).await);
        assert!(why.contains("only approved claims are paid"), "{why}");

        let small = core.add_claim(&staff(), "k0", eur(1250)).await.unwrap();
        let paid = core.pay_claim(&staff(), &small.id).await.unwrap();
        assert!(paid.paid_at.is_some(), "{backend}");
        assert_eq!(paid.paid_by.as_deref(), Some("sari.staff@cafe.example"));
        let twice = conflict(core.pay_claim(&manager(), &small.id).await);
        assert!(twice.contains("paid already"), "{twice}");

        let log = audit_log(core.store()).await;
        assert!(log.iter().any(|r| r.entry.action == "refuse"
            && r.entry.details["reason"] == "Bought elsewhere"
            && r.entry.actor_name == "maija.manager@cafe.example"));
        assert_eq!(
            log.iter().filter(|r| r.entry.action == "pay").count(),
            1,
            "{backend}"
        );

        // Unknown claims and cases, bad amounts and kinds, named.
        assert!(matches!(
            core.pay_claim(&staff(), "nope").await,
            Err(CoreError::NotFound(_))
        ));
        assert!(matches!(
            core.add_claim(&staff(), "no-case", eur(100)).await,
            Err(CoreError::NotFound(_))
        ));
        invalid_field(core.add_claim(&staff(), "k0", eur(0)).await, "amount");
        invalid_field(core.add_claim(&staff(), "k0", eur(-500)).await, "amount");
        invalid_field(
            core.add_claim(&staff(), "k0", eur(kanta_domain::money::MAX_MINOR + 1))
                .await,
            "amount",
        );
        let kind = invalid_field(
            core.add_claim(
                &staff(),
                "k0",
                NewClaim {
                    kind: "cash".into(),
                    ..eur(100)
                },
            )
            .await,
            "kind",
        );
        assert!(
            kind.contains("refund, replacement, voucher, other"),
            "{kind}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_claim_in_another_currency_waits_and_the_limit_is_a_setting() {
    each_core(|backend, core| async move {
        customers_with_cases(&core, 1).await;
        let sek = core
            .add_claim(
                &staff(),
                "k0",
                NewClaim {
                    amount_minor: 1000,
                    currency: "SEK".parse().unwrap(),
                    kind: "voucher".into(),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            sek.status, "pending",
            "{backend}: not in the limit's currency"
        );
        assert_eq!(sek.currency, "SEK");

        core.set_store_setting(&manager(), "small_claim_limit", "100,00 €")
            .await
            .unwrap();
        let rules = core.rules().await.unwrap().claims;
        assert_eq!(rules.limit_minor, 10000, "{backend}");
        let c = core.add_claim(&staff(), "k0", eur(9000)).await.unwrap();
        assert!(c.auto_approved, "{backend}: within the new limit");
        let c = core.add_claim(&staff(), "k0", eur(10001)).await.unwrap();
        assert_eq!(c.status, "pending");
    })
    .await;
}

#[test]
fn limits_and_flags_read_as_users_type_them() {
    for (typed, stored) in [
        ("50", "50.00"),
        ("50,00", "50.00"),
        ("50.00 €", "50.00"),
        ("EUR 75,5", "75.50"),
        ("0", "0.00"),
    ] {
        assert_eq!(
            parse_small_claim_limit(typed).as_deref(),
            Ok(stored),
            "{typed}"
        );
    }
    assert!(
        parse_small_claim_limit("-5")
            .unwrap_err()
            .contains("below zero")
    );
    assert!(
        parse_small_claim_limit("lots")
            .unwrap_err()
            .contains("not an amount")
    );
    // Typed strictly, as a claim: 12,505 is not silently 12,51; no exponent; bounded.
    let e = parse_small_claim_limit("12,505").unwrap_err();
    assert!(e.contains("at most 2 decimals"), "{e}");
    let e = parse_small_claim_limit("1e5").unwrap_err();
    assert!(e.contains("exponent"), "{e}");
    let e = parse_small_claim_limit("99999999999999999999").unwrap_err();
    assert!(e.contains("too large: at most 100,000,000,000.00"), "{e}");
    assert_eq!(parse_repeat_claims("3").as_deref(), Ok("3"));
    assert_eq!(parse_repeat_claims(" 4 korvausta").as_deref(), Ok("4"));
    assert!(parse_repeat_claims("0").is_err());
    assert!(parse_repeat_claims("many").is_err());
    let d = ClaimRules::default();
    assert_eq!((d.limit_minor, d.repeat_claims), (5000, 3));
}

#[tokio::test]
async fn repeat_claimants_are_flagged_and_still_get_small_claims_at_once() {
    each_core(|backend, core| async move {
        customers_with_cases(&core, 3).await;
        // c0 buys for 400 €; claims three times; c1 once; c2 never.
        let mut t = WriteBatch::new(
            &TRANSACTIONS,
            fields(
                &TRANSACTIONS,
                &["customer_id", "occurred_at", "amount", "currency"],
            ),
        );
        t.push(
            "o1".into(),
            [
                text("c0"),
                Value::Time(Utc::now() - Duration::days(30)),
                Value::Int(40000),
                text("EUR"),
            ],
        );
        core.write_batch(&Acting::cli(), t).await.unwrap();
        let mut last = None;
        for amount in [1000, 2000, 15000] {
            last = Some(core.add_claim(&staff(), "k0", eur(amount)).await.unwrap());
        }
        core.add_claim(&staff(), "k1", eur(4000)).await.unwrap();
        // The 150 € claim is refused: it counts, but its sum was never granted.
        core.decide_claim(&manager(), &last.unwrap().id, false, "no receipt".into())
            .await
            .unwrap();

        // Every signed-in role reads it (the viewer too); it changes nothing.
        for who in [staff(), viewer()] {
            let r = core
                .repeat_claimants(&who, Utc::now() + Duration::minutes(1))
                .await
                .unwrap();
            assert_eq!(r.total_claims, 4, "{backend}");
        }
        let r = core
            .repeat_claimants(&manager(), Utc::now() + Duration::minutes(1))
            .await
            .unwrap();
        assert_eq!(
            (r.flag_at, r.total_claims, r.total_minor),
            (3, 4, 22000),
            "{backend}"
        );
        assert_eq!(r.currency, "EUR");
        assert_eq!(r.total_approved_minor, 7000, "{backend}: 10 + 20 + 40 €");
        let approved: Vec<i64> = r.rows.iter().map(|x| x.approved_minor).collect();
        assert_eq!(approved, [3000, 4000], "{backend}");
        let rows: Vec<(&str, u64, i64, bool)> = r
            .rows
            .iter()
            .map(|x| (x.customer_id.as_str(), x.claims, x.sum_minor, x.flagged))
            .collect();
        assert_eq!(
            rows,
            [("c0", 3, 18000, true), ("c1", 1, 4000, false)],
            "{backend}"
        );
        assert!((r.rows[0].share_of_claims - 0.75).abs() < 1e-9);
        assert!((r.rows[0].share_of_sum - 18000.0 / 22000.0).abs() < 1e-9);
        assert_eq!(r.rows[0].revenue_minor, 40000, "{backend}");
        assert_eq!(r.rows[0].name.as_deref(), Some("Asiakas 0"));

        // A year later the window is empty.
        let later = core
            .repeat_claimants(&manager(), Utc::now() + Duration::days(400))
            .await
            .unwrap();
        assert_eq!(later.total_claims, 0);
        assert!(later.rows.is_empty());

        // It informs, never blocks: the flagged customer's next small claim is
        // approved at once.
        let next = core.add_claim(&staff(), "k0", eur(2500)).await.unwrap();
        assert_eq!(next.status, "approved", "{backend}");
        assert!(next.auto_approved);
    })
    .await;
}

#[tokio::test]
async fn the_effect_of_the_rule_in_figures() {
    each_core(|backend, core| async move {
        customers_with_cases(&core, 2).await;
        for amount in [1000, 3000, 4500] {
            core.add_claim(&staff(), "k0", eur(amount)).await.unwrap();
        }
        let a = core.add_claim(&staff(), "k1", eur(9000)).await.unwrap();
        let r = core.add_claim(&staff(), "k1", eur(30000)).await.unwrap();
        core.add_claim(&staff(), "k1", eur(7000)).await.unwrap();
        core.decide_claim(&manager(), &a.id, true, "ok".into())
            .await
            .unwrap();
        core.decide_claim(&manager(), &r.id, false, "no".into())
            .await
            .unwrap();
        let e = core.small_claim_effect(&viewer(), 12).await.unwrap();
        assert_eq!(
            (e.limit_minor, e.approved_at_once, e.approved_at_once_minor),
            (5000, 3, 8500),
            "{backend}"
        );
        assert_eq!(
            (e.large, e.large_approved, e.large_refused, e.pending),
            (3, 1, 1, 1),
            "{backend}"
        );
        assert_eq!(e.median_hours_small, Some(0.0), "{backend}: at once");
        let large = e.median_hours_large.expect("two decided");
        assert!((0.0..0.1).contains(&large), "{backend}: {large}");
    })
    .await;
}

#[tokio::test]
async fn the_viewer_changes_nothing() {
    each_core(|backend, core| async move {
        customers_with_cases(&core, 1).await;
        let pending = core.add_claim(&staff(), "k0", eur(9000)).await.unwrap();
        let small = core.add_claim(&staff(), "k0", eur(900)).await.unwrap();
        forbidden(core.add_claim(&viewer(), "k0", eur(100)).await, "add");
        forbidden(
            core.decide_claim(&viewer(), &pending.id, true, "x".into())
                .await,
            "decide",
        );
        forbidden(core.pay_claim(&viewer(), &small.id).await, "pay");
        // Reading is fine: the repeat claimants too.
        assert_eq!(
            core.repeat_claimants(&viewer(), Utc::now() + Duration::minutes(1))
                .await
                .unwrap()
                .total_claims,
            2,
            "{backend}"
        );
        assert_eq!(
            core.pending_claims(&viewer(), None, 10)
                .await
                .unwrap()
                .rows
                .len(),
            1,
            "{backend}"
        );
        assert_eq!(
            core.claim(&viewer(), &small.id).await.unwrap().paid_at,
            None
        );
    })
    .await;
}

#[tokio::test]
async fn the_approval_queue_pages_oldest_first() {
    each_core(|backend, core| async move {
        customers_with_cases(&core, 1).await;
        let mut ids = Vec::new();
        for i in 0..7 {
            ids.push(
                core.add_claim(&staff(), "k0", eur(6000 + i))
                    .await
                    .unwrap()
                    .id,
            );
        }
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = core.pending_claims(&manager(), after, 3).await.unwrap();
            seen.extend(page.rows.into_iter().map(|c| c.id));
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, ids, "{backend}");
        invalid_field(
            core.pending_claims(&manager(), Some("garbage".into()), 3)
                .await,
            "after",
        );
    })
    .await;
}

#[tokio::test]
async fn imported_claims_get_their_derived_columns() {
    each_core(|backend, core| async move {
        customers_with_cases(&core, 2).await;
        let claimed = Value::Time(Utc::now() - Duration::days(2));
        let mut b = WriteBatch::new(
            &CLAIMS,
            fields(
                &CLAIMS,
                &[
                    "case_id",
                    "claimed_at",
                    "amount",
                    "currency",
                    "kind",
                    "status",
                ],
            ),
        );
        b.push(
            "imp-small".into(),
            [
                text("k0"),
                claimed.clone(),
                Value::Int(2000),
                text("EUR"),
                text("refund"),
                text("approved"),
            ],
        );
        b.push(
            "imp-large".into(),
            [
                text("k1"),
                claimed.clone(),
                Value::Int(9000),
                text("EUR"),
                text("refund"),
                text("approved"),
            ],
        );
        b.push(
            "imp-pending".into(),
            [
                text("k1"),
                claimed,
                Value::Int(9000),
                Value::Null,
                text("voucher"),
                text("pending"),
            ],
        );
        let importer = Acting::import("claims.csv");
        core.write_batch(&importer, b).await.unwrap();

        let small = core.claim(&viewer(), "imp-small").await.unwrap();
        assert_eq!(small.customer_id.as_deref(), Some("c0"), "{backend}");
        assert_eq!(small.claimed_by.as_deref(), Some("claims.csv"));
        assert!(
            small.auto_approved,
            "{backend}: approved, small, no decider"
        );
        let large = core.claim(&viewer(), "imp-large").await.unwrap();
        assert_eq!(large.customer_id.as_deref(), Some("c1"));
        assert!(!large.auto_approved);
        let pending = core.claim(&viewer(), "imp-pending").await.unwrap();
        assert_eq!(pending.currency, "EUR", "no currency: the store's");
        let queue = core.pending_claims(&manager(), None, 10).await.unwrap();
        assert_eq!(queue.rows.len(), 1);
        assert_eq!(queue.rows[0].customer_id.as_deref(), Some("c1"));

        // The generic API's create goes through the same hook.
        let rec = core
            .create_record(
                &Acting::token(9, "web shop", Role::Staff),
                &CLAIMS,
                "api-1",
                all_fields(
                    &CLAIMS,
                    &[
                        ("case_id", text("k0")),
                        ("claimed_at", Value::Time(Utc::now() - Duration::hours(1))),
                        ("amount", Value::Int(100)),
                        ("status", text("approved")),
                        ("kind", text("refund")),
                    ],
                ),
            )
            .await
            .unwrap();
        assert_eq!(rec.external_id, "api-1");
        let api = core.claim(&viewer(), "api-1").await.unwrap();
        assert_eq!(api.claimed_by.as_deref(), Some("web shop"), "{backend}");
        assert_eq!(api.customer_id.as_deref(), Some("c0"));
        assert!(api.auto_approved);

        // A staff member cannot decide a large claim past the queue either.
        let shop = Acting::token(9, "web shop", Role::Staff);
        forbidden(
            core.create_record(
                &shop,
                &CLAIMS,
                "api-2",
                all_fields(
                    &CLAIMS,
                    &[
                        ("case_id", text("k0")),
                        ("claimed_at", Value::Time(Utc::now() - Duration::hours(1))),
                        ("amount", Value::Int(9000)),
                        ("status", text("approved")),
                        ("kind", text("refund")),
                    ],
                ),
            )
            .await,
            "staff writing an approved large claim",
        );
        forbidden(
            core.update_record(
                &shop,
                &CLAIMS,
                "imp-pending",
                fields(&CLAIMS, &["status"]),
                vec![text("refused")],
            )
            .await,
            "staff refusing through the generic write",
        );
        assert_eq!(
            core.claim(&viewer(), "imp-pending").await.unwrap().status,
            "pending",
            "{backend}: nothing written"
        );
    })
    .await;
}

/// Timings at the scale (100,000 customers, 300,000 cases, a claim on each, one
/// in ten pending): the import with its hook, a page of the approval queue, the
/// repeat-claim view, the effect. Run with `--ignored --nocapture`.
#[tokio::test]
#[ignore = "a benchmark: minutes on a busy machine"]
async fn bench_claims_at_300_000_cases() {
    each_core(|backend, core| async move {
        let cli = Acting::cli();
        let n = 300_000usize;
        let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
        for i in 0..100_000 {
            c.push(format!("c{i}"), [text(&format!("Asiakas {i}"))]);
        }
        core.write_batch(&cli, c).await.unwrap();
        let opened = Value::Time(Utc::now() - Duration::days(3));
        let mut k = WriteBatch::new(
            &CASES,
            fields(&CASES, &["customer_id", "opened_at", "category"]),
        );
        for i in 0..n {
            k.push(
                format!("k{i}"),
                [
                    text(&format!("c{}", i % 100_000)),
                    opened.clone(),
                    text("quality"),
                ],
            );
        }
        let s = std::time::Instant::now();
        core.write_batch(&cli, k).await.unwrap();
        eprintln!("{backend}: cases {:?}", s.elapsed());
        let mut b = WriteBatch::new(
            &CLAIMS,
            fields(
                &CLAIMS,
                &[
                    "case_id",
                    "claimed_at",
                    "amount",
                    "currency",
                    "kind",
                    "status",
                ],
            ),
        );
        for i in 0..n {
            b.push(
                format!("cl{i}"),
                [
                    text(&format!("k{i}")),
                    opened.clone(),
                    Value::Int(1000 + (i as i64 % 20000)),
                    text("EUR"),
                    text("refund"),
                    text(if i % 10 == 0 { "pending" } else { "approved" }),
                ],
            );
        }
        let s = std::time::Instant::now();
        core.write_batch(&cli, b).await.unwrap();
        eprintln!("{backend}: claims {:?}", s.elapsed());
        let s = std::time::Instant::now();
        let p = core.pending_claims(&manager(), None, 50).await.unwrap();
        eprintln!("{backend}: queue page {:?} {}", s.elapsed(), p.rows.len());
        let s = std::time::Instant::now();
        let r = core.repeat_claimants(&manager(), Utc::now()).await.unwrap();
        eprintln!("{backend}: repeat {:?} {}", s.elapsed(), r.total_claims);
        let s = std::time::Instant::now();
        let e = core.small_claim_effect(&manager(), 12).await.unwrap();
        eprintln!("{backend}: effect {:?} {}", s.elapsed(), e.approved_at_once);
        let one = core.claim(&manager(), "cl5").await.unwrap();
        assert_eq!(one.customer_id.as_deref(), Some("c5"));
    })
    .await;
}

/// Users `Sari Staff` (staff) and `Maija Manager` (manager) in the store, acting as
/// themselves.
async fn named_users(core: &Core) -> (Acting, Acting) {
    let audit = Acting::cli().audit("users", None, "create");
    let mut out = Vec::new();
    for (email, name, role) in [
        ("sari.staff@cafe.example", "Sari Staff", Role::Staff),
        ("maija.manager@cafe.example", "Maija Manager", Role::Manager),
    ] {
        let u = core
            .store()
            .create_user(
                &kanta_store::accounts::NewUser {
                    email,
                    name,
                    role,
                    password_hash: "x",
                },
                &audit,
            )
            .await
            .unwrap();
        out.push(Acting::user(u.id, email, role, Channel::Ui));
    }
    let manager = out.pop().unwrap();
    (out.pop().unwrap(), manager)
}

#[tokio::test]
async fn decisions_name_the_users_and_the_audit_log_shows_name_and_email() {
    each_core(|backend, core| async move {
        customers_with_cases(&core, 1).await;
        let (sari, maija) = named_users(&core).await;
        let small = core.add_claim(&sari, "k0", eur(3000)).await.unwrap();
        assert_eq!(small.claimed_by.as_deref(), Some("Sari Staff"), "{backend}");
        assert_eq!(small.decided_by.as_deref(), Some("Sari Staff"));
        let large = core.add_claim(&sari, "k0", eur(12000)).await.unwrap();
        let approved = core
            .decide_claim(&maija, &large.id, true, "receipt seen".into())
            .await
            .unwrap();
        assert_eq!(approved.decided_by.as_deref(), Some("Maija Manager"));
        let paid = core.pay_claim(&sari, &large.id).await.unwrap();
        assert_eq!(paid.paid_by.as_deref(), Some("Sari Staff"), "{backend}");
        // The case's timeline names them too.
        let detail = core.case_detail(&sari, "k0").await.unwrap();
        let steps: Vec<(&str, &str)> = detail
            .events
            .iter()
            .filter(|e| e.kind.starts_with("claim"))
            .map(|e| (e.kind.as_str(), e.actor.as_str()))
            .collect();
        assert_eq!(
            steps,
            [
                ("claim", "Sari Staff"),
                ("claim_approved", "Sari Staff"),
                ("claim", "Sari Staff"),
                ("claim_approved", "Maija Manager"),
                ("claim_paid", "Sari Staff"),
            ],
            "{backend}"
        );
        // Both decisions are in the audit log with the users' names (one look-up for
        // the page).
        let log = audit_log(core.store()).await;
        let labels = core.audit_user_labels(&log).await.unwrap();
        let who = |id: &str, action: &str| {
            let e = &log
                .iter()
                .find(|r| r.entry.record_id.as_deref() == Some(id) && r.entry.action == action)
                .unwrap_or_else(|| panic!("{backend}: no {action} of {id}"))
                .entry;
            labels[e.actor_id.as_deref().unwrap()].clone()
        };
        assert_eq!(
            who(&small.id, "create"),
            "Sari Staff (sari.staff@cafe.example)"
        );
        assert_eq!(
            who(&large.id, "approve"),
            "Maija Manager (maija.manager@cafe.example)"
        );
    })
    .await;
}

#[test]
fn actors_that_are_not_users_are_never_unknown() {
    use kanta_core::Actor;
    use kanta_core::cases::actor_word;
    let as_actor = |actor: Actor| Acting {
        actor,
        channel: Channel::Cli,
        ip: None,
    };
    let demo = as_actor(Actor::Cli {
        os_user: "unknown".into(),
    });
    assert_eq!(actor_word(&demo, false), "import");
    assert_eq!(actor_word(&demo, true), "tuonti");
    let file = as_actor(Actor::Import {
        file: "/home/me/cases.csv".into(),
        os_user: "unknown".into(),
    });
    assert_eq!(actor_word(&file, true), "cases.csv");
    let sla = as_actor(Actor::Job {
        kind: kanta_core::cases::SLA_JOB.into(),
    });
    assert_eq!(actor_word(&sla, false), "SLA check");
    assert_eq!(actor_word(&sla, true), "SLA-tarkistus");
}

#[tokio::test]
async fn a_closed_case_takes_no_claim_until_it_is_reopened() {
    each_core(|backend, core| async move {
        customers_with_cases(&core, 1).await;
        core.resolve_case(
            &staff(),
            "k0",
            kanta_core::cases::Resolution {
                resolution: "replaced the grinder".into(),
                apology: true,
                fixed_in_presence: false,
                our_fault: None,
                note: None,
            },
        )
        .await
        .unwrap();
        // Resolved: a claim still comes (the compensation often follows the fix).
        core.add_claim(&staff(), "k0", eur(1000)).await.unwrap();
        core.case_transition(&staff(), "k0", "closed", None)
            .await
            .unwrap();
        match core.add_claim(&staff(), "k0", eur(1000)).await {
            Err(CoreError::Conflict {
                field: Some(f),
                message,
            }) => {
                assert_eq!(f, "case_id", "{backend}");
                assert!(message.contains("reopen the case first"), "{message}");
            }
            other => panic!("{backend}: expected a conflict, got {other:?}"),
        }
        assert_eq!(core.claims_of_case(&viewer(), "k0").await.unwrap().len(), 1);
        core.case_transition(&staff(), "k0", "open", None)
            .await
            .unwrap();
        core.add_claim(&staff(), "k0", eur(1000)).await.unwrap();
        assert_eq!(core.claims_of_case(&viewer(), "k0").await.unwrap().len(), 2);
    })
    .await;
}
