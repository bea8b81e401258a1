//! The audit trail: one record for every request, accepted or rejected.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditOutcome {
    /// The operation ran and answered successfully.
    Success,
    /// The request was rejected (authentication, authorization, validation) or the operation failed.
    Failure,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::Failure => "failure",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(AuditOutcome::Success),
            "failure" => Some(AuditOutcome::Failure),
            _ => None,
        }
    }
}

/// One durable audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the trail, assigned by the store (0 until stored).
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    pub request_id: String,
    /// The authenticated principal's ARN, if authentication got that far.
    pub principal_arn: Option<String>,
    /// The access key id the request claimed (even when it turned out unknown).
    pub access_key_id: Option<String>,
    pub source_ip: String,
    pub tls: bool,
    pub user_agent: Option<String>,
    /// The signing name of the service (`sts`, `iam`, …) or `-` when it could not be told.
    pub service: String,
    /// The operation name (`GetCallerIdentity`) or `-` when it could not be told.
    pub operation: String,
    pub outcome: AuditOutcome,
    /// The AWS error code the caller received, on failure.
    pub error_code: Option<String>,
    pub http_status: u16,
    /// The authorization decision (`allowed`, `explicitDeny`, `implicitDeny`) when one was made.
    pub decision: Option<String>,
    /// The policy statements that decided it.
    pub matched_statements: Vec<String>,
    /// Every authorization check the operation declared, in order, with its decision: the
    /// resources the request acted on. Checks after a denied one were not evaluated, unless
    /// the denied one was per-item (one secret of a batch), which refuses only its item.
    pub checks: Vec<AuditCheck>,
    /// A deployed API's request (the gateway's data plane): what API Gateway's access log
    /// says beside the rest of the record. None for every other request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessDetail>,
}

/// What the access log of a deployed API records about one of its requests, in the names of
/// API Gateway's `$context` variables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessDetail {
    pub api_id: String,
    /// The stage that served it; None when no stage matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// The route that matched (`GET /items/{id}`, `$default`); None when none did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_key: Option<String>,
    pub http_method: String,
    /// The request's path, as the client sent it.
    pub path: String,
    /// `HTTP/1.1`, `HTTP/2.0`.
    pub protocol: String,
    /// Milliseconds from the request's arrival to its answer (`responseLatency`).
    pub response_latency_ms: u64,
    /// Milliseconds the integration took (`integrationLatency`), when one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_latency_ms: Option<u64>,
}

impl AuditRecord {
    /// The record of a change a service makes on its own, not for a request (KMS rotating or
    /// destroying a key, Secrets Manager purging a deleted secret): the principal is the
    /// service's (`kms.amazonaws.com`), as CloudTrail names it, and the one check names the
    /// action and resource with the decision `service`.
    pub fn service_action(
        time: OffsetDateTime,
        principal: &str,
        service: &str,
        operation: &str,
        resource: &str,
    ) -> AuditRecord {
        AuditRecord {
            seq: 0,
            time,
            request_id: crate::ids::request_id(),
            principal_arn: Some(principal.to_owned()),
            access_key_id: None,
            source_ip: "-".to_owned(),
            tls: false,
            user_agent: Some("rampart-maintenance".to_owned()),
            service: service.to_owned(),
            operation: operation.to_owned(),
            outcome: AuditOutcome::Success,
            error_code: None,
            http_status: 200,
            decision: None,
            matched_statements: Vec::new(),
            checks: vec![AuditCheck {
                action: format!("{service}:{operation}"),
                resource: resource.to_owned(),
                decision: "service".to_owned(),
            }],
            access: None,
        }
    }
}

/// One authorization check a request was decided on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCheck {
    /// `service:Action`.
    pub action: String,
    /// The resource ARN, or `*` for actions without a resource type.
    pub resource: String,
    /// `allowed`, `explicitDeny` or `implicitDeny`.
    pub decision: String,
}

/// A filter over the audit trail; every set field must match.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    /// Matches the principal ARN or the access key id exactly.
    pub principal: Option<String>,
    pub service: Option<String>,
    pub operation: Option<String>,
    pub outcome: Option<AuditOutcome>,
    pub decision: Option<String>,
    /// Only records with `seq` greater than this.
    pub after_seq: Option<i64>,
    /// At most this many records, oldest first (None: all).
    pub limit: Option<usize>,
}
