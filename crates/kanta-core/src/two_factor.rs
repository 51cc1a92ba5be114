//! Two-factor sign-in (issue 15): TOTP codes (RFC 6238: HMAC-SHA-1, 6 digits, 30-second
//! steps, one step of clock drift either way) from an authenticator app, and ten
//! one-use recovery codes.
//!
//! - **Setting up** ([`Core::begin_two_factor`], [`Core::confirm_two_factor`]): a new
//!   160-bit key is shown (as a QR code of its `otpauth://` address and as base32
//!   text) and kept as pending; a code from it turns two-factor sign-in on, and the
//!   recovery codes are shown once (the store keeps their SHA-256 digests).
//! - **Signing in** ([`Core::sign_in`]): a user with two-factor sign-in gets, for the
//!   right password, a waiting sign-in (a secret for the browser, ten minutes, five
//!   wrong codes) instead of a session; [`Core::second_factor`] takes a code or a
//!   recovery code and finishes it. An admin without it, when the setting
//!   `two_factor_admins` is `required`, must set it up first ([`Core::enrol_key`],
//!   [`Core::enrol_and_sign_in`]): the password alone never gives them a session.
//! - Wrong codes count in the sign-in throttle of [`crate::accounts`] like wrong
//!   passwords, and a pair's failures are forgotten only when the second step passes;
//!   a code is accepted once ([`kanta_store::two_factor`]).
//! - Turning it off: the user with their password (not while required for their
//!   role), or an admin for a user who lost their phone and codes
//!   ([`Core::reset_two_factor`], also `kanta user reset-two-factor`).

use chrono::{Duration, Utc};
use kanta_store::accounts::{Role, User};
use kanta_store::two_factor::{ChallengePurpose, TotpState};
use serde::Serialize;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::access::{ADMIN_AREA, require};
use crate::accounts::{SignIn, throttle_address};
use crate::actor::{Acting, Channel};
use crate::secrets::{digest, new_secret, verify_password};
use crate::security::SecurityRules;
use crate::{Core, CoreError, Result};

/// Seconds per code.
pub const STEP_SECONDS: u64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Steps of clock drift allowed either way.
pub const SKEW_STEPS: u8 = 1;
/// Recovery codes made at a time.
pub const RECOVERY_CODES: usize = 10;
/// How long a waiting sign-in lasts.
pub const CHALLENGE_MINUTES: i64 = 10;
/// Wrong codes a waiting sign-in takes before it ends.
pub const CHALLENGE_TRIES: i64 = 5;
/// The issuer an authenticator app shows.
pub const ISSUER: &str = "Kanta";

fn totp(bytes: Vec<u8>, digits: usize) -> TOTP {
    TOTP::new_unchecked(Algorithm::SHA1, digits, SKEW_STEPS, STEP_SECONDS, bytes)
}

/// The key's bytes from its base32 text (spaces and case ignored).
fn key_bytes(secret_b32: &str) -> Option<Vec<u8>> {
    let clean: String = secret_b32
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    Secret::Encoded(clean)
        .to_bytes()
        .ok()
        .filter(|b| !b.is_empty())
}

/// The code of `secret_b32` at `unix_seconds` with `digits` digits (RFC 6238 with
/// HMAC-SHA-1); `None` when the key is not base32.
pub fn code_at(secret_b32: &str, unix_seconds: u64, digits: usize) -> Option<String> {
    Some(totp(key_bytes(secret_b32)?, digits).generate(unix_seconds))
}

/// The 30-second step whose code `code` is, within one step of `unix_seconds`, if
/// any (compared in constant time).
pub fn matching_step(secret_b32: &str, code: &str, unix_seconds: u64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(key_bytes(secret_b32)?, DIGITS);
    let now_step = (unix_seconds / STEP_SECONDS) as i64;
    let mut found = None;
    for step in now_step - i64::from(SKEW_STEPS)..=now_step + i64::from(SKEW_STEPS) {
        if step < 0 {
            continue;
        }
        let expected = t.generate(step as u64 * STEP_SECONDS);
        if crate::secrets::same(&expected, &code) {
            found = Some(step);
        }
    }
    found
}

/// A new 160-bit key, base32 without padding (what authenticator apps read).
pub fn new_key() -> String {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    match Secret::Raw(bytes.to_vec()).to_encoded() {
        Secret::Encoded(s) => s.trim_end_matches('=').to_string(),
        Secret::Raw(_) => unreachable!("to_encoded gives an encoded secret"),
    }
}

/// The `otpauth://` address an authenticator app reads from the QR code.
pub fn otpauth_url(secret_b32: &str, email: &str) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    format!(
        "otpauth://totp/{ISSUER}:{}?secret={secret_b32}&issuer={ISSUER}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        enc(email)
    )
}

/// New recovery codes: ten of `xxxxx-xxxxx` from an alphabet without look-alikes
/// (about 50 bits each).
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut out = String::with_capacity(11);
            while out.len() < 11 {
                let mut b = [0u8; 1];
                getrandom::fill(&mut b).expect("the operating system's random source failed");
                // 256 % 31 != 0: redraw the biased top of the range.
                if usize::from(b[0]) < 256 - 256 % ALPHABET.len() {
                    if out.len() == 5 {
                        out.push('-');
                    }
                    out.push(ALPHABET[usize::from(b[0]) % ALPHABET.len()] as char);
                }
            }
            out
        })
        .collect()
}

/// The digest a recovery code is kept as: of its letters and digits only, lower case
/// (so `ABCDE FGHJK` and `abcde-fghjk` are the same code).
pub fn recovery_digest(code: &str) -> String {
    let clean: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    digest(&clean)
}

fn now_seconds() -> u64 {
    Utc::now().timestamp().max(0) as u64
}

/// A key being set up: its base32 text and `otpauth://` address.
#[derive(Debug, Clone, Serialize)]
pub struct KeySetup {
    pub secret: String,
    pub url: String,
}

/// How the second step of a sign-in went.
#[derive(Debug)]
pub enum SecondStep {
    /// Signed in. `recovery` when a recovery code was used; `codes` holds the new
    /// recovery codes when two-factor sign-in was set up in this step (shown once).
    Ok {
        user: User,
        recovery: bool,
        codes: Vec<String>,
    },
    /// The code was wrong; this many tries are left.
    Wrong { tries_left: i64 },
    /// No such waiting sign-in (expired, used, out of tries): sign in again.
    Expired,
    /// Too many failures: wait this many seconds.
    TooMany { wait_seconds: i64 },
}

/// A user's two-factor state as their account page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TwoFactorStatus {
    pub on: bool,
    /// Whether the setting requires it for the user's role.
    pub required: bool,
    pub recovery_codes_left: i64,
}

impl Core {
    /// The security settings in force.
    pub async fn security_rules(&self) -> Result<SecurityRules> {
        Ok(SecurityRules::from_settings(&self.store_settings().await?))
    }

    /// Whether the settings require two-factor sign-in of `role`.
    pub async fn two_factor_required(&self, role: Role) -> Result<bool> {
        Ok(role == Role::Admin && self.security_rules().await?.two_factor_admins)
    }

    /// What `user`, whose password was right, still needs before a session.
    pub(crate) async fn second_step_needed(&self, user: &User) -> Result<Option<ChallengePurpose>> {
        if user.two_factor_since.is_some() {
            Ok(Some(ChallengePurpose::Code))
        } else if self.two_factor_required(user.role).await? {
            Ok(Some(ChallengePurpose::Enrol))
        } else {
            Ok(None)
        }
    }

    /// Starts a waiting sign-in for `user`; returns the browser's secret.
    pub(crate) async fn start_challenge(
        &self,
        user: &User,
        purpose: ChallengePurpose,
        ip: &str,
    ) -> Result<SignIn> {
        let secret = new_secret();
        let expires = Utc::now() + Duration::minutes(CHALLENGE_MINUTES);
        self.store
            .create_challenge(user.id, &digest(&secret), purpose, expires)
            .await?;
        let acting =
            Acting::user(user.id, &user.email, user.role, Channel::Ui).from_ip(Some(ip.into()));
        let mut e = acting.audit("users", Some(&user.id.to_string()), "sign_in_password");
        e.details = serde_json::json!({
            "needs": if purpose == ChallengePurpose::Enrol { "two_factor_setup" } else { "code" },
        });
        self.store.record_audit(&e).await?;
        Ok(SignIn::SecondStep {
            secret,
            enrol: purpose == ChallengePurpose::Enrol,
        })
    }

    /// The waiting sign-in of the browser's `secret` with its user, if it is live and
    /// for `purpose`.
    async fn live_challenge(
        &self,
        secret: &str,
        purpose: ChallengePurpose,
    ) -> Result<Option<(kanta_store::two_factor::Challenge, User)>> {
        let Some(c) = self.store.challenge(&digest(secret.trim())).await? else {
            return Ok(None);
        };
        if c.purpose != purpose {
            return Ok(None);
        }
        let Some(user) = self.store.user(c.user_id).await?.filter(|u| u.active) else {
            self.store.end_challenge(c.id).await?;
            return Ok(None);
        };
        Ok(Some((c, user)))
    }

    /// The second step of a sign-in: a code from the authenticator, or a recovery
    /// code, for the waiting sign-in of `secret`. Throttled and audited like the
    /// password.
    pub async fn second_factor(&self, secret: &str, code: &str, ip: &str) -> Result<SecondStep> {
        let Some((c, user)) = self.live_challenge(secret, ChallengePurpose::Code).await? else {
            return Ok(SecondStep::Expired);
        };
        let key = throttle_address(ip);
        if let Err(wait_seconds) = self.throttled_try(&user.email, &key, ip).await? {
            return Ok(SecondStep::TooMany { wait_seconds });
        }
        let state = self.store.totp_state(user.id).await?.unwrap_or_default();
        let mut recovery = false;
        let ok = match (state.secret.as_deref(), matching_step_of(&state, code)) {
            (Some(_), Some(step)) => self.store.accept_totp_step(user.id, step).await?,
            (Some(_), None) if !looks_like_totp(code) => {
                recovery = self
                    .store
                    .use_recovery_code(user.id, &recovery_digest(code))
                    .await?;
                recovery
            }
            _ => false,
        };
        if !ok {
            return self.wrong_code(&c, &user, ip, "code").await;
        }
        self.store.end_challenge(c.id).await?;
        let method = if recovery { "recovery_code" } else { "totp" };
        let SignIn::Ok(user) = self.finish_sign_in(user, &key, ip, Some(method)).await? else {
            unreachable!("finish_sign_in signs in")
        };
        Ok(SecondStep::Ok {
            user,
            recovery,
            codes: Vec::new(),
        })
    }

    /// The key for the waiting sign-in of `secret` that must set two-factor sign-in
    /// up (kept as pending until a code of it is given). `None`: no such sign-in.
    pub async fn enrol_key(&self, secret: &str) -> Result<Option<(User, KeySetup)>> {
        let Some((_, user)) = self.live_challenge(secret, ChallengePurpose::Enrol).await? else {
            return Ok(None);
        };
        let key = self.pending_key(user.id).await?;
        let url = otpauth_url(&key, &user.email);
        Ok(Some((user, KeySetup { secret: key, url })))
    }

    /// The user's key being set up: the pending one (a reload of the set-up page, or
    /// a wrong code, shows the key already scanned), else a new one.
    async fn pending_key(&self, user_id: i64) -> Result<String> {
        let state = self.store.totp_state(user_id).await?.unwrap_or_default();
        if let Some(k) = state.pending {
            return Ok(k);
        }
        let key = new_key();
        self.store.set_totp_pending(user_id, &key).await?;
        Ok(key)
    }

    /// Finishes a sign-in that had to set two-factor sign-in up: a code from the new
    /// key turns it on (the recovery codes come back, to be shown once) and signs in.
    pub async fn enrol_and_sign_in(
        &self,
        secret: &str,
        code: &str,
        ip: &str,
    ) -> Result<SecondStep> {
        let Some((c, user)) = self.live_challenge(secret, ChallengePurpose::Enrol).await? else {
            return Ok(SecondStep::Expired);
        };
        let key = throttle_address(ip);
        if let Err(wait_seconds) = self.throttled_try(&user.email, &key, ip).await? {
            return Ok(SecondStep::TooMany { wait_seconds });
        }
        let acting =
            Acting::user(user.id, &user.email, user.role, Channel::Ui).from_ip(Some(ip.into()));
        let Some(codes) = self.turn_on(&acting, user.id, code).await? else {
            return self.wrong_code(&c, &user, ip, "setup_code").await;
        };
        self.store.end_challenge(c.id).await?;
        let SignIn::Ok(user) = self.finish_sign_in(user, &key, ip, Some("totp")).await? else {
            unreachable!("finish_sign_in signs in")
        };
        Ok(SecondStep::Ok {
            user,
            recovery: false,
            codes,
        })
    }

    /// Records a try of the second step in the throttle: `Err(wait)` when it must
    /// wait (the try forgotten), else `Ok` (the try kept as a failure until the step
    /// passes and [`Core::finish_sign_in`] clears the pair).
    async fn throttled_try(
        &self,
        email: &str,
        key: &str,
        ip: &str,
    ) -> Result<std::result::Result<(), i64>> {
        let now = Utc::now();
        let attempt = self.store.record_login_failure(email, key).await?;
        if let Some(until) = self.sign_in_wait(email, key, now, attempt).await? {
            self.store.forget_login_failure(attempt).await?;
            let wait = ((until - now).num_milliseconds() + 999) / 1000;
            tracing::info!(%email, %ip, wait, "second sign-in step throttled");
            return Ok(Err(wait.max(1)));
        }
        Ok(Ok(()))
    }

    /// A wrong code: audited, counted against the waiting sign-in (which ends after
    /// [`CHALLENGE_TRIES`]).
    async fn wrong_code(
        &self,
        c: &kanta_store::two_factor::Challenge,
        user: &User,
        ip: &str,
        step: &str,
    ) -> Result<SecondStep> {
        let mut e = Acting::anonymous(&user.email, Channel::Ui).audit(
            "users",
            Some(&user.id.to_string()),
            "sign_in_failed",
        );
        e.ip = Some(ip.to_string());
        e.details = serde_json::json!({ "step": step });
        self.store.record_audit(&e).await?;
        let tries = self.store.challenge_failed(c.id).await?;
        if tries >= CHALLENGE_TRIES {
            self.store.end_challenge(c.id).await?;
            return Ok(SecondStep::Expired);
        }
        Ok(SecondStep::Wrong {
            tries_left: CHALLENGE_TRIES - tries,
        })
    }

    /// Turns two-factor sign-in on for `user_id` if `code` is a code of their pending
    /// key: the new recovery codes, or `None` for a wrong code (or no pending key).
    async fn turn_on(
        &self,
        acting: &Acting,
        user_id: i64,
        code: &str,
    ) -> Result<Option<Vec<String>>> {
        let state = self.store.totp_state(user_id).await?.unwrap_or_default();
        let Some(pending) = state.pending.as_deref() else {
            return Ok(None);
        };
        let Some(step) = matching_step(pending, code, now_seconds()) else {
            return Ok(None);
        };
        let codes = new_recovery_codes();
        let digests: Vec<String> = codes.iter().map(|c| recovery_digest(c)).collect();
        let entry = acting.audit("users", Some(&user_id.to_string()), "two_factor_on");
        let _turn = self.writes.write().await;
        if !self
            .store
            .enable_totp(user_id, pending, step, &digests, &entry)
            .await?
        {
            return Ok(None);
        }
        tracing::info!(user = user_id, "two-factor sign-in turned on");
        Ok(Some(codes))
    }

    /// The signed-in user's two-factor state.
    pub async fn two_factor_status(&self, acting: &Acting) -> Result<TwoFactorStatus> {
        let user = self.acting_user(acting).await?;
        Ok(TwoFactorStatus {
            on: user.two_factor_since.is_some(),
            required: self.two_factor_required(user.role).await?,
            recovery_codes_left: self.store.recovery_codes_left(user.id).await?,
        })
    }

    async fn acting_user(&self, acting: &Acting) -> Result<User> {
        let id = acting
            .user_id()
            .ok_or_else(|| CoreError::Forbidden("this needs a signed-in user".into()))?;
        self.store
            .user(id)
            .await?
            .filter(|u| u.active)
            .ok_or_else(|| CoreError::NotFound(format!("there is no user {id}")))
    }

    /// The key the signed-in user sets two-factor sign-in up with (kept as pending
    /// until [`Core::confirm_two_factor`]).
    pub async fn begin_two_factor(&self, acting: &Acting) -> Result<KeySetup> {
        let user = self.acting_user(acting).await?;
        let key = self.pending_key(user.id).await?;
        let url = otpauth_url(&key, &user.email);
        Ok(KeySetup { secret: key, url })
    }

    /// Turns two-factor sign-in on for the signed-in user with a code of the pending
    /// key; returns the recovery codes (to be shown once).
    pub async fn confirm_two_factor(&self, acting: &Acting, code: &str) -> Result<Vec<String>> {
        let user = self.acting_user(acting).await?;
        self.turn_on(acting, user.id, code).await?.ok_or_else(|| {
            CoreError::invalid(
                "code",
                "the code is not the authenticator's current code for the key shown",
            )
        })
    }

    /// New recovery codes for the signed-in user (the old ones stop working), given a
    /// current code from their authenticator.
    pub async fn new_recovery_codes(&self, acting: &Acting, code: &str) -> Result<Vec<String>> {
        let user = self.acting_user(acting).await?;
        let state = self.store.totp_state(user.id).await?.unwrap_or_default();
        let ok = match matching_step_of(&state, code) {
            Some(step) => self.store.accept_totp_step(user.id, step).await?,
            None => false,
        };
        if !ok {
            return Err(CoreError::invalid(
                "code",
                "the code is not the authenticator's current code",
            ));
        }
        let codes = new_recovery_codes();
        let digests: Vec<String> = codes.iter().map(|c| recovery_digest(c)).collect();
        let entry = acting.audit("users", Some(&user.id.to_string()), "recovery_codes");
        let _turn = self.writes.write().await;
        self.store
            .replace_recovery_codes(user.id, &digests, &entry)
            .await?;
        Ok(codes)
    }

    /// Turns the signed-in user's two-factor sign-in off, given their password; not
    /// while the settings require it for their role.
    pub async fn turn_off_two_factor(&self, acting: &Acting, password: String) -> Result<()> {
        let user = self.acting_user(acting).await?;
        if self.two_factor_required(user.role).await? {
            return Err(CoreError::invalid(
                "two_factor",
                "two-factor sign-in is required for admins by the setting two_factor_admins",
            ));
        }
        if !verify_password(Some(user.password_hash.clone()), password).await {
            return Err(CoreError::invalid("password", "the password is not right"));
        }
        let entry = acting.audit("users", Some(&user.id.to_string()), "two_factor_off");
        let _turn = self.writes.write().await;
        self.store.disable_totp(user.id, false, &entry).await?;
        Ok(())
    }

    /// Turns another user's two-factor sign-in off (admins; for a user who lost their
    /// authenticator and recovery codes): their sessions end, and when the settings
    /// require it for their role they set it up again at their next sign-in. False
    /// when it was not on.
    pub async fn reset_two_factor(&self, acting: &Acting, email: &str) -> Result<bool> {
        require(acting, ADMIN_AREA)?;
        let user = self
            .store
            .user_by_email(email)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("there is no user {}", email.trim())))?;
        let entry = acting.audit("users", Some(&user.id.to_string()), "two_factor_reset");
        let _turn = self.writes.write().await;
        let done = self.store.disable_totp(user.id, true, &entry).await?;
        tracing::info!(user = %user.email, done, "two-factor sign-in reset");
        Ok(done)
    }
}

/// Whether `code` has the shape of an authenticator's code (else it may be a
/// recovery code).
fn looks_like_totp(code: &str) -> bool {
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    digits.len() == DIGITS && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The step of `code` for the user's key in force, if it matches now.
fn matching_step_of(state: &TotpState, code: &str) -> Option<i64> {
    matching_step(state.secret.as_deref()?, code, now_seconds())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, Appendix B: the SHA-1 key is the ASCII "12345678901234567890", the
    /// codes have 8 digits.
    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        let key = match Secret::Raw(b"12345678901234567890".to_vec()).to_encoded() {
            Secret::Encoded(s) => s,
            Secret::Raw(_) => unreachable!(),
        };
        for (t, code) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code_at(&key, t, 8).as_deref(), Some(code), "T = {t}");
        }
        // Six digits are the last six of the eight.
        assert_eq!(code_at(&key, 59, 6).as_deref(), Some("287082"));
    }

    #[test]
    fn a_code_matches_its_step_and_its_neighbours_only() {
        let key = new_key();
        assert_eq!(key.len(), 32);
        let t = 1_700_000_015;
        let step = (t / STEP_SECONDS) as i64;
        let now = code_at(&key, t, DIGITS).unwrap();
        assert_eq!(matching_step(&key, &now, t), Some(step));
        assert_eq!(matching_step(&key, &now, t + 30), Some(step));
        assert_eq!(matching_step(&key, &now, t - 30), Some(step));
        assert_eq!(matching_step(&key, &now, t + 90), None);
        // spaces are allowed, letters and other lengths are not
        let spaced = format!("{} {}", &now[..3], &now[3..]);
        assert_eq!(matching_step(&key, &spaced, t), Some(step));
        assert_eq!(matching_step(&key, "12345", t), None);
        assert_eq!(matching_step(&key, "abcdef", t), None);
        assert_eq!(matching_step("not base32!", &now, t), None);
    }

    #[test]
    fn recovery_codes_are_distinct_and_forgiving_to_type() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let set: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(set.len(), RECOVERY_CODES);
        assert!(codes.iter().all(|c| c.len() == 11 && &c[5..6] == "-"));
        let c = &codes[0];
        let typed = format!(" {} {} ", c[..5].to_uppercase(), &c[6..]);
        assert_eq!(recovery_digest(&typed), recovery_digest(c));
        assert!(!looks_like_totp(c));
        assert!(looks_like_totp("123 456"));
    }

    #[test]
    fn the_otpauth_address_names_issuer_and_account() {
        let url = otpauth_url("JBSWY3DPEHPK3PXP", "anna+admin@kahvila.fi");
        assert_eq!(
            url,
            "otpauth://totp/Kanta:anna%2Badmin@kahvila.fi?secret=JBSWY3DPEHPK3PXP&issuer=Kanta&algorithm=SHA1&digits=6&period=30"
        );
    }
}
