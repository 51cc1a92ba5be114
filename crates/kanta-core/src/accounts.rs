//! Staff users, sign-ins and API tokens: every change audited in the same
//! transaction (the store's auth writes take the entry), sign-ins and failed
//! sign-ins recorded with the address they came from.

use chrono::{DateTime, Duration, Utc};
use kanta_store::accounts::{ApiToken, NewUser, Role, User, UserUpdate};

use crate::access::{ADMIN_AREA, require};
use crate::actor::{Acting, Channel};
use crate::secrets::{
    check_new_password, digest, hash_password, new_api_token, new_password, verify_password,
};
use crate::{Core, CoreError, Result};

// The sign-in throttle. Failed sign-ins count by account and address together: after
// FREE_FAILURES of one email from one address, each further try from there must wait,
// FIRST_WAIT_SECONDS after the newest failure and twice as long after each further one,
// at most MAX_WAIT_SECONDS ("slow down rather than lock out"). The same account from
// another address and other accounts from that address are not slowed, so no one can
// lock a colleague (or the admin) out by guessing. A ceiling per address
// (MAX_FAILURES_PER_ADDRESS within ADDRESS_WINDOW_MINUTES) stops spraying passwords over
// many accounts. Tries while waiting are refused without looking at the password and are
// not counted. A successful sign-in forgets that pair's failures; an admin's unlock
// forgets the account's failures on every address.

/// Failed sign-ins of one email from one address before further tries must wait.
pub const FREE_FAILURES: i64 = 5;
/// The wait after the failure that reaches [`FREE_FAILURES`]; each further failure
/// doubles it.
pub const FIRST_WAIT_SECONDS: i64 = 60;
/// The longest wait.
pub const MAX_WAIT_SECONDS: i64 = 15 * 60;
/// How long a failed sign-in counts towards the waits (the store keeps them a day).
pub const FAILURE_MEMORY_HOURS: i64 = 24;
/// Failed sign-ins from one address, for any accounts, within
/// [`ADDRESS_WINDOW_MINUTES`] before that address must wait.
pub const MAX_FAILURES_PER_ADDRESS: i64 = 100;
/// The window of the per-address ceiling.
pub const ADDRESS_WINDOW_MINUTES: i64 = 10;

/// The wait after the newest of `failures` failed sign-ins of one email from one
/// address; `None` while below [`FREE_FAILURES`].
pub fn pair_wait(failures: i64) -> Option<Duration> {
    if failures < FREE_FAILURES {
        return None;
    }
    let doublings = (failures - FREE_FAILURES).min(20) as u32;
    let seconds = FIRST_WAIT_SECONDS
        .saturating_mul(1_i64 << doublings)
        .min(MAX_WAIT_SECONDS);
    Some(Duration::seconds(seconds))
}

/// The address a failed sign-in is counted under: an IPv4 address as it is, an IPv6
/// address by its /64 network (one household or server is given a whole /64, so its
/// addresses are one client to the throttle); anything else as it is.
pub fn throttle_address(ip: &str) -> String {
    match ip
        .trim()
        .parse::<std::net::IpAddr>()
        .map(|a| a.to_canonical())
    {
        Ok(std::net::IpAddr::V6(v6)) => {
            let net = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", std::net::Ipv6Addr::from(net))
        }
        Ok(v4) => v4.to_string(),
        Err(_) => ip.trim().to_string(),
    }
}

/// An account that must wait before its next sign-in from an address.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SignInLock {
    pub email: String,
    pub ip: String,
    pub failures: i64,
    /// When the next try from that address is allowed.
    pub until: DateTime<Utc>,
}

/// The argon2id hash of the password given, or of one made up (and returned, to be
/// shown once); a password too short is refused.
async fn password_hash(password: Option<String>) -> Result<(String, Option<String>)> {
    let (password, made_up) = match password {
        Some(p) => (p, None),
        None => {
            let p = new_password();
            (p.clone(), Some(p))
        }
    };
    check_new_password(&password).map_err(|r| CoreError::invalid("password", r))?;
    let hash = hash_password(password)
        .await
        .map_err(|e| CoreError::Other(anyhow::anyhow!(e)))?;
    Ok((hash, made_up))
}

/// How a sign-in went.
#[derive(Debug)]
pub enum SignIn {
    /// The user, whose failures were cleared and last login set.
    Ok(User),
    /// Wrong email or password (recorded as a failure).
    Refused,
    /// Too many failures of this email from this address, or from this address
    /// overall: try again after this many seconds (at least 1). Says nothing of
    /// whether the account exists.
    TooMany { wait_seconds: i64 },
    /// The password was right, and a second step is needed before a session: a code
    /// (or, with `enrol`, setting two-factor sign-in up first). `secret` is the
    /// browser's handle on the waiting sign-in ([`crate::two_factor`]).
    SecondStep { secret: String, enrol: bool },
}

impl Core {
    /// Checks an email and password, under the sign-in throttle (see
    /// [`FREE_FAILURES`]); audits the sign-in or the failure (the failure names the
    /// email tried, not the password). `ip` is the client's address.
    pub async fn sign_in(&self, email: &str, password: String, ip: &str) -> Result<SignIn> {
        let now = Utc::now();
        let key = throttle_address(ip);
        // The try is recorded as a failure before anything is checked, and the
        // earlier ones counted without it: of many tries sent at once, each sees those
        // recorded before it, so no more than FREE_FAILURES pass. A try that must wait
        // is forgotten again; one that succeeds clears the pair.
        let attempt = self.store.record_login_failure(email, &key).await?;
        if let Some(until) = self.sign_in_wait(email, &key, now, attempt).await? {
            self.store.forget_login_failure(attempt).await?;
            let wait_seconds = ((until - now).num_milliseconds() + 999) / 1000;
            tracing::info!(email = %email.trim().to_lowercase(), %ip, wait_seconds, "sign-in throttled");
            return Ok(SignIn::TooMany {
                wait_seconds: wait_seconds.max(1),
            });
        }
        let user = self.store.user_by_email(email).await?.filter(|u| u.active);
        let ok = verify_password(user.as_ref().map(|u| u.password_hash.clone()), password).await;
        let Some(user) = user.filter(|_| ok) else {
            let mut e =
                Acting::anonymous(email, Channel::Ui).audit("users", None, "sign_in_failed");
            e.ip = Some(ip.to_string());
            self.store.record_audit(&e).await?;
            tracing::info!(email = %email.trim().to_lowercase(), %ip, "sign-in refused");
            return Ok(SignIn::Refused);
        };
        if let Some(purpose) = self.second_step_needed(&user).await? {
            // The pair's earlier failures stay counted until the second step passes:
            // the right password alone does not reset the throttle on codes.
            self.store.forget_login_failure(attempt).await?;
            return self.start_challenge(&user, purpose, ip).await;
        }
        self.finish_sign_in(user, &key, ip, None).await
    }

    /// A sign-in that passed every step: the pair's failures forgotten, the last
    /// sign-in set, audited (with the second factor used, if any).
    pub(crate) async fn finish_sign_in(
        &self,
        user: User,
        key: &str,
        ip: &str,
        second_factor: Option<&str>,
    ) -> Result<SignIn> {
        self.store.clear_login_failures(&user.email, key).await?;
        self.store.touch_login(user.id).await?;
        let acting =
            Acting::user(user.id, &user.email, user.role, Channel::Ui).from_ip(Some(ip.into()));
        let mut e = acting.audit("users", Some(&user.id.to_string()), "sign_in");
        if let Some(f) = second_factor {
            e.details = serde_json::json!({ "second_factor": f });
        }
        self.store.record_audit(&e).await?;
        tracing::info!(user = %user.email, ?second_factor, "signed in");
        Ok(SignIn::Ok(user))
    }

    /// Until when a sign-in of `email` from `ip` (a [`throttle_address`]) must wait, if
    /// it must now, counting the failures before the try `attempt`.
    pub(crate) async fn sign_in_wait(
        &self,
        email: &str,
        ip: &str,
        now: DateTime<Utc>,
        attempt: i64,
    ) -> Result<Option<DateTime<Utc>>> {
        let since = now - Duration::hours(FAILURE_MEMORY_HOURS);
        let (failures, last) = self
            .store
            .pair_login_failures(email, ip, since, attempt)
            .await?;
        let by_pair = match (pair_wait(failures), last) {
            (Some(wait), Some(last)) => Some(last + wait),
            _ => None,
        };
        let window = Duration::minutes(ADDRESS_WINDOW_MINUTES);
        let by_address = self
            .store
            .nth_login_failure_from(ip, now - window, MAX_FAILURES_PER_ADDRESS, attempt)
            .await?
            .map(|t| t + window);
        Ok(by_pair.max(by_address).filter(|until| *until > now))
    }

    /// The accounts that must wait now before signing in from some address (admins).
    pub async fn sign_in_locks(&self, acting: &Acting) -> Result<Vec<SignInLock>> {
        require(acting, ADMIN_AREA)?;
        let now = Utc::now();
        let since = now - Duration::hours(FAILURE_MEMORY_HOURS);
        let pairs = self.store.login_failure_pairs(since, FREE_FAILURES).await?;
        Ok(pairs
            .into_iter()
            .filter_map(|p| {
                let until = p.last_at + pair_wait(p.failures)?;
                (until > now).then_some(SignInLock {
                    email: p.email,
                    ip: p.ip,
                    failures: p.failures,
                    until,
                })
            })
            .collect())
    }

    /// Lets a user sign in at once from every address (admins): forgets their failed
    /// sign-ins, audited as `unlock` with the number forgotten. Returns that number.
    pub async fn unlock_sign_ins(&self, acting: &Acting, email: &str) -> Result<u64> {
        require(acting, ADMIN_AREA)?;
        let user = self
            .store
            .user_by_email(email)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("there is no user {}", email.trim())))?;
        let entry = acting.audit("users", Some(&user.id.to_string()), "unlock");
        let _turn = self.writes.write().await;
        let n = self.store.unlock_sign_ins(&user.email, &entry).await?;
        tracing::info!(user = %user.email, failures = n, "sign-ins unlocked");
        Ok(n)
    }

    /// Records a sign-out.
    pub async fn sign_out(&self, acting: &Acting) -> Result<()> {
        let id = acting.user_id().map(|i| i.to_string());
        self.store
            .record_audit(&acting.audit("users", id.as_deref(), "sign_out"))
            .await?;
        Ok(())
    }

    /// Adds a staff user (admins). With no password one is made up and returned.
    pub async fn add_user(
        &self,
        acting: &Acting,
        email: &str,
        name: Option<&str>,
        role: Role,
        password: Option<String>,
    ) -> Result<(User, Option<String>)> {
        require(acting, ADMIN_AREA)?;
        let email = email.trim();
        if kanta_domain::value::Email::parse(email).is_err() {
            return Err(CoreError::invalid(
                "email",
                format!("'{email}' is not an email address"),
            ));
        }
        let (hash, made_up) = password_hash(password).await?;
        let default_name = email.split('@').next().unwrap_or(email).to_string();
        let name = name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or(&default_name);
        let mut entry = acting.audit("users", None, "create");
        entry.changes = serde_json::json!({
            "email": crate::write::change(&kanta_domain::Value::Null, &kanta_domain::Value::Text(email.to_lowercase())),
            "role": crate::write::change(&kanta_domain::Value::Null, &kanta_domain::Value::Text(role.to_string())),
        });
        let user = self
            .store
            .create_user(
                &NewUser {
                    email,
                    name,
                    role,
                    password_hash: &hash,
                },
                &entry,
            )
            .await
            .map_err(|e| match e {
                kanta_store::StoreError::Exists(what) => CoreError::Conflict {
                    field: Some("email".into()),
                    message: format!("a user with the email {what} exists already"),
                },
                e => e.into(),
            })?;
        Ok((user, made_up))
    }

    /// Makes sure a user exists with this role and password: created when missing,
    /// else given the password and role and made active (the demo's admin).
    pub async fn ensure_user(
        &self,
        acting: &Acting,
        email: &str,
        name: &str,
        role: Role,
        password: &str,
    ) -> Result<User> {
        match self
            .add_user(acting, email, Some(name), role, Some(password.to_string()))
            .await
        {
            Ok((u, _)) => Ok(u),
            Err(CoreError::Conflict { .. }) => {
                let u = self
                    .store
                    .user_by_email(email)
                    .await?
                    .ok_or_else(|| CoreError::NotFound(format!("no user {email}")))?;
                let hash = hash_password(password.to_string())
                    .await
                    .map_err(|e| CoreError::Other(anyhow::anyhow!(e)))?;
                let entry = acting.audit("users", Some(&u.id.to_string()), "update");
                let _turn = self.writes.write().await;
                Ok(self
                    .store
                    .update_user(
                        u.id,
                        &UserUpdate {
                            password_hash: Some(&hash),
                            role: Some(role),
                            active: Some(true),
                            ..Default::default()
                        },
                        &entry,
                    )
                    .await?
                    .unwrap_or(u))
            }
            Err(e) => Err(e),
        }
    }

    /// Changes a user's role or whether they may sign in (admins); the last active
    /// admin stays one, so someone can always manage users. Audited as
    /// `role_change` with the fields before and after.
    pub async fn change_user(
        &self,
        acting: &Acting,
        id: i64,
        role: Role,
        active: bool,
    ) -> Result<User> {
        require(acting, ADMIN_AREA)?;
        let user = self
            .store
            .user(id)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no user {id}")))?;
        let loses_admin =
            user.role == Role::Admin && user.active && (role != Role::Admin || !active);
        if loses_admin && self.store.active_admins().await? <= 1 {
            return Err(CoreError::Conflict {
                field: Some("role".into()),
                message: "the last active admin stays an admin, so that someone can manage users"
                    .into(),
            });
        }
        let update = UserUpdate {
            role: (role != user.role).then_some(role),
            active: (active != user.active).then_some(active),
            ..Default::default()
        };
        if update.role.is_none() && update.active.is_none() {
            return Ok(user);
        }
        let action = if update.role.is_some() {
            "role_change"
        } else {
            "update"
        };
        let entry = acting.audit("users", Some(&id.to_string()), action);
        let _turn = self.writes.write().await;
        self.store
            .update_user(id, &update, &entry)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no user {id}")))
    }

    /// Gives a user a new password (admins, or the user themself); with none one is
    /// made up and returned. Ends the user's sessions.
    pub async fn set_password(
        &self,
        acting: &Acting,
        id: i64,
        password: Option<String>,
    ) -> Result<Option<String>> {
        if acting.user_id() != Some(id) {
            require(acting, ADMIN_AREA)?;
        }
        let (hash, made_up) = password_hash(password).await?;
        let entry = acting.audit("users", Some(&id.to_string()), "password_change");
        let _turn = self.writes.write().await;
        self.store
            .update_user(
                id,
                &UserUpdate {
                    password_hash: Some(&hash),
                    ..Default::default()
                },
                &entry,
            )
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no user {id}")))?;
        Ok(made_up)
    }

    /// Sets a user's own page language (`None`: from the browser).
    pub async fn set_user_language(
        &self,
        acting: &Acting,
        id: i64,
        lang: Option<&str>,
    ) -> Result<()> {
        if acting.user_id() != Some(id) {
            require(acting, ADMIN_AREA)?;
        }
        let entry = acting.audit("users", Some(&id.to_string()), "update");
        let _turn = self.writes.write().await;
        self.store
            .update_user(
                id,
                &UserUpdate {
                    lang: Some(lang),
                    ..Default::default()
                },
                &entry,
            )
            .await?;
        Ok(())
    }

    /// Sets a user's own time zone, an IANA name checked against the time zone
    /// database (`None` or an empty name: the store's). Audited. Returns the name as
    /// stored.
    pub async fn set_user_time_zone(
        &self,
        acting: &Acting,
        id: i64,
        zone: Option<&str>,
    ) -> Result<Option<String>> {
        if acting.user_id() != Some(id) {
            require(acting, ADMIN_AREA)?;
        }
        let name = match zone.map(str::trim).filter(|z| !z.is_empty()) {
            Some(z) => Some(
                kanta_domain::time::parse_zone(z)
                    .map_err(|reason| CoreError::invalid("time_zone", reason))?
                    .name()
                    .to_string(),
            ),
            None => None,
        };
        let entry = acting.audit("users", Some(&id.to_string()), "update");
        let _turn = self.writes.write().await;
        self.store
            .update_user(
                id,
                &UserUpdate {
                    time_zone: Some(name.as_deref()),
                    ..Default::default()
                },
                &entry,
            )
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no user {id}")))?;
        Ok(name)
    }

    /// Creates an API token (admins); the secret is returned once and kept only as a
    /// digest.
    pub async fn create_token(
        &self,
        acting: &Acting,
        name: &str,
        role: Role,
    ) -> Result<(ApiToken, String)> {
        require(acting, ADMIN_AREA)?;
        let name = name.trim();
        if name.is_empty() {
            return Err(CoreError::invalid(
                "name",
                "a token needs a name that says what it is for",
            ));
        }
        let (token, prefix) = new_api_token();
        let mut entry = acting.audit("api_tokens", None, "token_create");
        entry.details = serde_json::json!({ "name": name, "role": role, "prefix": prefix });
        let t = self
            .store
            .create_token(
                name,
                role,
                &digest(&token),
                &prefix,
                acting.user_id(),
                &entry,
            )
            .await?;
        Ok((t, token))
    }

    /// Revokes an API token (admins).
    pub async fn revoke_token(&self, acting: &Acting, id: i64) -> Result<()> {
        require(acting, ADMIN_AREA)?;
        let entry = acting.audit("api_tokens", Some(&id.to_string()), "token_revoke");
        if !self.store.revoke_token(id, &entry).await? {
            return Err(CoreError::NotFound(format!("no live API token {id}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_begin_after_five_failures_double_and_stop_at_fifteen_minutes() {
        let minutes = |n| pair_wait(n).map(|d| d.num_seconds() as f64 / 60.0);
        assert_eq!(minutes(4), None);
        assert_eq!(minutes(5), Some(1.0));
        assert_eq!(minutes(6), Some(2.0));
        assert_eq!(minutes(7), Some(4.0));
        assert_eq!(minutes(8), Some(8.0));
        assert_eq!(minutes(9), Some(15.0));
        assert_eq!(minutes(1_000), Some(15.0));
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_network() {
        assert_eq!(throttle_address("192.0.2.7"), "192.0.2.7");
        assert_eq!(throttle_address("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(
            throttle_address("2001:db8:1:2:aaaa:bbbb:cccc:dddd"),
            "2001:db8:1:2::/64"
        );
        assert_eq!(throttle_address("2001:db8:1:2::9"), "2001:db8:1:2::/64");
        assert_eq!(throttle_address("unknown"), "unknown");
    }
}
