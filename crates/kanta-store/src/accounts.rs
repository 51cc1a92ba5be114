//! Staff users, login sessions, API tokens and failed-login records.
//!
//! The store keeps only what cannot be turned back into a secret: argon2id PHC strings
//! for passwords and SHA-256 digests (hex) for session ids and API tokens. Hashing is the
//! caller's (kanta-web's) work; this module only stores and finds. Times are
//! milliseconds since the Unix epoch, UTC.
//!
//! The changes of users and tokens ([`Store::create_user`], [`Store::update_user`],
//! [`Store::create_token`], [`Store::revoke_token`]) take a required [`AuditEntry`],
//! written in the same transaction: no such change goes unrecorded, and a change that
//! fails (a duplicate email) leaves no entry. The store completes the entry: its
//! `record_id` defaults to the user's or token's id, and its `changes` gain the fields
//! the write changed (`{"before": v, "after": v}`; a password shows only that it
//! changed), keys the caller gave winning.

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use serde_json::{Value as Json, json};
use sqlx::Row;

use crate::audit::{AuditEntry, change};
use crate::write::on_tx;
use crate::{Result, Store, StoreError, with_pool};

/// What a user or token may do; each role may do everything the ones below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything.
    Viewer,
    /// Also records interactions, cases, feedback and customer data.
    Staff,
    /// Also approves compensations, writes the trust ledger and changes settings.
    Manager,
    /// Also manages users, API tokens and erasure.
    Admin,
}

impl Role {
    /// Every role, from the least to the most allowed.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Staff, Role::Manager, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Staff => "staff",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A staff user who signs in to the web UI.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    /// Lower-case; unique.
    pub email: String,
    pub name: String,
    pub role: Role,
    /// The user's language setting (`fi` or `en`); `None` follows the browser.
    pub lang: Option<String>,
    /// The user's own time zone (IANA name); `None` follows the store's.
    pub time_zone: Option<String>,
    /// A deactivated user cannot sign in; their sessions are ended.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    /// When two-factor sign-in was turned on; `None`: off.
    pub two_factor_since: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub password_hash: String,
}

/// An API token's record; the token itself is shown once and never stored.
#[derive(Debug, Clone, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// The token's first characters, to tell tokens apart in lists.
    pub prefix: String,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new user.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
}

/// A live session and its user.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    /// The session's CSRF token, which every form must send back.
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

pub(crate) const USER_COLUMNS: &str = "u.id, u.email, u.name, u.role, u.password_hash, u.lang, u.time_zone, u.active, u.created_ms, u.last_login_ms, u.totp_enabled_ms";

pub(crate) fn user_of<R: Row>(r: &R) -> Result<User>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'q> i64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<i64>: sqlx::Decode<'q, R::Database>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<String>: sqlx::Decode<'q, R::Database>,
    for<'q> bool: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
{
    let role: String = r.try_get("role")?;
    Ok(User {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        lang: r.try_get("lang")?,
        time_zone: r.try_get("time_zone")?,
        active: r.try_get("active")?,
        created_at: time(r.try_get("created_ms")?),
        last_login_at: r.try_get::<Option<i64>, _>("last_login_ms")?.map(time),
        two_factor_since: r.try_get::<Option<i64>, _>("totp_enabled_ms")?.map(time),
        password_hash: r.try_get("password_hash")?,
    })
}

fn token_of<R: Row>(r: &R) -> Result<ApiToken>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'q> i64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<i64>: sqlx::Decode<'q, R::Database>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
{
    let role: String = r.try_get("role")?;
    Ok(ApiToken {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        prefix: r.try_get("prefix")?,
        created_by: r.try_get("created_by")?,
        created_at: time(r.try_get("created_ms")?),
        last_used_at: r.try_get::<Option<i64>, _>("last_used_ms")?.map(time),
        revoked_at: r.try_get::<Option<i64>, _>("revoked_ms")?.map(time),
    })
}

/// Whether a database error is a unique-key violation.
fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// What may change about a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate<'a> {
    pub name: Option<&'a str>,
    pub role: Option<Role>,
    /// `Some(None)` clears the setting (follow the browser).
    pub lang: Option<Option<&'a str>>,
    /// `Some(None)` clears the user's time zone (follow the store's).
    pub time_zone: Option<Option<&'a str>>,
    pub active: Option<bool>,
    pub password_hash: Option<&'a str>,
}

/// Failed sign-ins of one email from one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedSignIns {
    /// Lower-case, as typed (not necessarily a user's).
    pub email: String,
    pub ip: String,
    pub failures: i64,
    pub last_at: DateTime<Utc>,
}

/// A token's last use is written at most this often, so reads stay reads.
const TOUCH_EVERY_MS: i64 = 60_000;

/// How long a process answers a token from memory before it reads the token again.
/// A revocation through this process ends its use here at once; one made by another
/// process (a second `kanta serve`, `kanta token revoke`) within this time, as a
/// change of settings is seen within 5 s.
pub const TOKEN_CACHE_SECONDS: u64 = 2;

/// The unrevoked tokens this process read lately, by digest ([`Store::token_by_digest`]).
/// Each API request names its token: reading it from the store every time was one
/// statement of every request (BENCHMARKS.md, "Issue 15: fewer statements per request").
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    inner: std::sync::Mutex<TokenCacheInner>,
}

#[derive(Debug, Default)]
struct TokenCacheInner {
    tokens: HashMap<String, (ApiToken, std::time::Instant)>,
    /// Counts this process's revocations: a read that began before one does not
    /// keep what it read.
    revocations: u64,
}

impl TokenCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, TokenCacheInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The token if it was read less than [`TOKEN_CACHE_SECONDS`] ago; else `None`,
    /// with the revocation count to hand to [`TokenCache::keep`].
    fn get(&self, digest: &str) -> Result<ApiToken, u64> {
        let c = self.lock();
        match c.tokens.get(digest) {
            Some((t, at)) if at.elapsed().as_secs() < TOKEN_CACHE_SECONDS => Ok(t.clone()),
            _ => Err(c.revocations),
        }
    }

    fn keep(&self, digest: &str, token: &ApiToken, revocations: u64) {
        let mut c = self.lock();
        if c.revocations != revocations {
            return;
        }
        // Old entries go when the map grows: a handful of tokens is the usual case.
        if c.tokens.len() >= 1_000 {
            c.tokens
                .retain(|_, (_, at)| at.elapsed().as_secs() < TOKEN_CACHE_SECONDS);
        }
        c.tokens.insert(
            digest.to_string(),
            (token.clone(), std::time::Instant::now()),
        );
    }

    fn forget_all(&self) {
        let mut c = self.lock();
        c.revocations += 1;
        c.tokens.clear();
    }
}

impl Store {
    /// Creates a user and records `audit` (see the module documentation); the email
    /// is stored in lower case and must be new.
    pub async fn create_user(&self, u: &NewUser<'_>, audit: &AuditEntry) -> Result<User> {
        let email = u.email.trim().to_lowercase();
        let now = ms(Utc::now());
        let sql = "INSERT INTO users (email, name, role, password_hash, created_ms) \
                   VALUES ($1, $2, $3, $4, $5) RETURNING id";
        let mut tx = self.begin().await?;
        let id: std::result::Result<i64, sqlx::Error> = on_tx!(&mut tx, c => {
            sqlx::query_scalar(sql)
                .bind(&email)
                .bind(u.name.trim())
                .bind(u.role.as_str())
                .bind(u.password_hash)
                .bind(now)
                .fetch_one(&mut **c)
                .await
        });
        let id = match id {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => return Err(StoreError::Exists(email)),
            Err(e) => return Err(e.into()),
        };
        let changes = json!({
            "email": change(Json::Null, json!(email)),
            "name": change(Json::Null, json!(u.name.trim())),
            "role": change(Json::Null, json!(u.role.as_str())),
        });
        tx.audit(&audit.completed(id, changes, Json::Null)).await?;
        tx.commit().await?;
        self.user(id)
            .await?
            .ok_or_else(|| StoreError::Db(sqlx::Error::RowNotFound))
    }

    /// A user by id.
    pub async fn user(&self, id: i64) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1");
        with_pool!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(user_of).transpose()
        })
    }

    /// A user by email (any case).
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.email = $1");
        let email = email.trim().to_lowercase();
        with_pool!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(email).fetch_optional(pool).await?;
            row.as_ref().map(user_of).transpose()
        })
    }

    /// Every user, by email.
    pub async fn users(&self) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.email");
        with_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?;
            rows.iter().map(user_of).collect()
        })
    }

    /// The number of active admins (the last one may not be demoted or deactivated).
    pub async fn active_admins(&self) -> Result<i64> {
        let sql = "SELECT count(*) FROM users WHERE role = 'admin' AND active = $1";
        with_pool!(self, pool => Ok(sqlx::query_scalar(sql).bind(true).fetch_one(pool).await?))
    }

    /// Changes a user and records `audit` (see the module documentation), in one
    /// transaction. Deactivating a user or changing their password or role ends their
    /// sessions. Returns the user as it is now, or `None` when there is none (and
    /// records nothing).
    pub async fn update_user(
        &self,
        id: i64,
        u: &UserUpdate<'_>,
        audit: &AuditEntry,
    ) -> Result<Option<User>> {
        let lang = u.lang.map(|l| l.map(str::to_string));
        let time_zone = u.time_zone.map(|z| z.map(str::to_string));
        let sql = "UPDATE users SET \
                   name = coalesce($2, name), \
                   role = coalesce($3, role), \
                   lang = CASE WHEN $4 THEN $5 ELSE lang END, \
                   active = coalesce($6, active), \
                   password_hash = coalesce($7, password_hash), \
                   time_zone = CASE WHEN $8 THEN $9 ELSE time_zone END \
                   WHERE id = $1";
        let end_sessions = u.active == Some(false) || u.password_hash.is_some() || u.role.is_some();
        let mut tx = self.begin().await?;
        // PostgreSQL: the row locked, so that `before` is what this update changes.
        let lock = if tx.is_postgres() { " FOR UPDATE" } else { "" };
        let read = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1");
        let (before, after) = on_tx!(&mut tx, c => {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("{read}{lock}")))
                .bind(id)
                .fetch_optional(&mut **c)
                .await?;
            let Some(before) = row.as_ref().map(user_of).transpose()? else {
                return Ok(None);
            };
            sqlx::query(sql)
                .bind(id)
                .bind(u.name.map(str::trim))
                .bind(u.role.map(Role::as_str))
                .bind(lang.is_some())
                .bind(lang.clone().flatten())
                .bind(u.active)
                .bind(u.password_hash)
                .bind(time_zone.is_some())
                .bind(time_zone.clone().flatten())
                .execute(&mut **c)
                .await?;
            if end_sessions {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut **c)
                    .await?;
            }
            let row = sqlx::query(sqlx::AssertSqlSafe(read))
                .bind(id)
                .fetch_one(&mut **c)
                .await?;
            (before, user_of(&row)?)
        });
        let mut changes = serde_json::Map::new();
        let mut diff = |field: &str, b: Json, a: Json| {
            if b != a {
                changes.insert(field.to_string(), change(b, a));
            }
        };
        diff("name", json!(before.name), json!(after.name));
        diff("role", json!(before.role), json!(after.role));
        diff("lang", json!(before.lang), json!(after.lang));
        diff("time_zone", json!(before.time_zone), json!(after.time_zone));
        diff("active", json!(before.active), json!(after.active));
        if u.password_hash.is_some() {
            changes.insert(
                "password".into(),
                change(json!("[hidden]"), json!("[changed]")),
            );
        }
        tx.audit(&audit.completed(id, Json::Object(changes), Json::Null))
            .await?;
        tx.commit().await?;
        Ok(Some(after))
    }

    /// Records a successful sign-in.
    pub async fn touch_login(&self, user_id: i64) -> Result<()> {
        let now = ms(Utc::now());
        with_pool!(self, pool => {
            sqlx::query("UPDATE users SET last_login_ms = $2 WHERE id = $1")
                .bind(user_id)
                .bind(now)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The external id of the active staff member with this email (any case), if
    /// any: what the web UI records as `staff_id` on what a signed-in user writes.
    pub async fn staff_for_email(&self, email: &str) -> Result<Option<String>> {
        let sql = "SELECT external_id FROM staff WHERE lower(email) = $1 AND active = $2 \
                   ORDER BY id LIMIT 1";
        let email = email.trim().to_lowercase();
        with_pool!(self, pool => {
            Ok(sqlx::query_scalar(sql).bind(email).bind(true).fetch_optional(pool).await?)
        })
    }

    /// Starts a session; `digest` is the SHA-256 (hex) of the cookie's secret.
    pub async fn create_session(
        &self,
        user_id: i64,
        digest: &str,
        csrf: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let now = Utc::now();
        with_pool!(self, pool => {
            // Expired sessions go whenever a new one starts.
            sqlx::query("DELETE FROM sessions WHERE expires_ms < $1")
                .bind(ms(now))
                .execute(pool)
                .await?;
            sqlx::query(
                "INSERT INTO sessions (digest, user_id, csrf, created_ms, expires_ms) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(digest)
            .bind(user_id)
            .bind(csrf)
            .bind(ms(now))
            .bind(ms(expires_at))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The live session with this digest and its active user.
    pub async fn session(&self, digest: &str) -> Result<Option<Session>> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, s.csrf, s.expires_ms FROM sessions s \
             JOIN users u ON u.id = s.user_id \
             WHERE s.digest = $1 AND s.expires_ms > $2 AND u.active = $3"
        );
        let now = ms(Utc::now());
        with_pool!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(digest)
                .bind(now)
                .bind(true)
                .fetch_optional(pool)
                .await?;
            match row {
                None => Ok(None),
                Some(r) => Ok(Some(Session {
                    user: user_of(&r)?,
                    csrf: r.try_get("csrf")?,
                    expires_at: time(r.try_get("expires_ms")?),
                })),
            }
        })
    }

    /// Ends one session (sign-out).
    pub async fn end_session(&self, digest: &str) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM sessions WHERE digest = $1")
                .bind(digest)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Ends every session of a user.
    pub async fn end_sessions_of(&self, user_id: i64) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Records an API token by its digest (the token itself is never stored) and
    /// `audit` (see the module documentation), in one transaction.
    pub async fn create_token(
        &self,
        name: &str,
        role: Role,
        digest: &str,
        prefix: &str,
        created_by: Option<i64>,
        audit: &AuditEntry,
    ) -> Result<ApiToken> {
        let sql = "INSERT INTO api_tokens (name, role, digest, prefix, created_by, created_ms) \
                   VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
        let now = ms(Utc::now());
        let mut tx = self.begin().await?;
        let id: i64 = on_tx!(&mut tx, c => {
            sqlx::query_scalar(sql)
                .bind(name.trim())
                .bind(role.as_str())
                .bind(digest)
                .bind(prefix)
                .bind(created_by)
                .bind(now)
                .fetch_one(&mut **c)
                .await?
        });
        let changes = json!({
            "name": change(Json::Null, json!(name.trim())),
            "role": change(Json::Null, json!(role.as_str())),
            "prefix": change(Json::Null, json!(prefix)),
        });
        tx.audit(&audit.completed(id, changes, Json::Null)).await?;
        tx.commit().await?;
        Ok(ApiToken {
            id,
            name: name.trim().to_string(),
            role,
            prefix: prefix.to_string(),
            created_by,
            created_at: time(now),
            last_used_at: None,
            revoked_at: None,
        })
    }

    /// The unrevoked token with this digest. Its last use is recorded (at most once a
    /// minute, so that API reads seldom write). Answered from memory for
    /// [`TOKEN_CACHE_SECONDS`] after a read.
    pub async fn token_by_digest(&self, digest: &str) -> Result<Option<ApiToken>> {
        let revocations = match self.token_cache.get(digest) {
            Ok(t) => return Ok(Some(t)),
            Err(n) => n,
        };
        let token = self.read_token(digest).await?;
        if let Some(t) = &token {
            self.token_cache.keep(digest, t, revocations);
        }
        Ok(token)
    }

    /// [`Store::token_by_digest`] from the store.
    async fn read_token(&self, digest: &str) -> Result<Option<ApiToken>> {
        let sql = "SELECT id, name, role, prefix, created_by, created_ms, last_used_ms, revoked_ms \
                   FROM api_tokens WHERE digest = $1 AND revoked_ms IS NULL";
        let token = with_pool!(self, pool => {
            let row = sqlx::query(sql).bind(digest).fetch_optional(pool).await?;
            row.as_ref().map(token_of).transpose()?
        });
        let now = ms(Utc::now());
        if let Some(t) = &token
            && t.last_used_at.is_none_or(|u| now - ms(u) > TOUCH_EVERY_MS)
        {
            with_pool!(self, pool => {
                sqlx::query("UPDATE api_tokens SET last_used_ms = $2 WHERE id = $1")
                    .bind(t.id)
                    .bind(now)
                    .execute(pool)
                    .await?;
            });
        }
        Ok(token)
    }

    /// Every token, revoked ones last.
    pub async fn tokens(&self) -> Result<Vec<ApiToken>> {
        let sql = "SELECT id, name, role, prefix, created_by, created_ms, last_used_ms, revoked_ms \
                   FROM api_tokens ORDER BY revoked_ms IS NOT NULL, created_ms DESC, id DESC";
        with_pool!(self, pool => {
            let rows = sqlx::query(sql).fetch_all(pool).await?;
            rows.iter().map(token_of).collect()
        })
    }

    /// Revokes a token and records `audit` (see the module documentation), in one
    /// transaction; returns false (and records nothing) when there is no such
    /// unrevoked token.
    pub async fn revoke_token(&self, id: i64, audit: &AuditEntry) -> Result<bool> {
        let now = ms(Utc::now());
        let mut tx = self.begin().await?;
        let n = on_tx!(&mut tx, c => {
            sqlx::query("UPDATE api_tokens SET revoked_ms = $2 WHERE id = $1 AND revoked_ms IS NULL")
                .bind(id)
                .bind(now)
                .execute(&mut **c)
                .await?
                .rows_affected()
        });
        if n == 0 {
            return Ok(false);
        }
        let changes = json!({ "revoked": change(json!(false), json!(true)) });
        tx.audit(&audit.completed(id, changes, Json::Null)).await?;
        tx.commit().await?;
        self.token_cache.forget_all();
        Ok(true)
    }

    /// Records a failed sign-in (or a sign-in about to be checked: the sign-in
    /// throttle records the try first, so that tries made at the same moment see each
    /// other); returns its id.
    pub async fn record_login_failure(&self, email: &str, ip: &str) -> Result<i64> {
        let now = ms(Utc::now());
        with_pool!(self, pool => {
            // Records older than a day are of no use to any limit.
            sqlx::query("DELETE FROM login_failures WHERE at_ms < $1")
                .bind(now - 86_400_000)
                .execute(pool)
                .await?;
            Ok(sqlx::query_scalar(
                "INSERT INTO login_failures (email, ip, at_ms) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(email.trim().to_lowercase())
            .bind(ip)
            .bind(now)
            .fetch_one(pool)
            .await?)
        })
    }

    /// Forgets one failed sign-in by its id (a try that was not made after all).
    pub async fn forget_login_failure(&self, id: i64) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM login_failures WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Failed sign-ins of this email from this address since `since`, but the one
    /// with the id `except` (`-1`: none): how many, and when the newest was.
    pub async fn pair_login_failures(
        &self,
        email: &str,
        ip: &str,
        since: DateTime<Utc>,
        except: i64,
    ) -> Result<(i64, Option<DateTime<Utc>>)> {
        let email = email.trim().to_lowercase();
        let sql = "SELECT count(*), max(at_ms) FROM login_failures \
                   WHERE email = $1 AND ip = $2 AND at_ms >= $3 AND id <> $4";
        with_pool!(self, pool => {
            let (n, last): (i64, Option<i64>) = sqlx::query_as(sql)
                .bind(&email)
                .bind(ip)
                .bind(ms(since))
                .bind(except)
                .fetch_one(pool)
                .await?;
            Ok((n, last.map(time)))
        })
    }

    /// When the `n`th newest failed sign-in from this address since `since` was (1 is
    /// the newest), leaving out the one with the id `except` (`-1`: none), if there
    /// were that many.
    pub async fn nth_login_failure_from(
        &self,
        ip: &str,
        since: DateTime<Utc>,
        n: i64,
        except: i64,
    ) -> Result<Option<DateTime<Utc>>> {
        let sql = "SELECT at_ms FROM login_failures WHERE ip = $1 AND at_ms >= $2 AND id <> $4 \
                   ORDER BY at_ms DESC LIMIT 1 OFFSET $3";
        with_pool!(self, pool => {
            let at: Option<i64> = sqlx::query_scalar(sql)
                .bind(ip)
                .bind(ms(since))
                .bind((n - 1).max(0))
                .bind(except)
                .fetch_optional(pool)
                .await?;
            Ok(at.map(time))
        })
    }

    /// Every (email, address) pair with at least `at_least` failed sign-ins since
    /// `since`, by email.
    pub async fn login_failure_pairs(
        &self,
        since: DateTime<Utc>,
        at_least: i64,
    ) -> Result<Vec<FailedSignIns>> {
        let sql = "SELECT email, ip, count(*), max(at_ms) FROM login_failures \
                   WHERE at_ms >= $1 GROUP BY email, ip HAVING count(*) >= $2 \
                   ORDER BY email, ip";
        with_pool!(self, pool => {
            let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(sql)
                .bind(ms(since))
                .bind(at_least)
                .fetch_all(pool)
                .await?;
            Ok(rows
                .into_iter()
                .map(|(email, ip, failures, last)| FailedSignIns {
                    email,
                    ip,
                    failures,
                    last_at: time(last),
                })
                .collect())
        })
    }

    /// Forgets the failed sign-ins of an email from one address (after a successful
    /// sign-in from there: failures from elsewhere keep counting).
    pub async fn clear_login_failures(&self, email: &str, ip: &str) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM login_failures WHERE email = $1 AND ip = $2")
                .bind(email.trim().to_lowercase())
                .bind(ip)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Forgets the failed sign-ins of an email from every address (an admin's unlock)
    /// and records `audit` (its `record_id` left to the caller; `details` gain the
    /// number of failures forgotten), in one transaction. Returns that number.
    pub async fn unlock_sign_ins(&self, email: &str, audit: &AuditEntry) -> Result<u64> {
        let email = email.trim().to_lowercase();
        let mut tx = self.begin().await?;
        let n = on_tx!(&mut tx, c => {
            sqlx::query("DELETE FROM login_failures WHERE email = $1")
                .bind(&email)
                .execute(&mut **c)
                .await?
                .rows_affected()
        });
        let record = audit.record_id.clone().unwrap_or_default();
        tx.audit(&audit.completed(
            record,
            Json::Object(Default::default()),
            json!({ "email": email, "failures_cleared": n }),
        ))
        .await?;
        tx.commit().await?;
        Ok(n)
    }
}
