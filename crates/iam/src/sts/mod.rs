//! STS (query protocol, API version 2011-06-15): `GetCallerIdentity`, `AssumeRole`,
//! `GetSessionToken`.
//!
//! Each request is decoded once into an [`StsRequest`]; `AssumeRole` loads its role once, and
//! that role's trust policy is what the request path evaluates (as the resource-based policy
//! of `sts:AssumeRole`, `sts:TagSession` and `sts:SetSourceIdentity`) and that same role is
//! what the session is issued for.

mod assume_role;
/// STS's error codes.
pub mod error;

use std::sync::Arc;

use rampart_core::arn::assumed_role_arn;
use rampart_core::{CallerIdentity, PrincipalType, RootKeyring};
use rampart_store::Store;
use rampart_wire::protocol::query::{QueryParams, XmlWriter};
use rampart_wire::{
    Check, CommonError, Input, OperationContext, OperationSpec, Output, PreparedOperation,
    Protocol, Service, ServiceError,
};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::entities::{self, Role};
use crate::sessions::{
    issue, issue_role_session, IssuedCredentials, RoleSessionRequest, SessionOrigin,
};
use assume_role::{role_name, AssumeRole};
pub use error::StsError;

/// The operations STS offers.
const OPERATIONS: &[OperationSpec] = &[
    // AWS: "No permissions are required to perform this operation."
    OperationSpec::signed("GetCallerIdentity")
        .without_permission()
        .read_only(),
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
    root_keys: Arc<RootKeyring>,
    /// Shortest session `DurationSeconds` accepted: AWS's 900, lowered only by the
    /// test-only flag of `rampart serve` so expiry can be observed in seconds.
    min_session_seconds: u32,
}

/// One decoded STS request.
enum StsRequest {
    GetCallerIdentity,
    GetSessionToken { duration_seconds: i64 },
    AssumeRole(Box<AssumeRole>),
}

/// A decoded STS request and the checks it declared.
struct PreparedSts<'s> {
    sts: &'s StsService,
    request: StsRequest,
    checks: Vec<Check>,
}

impl StsService {
    pub fn new(
        store: Arc<dyn Store>,
        root_keys: Arc<RootKeyring>,
        min_session_seconds: u32,
    ) -> Self {
        StsService {
            store,
            root_keys,
            min_session_seconds,
        }
    }

    /// The role a role ARN names, if it exists under exactly that ARN (path included).
    async fn load_role(&self, role_arn: &str) -> Result<Option<Role>, StsError> {
        let Some(name) = role_name(role_arn) else {
            return Ok(None);
        };
        Ok(entities::load::<Role>(self.store.as_ref(), name)
            .await?
            .map(|v| v.entity)
            .filter(|r| r.arn == role_arn))
    }

    async fn decode(
        &self,
        operation: &str,
        p: &QueryParams,
        caller: &CallerIdentity,
    ) -> Result<(StsRequest, Vec<Check>), StsError> {
        Ok(match operation {
            "GetCallerIdentity" => (StsRequest::GetCallerIdentity, Vec::new()),
            "GetSessionToken" => {
                let duration_seconds = p
                    .integer(
                        "DurationSeconds",
                        i64::from(self.min_session_seconds),
                        129_600,
                    )
                    .map_err(|e| StsError::ValidationError(common(e).message))?
                    .unwrap_or(43_200);
                (StsRequest::GetSessionToken { duration_seconds }, Vec::new())
            }
            "AssumeRole" => {
                let mut request = AssumeRole::decode(p, caller, self.min_session_seconds)?;
                request.role = self.load_role(&request.role_arn).await?;
                let checks = request.checks();
                (StsRequest::AssumeRole(Box::new(request)), checks)
            }
            other => {
                return Err(StsError::Common(common(CommonError::UnknownOperation {
                    service: "sts".into(),
                    operation: other.into(),
                })))
            }
        })
    }

    async fn assume_role(
        &self,
        caller: &CallerIdentity,
        request: AssumeRole,
    ) -> Result<Output, StsError> {
        if let Some(role) = &request.role {
            if request.duration_seconds > i64::from(role.max_session_duration) {
                return Err(StsError::ValidationError(
                    "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                        .into(),
                ));
            }
        }
        // The request path refused callers the trust policy does not allow, including for
        // roles that do not exist; this is the same answer, should it ever get here.
        let role = request.role.ok_or_else(|| {
            StsError::AccessDenied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
                caller.arn, request.role_arn
            ))
        })?;
        let session_name = request.session_name;
        let source_identity = request.source_identity;
        let session = RoleSessionRequest {
            session_name: session_name.clone(),
            duration: Duration::seconds(request.duration_seconds),
            session_policy: request.session_policy,
            session_policy_arns: request.policy_arns,
            tags: request.tags,
            transitive_tag_keys: request.transitive_tag_keys,
            source_identity: source_identity.clone(),
            issued_to: caller.arn.clone(),
        };
        let creds =
            issue_role_session(self.store.as_ref(), &self.root_keys, &role, session).await?;
        let mut xml = XmlWriter::new();
        xml.optional("SourceIdentity", source_identity.as_deref());
        xml.start("AssumedRoleUser")
            .element(
                "Arn",
                &assumed_role_arn(&caller.account_id, &role.name, &session_name),
            )
            .element("AssumedRoleId", &format!("{}:{session_name}", role.role_id))
            .end("AssumedRoleUser");
        credentials_xml(&mut xml, &creds);
        xml.element("PackedPolicySize", "0");
        Ok(Output::Query(Some(xml.finish())))
    }

    async fn get_session_token(
        &self,
        caller: &CallerIdentity,
        duration_seconds: i64,
    ) -> Result<Output, StsError> {
        if caller.temporary || caller.principal_type != PrincipalType::User {
            return Err(StsError::AccessDenied(
                "Cannot call GetSessionToken with session credentials".into(),
            ));
        }
        let now = OffsetDateTime::now_utc();
        let (creds, record) = issue(
            &self.root_keys,
            SessionOrigin::SessionToken {
                user_name: caller.name.clone(),
                user_id: Some(caller.user_id.clone()),
            },
            &caller.arn,
            now,
            now + Duration::seconds(duration_seconds),
            Default::default(),
        );
        rampart_store::request_audit::commit(self.store.as_ref(), vec![record.write()]).await?;
        let mut xml = XmlWriter::new();
        credentials_xml(&mut xml, &creds);
        Ok(Output::Query(Some(xml.finish())))
    }
}

/// Decodes an `AssumeRole` request's members for `caller` as the request path would, without
/// a store and without authorizing: for fuzzing the code STS input meets first.
pub fn decode_assume_role(p: &QueryParams, caller: &CallerIdentity) -> Result<(), StsError> {
    AssumeRole::decode(p, caller, 900).map(|request| drop(request.checks()))
}

fn common(error: CommonError) -> ServiceError {
    error.for_protocol(PROTOCOL.kind())
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

#[async_trait::async_trait]
impl PreparedOperation for PreparedSts<'_> {
    fn checks(&self) -> &[Check] {
        &self.checks
    }

    async fn execute(self: Box<Self>, ctx: OperationContext<'_>) -> Result<Output, ServiceError> {
        let caller = ctx.caller.ok_or(StsError::InternalFailure)?;
        Ok(match self.request {
            StsRequest::GetCallerIdentity => {
                let mut xml = XmlWriter::new();
                xml.element("Arn", &caller.arn)
                    .element("UserId", &caller.user_id)
                    .element("Account", &caller.account_id);
                Output::Query(Some(xml.finish()))
            }
            StsRequest::GetSessionToken { duration_seconds } => {
                self.sts.get_session_token(caller, duration_seconds).await?
            }
            StsRequest::AssumeRole(request) => self.sts.assume_role(caller, *request).await?,
        })
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

    async fn prepare<'s>(
        &'s self,
        ctx: &OperationContext<'_>,
        input: Input,
    ) -> Result<Box<dyn PreparedOperation + 's>, ServiceError> {
        let Input::Query(params) = input else {
            return Err(common(CommonError::Serialization(
                "STS speaks the query protocol.".into(),
            )));
        };
        let caller = ctx.caller.ok_or(StsError::InternalFailure)?;
        let (request, checks) = self.decode(ctx.operation.name, &params, caller).await?;
        Ok(Box::new(PreparedSts {
            sts: self,
            request,
            checks,
        }))
    }
}
