//! Finding and parsing the signature: the `Authorization` header or the `X-Amz-*` query
//! parameters of a presigned URL.

use std::borrow::Cow;

use time::OffsetDateTime;

use super::datetime::{amz_date, parse_amz_date, parse_http_date, parse_scope_date};
use super::error::{excerpt, SigV4Error};
use super::query;
use super::{RequestView, Settings};

/// The only signing algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The longest `X-Amz-Expires` AWS accepts: seven days.
pub const MAX_EXPIRES_SECS: u32 = 604_800;
const TERMINATOR: &str = "aws4_request";

const QUERY_PARAMS_REQUIRED: &str = "Query-string authentication version 4 requires the \
    X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and \
    X-Amz-Expires parameters.";

/// Where the client put the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthLocation {
    /// The `Authorization` header.
    Header,
    /// The query string (a presigned URL).
    Query,
}

/// The `Credential` of a signature: who signed, and for which day, region and service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialScope<'a> {
    /// The access key ID, used to look up the secret.
    pub access_key_id: &'a str,
    /// `YYYYMMDD`; always the date of the request time once [`super::verify`] succeeds.
    pub date: &'a str,
    /// Not checked here: the caller decides which regions it serves.
    pub region: &'a str,
    /// The service the client signed for; routes the request.
    pub service: &'a str,
}

/// A parsed, not yet verified, SigV4 signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// Header or presigned form.
    pub location: AuthLocation,
    /// Who signed, and for what.
    pub scope: CredentialScope<'a>,
    /// The signed header names, lower-case, in the order the client listed them.
    pub signed_headers: Vec<&'a str>,
    /// The signature the client sent.
    pub signature: [u8; 32],
    /// `X-Amz-Date` (header or query parameter), or else the `Date` header.
    pub request_time: OffsetDateTime,
    /// `X-Amz-Expires` in seconds; always present in the presigned form.
    pub expires: Option<u32>,
    /// `X-Amz-Security-Token` (header, or decoded query parameter). May be unsigned: the caller
    /// must check that it belongs to the access key.
    pub security_token: Option<Cow<'a, str>>,
}

/// Finds and parses the signature, without verifying it.
///
/// The server calls this first to learn the service (routing) and the access key (lookup).
/// Sending both an `Authorization` header and presigned parameters is an error, as at AWS.
pub fn parse_authorization<'a>(req: &RequestView<'a>) -> Result<Authorization<'a>, SigV4Error> {
    let header = req.single_header("authorization").map_err(|()| {
        SigV4Error::IncompleteSignature("Only one Authorization header is allowed.".to_owned())
    })?;
    let presigned = query::has_param(req.query, query::ALGORITHM)
        || query::has_param(req.query, query::SIGNATURE);
    match (header, presigned) {
        (Some(_), true) => Err(SigV4Error::IncompleteSignature(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
             Signature query string parameter or the Authorization header should be specified"
                .to_owned(),
        )),
        (Some(value), false) => parse_header_form(req, value),
        (None, true) => parse_query_form(req),
        (None, false) => {
            if query::has_param(req.query, "AWSAccessKeyId") {
                return Err(sigv2_unsupported());
            }
            Err(SigV4Error::MissingAuthentication)
        }
    }
}

fn sigv2_unsupported() -> SigV4Error {
    SigV4Error::UnsupportedAlgorithm(
        "AWS Signature Version 2 is not supported; sign requests with AWS4-HMAC-SHA256.".to_owned(),
    )
}

fn incomplete(msg: impl Into<String>) -> SigV4Error {
    SigV4Error::IncompleteSignature(msg.into())
}

fn trim_spaces(s: &str) -> &str {
    let bytes = s.as_bytes();
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    &s[start..end]
}

// Splitting at ASCII bytes by hand: `str::split(char)` and `split_once(char)` go through the
// generic char searcher (memchr set-up and UTF-8 bookkeeping), several times the work on
// these short fields of every request. Slicing at an ASCII byte is always at a char boundary.

/// The pieces of `raw` between occurrences of the ASCII byte `sep`, as `str::split` gives.
fn split_ascii(raw: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(raw);
    std::iter::from_fn(move || {
        let s = rest?;
        match s.bytes().position(|b| b == sep) {
            Some(i) => {
                rest = Some(&s[i + 1..]);
                Some(&s[..i])
            }
            None => {
                rest = None;
                Some(s)
            }
        }
    })
}

/// `raw` split at the first ASCII byte `sep`, as `str::split_once` gives.
fn split_once_ascii(raw: &str, sep: u8) -> Option<(&str, &str)> {
    let i = raw.bytes().position(|b| b == sep)?;
    Some((&raw[..i], &raw[i + 1..]))
}

fn parse_header_form<'a>(
    req: &RequestView<'a>,
    value: &'a [u8],
) -> Result<Authorization<'a>, SigV4Error> {
    let value = std::str::from_utf8(value)
        .map_err(|_| incomplete("The Authorization header is not valid UTF-8."))?;
    let value = trim_spaces(value);
    if value.is_empty() {
        return Err(incomplete("The Authorization header is empty."));
    }
    let (algorithm, rest) = split_once_ascii(value, b' ').unwrap_or((value, ""));
    if algorithm != ALGORITHM {
        return Err(if algorithm == "AWS" {
            sigv2_unsupported()
        } else {
            SigV4Error::UnsupportedAlgorithm(format!(
                "Unsupported AWS 'algorithm': '{}'.",
                excerpt(algorithm)
            ))
        });
    }

    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    let rest = trim_spaces(rest);
    if !rest.is_empty() {
        for part in split_ascii(rest, b',') {
            let part = trim_spaces(part);
            let (key, val) = split_once_ascii(part, b'=').ok_or_else(|| {
                incomplete(format!(
                    "Authorization header component '{}' is not of the form key=value.",
                    excerpt(part)
                ))
            })?;
            let slot = match key {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed_headers,
                "Signature" => &mut signature,
                _ => {
                    return Err(incomplete(format!(
                        "Unknown Authorization header parameter '{}'.",
                        excerpt(key)
                    )))
                }
            };
            if slot.replace(val).is_some() {
                return Err(incomplete(format!(
                    "Authorization header has more than one '{key}' parameter."
                )));
            }
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        let mut msg = String::new();
        for (name, value) in [
            ("Credential", credential),
            ("Signature", signature),
            ("SignedHeaders", signed_headers),
        ] {
            if value.is_none() {
                msg.push_str(&format!(
                    "Authorization header requires '{name}' parameter. "
                ));
            }
        }
        msg.pop();
        return Err(incomplete(msg));
    };

    let scope = parse_credential(credential, false)?;
    let signed_headers = parse_signed_headers(signed_headers, false)?;
    let signature = parse_signature(signature)?;
    let request_time = header_request_time(req)?;
    let security_token = match req.single_header("x-amz-security-token") {
        Err(()) => {
            return Err(incomplete(
                "Only one X-Amz-Security-Token header is allowed.",
            ))
        }
        Ok(None) => None,
        Ok(Some(v)) => Some(Cow::Borrowed(trim_spaces(
            std::str::from_utf8(v).map_err(|_| incomplete("X-Amz-Security-Token is not UTF-8."))?,
        ))),
    };
    Ok(Authorization {
        location: AuthLocation::Header,
        scope,
        signed_headers,
        signature,
        request_time,
        expires: None,
        security_token,
    })
}

/// `X-Amz-Date`, else `Date`.
fn header_request_time(req: &RequestView) -> Result<OffsetDateTime, SigV4Error> {
    let (value, parse): (_, fn(&str) -> Option<OffsetDateTime>) =
        match req.single_header("x-amz-date") {
            Ok(Some(v)) => (v, parse_amz_date),
            Ok(None) => match req.single_header("date") {
                Ok(Some(v)) => (v, parse_http_date),
                Ok(None) => return Err(SigV4Error::MissingDate),
                Err(()) => return Err(SigV4Error::MalformedDate("<repeated Date header>".into())),
            },
            Err(()) => {
                return Err(SigV4Error::MalformedDate(
                    "<repeated X-Amz-Date header>".into(),
                ))
            }
        };
    let text = String::from_utf8_lossy(value);
    parse(trim_spaces(&text)).ok_or_else(|| SigV4Error::MalformedDate(excerpt(&text)))
}

/// The presigned parameters, each at most once.
#[derive(Default)]
struct QueryAuth<'a> {
    algorithm: Option<&'a str>,
    credential: Option<&'a str>,
    date: Option<&'a str>,
    expires: Option<&'a str>,
    signed_headers: Option<&'a str>,
    signature: Option<&'a str>,
    token: Option<&'a str>,
}

fn parse_query_form<'a>(req: &RequestView<'a>) -> Result<Authorization<'a>, SigV4Error> {
    let mut found = QueryAuth::default();
    for (key, value) in query::pairs(req.query) {
        // Every AWS parameter name starts with "X"; skip the rest cheaply.
        if !(key.starts_with('X') || key.starts_with('%')) {
            continue;
        }
        let slot = [
            (query::ALGORITHM, &mut found.algorithm),
            (query::CREDENTIAL, &mut found.credential),
            (query::DATE, &mut found.date),
            (query::EXPIRES, &mut found.expires),
            (query::SIGNED_HEADERS, &mut found.signed_headers),
            (query::SIGNATURE, &mut found.signature),
            (query::SECURITY_TOKEN, &mut found.token),
        ]
        .into_iter()
        .find(|(name, _)| query::decoded_eq(key, name));
        if let Some((name, slot)) = slot {
            if slot.replace(value).is_some() {
                return Err(incomplete(format!(
                    "Query parameter '{name}' must appear only once."
                )));
            }
        }
    }
    let (Some(algorithm), Some(credential), Some(date), Some(signed_headers), Some(signature)) = (
        found.algorithm,
        found.credential,
        found.date,
        found.signed_headers,
        found.signature,
    ) else {
        return Err(incomplete(QUERY_PARAMS_REQUIRED));
    };
    if !query::decoded_eq(algorithm, ALGORITHM) {
        return Err(SigV4Error::UnsupportedAlgorithm(
            "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\".".to_owned(),
        ));
    }
    let scope = parse_credential(credential, true)?;
    let signed_headers = parse_signed_headers(signed_headers, true)?;
    let signature = parse_signature(&decode_param(signature, query::SIGNATURE)?)?;
    let date = decode_param(date, query::DATE)?;
    let request_time =
        parse_amz_date(&date).ok_or_else(|| SigV4Error::MalformedDate(excerpt(&date)))?;
    let expires = parse_expires(found.expires)?;
    let security_token = found
        .token
        .map(|t| decode_param(t, query::SECURITY_TOKEN))
        .transpose()?;
    Ok(Authorization {
        location: AuthLocation::Query,
        scope,
        signed_headers,
        signature,
        request_time,
        expires: Some(expires),
        security_token,
    })
}

fn decode_param<'a>(raw: &'a str, name: &str) -> Result<Cow<'a, str>, SigV4Error> {
    query::decode(raw).ok_or_else(|| incomplete(format!("Query parameter '{name}' is not UTF-8.")))
}

fn parse_expires(raw: Option<&str>) -> Result<u32, SigV4Error> {
    let raw = raw.ok_or_else(|| {
        SigV4Error::InvalidExpires(format!(
            "X-Amz-Expires must be present. {QUERY_PARAMS_REQUIRED}"
        ))
    })?;
    let text = query::decode(raw).unwrap_or(Cow::Borrowed(raw));
    let digits = text.strip_prefix('-').unwrap_or(&text);
    // Only plain digits: `u64::from_str` would also take a leading '+'.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SigV4Error::InvalidExpires(format!(
            "X-Amz-Expires should be a number, not '{}'.",
            excerpt(&text)
        )));
    }
    if text.starts_with('-') {
        return Err(SigV4Error::InvalidExpires(
            "X-Amz-Expires must be non-negative".to_owned(),
        ));
    }
    match digits.parse::<u64>() {
        Ok(n) if n <= u64::from(MAX_EXPIRES_SECS) => Ok(n as u32),
        _ => Err(SigV4Error::InvalidExpires(
            "X-Amz-Expires must be less than a week (in seconds) that is 7 days".to_owned(),
        )),
    }
}

/// Parses `<key>/<YYYYMMDD>/<region>/<service>/aws4_request`; in a query the slashes may be
/// encoded as `%2F`.
fn parse_credential(raw: &str, in_query: bool) -> Result<CredentialScope<'_>, SigV4Error> {
    let malformed = |msg: String| SigV4Error::MalformedCredential(msg);
    let (parts, n) = if in_query {
        first_five(query::split_encoded(raw, b'/'))
    } else {
        first_five(split_ascii(raw, b'/'))
    };
    if n != 5 {
        return Err(malformed(format!(
            "Credential should be '<access key>/<YYYYMMDD>/<region>/<service>/aws4_request', \
             not '{}'.",
            excerpt(raw)
        )));
    }
    let [access_key_id, date, region, service, terminator] = parts;
    if in_query && parts.iter().any(|p| p.contains(['%', '+'])) {
        return Err(malformed(
            "Credential components must not be percent-encoded.".to_owned(),
        ));
    }
    if terminator != TERMINATOR {
        return Err(malformed(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
            excerpt(terminator)
        )));
    }
    if access_key_id.is_empty() || !access_key_id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(malformed(
            "Credential should start with a valid access key ID.".to_owned(),
        ));
    }
    if parse_scope_date(date).is_none() {
        return Err(malformed(format!(
            "Invalid credential date '{}': it must be in YYYYMMDD format.",
            excerpt(date)
        )));
    }
    if region.is_empty() || !region.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(malformed(
            "Credential should be scoped to a valid region.".to_owned(),
        ));
    }
    if service.is_empty() || !service.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(malformed(
            "Credential should be scoped to a valid service.".to_owned(),
        ));
    }
    Ok(CredentialScope {
        access_key_id,
        date,
        region,
        service,
    })
}

/// The first five items, and how many there were (six meaning "more than five").
fn first_five<'a>(items: impl Iterator<Item = &'a str>) -> ([&'a str; 5], usize) {
    let mut parts = [""; 5];
    let mut n = 0;
    for item in items {
        if n == parts.len() {
            return (parts, n + 1);
        }
        parts[n] = item;
        n += 1;
    }
    (parts, n)
}

/// A header name as SigV4 lists it: an HTTP token, lower-case.
fn is_signed_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$&'*+-.^_`|~".contains(&b))
}

/// Parses `host;x-amz-date`; in a query the semicolons may be encoded as `%3B`. `host` is
/// required, as at AWS, and the names must be sorted and unique.
fn parse_signed_headers(raw: &str, in_query: bool) -> Result<Vec<&str>, SigV4Error> {
    let names: Vec<&str> = if in_query {
        query::split_encoded(raw, b';').collect()
    } else {
        split_ascii(raw, b';').collect()
    };
    if let Some(bad) = names.iter().find(|n| !is_signed_header_name(n)) {
        return Err(incomplete(format!(
            "SignedHeaders must be lower-case header names separated by ';', found '{}'.",
            excerpt(bad)
        )));
    }
    // The spec requires the list sorted, and every SDK sorts it. Enforcing that (and so no
    // duplicates) also bounds the header matching an unauthenticated request can cause.
    if names.windows(2).any(|w| w[0] >= w[1]) {
        return Err(incomplete(
            "SignedHeaders must list each header name once, in sorted order.",
        ));
    }
    if !names.contains(&"host") {
        return Err(SigV4Error::SignedHeadersMissingHost);
    }
    Ok(names)
}

fn parse_signature(raw: &str) -> Result<[u8; 32], SigV4Error> {
    let bad = || incomplete("Signature must be 64 lower-case hexadecimal characters.");
    // Lower-case only: the signature is compared as the hex text AWS computes.
    let nibble = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    let raw = raw.as_bytes();
    if raw.len() != 64 {
        return Err(bad());
    }
    // One pass, by hand: checking then decoding with `hex` was a thousand instructions.
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(raw.chunks_exact(2)) {
        *byte = (nibble(pair[0]).ok_or_else(bad)? << 4) | nibble(pair[1]).ok_or_else(bad)?;
    }
    Ok(out)
}

/// The credential date, and the time window: header form within `max_skew` either way;
/// presigned form not after `now + max_skew` and not past `X-Amz-Date + X-Amz-Expires`.
pub(crate) fn check_time(
    auth: &Authorization,
    settings: &Settings,
    now: OffsetDateTime,
) -> Result<(), SigV4Error> {
    let request_time = auth.request_time;
    if amz_date(request_time).date() != auth.scope.date.as_bytes() {
        return Err(SigV4Error::CredentialDateMismatch);
    }
    let skew = time::Duration::try_from(settings.max_skew).unwrap_or(time::Duration::MAX);
    let too_skewed = SigV4Error::RequestTimeTooSkewed {
        request_time,
        server_time: now,
    };
    match auth.location {
        AuthLocation::Header => {
            if (now - request_time).abs() > skew {
                return Err(too_skewed);
            }
        }
        AuthLocation::Query => {
            if request_time - now > skew {
                return Err(too_skewed);
            }
            let expires = auth.expires.ok_or_else(|| {
                SigV4Error::InvalidExpires("X-Amz-Expires must be present.".to_owned())
            })?;
            let expired_at = request_time
                .checked_add(time::Duration::seconds(i64::from(expires)))
                .unwrap_or(request_time);
            if now > expired_at {
                return Err(SigV4Error::RequestExpired {
                    expired_at,
                    server_time: now,
                });
            }
        }
    }
    Ok(())
}
