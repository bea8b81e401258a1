//! Edge cases of SigV4 verification: time windows, presigned expiry, payload hashes, signed
//! headers, malformed signatures and session tokens.
//!
//! Requests are signed here with this crate's own canonicaliser (the suite and the aws-sigv4
//! interop test establish that it agrees with AWS), by filling in a placeholder signature.

use std::time::Duration;

use rampart_wire::sigv4::{
    canonical_request, parse_authorization, string_to_sign, verify, AuthLocation, RequestView,
    Settings, SigV4Error, SigningKey,
};
use time::macros::datetime;
use time::OffsetDateTime;

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const T0: OffsetDateTime = datetime!(2015-08-30 12:36:00 UTC);
const PLACEHOLDER: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Req {
    fn new(method: &str, path: &str) -> Self {
        Req {
            method: method.into(),
            path: path.into(),
            query: String::new(),
            headers: vec![("Host".into(), b"sts.example.com".to_vec())],
            body: Vec::new(),
        }
    }

    fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers.push((name.into(), value.as_ref().to_vec()));
        self
    }

    fn query(mut self, query: &str) -> Self {
        self.query = query.into();
        self
    }

    fn body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }

    fn with<T>(&self, f: impl FnOnce(&RequestView) -> T) -> T {
        let headers: Vec<(&str, &[u8])> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        f(&RequestView {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
            body: &self.body,
        })
    }

    fn set_header(&mut self, name: &str, value: &[u8]) {
        let slot = self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .unwrap();
        slot.1 = value.to_vec();
    }
}

fn auth_header(date: &str, signed_headers: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={AKID}/{date}/us-east-1/sts/aws4_request, \
         SignedHeaders={signed_headers}, Signature={PLACEHOLDER}"
    )
}

/// Replaces the placeholder signature with the real one, as a client would compute it.
fn sign(mut req: Req, settings: &Settings) -> Req {
    let signature = req.with(|v| {
        let auth = parse_authorization(v).ok()?;
        let creq = canonical_request(v, &auth, settings).ok()?;
        let key = SigningKey::derive(
            SECRET,
            auth.scope.date,
            auth.scope.region,
            auth.scope.service,
        );
        Some(hex::encode(
            key.sign(string_to_sign(&auth, &creq).as_bytes()),
        ))
    });
    // Requests that cannot be signed keep the placeholder: they fail before the signature check.
    let Some(signature) = signature else {
        return req;
    };
    req.query = req.query.replace(PLACEHOLDER, &signature);
    for (_, value) in &mut req.headers {
        if let Some(text) = std::str::from_utf8(value)
            .ok()
            .filter(|t| t.contains(PLACEHOLDER))
        {
            *value = text.replace(PLACEHOLDER, &signature).into_bytes();
        }
    }
    req
}

/// Whether the request's signature parses.
fn parse_result(req: &Req) -> Result<(), SigV4Error> {
    req.with(|v| parse_authorization(v).map(|_| ()))
}

/// Parses and verifies as the server does, with the key for the scope.
fn check(req: &Req, settings: &Settings, now: OffsetDateTime) -> Result<(), SigV4Error> {
    req.with(|v| {
        let auth = parse_authorization(v)?;
        let key = SigningKey::derive(
            SECRET,
            auth.scope.date,
            auth.scope.region,
            auth.scope.service,
        );
        verify(v, &auth, &key, settings, now)
    })
}

fn amz_date(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    t.format(f).unwrap()
}

/// A typical signed STS POST (header form), as botocore sends it.
fn sts_post(t: OffsetDateTime) -> Req {
    let body = b"Action=GetCallerIdentity&Version=2011-06-15";
    let date = amz_date(t);
    let req = Req::new("POST", "/")
        .header(
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .header("Content-Length", body.len().to_string())
        .header("X-Amz-Date", &date)
        .header(
            "Authorization",
            auth_header(&date[..8], "content-type;host;x-amz-date"),
        )
        .body(body);
    sign(req, &Settings::AWS)
}

/// A presigned GET with the given (raw) X-Amz-Expires and extra query parameters.
fn presigned(t: OffsetDateTime, expires: &str, extra: &str, settings: &Settings) -> Req {
    sign(presigned_unsigned(t, expires, extra), settings)
}

fn presigned_unsigned(t: OffsetDateTime, expires: &str, extra: &str) -> Req {
    let date = amz_date(t);
    let query = format!(
        "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential={AKID}%2F{}%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date={date}\
         &X-Amz-Expires={expires}&X-Amz-SignedHeaders=host{extra}&X-Amz-Signature={PLACEHOLDER}",
        &date[..8]
    );
    Req::new("GET", "/").query(&query)
}

fn secs(n: i64) -> time::Duration {
    time::Duration::seconds(n)
}

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

#[derive(Debug)]
enum Want {
    Incomplete,
    Unsupported,
    Credential,
    Host,
}

#[test]
fn malformed_authorization_headers() {
    let good_cred = format!("{AKID}/20150830/us-east-1/sts/aws4_request");
    let sig = PLACEHOLDER;
    let cases: Vec<(Vec<u8>, Want)> = vec![
        (b"".to_vec(), Want::Incomplete),
        (b"    ".to_vec(), Want::Incomplete),
        (b"AWS4-HMAC-SHA256".to_vec(), Want::Incomplete),
        (b"AWS4-HMAC-SHA256 ".to_vec(), Want::Incomplete),
        (format!("AWS4-HMAC-SHA512 Credential={good_cred}, SignedHeaders=host, Signature={sig}").into(), Want::Unsupported),
        (b"AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=".to_vec(), Want::Unsupported),
        (b"Bearer eyJhbGciOiJIUzI1NiJ9".to_vec(), Want::Unsupported),
        (b"aws4-hmac-sha256 Credential=x".to_vec(), Want::Unsupported),
        (format!("AWS4-HMAC-SHA256 Credential={good_cred}, SignedHeaders=host").into(), Want::Incomplete),
        (format!("AWS4-HMAC-SHA256 SignedHeaders=host, Signature={sig}").into(), Want::Incomplete),
        (format!("AWS4-HMAC-SHA256 Credential={good_cred}, SignedHeaders=host, Signature={sig}, Signature={sig}").into(), Want::Incomplete),
        (format!("AWS4-HMAC-SHA256 Credential={good_cred}, SignedHeaders=host, Signature={sig}, Foo=bar").into(), Want::Incomplete),
        (format!("AWS4-HMAC-SHA256 Credential={good_cred}, SignedHeaders=host, Signature={sig},").into(), Want::Incomplete),
        (format!("AWS4-HMAC-SHA256 Credential={good_cred} SignedHeaders=host Signature={sig}").into(), Want::Incomplete),
        (format!("AWS4-HMAC-SHA256 Credential={good_cred}, SignedHeaders, Signature={sig}").into(), Want::Incomplete),
        (format!("AWS4-HMAC-SHA256 credential={good_cred}, signedheaders=host, signature={sig}").into(), Want::Incomplete),
        (format!("AWS4-HMAC-SHA256 Credential={AKID}/20150830/us-east-1/aws4_request, SignedHeaders=host, Signature={sig}").into(), Want::Credential),
        (format!("AWS4-HMAC-SHA256 Credential={AKID}/20150830/us-east-1/sts/aws4_request/x, SignedHeaders=host, Signature={sig}").into(), Want::Credential),
        (format!("AWS4-HMAC-SHA256 Credential={AKID}/20150830/us-east-1/sts/aws5_request, SignedHeaders=host, Signature={sig}").into(), Want::Credential),
        (format!("AWS4-HMAC-SHA256 Credential={AKID}/2015083/us-east-1/sts/aws4_request, SignedHeaders=host, Signature={sig}").into(), Want::Credential),
        (format!("AWS4-HMAC-SHA256 Credential={AKID}/20151330/us-east-1/sts/aws4_request, SignedHeaders=host, Signature={sig}").into(), Want::Credential),
        (format!("AWS4-HMAC-SHA256 Credential={AKID}/20150830//sts/aws4_request, SignedHeaders=host, Signature={sig}").into(), Want::Credential),
        (format!("AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/sts/aws4_request, SignedHeaders=host, Signature={sig}").into(), Want::Credential),
        (format!("AWS4-HMAC-SHA256 Credential=, SignedHeaders=host, Signature={sig}").into(), Want::Credential),
        (format!("AWS4-HMAC-SHA256 Credential={good_cred}, SignedHeaders=Host;x-amz-date, Signature={sig}").into(), Want::Incomplete),
        (format!("AWS4-HMAC-SHA256 Credential={good_cred}, SignedHeaders=host;;x-amz-date, Signature={sig}").into(), Want::Incomplete),
        (format!("AWS4-HMAC-SHA256 Credential={good_cred}, SignedHeaders=, Signature={sig}").into(), Want::Incomplete),
        (format!("AWS4-HMAC-SHA256 Credential={good_cred}, SignedHeaders=x-amz-date, Signature={sig}").into(), Want::Host),
        (format!("AWS4-HMAC-SHA256 Credential={good_cred}, SignedHeaders=host, Signature=abc").into(), Want::Incomplete),
        (format!("AWS4-HMAC-SHA256 Credential={good_cred}, SignedHeaders=host, Signature={}", "A".repeat(64)).into(), Want::Incomplete),
        (format!("AWS4-HMAC-SHA256 Credential={good_cred}, SignedHeaders=host, Signature={}", "g".repeat(64)).into(), Want::Incomplete),
        (format!("AWS4-HMAC-SHA256 Credential={good_cred}, SignedHeaders=host, Signature={sig}0").into(), Want::Incomplete),
        (b"AWS4-HMAC-SHA256 Credential=\xff\xfe, SignedHeaders=host, Signature=00".to_vec(), Want::Incomplete),
        (format!("AWS4-HMAC-SHA256 {}", "Credential=a,".repeat(10_000)).into(), Want::Incomplete),
    ];
    assert!(cases.len() >= 15);
    for (value, want) in cases {
        let req = Req::new("GET", "/")
            .header("X-Amz-Date", "20150830T123600Z")
            .header("Authorization", &value);
        let got = parse_result(&req).unwrap_err();
        let ok = match want {
            Want::Incomplete => matches!(got, SigV4Error::IncompleteSignature(_)),
            Want::Unsupported => matches!(got, SigV4Error::UnsupportedAlgorithm(_)),
            Want::Credential => matches!(got, SigV4Error::MalformedCredential(_)),
            Want::Host => got == SigV4Error::SignedHeadersMissingHost,
        };
        let shown = String::from_utf8_lossy(&value);
        assert!(
            ok,
            "{:?}: want {want:?}, got {got:?}",
            &shown[..shown.len().min(120)]
        );
        assert!(got.to_string().len() < 400, "message too long: {got}");
    }
}

#[test]
fn authorization_header_messages_name_the_missing_parts() {
    let req = Req::new("GET", "/").header("Authorization", "AWS4-HMAC-SHA256 SignedHeaders=host");
    assert_eq!(
        parse_result(&req).unwrap_err().to_string(),
        "Authorization header requires 'Credential' parameter. Authorization header requires \
         'Signature' parameter."
    );
}

#[test]
fn where_the_signature_is_and_is_not() {
    let missing = Req::new("GET", "/").query("Action=ListUsers");
    assert_eq!(
        parse_result(&missing),
        Err(SigV4Error::MissingAuthentication)
    );
    let v2 = Req::new("GET", "/").query("AWSAccessKeyId=AKID&Expires=1&Signature=abc%3D");
    assert!(matches!(
        parse_result(&v2),
        Err(SigV4Error::UnsupportedAlgorithm(_))
    ));
    let twice = sts_post(T0).header("authorization", "AWS4-HMAC-SHA256 x");
    assert!(matches!(
        parse_result(&twice),
        Err(SigV4Error::IncompleteSignature(_))
    ));
    let both = sts_post(T0).query(&format!("X-Amz-Signature={PLACEHOLDER}"));
    assert!(matches!(
        parse_result(&both),
        Err(SigV4Error::IncompleteSignature(_))
    ));
    let ok = presigned(T0, "3600", "", &Settings::AWS);
    let sha512 = Req::new("GET", "/").query(&ok.query.replace("SHA256", "SHA512"));
    assert!(matches!(
        parse_result(&sha512),
        Err(SigV4Error::UnsupportedAlgorithm(_))
    ));
    let no_credential =
        Req::new("GET", "/").query(&ok.query.replace("X-Amz-Credential", "X-Amz-Cred"));
    assert!(matches!(
        parse_result(&no_credential),
        Err(SigV4Error::IncompleteSignature(_))
    ));
    let repeated = Req::new("GET", "/").query(&format!("{}&X-Amz-Date=20150830T123600Z", ok.query));
    assert!(matches!(
        parse_result(&repeated),
        Err(SigV4Error::IncompleteSignature(_))
    ));
    let bad_date = Req::new("GET", "/").query(&ok.query.replace("T123600Z", "T12:36:00Z"));
    assert!(matches!(
        parse_result(&bad_date),
        Err(SigV4Error::MalformedDate(_))
    ));
    let auth = ok.with(|v| {
        let a = parse_authorization(v).unwrap();
        (
            a.location,
            a.scope.access_key_id.to_owned(),
            a.scope.service.to_owned(),
            a.signed_headers
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        )
    });
    assert_eq!(
        auth,
        (
            AuthLocation::Query,
            AKID.into(),
            "sts".into(),
            vec!["host".to_string()]
        )
    );
}

#[test]
fn dates_from_x_amz_date_or_date() {
    let auth = auth_header("20150830", "date;host");
    let no_date = Req::new("GET", "/").header("Authorization", &auth);
    assert_eq!(
        check(&no_date, &Settings::AWS, T0),
        Err(SigV4Error::MissingDate)
    );

    let http_date = sign(
        Req::new("GET", "/")
            .header("Date", "Sun, 30 Aug 2015 12:36:00 GMT")
            .header("Authorization", &auth),
        &Settings::AWS,
    );
    assert_eq!(check(&http_date, &Settings::AWS, T0), Ok(()));
    assert_eq!(
        http_date.with(|v| parse_authorization(v).unwrap().request_time),
        T0
    );

    let iso_extended = Req::new("GET", "/")
        .header("X-Amz-Date", "2015-08-30T12:36:00Z")
        .header("Authorization", &auth);
    assert!(matches!(
        check(&iso_extended, &Settings::AWS, T0),
        Err(SigV4Error::MalformedDate(_))
    ));

    let other_day = sign(
        Req::new("GET", "/")
            .header("X-Amz-Date", "20150830T123600Z")
            .header("Authorization", auth_header("20150831", "host;x-amz-date")),
        &Settings::AWS,
    );
    assert_eq!(
        check(&other_day, &Settings::AWS, T0),
        Err(SigV4Error::CredentialDateMismatch)
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
