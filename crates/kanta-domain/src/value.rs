//! The typed value of one field, and parsing a field's text into it.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;
use thiserror::Error;

use crate::money::{Currency, Decimal, MoneyError};
use crate::schema::Kind;
use crate::time::{self, TimeError};

/// One field's value. Money is [`Value::Int`] minor units; a reference to another
/// record is [`Value::Text`] (its external id) until the store resolves it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Date(NaiveDate),
    Time(DateTime<Utc>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// A canonical text form: the same value always gives the same bytes (used for
    /// derived ids and for PostgreSQL COPY).
    pub fn canonical(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Text(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format!("{f:?}"),
            Value::Bool(b) => if *b { "true" } else { "false" }.to_string(),
            Value::Date(d) => d.format("%Y-%m-%d").to_string(),
            Value::Time(t) => format_time(t),
        }
    }
}

/// Timestamps as stored in text form: RFC 3339, UTC, milliseconds, `Z`. Fixed width,
/// so text order is time order.
pub fn format_time(t: &DateTime<Utc>) -> String {
    let mut s = String::with_capacity(24);
    push_time(&mut s, t);
    s
}

/// Appends [`format_time`]'s text without allocating (bulk writes format millions).
pub fn push_time(out: &mut String, t: &DateTime<Utc>) {
    use chrono::{Datelike, Timelike};
    let y = t.year();
    if !(0..=9999).contains(&y) {
        out.push_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true));
        return;
    }
    let mut b = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (0..width).rev() {
            b[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y as u32);
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second().min(59));
    put(20, 3, t.nanosecond() / 1_000_000 % 1000);
    out.push_str(std::str::from_utf8(&b).unwrap_or_default());
}

impl Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_none(),
            Value::Text(t) => s.serialize_str(t),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Date(d) => s.collect_str(&d.format("%Y-%m-%d")),
            Value::Time(t) => s.serialize_str(&format_time(t)),
        }
    }
}

/// Why a field's text was not accepted. Displayed after `FIELD: `.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FieldError {
    #[error("is required")]
    Required,
    #[error("{0}")]
    Money(#[from] MoneyError),
    #[error("{0}")]
    Time(#[from] TimeError),
    #[error("'{0}' is not a whole number")]
    NotInt(String),
    #[error("{value} is out of range {}", range_text(*min, *max))]
    Range { value: String, min: i64, max: i64 },
    #[error("'{0}' is not a number")]
    NotFloat(String),
    #[error("'{0}' is not yes or no (use true/false, yes/no, kyllä/ei, 1/0)")]
    NotBool(String),
    #[error("'{value}' is not one of {allowed}")]
    Choice { value: String, allowed: String },
    #[error("'{0}' is not an email address")]
    Email(String),
    #[error("is too long ({chars} characters; at most {max})")]
    TooLong { chars: usize, max: usize },
    #[error("{when} is before {MIN_YEAR}, the earliest date Kanta accepts")]
    TooEarly { when: String },
    #[error("{when} is after {MAX_YEAR}, the latest date Kanta accepts")]
    TooLate { when: String },
    #[error(
        "'{0}' is not a phone number (5 to 20 digits, with spaces, +, -, ( ), . and an extension such as 'ext 12')"
    )]
    Phone(String),
}

/// `0..10`, or what a range without bounds of its own means.
fn range_text(min: i64, max: i64) -> String {
    if min == i64::MIN && max == i64::MAX {
        "(too large for a whole number of 64 bits)".to_string()
    } else {
        format!("{min}..{max}")
    }
}

/// At most [`EXCERPT_CHARS`] characters of `text`, with "…" when cut: what an error
/// shows of a value, so a pasted 200 MB field is never echoed whole.
pub fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// Characters of a value an error shows at most.
pub const EXCERPT_CHARS: usize = 60;

/// The earliest year of a date or time Kanta accepts.
pub const MIN_YEAR: i32 = 1900;
/// The latest year of a date Kanta accepts (a time, a point at which something
/// happened, is further bounded by the store's `store.max_future_hours`).
pub const MAX_YEAR: i32 = 2200;

/// The longest short text (names, ids, references), in characters.
pub const MAX_SHORT_TEXT: usize = 1_000;

/// The longest text a field takes, in characters.
pub const MAX_TEXT: usize = 20_000;

/// How to read the texts of one row.
#[derive(Debug, Clone, Copy)]
pub struct ParseContext<'a> {
    /// The row's currency, for money fields.
    pub currency: Currency,
    /// A strftime format for dates and times, instead of the automatic forms.
    pub date_format: Option<&'a str>,
    /// The zone of times written without an offset (the store's time zone).
    pub zone: time::Tz,
}

/// Parses one field's text. An empty text is [`Value::Null`] (the caller checks
/// required fields).
pub fn parse_field(kind: Kind, text: &str, cx: &ParseContext<'_>) -> Result<Value, FieldError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Value::Null);
    }
    Ok(match kind {
        Kind::Text | Kind::Ref(_) => Value::Text(check_len(t, MAX_SHORT_TEXT)?.to_string()),
        Kind::LongText => Value::Text(check_len(t, MAX_TEXT)?.to_string()),
        Kind::Int { min, max } => {
            let v = parse_int(t).map_err(|e| match e {
                FieldError::Range { value, .. } => FieldError::Range { value, min, max },
                e => e,
            })?;
            if v < min || v > max {
                return Err(FieldError::Range {
                    value: v.to_string(),
                    min,
                    max,
                });
            }
            Value::Int(v)
        }
        Kind::Float => Value::Float(parse_float(t)?),
        Kind::Money => Value::Int(Decimal::parse(t)?.to_minor(cx.currency)?),
        Kind::Currency => Value::Text(t.parse::<Currency>()?.code().to_string()),
        // No date or time is this long: say so without echoing it whole.
        Kind::Date if t.len() > 100 => return Err(TimeError::NotADate(excerpt(t)).into()),
        Kind::Timestamp if t.len() > 100 => return Err(TimeError::NotATime(excerpt(t)).into()),
        Kind::Date => Value::Date(check_date(time::parse_date_in(
            t,
            cx.date_format,
            cx.zone,
        )?)?),
        Kind::Timestamp => Value::Time(check_time(time::parse_timestamp_in(
            t,
            cx.date_format,
            cx.zone,
        )?)?),
        Kind::Bool => Value::Bool(parse_bool(t)?),
        Kind::Choice(allowed) => {
            let lower = t.to_lowercase();
            // Words are matched ignoring case (lowercase words the fast way; the
            // value tiers A-D are upper case).
            let found = allowed
                .iter()
                .find(|a| **a == lower)
                .or_else(|| allowed.iter().find(|a| a.to_lowercase() == lower))
                .copied()
                .or_else(|| crate::schema::choice_synonym(allowed, &lower));
            match found {
                Some(a) => Value::Text(a.to_string()),
                None => {
                    return Err(FieldError::Choice {
                        value: excerpt(t),
                        allowed: allowed.join(", "),
                    });
                }
            }
        }
        Kind::Email => Value::Text(Email::parse(t)?.into_inner()),
        Kind::Phone => Value::Text(Phone::parse(t)?.into_inner()),
    })
}

fn check_len(t: &str, max: usize) -> Result<&str, FieldError> {
    // Bytes bound characters from above: most texts need no count.
    if t.len() <= max {
        return Ok(t);
    }
    let n = t.chars().count();
    if n > max {
        Err(FieldError::TooLong { chars: n, max })
    } else {
        Ok(t)
    }
}

/// A date within [`MIN_YEAR`]..=[`MAX_YEAR`].
pub fn check_date(d: NaiveDate) -> Result<NaiveDate, FieldError> {
    use chrono::Datelike;
    if d.year() < MIN_YEAR {
        Err(FieldError::TooEarly {
            when: d.format("%Y-%m-%d").to_string(),
        })
    } else if d.year() > MAX_YEAR {
        Err(FieldError::TooLate {
            when: d.format("%Y-%m-%d").to_string(),
        })
    } else {
        Ok(d)
    }
}

/// A time within [`MIN_YEAR`]..=[`MAX_YEAR`] (the store's write path bounds it
/// further by now).
pub fn check_time(t: DateTime<Utc>) -> Result<DateTime<Utc>, FieldError> {
    use chrono::Datelike;
    if t.year() < MIN_YEAR {
        Err(FieldError::TooEarly {
            when: format_time(&t),
        })
    } else if t.year() > MAX_YEAR {
        Err(FieldError::TooLate {
            when: format_time(&t),
        })
    } else {
        Ok(t)
    }
}

/// A whole number; `12.0`, `12,0` and `1e3` are accepted, `12.5` is not; a whole
/// number beyond 64 bits (`1e23`) is out of range.
pub fn parse_int(t: &str) -> Result<i64, FieldError> {
    if let Ok(v) = t.parse::<i64>() {
        return Ok(v);
    }
    let out_of_range = || FieldError::Range {
        value: excerpt(t),
        min: i64::MIN,
        max: i64::MAX,
    };
    let d = match Decimal::parse(t) {
        Ok(d) => d,
        Err(MoneyError::TooLarge(_)) => return Err(out_of_range()),
        Err(_) => return Err(FieldError::NotInt(excerpt(t))),
    };
    let whole_part = d.mantissa / 10i128.pow(d.scale);
    if whole_part * 10i128.pow(d.scale) != d.mantissa {
        return Err(FieldError::NotInt(excerpt(t)));
    }
    i64::try_from(whole_part).map_err(|_| out_of_range())
}

/// A real number with a decimal point or comma.
pub fn parse_float(t: &str) -> Result<f64, FieldError> {
    if let Ok(v) = t.parse::<f64>()
        && v.is_finite()
    {
        return Ok(v);
    }
    Decimal::parse(t)
        .map(|d| d.to_f64())
        .map_err(|_| FieldError::NotFloat(excerpt(t)))
}

pub fn parse_bool(t: &str) -> Result<bool, FieldError> {
    match t.to_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" | "x" | "on" | "kyllä" | "kylla" | "k" | "tosi" => {
            Ok(true)
        }
        "false" | "f" | "no" | "n" | "0" | "off" | "ei" | "e" | "epätosi" => Ok(false),
        _ => Err(FieldError::NotBool(excerpt(t))),
    }
}

/// An email address: one `@`, a non-empty local part, a domain with a dot, no spaces.
/// The domain is lower-cased; the local part is kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(t: &str) -> Result<Email, FieldError> {
        let t = t.trim();
        let bad = || FieldError::Email(excerpt(t));
        let (local, domain) = t.rsplit_once('@').ok_or_else(bad)?;
        let ok_local = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && !local
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let ok_domain = labels.len() >= 2
            && domain.len() <= 253
            && labels.iter().all(|l| {
                !l.is_empty()
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if ok_local && ok_domain {
            Ok(Email(format!("{local}@{}", domain.to_lowercase())))
        } else {
            Err(bad())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A phone number as people write it: digits, spaces, `+` (first only), `-`, `(`, `)`
/// and `.`, 5 to 20 digits, and an optional extension (`ext 12`, `x12`, `#12`). Kept as
/// written (spaces collapsed); [`Phone::tel_uri`] is the only way to a `tel:` link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// The fewest and most digits of a number (the extension apart).
    pub const DIGITS: std::ops::RangeInclusive<usize> = 5..=20;

    pub fn parse(t: &str) -> Result<Phone, FieldError> {
        let t = t.trim();
        let bad = || FieldError::Phone(excerpt(t));
        if t.len() > 64 {
            return Err(bad());
        }
        let (number, ext) = split_extension(t).ok_or_else(bad)?;
        let mut digits = 0;
        for (i, c) in number.char_indices() {
            match c {
                '0'..='9' => digits += 1,
                '+' if i == 0 => {}
                ' ' | '-' | '(' | ')' | '.' | '\u{a0}' => {}
                _ => return Err(bad()),
            }
        }
        if !Phone::DIGITS.contains(&digits)
            || ext.is_some_and(|e| {
                e.is_empty() || e.len() > 6 || !e.bytes().all(|b| b.is_ascii_digit())
            })
        {
            return Err(bad());
        }
        let collapsed = t.split_whitespace().collect::<Vec<_>>().join(" ");
        Ok(Phone(collapsed))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }

    /// The RFC 3966 link: `tel:+358401234567;ext=12` (digits and a leading `+` only).
    pub fn tel_uri(&self) -> String {
        let (number, ext) = split_extension(&self.0).unwrap_or((&self.0, None));
        let mut out = String::from("tel:");
        if number.trim_start().starts_with('+') {
            out.push('+');
        }
        out.extend(number.chars().filter(char::is_ascii_digit));
        if let Some(e) = ext {
            out.push_str(";ext=");
            out.push_str(e);
        }
        out
    }

    /// The `tel:` link of a stored phone text, `None` when it is not a phone number
    /// (data stored before phones were checked): no other text becomes a link.
    pub fn tel_href(stored: &str) -> Option<String> {
        Phone::parse(stored).ok().map(|p| p.tel_uri())
    }
}

/// A phone text's number and its extension's digits, if any (`ext 12`, `ext. 12`,
/// `x12`, `#12`, `;ext=12`).
fn split_extension(t: &str) -> Option<(&str, Option<&str>)> {
    let lower = t.to_ascii_lowercase();
    for sep in [";ext=", "ext.", "ext", "x", "#"] {
        if let Some(at) = lower.find(sep) {
            let ext = t[at + sep.len()..].trim();
            return Some((t[..at].trim_end(), Some(ext)));
        }
    }
    Some((t, None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CX: ParseContext<'static> = ParseContext {
        currency: Currency::EUR,
        date_format: None,
        zone: time::Tz::UTC,
    };

    #[test]
    fn fields_parse_by_kind() {
        assert_eq!(parse_field(Kind::Money, "12,50", &CX), Ok(Value::Int(1250)));
        assert_eq!(parse_field(Kind::Text, "  ", &CX), Ok(Value::Null));
        assert_eq!(parse_field(Kind::Bool, "Kyllä", &CX), Ok(Value::Bool(true)));
        assert_eq!(parse_field(Kind::Bool, "ei", &CX), Ok(Value::Bool(false)));
        assert_eq!(
            parse_field(Kind::Choice(&["call", "visit"]), "Call", &CX),
            Ok(Value::Text("call".into()))
        );
        assert_eq!(
            parse_field(Kind::Choice(crate::schema::TIERS), "b", &CX),
            Ok(Value::Text("B".into())),
            "upper-case words too (regression: tier 'A' was rejected)"
        );
        assert_eq!(
            parse_field(Kind::Choice(&["call", "visit"]), "fax", &CX)
                .unwrap_err()
                .to_string(),
            "'fax' is not one of call, visit"
        );
        assert_eq!(
            parse_field(Kind::Int { min: 0, max: 10 }, "11", &CX)
                .unwrap_err()
                .to_string(),
            "11 is out of range 0..10"
        );
        assert_eq!(
            parse_field(Kind::Int { min: 0, max: 10 }, "7,0", &CX),
            Ok(Value::Int(7))
        );
        assert!(parse_field(Kind::Int { min: 0, max: 10 }, "7,5", &CX).is_err());
        assert_eq!(
            parse_field(Kind::Float, "3,25", &CX),
            Ok(Value::Float(3.25))
        );
        assert_eq!(
            parse_field(Kind::Currency, "gbp", &CX),
            Ok(Value::Text("GBP".into()))
        );
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse("Anna.V@Example.FI").unwrap().as_str(),
            "Anna.V@example.fi"
        );
        for bad in [
            "", "a", "a@b", "@x.fi", "a b@x.fi", "a@x..fi", "a@-x.fi", "<a>@x.fi", "a@x.fi.",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn phones() {
        for (text, tel) in [
            ("+358 40 123 4567", "tel:+358401234567"),
            ("(09) 123-4567", "tel:091234567"),
            ("040.123.4567 ext 12", "tel:0401234567;ext=12"),
            ("+1 555 0100 x7", "tel:+15550100;ext=7"),
            ("  0401234567  ", "tel:0401234567"),
        ] {
            let p = Phone::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(p.tel_uri(), tel);
        }
        for bad in [
            "javascript:alert(1)",
            "tel:javascript:alert(1)",
            "1234",
            "123456789012345678901",
            "040 123+4567",
            "040 ext",
            "call me",
            "040<script>",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad} accepted");
            assert_eq!(Phone::tel_href(bad), None);
        }
        assert_eq!(
            parse_field(Kind::Phone, "javascript:alert(1)", &CX)
                .unwrap_err()
                .to_string(),
            "'javascript:alert(1)' is not a phone number (5 to 20 digits, with spaces, +, -, ( ), . and an extension such as 'ext 12')"
        );
    }

    #[test]
    fn bounds_and_excerpts() {
        let long = "9".repeat(100_000);
        let e = parse_field(Kind::Int { min: 0, max: 10 }, "1e23", &CX).unwrap_err();
        assert_eq!(e.to_string(), "1e23 is out of range 0..10");
        let e = parse_field(Kind::Int { min: 0, max: 10 }, &long, &CX).unwrap_err();
        assert!(e.to_string().len() < 100, "{e}");
        let e = parse_field(Kind::Money, "92233720368547758.07", &CX).unwrap_err();
        assert_eq!(
            e.to_string(),
            "92233720368547758.07 is beyond the largest amount Kanta accepts, ±100,000,000,000.00"
        );
        assert!(parse_field(Kind::Date, "1899-12-31", &CX).is_err());
        assert!(parse_field(Kind::Date, "2201-01-01", &CX).is_err());
        assert!(parse_field(Kind::Date, "2199-12-31", &CX).is_ok());
        assert_eq!(
            parse_field(Kind::Timestamp, "9999-12-31T23:59:59Z", &CX)
                .unwrap_err()
                .to_string(),
            "9999-12-31T23:59:59.000Z is after 2200, the latest date Kanta accepts"
        );
        let e = parse_field(Kind::Timestamp, &long, &CX).unwrap_err();
        assert!(e.to_string().len() < 200, "{e}");
        let e = parse_field(Kind::Choice(&["a"]), &long, &CX).unwrap_err();
        assert!(e.to_string().len() < 200, "{e}");
        let e = parse_field(Kind::Text, &long, &CX).unwrap_err();
        assert_eq!(
            e.to_string(),
            "is too long (100000 characters; at most 1000)"
        );
    }

    #[test]
    fn time_text_is_fixed_width() {
        let t = DateTime::from_timestamp(0, 0).unwrap();
        assert_eq!(format_time(&t), "1970-01-01T00:00:00.000Z");
    }

    proptest! {
        #[test]
        fn fast_time_text_matches_chrono(ms in 0i64..253_402_300_799_000) {
            let t = DateTime::from_timestamp_millis(ms).unwrap();
            prop_assert_eq!(format_time(&t), t.to_rfc3339_opts(SecondsFormat::Millis, true));
        }
    }

    proptest! {
        #[test]
        fn email_parse_is_idempotent(local in "[a-zA-Z0-9._%+-]{1,20}", domain in "[a-z0-9]{1,10}\\.[a-z]{2,4}") {
            let e = Email::parse(&format!("{local}@{domain}")).unwrap();
            prop_assert_eq!(Email::parse(e.as_str()).unwrap(), e.clone());
        }

        #[test]
        fn ints_roundtrip(v in any::<i64>()) {
            prop_assert_eq!(parse_int(&v.to_string()).unwrap(), v);
        }
    }
}
