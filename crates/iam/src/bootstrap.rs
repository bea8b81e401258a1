//! First start: an account with a random id and one administrator with one access key.
//! There are no default or well-known credentials: the secret exists only in the caller's hands
//! (to show once) and, sealed, in the store.

use rampart_core::{ids, Arn, RootKeyring, SealPurpose};
use rampart_store::{Expect, Store, StoreError, Write};
use time::OffsetDateTime;

use crate::account::Account;
use crate::credentials::{AccessKeyRecord, AccessKeyStatus};
use crate::entities::{User, ADMINISTRATOR_ACCESS_ARN};
use crate::ns;

/// The administrator the bootstrap creates.
pub const ADMIN_USER_NAME: &str = "admin";

/// What [`bootstrap`] found or did.
#[derive(Debug)]
pub enum BootstrapOutcome {
    /// The account existed already.
    Existing(Account),
    /// A new account and administrator; the secret is shown to the operator once.
    Created {
        account: Account,
        admin_arn: String,
        access_key_id: String,
        secret_access_key: String,
    },
}

impl BootstrapOutcome {
    pub fn account(&self) -> &Account {
        match self {
            BootstrapOutcome::Existing(account) | BootstrapOutcome::Created { account, .. } => {
                account
            }
        }
    }
}

/// Creates the account and its administrator unless the store has them. Safe to race: when
/// several processes share a store, exactly one creates the account and the others see it.
pub async fn bootstrap(
    store: &dyn Store,
    root_keys: &RootKeyring,
) -> Result<BootstrapOutcome, StoreError> {
    if let Some(account) = Account::load(store).await? {
        return Ok(BootstrapOutcome::Existing(account));
    }
    let now = OffsetDateTime::now_utc();
    let account = Account {
        account_id: ids::account_id(),
        created_at: now,
    };
    let admin = User {
        name: ADMIN_USER_NAME.to_owned(),
        user_id: ids::unique_id("AIDA"),
        arn: Arn::new(
            "iam",
            "",
            &account.account_id,
            &format!("user/{ADMIN_USER_NAME}"),
        )
        .to_string(),
        path: "/".to_owned(),
        created_at: now,
        attached_policies: vec![ADMINISTRATOR_ACCESS_ARN.to_owned()],
        inline_policies: Default::default(),
        groups: Vec::new(),
        permissions_boundary: None,
        tags: Vec::new(),
    };
    let access_key_id = ids::access_key_id();
    let secret_access_key = ids::secret_access_key();
    let key = AccessKeyRecord {
        access_key_id: access_key_id.clone(),
        user_name: admin.name.clone(),
        status: AccessKeyStatus::Active,
        sealed_secret: root_keys.seal(
            SealPurpose::AccessKeySecret,
            &access_key_id,
            secret_access_key.as_bytes(),
        ),
        created_at: now,
    };
    let writes = vec![
        Write::Put {
            ns: ns::ACCOUNT.into(),
            key: Account::KEY.into(),
            value: json(&account),
            expect: Expect::Absent,
        },
        Write::Put {
            ns: ns::USERS.into(),
            key: admin.name.clone(),
            value: json(&admin),
            expect: Expect::Absent,
        },
        Write::Put {
            ns: ns::ACCESS_KEYS.into(),
            key: access_key_id.clone(),
            value: json(&key),
            expect: Expect::Absent,
        },
    ];
    match store.commit(writes).await {
        Ok(_) => Ok(BootstrapOutcome::Created {
            account,
            admin_arn: admin.arn,
            access_key_id,
            secret_access_key,
        }),
        // Another process bootstrapped first: use its account.
        Err(StoreError::Conflict { .. }) => match Account::load(store).await? {
            Some(account) => Ok(BootstrapOutcome::Existing(account)),
            None => Err(StoreError::Corrupt(
                "bootstrap conflicted but no account exists".into(),
            )),
        },
        Err(e) => Err(e),
    }
}

/// Serialising plain records of strings cannot fail.
fn json<T: serde::Serialize>(record: &T) -> Vec<u8> {
    serde_json::to_vec(record).expect("plain records serialise")
}
