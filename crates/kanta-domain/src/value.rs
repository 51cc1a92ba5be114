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
    #[error("{value} is out of range {min}..{max}")]
    Range { value: i64, min: i64, max: i64 },
    #[error("'{0}' is not a number")]
    NotFloat(String),
    #[error("'{0}' is not yes or no (use true/false, yes/no, kyllä/ei, 1/0)")]
    NotBool(String),
    #[error("'{value}' is not one of {allowed}")]
    Choice { value: String, allowed: String },
    #[error("'{0}' is not an email address")]
    Email(String),
    #[error("is too long ({0} characters; at most {MAX_TEXT})")]
    TooLong(usize),
}

/// The longest text a field takes, in characters.
pub const MAX_TEXT: usize = 20_000;

/// How to read the texts of one row.
#[derive(Debug, Clone, Copy)]
pub struct ParseContext<'a> {
    /// The row's currency, for money fields.
    pub currency: Currency,
    /// A strftime format for dates and times, instead of the automatic forms.
    pub date_format: Option<&'a str>,
}

/// Parses one field's text. An empty text is [`Value::Null`] (the caller checks
/// required fields).
pub fn parse_field(kind: Kind, text: &str, cx: &ParseContext<'_>) -> Result<Value, FieldError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Value::Null);
    }
    Ok(match kind {
        Kind::Text | Kind::Ref(_) => Value::Text(check_len(t)?.to_string()),
        Kind::LongText => Value::Text(check_len(t)?.to_string()),
        Kind::Int { min, max } => {
            let v = parse_int(t)?;
            if v < min || v > max {
                return Err(FieldError::Range { value: v, min, max });
            }
            Value::Int(v)
        }
        Kind::Float => Value::Float(parse_float(t)?),
        Kind::Money => Value::Int(Decimal::parse(t)?.to_units(cx.currency.minor_digits())?),
        Kind::Currency => Value::Text(t.parse::<Currency>()?.code().to_string()),
        Kind::Date => Value::Date(time::parse_date(t, cx.date_format)?),
        Kind::Timestamp => Value::Time(time::parse_timestamp(t, cx.date_format)?),
        Kind::Bool => Value::Bool(parse_bool(t)?),
        Kind::Choice(allowed) => {
            let lower = t.to_lowercase();
            // Words are matched ignoring case (lowercase words the fast way; the
            // value tiers A-D are upper case).
            let found = allowed
                .iter()
                .find(|a| **a == lower)
                .or_else(|| allowed.iter().find(|a| a.to_lowercase() == lower));
            match found {
                Some(a) => Value::Text((*a).to_string()),
                None => {
                    return Err(FieldError::Choice {
                        value: t.to_string(),
                        allowed: allowed.join(", "),
                    });
                }
            }
        }
        Kind::Email => Value::Text(Email::parse(t)?.into_inner()),
    })
}

fn check_len(t: &str) -> Result<&str, FieldError> {
    let n = t.chars().count();
    if n > MAX_TEXT {
        Err(FieldError::TooLong(n))
    } else {
        Ok(t)
    }
}

/// A whole number; `12.0` and `12,0` are accepted, `12.5` is not.
pub fn parse_int(t: &str) -> Result<i64, FieldError> {
    if let Ok(v) = t.parse::<i64>() {
        return Ok(v);
    }
    let d = Decimal::parse(t).map_err(|_| FieldError::NotInt(t.to_string()))?;
    let whole = d
        .to_units(0)
        .map_err(|_| FieldError::NotInt(t.to_string()))?;
    if Decimal::parse(&whole.to_string())
        .ok()
        .map(|w| w.mantissa * 10i128.pow(d.scale))
        == Some(d.mantissa)
    {
        Ok(whole)
    } else {
        Err(FieldError::NotInt(t.to_string()))
    }
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
        .map_err(|_| FieldError::NotFloat(t.to_string()))
}

pub fn parse_bool(t: &str) -> Result<bool, FieldError> {
    match t.to_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" | "x" | "on" | "kyllä" | "kylla" | "k" | "tosi" => {
            Ok(true)
        }
        "false" | "f" | "no" | "n" | "0" | "off" | "ei" | "e" | "epätosi" => Ok(false),
        _ => Err(FieldError::NotBool(t.to_string())),
    }
}

/// An email address: one `@`, a non-empty local part, a domain with a dot, no spaces.
/// The domain is lower-cased; the local part is kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(t: &str) -> Result<Email, FieldError> {
        let t = t.trim();
        let bad = || FieldError::Email(t.to_string());
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CX: ParseContext<'static> = ParseContext {
        currency: Currency::EUR,
        date_format: None,
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
