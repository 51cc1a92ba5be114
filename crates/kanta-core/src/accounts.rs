//! Staff users, sign-ins and API tokens: every change audited in the same
//! transaction (the store's auth writes take the entry), sign-ins and failed
//! sign-ins recorded with the address they came from.

use chrono::{DateTime, Utc};
use kanta_store::accounts::{ApiToken, NewUser, Role, User, UserUpdate};

use crate::access::{ADMIN_AREA, require};
use crate::actor::{Acting, Channel};
use crate::secrets::{
    check_new_password, digest, hash_password, new_api_token, new_password, verify_password,
};
use crate::{Core, CoreError, Result};

/// Failed sign-ins of one email within [`LOGIN_WINDOW_MINUTES`] before it is locked.
pub const MAX_FAILURES_PER_EMAIL: i64 = 5;
/// Failed sign-ins from one address within the window before it is locked.
pub const MAX_FAILURES_PER_IP: i64 = 20;
/// The window of the sign-in rate limit.
pub const LOGIN_WINDOW_MINUTES: i64 = 15;

/// The start of the sign-in rate limit's window.
pub fn login_window_start() -> DateTime<Utc> {
    Utc::now() - chrono::Duration::minutes(LOGIN_WINDOW_MINUTES)
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
    /// Too many failures of this email or address: try again after the window.
    TooMany,
}

impl Core {
    /// Checks an email and password, under the rate limit; audits the sign-in or the
    /// failure (the failure names the email tried, not the password).
    pub async fn sign_in(&self, email: &str, password: String, ip: &str) -> Result<SignIn> {
        let (by_email, by_ip) = self
            .store
            .login_failures(email, ip, login_window_start())
            .await?;
        if by_email >= MAX_FAILURES_PER_EMAIL || by_ip >= MAX_FAILURES_PER_IP {
            return Ok(SignIn::TooMany);
        }
        let user = self.store.user_by_email(email).await?.filter(|u| u.active);
        let ok = verify_password(user.as_ref().map(|u| u.password_hash.clone()), password).await;
        let Some(user) = user.filter(|_| ok) else {
            self.store.record_login_failure(email, ip).await?;
            let mut e =
                Acting::anonymous(email, Channel::Ui).audit("users", None, "sign_in_failed");
            e.ip = Some(ip.to_string());
            self.store.record_audit(&e).await?;
            tracing::info!(email = %email.trim().to_lowercase(), %ip, "sign-in refused");
            return Ok(SignIn::Refused);
        };
        self.store.clear_login_failures(&user.email).await?;
        self.store.touch_login(user.id).await?;
        let acting =
            Acting::user(user.id, &user.email, user.role, Channel::Ui).from_ip(Some(ip.into()));
        self.store
            .record_audit(&acting.audit("users", Some(&user.id.to_string()), "sign_in"))
            .await?;
        tracing::info!(user = %user.email, "signed in");
        Ok(SignIn::Ok(user))
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
                let _turn = self.writes.lock().await;
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
        let _turn = self.writes.lock().await;
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
        let _turn = self.writes.lock().await;
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
        let _turn = self.writes.lock().await;
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
