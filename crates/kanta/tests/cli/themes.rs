//! `kanta themes` with the real binary: `run --json` and `list --json` on a store with
//! Finnish and English answers, `rename` and `merge` refusing an unknown theme with a
//! clear message and a non-zero exit.

use kanta_core::{Acting, Core};
use kanta_domain::schema::FEEDBACK;
use kanta_domain::{Value, WriteBatch};
use kanta_store::Store;

use crate::helpers::{BACKENDS, Env, runtime, stderr};

const TEXTS: &[(&str, &str)] = &[
    ("fi", "Hinnat ovat liian korkeat"),
    ("fi", "Kallis paikka, hinnat korkeat"),
    ("fi", "Hintoja voisi laskea"),
    ("fi", "Liian kalliit hinnat"),
    ("fi", "Hinnat nousseet liikaa"),
    ("fi", "Halvemmat hinnat kiitos"),
    ("fi", "Jono oli pitkä"),
    ("fi", "Jonotus kesti liian kauan"),
    ("fi", "Pitkä jono kassalle"),
    ("fi", "Jonot liian pitkiä aamulla"),
    ("fi", "Hidas jono"),
    ("fi", "Lisää kassoja, jonot ovat pitkiä"),
    ("en", "Prices are too high"),
    ("en", "Too expensive, high prices"),
    ("en", "Lower the prices please"),
    ("en", "Prices keep rising"),
    ("en", "High prices"),
    ("en", "The prices are steep"),
    ("en", "The queue was very long"),
    ("en", "Waited too long in the queue"),
    ("en", "Slow, long queue"),
    ("en", "Long queues in the morning"),
    ("en", "Waited in a long queue"),
    ("en", "A long queue again"),
];

async fn seed(url: &str) {
    let store = Store::open(url).await.expect("open");
    let core = Core::new(store.clone());
    let f = ["answered_at", "nps", "do_better", "language"]
        .iter()
        .map(|n| FEEDBACK.field(n).unwrap())
        .collect();
    let mut b = WriteBatch::new(&FEEDBACK, f);
    for (i, (lang, text)) in TEXTS.iter().enumerate() {
        let at = kanta_domain::time::parse_timestamp(
            &format!("2026-{:02}-10T10:00:00Z", 1 + i % 10),
            None,
        )
        .unwrap();
        b.push(
            format!("a{i}"),
            vec![
                Value::Time(at),
                Value::Int(5),
                Value::Text((*text).into()),
                Value::Text((*lang).into()),
            ],
        );
    }
    core.write_batch(&Acting::cli(), b).await.unwrap();
    store.close().await;
}

#[test]
fn themes_run_and_list_print_json_and_bad_ids_are_refused() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        env.ok(&["stats"]);
        runtime().block_on(seed(&env.db.url));

        let run = env.json(&["themes", "run"]);
        assert_eq!(run["texts"], TEXTS.len(), "{backend}: {run}");
        assert!(run["themes"].as_u64().unwrap() >= 2, "{backend}: {run}");
        assert!(run["run_id"].as_i64().is_some());

        let list = env.json(&["themes", "list"]);
        let items = list.as_array().expect("a list");
        assert_eq!(
            items.len() as u64,
            run["themes"].as_u64().unwrap(),
            "{backend}"
        );
        for t in items {
            assert!(!t["label"].as_str().unwrap().is_empty());
            assert_eq!(
                t["count"].as_u64().unwrap() as usize,
                t["answer_ids"].as_array().unwrap().len(),
                "{backend}: {t}"
            );
        }
        let id = items[0]["id"].as_i64().unwrap();

        // Rename; the list shows the label.
        env.ok(&["themes", "rename", &id.to_string(), "Hinnoittelu"]);
        let list = env.json(&["themes", "list"]);
        assert!(
            list.as_array()
                .unwrap()
                .iter()
                .any(|t| t["id"] == id && t["label"] == "Hinnoittelu" && t["manual"] == true),
            "{backend}: {list}"
        );

        // An unknown theme: a clear message, a non-zero exit.
        let ids = id.to_string();
        for args in [
            vec!["themes", "rename", "999999", "x"],
            vec!["themes", "merge", "999999", ids.as_str()],
        ] {
            let out = env.run(&args);
            assert!(!out.status.success(), "{backend} {args:?}");
            let err = stderr(&out);
            assert!(err.contains("no theme 999999"), "{backend} {args:?}: {err}");
        }
        // An empty label: refused naming the field.
        let out = env.run(&["themes", "rename", &id.to_string(), "  "]);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("label"),
            "{backend}: {}",
            stderr(&out)
        );
    }
}
