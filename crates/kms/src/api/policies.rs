//! Key policies: GetKeyPolicy, PutKeyPolicy (the only policy name is `default`).

use rampart_wire::Check;
use serde::{Deserialize, Serialize};

use super::lifecycle::lockout;
use super::wire;
use super::{Call, KmsOperation, Reply};
use crate::authorization::NamedKey;
use crate::error::KmsError;
use crate::key_policy::{self, POLICY_NAME};
use crate::KmsService;

/// `PolicyName`: optional, and `default` is the only one a key has.
fn policy_name(name: Option<&str>) -> Result<(), KmsError> {
    match name {
        None | Some(POLICY_NAME) => Ok(()),
        Some(other) => {
            wire::check_length(other, "policyName", 1, 128)?;
            if !other.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(KmsError::constraint(
                    other,
                    "policyName",
                    "Member must satisfy regular expression pattern: [\\w]+",
                ));
            }
            Err(KmsError::NotFound(format!(
                "No such policy exists: {other}. The only policy name is default."
            )))
        }
    }
}

pub(crate) struct GetKeyPolicy(NamedKey);

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetInput {
    key_id: String,
    policy_name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetReply<'a> {
    policy: &'a str,
    policy_name: &'static str,
}

#[async_trait::async_trait]
impl KmsOperation for GetKeyPolicy {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        let input: GetInput = wire::decode(body)?;
        policy_name(input.policy_name.as_deref())?;
        NamedKey::parse(&input.key_id, "keyId").map(GetKeyPolicy)
    }

    async fn checks(&mut self, kms: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        Ok(vec![
            self.0.check(kms, &call.action(), call.account()).await?,
        ])
    }

    async fn execute(self, _: &KmsService, _: &Call<'_>) -> Reply {
        let key = self.0.into_key()?.record;
        wire::reply(&GetReply {
            policy: &key.policy,
            policy_name: POLICY_NAME,
        })
    }
}

pub(crate) struct PutKeyPolicy {
    key: NamedKey,
    policy: String,
    bypass_lockout_check: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutInput {
    key_id: String,
    policy_name: Option<String>,
    policy: String,
    bypass_policy_lockout_safety_check: Option<bool>,
}

#[async_trait::async_trait]
impl KmsOperation for PutKeyPolicy {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        let input: PutInput = wire::decode(body)?;
        policy_name(input.policy_name.as_deref())?;
        wire::check_length(&input.policy, "policy", 1, 131_072)?;
        Ok(PutKeyPolicy {
            key: NamedKey::parse(&input.key_id, "keyId")?,
            policy: input.policy,
            bypass_lockout_check: input.bypass_policy_lockout_safety_check.unwrap_or(false),
        })
    }

    async fn checks(&mut self, kms: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        let mut check = self.key.check(kms, &call.action(), call.account()).await?;
        check.push_key(
            "kms:BypassPolicyLockoutSafetyCheck",
            self.bypass_lockout_check.to_string(),
        );
        Ok(vec![check])
    }

    async fn execute(self, kms: &KmsService, call: &Call<'_>) -> Reply {
        let authorized = self.key.into_key()?;
        let arn = authorized.record.arn.clone();
        key_policy::validate(&self.policy, &arn)?;
        if !self.bypass_lockout_check
            && !key_policy::allows_future_updates(&self.policy, &arn, call.caller)
        {
            return Err(lockout());
        }
        let policy = self.policy;
        kms.update_key(authorized, move |key| {
            key.check_customer_managed()?;
            key.check_not_pending_deletion()?;
            key.policy = policy.clone();
            Ok(())
        })
        .await?;
        Ok(b"{}".to_vec())
    }
}
