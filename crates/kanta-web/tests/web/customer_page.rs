//! The customer page on the demo's data, as a new user reads it: a B2B account's
//! timeline a page of 30 at a time, filtered by kind, with usage summed up week by
//! week above it instead of hundreds of rows; words of the data's vocabularies and
//! staff members by name in the page's language; one line per consent.

use kanta_core::Acting;
use kanta_domain::schema::{CASES, STAFF};
use kanta_store::records::{CustomerFilter, Record};

use crate::{App, get};

/// The demo's customers the tests read.
pub(crate) struct Demo {
    /// The B2B account with the longest timeline.
    pub b2b: String,
    /// A café customer with an interaction with a barista and a trust entry (and a
    /// case when one of them has one).
    pub cafe: String,
}

/// Writes a small demo (40 café customers, 8 B2B accounts over three years) through
/// the core, as `kanta demo` does, and picks the customers the tests read.
pub(crate) async fn write_demo(app: &App) -> Demo {
    let cfg = kanta_demo::DemoConfig {
        seed: 2024,
        as_of: chrono::NaiveDate::from_ymd_opt(2025, 11, 30).unwrap(),
        cafe_customers: 40,
        b2b_accounts: 8,
        years: 3,
    };
    for b in kanta_demo::generate(&cfg) {
        app.core.write_batch(&Acting::cli(), b).await.unwrap();
    }
    let all = app
        .store
        .customers(&CustomerFilter {
            limit: 500,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut b2b: Option<(usize, String)> = None;
    let mut cafe: Option<(bool, String)> = None;
    for c in &all.customers {
        let Some(r) = app.store.customer(&c.id).await.unwrap() else {
            continue;
        };
        let events = timeline_len(app, &r, None).await;
        if c.id.starts_with("b2b-") && b2b.as_ref().is_none_or(|(n, _)| events > *n) {
            b2b = Some((events, c.id.clone()));
        }
        if c.id.starts_with("cafe-") && !cafe.as_ref().is_some_and(|(case, _)| *case) {
            let cases = app.store.records_of_customer(&CASES, r.id).await.unwrap();
            let tl = app.store.timeline_page(r.id, None, 10_000).await.unwrap();
            let has = |kind: &str| tl.events.iter().any(|e| e.entity == kind);
            if has("interactions") && has("trust") && has("transactions") {
                cafe = Some((!cases.is_empty(), c.id.clone()));
            }
        }
    }
    Demo {
        b2b: b2b.expect("a B2B account").1,
        cafe: cafe.expect("a café customer who talked with a barista").1,
    }
}

/// The number of events of the customer's whole timeline (of `only` the entities).
async fn timeline_len(app: &App, c: &Record, only: Option<&[&str]>) -> usize {
    app.store
        .timeline_page_of(c.id, only, None, 100_000)
        .await
        .unwrap()
        .events
        .len()
}

/// The timeline's part of a customer page.
fn timeline(body: &str) -> &str {
    body.split("id=\"timeline\"").nth(1).unwrap_or("")
}

/// What happened on each line of the timeline (the bold word of each line).
fn kinds_on(body: &str) -> Vec<String> {
    timeline(body)
        .split("<li class=\"tone-")
        .skip(1)
        .map(|li| {
            let b = li.split("<b>").nth(1).unwrap_or("");
            b.split("</b>").next().unwrap_or("").to_string()
        })
        .collect()
}

/// The link to the older page of the timeline, if any.
fn older(body: &str) -> Option<String> {
    let tl = timeline(body);
    let a = tl
        .split("<a href=\"")
        .skip(1)
        .find(|a| a.contains("rel=\"next\""))?;
    Some(
        a.split('"')
            .next()?
            .replace("&amp;", "&")
            .replace("&#38;", "&"),
    )
}

#[tokio::test]
async fn a_b2b_account_page_is_short_filtered_and_paged() {
    let app = crate::spawn_app("sqlite").await;
    let demo = write_demo(&app).await;
    let c = app.store.customer(&demo.b2b).await.unwrap().unwrap();
    let all = timeline_len(&app, &c, None).await;
    let usage = timeline_len(&app, &c, Some(&["usage"])).await;
    assert!(
        all > 200 && usage * 2 > all,
        "the demo's longest B2B timeline is mostly usage: {usage} of {all}"
    );

    let (status, _, body) = get(&app, &format!("/customers/{}?lang=fi", demo.b2b)).await;
    assert_eq!(status, 200);
    // One page of 30 events, without the weekly usage readings.
    let kinds = kinds_on(&body);
    assert_eq!(kinds.len(), 30, "{kinds:?}");
    assert!(!kinds.iter().any(|k| k == "käyttö"), "{kinds:?}");
    assert!(
        body.len() < 120_000,
        "the page stays small: {} bytes",
        body.len()
    );
    // Usage as a block above the timeline: a sparkline per metric with the latest
    // week and its change against the account's own baseline.
    let block = body
        .split("class=\"card usage\"")
        .nth(1)
        .expect("a usage block");
    let block = &block[..block.find("</section>").unwrap()];
    assert_eq!(block.matches("<svg ").count(), 2, "two metrics");
    assert!(
        block.contains("Aktiiviset käyttäjät") && block.contains("Kirjautumiset"),
        "metrics by their Finnish names"
    );
    assert!(block.contains("12 viikon keskiarvo"));
    assert!(
        body.contains("name=\"show\" value=\"usage\">"),
        "usage is not checked by default"
    );

    // The pages, newest first, add up to the whole timeline but usage, none twice.
    let mut path = Some(format!("/customers/{}?lang=fi", demo.b2b));
    let mut seen = 0;
    let mut pages = 0;
    while let Some(p) = path {
        let (status, _, body) = get(&app, &p).await;
        assert_eq!(status, 200, "{p}");
        let n = kinds_on(&body).len();
        assert!(n <= 30);
        seen += n;
        pages += 1;
        path = older(&body).map(|o| {
            let o = o.trim_end_matches("#timeline");
            format!("{o}&lang=fi")
        });
        assert!(pages < 100);
    }
    assert_eq!(seen, all - usage, "every event but usage, on {pages} pages");
    assert!(pages >= 2);

    // Filtered to cases: only cases, and the filter is kept by the older link.
    let cases = timeline_len(&app, &c, Some(&["cases"])).await;
    let (_, _, body) = get(&app, &format!("/customers/{}?show=cases&lang=en", demo.b2b)).await;
    let kinds = kinds_on(&body);
    assert_eq!(kinds.len(), cases.min(30));
    assert!(
        kinds
            .iter()
            .all(|k| k == "case opened" || k == "case resolved"),
        "{kinds:?}"
    );
    if cases > 30 {
        assert!(older(&body).unwrap().contains("show=cases&"));
    }
    assert!(body.contains("name=\"show\" value=\"cases\" checked>"));
    assert!(!body.contains("name=\"show\" value=\"orders\" checked>"));

    // Two kinds, as the form's checkboxes send them.
    let (_, _, body) = get(
        &app,
        &format!("/customers/{}?show=feedback&show=trust&lang=en", demo.b2b),
    )
    .await;
    let kinds = kinds_on(&body);
    assert!(!kinds.is_empty());
    assert!(
        kinds.iter().all(|k| k == "feedback" || k == "trust"),
        "{kinds:?}"
    );

    // Usage rows when asked for: whole numbers without decimals.
    let (_, _, body) = get(&app, &format!("/customers/{}?show=usage&lang=fi", demo.b2b)).await;
    let kinds = kinds_on(&body);
    assert_eq!(kinds.len(), 30);
    assert!(kinds.iter().all(|k| k == "käyttö"), "{kinds:?}");
    let tl = timeline(&body);
    assert!(
        tl.contains("<i>mittari</i> kirjautumiset") || tl.contains("<i>mittari</i> aktiiviset"),
        "{tl}"
    );
    assert!(!tl.contains(".0</span>"), "no 116.0: {tl}");
}

#[tokio::test]
async fn the_finnish_page_shows_words_not_raw_values() {
    let app = crate::spawn_app("sqlite").await;
    let demo = write_demo(&app).await;
    for id in [&demo.cafe, &demo.b2b] {
        let (status, _, fi) = get(&app, &format!("/customers/{id}?lang=fi")).await;
        assert_eq!(status, 200);
        // Staff by name, never by id (the case form's owner options carry the id as
        // their value, unseen).
        let shown = fi
            .replace("value=\"cafe-staff-", "")
            .replace("value=\"b2b-staff-", "");
        assert!(
            !shown.contains("cafe-staff-") && !shown.contains("b2b-staff-"),
            "{id}: staff by id"
        );
        // No raw vocabulary on the timeline or in the details.
        for raw in [
            "visits",
            "interaction",
            "case",
            "service",
            "survey",
            "counter",
            "mobile",
            "cold-coffee",
            "wrong-order",
            "long-queue",
            "walk-in",
            "instagram",
            "google-maps",
            "referral",
            "partner",
            "onboarding",
            "billing",
            "outage",
            "bug",
        ] {
            assert!(
                !fi.contains(&format!("</i> {raw}</span>"))
                    && !fi.contains(&format!("<dd>{raw}</dd>"))
                    && !fi.contains(&format!("<b>{raw}</b>")),
                "{id}: the raw word {raw}"
            );
        }
        // Form labels are labels, not field names.
        for label in ["Laji", "Suunta", "Tulos", "Muistiinpano"] {
            assert!(fi.contains(&format!(">{label}</label>")), "{id}: {label}");
        }
        // One line per consent.
        assert!(
            fi.contains("<dt>Markkinointilupa</dt><dd>annettu ")
                || fi.contains("<dt>Markkinointilupa</dt><dd>ei annettu"),
            "{id}: one marketing consent line"
        );
        assert!(!fi.contains("<dt>markkinointilupa annettu</dt>"));
        assert!(!fi.contains("<dd>ei</dd>"), "{id}: no bare 'no'");
    }
    // The café customer's timeline in Finnish: sources, channels and staff in words.
    let (_, _, fi) = get(&app, &format!("/customers/{}?lang=fi", demo.cafe)).await;
    let tl = timeline(&fi);
    assert!(
        tl.contains("<i>kanava</i> tiski") || tl.contains("<i>kanava</i> mobiili"),
        "{tl}"
    );
    let mut names = Vec::new();
    for i in 1..=9 {
        let id = format!("cafe-staff-{i:02}");
        if let Some(r) = app.store.get(&STAFF, &id).await.unwrap() {
            names.push(r.text("name").unwrap().to_string());
        }
    }
    assert!(!names.is_empty());
    assert!(
        names
            .iter()
            .any(|n| tl.contains(&format!("<i>työntekijä</i> {n}</span>"))),
        "a barista by name on the timeline: {names:?}\n{tl}"
    );
    // English the same way.
    let (_, _, en) = get(&app, &format!("/customers/{}?lang=en", demo.cafe)).await;
    assert!(
        en.contains("<dt>Marketing consent</dt><dd>given ")
            || en.contains("<dt>Marketing consent</dt><dd>not given"),
        "English consent line"
    );
    assert!(en.contains(">Kind</label>") && en.contains(">Direction</label>"));
}

/// The feedback card: every answer newest first with its survey, scores, words and
/// channel, a detractor's badge, what the customer wrote escaped, "all answers"
/// beyond the first five; Finnish and English.
#[tokio::test]
async fn the_feedback_card_shows_every_answer_escaped() {
    use kanta_domain::schema::{CUSTOMERS, FEEDBACK, SURVEYS};
    use kanta_domain::{Value, WriteBatch};
    let app = crate::spawn_app("sqlite").await;
    let cli = Acting::cli();
    let fields = |e: &'static kanta_domain::Entity, names: &[&str]| {
        names
            .iter()
            .map(|n| e.field(n).unwrap())
            .collect::<Vec<_>>()
    };
    let text = |s: &str| Value::Text(s.to_string());
    let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
    c.push("c1".into(), [text("Aino Asiakas")]);
    app.core.write_batch(&cli, c).await.unwrap();
    let mut s = WriteBatch::new(&SURVEYS, fields(&SURVEYS, &["name", "status", "questions"]));
    s.push(
        "sv1".into(),
        [
            text("Käynnin jälkeen"),
            text("active"),
            text(
                r#"[{"field":"nps","fi":"Suosittelisitko?","en":"Would you recommend us?"},{"field":"do_better","fi":"Mitä voisimme tehdä paremmin?","en":"What should we do better?"}]"#,
            ),
        ],
    );
    app.core.write_batch(&cli, s).await.unwrap();
    let now = chrono::Utc::now();
    let mut f = WriteBatch::new(
        &FEEDBACK,
        fields(
            &FEEDBACK,
            &[
                "customer_id",
                "answered_at",
                "nps",
                "do_better",
                "survey_id",
                "survey_version",
                "channel",
            ],
        ),
    );
    // Eleven older answers, then the newest: a detractor's with markup in it.
    for i in 1..=11 {
        f.push(
            format!("f{i:02}"),
            [
                text("c1"),
                Value::Time(now - chrono::Duration::days(40 - i)),
                Value::Int(9),
                text(&format!("Vastaus {i}")),
                text("sv1"),
                Value::Int(1),
                text("email"),
            ],
        );
    }
    f.push(
        "f12".into(),
        [
            text("c1"),
            Value::Time(now - chrono::Duration::hours(3)),
            Value::Int(2),
            text("<script>alert('x')</script> Jono oli pitkä"),
            text("sv1"),
            Value::Int(1),
            text("qr"),
        ],
    );
    app.core.write_batch(&cli, f).await.unwrap();

    let (status, _, en) = get(&app, "/customers/c1?lang=en").await;
    assert_eq!(status, 200);
    let card = en
        .split("id=\"answers\"")
        .nth(1)
        .expect("the feedback card")
        .split("</section>")
        .next()
        .unwrap();
    assert!(!card.contains("<script>"), "{card}");
    let shown = card
        .replace("&#60;", "&lt;")
        .replace("&#62;", "&gt;")
        .replace("&#39;", "'")
        .replace("&#x27;", "'");
    assert!(
        shown.contains("&lt;script&gt;alert('x')&lt;/script&gt; Jono oli pitkä"),
        "escaped: {card}"
    );
    assert!(
        card.contains("NPS 2") && card.contains("Detractor"),
        "{card}"
    );
    assert!(card.contains("Käynnin jälkeen") && card.contains("QR code"));
    assert!(card.contains("Promoter") && card.contains("by email"));
    // Newest first, five of twelve, then a link to all.
    let first = card.find("answer-f12").unwrap();
    assert!(first < card.find("answer-f11").unwrap());
    assert_eq!(card.matches("<li id=\"answer-").count(), 5);
    assert!(
        !card.contains("answer-f01\""),
        "the oldest two are behind the link"
    );
    assert!(
        card.contains("href=\"/customers/c1?answers=all#fb\""),
        "{card}"
    );
    assert!(card.contains("All 12 answers"));
    let (_, _, all) = get(&app, "/customers/c1?answers=all&lang=en").await;
    assert_eq!(all.matches("<li id=\"answer-").count(), 12);
    assert!(!all.contains("All 12 answers"));

    let (_, _, fi) = get(&app, "/customers/c1?lang=fi").await;
    assert!(fi.contains("Arvostelija") && fi.contains("QR-koodilla"));
    assert!(fi.contains("Kaikki 12 vastausta"));
    assert!(!fi.contains("<script>alert"));
}
