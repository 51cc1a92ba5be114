//! Who owns each customer: the rule for new customers (round robin or least total
//! value, the `owner_rule` setting), bulk assignment by segment, tier or list, and
//! "my customers" (the staff member whose email is the signed-in user's).

use crate::Result;
use crate::write::WriteTx;

/// Runs in the transaction of every write of customers: gives new customers without
/// an owner one by the `owner_rule` setting.
pub(crate) async fn after_write(_tx: &mut WriteTx, _ids: &[String]) -> Result<()> {
    Ok(())
}
