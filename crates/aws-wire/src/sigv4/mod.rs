//! AWS Signature Version 4 verification, for both the `Authorization` header form and the
//! presigned (query string) form.
//!
//! A request's walk through this module:
//!
//! 1. [`parse_authorization`] is cheap and allocation-light: it tells the server which service the
//!    client signed for (routing) and which access key signed (credential lookup).
//! 2. The caller looks up the secret for the access key and derives — and caches — a
//!    [`SigningKey`] for the credential scope (secret, date, region, service).
//! 3. [`verify`] checks the time window, the payload hash and the signature.
//!
//! Everything here is a pure function of its arguments (the clock is passed in), so the module is
//! tested against the AWS signing suite, fuzzed and benchmarked in isolation.
//!
//! Deliberately *not* decided here: whether the access key exists, whether the region and service
//! in the scope are the ones this endpoint serves, and whether a session token belongs to the
//! access key. A session token can legitimately be unsigned (see [`verify`]), so the caller must
//! always validate [`Authorization::security_token`] against the access key.
//!
//! HTTP/2 requests carry the host in `:authority`; signers sign it as `host`, so the caller must
//! present it as a `host` header in the [`RequestView`].

mod auth;
mod canonical;
mod datetime;
mod error;
mod query;
mod signing;

use std::time::Duration;

use time::OffsetDateTime;

pub use auth::{
    parse_authorization, AuthLocation, Authorization, CredentialScope, ALGORITHM, MAX_EXPIRES_SECS,
};
pub use canonical::{canonical_request, canonical_request_with_token_mode, SessionTokenMode};
pub use error::SigV4Error;
pub use signing::{string_to_sign, SigningKey};

/// A borrowed view of an HTTP request, exactly as received, so that verification copies nothing.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// The request method, e.g. `GET`. Compared case-sensitively, as HTTP does.
    pub method: &'a str,
    /// The raw path as received on the wire (percent-encoded), without the query.
    pub path: &'a str,
    /// The raw query string without the leading `?`; may be empty.
    pub query: &'a str,
    /// Header names in any case, duplicates allowed, in the order received.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The complete request body (empty for a streaming body that was not buffered).
    pub body: &'a [u8],
}

impl<'a> RequestView<'a> {
    /// All values of a header, in the order received.
    pub(crate) fn header_values<'s>(
        &'s self,
        name: &'s str,
    ) -> impl Iterator<Item = &'a [u8]> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The value of a header that must appear at most once; `Err(())` if it repeats.
    pub(crate) fn single_header(&self, name: &str) -> Result<Option<&'a [u8]>, ()> {
        let mut values = self.header_values(name);
        let first = values.next();
        match values.next() {
            Some(_) => Err(()),
            None => Ok(first),
        }
    }
}

/// How a service canonicalises requests. S3 differs from every other AWS service, so the two
/// presets are all that is normally needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Remove `.`/`..` segments and collapse `//` before encoding the path.
    pub normalize_path: bool,
    /// Percent-encode the (already encoded) path once more, as every SDK does except for S3.
    pub double_encode_path: bool,
    /// Accept `x-amz-content-sha256: UNSIGNED-PAYLOAD`, and sign presigned URLs with it.
    pub allow_unsigned_payload: bool,
    /// How far the request time may be from the server's clock.
    pub max_skew: Duration,
}

impl Settings {
    /// Every AWS service except S3.
    pub const AWS: Settings = Settings {
        normalize_path: true,
        double_encode_path: true,
        allow_unsigned_payload: false,
        max_skew: Duration::from_secs(15 * 60),
    };
    /// S3: object keys are signed verbatim (no normalisation, single encoding) and payloads may be
    /// unsigned.
    pub const S3: Settings = Settings {
        normalize_path: false,
        double_encode_path: false,
        allow_unsigned_payload: true,
        max_skew: Duration::from_secs(15 * 60),
    };
}

/// Verifies a parsed request: the credential date, the time window (at `now`), the payload hash
/// (when `x-amz-content-sha256` is sent) and the signature, compared in constant time.
///
/// `key` must have been derived for `auth.scope`; a key for another date, region or service simply
/// fails with [`SigV4Error::SignatureDoesNotMatch`].
///
/// In the presigned form, some signers (IoT, and the AWS SDKs' "session token excluded" mode)
/// append `X-Amz-Security-Token` *after* signing. When the signature over the full query does not
/// match and that parameter is present, the signature is checked once more without it. This gives
/// an attacker nothing: the token only narrows what the access key may do, and the caller must
/// validate it against the access key in any case (the header form has always allowed an
/// unsigned `x-amz-security-token` header).
pub fn verify(
    req: &RequestView,
    auth: &Authorization,
    key: &SigningKey,
    settings: &Settings,
    now: OffsetDateTime,
) -> Result<(), SigV4Error> {
    auth::check_time(auth, settings, now)?;
    let payload = canonical::payload_hash(req, auth, settings, true)?;
    let mut buf = Vec::with_capacity(canonical::capacity_hint(req));
    canonical::write_canonical_request(
        &mut buf,
        req,
        auth,
        settings,
        &payload,
        SessionTokenMode::Include,
    )?;
    if signing::signature_matches(&buf, auth, key) {
        return Ok(());
    }
    if auth.location == AuthLocation::Query && query::has_param(req.query, query::SECURITY_TOKEN) {
        buf.clear();
        canonical::write_canonical_request(
            &mut buf,
            req,
            auth,
            settings,
            &payload,
            SessionTokenMode::Exclude,
        )?;
        if signing::signature_matches(&buf, auth, key) {
            return Ok(());
        }
    }
    Err(SigV4Error::SignatureDoesNotMatch)
}
