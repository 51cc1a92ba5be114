//! Reading the audit log (admins only): `GET /api/v1/audit` and `kanta audit` ask
//! [`Core::audit_page`] the same question.
//!
//! The entries themselves are written by the store in the transaction of the change
//! they tell of (see `kanta_store::audit`); this module only reads them, newest first,
//! a page at a time, with an opaque cursor.

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use kanta_store::audit::{AUDIT_PAGE, AUDIT_PAGE_MAX, AuditQuery, AuditRecord};

use crate::access::{ADMIN_AREA, require};
use crate::actor::Acting;
use crate::{Core, CoreError, Result};

/// One page of the log, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditPage {
    pub items: Vec<AuditRecord>,
    /// Pass as the next query's cursor ([`parse_cursor`]); `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A moment of an audit query (`since`, `until`): RFC 3339 (`2024-12-31T10:00:00Z`),
/// an ISO date (`2024-12-31`, its midnight in `zone`) or a Finnish one (`31.12.2024`,
/// `31.12.2024 klo 10.00`, read in `zone`, the store's or the user's time zone).
/// `field` names the parameter in the error.
pub fn parse_moment(
    field: &str,
    text: &str,
    zone: kanta_domain::time::Tz,
) -> Result<DateTime<Utc>> {
    kanta_domain::time::parse_timestamp_in(text, None, zone).map_err(|e| {
        CoreError::invalid(
            field,
            format!("{e}: write a date (2024-12-31 or 31.12.2024) or an RFC 3339 time"),
        )
    })
}

/// The cursor a page gave (empty: the first page).
pub fn parse_cursor(text: &str) -> Result<Option<i64>> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<i64>() {
        Ok(id) if id > 0 => Ok(Some(id)),
        _ => Err(CoreError::invalid(
            "cursor",
            format!("the cursor '{t}' is not one the audit log gave"),
        )),
    }
}

impl Core {
    /// A page of the audit log (admins only), newest first: the entries matching the
    /// query's filters, and the cursor of the next page when there are older ones.
    pub async fn audit_page(&self, acting: &Acting, q: &AuditQuery) -> Result<AuditPage> {
        require(acting, ADMIN_AREA)?;
        if q.limit > AUDIT_PAGE_MAX {
            return Err(CoreError::invalid(
                "limit",
                format!("{} is not within 1..{AUDIT_PAGE_MAX}", q.limit),
            ));
        }
        if let (Some(s), Some(u)) = (q.since, q.until)
            && s >= u
        {
            return Err(CoreError::invalid(
                "until",
                "comes before since: nothing can match".to_string(),
            ));
        }
        let (items, next) = self.store.audit_page(q).await?;
        Ok(AuditPage {
            items,
            next_cursor: next.map(|id| id.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_in_iso_and_finnish() {
        use kanta_domain::time::{DEFAULT_ZONE, Tz};
        let a = parse_moment("since", "31.12.2024", Tz::UTC).unwrap();
        let b = parse_moment("since", "2024-12-31", Tz::UTC).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            parse_moment("until", "2024-12-31T10:00:00Z", Tz::UTC).unwrap(),
            parse_moment("until", "31.12.2024 klo 10.00", Tz::UTC).unwrap()
        );
        // Without an offset, in the zone: 10.00 in Helsinki in winter is 08:00 UTC.
        assert_eq!(
            parse_moment("until", "31.12.2024 klo 10.00", DEFAULT_ZONE)
                .unwrap()
                .to_rfc3339(),
            "2024-12-31T08:00:00+00:00"
        );
        match parse_moment("since", "yesterday", Tz::UTC) {
            Err(CoreError::Invalid(p)) => assert_eq!(p[0].field, "since"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cursors_are_ids() {
        assert_eq!(parse_cursor("").unwrap(), None);
        assert_eq!(parse_cursor("42").unwrap(), Some(42));
        assert!(parse_cursor("abc").is_err());
        assert!(parse_cursor("-1").is_err());
    }
}
