//! The data plane's audit: one record per request to an existing API — its route, who the
//! authorizer said the caller is, the authorizer's decision and the status answered — in the
//! same trail as the AWS API's records (`rampart audit`), service `execute-api`, operation
//! `Invoke`, the route's ARN as the one check's resource.
//!
//! Written through `Store::record_audit`: group-committed with every other record queued at
//! the same time (the SQLite writer thread's batch, PostgreSQL's multi-row INSERT) — never a
//! store transaction of its own per request. A trail that cannot take the record answers 503
//! rather than answering unaudited.
//!
//! The record also carries what API Gateway's access log says of the request
//! ([`AccessDetail`]: stage, route key, method, path, protocol, the integration's latency and
//! the whole answer's), which `rampart logs --api` prints as access-log lines.
//!
//! Who the caller is, by authorizer: `AWS_IAM` the signer's ARN (and access key); JWT
//! `<iss>#<sub>`; a Lambda authorizer `<function>#<principalId>` for a policy answer (a simple
//! answer names no principal); `NONE` nobody.

use std::time::{Duration, Instant};

use rampart_core::{AccessDetail, AuditCheck, AuditOutcome, AuditRecord};
use time::OffsetDateTime;

/// What a data-plane request established, filled in as it goes.
#[derive(Debug, Default)]
pub struct Trail {
    /// Whether the request named an existing API (only those are recorded).
    pub api_known: bool,
    pub request_id: String,
    pub source_ip: String,
    pub tls: bool,
    pub user_agent: Option<String>,
    /// The route's `execute-api` ARN, once a route matched.
    pub resource: Option<String>,
    pub principal: Option<String>,
    pub access_key_id: Option<String>,
    /// `allowed` or `implicitDeny` when an authorizer decided.
    pub decision: Option<&'static str>,
    /// Why the gateway itself refused (`Unauthorized`, `Forbidden`, `TooManyRequests`).
    pub refusal: Option<&'static str>,
    /// Not audited: the API's CORS configuration, which every answer from a deployed stage
    /// gets applied on the way out.
    pub cors: Option<crate::cors::CorsConfig>,
    /// When the request arrived (the response latency runs from here).
    pub arrived: Option<Instant>,
    pub api_id: String,
    pub stage: Option<String>,
    pub route_key: Option<String>,
    pub http_method: String,
    pub path: String,
    pub protocol: String,
    /// How long the integration took, when one ran.
    pub integration_latency: Option<Duration>,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Trail {
    /// The record of the request answered with `status`.
    pub fn record(&self, status: u16) -> AuditRecord {
        AuditRecord {
            seq: 0,
            time: OffsetDateTime::now_utc(),
            request_id: self.request_id.clone(),
            principal_arn: self.principal.clone(),
            access_key_id: self.access_key_id.clone(),
            source_ip: self.source_ip.clone(),
            tls: self.tls,
            user_agent: self.user_agent.clone(),
            service: "execute-api".into(),
            operation: "Invoke".into(),
            outcome: if status < 400 {
                AuditOutcome::Success
            } else {
                AuditOutcome::Failure
            },
            error_code: self.refusal.map(str::to_owned),
            http_status: status,
            decision: self.decision.map(str::to_owned),
            matched_statements: Vec::new(),
            checks: self
                .resource
                .iter()
                .map(|resource| AuditCheck {
                    action: "execute-api:Invoke".into(),
                    resource: resource.clone(),
                    decision: self.decision.unwrap_or("none").into(),
                })
                .collect(),
            access: Some(AccessDetail {
                api_id: self.api_id.clone(),
                stage: self.stage.clone(),
                route_key: self.route_key.clone(),
                http_method: self.http_method.clone(),
                path: self.path.clone(),
                protocol: self.protocol.clone(),
                response_latency_ms: self.arrived.map_or(0, |t| millis(t.elapsed())),
                integration_latency_ms: self.integration_latency.map(millis),
            }),
        }
    }
}
