//! The request path every AWS API call walks:
//! decode → route → authenticate (SigV4) → authorize → operation → audit → encode.
//!
//! Every request, accepted or rejected, leaves exactly one audit record, written durably before
//! the answer goes out. If the audit trail cannot be written, the caller gets
//! `ServiceUnavailable` rather than an unaudited answer.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT};
use rampart_core::{ids, AuditCheck, AuditOutcome, AuditRecord, CallerIdentity};
use rampart_iam::{
    Authorizer, Caller, CredentialError, CredentialResolver, RequestFacts, ResolvedCredential,
};
use rampart_wire::protocol::{self, json, ProtocolKind};
use rampart_wire::sigv4::{self, RequestView, Settings};
use rampart_wire::{
    Authentication, Check, CommonError, OperationContext, Permission, Protocol, ServiceError,
    Verdict,
};
use time::OffsetDateTime;

use rampart_store::request_audit;
use rampart_user_pools::source_limit::SourceLimiter;

mod answer;
mod decode;

use answer::{encode_output, into_response, Answer};
use decode::decode;

use crate::audit::AuditWriter;
use crate::front::RequestId;
use crate::metrics;
use crate::registry::{RegisteredService, Registry};

/// Everything the request path needs, shared by all connections.
pub struct Pipeline {
    pub registry: Registry,
    pub resolver: CredentialResolver,
    pub authorizer: Authorizer,
    pub audit: AuditWriter,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Whether the listener terminates TLS (`aws:SecureTransport`).
    pub tls: bool,
    /// The region this endpoint serves (`--region`): a credential scope must name it, or
    /// `us-east-1` for IAM, which AWS signs there whatever the client's region.
    pub region: String,
    /// Per-source admission checks on unsigned requests, by the service's signing name (the
    /// user pools' sign-in and sign-up endpoints, `--auth-requests-per-source`).
    pub source_admission: HashMap<&'static str, Arc<dyn SourceAdmission>>,
}

/// A check a service asks the pipeline to make on each unsigned request, by where it comes
/// from, once the operation is known and before anything is decoded or run: unsigned callers
/// are anonymous, so their source address is all there is to bound what one of them may cost.
pub trait SourceAdmission: Send + Sync {
    /// Admits an unsigned call of `operation` from `source`, or refuses it with the service's
    /// error.
    fn admit_source(&self, operation: &str, source: IpAddr) -> Result<(), ServiceError>;
}

impl SourceAdmission for SourceLimiter {
    fn admit_source(&self, operation: &str, source: IpAddr) -> Result<(), ServiceError> {
        if !SourceLimiter::limits(operation) {
            return Ok(());
        }
        self.admit(source, Instant::now()).map_err(Into::into)
    }
}

/// What is known about a request so far, for its audit record and metrics.
struct Trail {
    request_id: String,
    started: Instant,
    source_ip: std::net::IpAddr,
    user_agent: Option<String>,
    /// The signing name and operation name, `-` until known (static: metrics labels).
    service: &'static str,
    operation: &'static str,
    access_key_id: Option<String>,
    principal_arn: Option<String>,
    /// The authorization decision (`allowed`, `explicitDeny`, `implicitDeny`), once made.
    decision: Option<&'static str>,
    matched_statements: Vec<String>,
    /// Every check made, with its decision.
    checks: Vec<AuditCheck>,
    /// Whether the record went into the store with the request's state change.
    recorded_in_commit: bool,
    /// The protocol answers are given in: guessed from the request's shape until the service
    /// is known.
    protocol: Protocol,
}

impl Trail {
    /// The request's audit record as known so far.
    fn record(
        &self,
        tls: bool,
        outcome: AuditOutcome,
        error_code: Option<String>,
        http_status: u16,
    ) -> AuditRecord {
        AuditRecord {
            seq: 0,
            time: OffsetDateTime::now_utc(),
            request_id: self.request_id.clone(),
            principal_arn: self.principal_arn.clone(),
            access_key_id: self.access_key_id.clone(),
            source_ip: ip_text(self.source_ip),
            tls,
            user_agent: self.user_agent.clone(),
            service: self.service.to_owned(),
            operation: self.operation.to_owned(),
            outcome,
            error_code,
            http_status,
            decision: self.decision.map(str::to_owned),
            matched_statements: self.matched_statements.clone(),
            checks: self.checks.clone(),
            access: None,
        }
    }
}

/// An address as text. IPv4 (every loopback and most clients) is written by hand: `Display`
/// goes through the formatter's padding support, a thousand instructions on each request.
fn ip_text(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let mut out = String::with_capacity(15);
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                if octet >= 100 {
                    out.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    out.push(char::from(b'0' + octet / 10 % 10));
                }
                out.push(char::from(b'0' + octet % 10));
            }
            out
        }
        other => other.to_string(),
    }
}

/// A rejection: the error and the protocol to say it in.
struct Rejection {
    protocol: Protocol,
    error: ServiceError,
}

impl Rejection {
    fn new(kind: ProtocolKind, error: CommonError) -> Self {
        Rejection {
            protocol: Protocol::generic(kind),
            error: error.for_protocol(kind),
        }
    }

    fn in_service(service: &RegisteredService, error: CommonError) -> Self {
        Rejection {
            protocol: service.protocol,
            error: error.for_protocol(service.protocol.kind()),
        }
    }
}

/// The axum handler for every AWS API request, behind the AWS API front end
/// ([`crate::front::aws_api`]), whose request-id layer gave the request its id and puts it on
/// the answer as `x-amzn-RequestId`.
pub(crate) async fn handle(
    State(pipeline): State<Arc<Pipeline>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
) -> Response {
    // The layer's id moves into the trail: one id per request, in the header and the record.
    let request_id = match RequestId::take(request.extensions_mut()) {
        Some(id) => id.into_string(),
        None => {
            tracing::error!("an AWS API request reached the pipeline without a request id");
            ids::request_id()
        }
    };
    let mut trail = Trail {
        request_id,
        started: Instant::now(),
        source_ip: peer.ip(),
        user_agent: request
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect()),
        service: "-",
        operation: "-",
        access_key_id: None,
        principal_arn: None,
        decision: None,
        matched_statements: Vec::new(),
        checks: Vec::new(),
        recorded_in_commit: false,
        protocol: Protocol::RestJson,
    };
    let result = pipeline.process(&mut trail, request).await;
    pipeline.finish(trail, result).await
}

impl Pipeline {
    async fn process(&self, trail: &mut Trail, request: Request) -> Result<Answer, Rejection> {
        let (parts, body) = request.into_parts();
        let content_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok());
        let raw_query = parts.uri.query().unwrap_or("");
        let guessed = protocol::guess_protocol(content_type, target.is_some(), raw_query);
        trail.protocol = Protocol::generic(guessed);

        let body = self
            .read_body(&parts.headers, body)
            .await
            .map_err(|e| Rejection::new(guessed, e))?;

        let mut header_list: Vec<(&str, &[u8])> = parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes()))
            .collect();
        // HTTP/2 carries the host in `:authority`; signers sign it as `host`.
        if !parts.headers.contains_key(http::header::HOST) {
            if let Some(authority) = parts.uri.authority() {
                header_list.push(("host", authority.as_str().as_bytes()));
            }
        }
        let view = RequestView {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: raw_query,
            headers: &header_list,
            body: &body,
        };

        let auth = match sigv4::parse_authorization(&view) {
            Ok(auth) => Some(auth),
            Err(sigv4::SigV4Error::MissingAuthentication) => None,
            Err(e) => return Err(Rejection::new(guessed, CommonError::Signature(e))),
        };

        // Route: by the credential scope's service, or — for unsigned requests — by the
        // request's shape, so operations that are unauthenticated by design can be reached.
        let service = match &auth {
            Some(auth) => self
                .registry
                .by_signing_name(auth.scope.service)
                .ok_or_else(|| {
                    Rejection::new(
                        guessed,
                        CommonError::UnknownService(auth.scope.service.to_owned()),
                    )
                })?,
            None => match target
                .and_then(json::split_target)
                .and_then(|(p, _)| self.registry.by_target_prefix(p))
            {
                Some(service) => service,
                None => {
                    return Err(Rejection::new(
                        guessed,
                        CommonError::MissingAuthenticationToken,
                    ))
                }
            },
        };
        trail.service = service.signing_name;
        trail.protocol = service.protocol;
        if let Some(auth) = &auth {
            let region = auth.scope.region;
            let global = service.signing_name == "iam" && region == GLOBAL_SIGNING_REGION;
            if region != self.region && !global {
                return Err(Rejection::in_service(
                    service,
                    CommonError::WrongRegion(region.to_owned()),
                ));
            }
        }
        // Authenticate before looking at the operation: an unauthenticated caller learns
        // nothing about what the service offers.
        let credential = match &auth {
            Some(auth) => Some(self.authenticate(trail, service, auth, &view).await?),
            None => None,
        };
        let (operation, input) = decode(
            service,
            &parts,
            target,
            raw_query,
            content_type,
            body.clone(),
        )?;
        trail.operation = operation.name;
        if auth.is_none() {
            if let Some(admission) = self.source_admission.get(service.signing_name) {
                admission
                    .admit_source(operation.name, trail.source_ip)
                    .map_err(|error| Rejection {
                        protocol: service.protocol,
                        error,
                    })?;
            }
        }

        let region = auth.as_ref().map(|a| a.scope.region).unwrap_or("");
        let (credential, caller) = match (credential, operation.authentication) {
            (None, Authentication::SigV4) => {
                return Err(Rejection::in_service(
                    service,
                    CommonError::MissingAuthenticationToken,
                ))
            }
            (None, Authentication::None) => (None, None),
            (Some(credential), _) => {
                let mut identity: CallerIdentity = credential.identity.clone();
                identity.source_ip = trail.source_ip;
                identity.secure_transport = self.tls;
                (Some(credential), Some(identity))
            }
        };
        let in_service = |error| Rejection {
            protocol: service.protocol,
            error,
        };
        // One decode: the checks come from the typed request that will run.
        let prepared = service
            .service
            .prepare(
                &OperationContext {
                    request_id: &trail.request_id,
                    caller: caller.as_ref(),
                    region,
                    operation,
                    verdicts: &[],
                },
                input,
            )
            .await
            .map_err(in_service)?;
        let verdicts = match (&credential, operation.permission) {
            (Some(credential), Permission::Required) => {
                self.authorize(trail, service, credential, prepared.checks(), region)?
            }
            _ => Vec::new(),
        };
        let ctx = OperationContext {
            request_id: &trail.request_id,
            caller: caller.as_ref(),
            region,
            operation,
            verdicts: &verdicts,
        };
        let output = if operation.read_only {
            prepared.execute(ctx).await
        } else {
            // A write commits this record with its change (the success answer is 200).
            let pending = trail.record(self.tls, AuditOutcome::Success, None, 200);
            let (output, recorded) = request_audit::scope(pending, prepared.execute(ctx)).await;
            trail.recorded_in_commit = recorded;
            output
        }
        .map_err(in_service)?;
        Ok(encode_output(
            &service.protocol,
            operation,
            output,
            &trail.request_id,
        ))
    }

    /// Decides every check the operation declared, in order; the first one not allowed
    /// refuses the request, unless it is a per-item check (one secret of a batch), whose
    /// denial only becomes that check's verdict for `execute`. Every decision is audited. An
    /// operation that requires permission but declares no check other than per-item ones is
    /// a bug, and is refused rather than run unchecked.
    fn authorize(
        &self,
        trail: &mut Trail,
        service: &RegisteredService,
        credential: &ResolvedCredential,
        checks: &[Check],
        region: &str,
    ) -> Result<Vec<Verdict>, Rejection> {
        if checks.iter().all(|c| c.per_item) {
            tracing::error!(
                service = service.signing_name,
                operation = %trail.operation,
                "operation declared no authorization check"
            );
            return Err(Rejection::in_service(service, CommonError::InternalFailure));
        }
        let facts = RequestFacts {
            source_ip: trail.source_ip,
            secure_transport: self.tls,
            region,
            now: OffsetDateTime::now_utc(),
        };
        let mut verdicts = Vec::with_capacity(checks.len());
        for check in checks {
            let caller = Caller::Credential(credential);
            let authorization = self.authorizer.authorize(&caller, check, &facts);
            let decision = authorization.evaluation.decision.as_str();
            trail.checks.push(AuditCheck {
                action: authorization.action.clone(),
                resource: authorization.resource.clone(),
                decision: decision.to_owned(),
            });
            trail
                .matched_statements
                .extend(authorization.matched_statements());
            let verdict = match authorization.is_allowed() {
                true => Verdict::Allowed,
                false => Verdict::Denied(authorization.denial_message(&caller.describe())),
            };
            // The request's decision is its request-wide checks'; an item's is in its check.
            if check.per_item {
                verdicts.push(verdict);
                continue;
            }
            trail.decision = Some(decision);
            if let Verdict::Denied(message) = verdict {
                return Err(Rejection::in_service(
                    service,
                    CommonError::AccessDenied(message),
                ));
            }
            verdicts.push(Verdict::Allowed);
        }
        Ok(verdicts)
    }

    /// Resolves the access key and verifies the signature.
    async fn authenticate(
        &self,
        trail: &mut Trail,
        service: &RegisteredService,
        auth: &sigv4::Authorization<'_>,
        view: &RequestView<'_>,
    ) -> Result<Arc<ResolvedCredential>, Rejection> {
        trail.access_key_id = Some(auth.scope.access_key_id.to_owned());
        let credential = verify_signed(&self.resolver, auth, view, service.signing_name)
            .await
            .map_err(|e| Rejection::in_service(service, e))?;
        trail.principal_arn = Some(credential.identity.arn.clone());
        Ok(credential)
    }

    async fn read_body(&self, headers: &http::HeaderMap, body: Body) -> Result<Bytes, CommonError> {
        let too_large = CommonError::RequestEntityTooLarge {
            limit: self.max_body_bytes,
        };
        if let Some(length) = headers.get(CONTENT_LENGTH) {
            let length: usize = length
                .to_str()
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| {
                    CommonError::Serialization("Invalid Content-Length header.".into())
                })?;
            if length > self.max_body_bytes {
                return Err(too_large);
            }
        }
        match tokio::time::timeout(
            BODY_READ_TIMEOUT,
            axum::body::to_bytes(body, self.max_body_bytes),
        )
        .await
        {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(_)) => Err(too_large),
            Err(_) => Err(CommonError::Serialization(
                "Timed out reading the request body.".into(),
            )),
        }
    }

    /// Audits, counts and encodes the outcome.
    async fn finish(&self, trail: Trail, result: Result<Answer, Rejection>) -> Response {
        let (encoded, error_code) = match result {
            Ok(answer) => (answer, None),
            Err(rejection) => (
                Answer::Encoded(protocol::encode_error(
                    &rejection.protocol,
                    &rejection.error,
                    &trail.request_id,
                )),
                Some(rejection.error.code),
            ),
        };
        let outcome = if error_code.is_none() {
            AuditOutcome::Success
        } else {
            AuditOutcome::Failure
        };
        let record = trail.record(
            self.tls,
            outcome,
            error_code.as_deref().map(str::to_owned),
            encoded.status(),
        );
        // A change committed with its record needs no second one; a failure after the commit
        // (rare: the operation answered an error after changing state) is recorded too.
        let already = trail.recorded_in_commit && outcome == AuditOutcome::Success;
        let written = match already {
            true => Ok(()),
            false => self.audit.record(record).await,
        };
        let encoded = match written {
            Ok(()) => encoded,
            Err(e) => {
                tracing::error!(error = %e, request_id = %trail.request_id, "refusing to answer an unaudited request");
                let error = CommonError::ServiceUnavailable.for_protocol(trail.protocol.kind());
                Answer::Encoded(protocol::encode_error(
                    &trail.protocol,
                    &error,
                    &trail.request_id,
                ))
            }
        };
        let elapsed = trail.started.elapsed().as_secs_f64();
        metrics::record_request(
            trail.service,
            trail.operation,
            outcome.as_str(),
            error_code.clone().unwrap_or(Cow::Borrowed("")),
            elapsed,
        );
        tracing::debug!(
            request_id = %trail.request_id,
            service = %trail.service,
            operation = %trail.operation,
            status = encoded.status(),
            error = error_code.as_deref().unwrap_or(""),
            micros = (elapsed * 1e6) as u64,
            "request"
        );
        into_response(encoded)
    }
}

/// Where AWS signs requests to its global IAM endpoint.
const GLOBAL_SIGNING_REGION: &str = "us-east-1";

/// How long a client may take to send its body before the request is abandoned.
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Resolves the access key of a SigV4-signed request and verifies its signature and session:
/// what every signed request passes, on the AWS API (`signing_name` its service's) and on
/// the data plane's `AWS_IAM` routes (`execute-api`).
pub(crate) async fn verify_signed(
    resolver: &CredentialResolver,
    auth: &sigv4::Authorization<'_>,
    view: &RequestView<'_>,
    signing_name: &str,
) -> Result<Arc<ResolvedCredential>, CommonError> {
    let credential = resolver
        .resolve(auth.scope.access_key_id)
        .await
        .map_err(|e| match e {
            CredentialError::UnknownAccessKey => CommonError::InvalidClientTokenId,
            CredentialError::InactiveAccessKey => CommonError::InactiveClientToken,
            CredentialError::Store(ref err) => {
                tracing::error!(error = %err, "credential lookup failed");
                CommonError::ServiceUnavailable
            }
            CredentialError::Unsealable(ref err) => {
                tracing::error!(error = %err, "stored credential cannot be opened");
                CommonError::InternalFailure
            }
        })?;
    match (&credential.session, auth.security_token.as_deref()) {
        // A session token with long-term credentials is refused, as AWS does.
        (None, Some(_)) => return Err(CommonError::InvalidSessionToken),
        (Some(_), None) => return Err(CommonError::InvalidClientTokenId),
        (Some(session), Some(token)) => {
            if !session.token_matches(token) {
                return Err(CommonError::InvalidClientTokenId);
            }
            if OffsetDateTime::now_utc() >= session.expires_at {
                return Err(CommonError::ExpiredToken);
            }
            // AWS: GetSessionToken credentials cannot call the IAM API without MFA.
            if session.from_get_session_token && signing_name == "iam" {
                return Err(CommonError::InvalidClientTokenId);
            }
        }
        (None, None) => {}
    }
    let key = credential.signing_key(auth.scope.date, auth.scope.region, auth.scope.service);
    sigv4::verify(view, auth, &key, &Settings::AWS, OffsetDateTime::now_utc())
        .map_err(CommonError::Signature)?;
    Ok(credential)
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    #[test]
    fn addresses_read_as_display_writes_them() {
        for text in [
            "0.0.0.0",
            "127.0.0.1",
            "10.9.99.100",
            "192.0.2.255",
            "255.255.255.255",
            "::1",
            "2001:db8::1",
            "::ffff:192.0.2.1",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(super::ip_text(ip), ip.to_string());
        }
        for n in 0..=255u8 {
            let ip = IpAddr::from([n, n / 3, 255 - n, n % 10]);
            assert_eq!(super::ip_text(ip), ip.to_string());
        }
    }
}
