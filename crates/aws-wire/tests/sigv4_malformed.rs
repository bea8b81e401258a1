//! Malformed and misplaced signatures: every one is refused with the right error, never a
//! panic.

#[path = "sigv4_support.rs"]
mod support;

use rampart_wire::sigv4::{parse_authorization, AuthLocation, Settings, SigV4Error};
use support::*;

#[derive(Debug, Clone, Copy)]
enum Want {
    Incomplete,
    Unsupported,
    Credential,
    Host,
}

#[test]
fn malformed_authorization_headers() {
    // `$C` stands for a valid credential, `$S` for a well-formed signature.
    use Want::*;
    let templates: [(&str, Want); 33] = [
        ("", Incomplete),
        ("    ", Incomplete),
        ("AWS4-HMAC-SHA256", Incomplete),
        ("AWS4-HMAC-SHA256 ", Incomplete),
        ("AWS4-HMAC-SHA512 Credential=$C, SignedHeaders=host, Signature=$S", Unsupported),
        ("AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", Unsupported),
        ("Bearer eyJhbGciOiJIUzI1NiJ9", Unsupported),
        ("aws4-hmac-sha256 Credential=$C, SignedHeaders=host, Signature=$S", Unsupported),
        ("AWS4-HMAC-SHA256 Credential=$C, SignedHeaders=host", Incomplete),
        ("AWS4-HMAC-SHA256 SignedHeaders=host, Signature=$S", Incomplete),
        ("AWS4-HMAC-SHA256 Credential=$C, SignedHeaders=host, Signature=$S, Signature=$S", Incomplete),
        ("AWS4-HMAC-SHA256 Credential=$C, SignedHeaders=host, Signature=$S, Foo=bar", Incomplete),
        ("AWS4-HMAC-SHA256 Credential=$C, SignedHeaders=host, Signature=$S,", Incomplete),
        ("AWS4-HMAC-SHA256 Credential=$C SignedHeaders=host Signature=$S", Incomplete),
        ("AWS4-HMAC-SHA256 Credential=$C, SignedHeaders, Signature=$S", Incomplete),
        ("AWS4-HMAC-SHA256 credential=$C, signedheaders=host, signature=$S", Incomplete),
        ("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/aws4_request, SignedHeaders=host, Signature=$S", Credential),
        ("AWS4-HMAC-SHA256 Credential=$C/x, SignedHeaders=host, Signature=$S", Credential),
        ("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sts/aws5_request, SignedHeaders=host, Signature=$S", Credential),
        ("AWS4-HMAC-SHA256 Credential=AKID/2015083/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=$S", Credential),
        ("AWS4-HMAC-SHA256 Credential=AKID/20151330/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=$S", Credential),
        ("AWS4-HMAC-SHA256 Credential=AKID/20150830//sts/aws4_request, SignedHeaders=host, Signature=$S", Credential),
        ("AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=$S", Credential),
        ("AWS4-HMAC-SHA256 Credential=, SignedHeaders=host, Signature=$S", Credential),
        ("AWS4-HMAC-SHA256 Credential=$C, SignedHeaders=Host;x-amz-date, Signature=$S", Incomplete),
        ("AWS4-HMAC-SHA256 Credential=$C, SignedHeaders=host;;x-amz-date, Signature=$S", Incomplete),
        ("AWS4-HMAC-SHA256 Credential=$C, SignedHeaders=, Signature=$S", Incomplete),
        ("AWS4-HMAC-SHA256 Credential=$C, SignedHeaders=x-amz-date;host, Signature=$S", Incomplete),
        ("AWS4-HMAC-SHA256 Credential=$C, SignedHeaders=host;host, Signature=$S", Incomplete),
        ("AWS4-HMAC-SHA256 Credential=$C, SignedHeaders=x-amz-date, Signature=$S", Host),
        ("AWS4-HMAC-SHA256 Credential=$C, SignedHeaders=host, Signature=abc", Incomplete),
        ("AWS4-HMAC-SHA256 Credential=$C, SignedHeaders=host, Signature=$S0", Incomplete),
        ("AWS4-HMAC-SHA256 Credential=$C, SignedHeaders=host, Signature=$U", Incomplete),
    ];
    let mut cases: Vec<(Vec<u8>, Want)> = templates
        .into_iter()
        .map(|(t, want)| {
            let value = t
                .replace("$C", &format!("{AKID}/20150830/us-east-1/sts/aws4_request"))
                .replace("$S", PLACEHOLDER)
                .replace("$U", &"A".repeat(64));
            (value.into_bytes(), want)
        })
        .collect();
    cases.push((
        b"AWS4-HMAC-SHA256 Credential=\xff\xfe, SignedHeaders=host".to_vec(),
        Incomplete,
    ));
    cases.push((b"AWS4-HMAC-SHA256 Signature=\x00\x01".to_vec(), Incomplete));
    let huge = format!("AWS4-HMAC-SHA256 {}", "Credential=a,".repeat(10_000));
    cases.push((huge.into_bytes(), Incomplete));
    let nonhex = format!(
        "AWS4-HMAC-SHA256 Credential=a/20150830/r/s/aws4_request, SignedHeaders=host, Signature={}",
        "g".repeat(64)
    );
    cases.push((nonhex.into_bytes(), Incomplete));
    assert!(cases.len() >= 15);
    for (value, want) in cases {
        let req = Req::new("GET", "/")
            .header("X-Amz-Date", "20150830T123600Z")
            .header("Authorization", &value);
        let got = parse_result(&req).unwrap_err();
        let ok = match want {
            Incomplete => matches!(got, SigV4Error::IncompleteSignature(_)),
            Unsupported => matches!(got, SigV4Error::UnsupportedAlgorithm(_)),
            Credential => matches!(got, SigV4Error::MalformedCredential(_)),
            Host => got == SigV4Error::SignedHeadersMissingHost,
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
