//! IAM as the functions service sees it ([`rampart_functions::RoleDirectory`]): the server
//! implements it over the IAM crate, so `rampart-functions` never depends on IAM. A role
//! trusts Lambda when its trust policy allows `lambda.amazonaws.com` to `sts:AssumeRole` it,
//! decided by the same authorizer every request passes; an environment's credentials are a
//! role session issued as `sts:AssumeRole` issues them (`rampart_iam::sessions::issue`),
//! stored with an audit record whose principal is `lambda.amazonaws.com`.

use std::sync::Arc;

use rampart_core::{AuditRecord, RootKeyring};
use rampart_functions::roles::LAMBDA_PRINCIPAL;
use rampart_functions::{ExecutionRole, RoleCredentials, RoleDirectory, RoleError, ServiceCaller};
use rampart_iam::authorizer::AttachedPolicy;
use rampart_iam::entities::{self, Role};
use rampart_iam::evaluation::{role_policies, CompiledPolicyCache};
use rampart_iam::sessions::{issue, SessionOrigin};
use rampart_iam::{Authorizer, Caller, RequestFacts, ServicePrincipal};
use rampart_policy::{evaluate, EvaluationContext, RequestPrincipal};
use rampart_store::Store;
use rampart_wire::{Check, ResourcePolicy, ResourcePolicyKind};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

/// The roles of the account, read from IAM's records.
pub struct IamRoles {
    pub store: Arc<dyn Store>,
    pub root_keys: Arc<RootKeyring>,
    pub account_id: String,
    pub region: String,
}

/// The role name at the end of a role ARN (`arn:aws:iam::1:role/path/name` → `name`).
fn role_name(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (_, resource) = rest.split_once(':')?;
    resource
        .strip_prefix("role/")?
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
}

/// `check` decided for a service principal in `region` (an in-process call: no address, over
/// TLS).
fn service_may(region: &str, principal: &ServicePrincipal, check: &Check) -> bool {
    let facts = RequestFacts {
        source_ip: std::net::IpAddr::from([127, 0, 0, 1]),
        secure_transport: true,
        region,
        now: OffsetDateTime::now_utc(),
    };
    Authorizer
        .authorize(&Caller::Service(principal), check, &facts)
        .is_allowed()
}

impl IamRoles {
    async fn load(&self, arn: &str) -> Result<Option<Role>, RoleError> {
        let Some(name) = role_name(arn) else {
            return Ok(None);
        };
        let role = entities::load::<Role>(self.store.as_ref(), name)
            .await
            .map_err(|e| RoleError::Unavailable(e.to_string()))?;
        // The ARN must name the role exactly, path included.
        Ok(role.map(|v| v.entity).filter(|r| r.arn == arn))
    }

    /// Whether the role's trust policy allows Lambda, acting for `function_arn` of this
    /// account, to assume it.
    fn trusts_lambda(&self, role: &Role, function_arn: Option<&str>) -> bool {
        let principal = ServicePrincipal {
            service: LAMBDA_PRINCIPAL.to_owned(),
            source_arn: function_arn.map(str::to_owned),
            source_account: Some(self.account_id.clone()),
        };
        let check = Check::on("sts:AssumeRole", &role.arn).with_resource_policy(ResourcePolicy {
            kind: ResourcePolicyKind::Trust,
            document: Some(role.assume_role_policy_document.clone()),
        });
        self.service_may(&principal, &check)
    }

    fn service_may(&self, principal: &ServicePrincipal, check: &Check) -> bool {
        service_may(&self.region, principal, check)
    }
}

#[async_trait::async_trait]
impl RoleDirectory for IamRoles {
    async fn role(&self, arn: &str) -> Result<Option<ExecutionRole>, RoleError> {
        Ok(self.load(arn).await?.map(|role| ExecutionRole {
            trusts_lambda: self.trusts_lambda(&role, None),
            arn: role.arn,
        }))
    }

    async fn assume(
        &self,
        role_arn: &str,
        session_name: &str,
        function_arn: &str,
    ) -> Result<RoleCredentials, RoleError> {
        let role = self.load(role_arn).await?.ok_or_else(|| {
            RoleError::NotAssumable(format!("The role {role_arn} does not exist."))
        })?;
        if !self.trusts_lambda(&role, Some(function_arn)) {
            return Err(RoleError::NotAssumable(format!(
                "The trust policy of {role_arn} does not allow {LAMBDA_PRINCIPAL}."
            )));
        }
        let now = OffsetDateTime::now_utc();
        let expires_at = now + Duration::seconds(i64::from(role.max_session_duration.max(3600)));
        let (creds, record) = issue(
            &self.root_keys,
            SessionOrigin::AssumedRole {
                role_name: role.name.clone(),
                role_id: role.role_id.clone(),
                role_arn: role.arn.clone(),
                session_name: session_name.to_owned(),
            },
            LAMBDA_PRINCIPAL,
            now,
            expires_at,
            Default::default(),
        );
        let audit =
            AuditRecord::service_action(now, LAMBDA_PRINCIPAL, "sts", "AssumeRole", &role.arn);
        self.store
            .commit_audited(vec![record.write()], &audit)
            .await
            .map_err(|e| RoleError::Unavailable(e.to_string()))?;
        Ok(RoleCredentials {
            access_key_id: creds.access_key_id,
            secret_access_key: Zeroizing::new(creds.secret_access_key),
            session_token: Zeroizing::new(creds.session_token),
            expires_at: creds.expires_at,
        })
    }

    /// Decided as the authorizer decides a role session's request (the role's identity policies
    /// and boundary, the check's resource policy), over a session that has no session policy:
    /// the one the function's environments run under. Only `aws:ResourceTag/*` and the other
    /// keys the check carries are in the context: there is no request, so no source address.
    async fn role_allows(
        &self,
        role_arn: &str,
        session_name: &str,
        check: &Check,
    ) -> Result<bool, RoleError> {
        let Some(role) = self.load(role_arn).await? else {
            return Ok(false);
        };
        let policies = role_policies(self.store.as_ref(), &CompiledPolicyCache::default(), &role)
            .await
            .map_err(|e| RoleError::Unavailable(e.to_string()))?;
        let principal = RequestPrincipal::role_session(&role.arn, session_name, &role.role_id)
            .with_tags(role.tags.iter().map(|t| (t.key.as_str(), t.value.as_str())));
        let resource = check.resource.as_str();
        let mut ctx = EvaluationContext::new(principal, &check.action, resource)
            .with_current_time(OffsetDateTime::now_utc().unix_timestamp())
            .with_secure_transport(true)
            .with_requested_region(&self.region);
        let mut keys: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
        for (key, value) in &check.condition_keys {
            keys.entry(key.to_ascii_lowercase())
                .or_default()
                .push(value.as_str());
        }
        for (key, values) in keys {
            match values.as_slice() {
                [one] => {
                    ctx.set(&key, *one);
                }
                _ => {
                    ctx.set_values(&key, values);
                }
            }
        }
        let attached = AttachedPolicy::compile(resource, check.resource_policy.as_ref());
        let resource_policy = match &attached {
            AttachedPolicy::Compiled(p) => Some(p.as_ref()),
            _ => None,
        };
        Ok(evaluate(policies.all().chain(resource_policy), &ctx).is_allowed())
    }

    fn allows_service(&self, caller: &ServiceCaller<'_>, check: &Check) -> bool {
        let principal = ServicePrincipal {
            service: caller.service.to_owned(),
            source_arn: Some(caller.source_arn.to_owned()),
            source_account: Some(caller.source_account.to_owned()),
        };
        self.service_may(&principal, check)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names() {
        assert_eq!(role_name("arn:aws:iam::123456789012:role/fn"), Some("fn"));
        assert_eq!(
            role_name("arn:aws:iam::123456789012:role/a/b/fn"),
            Some("fn")
        );
        assert_eq!(role_name("arn:aws:iam::123456789012:user/fn"), None);
    }

    /// The statement AddPermission writes for an API's invocations, as the gateway's
    /// `invoke_as_service` call is decided against it.
    #[test]
    fn a_function_policy_allows_only_the_api_it_names() {
        let function = "arn:aws:lambda:us-east-1:123456789012:function:f";
        let api = "arn:aws:execute-api:us-east-1:123456789012:abc123/*/GET/items";
        let policy = serde_json::json!({
            "Version": "2012-10-17", "Id": "default",
            "Statement": [{
                "Sid": "gw", "Effect": "Allow",
                "Principal": {"Service": "apigateway.amazonaws.com"},
                "Action": "lambda:InvokeFunction", "Resource": function,
                "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/*"},
                              "StringEquals": {"AWS:SourceAccount": "123456789012"}},
            }],
        })
        .to_string();
        let check = |document: Option<String>| {
            Check::on("lambda:InvokeFunction", function).with_resource_policy(ResourcePolicy {
                kind: ResourcePolicyKind::Resource,
                document,
            })
        };
        let caller = |service: &str, arn: &str, account: &str| ServicePrincipal {
            service: service.into(),
            source_arn: Some(arn.into()),
            source_account: Some(account.into()),
        };
        let gateway = "apigateway.amazonaws.com";
        let allowed =
            |p: &ServicePrincipal, doc: Option<String>| service_may("us-east-1", p, &check(doc));
        assert!(allowed(
            &caller(gateway, api, "123456789012"),
            Some(policy.clone())
        ));
        let other_api = "arn:aws:execute-api:us-east-1:123456789012:zzz999/*/GET/items";
        assert!(!allowed(
            &caller(gateway, other_api, "123456789012"),
            Some(policy.clone())
        ));
        assert!(!allowed(
            &caller(gateway, api, "210987654321"),
            Some(policy.clone())
        ));
        assert!(!allowed(
            &caller("events.amazonaws.com", api, "123456789012"),
            Some(policy.clone())
        ));
        // No policy at all: nothing allows a service principal.
        assert!(!allowed(&caller(gateway, api, "123456789012"), None));
    }
}
