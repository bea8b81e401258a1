//! STS (query protocol, API version 2011-06-15): `GetCallerIdentity`, `AssumeRole`,
//! `GetSessionToken`.
//!
//! `AssumeRole` is authorized by the pipeline like any operation — `sts:AssumeRole` on the
//! role's ARN — with the role's trust policy as the resource-based policy (it must allow the
//! caller, whatever else does) and the request's `sts:ExternalId`, `sts:RoleSessionName`,
//! `sts:SourceIdentity`, `aws:RequestTag/*` and `aws:TagKeys` in the context. By the time
//! [`StsService::call`] runs, the caller may assume the role.

use std::sync::Arc;

use rampart_core::{MasterKey, PrincipalType};
use rampart_policy::{check_size, parse_policy, PolicyKind, SizeLimit};
use rampart_store::{Store, StoreError};
use rampart_wire::protocol::query::{QueryParams, XmlWriter};
use rampart_wire::{
    AuthorizationTarget, CommonError, Input, OperationContext, OperationSpec, Output, Protocol,
    ResourcePolicy, ResourcePolicyKind, Service, ServiceError,
};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::entities::{self, Role, Tag};
use crate::sessions::{
    issue, issue_role_session, IssuedCredentials, RoleSessionRequest, SessionOrigin,
};

/// The operations STS offers.
const OPERATIONS: &[OperationSpec] = &[
    // AWS: "No permissions are required to perform this operation."
    OperationSpec::signed("GetCallerIdentity").without_permission(),
    OperationSpec::signed("AssumeRole"),
    // Any IAM user may get a session token for itself; it carries the user's own policies.
    OperationSpec::signed("GetSessionToken").without_permission(),
];

const PROTOCOL: Protocol = Protocol::Query {
    xml_namespace: "https://sts.amazonaws.com/doc/2011-06-15/",
    api_version: "2011-06-15",
};

/// The STS service surface.
pub struct StsService {
    store: Arc<dyn Store>,
    master_key: Arc<MasterKey>,
    /// Shortest session `DurationSeconds` accepted: AWS's 900, lowered only by the
    /// test-only flag of `rampart serve` so expiry can be observed in seconds.
    min_session_seconds: u32,
}

impl StsService {
    pub fn new(
        store: Arc<dyn Store>,
        master_key: Arc<MasterKey>,
        min_session_seconds: u32,
    ) -> Self {
        StsService {
            store,
            master_key,
            min_session_seconds,
        }
    }
}

fn validation(message: impl Into<String>) -> ServiceError {
    ServiceError::new("ValidationError", 400, message)
}

fn common(error: CommonError) -> ServiceError {
    error.for_protocol(PROTOCOL.kind())
}

fn unavailable(e: StoreError) -> ServiceError {
    tracing::error!(error = %e, "store failed");
    common(CommonError::ServiceUnavailable)
}

/// `[\w+=,.@-]{min,max}`, AWS's pattern for session names and similar.
fn check_name(field: &str, value: &str, min: usize, max: usize) -> Result<(), ServiceError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if value.len() < min || value.len() > max || !value.chars().all(ok_char) {
        return Err(validation(format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between {min} and {max}"
        )));
    }
    Ok(())
}

/// Session tags: `Tags.member.N.Key` / `.Value`.
fn session_tags(params: &QueryParams) -> Result<Vec<Tag>, ServiceError> {
    let mut tags = Vec::new();
    for n in 1..=50 {
        let Some(key) = params.get(&format!("Tags.member.{n}.Key")) else {
            break;
        };
        let value = params.get(&format!("Tags.member.{n}.Value")).unwrap_or("");
        if key.is_empty() || key.len() > 128 || value.len() > 256 {
            return Err(validation(format!("Invalid session tag {key:?}.")));
        }
        tags.push(Tag {
            key: key.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(tags)
}

/// The role name at the end of a role ARN (`arn:aws:iam::1:role/path/name` → `name`).
fn role_name(role_arn: &str) -> Option<&str> {
    let arn = role_arn.strip_prefix("arn:aws:iam::")?;
    let (_, resource) = arn.split_once(':')?;
    let path = resource.strip_prefix("role/")?;
    path.rsplit('/').next().filter(|n| !n.is_empty())
}

fn credentials_xml(xml: &mut XmlWriter, creds: &IssuedCredentials) {
    xml.start("Credentials")
        .element("AccessKeyId", &creds.access_key_id)
        .element("SecretAccessKey", &creds.secret_access_key)
        .element("SessionToken", &creds.session_token)
        .element(
            "Expiration",
            &creds.expires_at.format(&Rfc3339).unwrap_or_default(),
        )
        .end("Credentials");
}

impl StsService {
    /// The role a role ARN names, if it exists under exactly that ARN (path included).
    async fn load_role(&self, role_arn: &str) -> Result<Option<Role>, ServiceError> {
        let Some(name) = role_name(role_arn) else {
            return Ok(None);
        };
        Ok(entities::load::<Role>(self.store.as_ref(), name)
            .await
            .map_err(unavailable)?
            .map(|v| v.entity)
            .filter(|r| r.arn == role_arn))
    }

    async fn assume_role(
        &self,
        ctx: &OperationContext<'_>,
        params: &QueryParams,
    ) -> Result<Output, ServiceError> {
        let caller = ctx
            .caller
            .ok_or_else(|| common(CommonError::MissingAuthenticationToken))?;
        let role_arn = params.required("RoleArn").map_err(common)?;
        let session_name = params.required("RoleSessionName").map_err(common)?;
        check_name("roleSessionName", session_name, 2, 64)?;
        let role = self.load_role(role_arn).await?;
        // The pipeline already refused callers the trust policy does not allow, including
        // for roles that do not exist; a role deleted in between is the same answer.
        let role = role.ok_or_else(|| {
            common(CommonError::AccessDenied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                caller.arn
            )))
        })?;
        let duration = params
            .integer(
                "DurationSeconds",
                i64::from(self.min_session_seconds),
                43_200,
            )
            .map_err(|e| validation(common(e).message))?
            .unwrap_or(3600);
        if duration > i64::from(role.max_session_duration) {
            return Err(validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            ));
        }
        let session_policy = params.get("Policy").map(str::to_owned);
        if let Some(document) = &session_policy {
            check_size(document, SizeLimit::SessionPolicy)
                .map_err(|e| ServiceError::new("PackedPolicyTooLarge", 400, e.to_string()))?;
            parse_policy(document, PolicyKind::Session)
                .map_err(|e| ServiceError::new("MalformedPolicyDocument", 400, e.aws_message()))?;
        }
        let mut policy_arns = Vec::new();
        for n in 1..=10 {
            match params.get(&format!("PolicyArns.member.{n}.arn")) {
                Some(arn) => policy_arns.push(arn.to_owned()),
                None => break,
            }
        }
        let source_identity = params.get("SourceIdentity").map(str::to_owned);
        if let Some(si) = &source_identity {
            check_name("sourceIdentity", si, 2, 64)?;
        }
        let tags = session_tags(params)?;
        let request = RoleSessionRequest {
            session_name: session_name.to_owned(),
            duration: Duration::seconds(duration),
            session_policy,
            session_policy_arns: policy_arns,
            tags,
            source_identity: source_identity.clone(),
            issued_to: caller.arn.clone(),
        };
        let creds = issue_role_session(self.store.as_ref(), &self.master_key, &role, request)
            .await
            .map_err(unavailable)?;
        let mut xml = XmlWriter::new();
        xml.optional("SourceIdentity", source_identity.as_deref());
        xml.start("AssumedRoleUser")
            .element(
                "Arn",
                &format!(
                    "arn:aws:sts::{}:assumed-role/{}/{session_name}",
                    caller.account_id, role.name
                ),
            )
            .element("AssumedRoleId", &format!("{}:{session_name}", role.role_id))
            .end("AssumedRoleUser");
        credentials_xml(&mut xml, &creds);
        xml.element("PackedPolicySize", "0");
        Ok(Output::Query(Some(xml.finish())))
    }

    async fn get_session_token(
        &self,
        ctx: &OperationContext<'_>,
        params: &QueryParams,
    ) -> Result<Output, ServiceError> {
        let caller = ctx
            .caller
            .ok_or_else(|| common(CommonError::MissingAuthenticationToken))?;
        if caller.temporary || caller.principal_type != PrincipalType::User {
            return Err(common(CommonError::AccessDenied(
                "Cannot call GetSessionToken with session credentials".into(),
            )));
        }
        let duration = params
            .integer(
                "DurationSeconds",
                i64::from(self.min_session_seconds),
                129_600,
            )
            .map_err(|e| validation(common(e).message))?
            .unwrap_or(43_200);
        let now = OffsetDateTime::now_utc();
        let (creds, record) = issue(
            &self.master_key,
            SessionOrigin::SessionToken {
                user_name: caller.name.clone(),
            },
            &caller.arn,
            now,
            now + Duration::seconds(duration),
            None,
            Vec::new(),
            Vec::new(),
            None,
        );
        self.store
            .commit(vec![record.write()])
            .await
            .map_err(unavailable)?;
        let mut xml = XmlWriter::new();
        credentials_xml(&mut xml, &creds);
        Ok(Output::Query(Some(xml.finish())))
    }
}

#[async_trait::async_trait]
impl Service for StsService {
    fn signing_name(&self) -> &'static str {
        "sts"
    }

    fn protocol(&self) -> Protocol {
        PROTOCOL
    }

    fn operations(&self) -> &'static [OperationSpec] {
        OPERATIONS
    }

    async fn authorization_target(
        &self,
        ctx: &OperationContext<'_>,
        input: &Input,
    ) -> AuthorizationTarget {
        let Input::Query(params) = input else {
            return AuthorizationTarget::any_resource();
        };
        if ctx.operation.name != "AssumeRole" {
            return AuthorizationTarget::any_resource();
        }
        let mut target = AuthorizationTarget::resource(params.get("RoleArn").unwrap_or("*"));
        let mut key = |k: &str, v: &str| target.condition_keys.push((k.to_owned(), v.to_owned()));
        if let Some(v) = params.get("ExternalId") {
            key("sts:ExternalId", v);
        }
        if let Some(v) = params.get("RoleSessionName") {
            key("sts:RoleSessionName", v);
        }
        if let Some(v) = params.get("SourceIdentity") {
            key("sts:SourceIdentity", v);
        }
        if let Ok(tags) = session_tags(params) {
            for tag in &tags {
                key(&format!("aws:RequestTag/{}", tag.key), &tag.value);
                key("aws:TagKeys", &tag.key);
            }
        }
        target
    }

    async fn resource_policy(
        &self,
        ctx: &OperationContext<'_>,
        resource: &str,
    ) -> Result<Option<ResourcePolicy>, ServiceError> {
        if ctx.operation.name != "AssumeRole" {
            return Ok(None);
        }
        let role = self.load_role(resource).await?;
        Ok(Some(ResourcePolicy {
            kind: ResourcePolicyKind::Trust,
            document: role.map(|r| r.assume_role_policy_document),
        }))
    }

    async fn call(&self, ctx: OperationContext<'_>, input: Input) -> Result<Output, ServiceError> {
        let Input::Query(params) = input else {
            return Err(common(CommonError::InternalFailure));
        };
        match ctx.operation.name {
            "GetCallerIdentity" => {
                let caller = ctx
                    .caller
                    .ok_or_else(|| common(CommonError::MissingAuthenticationToken))?;
                let mut xml = XmlWriter::new();
                xml.element("Arn", &caller.arn)
                    .element("UserId", &caller.user_id)
                    .element("Account", &caller.account_id);
                Ok(Output::Query(Some(xml.finish())))
            }
            "AssumeRole" => self.assume_role(&ctx, &params).await,
            "GetSessionToken" => self.get_session_token(&ctx, &params).await,
            other => Err(common(CommonError::UnknownOperation {
                service: "sts".into(),
                operation: other.into(),
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_from_arns() {
        assert_eq!(role_name("arn:aws:iam::123456789012:role/app"), Some("app"));
        assert_eq!(
            role_name("arn:aws:iam::123456789012:role/a/b/app"),
            Some("app")
        );
        assert_eq!(role_name("arn:aws:iam::123456789012:user/app"), None);
        assert_eq!(role_name("arn:aws:iam::123456789012:role/"), None);
        assert_eq!(role_name("nonsense"), None);
    }

    #[test]
    fn session_names() {
        assert!(check_name("roleSessionName", "ci-job@42", 2, 64).is_ok());
        assert!(check_name("roleSessionName", "x", 2, 64).is_err());
        assert!(check_name("roleSessionName", "has space", 2, 64).is_err());
        assert!(check_name("roleSessionName", &"a".repeat(65), 2, 64).is_err());
    }
}
