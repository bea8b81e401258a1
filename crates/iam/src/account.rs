//! The account and its users, as stored.

use rampart_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ns;

/// The AWS-managed policy that grants everything; the bootstrap administrator has it attached.
pub const ADMINISTRATOR_ACCESS_ARN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

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

/// An IAM user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    /// The unique id (`AIDA…`), stable across renames.
    pub user_id: String,
    pub arn: String,
    pub path: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// ARNs of the managed policies attached to the user.
    #[serde(default)]
    pub attached_policies: Vec<String>,
}

impl User {
    pub async fn load(store: &dyn Store, name: &str) -> Result<Option<User>, StoreError> {
        let Some(item) = store.get(ns::USERS, name).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&item.value)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("user {name:?}: {e}")))
    }
}
