//! The survey link token check: `kanta_core::surveys::verify_link` (and
//! `sign_link`, whose tokens it must take back).
//!
//! Input: byte 0 is the key's length (mod 65), then the key; then 8 + 8 + 8 bytes of
//! claims (survey id, customer id, expiry), one byte of flags (bit 0: no customer),
//! two bytes for a tampering (position, new byte); the rest is text, used three ways:
//! as a token as it stands, as the claims' token id, and as the claims' text of a
//! token this target signs itself with the documented scheme (so that the parsing
//! after the signature check is reached).
//!
//! Properties, besides "never panics":
//! - a token `sign_link` made (at most 1,024 bytes) verifies to the same claims;
//!   it has only `A-Z a-z 0-9 - _` and one `.`;
//! - the same token with any one byte changed is refused, and so is it under a
//!   different key of the same length;
//! - a correctly signed token whose text is not claims is `Malformed`, never
//!   `BadSignature`; when it is accepted, signing its claims again gives a token that
//!   verifies to the same claims (and the same token when the text was canonical).
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use kanta_core::surveys::{LinkClaims, LinkError, sign_link, verify_link};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;

fn take<'a>(data: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if data.len() < n {
        return None;
    }
    let (a, b) = data.split_at(n);
    *data = b;
    Some(a)
}

fn i64_of(b: &[u8]) -> i64 {
    i64::from_le_bytes(b.try_into().expect("8 bytes"))
}

/// A token of `text` signed with `key` as `sign_link` documents it.
fn forge(key: &[u8], text: &[u8]) -> String {
    let payload = URL_SAFE_NO_PAD.encode(text);
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    m.update(payload.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    format!("{payload}.{sig}")
}

fn canonical(c: &LinkClaims) -> String {
    format!(
        "1:{}:{}:{}:{}",
        c.survey_id,
        c.customer_id.map(|i| i.to_string()).unwrap_or_default(),
        c.expires_ms,
        c.token_id
    )
}

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let Some(len) = take(&mut rest, 1) else { return };
    let Some(key) = take(&mut rest, usize::from(len[0]) % 65) else { return };
    let Some(nums) = take(&mut rest, 24) else { return };
    let Some(flags) = take(&mut rest, 3) else { return };
    let text = String::from_utf8_lossy(rest);

    // 1. Any text as a token: refused or accepted, never a panic.
    if let Ok(c) = verify_link(key, &text) {
        let again = sign_link(key, &c);
        assert_eq!(verify_link(key, &again), Ok(c));
    }

    // 2. What sign_link makes, verify_link takes back.
    let claims = LinkClaims {
        survey_id: i64_of(&nums[0..8]),
        customer_id: (flags[0] & 1 == 0).then(|| i64_of(&nums[8..16])),
        expires_ms: i64_of(&nums[16..24]),
        token_id: if text.is_empty() {
            "t".to_string()
        } else {
            text.to_string()
        },
    };
    let token = sign_link(key, &claims);
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')),
        "{token:?}"
    );
    assert_eq!(token.matches('.').count(), 1, "{token:?}");
    let verified = verify_link(key, &token);
    if token.len() <= 1024 {
        assert_eq!(verified, Ok(claims.clone()), "token {token:?}");
    } else {
        assert_eq!(verified, Err(LinkError::Malformed));
    }

    // 3. One byte changed: refused.
    let mut bytes = token.clone().into_bytes();
    let at = usize::from(flags[1]) * bytes.len() / 256;
    let new = flags[2] & 0x7f;
    if bytes[at] != new {
        bytes[at] = new;
        let altered = String::from_utf8(bytes).expect("ASCII");
        assert!(
            verify_link(key, &altered).is_err(),
            "{token:?} altered at {at} to {altered:?} was accepted"
        );
    }
    // ... and under another key of the same length.
    if !key.is_empty() {
        let mut other = key.to_vec();
        let i = usize::from(flags[1]) % other.len();
        other[i] ^= flags[2] | 1;
        assert!(
            verify_link(&other, &token).is_err(),
            "a token of key {key:?} was accepted under {other:?}"
        );
    }

    // 4. Any claims text, correctly signed: the parsing after the signature.
    let forged = forge(key, rest);
    match verify_link(key, &forged) {
        Ok(c) => {
            let again = sign_link(key, &c);
            assert_eq!(verify_link(key, &again), Ok(c.clone()), "{forged:?}");
            if canonical(&c).as_bytes() == rest {
                assert_eq!(again, forged, "the canonical text {c:?} signs to another token");
            }
        }
        Err(e) => assert_eq!(
            e,
            LinkError::Malformed,
            "a correctly signed token {forged:?} was refused as {e:?}"
        ),
    }
});
