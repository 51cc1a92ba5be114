//! Backups on both backends: `Core::backup` taken while an ingest keeps writing is a
//! consistent snapshot (whole batches only, between the counts seen just before and
//! just after it), restores to a fresh store with those counts, and is audited there;
//! the scheduled copies are pruned to the newest `keep`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kanta_core::{Acting, Core};
use kanta_domain::schema::{CUSTOMERS, TRANSACTIONS};
use kanta_domain::{Value, WriteBatch};
use kanta_store::Store;
use kanta_store::testing::{BACKENDS, TestDb};

use crate::support::{audit_of, count, fields, text};

const BATCH: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_an_ingest_restores_to_its_counts() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let core = Core::new(Store::open(&db.url).await.unwrap());
        let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
        for i in 0..10 {
            c.push(format!("c{i}"), [text(&format!("Customer {i}"))]);
        }
        core.write_batch(&Acting::cli(), c).await.unwrap();

        // The ingest: batches of BATCH orders, one transaction each, until stopped.
        let stop = Arc::new(AtomicBool::new(false));
        let ingest = {
            let core = core.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) && n < 400 {
                    let mut t = WriteBatch::new(
                        &TRANSACTIONS,
                        fields(
                            &TRANSACTIONS,
                            &["customer_id", "occurred_at", "amount", "currency"],
                        ),
                    );
                    for k in 0..BATCH {
                        let id = n * BATCH + k;
                        t.push(
                            format!("t{id}"),
                            [
                                text(&format!("c{}", id % 10)),
                                text("2024-05-01T10:00:00Z"),
                                Value::Int(1000 + id as i64),
                                text("EUR"),
                            ],
                        );
                    }
                    core.write_batch(&Acting::cli(), t).await.unwrap();
                    n += 1;
                }
                n
            })
        };
        // Some batches in, then the backup while the ingest goes on.
        while count(core.store(), &TRANSACTIONS).await < 5 * BATCH as i64 {
            assert!(!ingest.is_finished(), "{backend}: the ingest stopped early");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(if *backend == "sqlite" {
            "b.db"
        } else {
            "b.dump"
        });
        let before = count(core.store(), &TRANSACTIONS).await;
        let made = core.backup(&Acting::cli(), &file).await.unwrap();
        let after = count(core.store(), &TRANSACTIONS).await;
        stop.store(true, Ordering::Relaxed);
        let batches = ingest.await.unwrap();
        let total = count(core.store(), &TRANSACTIONS).await;
        assert_eq!(total, (batches * BATCH) as i64, "{backend}");
        assert!(made.bytes > 0 && file.is_file(), "{backend}: {made:?}");
        assert_eq!(audit_of(core.store(), "backup").await.len(), 1, "{backend}");

        // Restored into a fresh store: whole batches, as many as at the backup.
        let fresh = TestDb::new(backend);
        let restored = kanta_core::backup::restore(&fresh.url, &file, &Acting::cli())
            .await
            .unwrap_or_else(|e| panic!("{backend}: {e}"));
        let got = count(&restored, &TRANSACTIONS).await;
        assert_eq!(
            got % BATCH as i64,
            0,
            "{backend}: a half batch in the backup"
        );
        assert!(
            before <= got && got <= after,
            "{backend}: {before} <= {got} <= {after}"
        );
        assert_eq!(count(&restored, &CUSTOMERS).await, 10, "{backend}");
        assert_eq!(audit_of(&restored, "restore").await.len(), 1, "{backend}");
        restored.close().await;
        core.store().close().await;
    }
}

#[test]
fn scheduled_backups_keep_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "kanta-backup-20261201T000000Z.db",
        "kanta-backup-20261202T000000Z.db",
        "kanta-backup-20261203T000000Z.db",
        "other.db",
    ] {
        std::fs::write(dir.path().join(name), b"x").unwrap();
    }
    let gone = kanta_core::backup::prune(dir.path(), 2).unwrap();
    assert_eq!(gone.len(), 1);
    assert!(gone[0].ends_with("kanta-backup-20261201T000000Z.db"));
    assert!(dir.path().join("other.db").exists(), "not ours: kept");
    assert!(dir.path().join("kanta-backup-20261203T000000Z.db").exists());
}
