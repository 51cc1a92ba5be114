//! Money and date parsing: `kanta_domain::money::{Decimal, Money}` and
//! `kanta_domain::time::{parse_date, parse_date_in, parse_timestamp_in}`, and
//! `kanta_domain::value::parse_field` for the money, date and timestamp kinds.
//!
//! Input: byte 0 picks the currency (low 4 bits) and the strftime format (high 4
//! bits: an index into FORMATS, or 15 = a custom format, the text before the first
//! newline); byte 1 picks the time zone; the rest is the text (lossy UTF-8).
//!
//! Properties, besides "never panics":
//! - a Decimal that parses prints (`Display`) to a text that parses to the same
//!   Decimal; its scale is at most 12 and its mantissa at most 10^30;
//! - an amount that parses is within ±MAX_MINOR in the asked currency, agrees with
//!   `Decimal::parse(..).to_minor(..)`, and its `plain()` and Finnish `display(true)`
//!   forms parse back to the same amount (the English `display(false)` too, except
//!   for a currency without decimals from 1,000 up, where `1,234` reads as 1.234;
//!   the displays of SEK, NOK and DKK end in `kr`, which `parse` does not read);
//! - `parse_strict`, when it accepts, agrees with the lenient `parse`;
//! - `12.50` and `12,50` are the same amount (a text with one `.` and no `,`);
//! - a date that parses has a year 0..=9999 and its ISO (`2024-12-31`) and Finnish
//!   (`31.12.2024`) forms parse back to it;
//! - a timestamp that parses (automatic forms) prints as RFC 3339 and as the store's
//!   `format_time` to texts that parse back to it (to the millisecond for the
//!   latter); a text that gives a timestamp also gives a date;
//! - `parse_field` keeps dates and times within MIN_YEAR..=MAX_YEAR and money within
//!   ±MAX_MINOR.
#![no_main]

use chrono::{DateTime, Datelike, Timelike, Utc};
use kanta_domain::money::{Currency, Decimal, MAX_MINOR, Money};
use kanta_domain::schema::Kind;
use kanta_domain::time::{self, TimeError, Tz};
use kanta_domain::value::{self, MAX_YEAR, MIN_YEAR, ParseContext, Value};
use libfuzzer_sys::fuzz_target;

const CURRENCIES: &[&str] = &[
    "EUR", "USD", "GBP", "SEK", "JPY", "KRW", "BHD", "KWD", "ISK", "NOK", "DKK", "CHF",
];

const FORMATS: &[&str] = &[
    "%d.%m.%Y",
    "%Y-%m-%d",
    "%d.%m.%Y %H.%M",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %I:%M %p",
    "%Y%m%d",
    "%Y-%m-%dT%H:%M:%S%z",
    "%s",
    "%d.%m.%y",
    "%+",
];

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let currency: Currency = CURRENCIES[usize::from(data[0] & 0x0f) % CURRENCIES.len()]
        .parse()
        .expect("a currency of the list");
    let zone: Tz = chrono_tz::TZ_VARIANTS[usize::from(data[1]) % chrono_tz::TZ_VARIANTS.len()];
    let whole = String::from_utf8_lossy(&data[2..]);
    let fsel = usize::from(data[0] >> 4);
    let (format, text): (Option<&str>, &str) = if fsel == 15 {
        match whole.split_once('\n') {
            Some((f, t)) => (Some(f), t),
            None => (None, &whole[..]),
        }
    } else {
        (FORMATS.get(fsel).copied(), &whole[..])
    };

    money(text, currency);
    dates(text, zone);
    if let Some(f) = format {
        // A user's --date-format: no panic, whatever the format and the text.
        let _ = kanta_import::check_date_format(f);
        let d = time::parse_date_in(text, Some(f), zone);
        let t = time::parse_timestamp_in(text, Some(f), zone);
        if let Ok(t) = t {
            let _ = value::format_time(&t);
            let _ = value::check_time(t);
        }
        if let Ok(d) = d {
            let _ = value::check_date(d);
        }
    }
    fields(text, currency, format, zone);
});

fn money(text: &str, currency: Currency) {
    let dec = Decimal::parse(text);
    if let Ok(d) = dec {
        assert!(d.scale <= 12, "{text:?} gave scale {}", d.scale);
        assert!(
            d.mantissa.unsigned_abs() <= 10u128.pow(30),
            "{text:?} gave mantissa {}",
            d.mantissa
        );
        let printed = d.to_string();
        assert_eq!(
            Decimal::parse(&printed),
            Ok(d),
            "{text:?} parsed to {d:?}, printed as {printed:?}"
        );
        let _ = d.to_units(0);
        let _ = d.to_units(12);
        let _ = d.mul(&d);
        let _ = d.to_f64();
    }
    let m = Money::parse(text, currency);
    assert_eq!(
        m.clone().ok(),
        dec.as_ref()
            .ok()
            .and_then(|d| d.to_minor(currency).ok())
            .map(|minor| Money::new(minor, currency)),
        "Money::parse and Decimal::parse disagree on {text:?}"
    );
    if let Ok(m) = m {
        assert!(m.minor.abs() <= MAX_MINOR, "{text:?} gave {m:?}");
        assert_eq!(m.currency, currency);
        let mut forms = vec![("plain", m.plain())];
        // "12,50 kr" is no form `parse` claims to read (its symbol is no code).
        let kr = matches!(currency.code(), "SEK" | "NOK" | "DKK");
        if !kr {
            forms.push(("Finnish display", m.display(true)));
        }
        for (form, shown) in forms {
            assert_eq!(
                Money::parse(&shown, currency),
                Ok(m),
                "{text:?} gave {m:?}; its {form} {shown:?} does not parse back"
            );
        }
        if !kr && (currency.minor_digits() > 0 || m.minor.abs() < 1000) {
            let en = m.display(false);
            assert_eq!(
                Money::parse(&en, currency),
                Ok(m),
                "{text:?} gave {m:?}; its English display {en:?} does not parse back"
            );
        }
    }
    if let Ok(strict) = Money::parse_strict(text, currency) {
        assert_eq!(
            Money::parse(text, currency),
            Ok(strict),
            "parse_strict accepted {text:?} as {strict:?}, parse does not agree"
        );
    }
    // 12.50 and 12,50 are the same amount.
    if !text.contains([',', 'e', 'E']) && text.matches('.').count() == 1 {
        let fi = text.replace('.', ",");
        assert_eq!(
            Decimal::parse(&fi).ok(),
            dec.ok(),
            "{text:?} and {fi:?} differ"
        );
    }
}

fn dates(text: &str, zone: Tz) {
    let date = time::parse_date(text, None);
    if let Ok(d) = date {
        assert!(
            (0..=9999).contains(&d.year()),
            "{text:?} gave the date {d} (year out of 0..=9999)"
        );
        let iso = d.format("%Y-%m-%d").to_string();
        assert_eq!(
            time::parse_date(&iso, None),
            Ok(d),
            "{text:?} gave {d}; its ISO form {iso:?} does not parse back"
        );
        let fi = format!("{}.{}.{:04}", d.day(), d.month(), d.year());
        assert_eq!(
            time::parse_date(&fi, None),
            Ok(d),
            "{text:?} gave {d}; its Finnish form {fi:?} does not parse back"
        );
    }
    let date_in = time::parse_date_in(text, None, zone);
    let ts = time::parse_timestamp_in(text, None, zone);
    match &ts {
        Ok(_) => assert!(
            date_in.is_ok(),
            "{text:?} is a time in {zone} but not a date: {date_in:?}"
        ),
        Err(TimeError::Nonexistent { .. }) => assert!(date_in.is_ok()),
        Err(_) => assert!(
            date_in.is_err(),
            "{text:?} is a date in {zone} ({date_in:?}) but not a time: {ts:?}"
        ),
    }
    if let Ok(t) = ts
        && (0..=9999).contains(&t.year())
    {
        let rfc = t.to_rfc3339();
        assert_eq!(
            time::parse_timestamp(&rfc, None),
            Ok(t),
            "{text:?} in {zone} gave {t}; its RFC 3339 form {rfc:?} does not parse back"
        );
        let stored = value::format_time(&t);
        let millis: DateTime<Utc> = t
            .with_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000)
            .expect("a time to the millisecond");
        assert_eq!(
            time::parse_timestamp(&stored, None),
            Ok(millis),
            "{text:?} in {zone} gave {t}; its stored form {stored:?} does not parse back"
        );
    }
}

fn fields(text: &str, currency: Currency, format: Option<&str>, zone: Tz) {
    let cx = ParseContext {
        currency,
        date_format: format,
        zone,
    };
    for kind in [Kind::Money, Kind::Date, Kind::Timestamp] {
        match value::parse_field(kind, text, &cx) {
            Ok(Value::Int(minor)) => {
                assert!(minor.abs() <= MAX_MINOR, "{text:?}: money {minor}")
            }
            Ok(Value::Date(d)) => assert!(
                (MIN_YEAR..=MAX_YEAR).contains(&d.year()),
                "{text:?}: date {d} out of bounds"
            ),
            Ok(Value::Time(t)) => assert!(
                (MIN_YEAR..=MAX_YEAR).contains(&t.year()),
                "{text:?}: time {t} out of bounds"
            ),
            Ok(Value::Null) => assert!(text.trim().is_empty()),
            Ok(other) => panic!("{kind:?} gave {other:?} for {text:?}"),
            Err(e) => {
                // Every refusal can be shown, and never echoes a long text whole.
                let msg = e.to_string();
                assert!(msg.len() < 1_000 + format.map_or(0, str::len), "{msg}");
            }
        }
    }
    let _ = value::parse_int(text.trim());
    let _ = value::parse_float(text.trim());
}
