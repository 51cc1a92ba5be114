//! Stable ids for rows that carry none.
//!
//! A row without an id gets one derived from its content, so importing the same file
//! again finds the same records instead of duplicating them. Identical rows within
//! one file are told apart by their occurrence number: two identical purchases stay
//! two purchases, and a re-import still finds both.

use sha2::{Digest, Sha256};

/// `h-` followed by 20 hex digits of SHA-256 over the parts, and `-N` for the N-th
/// (N ≥ 2) identical row. Parts are length-prefixed, so `("ab","c")` ≠ `("a","bc")`.
pub fn derived_id<'a>(parts: impl IntoIterator<Item = &'a [u8]>, occurrence: u32) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let digest = h.finalize();
    let mut s = String::with_capacity(26);
    s.push_str("h-");
    for b in &digest[..10] {
        s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        s.push(char::from_digit(u32::from(b & 15), 16).unwrap_or('0'));
    }
    if occurrence > 1 {
        s.push('-');
        s.push_str(&occurrence.to_string());
    }
    s
}

/// A digest of a row's values (and a salt such as the entity name): rows with the
/// same values, in the same order, have the same digest.
pub fn content_digest(salt: &[u8], values: &[crate::Value]) -> [u8; 10] {
    use crate::Value;
    let mut h = Sha256::new();
    h.update((salt.len() as u64).to_le_bytes());
    h.update(salt);
    for v in values {
        match v {
            Value::Null => h.update([0u8]),
            Value::Text(s) => {
                h.update([1u8]);
                h.update((s.len() as u64).to_le_bytes());
                h.update(s.as_bytes());
            }
            Value::Int(i) => {
                h.update([2u8]);
                h.update(i.to_le_bytes());
            }
            Value::Float(f) => {
                h.update([3u8]);
                h.update(f.to_bits().to_le_bytes());
            }
            Value::Bool(b) => h.update([4u8, u8::from(*b)]),
            Value::Date(d) => {
                h.update([5u8]);
                h.update(chrono::Datelike::num_days_from_ce(d).to_le_bytes());
            }
            Value::Time(t) => {
                h.update([6u8]);
                h.update(t.timestamp_micros().to_le_bytes());
            }
        }
    }
    let mut out = [0u8; 10];
    out.copy_from_slice(&h.finalize()[..10]);
    out
}

/// `h-` and the digest in hex, with `-N` for the N-th (N ≥ 2) row of that content.
pub fn id_from_digest(d: &[u8; 10], occurrence: u32) -> String {
    let mut s = String::with_capacity(26);
    s.push_str("h-");
    for b in d {
        s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        s.push(char::from_digit(u32::from(b & 15), 16).unwrap_or('0'));
    }
    if occurrence > 1 {
        s.push('-');
        s.push_str(&occurrence.to_string());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_distinct() {
        let a = derived_id([b"ab".as_slice(), b"c"], 1);
        assert_eq!(a, derived_id([b"ab".as_slice(), b"c"], 1));
        assert_ne!(a, derived_id([b"a".as_slice(), b"bc"], 1));
        assert_eq!(
            derived_id([b"x".as_slice()], 2),
            format!("{}-2", derived_id([b"x".as_slice()], 1))
        );
        assert_eq!(a.len(), 22);
        use crate::Value;
        let row = [Value::Text("c1".into()), Value::Int(1250)];
        let d = content_digest(b"transactions", &row);
        assert_eq!(d, content_digest(b"transactions", &row));
        assert_ne!(d, content_digest(b"customers", &row));
        assert_ne!(
            d,
            content_digest(
                b"transactions",
                &[Value::Text("c1".into()), Value::Int(1251)]
            )
        );
        assert_ne!(
            content_digest(b"x", &[Value::Text("1".into())]),
            content_digest(b"x", &[Value::Int(1)]),
            "types count"
        );
        assert_eq!(
            id_from_digest(&d, 3),
            format!("{}-3", id_from_digest(&d, 1))
        );
    }
}
