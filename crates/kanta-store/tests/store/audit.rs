//! The audit log: entries written in the transaction of their change (users, tokens,
//! a writer's rows) or on their own, read back by page and filter, and never changed.

use chrono::{Duration, Utc};
use kanta_domain::schema::CUSTOMERS;
use kanta_store::accounts::{NewUser, Role, UserUpdate};
use kanta_store::audit::{AuditEntry, AuditQuery};
use kanta_store::write::RunInfo;
use kanta_store::{Store, StoreError, WriteBatch};
use serde_json::json;

use crate::{each_backend, entry, fields, raw_count, raw_execute, text};

async fn log(store: &Store, q: AuditQuery) -> Vec<AuditEntry> {
    let (page, _) = store.audit_page(&q).await.unwrap();
    page.into_iter().map(|r| r.entry).collect()
}

async fn all(store: &Store) -> Vec<AuditEntry> {
    log(store, AuditQuery::default()).await
}

fn user<'a>(email: &'a str) -> NewUser<'a> {
    NewUser {
        email,
        name: "Aino",
        role: Role::Staff,
        password_hash: "$argon2id$fake",
    }
}

#[tokio::test]
async fn entries_page_newest_first_and_filter() {
    each_backend(|store| async move {
        let start = Utc::now() - Duration::seconds(1);
        for i in 0..7 {
            let mut e = entry("customers", "update");
            e.record_id = Some(format!("c{}", i % 2));
            if i == 3 {
                e.actor_kind = "user".into();
                e.actor_id = Some("42".into());
                e.actor_name = "aino@example.fi".into();
                e.channel = "ui".into();
                e.ip = Some("192.0.2.1".into());
                e.changes = json!({"name": {"before": "A", "after": "B"}});
                e.details = json!({"note": "<b>&</b>"});
            }
            store.record_audit(&e).await.unwrap();
        }
        // newest first, paged by the cursor, nothing skipped or repeated
        let mut q = AuditQuery {
            limit: 3,
            ..Default::default()
        };
        let mut ids = Vec::new();
        loop {
            let (page, next) = store.audit_page(&q).await.unwrap();
            assert!(page.len() <= 3);
            ids.extend(page.iter().map(|r| r.id));
            match next {
                Some(n) => q.before_id = Some(n),
                None => break,
            }
        }
        assert_eq!(ids.len(), 7);
        assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");

        // the entry reads back as written
        let (page, _) = store
            .audit_page(&AuditQuery {
                actor: Some("aino@example.fi".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page.len(), 1);
        let r = &page[0];
        assert!(r.at >= start && r.at <= Utc::now());
        assert_eq!(r.entry.actor_kind, "user");
        assert_eq!(r.entry.ip.as_deref(), Some("192.0.2.1"));
        assert_eq!(
            r.entry.changes,
            json!({"name": {"before": "A", "after": "B"}})
        );
        assert_eq!(r.entry.details, json!({"note": "<b>&</b>"}));
        // serialised flat: the id, the time and the entry's fields side by side
        let s = serde_json::to_value(r).unwrap();
        assert_eq!(s["actor_name"], "aino@example.fi");
        assert_eq!(s["id"], r.id);

        // the actor by id as well as by name
        let by_id = log(
            &store,
            AuditQuery {
                actor: Some("42".into()),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(by_id.len(), 1);
        let by_tester = log(
            &store,
            AuditQuery {
                actor: Some("tester".into()),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(by_tester.len(), 6);
        // a record
        let c1 = log(
            &store,
            AuditQuery {
                entity: Some("customers".into()),
                record_id: Some("c1".into()),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(c1.len(), 3);
        assert!(c1.iter().all(|e| e.record_id.as_deref() == Some("c1")));
        // a period: since is inclusive, until exclusive
        let now = Utc::now() + Duration::seconds(1);
        let in_period = |since, until| {
            let store = store.clone();
            async move {
                log(
                    &store,
                    AuditQuery {
                        since,
                        until,
                        ..Default::default()
                    },
                )
                .await
                .len()
            }
        };
        assert_eq!(in_period(Some(start), Some(now)).await, 7);
        assert_eq!(in_period(Some(now), None).await, 0);
        assert_eq!(in_period(None, Some(start)).await, 0);
    })
    .await;
}

#[tokio::test]
async fn user_and_token_changes_are_audited_in_their_transaction() {
    each_backend(|store| async move {
        let u = store
            .create_user(&user("Aino@Example.fi"), &entry("users", "create"))
            .await
            .unwrap();
        let log1 = all(&store).await;
        assert_eq!(log1.len(), 1);
        assert_eq!(log1[0].record_id, Some(u.id.to_string()), "the new id");
        assert_eq!(
            log1[0].changes["email"],
            json!({"before": null, "after": "aino@example.fi"})
        );
        assert_eq!(log1[0].changes["role"]["after"], "staff");

        // a failed write leaves no entry
        let err = store
            .create_user(&user("aino@example.fi"), &entry("users", "create"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Exists(_)), "{err}");
        assert_eq!(all(&store).await.len(), 1, "no entry for a duplicate email");
        let none = store
            .update_user(
                u.id + 100,
                &UserUpdate {
                    name: Some("x"),
                    ..Default::default()
                },
                &entry("users", "update"),
            )
            .await
            .unwrap();
        assert!(none.is_none());
        assert_eq!(all(&store).await.len(), 1, "no entry for a missing user");

        // an update records what changed, the caller's own keys winning
        let mut e = entry("users", "role_change");
        e.changes = json!({"note": "promoted"});
        let after = store
            .update_user(
                u.id,
                &UserUpdate {
                    name: Some("Aino"),
                    role: Some(Role::Manager),
                    password_hash: Some("$argon2id$other"),
                    ..Default::default()
                },
                &e,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(after.role, Role::Manager);
        let last = &all(&store).await[0];
        assert_eq!(last.action, "role_change");
        assert_eq!(
            last.changes["role"],
            json!({"before": "staff", "after": "manager"})
        );
        assert!(
            last.changes.get("name").is_none(),
            "unchanged fields are left out"
        );
        assert_eq!(last.changes["note"], "promoted");
        assert!(
            !last.changes.to_string().contains("argon2id"),
            "no password hash in the log: {}",
            last.changes
        );
        assert!(last.changes.get("password").is_some());

        // tokens
        let t = store
            .create_token(
                "web shop",
                Role::Staff,
                "digest",
                "kanta_ab",
                Some(u.id),
                &entry("api_tokens", "token_create"),
            )
            .await
            .unwrap();
        assert!(
            store
                .revoke_token(t.id, &entry("api_tokens", "token_revoke"))
                .await
                .unwrap()
        );
        assert!(
            !store
                .revoke_token(t.id, &entry("api_tokens", "token_revoke"))
                .await
                .unwrap(),
            "revoked already"
        );
        let tokens = log(
            &store,
            AuditQuery {
                entity: Some("api_tokens".into()),
                record_id: Some(t.id.to_string()),
                ..Default::default()
            },
        )
        .await;
        let actions: Vec<&str> = tokens.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["token_revoke", "token_create"]);
        assert_eq!(tokens[1].changes["name"]["after"], "web shop");
        assert_eq!(all(&store).await.len(), 4);
    })
    .await;
}

#[tokio::test]
async fn the_audit_log_refuses_updates_and_deletes() {
    each_backend(|store| async move {
        store
            .record_audit(&entry("users", "sign_in_failed"))
            .await
            .unwrap();
        for sql in [
            "UPDATE audit_log SET actor_name = 'someone else'",
            "DELETE FROM audit_log",
        ] {
            let err = raw_execute(&store, sql).await.unwrap_err();
            assert!(err.to_string().contains("append-only"), "{sql}: {err}");
        }
        if store.url().starts_with("postgres") {
            let err = raw_execute(&store, "TRUNCATE audit_log").await.unwrap_err();
            assert!(err.to_string().contains("append-only"), "{err}");
        }
        let log = all(&store).await;
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].actor_name, "tester");
    })
    .await;
}

#[tokio::test]
async fn a_writer_commits_its_entries_with_its_rows_or_drops_both() {
    each_backend(|store| async move {
        let f = fields(&CUSTOMERS, &["name"]);
        let batch = || {
            let mut b = WriteBatch::new(&CUSTOMERS, f.clone());
            b.push("c1".into(), [text("Aino")]);
            b
        };
        // dropped unfinished: neither the row nor the entry
        let mut w = store.writer(&CUSTOMERS, f.clone()).await.unwrap();
        w.write(batch()).await.unwrap();
        w.audit(&entry("customers", "create")).await.unwrap();
        drop(w);
        assert!(store.customer("c1").await.unwrap().is_none());
        assert!(all(&store).await.is_empty());
        // finished: both
        let mut w = store.writer(&CUSTOMERS, f.clone()).await.unwrap();
        w.write(batch()).await.unwrap();
        let mut e = entry("customers", "create");
        e.record_id = Some("c1".into());
        w.audit(&e).await.unwrap();
        let s = w.finish(&RunInfo::default()).await.unwrap();
        assert_eq!(s.inserted, 1);
        assert!(store.customer("c1").await.unwrap().is_some());
        assert_eq!(all(&store).await, [e]);
    })
    .await;
}

#[tokio::test]
async fn a_writer_with_no_rows_commits_only_what_it_carries() {
    each_backend(|store| async move {
        let runs = raw_count(&store, "SELECT count(*) FROM import_runs").await;
        let generation = store.generation();
        let mut w = store.writer(&CUSTOMERS, vec![]).await.unwrap();
        w.audit(&entry("settings", "sign_out")).await.unwrap();
        let s = w.finish(&RunInfo::default()).await.unwrap();
        assert_eq!((s.inserted, s.updated, s.unchanged), (0, 0, 0));
        assert_eq!(all(&store).await.len(), 1);
        assert_eq!(
            raw_count(&store, "SELECT count(*) FROM import_runs").await,
            runs,
            "no import run logged for a write of no rows"
        );
        assert_eq!(store.generation(), generation, "no data written");
        // a write that names its source is still logged, rows or not (an import
        // whose every row was rejected)
        let w = store.writer(&CUSTOMERS, vec![]).await.unwrap();
        w.finish(&RunInfo {
            source: "empty.csv".into(),
            rows_read: 3,
            rejected: 3,
        })
        .await
        .unwrap();
        assert_eq!(
            raw_count(&store, "SELECT count(*) FROM import_runs").await,
            runs + 1
        );
    })
    .await;
}

/// A token is answered from memory for `TOKEN_CACHE_SECONDS` after a read: a
/// revocation through the same store ends its use at once; one made by another
/// process (here: a second store on the same database) within that time.
#[tokio::test]
async fn a_revoked_token_stops_at_once_here_and_within_the_cache_time_elsewhere() {
    use kanta_store::accounts::TOKEN_CACHE_SECONDS;
    for backend in kanta_store::testing::BACKENDS {
        let db = kanta_store::testing::TestDb::new(backend);
        let here = Store::open(&db.url).await.unwrap();
        let elsewhere = Store::open(&db.url).await.unwrap();
        let mut made = Vec::new();
        for digest in ["digest-a", "digest-b"] {
            made.push(
                here.create_token(
                    digest,
                    Role::Staff,
                    digest,
                    "kanta_ab",
                    None,
                    &entry("api_tokens", "token_create"),
                )
                .await
                .unwrap(),
            );
            assert!(here.token_by_digest(digest).await.unwrap().is_some());
        }
        // Revoked here: refused here at once.
        assert!(
            here.revoke_token(made[0].id, &entry("api_tokens", "token_revoke"))
                .await
                .unwrap()
        );
        assert!(
            here.token_by_digest("digest-a").await.unwrap().is_none(),
            "{backend}: revoked through this store"
        );
        // Revoked elsewhere: still answered from memory, then refused. (A revocation
        // here forgets every token: read it again first.)
        assert!(here.token_by_digest("digest-b").await.unwrap().is_some());
        assert!(
            elsewhere
                .revoke_token(made[1].id, &entry("api_tokens", "token_revoke"))
                .await
                .unwrap()
        );
        assert!(
            here.token_by_digest("digest-b").await.unwrap().is_some(),
            "{backend}: read less than {TOKEN_CACHE_SECONDS} s ago"
        );
        assert!(
            elsewhere
                .token_by_digest("digest-b")
                .await
                .unwrap()
                .is_none()
        );
        tokio::time::sleep(std::time::Duration::from_millis(
            TOKEN_CACHE_SECONDS * 1000 + 100,
        ))
        .await;
        assert!(
            here.token_by_digest("digest-b").await.unwrap().is_none(),
            "{backend}: {TOKEN_CACHE_SECONDS} s after the read"
        );
        here.close().await;
        elsewhere.close().await;
    }
}

/// A write's run in the import log and its audit entries are committed with its rows
/// (on PostgreSQL the run and the first entry are one statement): all of them there
/// after the commit, the run with its source and counts, the entries in order.
#[tokio::test]
async fn a_finished_write_logs_its_run_and_every_audit_entry() {
    each_backend(|store| async move {
        let runs = raw_count(&store, "SELECT count(*) FROM import_runs").await;
        let mut w = store
            .writer(&CUSTOMERS, fields(&CUSTOMERS, &["name"]))
            .await
            .unwrap();
        let mut b = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
        b.push("c1".into(), [text("Aino")]);
        b.push("c2".into(), [text("Eino")]);
        w.write(b).await.unwrap();
        let mut first = entry("customers", "create");
        first.record_id = Some("c1".into());
        first.details = json!({"note": "<b>&</b>"});
        let mut second = entry("customers", "create");
        second.record_id = Some("c2".into());
        let entries = vec![first.clone(), second.clone()];
        let run = RunInfo {
            source: "api".into(),
            rows_read: 2,
            rejected: 0,
        };
        let s = w.finish_audited(&run, move |_| entries).await.unwrap();
        assert_eq!(s.inserted, 2);
        assert_eq!(all(&store).await, [second, first], "newest first");
        assert_eq!(
            raw_count(&store, "SELECT count(*) FROM import_runs").await,
            runs + 1
        );
        assert_eq!(
            raw_count(
                &store,
                "SELECT count(*) FROM import_runs WHERE entity = 'customers' AND source = 'api' \
                 AND rows_read = 2 AND inserted = 2 AND updated = 0 AND rejected = 0"
            )
            .await,
            1
        );
    })
    .await;
}
