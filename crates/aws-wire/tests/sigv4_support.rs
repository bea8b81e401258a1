//! Helpers shared by the SigV4 unit tests (included with `#[path]`; it has no tests itself):
//! requests built in code and signed with this crate's own canonicaliser (the suite and the
//! aws-sigv4 interop test establish that it agrees with AWS), by filling in a placeholder
//! signature.

#![allow(dead_code)]

use rampart_wire::sigv4::{
    canonical_request, parse_authorization, string_to_sign, verify, RequestView, Settings,
    SigV4Error, SigningKey,
};
use time::macros::datetime;
use time::OffsetDateTime;

pub const AKID: &str = "AKIDEXAMPLE";
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
pub const T0: OffsetDateTime = datetime!(2015-08-30 12:36:00 UTC);
pub const PLACEHOLDER: &str = "0000000000000000000000000000000000000000000000000000000000000000";
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn new(method: &str, path: &str) -> Self {
        Req {
            method: method.into(),
            path: path.into(),
            query: String::new(),
            headers: vec![("Host".into(), b"sts.example.com".to_vec())],
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers.push((name.into(), value.as_ref().to_vec()));
        self
    }

    pub fn query(mut self, query: &str) -> Self {
        self.query = query.into();
        self
    }

    pub fn body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }

    pub fn with<T>(&self, f: impl FnOnce(&RequestView) -> T) -> T {
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

    pub fn set_header(&mut self, name: &str, value: &[u8]) {
        let slot = self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .unwrap();
        slot.1 = value.to_vec();
    }
}

pub fn auth_header(date: &str, signed_headers: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={AKID}/{date}/us-east-1/sts/aws4_request, \
         SignedHeaders={signed_headers}, Signature={PLACEHOLDER}"
    )
}

/// Replaces the placeholder signature with the real one, as a client would compute it.
pub fn sign(mut req: Req, settings: &Settings) -> Req {
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
pub fn parse_result(req: &Req) -> Result<(), SigV4Error> {
    req.with(|v| parse_authorization(v).map(|_| ()))
}

/// Parses and verifies as the server does, with the key for the scope.
pub fn check(req: &Req, settings: &Settings, now: OffsetDateTime) -> Result<(), SigV4Error> {
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

pub fn amz_date(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    t.format(f).unwrap()
}

/// A typical signed STS POST (header form), as botocore sends it.
pub fn sts_post(t: OffsetDateTime) -> Req {
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
pub fn presigned(t: OffsetDateTime, expires: &str, extra: &str, settings: &Settings) -> Req {
    sign(presigned_unsigned(t, expires, extra), settings)
}

pub fn presigned_unsigned(t: OffsetDateTime, expires: &str, extra: &str) -> Req {
    let date = amz_date(t);
    let query = format!(
        "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential={AKID}%2F{}%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date={date}\
         &X-Amz-Expires={expires}&X-Amz-SignedHeaders=host{extra}&X-Amz-Signature={PLACEHOLDER}",
        &date[..8]
    );
    Req::new("GET", "/").query(&query)
}

pub fn secs(n: i64) -> time::Duration {
    time::Duration::seconds(n)
}
