//! Settings: JSON values by key, each change audited in its transaction.

use kanta_store::audit::AuditQuery;
use serde_json::json;

use crate::{each_backend, entry, raw_execute};

#[tokio::test]
async fn settings_are_set_read_and_audited() {
    each_backend(|store| async move {
        assert_eq!(store.setting("currency").await.unwrap(), None);
        assert!(store.settings().await.unwrap().is_empty());
        let audit = entry("settings", "setting_change");
        store
            .set_setting("currency", &json!("EUR"), &audit)
            .await
            .unwrap();
        store
            .set_setting(
                "trust",
                &json!({"ratio": 0.5, "labels": ["a", "b"]}),
                &audit,
            )
            .await
            .unwrap();
        store
            .set_setting("currency", &json!("SEK"), &audit)
            .await
            .unwrap();
        assert_eq!(store.setting("currency").await.unwrap(), Some(json!("SEK")));
        assert_eq!(
            store.settings().await.unwrap(),
            [
                ("currency".to_string(), json!("SEK")),
                (
                    "trust".to_string(),
                    json!({"ratio": 0.5, "labels": ["a", "b"]})
                ),
            ]
        );
        let (log, _) = store
            .audit_page(&AuditQuery {
                entity: Some("settings".into()),
                record_id: Some("currency".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        let changes: Vec<_> = log.iter().map(|r| r.entry.changes.clone()).collect();
        assert_eq!(
            changes,
            [
                json!({"currency": {"before": "EUR", "after": "SEK"}}),
                json!({"currency": {"before": null, "after": "EUR"}}),
            ]
        );
        // a value written by hand that is not JSON reads as a string
        raw_execute(
            &store,
            "INSERT INTO settings (key, value) VALUES ('legacy', 'plain text')",
        )
        .await
        .unwrap();
        assert_eq!(
            store.setting("legacy").await.unwrap(),
            Some(json!("plain text"))
        );
    })
    .await;
}
