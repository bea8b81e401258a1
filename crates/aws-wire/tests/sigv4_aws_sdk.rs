//! Interoperability: requests signed by the AWS SDK for Rust's own signer (`aws-sigv4`) verify
//! with ours, in the header and presigned forms.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SessionTokenMode, SignableBody,
    SignableRequest, SignatureLocation, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use rampart_wire::sigv4::{
    parse_authorization, verify, AuthLocation, RequestView, Settings, SigV4Error, SigningKey,
};
use time::OffsetDateTime;

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// 2015-08-30T12:36:00Z.
const SIGNED_AT_UNIX: u64 = 1_440_938_160;

fn signed_at() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(SIGNED_AT_UNIX as i64).unwrap()
}

/// A request as the AWS SDK would send it.
struct Outgoing {
    method: &'static str,
    uri: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: &'static [u8],
    unsigned_body: bool,
}

/// Signs with aws-sigv4 and returns the request as our server would see it.
fn sign_with_sdk(
    out: &Outgoing,
    service: &str,
    token: Option<&str>,
    settings: SigningSettings,
) -> http::Request<Vec<u8>> {
    let identity: Identity =
        Credentials::new(AKID, SECRET, token.map(str::to_owned), None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(SystemTime::UNIX_EPOCH + Duration::from_secs(SIGNED_AT_UNIX))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let body = if out.unsigned_body {
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Bytes(out.body)
    };
    let signable =
        SignableRequest::new(out.method, out.uri, out.headers.iter().copied(), body).unwrap();
    let (instructions, _signature) = sign(signable, &params).unwrap().into_parts();
    let mut builder = http::Request::builder().method(out.method).uri(out.uri);
    for (name, value) in &out.headers {
        builder = builder.header(*name, *value);
    }
    let mut req = builder.body(out.body.to_vec()).unwrap();
    instructions.apply_to_request_http1x(&mut req);
    req
}

/// Verifies an SDK-signed request as the server would: `host` from the URI authority (HTTP
/// clients send it as the Host header).
fn verify_incoming(
    req: &http::Request<Vec<u8>>,
    settings: &Settings,
    now: OffsetDateTime,
) -> Result<(AuthLocation, Option<String>), SigV4Error> {
    let mut headers: Vec<(&str, &[u8])> = req
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let authority = req.uri().authority().unwrap().as_str();
    headers.push(("host", authority.as_bytes()));
    let view = RequestView {
        method: req.method().as_str(),
        path: req.uri().path(),
        query: req.uri().query().unwrap_or(""),
        headers: &headers,
        body: req.body(),
    };
    let auth = parse_authorization(&view)?;
    assert_eq!(auth.scope.access_key_id, AKID);
    let key = SigningKey::derive(
        SECRET,
        auth.scope.date,
        auth.scope.region,
        auth.scope.service,
    );
    verify(&view, &auth, &key, settings, now)?;
    Ok((auth.location, auth.security_token.map(|t| t.into_owned())))
}

fn sts_post() -> Outgoing {
    Outgoing {
        method: "POST",
        uri: "https://sts.us-east-1.amazonaws.com/",
        headers: vec![(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )],
        body: b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo&RoleSessionName=s%20one",
        unsigned_body: false,
    }
}

fn presign_settings(expires: u64) -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(expires));
    settings
}

#[test]
fn sdk_signed_sts_post_verifies() {
    let req = sign_with_sdk(&sts_post(), "sts", None, SigningSettings::default());
    assert!(req.headers().contains_key("authorization"));
    assert_eq!(
        verify_incoming(&req, &Settings::AWS, signed_at()),
        Ok((AuthLocation::Header, None))
    );
    // Tampering with the form body breaks it.
    let mut tampered = req;
    tampered
        .body_mut()
        .extend_from_slice(b"&DurationSeconds=43200");
    assert_eq!(
        verify_incoming(&tampered, &Settings::AWS, signed_at()),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
}

#[test]
fn sdk_signed_sts_post_with_content_sha_and_session_token_verifies() {
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let req = sign_with_sdk(&sts_post(), "sts", Some("session/token+=="), settings);
    assert!(req.headers().contains_key("x-amz-content-sha256"));
    assert_eq!(
        verify_incoming(
            &req,
            &Settings::AWS,
            signed_at() + time::Duration::minutes(15)
        ),
        Ok((AuthLocation::Header, Some("session/token+==".into())))
    );
}

#[test]
fn sdk_presigned_get_verifies() {
    let get = Outgoing {
        method: "GET",
        uri: "https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15",
        headers: vec![],
        body: b"",
        unsigned_body: false,
    };
    let req = sign_with_sdk(&get, "sts", None, presign_settings(900));
    assert!(req.uri().query().unwrap().contains("X-Amz-Signature="));
    let at = |secs: i64| signed_at() + time::Duration::seconds(secs);
    assert_eq!(
        verify_incoming(&req, &Settings::AWS, at(900)),
        Ok((AuthLocation::Query, None))
    );
    assert!(matches!(
        verify_incoming(&req, &Settings::AWS, at(901)),
        Err(SigV4Error::RequestExpired { .. })
    ));
}

#[test]
fn sdk_presigned_get_with_session_token_verifies_in_both_token_modes() {
    let get = Outgoing {
        method: "GET",
        uri: "https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15",
        headers: vec![],
        body: b"",
        unsigned_body: false,
    };
    for mode in [SessionTokenMode::Include, SessionTokenMode::Exclude] {
        let mut settings = presign_settings(3600);
        settings.session_token_mode = mode;
        let req = sign_with_sdk(&get, "sts", Some("tok/en+=="), settings);
        assert_eq!(
            verify_incoming(&req, &Settings::AWS, signed_at()),
            Ok((AuthLocation::Query, Some("tok/en+==".into()))),
            "{mode:?}"
        );
    }
}

#[test]
fn sdk_signed_paths_that_need_encoding_verify() {
    // Lambda's function ARN in the path: encoded once on the wire, twice in the signature.
    let invoke = Outgoing {
        method: "POST",
        uri: "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn/invocations",
        headers: vec![("content-type", "application/json")],
        body: b"{\"hello\": \"world\"}",
        unsigned_body: false,
    };
    let req = sign_with_sdk(&invoke, "lambda", None, SigningSettings::default());
    assert_eq!(
        verify_incoming(&req, &Settings::AWS, signed_at()),
        Ok((AuthLocation::Header, None))
    );

    // S3: the key is signed as sent, and the payload may be unsigned.
    let put = Outgoing {
        method: "PUT",
        uri: "https://bucket.s3.amazonaws.com/photos/2015/a%20b~c%2Bd.jpg",
        headers: vec![("content-type", "image/jpeg")],
        body: b"\xff\xd8\xff",
        unsigned_body: true,
    };
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let req = sign_with_sdk(&put, "s3", None, settings);
    assert_eq!(
        req.headers()["x-amz-content-sha256"].as_bytes(),
        b"UNSIGNED-PAYLOAD"
    );
    assert_eq!(
        verify_incoming(&req, &Settings::S3, signed_at()),
        Ok((AuthLocation::Header, None))
    );
    assert_eq!(
        verify_incoming(&req, &Settings::AWS, signed_at()),
        Err(SigV4Error::UnsignedPayloadNotAllowed)
    );
}
