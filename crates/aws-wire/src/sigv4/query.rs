//! Query-string handling: splitting, decoding and the canonical (RFC 3986) re-encoding.
//!
//! Components are decoded the way the AWS SDKs' own parsers do (`form_urlencoded`: `%XX` is a
//! byte, `+` is a space, a `%` not followed by two hex digits stands for itself) and re-encoded
//! with only the unreserved set left bare. Both steps are iterators so that sorting and comparing
//! parameters allocates nothing.

use std::borrow::Cow;
use std::cmp::Ordering;

pub(crate) const ALGORITHM: &str = "X-Amz-Algorithm";
pub(crate) const CREDENTIAL: &str = "X-Amz-Credential";
pub(crate) const DATE: &str = "X-Amz-Date";
pub(crate) const EXPIRES: &str = "X-Amz-Expires";
pub(crate) const SIGNED_HEADERS: &str = "X-Amz-SignedHeaders";
pub(crate) const SIGNATURE: &str = "X-Amz-Signature";
pub(crate) const SECURITY_TOKEN: &str = "X-Amz-Security-Token";

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// The `key=value` pairs of a raw query; empty pieces (`a=1&&b=2`) are skipped, a piece without
/// `=` has an empty value.
pub(crate) fn pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

/// True when the raw text decodes to itself.
fn is_plain(raw: &str) -> bool {
    !raw.bytes().any(|b| b == b'%' || b == b'+')
}

/// Whether the raw (encoded) component decodes to `name`.
pub(crate) fn decoded_eq(raw: &str, name: &str) -> bool {
    if is_plain(raw) {
        raw == name
    } else {
        Decoded::new(raw).eq(name.bytes())
    }
}

/// Whether the query has a parameter whose decoded name is `name`.
pub(crate) fn has_param(query: &str, name: &str) -> bool {
    pairs(query).any(|(k, _)| decoded_eq(k, name))
}

/// Decodes a component; `None` if the result is not UTF-8. Borrows when nothing is encoded.
pub(crate) fn decode(raw: &str) -> Option<Cow<'_, str>> {
    if is_plain(raw) {
        Some(Cow::Borrowed(raw))
    } else {
        String::from_utf8(Decoded::new(raw).collect())
            .ok()
            .map(Cow::Owned)
    }
}

/// RFC 3986 unreserved characters: the only bytes SigV4 leaves unencoded.
pub(crate) fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Appends `b` percent-encoded with upper-case hex, as SigV4 requires.
pub(crate) fn push_encoded(out: &mut Vec<u8>, b: u8) {
    out.extend_from_slice(&[
        b'%',
        HEX_UPPER[usize::from(b >> 4)],
        HEX_UPPER[usize::from(b & 0x0f)],
    ]);
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The decoded bytes of a raw query component.
pub(crate) struct Decoded<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Decoded<'a> {
    pub(crate) fn new(raw: &'a str) -> Self {
        Decoded {
            bytes: raw.as_bytes(),
            pos: 0,
        }
    }
}

impl Iterator for Decoded<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        self.pos += 1;
        match b {
            b'+' => Some(b' '),
            b'%' => {
                let hi = self.bytes.get(self.pos).copied().and_then(hex_value);
                let lo = self.bytes.get(self.pos + 1).copied().and_then(hex_value);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => {
                        self.pos += 2;
                        Some(hi << 4 | lo)
                    }
                    _ => Some(b'%'),
                }
            }
            _ => Some(b),
        }
    }
}

/// The canonical encoding of a raw component: decoded, then re-encoded.
pub(crate) struct Canonical<'a> {
    inner: Decoded<'a>,
    pending: [u8; 2],
    npending: usize,
}

impl<'a> Canonical<'a> {
    pub(crate) fn new(raw: &'a str) -> Self {
        Canonical {
            inner: Decoded::new(raw),
            pending: [0; 2],
            npending: 0,
        }
    }
}

impl Iterator for Canonical<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        if self.npending > 0 {
            let b = self.pending[2 - self.npending];
            self.npending -= 1;
            return Some(b);
        }
        let b = self.inner.next()?;
        if is_unreserved(b) {
            Some(b)
        } else {
            self.pending = [
                HEX_UPPER[usize::from(b >> 4)],
                HEX_UPPER[usize::from(b & 0x0f)],
            ];
            self.npending = 2;
            Some(b'%')
        }
    }
}

/// Appends the canonical encoding of a raw component.
fn write_canonical(out: &mut Vec<u8>, raw: &str) {
    // Fast path: the common case is a component that is already canonical.
    if raw.bytes().all(is_unreserved) {
        out.extend_from_slice(raw.as_bytes());
        return;
    }
    for b in Decoded::new(raw) {
        if is_unreserved(b) {
            out.push(b);
        } else {
            push_encoded(out, b);
        }
    }
}

fn cmp_canonical(a: &str, b: &str) -> Ordering {
    Canonical::new(a).cmp(Canonical::new(b))
}

/// Appends the canonical query: every parameter not `excluded`, re-encoded, sorted by encoded
/// name then encoded value, empty values kept as `name=`.
pub(crate) fn write_canonical_query(
    out: &mut Vec<u8>,
    query: &str,
    excluded: impl Fn(&str) -> bool,
) {
    if query.is_empty() {
        return;
    }
    let mut params: Vec<(&str, &str)> = pairs(query).filter(|(k, _)| !excluded(k)).collect();
    // Unstable is fine: parameters that compare equal produce identical output.
    params.sort_unstable_by(|a, b| cmp_canonical(a.0, b.0).then_with(|| cmp_canonical(a.1, b.1)));
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        write_canonical(out, k);
        out.push(b'=');
        write_canonical(out, v);
    }
}

/// Splits a raw component on a separator that may arrive bare or percent-encoded (`/` in
/// `X-Amz-Credential`, `;` in `X-Amz-SignedHeaders`), borrowing the pieces.
pub(crate) fn split_encoded<'a>(raw: &'a str, sep: u8) -> impl Iterator<Item = &'a str> + 'a {
    let mut rest = Some(raw);
    std::iter::from_fn(move || {
        let s = rest?;
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == sep {
                rest = Some(&s[i + 1..]);
                return Some(&s[..i]);
            }
            if bytes[i] == b'%'
                && i + 2 < bytes.len()
                && hex_value(bytes[i + 1]).zip(hex_value(bytes[i + 2]))
                    == Some((sep >> 4, sep & 0x0f))
            {
                rest = Some(&s[i + 3..]);
                return Some(&s[..i]);
            }
            i += 1;
        }
        rest = None;
        Some(s)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(query: &str) -> String {
        let mut out = Vec::new();
        write_canonical_query(&mut out, query, |_| false);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn canonical_query_sorts_and_reencodes() {
        assert_eq!(canonical("b=2&a=1&a=0"), "a=0&a=1&b=2");
        assert_eq!(canonical("k&j="), "j=&k=");
        assert_eq!(canonical("a=%7e%2f+x"), "a=~%2F%20x");
        assert_eq!(canonical("a=%zz%4"), "a=%25zz%254");
        assert_eq!(canonical("&&a=1&"), "a=1");
        assert_eq!(canonical("\u{1234}=bar"), "%E1%88%B4=bar");
        assert_eq!(
            canonical("Param-3=Value3&Param=Value2&%E1%88%B4=Value1"),
            "%E1%88%B4=Value1&Param=Value2&Param-3=Value3"
        );
    }

    #[test]
    fn split_encoded_handles_both_spellings() {
        let parts: Vec<_> = split_encoded("a%2Fb/c%2fd%2", b'/').collect();
        assert_eq!(parts, ["a", "b", "c", "d%2"]);
        let parts: Vec<_> = split_encoded("host%3Bx-amz-date", b';').collect();
        assert_eq!(parts, ["host", "x-amz-date"]);
        let parts: Vec<_> = split_encoded("", b';').collect();
        assert_eq!(parts, [""]);
        let parts: Vec<_> = split_encoded("a/", b'/').collect();
        assert_eq!(parts, ["a", ""]);
    }

    #[test]
    fn decoded_comparison() {
        assert!(decoded_eq("X-Amz-Signature", SIGNATURE));
        assert!(decoded_eq("X%2DAmz-Signature", SIGNATURE));
        assert!(!decoded_eq("x-amz-signature", SIGNATURE));
        assert_eq!(decode("a+b%21").as_deref(), Some("a b!"));
        assert_eq!(decode("%ff"), None);
    }
}
