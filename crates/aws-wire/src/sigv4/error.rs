//! Why a request failed authentication, with the messages AWS itself gives, so that SDK users
//! see familiar text. The caller maps each variant to its service's error code and status.

use time::{Duration, OffsetDateTime};

use super::datetime::amz_date;

/// Why SigV4 authentication failed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SigV4Error {
    /// No `Authorization` header and no `X-Amz-Algorithm`/`X-Amz-Signature` query parameter.
    #[error("Request is missing Authentication Token")]
    MissingAuthentication,
    /// A malformed `Authorization` header or presigned query: missing, duplicate, unknown or
    /// malformed components. Also a header listed in `SignedHeaders` that the request lacks.
    #[error("{0}")]
    IncompleteSignature(String),
    /// Anything other than `AWS4-HMAC-SHA256`, e.g. SigV2 or SigV4a, or a streaming payload.
    #[error("{0}")]
    UnsupportedAlgorithm(String),
    /// A `Credential` that is not `<key>/<YYYYMMDD>/<region>/<service>/aws4_request`.
    #[error("{0}")]
    MalformedCredential(String),
    /// Neither `X-Amz-Date` nor `Date` in the header form.
    #[error(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    )]
    MissingDate,
    /// A date that is not in the expected format; carries (an excerpt of) the text received.
    #[error("Date must be in ISO-8601 'basic format' (YYYYMMDD'T'HHMMSS'Z'). Got '{0}'.")]
    MalformedDate(String),
    /// The credential scope's date is not the date of the request time.
    #[error("Invalid credential date. Date is not the same as X-Amz-Date.")]
    CredentialDateMismatch,
    /// The request time is outside the allowed window around the server's clock (header form),
    /// or too far in the future (presigned form).
    #[error("{}", skew_message(.request_time, .server_time))]
    RequestTimeTooSkewed {
        /// When the client says it signed.
        request_time: OffsetDateTime,
        /// The server's clock.
        server_time: OffsetDateTime,
    },
    /// A presigned request used after `X-Amz-Date + X-Amz-Expires`.
    #[error(
        "Request has expired: it was valid until {} and the server time is {}.",
        amz_date(*.expired_at),
        amz_date(*.server_time)
    )]
    RequestExpired {
        /// `X-Amz-Date + X-Amz-Expires`.
        expired_at: OffsetDateTime,
        /// The server's clock.
        server_time: OffsetDateTime,
    },
    /// `X-Amz-Expires` missing, not a number, or above seven days.
    #[error("{0}")]
    InvalidExpires(String),
    /// `host` is not in `SignedHeaders`: AWS requires it, so that a signature cannot be replayed
    /// against another endpoint.
    #[error("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")]
    SignedHeadersMissingHost,
    /// `x-amz-content-sha256` is not the SHA-256 of the body received (or is not a hash at all).
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,
    /// `x-amz-content-sha256: UNSIGNED-PAYLOAD` for a service that signs payloads.
    #[error("x-amz-content-sha256 must be the hex SHA-256 of the payload: UNSIGNED-PAYLOAD is not accepted by this service.")]
    UnsignedPayloadNotAllowed,
    /// The signature does not match the request.
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")]
    SignatureDoesNotMatch,
}

/// AWS's wording for a skewed clock. AWS's window is always 15 minutes, which the message names;
/// a deployment that configures another window still gets both times in the variant.
fn skew_message(request_time: &OffsetDateTime, server_time: &OffsetDateTime) -> String {
    let window = Duration::minutes(15);
    if request_time < server_time {
        let bound = server_time.checked_sub(window).unwrap_or(*server_time);
        format!(
            "Signature expired: {} is now earlier than {} ({} - 15 min.)",
            amz_date(*request_time),
            amz_date(bound),
            amz_date(*server_time)
        )
    } else {
        let bound = server_time.checked_add(window).unwrap_or(*server_time);
        format!(
            "Signature not yet current: {} is still later than {} ({} + 15 min.)",
            amz_date(*request_time),
            amz_date(bound),
            amz_date(*server_time)
        )
    }
}

/// At most 64 bytes of client-supplied text, for echoing in a message without letting a client
/// make our error responses arbitrarily large.
pub(crate) fn excerpt(s: &str) -> String {
    const MAX: usize = 64;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn skew_messages_read_like_aws() {
        let err = SigV4Error::RequestTimeTooSkewed {
            request_time: datetime!(2015-08-30 12:36:00 UTC),
            server_time: datetime!(2015-08-30 13:06:00 UTC),
        };
        assert_eq!(
            err.to_string(),
            "Signature expired: 20150830T123600Z is now earlier than 20150830T125100Z \
             (20150830T130600Z - 15 min.)"
        );
        let err = SigV4Error::RequestTimeTooSkewed {
            request_time: datetime!(2015-08-30 13:06:00 UTC),
            server_time: datetime!(2015-08-30 12:36:00 UTC),
        };
        assert_eq!(
            err.to_string(),
            "Signature not yet current: 20150830T130600Z is still later than 20150830T125100Z \
             (20150830T123600Z + 15 min.)"
        );
    }

    #[test]
    fn excerpt_cuts_on_char_boundary() {
        let long = "é".repeat(40);
        let cut = excerpt(&long);
        assert!(cut.ends_with("...") && cut.len() <= 67);
        assert_eq!(excerpt("short"), "short");
    }
}
