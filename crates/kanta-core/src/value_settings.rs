//! The settings of cost to serve (issue 14): what an hour of staff time costs, what each
//! kind of interaction and each severity of case takes (minutes at that hourly cost, or
//! a fixed amount), and the goods margin assumed where an order carries no `cost`.
//!
//! Each setting is a [`crate::settings::StoreSettingDef`] (typed on the settings page,
//! audited); [`CostSettings::from_settings`] reads them all, a stored value that does
//! not read falling back to its default. Finnish forms are read too: `12,50`, `10 min`,
//! `40 %`, `puhelu 10 min`, `korkea 2 h`.

use std::collections::BTreeMap;

use kanta_domain::money::{Currency, Money, MoneyError};
use kanta_domain::schema::{INTERACTION_KINDS, SEVERITIES};
use kanta_domain::value::excerpt;
use serde::{Deserialize, Serialize};

use crate::settings::StoreSettings;

/// `(key, default, description)` of every cost-to-serve setting.
pub const VALUE_SETTINGS: &[(&str, &str, &str)] = &[
    (
        "cost_hourly",
        "40.00",
        "What an hour of staff time costs, in the store's currency (e.g. 40,00; default 40.00): interactions and cases given in minutes cost their share of it",
    ),
    (
        "interaction_costs",
        "call 10min, meeting 60min, email 5min, visit 45min, chat 5min, note 0min, other 10min",
        "What each kind of interaction costs: minutes of staff time or a fixed amount, e.g. call 10min, meeting 60min, visit 12,50 (default call 10min, meeting 60min, email 5min, visit 45min, chat 5min, note 0min, other 10min)",
    ),
    (
        "case_costs",
        "low 15min, normal 30min, high 120min, critical 240min",
        "What a case costs by severity: minutes of staff time or a fixed amount, e.g. low 15min, high 2h (default low 15min, normal 30min, high 120min, critical 240min)",
    ),
    (
        "goods_margin",
        "40%",
        "The share of revenue that is gross margin where an order has no cost recorded, and of subscriptions' revenue (0 to 100 %, default 40%)",
    ),
];

/// The default of a cost-to-serve setting.
pub fn default_setting(key: &str) -> Option<&'static str> {
    VALUE_SETTINGS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, d, _)| *d)
}

/// What one interaction or case costs: staff minutes at the hourly cost, or an amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitCost {
    Minutes(u32),
    /// Minor units of the store's currency.
    Fixed(i64),
}

impl UnitCost {
    /// Its cost in minor units at `hourly_minor` per hour (rounded half away from zero).
    pub fn minor(self, hourly_minor: i64) -> i64 {
        match self {
            UnitCost::Fixed(m) => m,
            UnitCost::Minutes(min) => {
                let num = i128::from(hourly_minor) * i128::from(min);
                let q = (num.abs() + 30) / 60;
                (if num < 0 { -q } else { q }) as i64
            }
        }
    }

    fn normalised(self) -> String {
        match self {
            UnitCost::Minutes(m) => format!("{m}min"),
            UnitCost::Fixed(m) => Money::new(m, Currency::EUR).plain(),
        }
    }
}

/// The cost-to-serve settings in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostSettings {
    /// One staff hour, in minor units of the store's currency.
    pub hourly_minor: i64,
    /// By interaction kind ([`INTERACTION_KINDS`]).
    pub interactions: BTreeMap<String, UnitCost>,
    /// By case severity ([`SEVERITIES`]).
    pub cases: BTreeMap<String, UnitCost>,
    /// The goods margin where no cost is recorded, as a fraction (0.4).
    pub goods_margin: f64,
}

impl Default for CostSettings {
    fn default() -> Self {
        let d = |k: &str| default_setting(k).unwrap_or_default();
        CostSettings {
            hourly_minor: hourly(d("cost_hourly")).unwrap_or(4000),
            interactions: unit_costs(d("interaction_costs"), INTERACTION_KINDS, kind_alias)
                .unwrap_or_default(),
            cases: unit_costs(d("case_costs"), SEVERITIES, severity_alias).unwrap_or_default(),
            goods_margin: percent(d("goods_margin")).unwrap_or(40.0) / 100.0,
        }
    }
}

impl CostSettings {
    /// The settings from the store's values; a value that does not read is its default.
    pub fn from_settings(s: &StoreSettings) -> CostSettings {
        let mut c = CostSettings::default();
        if let Some(m) = s.value("cost_hourly").and_then(|v| hourly(v).ok()) {
            c.hourly_minor = m;
        }
        if let Some(m) = s
            .value("interaction_costs")
            .and_then(|v| unit_costs(v, INTERACTION_KINDS, kind_alias).ok())
        {
            c.interactions = m;
        }
        if let Some(m) = s
            .value("case_costs")
            .and_then(|v| unit_costs(v, SEVERITIES, severity_alias).ok())
        {
            c.cases = m;
        }
        if let Some(p) = s.value("goods_margin").and_then(|v| percent(v).ok()) {
            c.goods_margin = p / 100.0;
        }
        c
    }

    /// What one interaction of `kind` costs, in minor units (an unknown kind as `other`).
    pub fn interaction_minor(&self, kind: &str) -> i64 {
        self.interactions
            .get(kind)
            .or_else(|| self.interactions.get("other"))
            .map_or(0, |c| c.minor(self.hourly_minor))
    }

    /// What one case of `severity` costs, in minor units (an unknown one as `normal`).
    pub fn case_minor(&self, severity: &str) -> i64 {
        self.cases
            .get(severity)
            .or_else(|| self.cases.get("normal"))
            .map_or(0, |c| c.minor(self.hourly_minor))
    }
}

/// `cost_hourly`: an amount of 0 or more (`40`, `40,00`, `40.00 €`), as `40.00`.
pub fn parse_cost_hourly(s: &str) -> std::result::Result<String, String> {
    hourly(s).map(|m| Money::new(m, Currency::EUR).plain())
}

/// `interaction_costs`: `call 10min, meeting 1h, visit 12,50`; kinds not named keep
/// their defaults. Normalised to every kind in order.
pub fn parse_interaction_costs(s: &str) -> std::result::Result<String, String> {
    unit_costs(s, INTERACTION_KINDS, kind_alias).map(|m| normalised(&m, INTERACTION_KINDS))
}

/// `case_costs`: `low 15min, normal 30min, high 2h, critical 240min`.
pub fn parse_case_costs(s: &str) -> std::result::Result<String, String> {
    unit_costs(s, SEVERITIES, severity_alias).map(|m| normalised(&m, SEVERITIES))
}

/// `goods_margin`: `40%`, `40 %`, `37,5`, as `40%`.
pub fn parse_goods_margin(s: &str) -> std::result::Result<String, String> {
    percent(s).map(|p| {
        let t = format!("{p:.2}");
        let t = t.trim_end_matches('0').trim_end_matches('.');
        format!("{t}%")
    })
}

fn hourly(s: &str) -> std::result::Result<i64, String> {
    let t = s.trim();
    let t = t
        .strip_suffix("/h")
        .or_else(|| t.strip_suffix("/ h"))
        .unwrap_or(t);
    let m = money(t)?;
    if m < 0 {
        return Err(format!(
            "'{}' is below zero: an hour of staff time costs 0 or more",
            excerpt(s.trim())
        ));
    }
    Ok(m)
}

fn money(s: &str) -> std::result::Result<i64, String> {
    Money::parse_strict(s, Currency::EUR)
        .map(|m| m.minor)
        .map_err(|e| match e {
            MoneyError::Empty | MoneyError::NotANumber(_) | MoneyError::BadCurrency(_) => {
                format!(
                    "'{}' is not an amount like 40,00 (in the store's currency)",
                    excerpt(s.trim())
                )
            }
            e => e.to_string(),
        })
}

fn percent(s: &str) -> std::result::Result<f64, String> {
    let t = s.trim();
    let t = t.strip_suffix('%').unwrap_or(t).trim().replace(',', ".");
    match t.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "'{}' is not a percentage from 0 to 100, like 40 %",
            excerpt(s.trim())
        )),
    }
}

fn kind_alias(s: &str) -> Option<&'static str> {
    Some(match s {
        "puhelu" | "soitto" => "call",
        "tapaaminen" | "palaveri" => "meeting",
        "sähköposti" | "sahkoposti" | "posti" => "email",
        "käynti" | "kaynti" => "visit",
        "keskustelu" => "chat",
        "muistiinpano" | "muistio" => "note",
        "muu" => "other",
        _ => return None,
    })
}

fn severity_alias(s: &str) -> Option<&'static str> {
    Some(match s {
        "matala" | "alhainen" => "low",
        "normaali" | "medium" | "tavallinen" => "normal",
        "korkea" | "vakava" => "high",
        "kriittinen" => "critical",
        _ => return None,
    })
}

/// One cost as typed: `10min`, `10 min`, `10 minuuttia`, `1h`, `1,5 h`, `2 t`, or an
/// amount (`12,50`, `12,50 €`).
fn unit_cost(s: &str) -> std::result::Result<UnitCost, String> {
    let t = s.trim().to_lowercase();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim();
    let minutes_per = match unit {
        "min" | "mins" | "minute" | "minutes" | "minuutti" | "minuuttia" | "m" => Some(1.0),
        "h" | "t" | "hour" | "hours" | "tunti" | "tuntia" => Some(60.0),
        _ => None,
    };
    if let Some(per) = minutes_per {
        let n: f64 = num
            .replace(',', ".")
            .parse()
            .map_err(|_| format!("'{}' is not a number of minutes", excerpt(s.trim())))?;
        let minutes = (n * per).round();
        if !(0.0..=100_000.0).contains(&minutes) {
            return Err(format!(
                "'{}' is not a number of minutes from 0 to 100000",
                excerpt(s.trim())
            ));
        }
        return Ok(UnitCost::Minutes(minutes as u32));
    }
    let m = money(s).map_err(|_| {
        format!(
            "'{}' is neither minutes (10min, 1h) nor an amount (12,50)",
            excerpt(s.trim())
        )
    })?;
    if m < 0 {
        return Err(format!("'{}' is below zero", excerpt(s.trim())));
    }
    Ok(UnitCost::Fixed(m))
}

/// `name cost, name cost, ...` over the defaults of `names` (a decimal comma inside an
/// amount, `visit 12,50`, is not a separator: a piece starting with a digit continues
/// the previous one).
fn unit_costs(
    s: &str,
    names: &[&str],
    alias: fn(&str) -> Option<&'static str>,
) -> std::result::Result<BTreeMap<String, UnitCost>, String> {
    let mut out: BTreeMap<String, UnitCost> = BTreeMap::new();
    let mut pieces: Vec<String> = Vec::new();
    for p in s.split([',', ';', '\n']) {
        match pieces.last_mut() {
            Some(last) if p.starts_with(|c: char| c.is_ascii_digit()) => {
                last.push(',');
                last.push_str(p);
            }
            _ => pieces.push(p.to_string()),
        }
    }
    for p in pieces.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let (name, cost) = p
            .split_once(|c: char| c.is_whitespace() || c == ':' || c == '=')
            .ok_or_else(|| {
                format!(
                    "'{}' names no cost: write a name and a cost, like {} 10min",
                    excerpt(p),
                    names[0]
                )
            })?;
        let name = name.trim().to_lowercase();
        let key = names
            .iter()
            .find(|n| **n == name)
            .copied()
            .or_else(|| alias(&name))
            .ok_or_else(|| format!("'{}' is not one of {}", excerpt(&name), names.join(", ")))?;
        let cost =
            unit_cost(cost.trim_start_matches([':', '='])).map_err(|e| format!("{key}: {e}"))?;
        out.insert(key.to_string(), cost);
    }
    if out.len() < names.len() {
        // Names not given keep their defaults.
        let defaults = names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let default_text = match names.first() {
            Some(&"call") => default_setting("interaction_costs"),
            _ => default_setting("case_costs"),
        }
        .unwrap_or_default();
        if s.trim() != default_text {
            let d = unit_costs(default_text, names, alias)?;
            for n in defaults {
                if let Some(c) = d.get(&n) {
                    out.entry(n).or_insert(*c);
                }
            }
        }
    }
    Ok(out)
}

fn normalised(m: &BTreeMap<String, UnitCost>, names: &[&str]) -> String {
    names
        .iter()
        .filter_map(|n| m.get(*n).map(|c| format!("{n} {}", c.normalised())))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_read_in_english_and_finnish() {
        assert_eq!(parse_cost_hourly("40").unwrap(), "40.00");
        assert_eq!(parse_cost_hourly("42,50 €").unwrap(), "42.50");
        assert!(parse_cost_hourly("-1").is_err());
        assert!(parse_cost_hourly("paljon").is_err());
        assert_eq!(parse_goods_margin("40 %").unwrap(), "40%");
        assert_eq!(parse_goods_margin("37,5").unwrap(), "37.5%");
        assert!(parse_goods_margin("140%").is_err());
        assert_eq!(
            parse_interaction_costs("puhelu 15 min, visit 12,50, meeting 1,5 h").unwrap(),
            "call 15min, meeting 90min, email 5min, visit 12.50, chat 5min, note 0min, other 10min"
        );
        assert_eq!(
            parse_case_costs("korkea 2 h").unwrap(),
            "low 15min, normal 30min, high 120min, critical 240min"
        );
        let e = parse_case_costs("urgent 5min").unwrap_err();
        assert!(e.contains("low, normal, high, critical"), "{e}");
        let e = parse_interaction_costs("call lots").unwrap_err();
        assert!(e.starts_with("call:"), "{e}");
    }

    #[test]
    fn defaults_cost_what_the_design_says() {
        let c = CostSettings::default();
        assert_eq!(c.hourly_minor, 4000);
        assert_eq!(c.interaction_minor("call"), 667); // 10 min of 40,00 €/h
        assert_eq!(c.interaction_minor("meeting"), 4000);
        assert_eq!(c.interaction_minor("note"), 0);
        assert_eq!(c.case_minor("high"), 8000);
        assert_eq!(c.case_minor("critical"), 16000);
        assert!((c.goods_margin - 0.4).abs() < 1e-12);
        assert_eq!(UnitCost::Fixed(1250).minor(4000), 1250);
    }
}
