//! The demo writes into a real store (SQLite here; the CLI's tests cover PostgreSQL).

use kanta_store::Store;
use kanta_store::testing::TestDb;

use crate::common::default_data;

#[tokio::test(flavor = "multi_thread")]
async fn writes_into_a_store_and_again_changes_nothing() {
    let db = TestDb::sqlite();
    let store = Store::open(&db.url).await.expect("open");
    let data = default_data();
    for b in data {
        let s = store
            .write(b)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", b.entity.name));
        assert_eq!(s.inserted, b.len() as u64, "{}", b.entity.name);
        assert_eq!(s.customers_created, 0);
    }
    let counts = store.counts().await.unwrap();
    for (b, (entity, n)) in data.iter().zip(&counts) {
        assert_eq!(b.entity.name, *entity);
        assert_eq!(*n, b.len() as i64, "{entity}");
    }
    // Running the demo twice with the same seed and date is a no-op.
    for b in data {
        let s = store.write(b).await.unwrap();
        assert_eq!(s.unchanged, b.len() as u64, "{}", b.entity.name);
    }
    store.close().await;
}
