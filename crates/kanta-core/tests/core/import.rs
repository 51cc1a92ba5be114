//! Importing a file through the one write path: all rows or none (or the valid ones
//! with `skip_invalid`), audited as one entry naming the file and its counts.

use std::path::{Path, PathBuf};

use kanta_core::Acting;
use kanta_core::import::{ImportOutcome, ImportRequest};
use kanta_domain::Currency;
use kanta_domain::schema::{CUSTOMERS, TRANSACTIONS};
use kanta_import::{ImportOptions, Mapping};
use serde_json::json;

use crate::support::{assert_empty, audit_log, count, each_core};

const HEADER: &str = "id,customer_id,occurred_at,amount,currency,kind\n";
const VALID: &str = "o1,c1,2024-01-03T10:00:00Z,10.00,EUR,order\n\
                     o2,c1,2024-02-03T10:00:00Z,20.00,EUR,order\n\
                     o3,c2,2024-03-03T10:00:00Z,30.00,EUR,order\n";
const INVALID: &str = "o4,c2,2024-03-04T10:00:00Z,thirty,EUR,order\n";

fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn request(file: &Path) -> ImportRequest {
    ImportRequest {
        file: file.to_path_buf(),
        options: ImportOptions {
            entity: &TRANSACTIONS,
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
    }
}

async fn import(core: &kanta_core::Core, req: &ImportRequest) -> ImportOutcome {
    let acting = Acting::import(&req.file.display().to_string());
    core.import_file(&acting, req, Box::new(|_, _| {}))
        .await
        .unwrap()
}

#[tokio::test]
async fn an_import_is_one_audit_entry_with_its_counts() {
    each_core(|backend, core| async move {
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path(), "orders.csv", &format!("{HEADER}{VALID}"));
        let name = path.display().to_string();
        let out = import(&core, &request(&path)).await;
        let s = &out.summary;
        assert!(s.written, "{backend}");
        assert_eq!(
            (
                s.rows_read,
                s.inserted,
                s.updated,
                s.rejected,
                s.customers_created
            ),
            (3, 3, 0, 0, 2),
            "{backend}: {s:?}"
        );
        let store = core.store();
        assert_eq!(count(store, &TRANSACTIONS).await, 3);
        assert_eq!(count(store, &CUSTOMERS).await, 2);
        let o2 = store.get(&TRANSACTIONS, "o2").await.unwrap().unwrap();
        assert_eq!(o2.get("amount").as_int(), Some(2000));

        let log = audit_log(store).await;
        assert_eq!(log.len(), 1, "{backend}: {log:?}");
        let e = &log[0].entry;
        assert_eq!(
            (
                e.action.as_str(),
                e.entity.as_str(),
                e.actor_kind.as_str(),
                e.channel.as_str()
            ),
            ("import", "transactions", "import", "import")
        );
        assert_eq!(e.actor_name, name, "the actor is the file");
        assert_eq!(e.details["file"], json!(name));
        assert_eq!(e.details["rows_read"], json!(3));
        assert_eq!(e.details["inserted"], json!(3));
        assert_eq!(e.details["updated"], json!(0));
        assert_eq!(e.details["rejected"], json!(0));
        assert_eq!(e.details["customers_created"], json!(2));

        // The same file again: nothing new, all unchanged, audited again.
        let again = import(&core, &request(&path)).await.summary;
        assert_eq!(
            (
                again.inserted,
                again.updated,
                again.unchanged,
                again.rejected
            ),
            (0, 0, 3, 0),
            "{backend}: {again:?}"
        );
        assert_eq!(count(store, &TRANSACTIONS).await, 3);
        let log = audit_log(store).await;
        assert_eq!(log.len(), 2);
        assert_eq!(log[1].entry.details["inserted"], json!(0));
        assert_eq!(log[1].entry.details["unchanged"], json!(3));
    })
    .await;
}

#[tokio::test]
async fn an_invalid_row_writes_nothing_unless_skipped() {
    each_core(|backend, core| async move {
        let store = core.store();
        let dir = tempfile::tempdir().unwrap();
        let path = file(
            dir.path(),
            "orders.csv",
            &format!("{HEADER}{VALID}{INVALID}"),
        );

        let out = import(&core, &request(&path)).await;
        assert!(!out.summary.written, "{backend}");
        assert_eq!((out.summary.rows_read, out.summary.rejected), (4, 1));
        assert_eq!(out.parsed.errors.len(), 1);
        assert_eq!(out.parsed.errors[0].field, "amount");
        assert_empty(store, backend).await;
        assert!(audit_log(store).await.is_empty(), "{backend}: no entry");
        assert!(!path.with_extension("csv.rejects.csv").exists());

        // With skip_invalid: the valid rows, the reject file, an entry saying 1.
        let mut req = request(&path);
        req.skip_invalid = true;
        let out = import(&core, &req).await;
        let s = &out.summary;
        assert!(s.written);
        assert_eq!(
            (s.rows_read, s.inserted, s.rejected),
            (4, 3, 1),
            "{backend}: {s:?}"
        );
        assert_eq!(count(store, &TRANSACTIONS).await, 3);
        assert!(store.get(&TRANSACTIONS, "o4").await.unwrap().is_none());
        let rejects = PathBuf::from(s.rejects_file.as_deref().expect("a reject file"));
        assert_eq!(rejects, dir.path().join("orders.csv.rejects.csv"));
        let text = std::fs::read_to_string(&rejects).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[1].starts_with("5,amount,") && lines[1].contains("thirty"),
            "{text}"
        );

        let log = audit_log(store).await;
        assert_eq!(log.len(), 1, "{backend}: {log:?}");
        let d = &log[0].entry.details;
        assert_eq!(d["rejected"], json!(1));
        assert_eq!(d["inserted"], json!(3));
        assert_eq!(d["rows_read"], json!(4));
        assert_eq!(d["rejects_file"], json!(rejects.display().to_string()));

        // A reject file named by the caller.
        let mut req = request(&path);
        req.skip_invalid = true;
        req.rejects_file = Some(dir.path().join("bad.csv"));
        let out = import(&core, &req).await;
        assert_eq!((out.summary.unchanged, out.summary.rejected), (3, 1));
        assert!(dir.path().join("bad.csv").is_file());
    })
    .await;
}

#[tokio::test]
async fn a_dry_run_writes_nothing() {
    each_core(|backend, core| async move {
        let store = core.store();
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path(), "orders.csv", &format!("{HEADER}{VALID}"));
        let mut req = request(&path);
        req.dry_run = true;
        let s = import(&core, &req).await.summary;
        assert!(s.dry_run && !s.written, "{backend}");
        assert_eq!((s.rows_read, s.records, s.rejected), (3, 3, 0));
        assert_empty(store, backend).await;
        assert!(audit_log(store).await.is_empty(), "{backend}");

        // Also with invalid rows, and skip_invalid.
        let path = file(dir.path(), "bad.csv", &format!("{HEADER}{VALID}{INVALID}"));
        let mut req = request(&path);
        req.dry_run = true;
        req.skip_invalid = true;
        let s = import(&core, &req).await.summary;
        assert_eq!((s.rejected, s.written), (1, false));
        assert_empty(store, backend).await;
        assert!(audit_log(store).await.is_empty());
        assert!(!dir.path().join("bad.csv.rejects.csv").exists());
    })
    .await;
}
