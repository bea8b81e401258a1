//! The AWS SigV4 signing test suite (`tests/vectors/sigv4`, Apache-2.0, see its LICENSE):
//! every signed request must verify, with our canonical request and string to sign equal to the
//! expected ones, and every one-byte change to a signed request must be rejected.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rampart_wire::sigv4::{
    canonical_request_with_token_mode, parse_authorization, string_to_sign, verify, AuthLocation,
    Authorization, RequestView, SessionTokenMode, Settings, SigV4Error, SigningKey,
};
use time::OffsetDateTime;

const CASES: usize = 40;

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/sigv4")
}

/// What `context.json` says, or what the two cases without one were signed with.
#[derive(Debug, Clone)]
struct Context {
    access_key_id: String,
    secret_access_key: String,
    token: Option<String>,
    normalize: bool,
    /// The token was appended after signing (the SDKs' `SessionTokenMode::Exclude`).
    omit_session_token: bool,
    timestamp: OffsetDateTime,
}

fn parse_time(s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
}

fn load_context(case: &str) -> Context {
    let path = suite_dir().join(case).join("context.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        // The two cases without a context.json come from tests inside the aws-sigv4 crate
        // (canonical_request.rs / sign.rs), which name their parameters in code.
        return match case {
            // `test_sign_url_escape`: Credentials::for_tests(), us-east-1, "service".
            "double-encode-path" => Context {
                access_key_id: "ANOTREAL".into(),
                secret_access_key: "notrealrnrELgWzOk3IfjzDKtFBhDby".into(),
                token: None,
                normalize: true,
                omit_session_token: false,
                timestamp: parse_time("2015-08-30T12:36:00Z"),
            },
            // Signed with the suite's usual example credentials for us-east-2 / lambda.
            "double-url-encode" => Context {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
                token: None,
                normalize: true,
                omit_session_token: false,
                timestamp: parse_time("2021-05-11T15:40:45Z"),
            },
            _ => panic!("{case}: no context.json"),
        };
    };
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let creds = &json["credentials"];
    Context {
        access_key_id: creds["access_key_id"].as_str().unwrap().into(),
        secret_access_key: creds["secret_access_key"].as_str().unwrap().into(),
        token: creds["token"].as_str().map(Into::into),
        normalize: json["normalize"].as_bool().unwrap(),
        omit_session_token: json["omit_session_token"].as_bool().unwrap_or(false),
        timestamp: parse_time(json["timestamp"].as_str().unwrap()),
    }
}

/// Verification settings for a case: every case is a non-S3 service, so the path is double
/// encoded; `sign_body` needs no setting, since the verifier always hashes the body it has.
fn settings(ctx: &Context) -> Settings {
    Settings {
        normalize_path: ctx.normalize,
        double_encode_path: true,
        allow_unsigned_payload: false,
        max_skew: Duration::from_secs(15 * 60),
    }
}

/// An HTTP/1.1 request parsed from the suite's text files.
#[derive(Debug)]
struct RawRequest {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl RawRequest {
    fn with_view<T>(&self, f: impl FnOnce(&RequestView) -> T) -> T {
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
}

/// Where the parts of a request line sit in the raw text (byte offsets).
#[derive(Debug, Clone, Copy)]
struct Layout {
    path: (usize, usize),
    query: (usize, usize),
    version: (usize, usize),
}

/// A small HTTP/1.1 request parser for the suite's files (LF line ends). The head ends at the
/// first blank line; without one the whole text is the head. A line starting with a space or
/// tab continues the previous header's value (obsolete line folding): the value keeps the line
/// break and indentation, as received, for the verifier to collapse. A request line may omit the
/// HTTP version (`double-url-encode` does). `None` where a server would answer 400: a header
/// line without a colon, an empty or spaced header name, a fold before any header, or text that
/// is not UTF-8.
fn parse_http(raw: &[u8]) -> Option<(RawRequest, Layout)> {
    let (head, body) = match raw.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&raw[..i], &raw[i + 2..]),
        None => (raw.strip_suffix(b"\n").unwrap_or(raw), &raw[raw.len()..]),
    };
    let mut lines = head.split(|&b| b == b'\n');
    let request_line = std::str::from_utf8(lines.next()?).ok()?;
    let (method, rest) = request_line.split_once(' ')?;
    let target_start = method.len() + 1;
    let (target, version) = match rest.rsplit_once(' ') {
        Some((target, version)) if version.starts_with("HTTP/") => (target, version),
        _ => (rest, ""),
    };
    let version_start = target_start + target.len() + 1;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let layout = Layout {
        path: (target_start, target_start + path.len()),
        query: (
            target_start + path.len() + 1,
            target_start + path.len() + 1 + query.len(),
        ),
        version: (version_start, version_start + version.len()),
    };
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    for line in lines {
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            let (_, value) = headers.last_mut()?;
            value.push(b'\n');
            value.extend_from_slice(line);
            continue;
        }
        let colon = line.iter().position(|&b| b == b':')?;
        let name = std::str::from_utf8(&line[..colon]).ok()?;
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
            return None;
        }
        headers.push((name.to_owned(), line[colon + 1..].to_vec()));
    }
    let req = RawRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: body.to_vec(),
    };
    Some((req, layout))
}

/// What the server does with a request: parse, look the access key up (only the case's key
/// exists), check a session token against it, derive the key for the scope and verify.
fn authenticate(req: &RequestView, ctx: &Context) -> Result<(), String> {
    let auth = parse_authorization(req).map_err(|e| e.to_string())?;
    if auth.scope.access_key_id != ctx.access_key_id {
        return Err("unknown access key".into());
    }
    if auth.security_token.as_deref() != ctx.token.as_deref() {
        return Err("session token does not belong to the access key".into());
    }
    let key = SigningKey::derive(
        &ctx.secret_access_key,
        auth.scope.date,
        auth.scope.region,
        auth.scope.service,
    );
    verify(req, &auth, &key, &settings(ctx), ctx.timestamp).map_err(|e| e.to_string())
}

fn read(case: &str, file: &str) -> Option<String> {
    let text = std::fs::read_to_string(suite_dir().join(case).join(file)).ok()?;
    Some(text.trim_end_matches('\n').to_owned())
}

fn cases() -> Vec<String> {
    let mut cases: Vec<String> = std::fs::read_dir(suite_dir())
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            e.file_type()
                .unwrap()
                .is_dir()
                .then(|| e.file_name().into_string().unwrap())
        })
        .collect();
    cases.sort();
    assert_eq!(cases.len(), CASES, "the suite has {CASES} cases");
    cases
}

const FORMS: [(&str, AuthLocation); 2] = [
    ("header", AuthLocation::Header),
    ("query", AuthLocation::Query),
];

/// The signed request texts of a case: one per form present.
fn signed_requests(case: &str) -> Vec<(&'static str, AuthLocation, Vec<u8>)> {
    FORMS
        .iter()
        .filter_map(|&(form, location)| {
            let path = suite_dir()
                .join(case)
                .join(format!("{form}-signed-request.txt"));
            std::fs::read(path).ok().map(|raw| (form, location, raw))
        })
        .collect()
}

fn check_expected(case: &str, form: &str, req: &RequestView, auth: &Authorization, ctx: &Context) {
    let mode = if ctx.omit_session_token {
        SessionTokenMode::Exclude
    } else {
        SessionTokenMode::Include
    };
    let creq = canonical_request_with_token_mode(req, auth, &settings(ctx), mode).unwrap();
    if let Some(mut expected) = read(case, &format!("{form}-canonical-request.txt")) {
        if case == "double-encode-path" {
            // aws-sigv4 produced this file signing at 20210511T154045Z, which overrides the
            // request's own X-amz-date; the signed request (and its signature) is from
            // 20150830T123600Z. Only that line differs.
            expected = expected.replace("20210511T154045Z", "20150830T123600Z");
        }
        assert_eq!(creq, expected, "{case}/{form}: canonical request");
    }
    if let Some(expected) = read(case, &format!("{form}-string-to-sign.txt")) {
        assert_eq!(
            string_to_sign(auth, &creq),
            expected,
            "{case}/{form}: string to sign"
        );
    }
    if let Some(expected) = read(case, &format!("{form}-signature.txt")) {
        assert_eq!(
            hex::encode(auth.signature),
            expected,
            "{case}/{form}: signature"
        );
    }
}

#[test]
fn every_signed_request_verifies() {
    let mut verified_cases = 0;
    let mut verified_requests = 0;
    for case in cases() {
        let ctx = load_context(&case);
        let requests = signed_requests(&case);
        assert!(!requests.is_empty(), "{case}: no signed request");
        for (form, location, raw) in requests {
            let (req, _) = parse_http(&raw).unwrap_or_else(|| panic!("{case}/{form}: unparsable"));
            req.with_view(|view| {
                let auth = parse_authorization(view)
                    .unwrap_or_else(|e| panic!("{case}/{form}: parse_authorization: {e}"));
                assert_eq!(auth.location, location, "{case}/{form}");
                check_expected(&case, form, view, &auth, &ctx);
                authenticate(view, &ctx).unwrap_or_else(|e| panic!("{case}/{form}: {e}"));
            });
            verified_requests += 1;
        }
        verified_cases += 1;
    }
    assert_eq!(verified_cases, CASES);
    // 38 cases have both forms; double-encode-path and double-url-encode only the header form.
    assert_eq!(verified_requests, 2 * CASES - 2);
}

/// Reference path normalisation for deciding which mutations are invisible: RFC 3986 §5.2.4
/// dot-segment removal after collapsing repeated slashes (what `normalize_path` promises),
/// written independently of the implementation under test.
fn reference_normalize(path: &str) -> String {
    let mut input = path.to_owned();
    while input.contains("//") {
        input = input.replace("//", "/");
    }
    if !input.starts_with('/') {
        input.insert(0, '/');
    }
    let mut output = String::new();
    while !input.is_empty() {
        if input.starts_with("/./") {
            input.replace_range(..3, "/");
        } else if input == "/." {
            input = "/".into();
        } else if input.starts_with("/../") || input == "/.." {
            input.replace_range(..3, "");
            if input.is_empty() {
                input = "/".into();
            }
            let cut = output.rfind('/').unwrap_or(0);
            output.truncate(cut);
        } else {
            let next = input[1..].find('/').map_or(input.len(), |i| i + 1);
            output.push_str(&input[..next]);
            input.replace_range(..next, "");
        }
    }
    if output.is_empty() {
        "/".into()
    } else {
        output
    }
}

fn swap_case(b: u8) -> Option<u8> {
    b.is_ascii_alphabetic().then_some(b ^ 0x20)
}

/// The replacements tried at each byte: every other printable ASCII character. None is
/// whitespace, so no replacement is simply trimmed away by canonicalisation.
fn replacements(b: u8) -> impl Iterator<Item = u8> {
    (b'!'..=b'~').filter(move |&r| r != b)
}

/// Why a one-byte change may leave a request's meaning to SigV4 unchanged. Exactly these are
/// skipped, nothing else:
/// - a case change inside a header name (header names are case-insensitive);
/// - a case change of a hex digit of a `%XX` escape in the query (the canonical query is
///   decoded and re-encoded with upper-case hex, as the SDKs compute it);
/// - any change to the HTTP version in the request line (SigV4 does not sign it);
/// - with `normalize`, a change to the path that leaves the normalised path and the query as
///   they were (e.g. `/example1/example2/../..` → `/example0/example2/../..`), judged by
///   [`reference_normalize`].
fn invisible(
    raw: &[u8],
    layout: &Layout,
    i: usize,
    r: u8,
    mutated: Option<&RawRequest>,
    original: &RawRequest,
    ctx: &Context,
) -> bool {
    let b = raw[i];
    if i >= layout.version.0 && i < layout.version.1 {
        return true;
    }
    if swap_case(b) == Some(r) && in_header_name(raw, i) {
        return true;
    }
    if swap_case(b) == Some(r)
        && i >= layout.query.0
        && i < layout.query.1
        && b.is_ascii_hexdigit()
        && in_percent_escape(&raw[layout.query.0..layout.query.1], i - layout.query.0)
    {
        return true;
    }
    if ctx.normalize && i >= layout.path.0 && i < layout.path.1 {
        if let Some(m) = mutated {
            return m.query == original.query
                && reference_normalize(&m.path) == reference_normalize(&original.path);
        }
    }
    false
}

/// Whether byte `i` is in the name of a header line (not the request line, not a fold, before
/// the colon, within the head).
fn in_header_name(raw: &[u8], i: usize) -> bool {
    let head_end = raw
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or(raw.len());
    if i >= head_end {
        return false;
    }
    let line_start = raw[..i]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    if line_start == 0 || matches!(raw[line_start], b' ' | b'\t') {
        return false;
    }
    !raw[line_start..=i].contains(&b':')
}

/// Whether position `i` of `query` is one of the two hex digits of a valid `%XX` escape.
fn in_percent_escape(query: &[u8], i: usize) -> bool {
    let is_escape_at = |p: usize| {
        query.get(p) == Some(&b'%')
            && query.get(p + 1).is_some_and(u8::is_ascii_hexdigit)
            && query.get(p + 2).is_some_and(u8::is_ascii_hexdigit)
    };
    (i >= 1 && is_escape_at(i - 1)) || (i >= 2 && is_escape_at(i - 2))
}

/// Mutation counts for one signed request.
#[derive(Default)]
struct Tally {
    tried: usize,
    skipped: usize,
    unparsable: usize,
    failures: Vec<String>,
}

fn mutate_all(case: &str, form: &str, raw: &[u8], ctx: &Context) -> Tally {
    let mut tally = Tally::default();
    let (original, layout) = parse_http(raw).unwrap();
    let mut mutated = raw.to_vec();
    for i in 0..raw.len() {
        for r in replacements(raw[i]) {
            mutated[i] = r;
            let parsed = parse_http(&mutated);
            if invisible(
                raw,
                &layout,
                i,
                r,
                parsed.as_ref().map(|p| &p.0),
                &original,
                ctx,
            ) {
                tally.skipped += 1;
                continue;
            }
            tally.tried += 1;
            match parsed {
                // A server rejects it before authentication.
                None => tally.unparsable += 1,
                Some((req, _)) => {
                    if req.with_view(|view| authenticate(view, ctx)).is_ok() {
                        tally.failures.push(format!(
                            "{case}/{form}: byte {i} {:?} -> {:?} still verifies",
                            raw[i] as char, r as char
                        ));
                    }
                }
            }
        }
        mutated[i] = raw[i];
    }
    tally
}

#[test]
fn every_one_byte_change_is_rejected() {
    let jobs: Vec<(String, &'static str, Vec<u8>, Context)> = cases()
        .into_iter()
        .flat_map(|case| {
            let ctx = load_context(&case);
            signed_requests(&case)
                .into_iter()
                .map(move |(form, _, raw)| (case.clone(), form, raw, ctx.clone()))
        })
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let j = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((case, form, raw, ctx)) = jobs.get(j) else {
                            break;
                        };
                        out.push(mutate_all(case, form, raw, ctx));
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let tried: usize = tallies.iter().map(|t| t.tried).sum();
    let skipped: usize = tallies.iter().map(|t| t.skipped).sum();
    let unparsable: usize = tallies.iter().map(|t| t.unparsable).sum();
    let failures: Vec<&String> = tallies.iter().flat_map(|t| &t.failures).collect();
    eprintln!(
        "{} signed requests: {tried} mutations rejected ({unparsable} of them unparsable as \
         HTTP), {skipped} skipped as invisible",
        jobs.len()
    );
    assert!(
        failures.is_empty(),
        "{} mutations verified:\n{}",
        failures.len(),
        failures
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(tried > 2_000_000, "only {tried} mutations tried");
}

#[test]
fn reference_normalisation_agrees_with_the_suite() {
    for (input, want) in [
        ("/example/..", "/"),
        ("/example1/example2/../..", "/"),
        ("/./", "/"),
        ("//", "/"),
        ("/./example", "/example"),
        ("//example//", "/example/"),
        ("/a/b/../c/.", "/a/c/"),
    ] {
        assert_eq!(reference_normalize(input), want, "{input}");
    }
}

#[test]
fn a_signature_for_another_time_is_rejected() {
    // The same signed request, an hour later than its X-Amz-Expires allows.
    let case = "get-vanilla";
    let mut ctx = load_context(case);
    ctx.timestamp += time::Duration::hours(2);
    for (form, _, raw) in signed_requests(case) {
        let (req, _) = parse_http(&raw).unwrap();
        let err = req.with_view(|view| authenticate(view, &ctx)).unwrap_err();
        assert!(
            err == SigV4Error::RequestExpired {
                expired_at: parse_time("2015-08-30T13:36:00Z"),
                server_time: ctx.timestamp
            }
            .to_string()
                || err.starts_with("Signature expired"),
            "{form}: {err}"
        );
    }
}
