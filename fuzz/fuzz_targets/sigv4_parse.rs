//! Arbitrary bytes through request parsing (protocol detection, form/JSON/target/path decoding,
//! error rendering) and the whole SigV4 path: parse, canonicalise, build the string to sign,
//! derive a key and verify. Nothing may panic, whatever the request looks like.
//!
//! Input layout: byte 0 chooses the settings (bit 0 normalize, bit 1 double-encode, bit 2 allow
//! unsigned payloads); bytes 1-2 are a big-endian i16 of minutes added to the request time to
//! make `now`; the rest is an HTTP/1.1-like request: `METHOD TARGET` line, `Name:value` header
//! lines (a line without a colon is a header with an empty value), an empty line, the body. A trailing
//! ` HTTP/x.y` on the request line is dropped.
//! The seed corpus (see `seed.sh`) is the AWS suite's signed requests in this layout.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rampart_wire::protocol::query::QueryParams;
use rampart_wire::protocol::rest_json::RestRoute;
use rampart_wire::protocol::{self, json, Protocol, ProtocolKind};
use rampart_wire::sigv4::{
    canonical_request, canonical_request_with_token_mode, parse_authorization, string_to_sign,
    verify, RequestView, SessionTokenMode, Settings, SigningKey,
};

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let flags = data[0];
    let minutes = i16::from_be_bytes([data[1], data[2]]);
    let settings = Settings {
        normalize_path: flags & 1 != 0,
        double_encode_path: flags & 2 != 0,
        allow_unsigned_payload: flags & 4 != 0,
        max_skew: Duration::from_secs(15 * 60),
    };
    let text = &data[3..];

    let (head, body) = match text.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&text[..i], &text[i + 2..]),
        None => (text, &text[text.len()..]),
    };
    let mut lines = head.split(|&b| b == b'\n');
    let request_line = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let (method, target) = request_line
        .split_once(' ')
        .unwrap_or((request_line.as_str(), ""));
    let target = match target.rsplit_once(' ') {
        Some((t, version)) if version.starts_with("HTTP/") => t,
        _ => target,
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let names: Vec<(String, &[u8])> = lines
        .map(|line| {
            let colon = line.iter().position(|&b| b == b':').unwrap_or(line.len());
            let value = line.get(colon + 1..).unwrap_or_default();
            (String::from_utf8_lossy(&line[..colon]).into_owned(), value)
        })
        .collect();
    let headers: Vec<(&str, &[u8])> = names.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let req = RequestView {
        method,
        path,
        query,
        headers: &headers,
        body,
    };

    decode_like_the_pipeline(&req);

    let auth = match parse_authorization(&req) {
        Ok(auth) => auth,
        Err(e) => {
            render_error(rampart_wire::CommonError::Signature(e));
            return;
        }
    };
    if let Ok(creq) = canonical_request(&req, &auth, &settings) {
        let _ = string_to_sign(&auth, &creq);
    }
    let _ = canonical_request_with_token_mode(&req, &auth, &settings, SessionTokenMode::Exclude);
    let key = SigningKey::derive(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        auth.scope.date,
        auth.scope.region,
        auth.scope.service,
    );
    // Once at the request time itself, so that the checks after the time window run too.
    let _ = verify(&req, &auth, &key, &settings, auth.request_time);
    let now = auth
        .request_time
        .checked_add(time::Duration::minutes(i64::from(minutes)))
        .unwrap_or(auth.request_time);
    if let Err(e) = verify(&req, &auth, &key, &settings, now) {
        render_error(rampart_wire::CommonError::Signature(e));
    }
});

/// Routes the pipeline matches rest-json requests against (a plain label and a greedy one).
const ROUTES: &[RestRoute] = &[
    RestRoute { method: "POST", template: "/2015-03-31/functions/{FunctionName}/invocations" },
    RestRoute { method: "GET", template: "/{Bucket}/{Key+}" },
];

/// Request parsing as `rampart serve` does it before and after authentication: protocol
/// detection, form decoding, `X-Amz-Target`, JSON bodies and rest-json path templates.
fn decode_like_the_pipeline(req: &RequestView) {
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    };
    let target = header("x-amz-target");
    let kind = protocol::guess_protocol(header("content-type"), target.is_some(), req.query);
    if let Ok(params) = QueryParams::parse(&[req.query.as_bytes(), req.body]) {
        let _ = params.list("Tags");
        let _ = params.integer("DurationSeconds", 900, 43_200);
        let _ = params.required("Action");
    }
    if let Some(target) = target {
        let _ = json::split_target(target);
    }
    if let Err(e) = json::decode::<serde_json::Value>(req.body) {
        render_error(e);
    }
    for route in ROUTES {
        let _ = route.matches(req.method, req.path);
    }
    let _ = kind;
}

/// Every error must render in every protocol without panicking.
fn render_error(error: rampart_wire::CommonError) {
    for kind in [ProtocolKind::Query, ProtocolKind::Json, ProtocolKind::RestJson] {
        let rendered = error.for_protocol(kind);
        let _ = protocol::encode_error(&Protocol::generic(kind), &rendered, "fuzz");
    }
}
