//! Finnish and English for the web UI: the texts (`i18n/fi.txt`, `i18n/en.txt`,
//! `KEY = text` lines embedded in the binary), the choice of language, and dates and
//! money in each language's format (31.12.2024 and 12,50 € in Finnish). Times are
//! stored in UTC and shown on the wall clock of the page's zone ([`Tr::zone`]: the
//! user's own, else the store's), which [`Tr::zone_label`] names ("Helsinki time").

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::HeaderMap;
use chrono::{DateTime, NaiveDate, Utc};
use kanta_domain::time::Tz;
use kanta_domain::{Currency, Money};

/// A language of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Fi,
    En,
}

const FI: &str = include_str!("../i18n/fi.txt");
const EN: &str = include_str!("../i18n/en.txt");

/// Name of the cookie that keeps a chosen language.
pub const LANG_COOKIE: &str = "kanta_lang";

fn parse(catalog: &'static str) -> HashMap<&'static str, &'static str> {
    catalog
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(" = ").map(|(k, v)| (k.trim(), v.trim())))
        .collect()
}

fn catalog(lang: Lang) -> &'static HashMap<&'static str, &'static str> {
    static FI_MAP: OnceLock<HashMap<&str, &str>> = OnceLock::new();
    static EN_MAP: OnceLock<HashMap<&str, &str>> = OnceLock::new();
    match lang {
        Lang::Fi => FI_MAP.get_or_init(|| parse(FI)),
        Lang::En => EN_MAP.get_or_init(|| parse(EN)),
    }
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fi => "fi",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fi" | "fi-fi" | "suomi" => Some(Lang::Fi),
            "en" | "en-gb" | "en-us" | "english" => Some(Lang::En),
            _ => None,
        }
    }

    /// The best of `fi` and `en` for an `Accept-Language` header (by q-value, then
    /// order); English when neither is asked for.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut bits = part.split(';');
            let tag = bits.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = bits
                .find_map(|b| {
                    b.trim()
                        .strip_prefix("q=")
                        .and_then(|v| v.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            let lang = match primary {
                "fi" => Lang::Fi,
                "en" => Lang::En,
                _ => continue,
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }

    /// The language of a request: `?lang=` wins, then the cookie, then the browser's
    /// `Accept-Language`.
    pub fn of_request(query_lang: Option<&str>, headers: &HeaderMap) -> Lang {
        if let Some(l) = query_lang.and_then(Lang::parse) {
            return l;
        }
        let cookie = headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| {
                c.trim()
                    .strip_prefix(LANG_COOKIE)
                    .and_then(|r| r.strip_prefix('='))
            })
            .and_then(Lang::parse);
        if let Some(l) = cookie {
            return l;
        }
        headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map_or(Lang::En, Lang::from_accept_language)
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Fi => Lang::En,
            Lang::En => Lang::Fi,
        }
    }
}

/// Texts and formats of one language and the zone times are shown in, for
/// templates: `{{ tr.t("customers.title") }}`, `{{ tr.date_time(t) }}`.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub lang: Lang,
    /// The zone times are shown in: the signed-in user's own, else the store's.
    pub zone: Tz,
}

impl Tr {
    /// Texts of `lang`, times in UTC (pages with no signed-in user show no times).
    pub fn new(lang: Lang) -> Tr {
        Tr::in_zone(lang, Tz::UTC)
    }

    /// Texts of `lang`, times on the wall clock of `zone`.
    pub fn in_zone(lang: Lang, zone: Tz) -> Tr {
        Tr { lang, zone }
    }

    /// The text for `key`; the key itself when missing (a test keeps that from
    /// happening in the templates).
    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        catalog(self.lang).get(key).copied().unwrap_or(key)
    }

    pub fn code(&self) -> &'static str {
        self.lang.code()
    }

    fn lookup(&self, key: &str) -> Option<&'static str> {
        catalog(self.lang).get(key).copied()
    }

    /// The label of a field (`field.NAME`), else its name with spaces.
    pub fn field(&self, name: &str) -> String {
        self.lookup(&format!("field.{name}"))
            .map_or_else(|| name.replace('_', " "), str::to_string)
    }

    /// What happened (`event.KIND`), else the kind with spaces.
    pub fn event(&self, kind: &str) -> String {
        self.lookup(&format!("event.{kind}"))
            .map_or_else(|| kind.replace('_', " "), str::to_string)
    }

    /// A word of a fixed list (`value.WORD`: yes, company, inbound, ...), else the word.
    pub fn value(&self, word: &str) -> String {
        self.lookup(&format!("value.{word}"))
            .map_or_else(|| word.to_string(), str::to_string)
    }

    /// The text for `key`, else `fallback` (a word that has no text yet: an action
    /// the audit log names, a job's status).
    pub fn text_or(&self, key: &str, fallback: &str) -> String {
        self.lookup(key)
            .map_or_else(|| fallback.to_string(), str::to_string)
    }

    /// `12,50 €` in Finnish, `€12.50` in English.
    pub fn money(&self, minor: i64, currency: Currency) -> String {
        Money::new(minor, currency).display(self.lang == Lang::Fi)
    }

    /// The local date of `t` in the page's zone: `31.12.2024` in Finnish,
    /// `2024-12-31` in English.
    pub fn date(&self, t: &DateTime<Utc>) -> String {
        self.day(&t.with_timezone(&self.zone).date_naive())
    }

    /// A calendar date as it is (a date has no zone): `31.12.2024`, `2024-12-31`.
    pub fn day(&self, d: &NaiveDate) -> String {
        match self.lang {
            Lang::Fi => d.format("%-d.%-m.%Y").to_string(),
            Lang::En => d.format("%Y-%m-%d").to_string(),
        }
    }

    /// `t` on the wall clock of the page's zone: `31.12.2024 klo 10.05` in Finnish,
    /// `2024-12-31 10:05` in English.
    pub fn date_time(&self, t: &DateTime<Utc>) -> String {
        let local = t.with_timezone(&self.zone);
        match self.lang {
            Lang::Fi => local.format("%-d.%-m.%Y klo %-H.%M").to_string(),
            Lang::En => local.format("%Y-%m-%d %H:%M").to_string(),
        }
    }

    /// The time of day of `t` in the page's zone: `8.30` in Finnish, `08:30` in English.
    pub fn time(&self, t: &DateTime<Utc>) -> String {
        let local = t.with_timezone(&self.zone);
        match self.lang {
            Lang::Fi => local.format("%-H.%M").to_string(),
            Lang::En => local.format("%H:%M").to_string(),
        }
    }

    /// Names the page's zone by the times shown: "Helsingin aikaa", "Helsinki time",
    /// "New York time" (`zone.NAME` where the catalog has it, else `time.zone` with
    /// the zone's city).
    pub fn zone_label(&self) -> String {
        let name = self.zone.name();
        if let Some(t) = self.lookup(&format!("zone.{name}")) {
            return t.to_string();
        }
        let city = name.rsplit('/').next().unwrap_or(name).replace('_', " ");
        self.t("time.zone").replace("{zone}", &city)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn finnish_and_english_have_the_same_keys_and_no_empty_text() {
        let fi: BTreeSet<_> = catalog(Lang::Fi).keys().collect();
        let en: BTreeSet<_> = catalog(Lang::En).keys().collect();
        assert_eq!(
            fi.symmetric_difference(&en).collect::<Vec<_>>(),
            Vec::<&&&str>::new()
        );
        for lang in [Lang::Fi, Lang::En] {
            for (k, v) in catalog(lang) {
                assert!(!v.is_empty(), "{k} is empty in {}", lang.code());
            }
        }
        // Every line is a KEY = text pair or a comment.
        for text in [FI, EN] {
            for l in text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
            {
                assert!(l.contains(" = "), "not KEY = text: {l}");
            }
        }
    }

    #[test]
    fn every_key_the_templates_use_exists() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let mut used = 0;
        // The pages and their parts (`templates/parts/`, included by the customer page).
        let parts = format!("{dir}/parts");
        let files = std::fs::read_dir(dir)
            .unwrap()
            .chain(std::fs::read_dir(&parts).into_iter().flatten())
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file());
        for path in files {
            let text = std::fs::read_to_string(path).unwrap();
            for part in text.split("tr.t(\"").skip(1) {
                let key = part.split('"').next().unwrap();
                used += 1;
                assert!(
                    catalog(Lang::En).contains_key(key),
                    "templates use a missing key {key}"
                );
            }
        }
        assert!(used > 20, "the templates are translated ({used} keys)");
    }

    #[test]
    fn every_field_and_choice_has_a_label_in_both() {
        use kanta_domain::schema::{ENTITIES, Kind};
        for lang in [Lang::Fi, Lang::En] {
            let tr = Tr::new(lang);
            for e in ENTITIES {
                for f in e.fields {
                    assert!(
                        tr.lookup(&format!("field.{}", f.name)).is_some(),
                        "{}: field.{}",
                        lang.code(),
                        f.name
                    );
                    if let Kind::Choice(words) = f.kind {
                        for w in words {
                            assert!(
                                tr.lookup(&format!("value.{w}")).is_some(),
                                "{}: value.{w}",
                                lang.code()
                            );
                        }
                    }
                }
            }
            for k in [
                "order",
                "refund",
                "case_opened",
                "case_resolved",
                "subscription_started",
                "subscription_ended",
                "feedback",
                "usage",
                "trust",
            ] {
                assert!(
                    tr.lookup(&format!("event.{k}")).is_some(),
                    "{}: event.{k}",
                    lang.code()
                );
            }
        }
        assert_eq!(Tr::new(Lang::Fi).field("our_fault"), "meidän virheemme");
        assert_eq!(Tr::new(Lang::Fi).value("company"), "yritys");
        assert_eq!(Tr::new(Lang::En).field("no_such_field"), "no such field");
    }

    #[test]
    fn accept_language_picks_by_quality() {
        assert_eq!(
            Lang::from_accept_language("fi-FI,fi;q=0.9,en;q=0.8"),
            Lang::Fi
        );
        assert_eq!(
            Lang::from_accept_language("en-US,en;q=0.9,fi;q=0.5"),
            Lang::En
        );
        assert_eq!(Lang::from_accept_language("sv;q=1.0,fi;q=0.4"), Lang::Fi);
        assert_eq!(Lang::from_accept_language("de"), Lang::En);
        assert_eq!(Lang::from_accept_language(""), Lang::En);
    }

    #[test]
    fn dates_and_money_in_each_language() {
        let t = DateTime::parse_from_rfc3339("2024-12-31T10:05:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let fi = Tr::new(Lang::Fi);
        let en = Tr::new(Lang::En);
        assert_eq!(fi.date(&t), "31.12.2024");
        assert_eq!(en.date(&t), "2024-12-31");
        assert_eq!(fi.date_time(&t), "31.12.2024 klo 10.05");
        assert_eq!(fi.zone_label(), "UTC-aikaa");
        assert_eq!(fi.money(1250, Currency::EUR), "12,50\u{a0}€");
        assert_eq!(en.money(1250, Currency::EUR), "€12.50");
    }

    #[test]
    fn times_are_shown_in_the_zone() {
        let helsinki = kanta_domain::time::DEFAULT_ZONE;
        let (fi, en) = (
            Tr::in_zone(Lang::Fi, helsinki),
            Tr::in_zone(Lang::En, helsinki),
        );
        // Summer, UTC+3.
        let t: DateTime<Utc> = "2024-06-01T05:30:00Z".parse().unwrap();
        assert_eq!(fi.date_time(&t), "1.6.2024 klo 8.30");
        assert_eq!(en.date_time(&t), "2024-06-01 08:30");
        assert_eq!((fi.time(&t), en.time(&t)), ("8.30".into(), "08:30".into()));
        // Winter, UTC+2; the local date is the next day.
        let t: DateTime<Utc> = "2024-12-31T22:30:00Z".parse().unwrap();
        assert_eq!(fi.date_time(&t), "1.1.2025 klo 0.30");
        assert_eq!(en.date(&t), "2025-01-01");
        // A calendar date stays itself in any zone.
        let d = NaiveDate::from_ymd_opt(2024, 12, 31).unwrap();
        let ny = Tr::in_zone(Lang::En, "America/New_York".parse().unwrap());
        assert_eq!(ny.day(&d), "2024-12-31");
        assert_eq!(ny.date_time(&t), "2024-12-31 17:30");
        assert_eq!(fi.zone_label(), "Helsingin aikaa");
        assert_eq!(en.zone_label(), "Helsinki time");
        assert_eq!(ny.zone_label(), "New York time");
    }
}
