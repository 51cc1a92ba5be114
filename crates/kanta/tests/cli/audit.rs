//! The audit log as an operator reads it with `kanta audit`: an import with its file
//! and rows, tokens created on the command line, an API write with its token and the
//! field before and after; filters by entity and actor; only admins read it over the
//! API; an import that wrote nothing left no entry.

use serde_json::{Value, json};

use crate::helpers::{BACKENDS, Env, Serve, http, stderr, without_settings};

/// `kanta audit ARGS --json`'s entries, newest first.
fn audit(env: &Env, args: &[&str]) -> Vec<Value> {
    let mut a = vec!["audit"];
    a.extend_from_slice(args);
    env.json(&a)["items"].as_array().expect("items").clone()
}

fn token(env: &Env, name: &str, role: &str) -> String {
    env.ok(&["token", "create", name, "--role", role])
        .trim()
        .to_string()
}

#[test]
fn imports_tokens_and_api_writes_are_in_the_audit_log() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let file = env.file(
            "asiakkaat.csv",
            "id,name,email,segment\nA1,Aino Auditoitava,aino@example.fi,kahvila\n\
             A2,Bertta Beta,bertta@example.fi,kahvila\n",
        );
        let file_name = file.display().to_string();
        env.ok(&["import", "customers", &file_name]);
        let staff = token(&env, "bars-staff", "staff");
        let admin = token(&env, "bars-admin", "admin");
        let viewer = token(&env, "bars-viewer", "viewer");

        let mut c = env.cmd();
        without_settings(&mut c).args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--score-every-hours",
            "0",
        ]);
        let serve = Serve::start(&mut c);
        let addr = serve.addr().to_string();
        let a = http(
            &addr,
            "PATCH",
            "/api/v1/customers/A1",
            Some(&staff),
            Some(r#"{"segment": "kanta-asiakas"}"#),
        );
        assert_eq!(a.status, 200, "{backend}: {}", a.body);

        let all = audit(&env, &[]);
        let import = all
            .iter()
            .find(|e| e["action"] == "import")
            .unwrap_or_else(|| panic!("{backend}: no import in {all:?}"));
        assert_eq!(import["actor_name"], file_name.as_str(), "{import}");
        assert_eq!(
            (&import["actor_kind"], &import["channel"], &import["entity"]),
            (&"import".into(), &"import".into(), &"customers".into()),
            "{import}"
        );
        assert_eq!(import["details"]["inserted"], 2, "{import}");
        assert_eq!(import["details"]["rejected"], 0, "{import}");
        let created: Vec<&Value> = all
            .iter()
            .filter(|e| e["action"] == "token_create")
            .collect();
        assert_eq!(created.len(), 3, "{backend}: {all:?}");
        assert!(
            created
                .iter()
                .any(|e| e["details"]["name"] == "bars-staff" && e["details"]["role"] == "staff"),
            "{created:?}"
        );
        assert!(created.iter().all(|e| e["channel"] == "cli"), "{created:?}");
        assert!(
            !serde_json::to_string(&all).unwrap().contains(&staff),
            "never the token itself"
        );
        // The server's own daily jobs (health, profitability) may write entries of
        // their own as soon as it starts; the request's is the one not made by a job.
        let patch = all
            .iter()
            .find(|e| e["action"] == "update" && e["actor_kind"] != "job")
            .unwrap_or_else(|| panic!("{backend}: no update in {all:?}"));
        assert_eq!(
            (
                &patch["actor_name"],
                &patch["actor_kind"],
                &patch["channel"],
                &patch["entity"],
                &patch["record_id"]
            ),
            (
                &"bars-staff".into(),
                &"token".into(),
                &"api".into(),
                &"customers".into(),
                &"A1".into()
            ),
            "{patch}"
        );
        assert_eq!(
            patch["changes"],
            json!({"segment": {"before": "kahvila", "after": "kanta-asiakas"}}),
            "{patch}"
        );
        let requested: Vec<&Value> = all.iter().filter(|e| e["actor_kind"] != "job").collect();
        assert_eq!(requested[0], patch, "newest first");

        // Filters.
        let customers = audit(&env, &["--entity", "customers"]);
        assert_eq!(customers.len(), 2, "{backend}: {customers:?}");
        assert!(customers.iter().all(|e| e["entity"] == "customers"));
        assert_eq!(
            (&customers[0]["action"], &customers[1]["action"]),
            (&"update".into(), &"import".into())
        );
        let by_token = audit(&env, &["--actor", "bars-staff"]);
        assert_eq!(by_token.len(), 1, "{backend}: {by_token:?}");
        assert_eq!(by_token[0]["id"], patch["id"]);
        let by_file = audit(&env, &["--actor", &file_name]);
        assert_eq!(by_file.len(), 1, "{backend}: {by_file:?}");
        assert_eq!(by_file[0]["action"], "import");
        // The table says the same.
        let table = env.ok(&["audit", "--actor", "bars-staff"]);
        assert!(
            table.contains("bars-staff (token)")
                && table.contains("segment: kahvila → kanta-asiakas"),
            "{table}"
        );
        assert_eq!(table.lines().count(), 2, "a header and one entry: {table}");

        // Only admins read the log over the API.
        let a = http(&addr, "GET", "/api/v1/audit", Some(&viewer), None);
        assert_eq!(a.status, 403, "{backend}: {}", a.body);
        assert!(
            a.head
                .to_ascii_lowercase()
                .contains("content-type: application/problem+json"),
            "{}",
            a.head
        );
        let a = http(
            &addr,
            "GET",
            "/api/v1/audit?entity=customers",
            Some(&admin),
            None,
        );
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert_eq!(a.json()["items"].as_array().unwrap().len(), 2);
        drop(serve);

        // An import with an invalid row writes nothing, and leaves no entry.
        let before = audit(&env, &[]).len();
        let bad = env.file(
            "huono.csv",
            "id,name,email\nA3,Cecilia,cecilia@example.fi\nA4,Daniel,not-an-email\n",
        );
        let out = env.run(&["import", "customers", &bad.display().to_string()]);
        assert_eq!(out.status.code(), Some(1), "{backend}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("nothing was written"),
            "{}",
            stderr(&out)
        );
        assert_eq!(env.count("customers"), 2, "{backend}");
        let after = audit(&env, &[]);
        assert_eq!(after.len(), before, "{backend}: {:?}", after[0]);
        assert_eq!(
            audit(&env, &["--entity", "customers"])
                .iter()
                .filter(|e| e["action"] == "import")
                .count(),
            1
        );
    }
}
