//! The store's settings: changed by managers, audited with the value before and
//! after, checked by key.

use kanta_core::{Acting, Channel, CoreError};
use kanta_domain::Currency;
use kanta_store::accounts::Role;
use serde_json::json;

use crate::support::{audit_log, each_core};

#[tokio::test]
async fn a_manager_changes_the_currency_audited() {
    each_core(|backend, core| async move {
        assert_eq!(core.currency().await.unwrap(), Currency::EUR, "{backend}");
        let manager = Acting::user(2, "maija@example.fi", Role::Manager, Channel::Ui)
            .from_ip(Some("192.0.2.7".into()));
        let stored = core
            .set_store_setting(&manager, "currency", " sek ")
            .await
            .unwrap();
        assert_eq!(stored, "SEK");
        assert_eq!(
            core.currency().await.unwrap(),
            "SEK".parse::<Currency>().unwrap(),
            "{backend}"
        );

        let log = audit_log(core.store()).await;
        assert_eq!(log.len(), 1, "{backend}: {log:?}");
        let e = &log[0].entry;
        assert_eq!(
            (e.action.as_str(), e.entity.as_str(), e.record_id.as_deref()),
            ("setting_change", "settings", Some("currency"))
        );
        assert_eq!(
            (
                e.actor_kind.as_str(),
                e.actor_name.as_str(),
                e.channel.as_str()
            ),
            ("user", "maija@example.fi", "ui")
        );
        assert_eq!(e.ip.as_deref(), Some("192.0.2.7"));
        assert_eq!(
            e.changes,
            json!({ "currency": { "before": "EUR", "after": "SEK" } }),
            "{backend}"
        );

        // A second change names the first as its before.
        core.set_store_setting(&manager, "currency", "usd")
            .await
            .unwrap();
        let log = audit_log(core.store()).await;
        assert_eq!(log.len(), 2);
        assert_eq!(
            log[1].entry.changes,
            json!({ "currency": { "before": "SEK", "after": "USD" } })
        );
        assert_eq!(core.currency().await.unwrap(), Currency::USD);
    })
    .await;
}

#[tokio::test]
async fn staff_may_not_change_settings_and_bad_values_are_named() {
    each_core(|backend, core| async move {
        let staff = Acting::user(3, "sanna@example.fi", Role::Staff, Channel::Ui);
        let r = core.set_store_setting(&staff, "currency", "SEK").await;
        assert!(
            matches!(r, Err(CoreError::Forbidden(_))),
            "{backend}: {r:?}"
        );
        let token = Acting::token(4, "shop", Role::Staff);
        let r = core.set_store_setting(&token, "language", "en").await;
        assert!(
            matches!(r, Err(CoreError::Forbidden(_))),
            "{backend}: {r:?}"
        );

        let manager = Acting::user(2, "maija@example.fi", Role::Manager, Channel::Ui);
        for (key, bad) in [
            ("currency", "euro"),
            ("time_zone", "helsinki"),
            ("language", "sv"),
            ("business_hours", "always"),
        ] {
            match core.set_store_setting(&manager, key, bad).await {
                Err(CoreError::Invalid(p)) => {
                    assert_eq!(p.len(), 1);
                    assert_eq!(p[0].field, key, "{backend}");
                    assert!(!p[0].reason.is_empty());
                }
                other => panic!("{backend}: {key}={bad}: {other:?}"),
            }
        }
        match core.set_store_setting(&manager, "colour", "red").await {
            Err(CoreError::Invalid(p)) => {
                assert_eq!(p[0].field, "key");
                assert!(p[0].reason.contains("colour"), "{p:?}");
            }
            other => panic!("{backend}: {other:?}"),
        }

        assert_eq!(core.currency().await.unwrap(), Currency::EUR);
        assert!(
            core.store().settings().await.unwrap().is_empty(),
            "{backend}"
        );
        assert!(audit_log(core.store()).await.is_empty(), "{backend}");

        // Normalised values are stored: Finnish business hours in English.
        let v = core
            .set_store_setting(&manager, "business_hours", "ma-pe 8.00-16.30")
            .await
            .unwrap();
        assert_eq!(v, "mon-fri 08:00-16:30");
        assert_eq!(
            core.store_settings().await.unwrap().business_hours,
            "mon-fri 08:00-16:30"
        );
    })
    .await;
}
