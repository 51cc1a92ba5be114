//! The settings of surveys and feedback (issue 13): how often a customer may be asked,
//! how long a link lives, what counts as a detractor, when a figure has too few answers
//! to show, and the reach factors of good and bad word of mouth (seed 000: good service
//! is told to 3 people, bad to 11).
//!
//! Each setting is a [`crate::settings::StoreSettingDef`] (typed on the settings page,
//! audited); [`FeedbackRules::from_settings`] reads them all, a stored value that does
//! not read falling back to its default.

use serde::Serialize;

use crate::queue::whole_in;
use crate::settings::StoreSettings;

/// `(key, default, description)` of every survey and feedback setting.
pub const FEEDBACK_SETTINGS: &[(&str, &str, &str)] = &[
    (
        "survey_cooldown_days",
        "90",
        "Days between two survey invitations to the same customer, across all surveys (0: no limit; default 90)",
    ),
    (
        "survey_link_days",
        "30",
        "Days a personal survey link stays valid (default 30)",
    ),
    (
        "survey_reminder_days",
        "7",
        "Days after an unanswered invitation its one reminder goes (0: no reminder; default 7)",
    ),
    (
        "survey_skip_critical",
        "yes",
        "Invite no customer with an open critical case (yes or no; default yes)",
    ),
    (
        "survey_quiet_hours",
        "21-08",
        "Hours of the store's clock in which no invitation is mailed, e.g. 21-08 (none: any time; default 21-08)",
    ),
    (
        "survey_rate_limit",
        "30",
        "Answers and page loads per minute that one address may make on the public survey pages (default 30)",
    ),
    (
        "detractor_nps_max",
        "6",
        "The highest NPS answer that counts as a detractor's (default 6)",
    ),
    (
        "detractor_csat_max",
        "2",
        "The highest CSAT answer that counts as a detractor's (default 2)",
    ),
    (
        "detractor_opens_case",
        "no",
        "A detractor's answer opens a case (yes or no; default no)",
    ),
    (
        "feedback_min_answers",
        "30",
        "Answers a period needs before its NPS, CSAT or CES is shown; fewer show as not enough answers (default 30)",
    ),
    (
        "exposure_promoter",
        "3",
        "People a satisfied customer tells (default 3)",
    ),
    (
        "exposure_detractor",
        "11",
        "People a dissatisfied customer tells (default 11)",
    ),
];

/// The default of a survey or feedback setting.
pub fn default_setting(key: &str) -> Option<&'static str> {
    FEEDBACK_SETTINGS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, d, _)| *d)
}

/// Checks and normalises a value of one of [`FEEDBACK_SETTINGS`].
pub fn parse_setting(key: &str, s: &str) -> std::result::Result<String, String> {
    match key {
        "survey_cooldown_days" => whole_in(s, 0, 3650, "a number of days", "90"),
        "survey_link_days" => whole_in(s, 1, 365, "a number of days", "30"),
        "survey_reminder_days" => whole_in(s, 0, 90, "a number of days", "7"),
        "survey_skip_critical" | "detractor_opens_case" => yes_no(s),
        "survey_quiet_hours" => quiet_hours(s).map(|q| match q {
            Some((a, b)) => format!("{a:02}-{b:02}"),
            None => "none".into(),
        }),
        "survey_rate_limit" => whole_in(s, 1, 100_000, "a number per minute", "30"),
        "detractor_nps_max" => whole_in(s, 0, 8, "an NPS answer", "6"),
        "detractor_csat_max" => whole_in(s, 1, 4, "a CSAT answer", "2"),
        "feedback_min_answers" => whole_in(s, 1, 100_000, "a number of answers", "30"),
        "exposure_promoter" => whole_in(s, 0, 1000, "a number of people", "3"),
        "exposure_detractor" => whole_in(s, 0, 1000, "a number of people", "11"),
        _ => Err(format!("{key} is not a survey setting")),
    }
}

macro_rules! parser {
    ($($name:ident => $key:literal),* $(,)?) => {
        $(
            #[doc = concat!("`", $key, "`: see [`FEEDBACK_SETTINGS`].")]
            pub fn $name(s: &str) -> std::result::Result<String, String> {
                parse_setting($key, s)
            }
        )*
    };
}

parser! {
    parse_survey_cooldown_days => "survey_cooldown_days",
    parse_survey_link_days => "survey_link_days",
    parse_survey_reminder_days => "survey_reminder_days",
    parse_survey_skip_critical => "survey_skip_critical",
    parse_survey_quiet_hours => "survey_quiet_hours",
    parse_survey_rate_limit => "survey_rate_limit",
    parse_detractor_nps_max => "detractor_nps_max",
    parse_detractor_csat_max => "detractor_csat_max",
    parse_detractor_opens_case => "detractor_opens_case",
    parse_feedback_min_answers => "feedback_min_answers",
    parse_exposure_promoter => "exposure_promoter",
    parse_exposure_detractor => "exposure_detractor",
}

fn yes_no(s: &str) -> std::result::Result<String, String> {
    match kanta_domain::value::parse_bool(s.trim()) {
        Ok(true) => Ok("yes".into()),
        Ok(false) => Ok("no".into()),
        Err(_) => Err(format!(
            "'{}' is not yes or no (kyllä or ei)",
            kanta_domain::value::excerpt(s.trim())
        )),
    }
}

/// `21-08` (or `21:00-08:00`, `21.00–08.00`) as (start hour, end hour); `none` as no
/// quiet hours. Start and end equal is refused (it would mean never or always).
pub fn quiet_hours(s: &str) -> std::result::Result<Option<(u32, u32)>, String> {
    let t = s.trim().to_lowercase();
    if matches!(t.as_str(), "none" | "ei" | "-" | "") {
        return Ok(None);
    }
    let bad = || {
        format!(
            "'{}' is not quiet hours: write them as 21-08 (from 21 to 8 o'clock) or none",
            kanta_domain::value::excerpt(s.trim())
        )
    };
    let t = t.replace('–', "-");
    let (a, b) = t.split_once('-').ok_or_else(bad)?;
    let hour = |x: &str| -> Option<u32> {
        let x = x.trim();
        let h = x.split([':', '.']).next()?.trim();
        let rest_zero = x.split([':', '.']).skip(1).all(|m| m.trim() == "00");
        h.parse::<u32>().ok().filter(|h| *h < 24 && rest_zero)
    };
    match (hour(a), hour(b)) {
        (Some(a), Some(b)) if a != b => Ok(Some((a, b))),
        _ => Err(bad()),
    }
}

/// The survey and feedback rules in force.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackRules {
    /// Days between invitations to one customer (0: no limit).
    pub cooldown_days: i64,
    pub link_days: i64,
    /// 0: no reminder.
    pub reminder_days: i64,
    pub skip_critical: bool,
    /// Quiet hours of the store's clock, start and end hour (the span may cross
    /// midnight).
    pub quiet_hours: Option<(u32, u32)>,
    /// Per address and minute on the public pages.
    pub rate_limit: u32,
    pub detractor_nps_max: i64,
    pub detractor_csat_max: i64,
    pub detractor_opens_case: bool,
    pub min_answers: i64,
    pub exposure_promoter: i64,
    pub exposure_detractor: i64,
}

impl Default for FeedbackRules {
    fn default() -> Self {
        FeedbackRules::from_map(|_| None)
    }
}

impl FeedbackRules {
    fn from_map(get: impl Fn(&str) -> Option<String>) -> FeedbackRules {
        let value = |k: &str| {
            get(k)
                .and_then(|v| parse_setting(k, &v).ok())
                .unwrap_or_else(|| default_setting(k).unwrap_or("0").to_string())
        };
        let int = |k: &str| value(k).parse::<i64>().unwrap_or(0);
        let flag = |k: &str| value(k) == "yes";
        FeedbackRules {
            cooldown_days: int("survey_cooldown_days"),
            link_days: int("survey_link_days"),
            reminder_days: int("survey_reminder_days"),
            skip_critical: flag("survey_skip_critical"),
            quiet_hours: quiet_hours(&value("survey_quiet_hours")).ok().flatten(),
            rate_limit: int("survey_rate_limit").clamp(1, 100_000) as u32,
            detractor_nps_max: int("detractor_nps_max"),
            detractor_csat_max: int("detractor_csat_max"),
            detractor_opens_case: flag("detractor_opens_case"),
            min_answers: int("feedback_min_answers"),
            exposure_promoter: int("exposure_promoter"),
            exposure_detractor: int("exposure_detractor"),
        }
    }

    /// The rules the store's settings give.
    pub fn from_settings(s: &StoreSettings) -> FeedbackRules {
        FeedbackRules::from_map(|k| s.value(k).map(str::to_string))
    }

    /// Whether an hour of the store's clock (0-23) is inside the quiet hours.
    pub fn is_quiet(&self, hour: u32) -> bool {
        match self.quiet_hours {
            None => false,
            Some((a, b)) if a < b => hour >= a && hour < b,
            Some((a, b)) => hour >= a || hour < b,
        }
    }

    /// Whether an answer is a detractor's: NPS at most `detractor_nps_max`, or, with no
    /// NPS, CSAT at most `detractor_csat_max`.
    pub fn is_detractor(&self, nps: Option<i64>, csat: Option<i64>) -> bool {
        match (nps, csat) {
            (Some(n), _) => n <= self.detractor_nps_max,
            (None, Some(c)) => c <= self.detractor_csat_max,
            _ => false,
        }
    }

    /// Whether an answer is a promoter's: NPS 9-10, or, with no NPS, CSAT 5.
    pub fn is_promoter(&self, nps: Option<i64>, csat: Option<i64>) -> bool {
        match (nps, csat) {
            (Some(n), _) => n >= 9,
            (None, Some(c)) => c >= 5,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_cross_midnight() {
        let r = FeedbackRules::default();
        assert_eq!(r.quiet_hours, Some((21, 8)));
        assert!(r.is_quiet(22) && r.is_quiet(3) && r.is_quiet(21));
        assert!(!r.is_quiet(8) && !r.is_quiet(12) && !r.is_quiet(20));
        assert_eq!(
            parse_setting("survey_quiet_hours", "21.00–08.00").unwrap(),
            "21-08"
        );
        assert!(parse_setting("survey_quiet_hours", "8-8").is_err());
        assert_eq!(parse_setting("survey_quiet_hours", "ei").unwrap(), "none");
    }

    #[test]
    fn detractors_and_promoters_follow_the_settings() {
        let r = FeedbackRules::default();
        assert!(r.is_detractor(Some(6), None) && !r.is_detractor(Some(7), None));
        assert!(r.is_detractor(None, Some(2)) && !r.is_detractor(None, Some(3)));
        assert!(r.is_promoter(Some(9), Some(1)) && !r.is_promoter(Some(8), None));
        assert_eq!(
            parse_setting("detractor_opens_case", "kyllä").unwrap(),
            "yes"
        );
        let e = parse_setting("survey_cooldown_days", "lots").unwrap_err();
        assert!(e.contains("'lots'") && e.contains("0 to 3650"), "{e}");
    }
}
