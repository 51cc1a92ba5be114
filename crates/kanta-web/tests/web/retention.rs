//! The retention dashboard over real HTTP on both backends: a small story whose
//! leaky bucket, cohorts, survival curve and tier counts are computed by hand below.

use chrono::{NaiveDate, TimeZone, Utc};
use kanta_domain::Value;
use kanta_domain::schema::{CUSTOMERS, Entity, SUBSCRIPTIONS, TRANSACTIONS};
use kanta_store::accounts::Role;
use kanta_store::testing::BACKENDS;
use kanta_store::{Store, WriteBatch};

use crate::{App, page_as, request, spawn_app};

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn batch(e: &'static Entity, names: &[&str]) -> WriteBatch {
    WriteBatch::new(e, names.iter().map(|n| e.field(n).unwrap()).collect())
}

/// Beside `spawn_app`'s c1 and evil (one order each, 2.5. and 3.5.2024):
///
/// - r3 (tier B): one order 20.12.2023 → stops 19.3.2024
/// - r1 (tier A): one order 15.1.2024 → stops 14.4.
/// - r5: orders 20.1. and 10.2. → stops 10.5.
/// - r2 (tier A): a subscription from 1.2., still running
/// - r4 (tier C): orders 10.3. and 20.6.: lapsed 8.6., back 20.6., so kept
///
/// As of 30.6.2024, per month (start, won, kept, lost, end):
/// 12/2023 (0, 1, 0, 0, 1), 1/2024 (1, 2, 1, 0, 3), 2 (3, 1, 3, 0, 4),
/// 3 (4, 1, 3, 1, 4), 4 (4, 0, 3, 1, 3), 5 (3, 2, 2, 1, 4), 6 (4, 0, 4, 0, 4).
pub(crate) async fn story(store: &Store) {
    let mut c = batch(&CUSTOMERS, &["name", "tier"]);
    for (id, tier) in [
        ("r1", Some("A")),
        ("r2", Some("A")),
        ("r3", Some("B")),
        ("r4", Some("C")),
        ("r5", None),
    ] {
        c.push(
            id.into(),
            [
                text(&format!("Asiakas {id}")),
                tier.map_or(Value::Null, text),
            ],
        );
    }
    store.write(&c).await.unwrap();
    let mut t = batch(
        &TRANSACTIONS,
        &["customer_id", "occurred_at", "amount", "currency", "kind"],
    );
    for (n, (who, y, m, d)) in [
        ("r3", 2023, 12, 20),
        ("r1", 2024, 1, 15),
        ("r5", 2024, 1, 20),
        ("r5", 2024, 2, 10),
        ("r4", 2024, 3, 10),
        ("r4", 2024, 6, 20),
    ]
    .into_iter()
    .enumerate()
    {
        t.push(
            format!("rt{n}"),
            [
                text(who),
                Value::Time(Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap()),
                Value::Int(1000),
                text("EUR"),
                text("order"),
            ],
        );
    }
    store.write(&t).await.unwrap();
    let mut s = batch(
        &SUBSCRIPTIONS,
        &["customer_id", "plan", "amount", "currency", "started_on"],
    );
    s.push(
        "rs1".into(),
        [
            text("r2"),
            text("perus"),
            Value::Int(2000),
            text("EUR"),
            Value::Date(NaiveDate::from_ymd_opt(2024, 2, 1).unwrap()),
        ],
    );
    store.write(&s).await.unwrap();
}

/// The cells of the table with id `id`, row by row, as text.
fn table(body: &str, id: &str) -> Vec<Vec<String>> {
    let start = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id}"));
    let rest = &body[start..];
    let rest = &rest[..rest.find("</table>").unwrap()];
    let tbody = &rest[rest.find("<tbody>").unwrap()..];
    tbody
        .split("<tr>")
        .skip(1)
        .map(|row| {
            let mut cells = Vec::new();
            let mut rest = row;
            while let Some(i) = rest.find("<td").into_iter().chain(rest.find("<th")).min() {
                let open = &rest[i..];
                let body = &open[open.find('>').unwrap() + 1..];
                let close = body.find("</t").unwrap();
                cells.push(strip(&body[..close]));
                rest = &body[close..];
            }
            cells
        })
        .collect()
}

/// Text without tags, ASCII whitespace collapsed (no-break spaces stay).
fn strip(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split(|ch: char| ch.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn row<'a>(rows: &'a [Vec<String>], first: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r.first().map(String::as_str) == Some(first))
        .unwrap_or_else(|| panic!("no row {first} in {rows:?}"))
}

async fn dashboard(app: &App, role: Role, lang: &str) -> String {
    let a = page_as(
        app,
        role,
        &format!("/retention?as_of=2024-06-30&lang={lang}"),
        &[],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body
}

#[tokio::test]
async fn the_dashboard_shows_the_hand_computed_figures_in_finnish_and_english() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        story(&app.store).await;

        let fi = dashboard(&app, Role::Viewer, "fi").await;
        assert!(fi.contains("<html lang=\"fi\">"), "{backend}");
        assert!(fi.contains("<h1>Asiakaspysyvyys <small>Tilanne 30.6.2024</small></h1>"));
        assert!(
            fi.contains("aria-current=\"page\">Asiakaspysyvyys</a>"),
            "{fi}"
        );
        // Five charts (with subscription revenue retention), no script.
        assert_eq!(fi.matches("<svg ").count(), 5, "{backend}");
        assert!(!fi.to_lowercase().contains("<script"));
        assert!(
            fi.contains("viimeisten 90 päivän aikana (päivä itse mukaan lukien)"),
            "the lapse window is stated"
        );

        let bucket = table(&fi, "bucket-table");
        assert_eq!(bucket.len(), 24, "{backend}: 24 months");
        assert_eq!(bucket[0][0], "7/2022");
        let want = [
            ["12/2023", "0", "1", "0", "0", "1", "–"],
            ["1/2024", "1", "2", "1", "0", "3", "100,0\u{a0}%"],
            ["2/2024", "3", "1", "3", "0", "4", "100,0\u{a0}%"],
            ["3/2024", "4", "1", "3", "1", "4", "75,0\u{a0}%"],
            ["4/2024", "4", "0", "3", "1", "3", "75,0\u{a0}%"],
            ["5/2024", "3", "2", "2", "1", "4", "66,7\u{a0}%"],
            ["6/2024", "4", "0", "4", "0", "4", "100,0\u{a0}%"],
        ];
        for w in want {
            assert_eq!(row(&bucket, w[0]), w, "{backend}");
        }
        // Won minus lost is the change, month by month.
        for r in bucket.windows(2) {
            let n = |s: &str| s.parse::<i64>().unwrap();
            assert_eq!(n(&r[0][5]), n(&r[1][1]));
            assert_eq!(n(&r[1][2]) - n(&r[1][4]), n(&r[1][5]) - n(&r[1][1]));
        }
        // Customers now, won and lost in the last 12 months.
        // (named for what it counts: activity, not the customers' status)
        assert!(
            fi.contains("<dt>Aktiivisia nyt (toiminnan, ei tilan mukaan)</dt><dd>4</dd>"),
            "{fi}"
        );
        assert!(fi.contains("<dt>Hankittu 12 kk:ssa</dt><dd>7</dd>"));
        assert!(fi.contains("<dt>Menetetty 12 kk:ssa</dt><dd>3</dd>"));

        let cohorts = table(&fi, "cohort-table");
        let p = |s: &str| format!("{s}\u{a0}%");
        assert_eq!(cohorts.len(), 5, "{backend}: {cohorts:?}");
        assert_eq!(
            row(&cohorts, "12/2023"),
            ["12/2023", "1"]
                .into_iter()
                .map(String::from)
                .chain(["100", "100", "100", "100", "0", "0", "0"].map(p))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            row(&cohorts, "1/2024"),
            ["1/2024", "2"]
                .into_iter()
                .map(String::from)
                .chain(["100", "100", "100", "100", "50", "0"].map(p))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            row(&cohorts, "5/2024")[1..4],
            ["2".into(), p("100"), p("100")]
        );

        // Durations: 90 (r3, r1) and 111 (r5) days stopped; 59, 60, 113, 151 still
        // active. S = 3/5 after 90 days, 3/5 * 2/3 = 2/5 after 111.
        let surv = table(&fi, "survival-table");
        assert_eq!(
            row(&surv, "1 kk")[1..],
            [
                p("100,0"),
                format!("{} – {}", p("100,0"), p("100,0")),
                "7".into()
            ]
        );
        assert_eq!(row(&surv, "3 kk")[1], p("60,0"));
        assert_eq!(row(&surv, "3 kk")[3], "3");
        assert_eq!(surv.len(), 2, "no rows past the longest observation");
        // The median: 111 days is 3,6 months.
        assert!(
            fi.contains("Puolet asiakkaista menetetään: <strong>3,6 kk</strong>"),
            "{fi}"
        );

        let tiers = table(&fi, "tier-table");
        assert_eq!(
            tiers,
            [
                vec!["A".to_string(), "2".into(), p("28,6")],
                vec!["B".to_string(), "1".into(), p("14,3")],
                vec!["C".to_string(), "1".into(), p("14,3")],
                vec!["D".to_string(), "0".into(), p("0,0")],
                vec!["Ei arvoluokkaa".to_string(), "3".into(), String::new()],
            ]
        );
        assert!(fi.contains("<td class=\"num\"><a href=\"/customers?tier=A\">2</a></td>"));
        // The bars link to the same lists.
        assert!(fi.contains("<a href=\"/customers?tier=B\"><rect class=\"bar\""));
        // The list behind the link holds those customers.
        let list = page_as(&app, Role::Viewer, "/customers?tier=A&lang=en", &[]).await;
        assert!(list.body.contains("Asiakas r1") && list.body.contains("Asiakas r2"));
        assert!(!list.body.contains("Asiakas r3"));

        let en = dashboard(&app, Role::Viewer, "en").await;
        assert!(en.contains("<h1>Retention <small>As of 2024-06-30</small></h1>"));
        let bucket = table(&en, "bucket-table");
        assert_eq!(
            row(&bucket, "2024-05"),
            ["2024-05", "3", "2", "2", "1", "4", "66.7%"]
        );
        let cohorts = table(&en, "cohort-table");
        assert_eq!(row(&cohorts, "2024-01")[6], "50%");
        let surv = table(&en, "survival-table");
        assert_eq!(row(&surv, "3 months")[1], "60.0%");
        assert!(en.contains("Half of the customers are lost after: <strong>3.6 months</strong>"));
        assert!(en.contains("in the last 90 days, that day included"));
        let tiers = table(&en, "tier-table");
        assert_eq!(tiers[0], ["A", "2", "28.6%"]);
        assert_eq!(tiers[4], ["No tier", "3", ""]);
    }
}

#[tokio::test]
async fn every_role_sees_the_dashboard_and_strangers_are_sent_to_sign_in() {
    let app = spawn_app("sqlite").await;
    for role in Role::ALL {
        let a = page_as(&app, role, "/retention", &[]).await;
        assert_eq!(a.status, 200, "{role}");
        assert!(
            a.body.contains("href=\"/retention\""),
            "{role}: in the navigation"
        );
    }
    let a = request(&app, "GET", "/retention", &[], None).await;
    assert_eq!(a.status, 303);
    assert_eq!(
        a.header("location").as_deref(),
        Some("/login?next=%2Fretention")
    );
    // A day that is no day is refused, not silently today.
    let a = page_as(&app, Role::Viewer, "/retention?as_of=31.2.2024", &[]).await;
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn an_empty_store_shows_empty_charts() {
    let app = spawn_app("sqlite").await;
    let a = page_as(
        &app,
        Role::Viewer,
        "/retention?as_of=2020-01-31&lang=en",
        &[],
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("class=\"chart-empty\""), "{}", a.body);
    assert!(
        a.body
            .contains("<dt>Active now (by activity, not status)</dt><dd>0</dd>")
    );
    assert!(!a.body.contains("id=\"median\""));
}

#[tokio::test]
async fn the_latest_model_run_gives_the_expected_revenue_with_its_interval() {
    use kanta_store::scores::{NewModelRun, RevenueForecast};
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let fi = dashboard(&app, Role::Viewer, "fi").await;
        assert!(
            fi.contains("Ennustetta ei ole vielä: analyytikko laskee sen komennolla kanta score."),
            "{backend}"
        );
        let en = dashboard(&app, Role::Viewer, "en").await;
        assert!(en.contains("No forecast yet: the analyst computes it with kanta score."));

        let f = |months, expected_minor, lower_minor, upper_minor| RevenueForecast {
            months,
            expected_minor,
            lower_minor,
            upper_minor,
        };
        let run = NewModelRun {
            model: "pnbd".into(),
            spend_model: Some("gg".into()),
            as_of: NaiveDate::from_ymd_opt(2024, 6, 30).unwrap(),
            calibration_end: None,
            first_purchase_on: None,
            currency: Some("EUR".into()),
            details: serde_json::json!({}),
            forecast: vec![
                f(12, 1_200_000, 1_000_000, 1_400_050),
                f(1, 12_345, 12_000, 12_700),
                f(3, 35_000, 33_000, 37_000),
            ],
        };
        app.store
            .save_model_run(
                &run,
                &[],
                &kanta_core::Acting::cli().audit("model_runs", None, "score"),
            )
            .await
            .unwrap();

        let fi = dashboard(&app, Role::Viewer, "fi").await;
        assert!(!fi.contains("id=\"forecast-none\""));
        assert!(
            fi.contains("Malli: Pareto/NBD + Gamma-Gamma · tiedot päivään 30.6.2024"),
            "{fi}"
        );
        let e = |s: &str| format!("{s}\u{a0}€");
        assert_eq!(
            table(&fi, "forecast-table"),
            [
                vec![
                    "1 kk".to_string(),
                    e("123,45"),
                    format!("{} – {}", e("120,00"), e("127,00")),
                    e("0,00"),
                    "–".to_string()
                ],
                vec![
                    "3 kk".to_string(),
                    e("350,00"),
                    format!("{} – {}", e("330,00"), e("370,00")),
                    e("0,00"),
                    "–".to_string()
                ],
                vec![
                    "12 kk".to_string(),
                    e("12\u{a0}000,00"),
                    format!("{} – {}", e("10\u{a0}000,00"), e("14\u{a0}000,50")),
                    e("0,00"),
                    "–".to_string()
                ],
            ],
            "{backend}"
        );
        // The chart: three bars, each with its whisker.
        let chart = &fi[fi.find("id=\"forecast-title\"").unwrap()..];
        let chart = &chart[..chart.find("</svg>").unwrap()];
        assert_eq!(chart.matches("<rect class=\"bar\"").count(), 3);
        assert_eq!(chart.matches("<g class=\"whisker\">").count(), 3);

        let en = dashboard(&app, Role::Viewer, "en").await;
        let rows = table(&en, "forecast-table");
        assert_eq!(
            rows[0],
            ["1 month", "€123.45", "€120.00 – €127.00", "€0.00", "–"]
        );
        assert_eq!(rows[2][1], "€12,000.00");
    }
}

#[tokio::test]
async fn the_dashboard_reuses_its_figures_until_the_data_change() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        story(&app.store).await;
        let now = |body: &str| {
            let after = body
                .split("Active now (by activity, not status)</dt><dd>")
                .nth(1)
                .unwrap();
            after.split('<').next().unwrap().to_string()
        };
        let first = dashboard(&app, Role::Viewer, "en").await;
        assert_eq!(now(&first), "4", "{backend}");
        // Asked again with nothing written: the same page.
        assert_eq!(dashboard(&app, Role::Viewer, "en").await, first);
        // A new customer's order, written through the server's store, shows at once.
        let mut t = batch(
            &TRANSACTIONS,
            &["customer_id", "occurred_at", "amount", "currency"],
        );
        t.create_customers = vec!["r6".into()];
        t.push(
            "rt-new".into(),
            [
                text("r6"),
                Value::Time(Utc.with_ymd_and_hms(2024, 6, 15, 9, 0, 0).unwrap()),
                Value::Int(500),
                text("EUR"),
            ],
        );
        app.store.write(&t).await.unwrap();
        assert_eq!(
            now(&dashboard(&app, Role::Viewer, "en").await),
            "5",
            "{backend}"
        );
        // Another day is computed for that day.
        let a = page_as(
            &app,
            Role::Viewer,
            "/retention?as_of=2024-01-31&lang=en",
            &[],
        )
        .await;
        assert_eq!(now(&a.body), "3", "{backend}");
    }
}

#[tokio::test]
async fn a_date_that_is_not_one_is_refused_with_a_page_that_says_so() {
    let app = spawn_app("sqlite").await;
    for (lang, says) in [("en", "is not a date"), ("fi", "ei ole päivämäärä")] {
        let a = page_as(
            &app,
            Role::Viewer,
            &format!("/retention?as_of=garbage&lang={lang}"),
            &[],
        )
        .await;
        assert_eq!(a.status, 400, "{}", a.body);
        assert!(
            a.body.contains("garbage") && a.body.contains(says),
            "{}",
            a.body
        );
        assert!(
            a.body.contains("<nav"),
            "the error page keeps the navigation"
        );
    }
    // Finnish dates are dates; an empty one is today.
    let a = page_as(
        &app,
        Role::Viewer,
        "/retention?as_of=30.6.2024&lang=en",
        &[],
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("value=\"2024-06-30\""), "{}", a.body);
    let a = page_as(&app, Role::Viewer, "/retention?as_of=&lang=en", &[]).await;
    assert_eq!(a.status, 200);
}

/// The story's customers as a café (r1, r3, r4, r5: persons in segment "kahvila")
/// and a B2B firm (r2: a company in "b2b", its subscription 20.00 a month from 1.2.;
/// r6: a company whose 50.00 subscription ran 1.3.-15.5.2024; r7: 10.00 from 1.4.,
/// raised to 30.00 from 1.6. as a second subscription).
async fn segments(store: &Store) {
    story(store).await;
    let mut c = batch(&CUSTOMERS, &["name", "kind", "segment"]);
    for (id, kind, segment) in [
        ("r1", "person", "kahvila"),
        ("r2", "company", "b2b"),
        ("r3", "person", "kahvila"),
        ("r4", "person", "kahvila"),
        ("r5", "person", "kahvila"),
        ("r6", "company", "b2b"),
        ("r7", "company", "b2b"),
    ] {
        c.push(
            id.into(),
            [text(&format!("Asiakas {id}")), text(kind), text(segment)],
        );
    }
    store.write(&c).await.unwrap();
    let mut s = batch(
        &SUBSCRIPTIONS,
        &[
            "customer_id",
            "plan",
            "amount",
            "currency",
            "started_on",
            "ended_on",
        ],
    );
    let day = |m, d| Value::Date(NaiveDate::from_ymd_opt(2024, m, d).unwrap());
    for (id, who, amount, start, end) in [
        ("rs6", "r6", 5000, day(3, 1), day(5, 15)),
        ("rs7", "r7", 1000, day(4, 1), Value::Null),
        ("rs8", "r7", 2000, day(6, 1), Value::Null),
    ] {
        s.push(
            id.into(),
            [
                text(who),
                text("pro"),
                Value::Int(amount),
                text("EUR"),
                start,
                end,
            ],
        );
    }
    store.write(&s).await.unwrap();
}

#[tokio::test]
async fn the_cafe_and_the_b2b_firm_apart_with_subscription_revenue_retention() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        segments(&app.store).await;
        let all = dashboard(&app, Role::Viewer, "en").await;
        // The filter offers the store's own values, none chosen.
        assert!(all.contains("<option value=\"b2b\">b2b</option>"), "{all}");
        assert!(all.contains("<option value=\"kahvila\">kahvila</option>"));
        assert!(all.contains("<option value=\"company\">company</option>"));
        assert!(!all.contains("id=\"segment-shown\""));

        let a = page_as(
            &app,
            Role::Viewer,
            "/retention?as_of=2024-06-30&segment=b2b&lang=en",
            &[],
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let b2b = a.body;
        assert!(
            b2b.contains("<option value=\"b2b\" selected>b2b</option>"),
            "{b2b}"
        );
        assert!(b2b.contains("id=\"segment-shown\""));
        // r2 and r7 run on 30.6.; r6 stopped 15.5.
        assert!(
            b2b.contains("<dt>Active now (by activity, not status)</dt><dd>2</dd>"),
            "{b2b}"
        );
        // The tiers' links keep the filter.
        assert!(b2b.contains("/customers?tier=A&#38;segment=b2b"), "{b2b}");
        assert!(!b2b.contains("\"/customers?tier=A\""), "{b2b}");

        // MRR per month, June 2024: r2 20.00 flat, r7 10.00 → 30.00 (expansion 20.00).
        // May: r6's 50.00 churned (ended 15.5.), r2 flat, r7 flat: GRR (80-50)/80.
        let rows = table(&b2b, "revenue-table");
        let june = row(&rows, "2024-06");
        assert_eq!(
            june,
            [
                "2024-06", "€30.00", "€20.00", "€0.00", "€0.00", "€0.00", "€50.00", "100.0%",
                "166.7%"
            ]
        );
        let may = row(&rows, "2024-05");
        assert_eq!(may[1], "€80.00");
        assert_eq!(may[4], "€50.00");
        assert_eq!(may[7], "37.5%");
        assert_eq!(may[8], "37.5%");
        // The café alone has no subscriptions: no rates.
        let a = page_as(
            &app,
            Role::Viewer,
            "/retention?as_of=2024-06-30&kind=person&lang=en",
            &[],
        )
        .await;
        let cafe = a.body;
        assert!(
            cafe.contains("<option value=\"person\" selected>person</option>"),
            "{cafe}"
        );
        // No rows of zeros: the page says they have no subscriptions.
        assert!(!cafe.contains("id=\"revenue-table\""), "{cafe}");
        assert!(
            cafe.contains("These customers have no subscriptions in these 12 months"),
            "{cafe}"
        );
        assert!(
            !cafe.contains("<dt>Active now (by activity, not status)</dt><dd>2</dd>"),
            "{cafe}"
        );
    }
}

#[tokio::test]
async fn the_forecast_follows_the_as_of_day_and_scoring_values_every_subscriber() {
    use kanta_core::scoring::{ScoreSettings, score_store};
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        segments(&app.store).await;
        let settings = |as_of| ScoreSettings {
            as_of,
            holdout_days: 0,
            model: None,
            margin: 1.0,
            monthly_discount_rate: 0.01,
            zone: kanta_domain::time::DEFAULT_ZONE,
        };
        let june = NaiveDate::from_ymd_opt(2024, 6, 30).unwrap();
        let report = score_store(&app.store, &kanta_core::Acting::cli(), &settings(june)).await;
        // Every customer gets a CLV: buyers, subscribers and both.
        {
            let r = report.unwrap();
            for who in ["r2", "r7", "c1"] {
                let a = crate::api_as(
                    &app,
                    Some(Role::Viewer),
                    "GET",
                    &format!("/api/v1/customers/{who}/scores"),
                    None,
                )
                .await;
                assert_eq!(a.status, 200, "{who}: {}", a.body);
                let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
                assert!(v["clv_12_minor"].is_i64(), "{who}: {v}");
            }
            assert_eq!(r.customers as i64, 9, "{backend}");
        }
        // A page for a day before any run shows no forecast; the run's own day does,
        // with the subscriptions' part (here 0: four subscriptions, one churned, are
        // too few for sBG, which the run's details say).
        let a = page_as(
            &app,
            Role::Viewer,
            "/retention?as_of=2024-03-31&lang=en",
            &[],
        )
        .await;
        assert!(a.body.contains("id=\"forecast-none\""), "{}", a.body);
        let june = dashboard(&app, Role::Viewer, "en").await;
        let rows = table(&june, "forecast-table");
        assert_eq!(rows[0][0], "1 month");
        assert_eq!(rows[0].len(), 5, "{rows:?}");
        assert!(!june.contains("id=\"forecast-none\""));
        // The run's subscription models, where the run is shown: both plans too
        // small, and their pool of four subscriptions with one churn not valued.
        let sbg = table(&june, "sbg-table");
        assert_eq!(
            row(&sbg, "pro (monthly)"),
            [
                "pro (monthly)",
                "3",
                "Not valued: no sound fit, alone or pooled (too few churned)",
                "–"
            ]
        );
        assert_eq!(row(&sbg, "perus (monthly)")[1], "1");

        // Split by kind: each part is the customers' own share, said on the page,
        // and persons plus companies make the whole store's forecast (to the cent,
        // each part rounded on its own).
        let cents = |s: &str| -> i64 {
            s.trim_start_matches('€')
                .replace([',', '.'], "")
                .parse()
                .unwrap_or_else(|e| panic!("{s}: {e}"))
        };
        let all = table(&june, "forecast-table");
        let mut parts = Vec::new();
        for kind in ["person", "company"] {
            let a = page_as(
                &app,
                Role::Viewer,
                &format!("/retention?as_of=2024-06-30&kind={kind}&lang=en"),
                &[],
            )
            .await;
            assert_eq!(a.status, 200, "{}", a.body);
            assert!(
                paragraph(&a.body, "forecast-segment").contains("The forecast for these customers"),
                "{}",
                a.body
            );
            assert!(!a.body.contains("id=\"forecast-all\""));
            parts.push(table(&a.body, "forecast-table"));
        }
        for (h, whole) in all.iter().enumerate() {
            let (p, c) = (cents(&parts[0][h][1]), cents(&parts[1][h][1]));
            assert!(
                (p + c - cents(&whole[1])).abs() <= 1,
                "{backend} {}: {p} + {c} vs {}",
                whole[0],
                whole[1]
            );
            assert!(
                p > 0,
                "the café's purchases are expected to bring something"
            );
        }
        // The firm has no purchases and here no valued subscriptions: nothing, not
        // the café's figures.
        let forecast_of = |segment: &'static str| {
            let app = &app;
            async move {
                let a = page_as(
                    app,
                    Role::Viewer,
                    &format!("/retention?as_of=2024-06-30&segment={segment}&lang=en"),
                    &[],
                )
                .await;
                assert_eq!(a.status, 200, "{}", a.body);
                table(&a.body, "forecast-table")
            }
        };
        let b2b = forecast_of("b2b").await;
        assert_eq!(cents(&b2b[2][1]), 0, "{b2b:?} vs {all:?}");
        // r4, a repeat buyer, moves to the firm: the firm's forecast is r4's part,
        // the café's the rest, and the two make the whole.
        let mut c = batch(&CUSTOMERS, &["segment"]);
        c.push("r4".into(), [text("b2b")]);
        app.store.write(&c).await.unwrap();
        let (cafe, b2b) = (forecast_of("kahvila").await, forecast_of("b2b").await);
        for (h, whole) in all.iter().enumerate() {
            let (a, b) = (cents(&cafe[h][1]), cents(&b2b[h][1]));
            assert!(a > 0 && b > 0, "{backend}: {cafe:?} {b2b:?}");
            assert!(
                (a + b - cents(&whole[1])).abs() <= 1,
                "{cafe:?} + {b2b:?} vs {all:?}"
            );
        }
    }
}

/// A body's text between `<p ... id="{id}">` and its `</p>`.
fn paragraph(body: &str, id: &str) -> String {
    let start = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {body}"));
    let rest = &body[start..];
    let rest = &rest[rest.find('>').unwrap() + 1..];
    strip(&rest[..rest.find("</p>").unwrap()])
}

#[tokio::test]
async fn a_segment_without_subscriptions_says_so_and_bad_filters_are_refused() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        segments(&app.store).await;
        // The café has no subscriptions: said in words, in both languages, without
        // a chart or a table of zeros.
        for (lang, says) in [
            (
                "en",
                "These customers have no subscriptions in these 12 months",
            ),
            (
                "fi",
                "Näillä asiakkailla ei ole tilauksia näiden 12 kuukauden aikana",
            ),
        ] {
            let a = page_as(
                &app,
                Role::Viewer,
                &format!("/retention?as_of=2024-06-30&segment=kahvila&lang={lang}"),
                &[],
            )
            .await;
            assert_eq!(a.status, 200, "{backend}: {}", a.body);
            assert!(
                paragraph(&a.body, "revenue-none").contains(says),
                "{}",
                a.body
            );
            assert!(!a.body.contains("id=\"revenue-table\""));
            assert!(!a.body.contains("id=\"revenue-retention-title\""));
            // The other charts stay.
            assert_eq!(a.body.matches("<svg ").count(), 4, "{backend}");
        }
        // A kind or segment no customer can have: 400, an HTML page in the user's
        // language naming the parameter, the value and the values it takes.
        for (query, lang, says, allowed) in [
            (
                "kind=robot",
                "en",
                "a filter has a value it does not take",
                "kind: 'robot'. Allowed: person, company",
            ),
            (
                "kind=robot",
                "fi",
                "suodattimessa on arvo, jota se ei hyväksy",
                "kind: 'robot'. Sallitut arvot: person (henkilö), company (yritys)",
            ),
            (
                "segment=nope",
                "en",
                "a filter has a value it does not take",
                "segment: 'nope'. Allowed: b2b, kahvila",
            ),
        ] {
            let a = page_as(
                &app,
                Role::Viewer,
                &format!("/retention?as_of=2024-06-30&{query}&lang={lang}"),
                &[],
            )
            .await;
            assert_eq!(a.status, 400, "{backend} {query}: {}", a.body);
            assert!(a.body.contains(&format!("<html lang=\"{lang}\">")));
            let text = strip(&a.body).replace("&#39;", "'").replace("&#x27;", "'");
            assert!(text.contains(says), "{text}");
            assert!(text.contains(allowed), "{text}");
            assert!(
                a.body.contains("<nav"),
                "the error page keeps the navigation"
            );
        }
        // The filter line names the kind in the page's language.
        let a = page_as(
            &app,
            Role::Viewer,
            "/retention?as_of=2024-06-30&kind=company&lang=fi",
            &[],
        )
        .await;
        assert_eq!(a.status, 200);
        let shown = paragraph(&a.body, "segment-shown");
        assert!(shown.contains("Laji: yritys"), "{shown}");
        assert!(!shown.contains("company"), "{shown}");
        let a = page_as(
            &app,
            Role::Viewer,
            "/retention?as_of=2024-06-30&kind=person&lang=en",
            &[],
        )
        .await;
        assert!(paragraph(&a.body, "segment-shown").contains("Kind: person"));
    }
}

#[tokio::test]
async fn grr_and_nrr_are_both_visible_and_the_month_under_way_is_labelled() {
    let app = spawn_app("sqlite").await;
    segments(&app.store).await;
    // Up to May the firm had no expansion: GRR and NRR coincide, and the page
    // says so; the lines differ in dash and marker size.
    let a = page_as(
        &app,
        Role::Viewer,
        "/retention?as_of=2024-05-31&segment=b2b&lang=en",
        &[],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let legend = paragraph(&a.body, "revenue-legend");
    assert!(
        legend.contains("GRR is the solid line with large dots, NRR the dashed line"),
        "{legend}"
    );
    assert!(legend.contains("lie on top of each other"), "{legend}");
    let chart = &a.body[a.body.find("id=\"revenue-retention-title\"").unwrap()..];
    let chart = &chart[..chart.find("</svg>").unwrap()];
    assert_eq!(
        chart.matches("stroke-dasharray=\"7 5\"").count(),
        1,
        "{chart}"
    );
    assert!(chart.contains("r=\"6.00\""), "{chart}");
    assert!(chart.contains("GRR (solid line, large dots)"), "{chart}");
    // In June r7 expanded: the lines part, and the legend no longer says they meet.
    let a = page_as(
        &app,
        Role::Viewer,
        "/retention?as_of=2024-06-30&segment=b2b&lang=fi",
        &[],
    )
    .await;
    let legend = paragraph(&a.body, "revenue-legend");
    assert!(legend.contains("NRR katkoviiva"), "{legend}");
    assert!(!legend.contains("päällekkäin"), "{legend}");
    // 15.6. is not the end of June: June is labelled as under way wherever a month
    // is shown, and the page says what that means; May is a whole month.
    for (lang, june, may, note) in [
        (
            "en",
            "2024-06 (so far)",
            "2024-05",
            "its figures run only to 2024-06-15",
        ),
        ("fi", "6/2024 (kesken)", "5/2024", "päivään 15.6.2024"),
    ] {
        let a = page_as(
            &app,
            Role::Viewer,
            &format!("/retention?as_of=2024-06-15&lang={lang}"),
            &[],
        )
        .await;
        assert_eq!(a.status, 200);
        for t in ["bucket-table", "revenue-table"] {
            let rows = table(&a.body, t);
            assert_eq!(rows.last().unwrap()[0], june, "{t}");
            row(&rows, may);
        }
        assert!(
            paragraph(&a.body, "so-far-note").contains(note),
            "{}",
            a.body
        );
    }
}
