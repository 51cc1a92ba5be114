//! The GDPR's rights on both backends: an export holds every record about the
//! customer; an erasure leaves none of their name, email, phone, contact or words in
//! any table (SQLite: nor in the file, after a WAL checkpoint and VACUUM; PostgreSQL:
//! after VACUUM FULL), keeps their orders in the figures, is for admins with a reason,
//! and is audited without personal data; the consent ledger records every change with
//! its source, wording version and address.

use std::path::{Path, PathBuf};

use kanta_core::import::ImportRequest;
use kanta_core::survey_send::{Audience, SendChannel};
use kanta_core::surveys::SurveyInput;
use kanta_core::{Acting, Channel, Core, CoreError};
use kanta_domain::schema::{CASES, CONTACTS, CUSTOMERS, FEEDBACK, INTERACTIONS, TRANSACTIONS};
use kanta_domain::{Currency, Value};
use kanta_import::{ImportOptions, Mapping};
use kanta_store::accounts::Role;
use kanta_store::testing::{sqlite_file_bytes, tables_containing, vacuum};

use crate::support::{audit_of, count, each_core, fields, text};

fn admin() -> Acting {
    Acting::user(1, "admin@example.fi", Role::Admin, Channel::Ui)
}

fn manager() -> Acting {
    Acting::user(2, "maija@example.fi", Role::Manager, Channel::Ui)
}

async fn import(core: &Core, dir: &Path, entity: &'static kanta_domain::Entity, body: &str) {
    let path: PathBuf = dir.join(format!("{}.csv", entity.name));
    std::fs::write(&path, body).unwrap();
    let req = ImportRequest {
        file: path.clone(),
        options: ImportOptions {
            entity,
            format: None,
            delimiter: None,
            has_header: true,
            mapping: Mapping::default(),
            date_format: None,
            currency: Currency::EUR,
            zone: kanta_domain::time::Tz::UTC,
        },
        skip_invalid: false,
        rejects_file: None,
        dry_run: false,
    };
    let acting = Acting::import(&path.display().to_string());
    core.import_file(&acting, &req, Box::new(|_, _| {}))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// The unique strings of the customer to erase.
struct Person {
    name: String,
    email: String,
    new_email: String,
    phone: String,
    contact: String,
    contact_email: String,
    sentence: String,
    case_text: String,
    note: String,
}

impl Person {
    fn new(backend: &str) -> Person {
        let u = format!(
            "{}{}",
            chrono::Utc::now().timestamp_micros() % 100_000_000,
            backend.len()
        );
        Person {
            name: format!("Zyxwvu Erasetest{u}"),
            email: format!("erase{u}@example.fi"),
            new_email: format!("moved{u}@example.fi"),
            phone: format!("+35840{}", &format!("{u:0>8}")[..7]),
            contact: format!("Qwerty Contactperson{u}"),
            contact_email: format!("contact{u}@example.fi"),
            sentence: format!("Uniquesentence{u} about the blue teapot"),
            case_text: format!("Casesummary{u}: the teapot leaked"),
            note: format!("Callnote{u}: promised a new lid"),
        }
    }

    fn needles(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("name", &self.name),
            ("email", &self.email),
            ("new email", &self.new_email),
            ("phone", &self.phone),
            ("contact", &self.contact),
            ("contact email", &self.contact_email),
            ("sentence", &self.sentence),
            ("case text", &self.case_text),
            ("note", &self.note),
        ]
    }
}

/// Customer E1 (the person, with every kind of record) and K1 (kept).
async fn setup(core: &Core, dir: &Path, p: &Person) {
    import(
        core,
        dir,
        &CUSTOMERS,
        &format!(
            "id,name,email,phone,locale,survey_consent\n\
             E1,{},{},{},fi,true\nK1,Kept Customer,kept@example.fi,+358409999999,fi,true\n",
            p.name, p.email, p.phone
        ),
    )
    .await;
    import(
        core,
        dir,
        &CONTACTS,
        &format!(
            "id,customer_id,name,email\nE1-c1,E1,{},{}\n",
            p.contact, p.contact_email
        ),
    )
    .await;
    import(
        core,
        dir,
        &TRANSACTIONS,
        "id,customer_id,occurred_at,amount,currency\n\
         t1,E1,2024-01-05,10.00,EUR\nt2,K1,2024-01-06,20.00,EUR\n",
    )
    .await;
    import(
        core,
        dir,
        &FEEDBACK,
        &format!(
            "id,customer_id,answered_at,nps,comment\nf1,E1,2024-02-01,3,{}\n",
            p.sentence
        ),
    )
    .await;
    import(
        core,
        dir,
        &CASES,
        &format!(
            "id,customer_id,opened_at,category,severity,status,summary\n\
             c1,E1,2024-02-02,quality,normal,open,\"{}\"\n",
            p.case_text
        ),
    )
    .await;
    import(
        core,
        dir,
        &INTERACTIONS,
        &format!(
            "id,customer_id,occurred_at,kind,note\ni1,E1,2024-02-03,call,\"{}\"\n",
            p.note
        ),
    )
    .await;
    // A change on a page: the audit log keeps the email before and after.
    core.update_record(
        &admin(),
        &CUSTOMERS,
        "E1",
        fields(&CUSTOMERS, &["email"]),
        vec![text(&p.new_email)],
    )
    .await
    .unwrap();
    // A survey mailed to them: an invitation with its token and a message in the outbox.
    let w = mail_a_survey(core).await;
    assert_eq!(w.invited, 2, "{w:?}");
}

/// An active survey "kysely" mailed to every customer (a wave by the manager).
async fn mail_a_survey(core: &Core) -> kanta_core::survey_send::WaveResult {
    core.create_survey(
        &manager(),
        Some("kysely"),
        SurveyInput {
            name: Some("Kysely".into()),
            ..SurveyInput::default()
        },
    )
    .await
    .unwrap();
    core.set_survey_status(&manager(), "kysely", "active")
        .await
        .unwrap();
    core.send_wave(
        &manager(),
        "kysely",
        Audience::All,
        SendChannel::Email,
        false,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn an_erased_customer_leaves_no_trace_and_their_orders_still_count() {
    each_core(|backend, core| async move {
        let dir = tempfile::tempdir().unwrap();
        let p = Person::new(backend);
        setup(&core, dir.path(), &p).await;
        let store = core.store();

        // The export holds every record shown on their page, and is audited.
        let export = core.export_customer(&admin(), "E1").await.unwrap();
        let json = export.to_json().to_string();
        for (what, s) in p.needles() {
            if what == "email" {
                continue; // replaced by the new one before the export
            }
            assert!(json.contains(s), "{backend}: the export lacks the {what}");
        }
        let tables: Vec<&str> = export.tables.iter().map(|t| t.table.as_str()).collect();
        for t in [
            "customers",
            "contacts",
            "transactions",
            "feedback",
            "cases",
            "interactions",
            "survey_invitations",
            "outbox",
            "consent_entries",
            "audit_log",
        ] {
            assert!(tables.contains(&t), "{backend}: no {t} in {tables:?}");
        }
        assert!(
            export
                .summary
                .starts_with("Tiedot, jotka meillä on asiakkaasta")
        );
        let zip = export.to_zip().unwrap();
        assert_eq!(&zip[..2], b"PK", "{backend}: not a zip");
        assert_eq!(audit_of(store, "export").await.len(), 1, "{backend}");
        assert!(matches!(
            core.export_customer(&manager(), "E1").await,
            Err(CoreError::Forbidden(_))
        ));

        // Admins only, and only with a reason.
        assert!(matches!(
            core.erase_customer(&manager(), "E1", "asked").await,
            Err(CoreError::Forbidden(_))
        ));
        assert!(matches!(
            core.erase_customer(&admin(), "E1", "  ").await,
            Err(CoreError::Invalid(_))
        ));
        assert!(matches!(
            core.erase_customer(&admin(), "nobody", "asked").await,
            Err(CoreError::NotFound(_))
        ));

        let erased = core
            .erase_customer(&admin(), "E1", "the customer asked by mail")
            .await
            .unwrap();
        assert!(erased.new_id.starts_with("erased-"), "{backend}");

        // The orders still count: two transactions, and the anonymised row keeps its
        // revenue under the new id, with no name or email.
        assert_eq!(count(store, &TRANSACTIONS).await, 2, "{backend}");
        assert_eq!(count(store, &CUSTOMERS).await, 2, "{backend}");
        let kept = core
            .export_customer(&admin(), &erased.new_id)
            .await
            .unwrap();
        let row = &kept.tables[0].rows[0];
        assert_eq!(row["revenue_minor"], serde_json::json!(1000), "{backend}");
        assert!(
            row["name"].is_null() && row["email"].is_null(),
            "{backend}: {row:?}"
        );
        let feedback = kept.tables.iter().find(|t| t.table == "feedback").unwrap();
        assert_eq!(
            feedback.rows[0]["nps"],
            serde_json::json!(3),
            "{backend}: NPS kept"
        );

        // The erasure's audit entry: who, when and why, nothing about the person.
        let entries = audit_of(store, "erase").await;
        assert_eq!(entries.len(), 1, "{backend}");
        let e = &entries[0];
        assert_eq!(e.entry.actor_name, "admin@example.fi");
        assert_eq!(e.entry.details["reason"], "the customer asked by mail");
        assert_eq!(e.entry.record_id.as_deref(), Some(erased.new_id.as_str()));

        // Nothing left, in any table, after the store's own clean-up of deleted data.
        vacuum(store).await;
        for (what, s) in p.needles() {
            let found = tables_containing(store, s).await;
            assert!(
                found.is_empty(),
                "{backend}: the {what} is left in {found:?}"
            );
        }
        assert!(!tables_containing(store, "Kept Customer").await.is_empty());
        if backend == "sqlite" {
            let bytes = sqlite_file_bytes(store.url());
            for (what, s) in p.needles() {
                assert!(
                    !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                    "{backend}: the {what} is left in the database file"
                );
            }
        }

        // The old id finds nothing.
        assert!(matches!(
            core.export_customer(&admin(), "E1").await,
            Err(CoreError::NotFound(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn the_consent_ledger_records_every_change_with_its_source() {
    each_core(|backend, core| async move {
        let dir = tempfile::tempdir().unwrap();
        import(
            &core,
            dir.path(),
            &CUSTOMERS,
            "id,name,email,survey_consent,marketing_consent\nC1,Cee,c@example.fi,true,false\n",
        )
        .await;
        // A change on a page, from an address.
        let page = Acting::user(1, "admin@example.fi", Role::Admin, Channel::Ui)
            .from_ip(Some("192.0.2.7".into()));
        core.update_record(
            &page,
            &CUSTOMERS,
            "C1",
            fields(&CUSTOMERS, &["marketing_consent", "do_not_contact"]),
            vec![Value::Bool(true), Value::Bool(true)],
        )
        .await
        .unwrap();
        // A write that changes no consent adds nothing.
        core.update_record(
            &page,
            &CUSTOMERS,
            "C1",
            fields(&CUSTOMERS, &["name"]),
            vec![text("Cee Two")],
        )
        .await
        .unwrap();

        let h = core.consent_history(&page, "C1").await.unwrap();
        let got: Vec<(&str, Option<bool>, &str)> = h
            .iter()
            .map(|e| (e.purpose.as_str(), e.value, e.source.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("survey", Some(true), "import"),
                ("marketing", Some(false), "import"),
                ("marketing", Some(true), "page"),
                ("do_not_contact", Some(true), "page"),
            ],
            "{backend}"
        );
        let on_page = &h[2];
        assert_eq!(on_page.address.as_deref(), Some("192.0.2.7"), "{backend}");
        assert_eq!(
            on_page.wording.as_deref(),
            Some(kanta_core::privacy::CONSENT_WORDING)
        );
        assert_eq!(on_page.actor.as_deref(), Some("admin@example.fi"));
        assert!(h[0].actor.as_deref().unwrap().ends_with("customers.csv"));

        // Surveys obey "do not contact" though survey consent is given.
        let w = mail_a_survey(&core).await;
        assert_eq!(w.invited, 0, "{backend}: {w:?}");
        assert!(
            w.reasons.contains(&("do_not_contact".to_string(), 1)),
            "{backend}: {:?}",
            w.reasons
        );
    })
    .await;
}

#[tokio::test]
async fn retention_schedules_report_then_remove_what_is_old() {
    each_core(|backend, core| async move {
        let dir = tempfile::tempdir().unwrap();
        import(
            &core,
            dir.path(),
            &CUSTOMERS,
            "id,name,email\nOLD,Olli Vanha,olli@example.fi\nNEW,Noora Uusi,noora@example.fi\n",
        )
        .await;
        import(
            &core,
            dir.path(),
            &TRANSACTIONS,
            "id,customer_id,occurred_at,amount,currency\n\
             o1,OLD,2015-01-05,10.00,EUR\nn1,NEW,2026-01-05,20.00,EUR\n",
        )
        .await;
        import(
            &core,
            dir.path(),
            &FEEDBACK,
            "id,customer_id,answered_at,nps,comment\n\
             f-old,NEW,2018-02-01,9,Vanha kommentti\nf-new,NEW,2026-02-01,10,Uusi kommentti\n",
        )
        .await;
        let admin = admin();
        let now = chrono::Utc::now();
        // Nothing set: nothing goes.
        let r = core.run_retention(&admin, now, true).await.unwrap();
        assert!(r.items.iter().all(|i| i.count == 0), "{backend}: {r:?}");
        core.set_store_setting(&admin, "retention_inactive_customer_years", "5")
            .await
            .unwrap();
        core.set_store_setting(&admin, "retention_answer_text_years", "3 years")
            .await
            .unwrap();
        assert!(
            core.set_store_setting(&admin, "retention_audit_years", "ever")
                .await
                .is_err()
        );

        let dry = core.run_retention(&admin, now, true).await.unwrap();
        let n = |r: &kanta_core::retention::RetentionReport, k: &str| {
            r.items.iter().find(|i| i.kind == k).unwrap().count
        };
        assert_eq!(n(&dry, "inactive_customers"), 1, "{backend}: {dry:?}");
        assert_eq!(n(&dry, "answer_text"), 1, "{backend}");
        assert!(
            core.export_customer(&admin, "OLD").await.is_ok(),
            "dry run changes nothing"
        );
        assert!(audit_of(core.store(), "retention").await.is_empty());
        assert!(matches!(
            core.run_retention(&manager(), now, true).await,
            Err(CoreError::Forbidden(_))
        ));

        let done = core.run_retention(&admin, now, false).await.unwrap();
        assert_eq!(n(&done, "inactive_customers"), 1, "{backend}");
        assert!(matches!(
            core.export_customer(&admin, "OLD").await,
            Err(CoreError::NotFound(_))
        ));
        let kept = core.export_customer(&admin, "NEW").await.unwrap();
        let fb = kept.tables.iter().find(|t| t.table == "feedback").unwrap();
        let comment = |id: &str| {
            fb.rows
                .iter()
                .find(|r| r["external_id"] == id)
                .map(|r| r["comment"].clone())
                .unwrap()
        };
        assert!(comment("f-old").is_null(), "{backend}: old text gone");
        assert_eq!(comment("f-new"), "Uusi kommentti", "{backend}");
        let entries = audit_of(core.store(), "retention").await;
        assert_eq!(entries.len(), 1, "{backend}");
        assert_eq!(entries[0].entry.details["removed"]["answer_text"], 1);
        // Run again: nothing more.
        let again = core.run_retention(&admin, now, true).await.unwrap();
        assert!(
            again.items.iter().all(|i| i.count == 0),
            "{backend}: {again:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn double_opt_in_gives_marketing_consent_when_the_customer_confirms() {
    each_core(|backend, core| async move {
        let dir = tempfile::tempdir().unwrap();
        import(
            &core,
            dir.path(),
            &CUSTOMERS,
            "id,name,email,locale,marketing_consent\n\
             M1,Maija,maija@example.fi,fi,false\nY1,Yes Already,y@example.fi,en,true\n\
             N1,No Mail,,fi,false\n",
        )
        .await;
        let staff = Acting::user(3, "sanna@example.fi", Role::Staff, Channel::Ui);
        assert!(matches!(
            core.request_marketing_consent(&staff, "Y1").await,
            Err(CoreError::Conflict { .. })
        ));
        assert!(matches!(
            core.request_marketing_consent(&staff, "N1").await,
            Err(CoreError::Invalid(_))
        ));
        core.request_marketing_consent(&staff, "M1").await.unwrap();
        // The mail, in Finnish, with the link.
        let mails = core.store().outbox(50).await.unwrap();
        let mail = mails
            .iter()
            .find(|m| m.to == "maija@example.fi")
            .expect("mailed");
        assert!(mail.subject.starts_with("Vahvista"), "{}", mail.subject);
        let token = mail
            .text
            .split("/c/")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .expect("a link")
            .to_string();

        use kanta_core::privacy::OptIn;
        assert_eq!(
            core.open_opt_in(&token).await.unwrap(),
            OptIn::Open {
                locale: Some("fi".into()),
                done: false
            }
        );
        assert_eq!(core.open_opt_in("forged").await.unwrap(), OptIn::Invalid);
        let before = core.consent_history(&staff, "M1").await.unwrap().len();
        let done = core
            .confirm_opt_in(&token, Channel::Ui, Some("198.51.100.4".into()))
            .await
            .unwrap();
        assert_eq!(
            done,
            OptIn::Open {
                locale: Some("fi".into()),
                done: true
            }
        );
        let h = core.consent_history(&staff, "M1").await.unwrap();
        assert_eq!(h.len(), before + 1, "{backend}: {h:?}");
        let last = h.last().unwrap();
        assert_eq!(
            (last.purpose.as_str(), last.value, last.source.as_str()),
            ("marketing", Some(true), "double_opt_in"),
            "{backend}"
        );
        assert_eq!(last.address.as_deref(), Some("198.51.100.4"));
        assert_eq!(
            last.wording.as_deref(),
            Some(kanta_core::privacy::CONSENT_WORDING)
        );
        // Again: nothing more.
        core.confirm_opt_in(&token, Channel::Ui, None)
            .await
            .unwrap();
        assert_eq!(
            core.consent_history(&staff, "M1").await.unwrap().len(),
            h.len()
        );
    })
    .await;
}
