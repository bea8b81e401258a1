//! `AWS_IAM` routes: the request is SigV4-signed for the service `execute-api`, and the
//! signer's own IAM policies must allow `execute-api:Invoke` on the route's ARN
//! (`arn:aws:execute-api:<region>:<account>:<apiId>/<stage>/<METHOD>/<path>`). The gateway does
//! not know IAM: the server implements [`IamInvokers`] over the same credential resolver,
//! signature verification and authorizer as the AWS API's pipeline.

use std::net::IpAddr;

use async_trait::async_trait;
use http::HeaderMap;

/// A data-plane request as SigV4 verification needs it.
#[derive(Debug)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The URI's authority, for HTTP/2 requests that carry no `Host` header.
    pub authority: Option<&'a str>,
    /// The path as received (`/_api/<apiId>/…` or `/<stage>/…`), percent-encoded.
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub source_ip: Option<IpAddr>,
    pub secure: bool,
}

/// Who signed an allowed request, as the events carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamCaller {
    pub access_key: String,
    pub account_id: String,
    /// The unique id (`AIDA…`, `AROA…:session`).
    pub user_id: String,
    pub user_arn: String,
}

/// Why an `AWS_IAM` request was refused: always a 403, with API Gateway's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IamRefusal {
    /// No signature: `{"message":"Forbidden"}`.
    Unsigned,
    /// A signature that does not verify, or credentials that are not valid:
    /// `{"message": …}` saying so.
    Invalid(String),
    /// Valid credentials whose policies do not allow `execute-api:Invoke`:
    /// `{"Message":"User: … is not authorized to perform: execute-api:Invoke on resource: …"}`.
    Denied(String),
}

/// Authenticates and authorizes `AWS_IAM` requests (the server, over IAM).
#[async_trait]
pub trait IamInvokers: Send + Sync {
    /// The signer of `request`, if its signature verifies and its policies allow
    /// `execute-api:Invoke` on `route_arn`.
    async fn authorize(
        &self,
        request: &SignedRequest<'_>,
        route_arn: &str,
    ) -> Result<IamCaller, IamRefusal>;
}
