//! The service rules in force: the SLA policies and business calendar
//! ([`crate::cases::SlaRules`]), the small-claim rule ([`crate::claims::ClaimRules`])
//! and the trust ledger's credits ([`crate::trust::TrustRules`]), read from the store's
//! settings with their defaults. A write reads them once, before its transaction
//! ([`crate::write::WriteTx::rules`]), so the rules it applies inside are one snapshot.

use crate::settings::StoreSettings;
use crate::{Core, Result};

/// Every service rule, as one snapshot.
#[derive(Debug, Clone)]
pub struct Rules {
    pub sla: crate::cases::SlaRules,
    pub claims: crate::claims::ClaimRules,
    pub trust: crate::trust::TrustRules,
}

impl Rules {
    /// The rules the settings give (each part falls back to its defaults).
    pub fn from_settings(s: &StoreSettings) -> Rules {
        Rules {
            sla: crate::cases::SlaRules::from_settings(s),
            claims: crate::claims::ClaimRules::from_settings(s),
            trust: crate::trust::TrustRules::from_settings(s),
        }
    }
}

impl Core {
    /// The service rules in force (the settings are reused for a few seconds).
    pub async fn rules(&self) -> Result<Rules> {
        Ok(Rules::from_settings(&self.store_settings().await?))
    }
}
