//! Store-wide settings (currency, trust ratio, mail, ...): the `settings` table of
//! migration 0001, a key and its value as JSON text.
//!
//! [`Store::set_setting`] writes the value and its audit entry (the value before and
//! after) in one transaction. A value that is not JSON (written by hand) reads as a
//! JSON string.

use sqlx::AssertSqlSafe;

use crate::audit::{AuditEntry, change};
use crate::write::on_tx;
use crate::{Result, Store, with_pool};

/// A stored value: JSON, or the text itself when it is not.
fn parse(text: String) -> serde_json::Value {
    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
}

impl Store {
    /// The value of a setting, if set.
    pub async fn setting(&self, key: &str) -> Result<Option<serde_json::Value>> {
        let sql = "SELECT value FROM settings WHERE key = $1";
        let text: Option<String> = with_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(key)
            .fetch_optional(pool)
            .await?);
        Ok(text.map(parse))
    }

    /// Every setting, by key.
    pub async fn settings(&self) -> Result<Vec<(String, serde_json::Value)>> {
        let sql = "SELECT key, value FROM settings ORDER BY key";
        let rows: Vec<(String, String)> =
            with_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows.into_iter().map(|(k, v)| (k, parse(v))).collect())
    }

    /// Sets a setting and records `audit` in the same transaction. The entry's
    /// `record_id` defaults to the key, and its `changes` gain
    /// `{key: {"before": old or null, "after": value}}`.
    pub async fn set_setting(
        &self,
        key: &str,
        value: &serde_json::Value,
        audit: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let lock = if tx.is_postgres() { " FOR UPDATE" } else { "" };
        let read = format!("SELECT value FROM settings WHERE key = $1{lock}");
        let upsert = format!(
            "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, {now}) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            now = tx.now()
        );
        let before: Option<String> = on_tx!(&mut tx, c => sqlx::query_scalar(AssertSqlSafe(read))
            .bind(key)
            .fetch_optional(&mut **c)
            .await?);
        on_tx!(&mut tx, c => {
            sqlx::query(AssertSqlSafe(upsert))
                .bind(key)
                .bind(value.to_string())
                .execute(&mut **c)
                .await?;
        });
        let before = before.map_or(serde_json::Value::Null, parse);
        let entry = audit.completed(
            key,
            serde_json::json!({ key: change(before, value.clone()) }),
            serde_json::Value::Null,
        );
        tx.audit(&entry).await?;
        tx.commit().await?;
        self.wrote();
        Ok(())
    }
}
