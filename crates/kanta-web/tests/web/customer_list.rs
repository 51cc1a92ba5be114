//! The customer list and a subscriber's figures as a user meets them: the plan, MRR,
//! next renewal and a revenue that counts what the subscription billed, on the list,
//! the customer page and the API; the accounts in trust deficit one click away; a
//! search for `%` that finds only the customer named with it; bad filter values
//! refused by name, on the page (400, in the user's language) and in the API; the API
//! list sorted by derived figures with keyset paging.

use chrono::{Months, Utc};
use kanta_core::Acting;
use kanta_domain::schema::{CUSTOMERS, SUBSCRIPTIONS, TRUST_LEDGER};
use kanta_domain::{Value, WriteBatch};
use kanta_store::accounts::Role;
use kanta_store::testing::BACKENDS;

use crate::{App, api_as, page_as, spawn_app};

fn fields(e: &'static kanta_domain::Entity, n: &[&str]) -> Vec<&'static kanta_domain::Field> {
    n.iter().map(|n| e.field(n).unwrap()).collect()
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

/// A subscriber (monthly Pro since two months, 99,00 €), a customer in trust deficit,
/// one with a `%` in the name and one with a 120-character unbroken name.
async fn seed(app: &App) {
    let cli = Acting::cli();
    let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name", "kind"]));
    let long = "X".repeat(120);
    for (id, name, kind) in [
        ("sub1", "Tilaaja Oy", "company"),
        ("debt", "Velallinen", "person"),
        ("pct", "Sata % Kahvi", "person"),
        ("long", long.as_str(), "person"),
    ] {
        c.push(id.into(), [text(name), text(kind)]);
    }
    app.core.write_batch(&cli, c).await.unwrap();
    let start = Utc::now()
        .date_naive()
        .checked_sub_months(Months::new(2))
        .unwrap();
    let mut s = WriteBatch::new(
        &SUBSCRIPTIONS,
        fields(
            &SUBSCRIPTIONS,
            &[
                "customer_id",
                "plan",
                "amount",
                "currency",
                "period",
                "started_on",
            ],
        ),
    );
    s.push(
        "s1".into(),
        [
            text("sub1"),
            text("Pro"),
            Value::Int(9_900),
            text("EUR"),
            text("month"),
            Value::Date(start),
        ],
    );
    app.core.write_batch(&cli, s).await.unwrap();
    let mut t = WriteBatch::new(
        &TRUST_LEDGER,
        fields(
            &TRUST_LEDGER,
            &["customer_id", "occurred_at", "delta", "reason"],
        ),
    );
    t.push(
        "tr1".into(),
        [
            text("debt"),
            Value::Time(Utc::now() - chrono::Duration::days(3)),
            Value::Int(-4),
            text("late delivery"),
        ],
    );
    app.core.write_batch(&cli, t).await.unwrap();
}

#[tokio::test]
async fn subscribers_show_plan_mrr_renewal_and_revenue_everywhere() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        seed(&app).await;
        // The list: the plan and the MRR in the row, revenue = 3 billed months.
        let a = page_as(&app, Role::Viewer, "/customers?kind=company", &[]).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert!(a.body.contains("Tilaaja Oy"), "{backend}");
        assert!(a.body.contains("<b>Pro</b>"), "{backend}: plan in the row");
        assert!(
            a.body.contains("99.00") || a.body.contains("99,00"),
            "{backend}: MRR"
        );
        assert!(
            a.body.contains("297.00") || a.body.contains("297,00"),
            "{backend}: revenue counts three billed months"
        );
        // The customer page: the subscription block.
        let a = page_as(
            &app,
            Role::Viewer,
            "/customers/sub1",
            &["Accept-Language: en".into()],
        )
        .await;
        assert_eq!(a.status, 200, "{backend}");
        for want in [
            "Recurring revenue per month (MRR)",
            "Next renewal",
            "Subscription revenue to date",
            "Pro",
        ] {
            assert!(
                a.body.contains(want),
                "{backend}: {want} on the customer page"
            );
        }
        // The API: the customer's figures with their parts, and MRR.
        let a = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/customers/sub1",
            None,
        )
        .await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        let j = a.json();
        let f = &j["figures"];
        assert_eq!(f["mrr_minor"], 9_900, "{backend}: {j}");
        assert_eq!(f["subscription_revenue_minor"], 3 * 9_900);
        assert_eq!(f["order_revenue_minor"], 0);
        assert_eq!(f["revenue_minor"], 3 * 9_900);
        assert_eq!(f["plan"], "Pro");
        assert!(f["next_renewal_on"].is_string(), "{j}");
        assert_eq!(f["recurring_revenue"]["mrr_minor"], 9_900);
        // The API's list items carry the same figures.
        let a = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/customers?kind=company",
            None,
        )
        .await;
        let j = a.json();
        assert_eq!(
            j["items"][0]["figures"]["mrr_minor"], 9_900,
            "{backend}: {j}"
        );
        app.store.close().await;
    }
}

#[tokio::test]
async fn the_list_filters_by_trust_in_one_click_and_searches_literally() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        seed(&app).await;
        let en = ["Accept-Language: en".to_string()];
        let a = page_as(&app, Role::Viewer, "/customers", &en).await;
        assert_eq!(a.status, 200);
        assert!(
            a.body
                .contains("href=\"/customers?trust=deficit&#38;sort=trust\""),
            "{backend}: the one-click link: {}",
            &a.body[a.body.find("quick-filters").unwrap_or(0)..][..300]
        );
        assert!(a.body.contains("Accounts in trust deficit"));
        let a = page_as(
            &app,
            Role::Viewer,
            "/customers?trust=deficit&sort=trust",
            &en,
        )
        .await;
        assert_eq!(a.status, 200);
        assert!(a.body.contains("Velallinen"), "{backend}");
        assert!(
            !a.body.contains("Tilaaja Oy"),
            "{backend}: only the deficit"
        );
        // `%` is a character: only the customer named with it.
        let a = page_as(&app, Role::Viewer, "/customers?search=%25", &en).await;
        assert_eq!(a.status, 200);
        assert!(a.body.contains("Sata % Kahvi"), "{backend}");
        assert!(
            !a.body.contains("Velallinen"),
            "{backend}: % is no wildcard"
        );
        assert!(!a.body.contains("Tilaaja Oy"), "{backend}");
        // The API's search alike.
        let a = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/customers?search=%25",
            None,
        )
        .await;
        let ids: Vec<String> = a.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, ["pct"], "{backend}");
        app.store.close().await;
    }
}

#[tokio::test]
async fn bad_filter_values_are_refused_by_name() {
    let app = spawn_app("sqlite").await;
    seed(&app).await;
    for (query, param) in [
        ("tier=Z", "tier"),
        ("status=sleeping", "status"),
        ("kind=robot", "kind"),
        ("sort=colour", "sort"),
        ("offset=-1", "offset"),
        ("trust=maybe", "trust"),
        ("p_alive_below=2", "p_alive_below"),
    ] {
        let a = page_as(
            &app,
            Role::Viewer,
            &format!("/customers?{query}"),
            &["Accept-Language: en".into()],
        )
        .await;
        assert_eq!(a.status, 400, "{query}: {}", a.body);
        assert!(
            a.header("content-type")
                .unwrap_or_default()
                .starts_with("text/html"),
            "{query}"
        );
        assert!(a.body.contains(param), "{query}: names the parameter");
        assert!(
            a.body
                .contains("filter or sort has a value it does not take"),
            "{query}: {}",
            a.body
        );
    }
    let a = page_as(
        &app,
        Role::Viewer,
        "/customers?tier=Z",
        &["Accept-Language: fi".into()],
    )
    .await;
    assert_eq!(a.status, 400);
    assert!(a.body.contains("A, B, C, D"), "the values it takes");
    assert!(
        a.body.contains("Sallitut arvot") || a.body.contains("Allowed"),
        "{}",
        a.body
    );
    // The API: problem+json naming the parameter and what it takes.
    for (query, param, takes) in [
        ("sort=colour", "sort", "trust_balance"),
        ("tier=Z", "tier", "A"),
        ("trust=maybe", "trust", "deficit, credit"),
    ] {
        let a = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            &format!("/api/v1/customers?{query}"),
            None,
        )
        .await;
        assert!(matches!(a.status, 400 | 422), "{query}: {}", a.body);
        let j = a.json();
        assert_eq!(j["field"], param, "{query}: {j}");
        assert!(
            j["detail"].as_str().unwrap().contains(takes),
            "{query}: {j}"
        );
    }
}

#[tokio::test]
async fn the_api_sorts_customers_by_figures_and_pages_them_once() {
    // PostgreSQL sorts by revenue through another table (`customer_sort_keys`).
    for backend in BACKENDS {
        the_api_sorts_and_pages_once_on(backend).await;
    }
}

async fn the_api_sorts_and_pages_once_on(backend: &str) {
    let app = spawn_app(backend).await;
    seed(&app).await;
    for sort in [
        "-trust_balance",
        "trust_balance",
        "-revenue",
        "revenue",
        "-mrr",
        "clv",
        "name",
    ] {
        let mut seen: Vec<String> = Vec::new();
        let mut revenues: Vec<i64> = Vec::new();
        let mut cursor = String::new();
        for _ in 0..20 {
            let a = api_as(
                &app,
                Some(Role::Viewer),
                "GET",
                &format!("/api/v1/customers?sort={sort}&limit=2&cursor={cursor}"),
                None,
            )
            .await;
            assert_eq!(a.status, 200, "{backend} {sort}: {}", a.body);
            let j = a.json();
            for c in j["items"].as_array().unwrap() {
                seen.push(c["id"].as_str().unwrap().to_string());
                let f = &c["figures"];
                revenues.push(
                    f["revenue_minor"].as_i64().unwrap()
                        + f["subscription_revenue_minor"].as_i64().unwrap(),
                );
            }
            match j["next_cursor"].as_str() {
                Some(c) => cursor = c.to_string(),
                None => break,
            }
        }
        let mut all = seen.clone();
        all.sort();
        all.dedup();
        assert_eq!(
            all.len(),
            seen.len(),
            "{backend} {sort}: no customer twice: {seen:?}"
        );
        assert_eq!(all.len(), 6, "{backend} {sort}: every customer: {seen:?}");
        if sort == "trust_balance" {
            assert_eq!(seen[0], "debt");
        }
        if sort == "-revenue" || sort == "-mrr" {
            assert_eq!(seen[0], "sub1", "{backend} {sort}: {seen:?}");
        }
        let mut ordered = revenues.clone();
        match sort {
            "revenue" => ordered.sort_unstable(),
            "-revenue" => ordered.sort_unstable_by(|a, b| b.cmp(a)),
            _ => {}
        }
        assert_eq!(revenues, ordered, "{backend} {sort}: {seen:?}");
    }
    app.store.close().await;
}

/// A model run as `kanta score` stores it after valuing subscribers: `sub1` (no
/// orders, monthly Pro fitted on its own) has only the subscription part; `pct` has
/// both parts; `debt` neither.
async fn save_subscriber_run(app: &App) {
    use kanta_store::scores::{CustomerScore, NewModelRun};
    let id_of = async |ext: &str| app.store.customer(ext).await.unwrap().unwrap().id;
    let subscriber = CustomerScore {
        customer_id: id_of("sub1").await,
        p_alive: 1.0,
        clv_12_minor: Some(95_000),
        clv_36_minor: Some(210_000),
        tier: 'A',
        renewal_probability: Some(0.8712),
        expected_remaining_periods: Some(14.256),
        subscription_clv_12_minor: Some(95_000),
        subscription_clv_36_minor: Some(210_000),
        ..Default::default()
    };
    let both = CustomerScore {
        customer_id: id_of("pct").await,
        repeat_purchases: 2,
        p_alive: 0.5,
        expected_purchases_30: 0.1234,
        expected_purchases_90: 0.3,
        expected_purchases_365: 1.0,
        expected_spend_minor: Some(500),
        clv_12_minor: Some(4_200),
        clv_36_minor: Some(9_000),
        tier: 'B',
        purchase_clv_12_minor: Some(1_200),
        purchase_clv_36_minor: Some(3_000),
        renewal_probability: Some(0.5),
        expected_remaining_periods: Some(2.0),
        subscription_clv_12_minor: Some(3_000),
        subscription_clv_36_minor: Some(6_000),
    };
    let run = NewModelRun {
        model: "bgnbd".into(),
        spend_model: Some("gg".into()),
        as_of: Utc::now().date_naive(),
        calibration_end: None,
        first_purchase_on: None,
        currency: Some("EUR".into()),
        details: serde_json::json!({"subscriptions": {"model": "sbg", "plans": [
            {"plan": "Pro", "period": "month", "pooled": false},
            {"plan": "Tiny", "period": "month", "pooled": true}
        ]}}),
        forecast: Vec::new(),
    };
    app.store
        .save_model_run(
            &run,
            &[
                subscriber,
                both,
                // Neither orders nor a running subscription: CLV 0, tier D.
                CustomerScore {
                    customer_id: id_of("debt").await,
                    clv_12_minor: Some(0),
                    clv_36_minor: Some(0),
                    tier: 'D',
                    ..Default::default()
                },
            ],
            &Acting::cli().audit("model_runs", None, "score"),
        )
        .await
        .unwrap();
}

/// The value card of a customer page.
fn value_card(body: &str) -> &str {
    body.split("id=\"value\"")
        .nth(1)
        .and_then(|s| s.split("</section>").next())
        .unwrap_or("")
}

#[tokio::test]
async fn a_subscriber_page_shows_renewal_probability_clv_parts_and_the_models() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        seed(&app).await;
        save_subscriber_run(&app).await;

        // A subscriber without orders: the renewal side, named by its plan's sBG fit,
        // and no purchase rows.
        let a = page_as(&app, Role::Viewer, "/customers/sub1?lang=en", &[]).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        let card = value_card(&a.body);
        for want in [
            "Renewal probability at the next renewal",
            "value=\"87\"",
            ">87%</b>",
            "Expected remaining periods (payments)</dt><dd>14.26</dd>",
            "Customer lifetime value, 12 months</dt><dd>€950.00</dd>",
            "Customer lifetime value, 36 months</dt><dd>€2,100.00</dd>",
            "Model sBG (plan Pro),",
        ] {
            assert!(card.contains(want), "{backend}: {want} missing:\n{card}");
        }
        for not in ["BG/NBD", "Expected purchases", "P alive", "purchases €"] {
            assert!(!card.contains(not), "{backend}: {not} shown:\n{card}");
        }
        let fi = page_as(&app, Role::Viewer, "/customers/sub1?lang=fi", &[]).await;
        let card = value_card(&fi.body);
        for want in [
            ">87\u{a0}%</b>",
            "Odotetut jäljellä olevat jaksot (maksut)</dt><dd>14,26</dd>",
            "Malli sBG (paketti Pro),",
        ] {
            assert!(card.contains(want), "{backend}: {want} missing:\n{card}");
        }

        // A customer with both parts: both models, the CLV's parts, and expected
        // purchases all with two decimals.
        let a = page_as(&app, Role::Viewer, "/customers/pct?lang=en", &[]).await;
        let card = value_card(&a.body);
        for want in [
            ">50%</b>",
            "Expected purchases, next 30 days</dt><dd>0.12</dd>",
            "Expected purchases, next 90 days</dt><dd>0.30</dd>",
            "Expected purchases, next 365 days</dt><dd>1.00</dd>",
            "€42.00<small class=\"parts\">purchases €12.00 + subscription €30.00</small>",
            "€90.00<small class=\"parts\">purchases €30.00 + subscription €60.00</small>",
            "Model BG/NBD + sBG,",
        ] {
            assert!(card.contains(want), "{backend}: {want} missing:\n{card}");
        }
        // Neither: no model named, no purchase rows.
        let a = page_as(&app, Role::Viewer, "/customers/debt?lang=en", &[]).await;
        let card = value_card(&a.body);
        assert!(
            card.contains("Model none (no orders and no running subscription: value 0),"),
            "{backend}: {card}"
        );
        for not in ["BG/NBD", "sBG", "Expected purchases", "P alive", "Renewal"] {
            assert!(!card.contains(not), "{backend}: {not} shown:\n{card}");
        }
        let fi = page_as(&app, Role::Viewer, "/customers/pct?lang=fi", &[]).await;
        let card = value_card(&fi.body);
        for want in [
            "Odotetut ostot, seuraavat 30 päivää</dt><dd>0,12</dd>",
            "Odotetut ostot, seuraavat 365 päivää</dt><dd>1,00</dd>",
            "ostot 12,00\u{a0}€ + tilaus 30,00\u{a0}€",
        ] {
            assert!(card.contains(want), "{backend}: {want} missing:\n{card}");
        }
    }
}

#[tokio::test]
async fn an_ended_account_shows_its_last_plan_and_when_it_ended() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let cli = Acting::cli();
        let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name", "kind"]));
        c.push("gone".into(), [text("Entinen Oy"), text("company")]);
        app.core.write_batch(&cli, c).await.unwrap();
        let mut s = WriteBatch::new(
            &SUBSCRIPTIONS,
            fields(
                &SUBSCRIPTIONS,
                &[
                    "customer_id",
                    "plan",
                    "amount",
                    "currency",
                    "started_on",
                    "ended_on",
                ],
            ),
        );
        let day = |y, m, d| Value::Date(chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap());
        for (id, plan, start, end) in [
            ("g1", "Basic", day(2023, 1, 1), day(2024, 1, 1)),
            ("g2", "Team", day(2024, 1, 1), day(2025, 3, 31)),
        ] {
            s.push(
                id.into(),
                [
                    text("gone"),
                    text(plan),
                    Value::Int(4_900),
                    text("EUR"),
                    start,
                    end,
                ],
            );
        }
        app.core.write_batch(&cli, s).await.unwrap();
        let a = page_as(&app, Role::Viewer, "/customers/gone?lang=en", &[]).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        let block = a
            .body
            .split("class=\"figures subscription\"")
            .nth(1)
            .and_then(|s| s.split("</section>").next())
            .unwrap_or("");
        assert!(
            block.contains("<b>Team</b> <small class=\"note\">(ended 2025-03-31)</small>"),
            "{backend}: the last plan and its end:\n{block}"
        );
        assert!(!block.contains("<b>–</b>"), "{backend}: {block}");
        let a = page_as(&app, Role::Viewer, "/customers/gone?lang=fi", &[]).await;
        assert!(
            a.body.contains("(päättyi 31.3.2025)"),
            "{backend}: in Finnish too"
        );
    }
}

#[tokio::test]
async fn the_language_switch_keeps_the_page_and_its_filters() {
    let app = spawn_app("sqlite").await;
    seed(&app).await;
    let switch = |body: &str| {
        body.split("class=\"lang\" href=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or("")
            .replace("&#38;", "&")
            .replace("&amp;", "&")
    };
    for (path, want) in [
        (
            "/customers?kind=company&sort=mrr&lang=en",
            "?kind=company&sort=mrr&lang=fi",
        ),
        ("/customers?lang=fi&kind=company", "?kind=company&lang=en"),
        (
            "/customers/sub1?show=cases&show=trust",
            "?show=cases&show=trust&lang=en",
        ),
        ("/customers/sub1?saved=note&lang=en", "?lang=fi"),
        ("/retention?kind=company&lang=en", "?kind=company&lang=fi"),
        // The language last chosen is the user's setting (English here).
        ("/customers", "?lang=fi"),
    ] {
        let a = page_as(&app, Role::Viewer, path, &["Accept-Language: fi".into()]).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        assert_eq!(switch(&a.body), want, "{path}");
    }
    // Following it shows the same filtered list in the other language.
    let a = page_as(
        &app,
        Role::Viewer,
        "/customers?kind=company&sort=mrr&lang=fi",
        &[],
    )
    .await;
    assert!(a.body.contains("Tilaaja Oy") && !a.body.contains("Velallinen"));
    assert!(a.body.contains("<html lang=\"fi\">"));
    // What a user typed into the query stays encoded and escaped.
    let a = page_as(
        &app,
        Role::Viewer,
        "/customers?search=%22%3E%3Cscript%3Ex&lang=en",
        &[],
    )
    .await;
    assert_eq!(switch(&a.body), "?search=%22%3E%3Cscript%3Ex&lang=fi");
    assert!(!a.body.contains("<script>x"));
}
