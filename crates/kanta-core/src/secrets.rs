//! Secrets: passwords, random secrets, API tokens and their digests.
//!
//! - Passwords are argon2id PHC strings, hashed and checked on the blocking pool (a
//!   hash takes tens of milliseconds of CPU; the async runtime must not wait on it).
//! - Session ids and API tokens are random secrets; the store keeps only their
//!   SHA-256 digests ([`digest`]).
//! - [`Secret`] is a string that never prints itself (settings such as the SMTP
//!   password).

use sha2::{Digest, Sha256};

pub use crate::config::Secret;

/// The shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 10;
/// API tokens start with this, so they are easy to find in logs and secret scanners.
pub const TOKEN_PREFIX: &str = "kanta_";

/// A random secret: 32 bytes from the operating system, as 64 hex digits.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    hex(&bytes)
}

/// A new API token and its display prefix.
pub fn new_api_token() -> (String, String) {
    let token = format!("{TOKEN_PREFIX}{}", new_secret());
    let prefix = token[..TOKEN_PREFIX.len() + 8].to_string();
    (token, prefix)
}

/// A readable random password for `kanta user add` and resets: 20 characters from an
/// alphabet without look-alikes (about 110 bits).
pub fn new_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    // 256 % 56 != 0: reject the biased top of the range by redrawing.
    let mut out = String::with_capacity(20);
    let mut i = 0;
    while out.len() < 20 {
        if i == bytes.len() {
            getrandom::fill(&mut bytes).expect("the operating system's random source failed");
            i = 0;
        }
        let b = bytes[i];
        i += 1;
        if usize::from(b) < 256 - 256 % ALPHABET.len() {
            out.push(ALPHABET[usize::from(b) % ALPHABET.len()] as char);
        }
    }
    out
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// SHA-256 of a secret, as hex: what the store keeps of sessions and tokens.
pub fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Whether a password is acceptable; the reason when not.
pub fn check_new_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(format!(
            "a password needs at least {MIN_PASSWORD_LEN} characters"
        ));
    }
    Ok(())
}

/// Hashes a password with argon2id on the blocking pool.
pub async fn hash_password(password: String) -> Result<String, String> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::PasswordHasher;
        argon2::Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| format!("cannot hash the password: {e}"))
    })
    .await
    .map_err(|e| format!("cannot hash the password: {e}"))?
}

/// Checks a password against a stored hash on the blocking pool. With no hash (no such
/// user) a dummy hash is checked, so that the answer takes as long either way.
pub async fn verify_password(hash: Option<String>, password: String) -> bool {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::PasswordVerifier;
        use argon2::password_hash::phc::PasswordHash;
        let real = hash.is_some();
        let hash = hash.unwrap_or_else(|| dummy_hash().to_string());
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return false;
        };
        let ok = argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        ok && real
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        use argon2::password_hash::PasswordHasher;
        argon2::Argon2::default()
            .hash_password(new_secret().as_bytes())
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}
