//! The themes page over real HTTP on both backends: Finnish and English answers give
//! themes in both languages; a manager renames one and a rerun keeps the label,
//! merges one into another, records a change; a viewer's posts get the 403 page; bad
//! input shows the form again with the problem; an answer with markup is shown as text.

use kanta_core::{Acting, Core};
use kanta_domain::Value;
use kanta_domain::schema::FEEDBACK;
use kanta_store::WriteBatch;
use kanta_store::accounts::Role;
use kanta_store::testing::BACKENDS;

use crate::{App, page_as, post_form_as, spawn_app};

const ANSWERS: &[(&str, &[&str])] = &[
    (
        "fi",
        &[
            "Hinnat ovat liian korkeat",
            "Kallis paikka, hinnat korkeat",
            "Hintoja voisi laskea",
            "Liian kalliit hinnat",
            "Hinnat nousseet liikaa",
            "Kalliit leivonnaiset ja hinnat <script>alert(7)</script>",
            "Hinnoissa olisi parannettavaa",
            "Halvemmat hinnat kiitos",
            "Jono oli pitkä",
            "Jouduin jonottamaan kauan",
            "Jonotus kesti liian kauan",
            "Pitkä jono kassalle",
            "Jonot liian pitkiä aamulla",
            "Lisää kassoja, jonot ovat pitkiä",
            "Hidas jono",
            "Jonossa seisoi paljon ihmisiä",
        ],
    ),
    (
        "en",
        &[
            "Prices are too high",
            "Too expensive, high prices",
            "Lower the prices please",
            "Prices keep rising",
            "Lunch prices are expensive",
            "High prices",
            "Cheaper prices would help",
            "The prices are steep",
            "The queue was very long",
            "Waited too long in the queue",
            "Slow, long queue",
            "Had to wait ages in the queue",
            "Long queues in the morning",
            "Waited in a long queue",
            "Queue at the till, long wait",
            "A long queue again",
        ],
    ),
];

async fn seed(core: &Core) {
    let f: Vec<_> = ["customer_id", "answered_at", "nps", "do_better", "language"]
        .iter()
        .map(|n| FEEDBACK.field(n).unwrap())
        .collect();
    let mut b = WriteBatch::new(&FEEDBACK, f);
    let mut n = 0;
    for (lang, texts) in ANSWERS {
        for t in *texts {
            let at = kanta_domain::time::parse_timestamp(
                &format!("2026-{:02}-10T10:00:00Z", 1 + n % 10),
                None,
            )
            .unwrap();
            b.push(
                format!("tf{n}"),
                [
                    Value::Text("c1".into()),
                    Value::Time(at),
                    Value::Int(4),
                    Value::Text((*t).into()),
                    Value::Text((*lang).into()),
                ],
            );
            n += 1;
        }
    }
    core.write_batch(&Acting::cli(), b).await.unwrap();
}

/// The themes' (id, label) as the API lists them.
async fn themes(app: &App) -> Vec<(i64, String)> {
    let a = crate::api_as(
        app,
        Some(Role::Viewer),
        "GET",
        "/api/v1/feedback/themes",
        None,
    )
    .await;
    a.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["id"].as_i64().unwrap(),
                t["label"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn managers_edit_themes_on_the_page_and_edits_survive_a_run() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        seed(&app.core).await;

        // Nothing yet; a viewer cannot run, a manager can.
        let a = page_as(&app, Role::Viewer, "/feedback/themes?lang=en", &[]).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert!(a.body.contains("id=\"themes-none\""), "{backend}");
        assert!(
            !a.body.contains("id=\"themes-run\""),
            "viewers get no forms"
        );
        let a = post_form_as(&app, Role::Viewer, "/feedback/themes/run", &[]).await;
        assert_eq!(a.status, 403, "{backend}");
        let a = post_form_as(&app, Role::Manager, "/feedback/themes/run", &[]).await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        assert_eq!(
            a.header("location").as_deref(),
            Some("/feedback/themes?saved=run")
        );

        let ts = themes(&app).await;
        assert!(ts.len() >= 2, "{backend}: {ts:?}");
        // Labels in both languages, on the page in both languages.
        for (lang, title) in [("en", "Themes in the answers"), ("fi", "Palautteen teemat")] {
            let a = page_as(
                &app,
                Role::Viewer,
                &format!("/feedback/themes?lang={lang}"),
                &[],
            )
            .await;
            assert_eq!(a.status, 200);
            assert!(a.body.contains(title), "{backend} {lang}");
            assert!(a.body.contains("<svg"), "{backend}: trends are drawn");
            let all = ts
                .iter()
                .map(|t| t.1.to_lowercase())
                .collect::<Vec<_>>()
                .join(" ");
            assert!(
                ["hin", "kall", "jon"].iter().any(|w| all.contains(w)),
                "{backend}: a Finnish label: {ts:?}"
            );
            assert!(
                ["pric", "queue", "expens", "long"]
                    .iter()
                    .any(|w| all.contains(w)),
                "{backend}: an English label: {ts:?}"
            );
            for (id, _) in &ts {
                assert!(
                    a.body.contains(&format!("data-theme=\"{id}\"")),
                    "{backend}"
                );
            }
            // The markup an answer carried is text.
            assert!(
                !a.body.contains("<script>alert(7)"),
                "{backend}: live script"
            );
        }
        let a = page_as(&app, Role::Manager, "/feedback/themes?lang=en", &[]).await;
        assert!(a.body.contains("id=\"themes-run\""));
        assert!(a.body.contains("/rename\"") && a.body.contains("name=\"into\""));
        // Staff and up follow an example to its customer.
        assert!(a.body.contains("href=\"/customers/c1\""), "{backend}");
        let v = page_as(&app, Role::Viewer, "/feedback/themes?lang=en", &[]).await;
        assert!(!v.body.contains("href=\"/customers/c1\""), "{backend}");

        let (first, _) = ts[0].clone();
        let (second, _) = ts[1].clone();
        // A viewer's edits: the 403 page, nothing changed.
        for path in ["rename", "merge", "split", "changes"] {
            let a = post_form_as(
                &app,
                Role::Viewer,
                &format!("/feedback/themes/{first}/{path}"),
                &[
                    ("label", "x"),
                    ("into", &second.to_string()),
                    ("word", "x"),
                    ("title", "x"),
                    ("changed_on", "1.1.2026"),
                ],
            )
            .await;
            assert_eq!(a.status, 403, "{backend} {path}");
        }
        // Bad input: the form again with its problem.
        let a = post_form_as(
            &app,
            Role::Manager,
            &format!("/feedback/themes/{first}/rename?lang=en"),
            &[("label", "   "), ("back", "list")],
        )
        .await;
        assert_eq!(a.status, 422, "{backend}");
        assert!(
            a.body.contains(&format!("id=\"theme-{first}-error\"")),
            "{backend}"
        );
        assert!(
            a.body.contains("is empty") || a.body.contains("on tyhjä"),
            "{backend}"
        );
        let a = post_form_as(
            &app,
            Role::Manager,
            &format!("/feedback/themes/{first}/changes"),
            &[("title", "Cheaper <lunch>"), ("changed_on", "31.13.2026")],
        )
        .await;
        assert_eq!(a.status, 422, "{backend}");
        assert!(a.body.contains("31.13.2026"), "{backend}");
        assert!(
            a.body.contains("value=\"Cheaper &#60;lunch&#62;\"")
                || a.body.contains("value=\"Cheaper &lt;lunch&gt;\""),
            "{backend}: the title kept"
        );

        // Rename; a run keeps the label.
        let a = post_form_as(
            &app,
            Role::Manager,
            &format!("/feedback/themes/{first}/rename"),
            &[("label", "Hinnoittelu & price"), ("back", "list")],
        )
        .await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        post_form_as(&app, Role::Manager, "/feedback/themes/run", &[]).await;
        let after = themes(&app).await;
        assert!(
            after
                .iter()
                .any(|t| t.0 == first && t.1 == "Hinnoittelu & price"),
            "{backend}: {after:?}"
        );
        let a = page_as(&app, Role::Viewer, "/feedback/themes", &[]).await;
        assert!(
            a.body.contains("Hinnoittelu &#38; price")
                || a.body.contains("Hinnoittelu &amp; price")
        );

        // Merge the second into the first: listed under it, gone from the list; its
        // page leads to the first.
        let a = post_form_as(
            &app,
            Role::Manager,
            &format!("/feedback/themes/{second}/merge"),
            &[("into", &first.to_string())],
        )
        .await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        let after = themes(&app).await;
        assert!(after.iter().all(|t| t.0 != second), "{backend}");
        let a = page_as(&app, Role::Viewer, "/feedback/themes", &[]).await;
        assert!(
            a.body.contains(&format!("data-merged=\"{second}\"")),
            "{backend}"
        );
        let a = page_as(
            &app,
            Role::Viewer,
            &format!("/feedback/themes/{second}"),
            &[],
        )
        .await;
        assert_eq!(a.status, 303);
        assert_eq!(
            a.header("location"),
            Some(format!("/feedback/themes/{first}"))
        );

        // You said, we did: recorded with a Finnish date, shown before and after.
        let a = post_form_as(
            &app,
            Role::Manager,
            &format!("/feedback/themes/{first}/changes"),
            &[
                ("title", "Halvempi lounas <3"),
                ("description", "9,90 €"),
                ("changed_on", "1.6.2026"),
                ("notify", "yes"),
            ],
        )
        .await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        for (lang, words) in [
            ("en", ["You said, we did", "Answers a month before"]),
            ("fi", ["Kuulimme, teimme", "Vastauksia kuukaudessa ennen"]),
        ] {
            let a = page_as(
                &app,
                Role::Viewer,
                &format!("/feedback/themes/{first}?lang={lang}"),
                &[],
            )
            .await;
            assert_eq!(a.status, 200, "{backend}");
            for w in words {
                assert!(a.body.contains(w), "{backend} {lang}: {w}");
            }
            assert!(
                a.body.contains("Halvempi lounas &#60;3")
                    || a.body.contains("Halvempi lounas &lt;3")
            );
            assert!(
                a.body.contains("<li data-id=\"tf"),
                "{backend}: the answers listed"
            );
            assert!(!a.body.contains("<script>alert(7)"));
        }
        // An unknown theme: 404.
        let a = page_as(&app, Role::Viewer, "/feedback/themes/999999", &[]).await;
        assert_eq!(a.status, 404, "{backend}");
    }
}
