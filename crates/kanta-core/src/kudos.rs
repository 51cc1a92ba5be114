//! Kudos: answers that name a staff member, matched with Finnish inflections (issue 13; owner: helper S5).

use crate::Result;
use crate::write::WriteTx;

/// Runs in the transaction of every write of feedback: finds the staff members the
/// written answers name and records kudos.
pub(crate) async fn after_write(_tx: &mut WriteTx, _ids: &[String]) -> Result<()> {
    Ok(())
}
