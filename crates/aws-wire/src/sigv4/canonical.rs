//! The canonical request: the exact text whose hash the client signed.
//!
//! It is built as bytes, because header values may carry bytes that are not UTF-8 and the hash
//! must cover them as sent; [`canonical_request`] shows such bytes lossily.

use aws_lc_rs::digest;

use super::auth::{AuthLocation, Authorization};
use super::error::{excerpt, SigV4Error};
use super::query;
use super::{RequestView, Settings};

/// Whether `X-Amz-Security-Token` in a presigned query is part of the canonical query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionTokenMode {
    /// The usual case: the token was in the URL when it was signed.
    Include,
    /// The token was appended after signing (IoT; the SDKs' `SessionTokenMode::Exclude`).
    Exclude,
}

/// The hashed payload line of the canonical request.
pub(crate) enum PayloadHash<'a> {
    /// The client's `x-amz-content-sha256` value, verbatim.
    Declared(&'a str),
    /// `UNSIGNED-PAYLOAD` for a presigned S3 URL without `x-amz-content-sha256`.
    Unsigned,
    /// Hex SHA-256 of the body.
    Computed([u8; 64]),
}

impl PayloadHash<'_> {
    fn as_bytes(&self) -> &[u8] {
        match self {
            PayloadHash::Declared(s) => s.as_bytes(),
            PayloadHash::Unsigned => UNSIGNED_PAYLOAD.as_bytes(),
            PayloadHash::Computed(hex) => hex,
        }
    }
}

const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Lower-case hex of `bytes` into `out` (which must be twice as long).
pub(crate) fn hex_into(bytes: &[u8], out: &mut [u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0x0f)];
    }
}

fn sha256_hex(data: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    hex_into(digest::digest(&digest::SHA256, data).as_ref(), &mut out);
    out
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| !is_space(*b)).unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !is_space(*b))
        .map_or(start, |i| i + 1);
    &v[start..end]
}

/// Decides the payload line, and with `check_body` verifies a declared hash against the body.
///
/// A declared hash is used verbatim (that is what the client signed); without one, the body is
/// hashed, except for a presigned request under settings that allow unsigned payloads (S3),
/// whose URLs are signed with `UNSIGNED-PAYLOAD`.
pub(crate) fn payload_hash<'a>(
    req: &RequestView<'a>,
    auth: &Authorization,
    settings: &Settings,
    check_body: bool,
) -> Result<PayloadHash<'a>, SigV4Error> {
    let declared = req
        .single_header("x-amz-content-sha256")
        .map_err(|()| SigV4Error::ContentSha256Mismatch)?;
    let Some(declared) = declared.map(trim) else {
        return Ok(
            if auth.location == AuthLocation::Query && settings.allow_unsigned_payload {
                PayloadHash::Unsigned
            } else {
                PayloadHash::Computed(sha256_hex(req.body))
            },
        );
    };
    if declared == UNSIGNED_PAYLOAD.as_bytes() {
        return if settings.allow_unsigned_payload {
            Ok(PayloadHash::Declared(UNSIGNED_PAYLOAD))
        } else {
            Err(SigV4Error::UnsignedPayloadNotAllowed)
        };
    }
    if declared.starts_with(b"STREAMING-") {
        return Err(SigV4Error::UnsupportedAlgorithm(format!(
            "x-amz-content-sha256 '{}' (aws-chunked streaming signatures) is not supported.",
            excerpt(&String::from_utf8_lossy(declared))
        )));
    }
    if declared.len() != 64 || !declared.iter().all(u8::is_ascii_hexdigit) {
        return Err(SigV4Error::ContentSha256Mismatch);
    }
    if check_body && !sha256_hex(req.body).eq_ignore_ascii_case(declared) {
        return Err(SigV4Error::ContentSha256Mismatch);
    }
    // Checked above to be ASCII hex digits.
    let declared = std::str::from_utf8(declared).map_err(|_| SigV4Error::ContentSha256Mismatch)?;
    Ok(PayloadHash::Declared(declared))
}

/// A guess at the canonical request's length, so that building it allocates once.
pub(crate) fn capacity_hint(req: &RequestView) -> usize {
    let headers: usize = req.headers.iter().map(|(n, v)| n.len() + v.len() + 2).sum();
    req.method.len() + 2 * req.path.len() + 2 * req.query.len() + headers + 160
}

/// The canonical request the client should have signed, as text.
///
/// The payload line uses `x-amz-content-sha256` as sent, without checking it against the body
/// (that is [`super::verify`]'s job). Bytes in header values that are not UTF-8 are shown as
/// U+FFFD here but hashed as received by [`super::verify`].
pub fn canonical_request(
    req: &RequestView,
    auth: &Authorization,
    settings: &Settings,
) -> Result<String, SigV4Error> {
    canonical_request_with_token_mode(req, auth, settings, SessionTokenMode::Include)
}

/// [`canonical_request`], choosing whether a presigned `X-Amz-Security-Token` is part of it.
pub fn canonical_request_with_token_mode(
    req: &RequestView,
    auth: &Authorization,
    settings: &Settings,
    token_mode: SessionTokenMode,
) -> Result<String, SigV4Error> {
    let payload = payload_hash(req, auth, settings, false)?;
    let mut out = Vec::with_capacity(capacity_hint(req));
    write_canonical_request(&mut out, req, auth, settings, &payload, token_mode)?;
    Ok(match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// Appends the canonical request to `out`.
pub(crate) fn write_canonical_request(
    out: &mut Vec<u8>,
    req: &RequestView,
    auth: &Authorization,
    settings: &Settings,
    payload: &PayloadHash,
    token_mode: SessionTokenMode,
) -> Result<(), SigV4Error> {
    out.extend_from_slice(req.method.as_bytes());
    out.push(b'\n');
    write_canonical_path(out, req.path, settings);
    out.push(b'\n');
    let presigned = auth.location == AuthLocation::Query;
    let exclude_token = presigned && token_mode == SessionTokenMode::Exclude;
    query::write_canonical_query(out, req.query, |key| {
        (presigned && query::decoded_eq(key, query::SIGNATURE))
            || (exclude_token && query::decoded_eq(key, query::SECURITY_TOKEN))
    });
    out.push(b'\n');
    for name in &auth.signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let mut found = false;
        for value in req.header_values(name) {
            if found {
                out.push(b',');
            }
            found = true;
            write_header_value(out, value);
        }
        if !found {
            return Err(SigV4Error::IncompleteSignature(format!(
                "The header '{}' is listed in SignedHeaders but is not in the request.",
                excerpt(name)
            )));
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    for (i, name) in auth.signed_headers.iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(name.as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(payload.as_bytes());
    Ok(())
}

/// Whitespace for trimming and collapsing header values. Beyond the spaces the SigV4 spec names,
/// tabs and line breaks (obsolete line folding) count too, as in botocore and the AWS test suite.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c)
}

/// Appends a header value trimmed, with each run of whitespace collapsed to one space.
fn write_header_value(out: &mut Vec<u8>, value: &[u8]) {
    let mut pending_space = false;
    for &b in trim(value) {
        if is_space(b) {
            pending_space = true;
        } else {
            if pending_space {
                out.push(b' ');
                pending_space = false;
            }
            out.push(b);
        }
    }
}

/// Appends the canonical URI: normalised if the service normalises, then encoded once more if it
/// double-encodes (the path is already encoded on the wire; SDKs other than S3's encode it
/// again before signing). An empty path is `/`.
fn write_canonical_path(out: &mut Vec<u8>, path: &str, settings: &Settings) {
    let path = if path.is_empty() { "/" } else { path };
    let double = settings.double_encode_path;
    if !settings.normalize_path {
        write_path_bytes(out, path, double);
        return;
    }
    if !path.contains('.') && !path.contains("//") && path.starts_with('/') {
        write_path_bytes(out, path, double);
        return;
    }
    // RFC 3986 dot-segment removal, also dropping empty segments, as the AWS SDKs do.
    let mut segments: Vec<&str> = Vec::with_capacity(8);
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    out.push(b'/');
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        write_path_bytes(out, segment, double);
    }
    let ends_with_slash = ["/", "/.", "/.."].iter().any(|s| path.ends_with(s));
    if !segments.is_empty() && ends_with_slash {
        out.push(b'/');
    }
}

fn write_path_bytes(out: &mut Vec<u8>, path: &str, encode: bool) {
    if !encode {
        out.extend_from_slice(path.as_bytes());
        return;
    }
    for b in path.bytes() {
        if query::is_unreserved(b) || b == b'/' {
            out.push(b);
        } else {
            query::push_encoded(out, b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str, settings: &Settings) -> String {
        let mut out = Vec::new();
        write_canonical_path(&mut out, p, settings);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn normalises_and_encodes_paths() {
        let aws = Settings::AWS;
        let cases = [
            ("", "/"),
            ("/", "/"),
            ("//", "/"),
            ("/./", "/"),
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("//example//", "/example/"),
            ("/./example", "/example"),
            ("/a/b/../c/.", "/a/c/"),
            ("/../..", "/"),
            ("a/b", "/a/b"),
            ("/example space/", "/example%20space/"),
            ("/arn%3Aaws", "/arn%253Aaws"),
            ("/\u{1234}", "/%E1%88%B4"),
            ("/a.b/c..d/...", "/a.b/c..d/..."),
        ];
        for (input, want) in cases {
            assert_eq!(path(input, &aws), want, "{input:?}");
        }
        let s3 = Settings::S3;
        assert_eq!(path("//a/./b%3A", &s3), "//a/./b%3A");
        assert_eq!(path("", &s3), "/");
        let unnormalized = Settings {
            normalize_path: false,
            ..Settings::AWS
        };
        assert_eq!(path("//example//", &unnormalized), "//example//");
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        for (input, want) in [
            (&b"  a   b  "[..], "a b"),
            (b"value1\n  value2\n     value3", "value1 value2 value3"),
            (b"\"a   b   c\"", "\"a b c\""),
            (b"", ""),
            (b"   ", ""),
            (b"a\t\tb", "a b"),
        ] {
            let mut out = Vec::new();
            write_header_value(&mut out, input);
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }
}
