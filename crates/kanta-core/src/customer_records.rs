//! What staff record about a customer from the pages (an interaction, a case, a trust
//! entry): the rest of the record filled in the one way the business does it: the
//! customer, the time (now), the staff member who acts (the staff record with the
//! signed-in user's email), and an id derived from what the record says and when.

use chrono::{DateTime, Utc};
use kanta_domain::schema::Entity;
use kanta_domain::{Value, ids};
use kanta_store::Record;

use crate::actor::{Acting, Actor};
use crate::{Core, CoreError, Result};

/// The id of a record written from a form: derived like the importer's, from what
/// the record says and when.
pub fn derived_id(entity: &Entity, customer: &str, at: &DateTime<Utc>, values: &[Value]) -> String {
    let micros = at.timestamp_micros().to_le_bytes();
    let text: Vec<String> = values.iter().map(Value::canonical).collect();
    let text = text.join("\u{1f}");
    ids::derived_id(
        [
            b"web".as_slice(),
            entity.name.as_bytes(),
            customer.as_bytes(),
            &micros,
            text.as_bytes(),
        ],
        1,
    )
}

/// Every field of `e` in schema order: the customer, the entity's time, the staff
/// member and what was given; nothing in the others.
pub fn record_values(
    e: &'static Entity,
    customer: &str,
    at: DateTime<Utc>,
    staff: Value,
    given: &[(&'static str, Value)],
) -> Vec<Value> {
    e.fields
        .iter()
        .map(|f| match f.name {
            "customer_id" => Value::Text(customer.to_string()),
            "staff_id" => staff.clone(),
            n if Some(n) == e.time_field => Value::Time(at),
            n => given
                .iter()
                .find(|(g, _)| *g == n)
                .map_or(Value::Null, |(_, v)| v.clone()),
        })
        .collect()
}

impl Core {
    /// Records something about a customer as `acting` (see the module documentation),
    /// through [`Core::create_record`]: audited, the reference policy applied. The
    /// same form sent twice at the same moment is written once. Returns the record's
    /// id.
    pub async fn record_for_customer(
        &self,
        acting: &Acting,
        e: &'static Entity,
        customer: &str,
        given: &[(&'static str, Value)],
    ) -> Result<String> {
        let now = Utc::now();
        let given_values: Vec<Value> = given.iter().map(|(_, v)| v.clone()).collect();
        let id = derived_id(e, customer, &now, &given_values);
        let staff = match &acting.actor {
            Actor::User { email, .. } => self
                .store
                .staff_for_email(email)
                .await?
                .map_or(Value::Null, Value::Text),
            _ => Value::Null,
        };
        let values = record_values(e, customer, now, staff, given);
        match self.create_record(acting, e, &id, values).await {
            Ok(Record { external_id, .. }) => Ok(external_id),
            Err(CoreError::Conflict { .. }) => Ok(id),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kanta_domain::schema::{CASES, INTERACTIONS, TRUST_LEDGER};

    #[test]
    fn records_carry_the_customer_the_time_and_the_staff_member() {
        let at = Utc::now();
        for e in [&INTERACTIONS, &CASES, &TRUST_LEDGER] {
            let values = record_values(e, "c1", at, Value::Text("s1".into()), &[]);
            assert_eq!(values.len(), e.fields.len());
            for (f, v) in e.fields.iter().zip(&values) {
                match f.name {
                    "customer_id" => assert_eq!(v, &Value::Text("c1".into())),
                    "staff_id" => assert_eq!(v, &Value::Text("s1".into())),
                    n if Some(n) == e.time_field => assert_eq!(v, &Value::Time(at)),
                    _ => assert!(v.is_null(), "{}.{}", e.name, f.name),
                }
            }
        }
        let a = derived_id(&INTERACTIONS, "c1", &at, &[Value::Text("x".into())]);
        assert_eq!(
            a,
            derived_id(&INTERACTIONS, "c1", &at, &[Value::Text("x".into())])
        );
        assert_ne!(
            a,
            derived_id(&INTERACTIONS, "c2", &at, &[Value::Text("x".into())])
        );
    }
}
