//! Acting on an answer at once: a detractor's answer may open a case (setting detractor_opens_case) (issue 13; owner: helper S6).

use crate::Result;
use crate::write::WriteTx;

/// Runs in the transaction of every write of feedback, after the trust entries.
pub(crate) async fn after_write(_tx: &mut WriteTx, _ids: &[String]) -> Result<()> {
    Ok(())
}
