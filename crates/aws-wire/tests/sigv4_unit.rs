//! Edge cases of SigV4 verification: time windows, presigned expiry, payload hashes, signed
//! headers, keys and session tokens.

#[path = "sigv4_support.rs"]
mod support;

use std::time::Duration;

use rampart_wire::sigv4::{
    canonical_request, parse_authorization, verify, Settings, SigV4Error, SigningKey,
};
use support::*;

#[test]
fn header_form_skew_window_is_inclusive_at_15_minutes() {
    let req = sts_post(T0);
    let aws = Settings::AWS;
    assert_eq!(check(&req, &aws, T0), Ok(()));
    assert_eq!(check(&req, &aws, T0 + secs(900)), Ok(()));
    assert_eq!(check(&req, &aws, T0 - secs(900)), Ok(()));
    assert_eq!(
        check(&req, &aws, T0 + secs(901)),
        Err(SigV4Error::RequestTimeTooSkewed {
            request_time: T0,
            server_time: T0 + secs(901)
        })
    );
    assert_eq!(
        check(&req, &aws, T0 - secs(901)),
        Err(SigV4Error::RequestTimeTooSkewed {
            request_time: T0,
            server_time: T0 - secs(901)
        })
    );
    let message = check(&req, &aws, T0 + secs(1800)).unwrap_err().to_string();
    assert_eq!(
        message,
        "Signature expired: 20150830T123600Z is now earlier than 20150830T125100Z \
         (20150830T130600Z - 15 min.)"
    );
    // A narrower window is honoured.
    let strict = Settings {
        max_skew: Duration::from_secs(60),
        ..Settings::AWS
    };
    assert_eq!(check(&req, &strict, T0 + secs(60)), Ok(()));
    assert!(matches!(
        check(&req, &strict, T0 + secs(61)),
        Err(SigV4Error::RequestTimeTooSkewed { .. })
    ));
}

#[test]
fn presigned_expiry_edges() {
    let req = presigned(T0, "3600", "", &Settings::AWS);
    let aws = Settings::AWS;
    assert_eq!(check(&req, &aws, T0), Ok(()));
    assert_eq!(check(&req, &aws, T0 + secs(3600)), Ok(()));
    assert_eq!(
        check(&req, &aws, T0 + secs(3601)),
        Err(SigV4Error::RequestExpired {
            expired_at: T0 + secs(3600),
            server_time: T0 + secs(3601)
        })
    );
    // Signed up to 15 minutes in the future is fine (clock skew), not a second more.
    assert_eq!(check(&req, &aws, T0 - secs(900)), Ok(()));
    assert_eq!(
        check(&req, &aws, T0 - secs(901)),
        Err(SigV4Error::RequestTimeTooSkewed {
            request_time: T0,
            server_time: T0 - secs(901)
        })
    );
    // A presigned URL is not bound by the skew window in the past, only by its expiry.
    let week = presigned(T0, "604800", "", &aws);
    assert_eq!(check(&week, &aws, T0 + secs(604_800)), Ok(()));
    assert!(matches!(
        check(&week, &aws, T0 + secs(604_801)),
        Err(SigV4Error::RequestExpired { .. })
    ));
    let zero = presigned(T0, "0", "", &aws);
    assert_eq!(check(&zero, &aws, T0), Ok(()));
    assert!(matches!(
        check(&zero, &aws, T0 + secs(1)),
        Err(SigV4Error::RequestExpired { .. })
    ));
}

#[test]
fn x_amz_expires_bounds() {
    for bad in [
        "604801",
        "-1",
        "",
        "abc",
        "+5",
        "%2B5",
        "1e3",
        "3600.0",
        "99999999999999999999999",
        "%20%2060",
    ] {
        let req = presigned_unsigned(T0, bad, "");
        let err = parse_result(&req).unwrap_err();
        assert!(
            matches!(err, SigV4Error::InvalidExpires(_)),
            "{bad:?}: {err:?}"
        );
    }
    let req = presigned_unsigned(T0, "-1", "");
    assert_eq!(
        parse_result(&req).unwrap_err().to_string(),
        "X-Amz-Expires must be non-negative"
    );
    // Missing entirely.
    let req = presigned(T0, "3600", "", &Settings::AWS);
    let mut stripped = req.clone();
    stripped.query = req.query.replace("&X-Amz-Expires=3600", "");
    assert!(matches!(
        parse_result(&stripped),
        Err(SigV4Error::InvalidExpires(_))
    ));
    let ok = presigned(T0, "604800", "", &Settings::AWS);
    assert_eq!(
        ok.with(|v| parse_authorization(v).unwrap().expires),
        Some(604_800)
    );
}

#[test]
fn unsigned_payload_only_where_allowed() {
    let date = amz_date(T0);
    let unsigned = |settings: &Settings| {
        sign(
            Req::new("PUT", "/bucket/key")
                .header("X-Amz-Date", &date)
                .header("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
                .header(
                    "Authorization",
                    auth_header(&date[..8], "host;x-amz-content-sha256;x-amz-date"),
                )
                .body(b"object bytes"),
            settings,
        )
    };
    assert_eq!(check(&unsigned(&Settings::S3), &Settings::S3, T0), Ok(()));
    assert_eq!(
        check(&unsigned(&Settings::S3), &Settings::AWS, T0),
        Err(SigV4Error::UnsignedPayloadNotAllowed)
    );

    // An S3 presigned URL without x-amz-content-sha256 is signed over UNSIGNED-PAYLOAD …
    let s3 = presigned(T0, "3600", "", &Settings::S3);
    let creq =
        s3.with(|v| canonical_request(v, &parse_authorization(v).unwrap(), &Settings::S3).unwrap());
    assert!(creq.ends_with("\nUNSIGNED-PAYLOAD"), "{creq}");
    assert_eq!(check(&s3, &Settings::S3, T0), Ok(()));
    // … while other services hash the (empty) body.
    assert_eq!(
        check(&s3, &Settings::AWS, T0),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
    let aws = presigned(T0, "3600", "", &Settings::AWS);
    let creq = aws
        .with(|v| canonical_request(v, &parse_authorization(v).unwrap(), &Settings::AWS).unwrap());
    assert!(creq.ends_with(EMPTY_SHA256), "{creq}");
}

fn with_content_sha(value: &str, body: &[u8]) -> Req {
    let date = amz_date(T0);
    sign(
        Req::new("POST", "/")
            .header("X-Amz-Date", &date)
            .header("x-amz-content-sha256", value)
            .header(
                "Authorization",
                auth_header(&date[..8], "host;x-amz-content-sha256;x-amz-date"),
            )
            .body(body),
        &Settings::AWS,
    )
}

#[test]
fn content_sha256_must_match_the_body() {
    let body = b"Param1=value1";
    let good = "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e";
    assert_eq!(
        check(&with_content_sha(good, body), &Settings::AWS, T0),
        Ok(())
    );
    // Upper-case hex is the same hash; what was signed is the text as sent.
    let upper = good.to_ascii_uppercase();
    assert_eq!(
        check(&with_content_sha(&upper, body), &Settings::AWS, T0),
        Ok(())
    );

    let mut tampered = with_content_sha(good, body);
    tampered.body = b"Param1=value2".to_vec();
    assert_eq!(
        check(&tampered, &Settings::AWS, T0),
        Err(SigV4Error::ContentSha256Mismatch)
    );
    for bad in [EMPTY_SHA256, "not-a-hash", "", &good[..63]] {
        assert_eq!(
            check(&with_content_sha(bad, body), &Settings::AWS, T0),
            Err(SigV4Error::ContentSha256Mismatch),
            "{bad:?}"
        );
    }
    assert!(matches!(
        check(
            &with_content_sha("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", body),
            &Settings::S3,
            T0
        ),
        Err(SigV4Error::UnsupportedAlgorithm(_))
    ));
    // Without the header the body is still covered, through the canonical request.
    let mut post = sts_post(T0);
    post.body.push(b'x');
    assert_eq!(
        check(&post, &Settings::AWS, T0),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
}

#[test]
fn signed_headers_must_be_present_and_include_host() {
    let date = amz_date(T0);
    let req = Req::new("GET", "/").header("X-Amz-Date", &date).header(
        "Authorization",
        auth_header(&date[..8], "host;x-amz-date;x-custom"),
    );
    let err = check(&req, &Settings::AWS, T0).unwrap_err();
    assert!(
        matches!(&err, SigV4Error::IncompleteSignature(m) if m.contains("'x-custom'")),
        "{err:?}"
    );
    let req = Req::new("GET", "/")
        .header("X-Amz-Date", &date)
        .header("Authorization", auth_header(&date[..8], "x-amz-date"));
    assert_eq!(
        check(&req, &Settings::AWS, T0),
        Err(SigV4Error::SignedHeadersMissingHost)
    );
    // An unsigned header can change freely; a signed one cannot.
    let mut req = sts_post(T0).header("User-Agent", "a");
    assert_eq!(check(&req, &Settings::AWS, T0), Ok(()));
    req.set_header("user-agent", b"b");
    assert_eq!(check(&req, &Settings::AWS, T0), Ok(()));
    req.set_header("content-type", b"text/plain");
    assert_eq!(
        check(&req, &Settings::AWS, T0),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
}

#[test]
fn wrong_keys_do_not_verify() {
    let req = sts_post(T0);
    req.with(|v| {
        let auth = parse_authorization(v).unwrap();
        for key in [
            SigningKey::derive("another secret", "20150830", "us-east-1", "sts"),
            SigningKey::derive(SECRET, "20150830", "us-west-2", "sts"),
            SigningKey::derive(SECRET, "20150830", "us-east-1", "iam"),
            SigningKey::derive(SECRET, "20150831", "us-east-1", "sts"),
        ] {
            assert_eq!(
                verify(v, &auth, &key, &Settings::AWS, T0),
                Err(SigV4Error::SignatureDoesNotMatch)
            );
        }
        assert_eq!(
            SigV4Error::SignatureDoesNotMatch.to_string(),
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service \
             documentation for details."
        );
    });
    let key = SigningKey::derive(SECRET, "20150830", "us-east-1", "sts");
    assert_eq!(format!("{key:?}"), "SigningKey(<redacted>)");
}

#[test]
fn session_token_in_the_header() {
    let token = "FwoGZXIvYXdzEBYaDH+token/with+slash==";
    let date = amz_date(T0);
    let req = sign(
        Req::new("GET", "/")
            .header("X-Amz-Date", &date)
            .header("X-Amz-Security-Token", token)
            .header(
                "Authorization",
                auth_header(&date[..8], "host;x-amz-date;x-amz-security-token"),
            ),
        &Settings::AWS,
    );
    assert_eq!(check(&req, &Settings::AWS, T0), Ok(()));
    req.with(|v| {
        let auth = parse_authorization(v).unwrap();
        assert_eq!(auth.security_token.as_deref(), Some(token));
        assert!(matches!(
            auth.security_token,
            Some(std::borrow::Cow::Borrowed(_))
        ));
    });
    let mut swapped = req.clone();
    swapped.set_header("x-amz-security-token", b"another-token");
    assert_eq!(
        check(&swapped, &Settings::AWS, T0),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
}

#[test]
fn session_token_in_the_query() {
    let token = "FwoGZXIvYXdzEBYaDH+token/with+slash==";
    let encoded = "FwoGZXIvYXdzEBYaDH%2Btoken%2Fwith%2Bslash%3D%3D";
    let extra = format!("&X-Amz-Security-Token={encoded}");
    let req = presigned(T0, "3600", &extra, &Settings::AWS);
    assert_eq!(check(&req, &Settings::AWS, T0), Ok(()));
    req.with(|v| {
        let auth = parse_authorization(v).unwrap();
        assert_eq!(auth.security_token.as_deref(), Some(token));
    });
    // A signed token cannot be swapped …
    let swapped = Req::new("GET", "/").query(&req.query.replace(encoded, "other"));
    assert_eq!(
        check(&swapped, &Settings::AWS, T0),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
    // … but one appended after signing is accepted, and reported for the caller to validate.
    let plain = presigned(T0, "3600", "", &Settings::AWS);
    let appended = Req::new("GET", "/").query(&format!("{}{extra}", plain.query));
    assert_eq!(check(&appended, &Settings::AWS, T0), Ok(()));
    assert_eq!(
        appended.with(|v| parse_authorization(v)
            .unwrap()
            .security_token
            .map(|t| t.into_owned())),
        Some(token.to_owned())
    );
}

#[test]
fn presigned_requests_are_tamper_evident() {
    let req = presigned(T0, "3600", "", &Settings::AWS);
    for (from, to) in [
        ("Action=GetCallerIdentity", "Action=GetSessionToken"),
        ("X-Amz-Expires=3600", "X-Amz-Expires=3601"),
        ("Version=2011-06-15", "Version=2011-06-15&Extra=1"),
    ] {
        let tampered = Req::new("GET", "/").query(&req.query.replace(from, to));
        assert_eq!(
            check(&tampered, &Settings::AWS, T0),
            Err(SigV4Error::SignatureDoesNotMatch),
            "{to}"
        );
    }
    let mut other_path = req.clone();
    other_path.path = "/other".into();
    assert_eq!(
        check(&other_path, &Settings::AWS, T0),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
    // Reordering parameters or re-spelling an escape changes nothing: both are canonicalised.
    let reordered = Req::new("GET", "/").query(&format!(
        "Version=2011-06-15&{}",
        req.query.replace("Version=2011-06-15&", "")
    ));
    assert_eq!(check(&reordered, &Settings::AWS, T0), Ok(()));
    let lower = Req::new("GET", "/").query(&req.query.replace("%2F", "%2f"));
    assert_eq!(check(&lower, &Settings::AWS, T0), Ok(()));
}
