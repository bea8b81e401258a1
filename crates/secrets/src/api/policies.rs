//! Resource policies: PutResourcePolicy, GetResourcePolicy, DeleteResourcePolicy and
//! ValidateResourcePolicy. A secret has at most one policy, named `default`; once attached it
//! is evaluated with IAM on every check on the secret (`service::with_resource_policy`).
//! DescribeSecret and ListSecrets say nothing of it, as on AWS.

use rampart_wire::Check;
use serde::{Deserialize, Serialize};

use super::secrets::commit_change;
use super::wire;
use super::{Call, Reply, SecretsOperation};
use crate::error::SecretsError;
use crate::resource_policy::{self, POLICY_NAME, PUBLIC_ACCESS_CHECK, SYNTAX_CHECK};
use crate::service::NamedSecret;
use crate::SecretsService;

/// Reads a `PolicyName` member: the model's 1–64 characters of `[0-9A-Za-z\-\_]`. Whether a
/// name other than `default` is refused or not found is the operation's to say.
fn policy_name(name: Option<String>) -> Result<Option<String>, SecretsError> {
    let Some(name) = name else {
        return Ok(None);
    };
    wire::check_length(&name, "policyName", 1, 64)?;
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(SecretsError::constraint(
            &name,
            "policyName",
            "Member must satisfy regular expression pattern: [0-9A-Za-z\\-\\_]+",
        ));
    }
    Ok(Some(name))
}

/// Refuses any policy name but `default`, as Put and Delete do.
fn only_default(name: Option<String>) -> Result<(), SecretsError> {
    match policy_name(name)? {
        Some(name) if name != POLICY_NAME => Err(SecretsError::InvalidParameter(format!(
            "You can only attach or delete the {POLICY_NAME} resource policy, not {name}."
        ))),
        _ => Ok(()),
    }
}

/// The answer of Put and Delete.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyReply<'a> {
    #[serde(rename = "ARN")]
    arn: &'a str,
    name: &'a str,
    policy_name: &'a str,
}

pub(crate) struct PutResourcePolicy {
    secret: NamedSecret,
    policy: String,
    block_public: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutResourcePolicyInput {
    secret_id: String,
    resource_policy: String,
    policy_name: Option<String>,
    block_public_policy: Option<bool>,
}

#[async_trait::async_trait]
impl SecretsOperation for PutResourcePolicy {
    fn decode(body: &[u8]) -> Result<Self, SecretsError> {
        let input: PutResourcePolicyInput = wire::decode(body)?;
        let secret = NamedSecret::parse(input.secret_id)?;
        resource_policy::check_length(&input.resource_policy)?;
        only_default(input.policy_name)?;
        Ok(PutResourcePolicy {
            secret,
            policy: input.resource_policy,
            block_public: input.block_public_policy.unwrap_or(false),
        })
    }

    /// `secretsmanager:PutResourcePolicy` on the secret, with `secretsmanager:BlockPublicPolicy`
    /// and the policy the secret has now.
    async fn checks(
        &mut self,
        svc: &SecretsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, SecretsError> {
        let check = self.secret.check(svc, &call.action()).await?.with_key(
            "secretsmanager:BlockPublicPolicy",
            if self.block_public { "true" } else { "false" },
        );
        Ok(vec![check])
    }

    /// The policy must parse as a resource policy (`MalformedPolicyDocumentException`) and,
    /// with `BlockPublicPolicy`, grant no broad access (`PublicPolicyException`).
    async fn execute(self, svc: &SecretsService, _: &Call<'_>) -> Reply {
        let authorized = self.secret.into_live()?;
        let document =
            resource_policy::parse(&self.policy).map_err(|e| resource_policy::malformed(&e))?;
        if self.block_public {
            let broad = resource_policy::broad_statements(&document);
            if !broad.is_empty() {
                return Err(SecretsError::PublicPolicy(format!(
                    "BlockPublicPolicy is set and the resource policy does not prevent broad access to the secret. {}",
                    resource_policy::broad_access_message(&broad)
                )));
            }
        }
        let updated = commit_change(svc, authorized, Vec::new(), |next| {
            next.resource_policy = Some(self.policy.clone());
            Ok(())
        })
        .await?;
        wire::reply(&PolicyReply {
            arn: &updated.arn,
            name: &updated.name,
            policy_name: POLICY_NAME,
        })
    }
}

pub(crate) struct GetResourcePolicy {
    secret: NamedSecret,
    policy_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetResourcePolicyInput {
    secret_id: String,
    policy_name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetResourcePolicyReply<'a> {
    #[serde(rename = "ARN")]
    arn: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_policy: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_name: Option<&'a str>,
}

#[async_trait::async_trait]
impl SecretsOperation for GetResourcePolicy {
    fn decode(body: &[u8]) -> Result<Self, SecretsError> {
        let input: GetResourcePolicyInput = wire::decode(body)?;
        Ok(GetResourcePolicy {
            secret: NamedSecret::parse(input.secret_id)?,
            policy_name: policy_name(input.policy_name)?,
        })
    }

    async fn checks(
        &mut self,
        svc: &SecretsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, SecretsError> {
        Ok(vec![self.secret.check_cached(svc, &call.action()).await?])
    }

    /// The policy, or only `ARN` and `Name` when the secret has none.
    async fn execute(self, _: &SecretsService, _: &Call<'_>) -> Reply {
        let secret = self.secret.into_secret()?.record;
        if let Some(name) = self.policy_name.filter(|n| n != POLICY_NAME) {
            return Err(SecretsError::ResourceNotFound(format!(
                "The secret has no resource policy named {name}."
            )));
        }
        let policy = secret.resource_policy.as_deref();
        wire::reply(&GetResourcePolicyReply {
            arn: &secret.arn,
            name: &secret.name,
            resource_policy: policy,
            policy_name: policy.map(|_| POLICY_NAME),
        })
    }
}

pub(crate) struct DeleteResourcePolicy {
    secret: NamedSecret,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteResourcePolicyInput {
    secret_id: String,
    policy_name: Option<String>,
}

#[async_trait::async_trait]
impl SecretsOperation for DeleteResourcePolicy {
    fn decode(body: &[u8]) -> Result<Self, SecretsError> {
        let input: DeleteResourcePolicyInput = wire::decode(body)?;
        let secret = NamedSecret::parse(input.secret_id)?;
        only_default(input.policy_name)?;
        Ok(DeleteResourcePolicy { secret })
    }

    async fn checks(
        &mut self,
        svc: &SecretsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, SecretsError> {
        Ok(vec![self.secret.check(svc, &call.action()).await?])
    }

    /// Removes the policy; a secret without one answers the same.
    async fn execute(self, svc: &SecretsService, _: &Call<'_>) -> Reply {
        let authorized = self.secret.into_live()?;
        let updated = commit_change(svc, authorized, Vec::new(), |next| {
            next.resource_policy = None;
            Ok(())
        })
        .await?;
        wire::reply(&PolicyReply {
            arn: &updated.arn,
            name: &updated.name,
            policy_name: POLICY_NAME,
        })
    }
}

pub(crate) struct ValidateResourcePolicy {
    secret: Option<NamedSecret>,
    policy: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ValidateResourcePolicyInput {
    secret_id: Option<String>,
    resource_policy: String,
}

/// One failed check.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ValidationError {
    check_name: &'static str,
    error_message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ValidateResourcePolicyReply {
    policy_validation_passed: bool,
    validation_errors: Vec<ValidationError>,
}

#[async_trait::async_trait]
impl SecretsOperation for ValidateResourcePolicy {
    fn decode(body: &[u8]) -> Result<Self, SecretsError> {
        let input: ValidateResourcePolicyInput = wire::decode(body)?;
        resource_policy::check_length(&input.resource_policy)?;
        Ok(ValidateResourcePolicy {
            secret: input.secret_id.map(NamedSecret::parse).transpose()?,
            policy: input.resource_policy,
        })
    }

    /// `secretsmanager:ValidateResourcePolicy` and `secretsmanager:PutResourcePolicy`, as AWS
    /// requires both: on the secret when the request names one, unscoped otherwise (so only a
    /// grant on `*` allows validating a policy for no secret in particular).
    async fn checks(
        &mut self,
        svc: &SecretsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, SecretsError> {
        const PUT: &str = "secretsmanager:PutResourcePolicy";
        match &mut self.secret {
            Some(secret) => {
                let validate = secret.check(svc, &call.action()).await?;
                let mut put = validate.clone();
                put.action = PUT.to_owned();
                Ok(vec![validate, put])
            }
            None => Ok(vec![Check::unscoped(call.action()), Check::unscoped(PUT)]),
        }
    }

    /// A policy that is not JSON is refused; one that is JSON but not a valid resource policy,
    /// or that grants broad access, is answered with what is wrong.
    async fn execute(self, _: &SecretsService, _: &Call<'_>) -> Reply {
        if let Some(secret) = self.secret {
            secret.into_secret()?;
        }
        let mut errors = Vec::new();
        match resource_policy::parse(&self.policy) {
            Err(e) if resource_policy::is_not_json(&e) => {
                return Err(resource_policy::malformed(&e));
            }
            Err(e) => errors.push(ValidationError {
                check_name: SYNTAX_CHECK,
                error_message: e.to_string(),
            }),
            Ok(document) => {
                let broad = resource_policy::broad_statements(&document);
                if !broad.is_empty() {
                    errors.push(ValidationError {
                        check_name: PUBLIC_ACCESS_CHECK,
                        error_message: resource_policy::broad_access_message(&broad),
                    });
                }
            }
        }
        wire::reply(&ValidateResourcePolicyReply {
            policy_validation_passed: errors.is_empty(),
            validation_errors: errors,
        })
    }
}
