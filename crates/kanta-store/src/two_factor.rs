//! Two-factor sign-in (issue 15; migration 0017): each user's TOTP key, their
//! recovery codes' digests, and sign-ins waiting for a code.
//!
//! The codes themselves are the core's (`kanta_core::two_factor`); this module keeps
//! state so that it holds across server instances:
//! - a code is accepted once: [`Store::accept_totp_step`] moves the user's newest
//!   accepted 30-second step forward in one conditional `UPDATE`, so two requests with
//!   the same code (even on two instances) cannot both pass;
//! - a recovery code is used once ([`Store::use_recovery_code`], the same way);
//! - a sign-in whose password was right waits as a [`Challenge`] (the browser holds
//!   the secret, the store its digest), for a limited time and number of tries.
//!
//! Turning two-factor sign-in on or off writes its audit entry in the same
//! transaction (see [`crate::accounts`]).

use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};
use sqlx::Row;

use crate::accounts::time;
use crate::audit::{AuditEntry, change};
use crate::write::on_tx;
use crate::{Result, Store, with_pool};

/// A user's TOTP keys (base32).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TotpState {
    /// The key in force; `None`: two-factor sign-in is off.
    pub secret: Option<String>,
    /// A key shown for setting up and not yet confirmed by a code.
    pub pending: Option<String>,
    /// The newest 30-second step whose code was accepted.
    pub last_step: Option<i64>,
}

/// What a waiting sign-in still needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengePurpose {
    /// A code from the user's authenticator (or a recovery code).
    Code,
    /// Setting two-factor sign-in up (required for the user's role) first.
    Enrol,
}

impl ChallengePurpose {
    fn as_str(self) -> &'static str {
        match self {
            ChallengePurpose::Code => "code",
            ChallengePurpose::Enrol => "enrol",
        }
    }
}

/// A sign-in whose password was right, waiting for its second step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub id: i64,
    pub user_id: i64,
    pub purpose: ChallengePurpose,
    /// Wrong codes given so far.
    pub tries: i64,
    pub expires_at: DateTime<Utc>,
}

/// Deletes a user's recovery codes and inserts `digests`, on the transaction's
/// connection `c` (either backend).
macro_rules! replace_codes {
    ($c:ident, $user_id:expr, $digests:expr, $now:expr) => {{
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind($user_id)
            .execute(&mut **$c)
            .await?;
        for d in $digests {
            sqlx::query(
                "INSERT INTO recovery_codes (user_id, digest, created_ms) VALUES ($1, $2, $3)",
            )
            .bind($user_id)
            .bind(d)
            .bind($now)
            .execute(&mut **$c)
            .await?;
        }
    }};
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

impl Store {
    /// A user's TOTP keys, `None` when there is no such user.
    pub async fn totp_state(&self, user_id: i64) -> Result<Option<TotpState>> {
        let sql = "SELECT totp_secret, totp_pending, totp_last_step FROM users WHERE id = $1";
        with_pool!(self, pool => {
            let row = sqlx::query(sql).bind(user_id).fetch_optional(pool).await?;
            row.map(|r| -> Result<TotpState> {
                Ok(TotpState {
                    secret: r.try_get(0)?,
                    pending: r.try_get(1)?,
                    last_step: r.try_get(2)?,
                })
            })
            .transpose()
        })
    }

    /// Keeps `secret` as the key being set up (replacing any earlier one).
    pub async fn set_totp_pending(&self, user_id: i64, secret: &str) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE users SET totp_pending = $2 WHERE id = $1")
                .bind(user_id)
                .bind(secret)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Turns two-factor sign-in on with the pending key `secret`, whose code of
    /// `step` was just checked: the key is kept, `step` counts as used, the recovery
    /// codes are replaced by `code_digests`, and `audit` is written, in one
    /// transaction. False (and nothing written) when `secret` is no longer the
    /// pending key (another set-up replaced it).
    pub async fn enable_totp(
        &self,
        user_id: i64,
        secret: &str,
        step: i64,
        code_digests: &[String],
        audit: &AuditEntry,
    ) -> Result<bool> {
        let now = ms(Utc::now());
        let mut tx = self.begin().await?;
        let n = on_tx!(&mut tx, c => {
            let n = sqlx::query(
                "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, \
                 totp_last_step = $3, totp_enabled_ms = $4 \
                 WHERE id = $1 AND totp_pending = $2",
            )
            .bind(user_id)
            .bind(secret)
            .bind(step)
            .bind(now)
            .execute(&mut **c)
            .await?
            .rows_affected();
            if n == 1 {
                replace_codes!(c, user_id, code_digests, now);
            }
            n
        });
        if n == 0 {
            return Ok(false);
        }
        let changes = json!({ "two_factor": change(json!(false), json!(true)) });
        tx.audit(&audit.completed(
            user_id,
            changes,
            json!({ "recovery_codes": code_digests.len() }),
        ))
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Turns two-factor sign-in off (the user's own choice, or an admin's reset when
    /// the authenticator is lost): the keys and recovery codes go, with `audit`, in
    /// one transaction; `end_sessions` also ends the user's sessions. False when it
    /// was not on (nothing written).
    pub async fn disable_totp(
        &self,
        user_id: i64,
        end_sessions: bool,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let n = on_tx!(&mut tx, c => {
            let n = sqlx::query(
                "UPDATE users SET totp_secret = NULL, totp_pending = NULL, \
                 totp_last_step = NULL, totp_enabled_ms = NULL \
                 WHERE id = $1 AND totp_secret IS NOT NULL",
            )
            .bind(user_id)
            .execute(&mut **c)
            .await?
            .rows_affected();
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut **c)
                .await?;
            sqlx::query("DELETE FROM sign_in_challenges WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut **c)
                .await?;
            if n == 1 && end_sessions {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut **c)
                    .await?;
            }
            n
        });
        if n == 0 {
            return Ok(false);
        }
        let changes = json!({ "two_factor": change(json!(true), json!(false)) });
        tx.audit(&audit.completed(user_id, changes, Json::Null))
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Counts `step` as used if it is newer than every step used before: true when
    /// this call is the one that used it (one conditional update, so that a code is
    /// accepted once even when sent to two servers at the same moment).
    pub async fn accept_totp_step(&self, user_id: i64, step: i64) -> Result<bool> {
        let sql = "UPDATE users SET totp_last_step = $2 WHERE id = $1 \
                   AND totp_secret IS NOT NULL \
                   AND (totp_last_step IS NULL OR totp_last_step < $2)";
        Ok(with_pool!(self, pool => sqlx::query(sql)
            .bind(user_id)
            .bind(step)
            .execute(pool)
            .await?
            .rows_affected())
            == 1)
    }

    /// Uses the unused recovery code with this digest: true when this call used it.
    pub async fn use_recovery_code(&self, user_id: i64, digest: &str) -> Result<bool> {
        let sql = "UPDATE recovery_codes SET used_ms = $3 \
                   WHERE user_id = $1 AND digest = $2 AND used_ms IS NULL";
        Ok(with_pool!(self, pool => sqlx::query(sql)
            .bind(user_id)
            .bind(digest)
            .bind(ms(Utc::now()))
            .execute(pool)
            .await?
            .rows_affected())
            == 1)
    }

    /// A user's unused recovery codes.
    pub async fn recovery_codes_left(&self, user_id: i64) -> Result<i64> {
        let sql = "SELECT CAST(count(*) AS BIGINT) FROM recovery_codes \
                   WHERE user_id = $1 AND used_ms IS NULL";
        Ok(with_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(user_id)
            .fetch_one(pool)
            .await?))
    }

    /// Replaces a user's recovery codes by `code_digests`, with `audit`, in one
    /// transaction.
    pub async fn replace_recovery_codes(
        &self,
        user_id: i64,
        code_digests: &[String],
        audit: &AuditEntry,
    ) -> Result<()> {
        let now = ms(Utc::now());
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, c => {
            replace_codes!(c, user_id, code_digests, now);
        });
        tx.audit(&audit.completed(
            user_id,
            Json::Null,
            json!({ "recovery_codes": code_digests.len() }),
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a sign-in waiting for its second step (expired ones go first).
    pub async fn create_challenge(
        &self,
        user_id: i64,
        digest: &str,
        purpose: ChallengePurpose,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let now = ms(Utc::now());
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM sign_in_challenges WHERE expires_ms < $1")
                .bind(now)
                .execute(pool)
                .await?;
            sqlx::query(
                "INSERT INTO sign_in_challenges (digest, user_id, purpose, created_ms, expires_ms) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(digest)
            .bind(user_id)
            .bind(purpose.as_str())
            .bind(now)
            .bind(ms(expires_at))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The live waiting sign-in with this digest.
    pub async fn challenge(&self, digest: &str) -> Result<Option<Challenge>> {
        let sql = "SELECT id, user_id, purpose, tries, expires_ms FROM sign_in_challenges \
                   WHERE digest = $1 AND expires_ms > $2";
        with_pool!(self, pool => {
            let row = sqlx::query(sql)
                .bind(digest)
                .bind(ms(Utc::now()))
                .fetch_optional(pool)
                .await?;
            row.map(|r| -> Result<Challenge> {
                let purpose: String = r.try_get(2)?;
                Ok(Challenge {
                    id: r.try_get(0)?,
                    user_id: r.try_get(1)?,
                    purpose: if purpose == "enrol" {
                        ChallengePurpose::Enrol
                    } else {
                        ChallengePurpose::Code
                    },
                    tries: r.try_get(3)?,
                    expires_at: time(r.try_get(4)?),
                })
            })
            .transpose()
        })
    }

    /// Counts a wrong code against a waiting sign-in; returns the tries so far.
    pub async fn challenge_failed(&self, id: i64) -> Result<i64> {
        let sql = "UPDATE sign_in_challenges SET tries = tries + 1 WHERE id = $1 RETURNING tries";
        Ok(with_pool!(self, pool => sqlx::query_scalar::<_, i64>(sql)
            .bind(id)
            .fetch_optional(pool)
            .await?)
        .unwrap_or(i64::MAX))
    }

    /// Ends a waiting sign-in (done, or out of tries).
    pub async fn end_challenge(&self, id: i64) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM sign_in_challenges WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
