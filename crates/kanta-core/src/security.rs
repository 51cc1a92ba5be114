//! Security settings (issue 15): two-factor sign-in required for admins, and the rate
//! limits of each route class.
//!
//! - `two_factor_admins`: `required` or `optional` (the default). When required, an
//!   admin without two-factor sign-in who gives the right password is sent to set it
//!   up, and gets no session before a code from the new key is accepted.
//! - `sign_in_rate_limit`: requests a minute one address may make to the sign-in
//!   forms (`/login`, the code and set-up steps); the rest answer 429. The failure
//!   throttle of [`crate::accounts`] stays in force below it.
//! - `api_rate_limit`: requests a minute one caller (an API token, a session, or an
//!   address for requests without either) may make to `/api/`; the rest answer 429.
//! - The public survey pages keep `survey_rate_limit` ([`crate::feedback_settings`]).
//!
//! Only admins change these settings (and the retention schedules): a manager must not
//! be able to lift what protects the admins' accounts.

use crate::settings::StoreSettings;

/// The settings of this module with their defaults.
pub const SETTINGS: &[(&str, &str)] = &[
    ("two_factor_admins", "optional"),
    ("sign_in_rate_limit", "20"),
    ("api_rate_limit", "6000"),
];

/// Store settings only admins may change.
pub const ADMIN_ONLY: &[&str] = &[
    "two_factor_admins",
    "sign_in_rate_limit",
    "api_rate_limit",
    "retention_answer_text_years",
    "retention_inactive_customer_years",
    "retention_audit_years",
    "retention_closed_case_years",
];

/// The default of one of [`SETTINGS`].
pub fn default_setting(key: &str) -> Option<&'static str> {
    SETTINGS.iter().find(|(k, _)| *k == key).map(|(_, d)| *d)
}

/// `two_factor_admins`: `required` (`yes`, `kyllä`, `pakollinen`) or `optional`
/// (`no`, `ei`, `vapaaehtoinen`).
pub fn parse_two_factor_admins(s: &str) -> std::result::Result<String, String> {
    let t = s.trim().to_lowercase();
    match t.as_str() {
        "required" | "pakollinen" | "on" => return Ok("required".into()),
        "optional" | "vapaaehtoinen" | "off" => return Ok("optional".into()),
        _ => {}
    }
    match kanta_domain::value::parse_bool(&t) {
        Ok(true) => Ok("required".into()),
        Ok(false) => Ok("optional".into()),
        Err(_) => Err(format!(
            "'{}' is not required or optional (pakollinen or vapaaehtoinen)",
            kanta_domain::value::excerpt(s.trim())
        )),
    }
}

/// `sign_in_rate_limit`: 1 to 10,000 requests a minute per address.
pub fn parse_sign_in_rate_limit(s: &str) -> std::result::Result<String, String> {
    crate::queue::whole_in(s, 1, 10_000, "a number per minute", "20")
}

/// `api_rate_limit`: 1 to 10,000,000 requests a minute per caller.
pub fn parse_api_rate_limit(s: &str) -> std::result::Result<String, String> {
    crate::queue::whole_in(s, 1, 10_000_000, "a number per minute", "6000")
}

/// The security settings in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityRules {
    /// Admins must use two-factor sign-in.
    pub two_factor_admins: bool,
    /// Requests a minute per address to the sign-in forms.
    pub sign_in_rate_limit: u32,
    /// Requests a minute per caller to the API.
    pub api_rate_limit: u32,
}

impl Default for SecurityRules {
    fn default() -> Self {
        SecurityRules::from_map(|_| None)
    }
}

impl SecurityRules {
    fn from_map(get: impl Fn(&str) -> Option<String>) -> SecurityRules {
        let value = |k: &str, parse: fn(&str) -> std::result::Result<String, String>| {
            get(k)
                .and_then(|v| parse(&v).ok())
                .unwrap_or_else(|| default_setting(k).unwrap_or("0").to_string())
        };
        let int = |k: &str, parse| value(k, parse).parse::<u32>().unwrap_or(1).max(1);
        SecurityRules {
            two_factor_admins: value("two_factor_admins", parse_two_factor_admins) == "required",
            sign_in_rate_limit: int("sign_in_rate_limit", parse_sign_in_rate_limit),
            api_rate_limit: int("api_rate_limit", parse_api_rate_limit),
        }
    }

    /// The rules the store's settings give.
    pub fn from_settings(s: &StoreSettings) -> SecurityRules {
        SecurityRules::from_map(|k| s.value(k).map(|v| v.trim_matches('"').to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_read_in_both_languages() {
        assert_eq!(parse_two_factor_admins("Pakollinen").unwrap(), "required");
        assert_eq!(parse_two_factor_admins("kyllä").unwrap(), "required");
        assert_eq!(parse_two_factor_admins(" ei ").unwrap(), "optional");
        assert!(parse_two_factor_admins("maybe").is_err());
        assert_eq!(parse_api_rate_limit("600").unwrap(), "600");
        assert!(parse_api_rate_limit("0").is_err());
        assert!(parse_sign_in_rate_limit("lots").is_err());
        let d = SecurityRules::default();
        assert!(!d.two_factor_admins);
        assert_eq!((d.sign_in_rate_limit, d.api_rate_limit), (20, 6000));
        let r = SecurityRules::from_map(|k| match k {
            "two_factor_admins" => Some("required".into()),
            "api_rate_limit" => Some("nonsense".into()),
            _ => None,
        });
        assert!(r.two_factor_admins);
        assert_eq!(r.api_rate_limit, 6000);
    }
}
