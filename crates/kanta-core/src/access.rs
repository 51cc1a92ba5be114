//! Who may do what. Roles ([`Role`]) are kept with users and tokens in the store; the
//! policy lives here, below every caller, so pages, API and jobs ask the same question.

use kanta_domain::Entity;
pub use kanta_store::accounts::Role;

use crate::actor::Acting;

/// The role needed to read (`write` false) or write records of `entity`: every read
/// needs a signed-in caller (viewer or higher); writes of customers' records and
/// events need staff; the staff register and the trust ledger, which pay out goodwill,
/// need a manager, and so do surveys (what customers are asked) and offers (what
/// customers are offered, and whom the control group leaves out). `entity` is `None`
/// for actions that belong to none (events, stats).
pub fn access(entity: Option<&Entity>, write: bool) -> Role {
    match (entity.map(|e| e.name), write) {
        (_, false) => Role::Viewer,
        (
            Some(
                "staff"
                | "trust"
                | "onboarding_templates"
                | "onboarding_steps"
                | "surveys"
                | "offers",
            ),
            true,
        ) => Role::Manager,
        (_, true) => Role::Staff,
    }
}

/// Reading the audit log, the jobs and the users: admins only.
pub const ADMIN_AREA: Role = Role::Admin;

/// Changing the store's settings (currency, business hours, ...): managers.
pub const SETTINGS: Role = Role::Manager;

/// Refuses an actor whose role is below `min`.
pub fn require(acting: &Acting, min: Role) -> Result<(), crate::CoreError> {
    if acting.role() >= min {
        Ok(())
    } else {
        Err(crate::CoreError::Forbidden(format!(
            "this needs the role '{min}' or above; the caller has '{}'",
            acting.role()
        )))
    }
}
