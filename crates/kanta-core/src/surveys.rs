//! Surveys: definitions and their versions, signed personal links, the public answer (issue 13; owner: helper S1).

use crate::Result;
use crate::write::WriteTx;

/// Runs in the transaction of every write of surveys: checks the questions and raises
/// the version when they changed (a `survey_versions` row per version).
pub(crate) async fn after_write(_tx: &mut WriteTx, _ids: &[String]) -> Result<()> {
    Ok(())
}
