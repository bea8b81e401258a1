//! The account an installation serves.

use rampart_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ns;

/// The one account an installation serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub account_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl Account {
    pub(crate) const KEY: &'static str = "self";

    /// The account record, if the installation has been bootstrapped.
    pub async fn load(store: &dyn Store) -> Result<Option<Account>, StoreError> {
        let Some(item) = store.get(ns::ACCOUNT, Self::KEY).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&item.value)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("account record: {e}")))
    }
}
