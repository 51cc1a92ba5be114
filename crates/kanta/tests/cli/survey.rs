//! `kanta survey` with the real binary, on both backends: `create` (seed 001's
//! questions, or a questions file), `list`, `show`, `activate`, `link` (a signed
//! personal link that opens the survey; refused for a customer without survey consent
//! unless `--ignore-consent`), and a bad `--questions-file` refused with a
//! clear message naming the file or the question, exit code 1.

use crate::helpers::{BACKENDS, Env, stderr};

#[test]
fn surveys_are_made_listed_shown_and_linked() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let customers = env.file(
            "customers.csv",
            "id,name,email,locale,survey_consent\n\
             c1,Sanna Saarinen,sanna@example.fi,fi,yes\n\
             c2,Ville Virta,ville@example.fi,fi,no\n\
             c3,Outi Ojala,outi@example.fi,fi,\n",
        );
        env.ok(&["import", "customers", customers.to_str().unwrap()]);

        // Seed 001's questions by default.
        let id = env.ok(&["survey", "create", "--name", "Kahvila", "--id", "kahvila"]);
        assert_eq!(id.trim(), "kahvila", "{backend}");
        let qs = env.file(
            "questions.json",
            r#"[{"field": "csat", "fi": "Kuinka tyytyväinen olit?", "en": "How satisfied were you?"},
                {"field": "comment", "fi": "Terveiset meille?", "en": "Anything to tell us?"}]"#,
        );
        env.ok(&[
            "survey",
            "create",
            "--name",
            "Tukipalvelu",
            "--id",
            "tuki",
            "--questions-file",
            qs.to_str().unwrap(),
        ]);

        let list = env.json(&["survey", "list"]);
        let items = list.as_array().unwrap();
        assert_eq!(items.len(), 2, "{backend}: {list}");
        let tuki = items.iter().find(|s| s["id"] == "tuki").unwrap();
        assert_eq!(tuki["status"], "draft");
        assert_eq!(tuki["version"], 1);
        assert_eq!(tuki["questions"][0]["field"], "csat");
        let table = env.ok(&["survey", "list"]);
        assert!(
            table.contains("kahvila") && table.contains("nps,did_well,do_better"),
            "{table}"
        );

        let show = env.json(&["survey", "show", "tuki"]);
        assert_eq!(show["survey"]["name"], "Tukipalvelu", "{show}");
        assert_eq!(show["versions"].as_array().unwrap().len(), 1, "{show}");
        let text = env.ok(&["survey", "show", "kahvila"]);
        assert!(text.contains("Mitä teimme hyvin?"), "{text}");
        assert!(text.contains("What should we do better?"), "{text}");
        assert!(text.contains("/q/kahvila"), "{text}");

        env.ok(&["survey", "activate", "kahvila"]);
        let show = env.json(&["survey", "show", "kahvila"]);
        assert_eq!(show["survey"]["status"], "active");
        let url = env.ok(&["survey", "link", "kahvila", "--customer", "c1"]);
        let url = url.trim();
        assert!(url.contains("/s/"), "{url}");
        let token = url.rsplit('/').next().unwrap();
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "{token}"
        );
        let out = env.run(&["survey", "link", "kahvila", "--customer", "nobody"]);
        assert_eq!(out.status.code(), Some(1), "{backend}");
        assert!(stderr(&out).contains("nobody"), "{}", stderr(&out));

        // No link for a customer who declined surveys (c2) or was never asked (c3):
        // exit 1, the reason and what to do, nothing on stdout.
        for c in ["c2", "c3"] {
            let out = env.run(&["survey", "link", "kahvila", "--customer", c]);
            assert_eq!(out.status.code(), Some(1), "{backend} {c}");
            assert!(out.stdout.is_empty(), "{backend} {c}: a link printed");
            let err = stderr(&out);
            assert!(
                err.contains(&format!(
                    "customer {c} has not consented to surveys; pass --ignore-consent to make a \
                     link to hand over in person"
                )),
                "{backend}: {err}"
            );
        }
        // With --ignore-consent: a link to hand over in person.
        let url = env.ok(&[
            "survey",
            "link",
            "kahvila",
            "--customer",
            "c2",
            "--ignore-consent",
        ]);
        assert!(url.trim().contains("/s/"), "{backend}: {url}");
    }
}

#[test]
fn a_bad_questions_file_is_refused_clearly() {
    let env = Env::new("sqlite");
    let cases: [(&str, Option<&str>, &str); 4] = [
        ("missing.json", None, "missing.json"),
        (
            "not-json.json",
            Some("nps, did_well"),
            "not a JSON list of questions",
        ),
        (
            "no-finnish.json",
            Some(r#"[{"field": "nps", "fi": "", "en": "Recommend us?"}]"#),
            "question 1 ('nps') has no Finnish wording",
        ),
        (
            "not-a-field.json",
            Some(r#"[{"field": "stars", "fi": "Tähdet?", "en": "Stars?"}]"#),
            "'stars' is not a survey field",
        ),
    ];
    for (name, content, says) in cases {
        let path = match content {
            Some(c) => env.file(name, c),
            None => env.dir.path().join(name),
        };
        let out = env.run(&[
            "survey",
            "create",
            "--name",
            "Huono",
            "--questions-file",
            path.to_str().unwrap(),
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(says), "{name}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let list = env.json(&["survey", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 0, "{list}");
}
