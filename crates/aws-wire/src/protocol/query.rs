//! The AWS query protocol: `application/x-www-form-urlencoded` parameters in, XML out.

use std::borrow::Cow;

use percent_encoding::percent_decode;

use super::EncodedResponse;
use crate::error::{CommonError, Fault, ServiceError};

/// Namespace for errors raised before any service is known.
pub const GENERIC_XML_NAMESPACE: &str = "https://rampart.dev/doc/2026-11-01/";

/// Most parameters a single request may carry; a body beyond that is abuse, not a request.
const MAX_PARAMS: usize = 10_000;

/// Decoded request parameters in the order received. Later duplicates are ignored, as AWS does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams {
    params: Vec<(String, String)>,
}

impl QueryParams {
    /// Decodes a form body and/or URL query string (`a=1&b=x+y`). Both may be given; body
    /// parameters come first.
    pub fn parse(sources: &[&[u8]]) -> Result<Self, CommonError> {
        let mut params = Vec::new();
        for source in sources {
            for pair in source.split(|&b| b == b'&') {
                if pair.is_empty() {
                    continue;
                }
                if params.len() >= MAX_PARAMS {
                    return Err(CommonError::Serialization(format!(
                        "Too many parameters: at most {MAX_PARAMS} are accepted."
                    )));
                }
                let (name, value) = match pair.iter().position(|&b| b == b'=') {
                    Some(i) => (&pair[..i], &pair[i + 1..]),
                    None => (pair, &b""[..]),
                };
                params.push((form_decode(name)?, form_decode(value)?));
            }
        }
        Ok(QueryParams { params })
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of a required parameter, or AWS's `MissingParameter`.
    pub fn required(&self, name: &str) -> Result<&str, CommonError> {
        self.get(name)
            .ok_or_else(|| CommonError::MissingParameter(name.to_owned()))
    }

    /// An optional integer parameter within `min..=max`.
    pub fn integer(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, CommonError> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        let value: i64 = raw.parse().map_err(|_| {
            CommonError::InvalidParameterValue(format!(
                "Value '{raw}' at '{name}' failed to satisfy constraint: Member must be a number"
            ))
        })?;
        if value < min || value > max {
            return Err(CommonError::InvalidParameterValue(format!(
                "Value '{value}' at '{name}' failed to satisfy constraint: Member must have value between {min} and {max}"
            )));
        }
        Ok(Some(value))
    }

    /// Members of a list parameter: `Name.member.1`, `Name.member.2`, … in index order.
    pub fn list(&self, name: &str) -> Vec<&str> {
        let prefix = format!("{name}.member.");
        let mut members: Vec<(u32, &str)> = self
            .params
            .iter()
            .filter_map(|(k, v)| {
                let index = k.strip_prefix(&prefix)?.parse().ok()?;
                Some((index, v.as_str()))
            })
            .collect();
        members.sort_by_key(|(i, _)| *i);
        members.into_iter().map(|(_, v)| v).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Members of a list of key/value structures (`Tags.member.N.Key`,
    /// `Tags.member.N.Value`), one per index N, in index order; either field may be absent.
    /// A parameter under `Name.member.` that is not `N.Key` or `N.Value` with a numeric N is
    /// refused, by name. When a field is sent twice, the later value counts.
    pub fn key_value_members(&self, name: &str) -> Result<Vec<KeyValueMember>, MalformedMember> {
        self.collect_key_values(name, true)
    }

    /// [`QueryParams::key_value_members`] for services that tolerate stray parameters: one
    /// whose N is not a number is skipped, and an unknown field of member N is ignored
    /// (member N still exists, with whatever fields it has).
    pub fn key_value_members_lenient(&self, name: &str) -> Vec<KeyValueMember> {
        self.collect_key_values(name, false).unwrap_or_default()
    }

    fn collect_key_values(
        &self,
        name: &str,
        strict: bool,
    ) -> Result<Vec<KeyValueMember>, MalformedMember> {
        let prefix = format!("{name}.member.");
        let mut indexed: Vec<(u32, KeyValueMember)> = Vec::new();
        for (param, value) in self.iter() {
            let Some(rest) = param.strip_prefix(&prefix) else {
                continue;
            };
            let malformed = || MalformedMember(param.to_owned());
            let parsed = rest
                .split_once('.')
                .and_then(|(index, field)| Some((index.parse::<u32>().ok()?, field)));
            let Some((index, field)) = parsed else {
                if strict {
                    return Err(malformed());
                }
                continue;
            };
            let pos = match indexed.iter().position(|(i, _)| *i == index) {
                Some(pos) => pos,
                None => {
                    indexed.push((index, KeyValueMember::default()));
                    indexed.len() - 1
                }
            };
            match field {
                "Key" => indexed[pos].1.key = Some(value.to_owned()),
                "Value" => indexed[pos].1.value = Some(value.to_owned()),
                _ if strict => return Err(malformed()),
                _ => {}
            }
        }
        indexed.sort_by_key(|(i, _)| *i);
        Ok(indexed.into_iter().map(|(_, member)| member).collect())
    }
}

/// One `Name.member.N` structure of a key/value list, as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyValueMember {
    pub key: Option<String>,
    pub value: Option<String>,
}

/// A parameter under a key/value list's `Name.member.` prefix that is not `N.Key` or
/// `N.Value` with a numeric N; it holds the parameter's name, for the caller to word its
/// own error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed list member {0}")]
pub struct MalformedMember(pub String);

/// `application/x-www-form-urlencoded` decoding: `+` is a space, then percent-decoding; the
/// result must be UTF-8.
fn form_decode(raw: &[u8]) -> Result<String, CommonError> {
    let plus_free: Cow<[u8]> = if raw.contains(&b'+') {
        Cow::Owned(
            raw.iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect(),
        )
    } else {
        Cow::Borrowed(raw)
    };
    let decoded: Cow<[u8]> = percent_decode(&plus_free).into();
    String::from_utf8(decoded.into_owned()).map_err(|_| {
        CommonError::Serialization("The query string or form body is not valid UTF-8.".into())
    })
}

/// A small XML builder for query-protocol responses; text is always escaped.
#[derive(Debug, Default)]
pub struct XmlWriter {
    out: String,
}

impl XmlWriter {
    pub fn new() -> Self {
        XmlWriter {
            out: String::with_capacity(256),
        }
    }

    pub fn start(&mut self, tag: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    pub fn end(&mut self, tag: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    /// `<tag>text</tag>` with `text` escaped.
    pub fn element(&mut self, tag: &str, text: &str) -> &mut Self {
        self.start(tag);
        self.out.push_str(&quick_xml::escape::escape(text));
        self.end(tag)
    }

    /// An element only when the value is present.
    pub fn optional(&mut self, tag: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.element(tag, text);
        }
        self
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// The success envelope: `<OpResponse xmlns><OpResult>…</OpResult><ResponseMetadata>…`.
/// `result` is the inner XML of the `OpResult` element, or None for operations without one.
pub fn encode_result(
    xml_namespace: &str,
    operation: &str,
    result: Option<&str>,
    request_id: &str,
) -> EncodedResponse {
    // Pieces pushed one by one: `format!` here was a tenth of a request's own work.
    let mut body = String::with_capacity(
        140 + 3 * operation.len() + xml_namespace.len() + result.map_or(0, str::len),
    );
    for piece in [
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<",
        operation,
        "Response xmlns=\"",
        xml_namespace,
        "\">",
    ] {
        body.push_str(piece);
    }
    if let Some(result) = result {
        for piece in [
            "<", operation, "Result>", result, "</", operation, "Result>",
        ] {
            body.push_str(piece);
        }
    }
    body.push_str("<ResponseMetadata><RequestId>");
    body.push_str(&quick_xml::escape::escape(request_id));
    for piece in ["</RequestId></ResponseMetadata></", operation, "Response>"] {
        body.push_str(piece);
    }
    EncodedResponse {
        status: 200,
        content_type: "text/xml",
        headers: Vec::new(),
        body: body.into_bytes(),
    }
}

/// `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.
pub fn encode_error(
    xml_namespace: &str,
    error: &ServiceError,
    request_id: &str,
) -> EncodedResponse {
    let mut xml = XmlWriter::new();
    xml.start("Error")
        .element(
            "Type",
            match error.fault {
                Fault::Sender => "Sender",
                Fault::Receiver => "Receiver",
            },
        )
        .element("Code", &error.code)
        .element("Message", &error.message)
        .end("Error")
        .element("RequestId", request_id);
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse xmlns=\"{xml_namespace}\">{}</ErrorResponse>",
        xml.finish()
    );
    EncodedResponse {
        status: error.status,
        content_type: "text/xml",
        headers: Vec::new(),
        body: body.into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_envelope_is_exact() {
        let with = encode_result(
            "https://sts.amazonaws.com/doc/2011-06-15/",
            "GetCallerIdentity",
            Some("<Account>1</Account>"),
            "r&1",
        );
        assert_eq!(
            String::from_utf8(with.body).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<GetCallerIdentityResponse \
             xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>\
             <Account>1</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r&amp;1\
             </RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        );
        let without = encode_result("ns", "DeleteUser", None, "r");
        assert_eq!(
            String::from_utf8(without.body).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteUserResponse xmlns=\"ns\">\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteUserResponse>"
        );
    }

    #[test]
    fn parses_forms() {
        let p =
            QueryParams::parse(&[b"Action=GetCallerIdentity&Version=2011-06-15&X=a+b%2Bc&E&E2="])
                .unwrap();
        assert_eq!(p.get("Action"), Some("GetCallerIdentity"));
        assert_eq!(p.get("X"), Some("a b+c"));
        assert_eq!(p.get("E"), Some(""));
        assert_eq!(p.get("E2"), Some(""));
        assert_eq!(
            p.required("Nope"),
            Err(CommonError::MissingParameter("Nope".into()))
        );
        assert!(QueryParams::parse(&[b"A=%FF"]).is_err());
    }

    #[test]
    fn lists_in_index_order() {
        let p =
            QueryParams::parse(&[b"L.member.2=b&L.member.10=c&L.member.1=a&L.member.x=z"]).unwrap();
        assert_eq!(p.list("L"), vec!["a", "b", "c"]);
    }

    fn kv(key: Option<&str>, value: Option<&str>) -> KeyValueMember {
        KeyValueMember {
            key: key.map(str::to_owned),
            value: value.map(str::to_owned),
        }
    }

    #[test]
    fn key_value_members_in_index_order() {
        let p = QueryParams::parse(&[
            b"Tags.member.10.Value=z&Tags.member.2.Key=b&Tags.member.2.Value=2\
              &Tags.member.1.Key=a&Tags.member.1.Value=&Tags.member.10.Key=c&Other=x",
        ])
        .unwrap();
        let want = vec![
            kv(Some("a"), Some("")),
            kv(Some("b"), Some("2")),
            kv(Some("c"), Some("z")),
        ];
        assert_eq!(p.key_value_members("Tags").unwrap(), want);
        assert_eq!(p.key_value_members_lenient("Tags"), want);
        // Absent fields stay absent; a field sent twice keeps its later value.
        let p =
            QueryParams::parse(&[b"Tags.member.1.Key=a&Tags.member.1.Key=b&Tags.member.2.Value=v"])
                .unwrap();
        assert_eq!(
            p.key_value_members("Tags").unwrap(),
            vec![kv(Some("b"), None), kv(None, Some("v"))]
        );
        assert_eq!(p.key_value_members("Nothing").unwrap(), vec![]);
    }

    #[test]
    fn malformed_key_value_members() {
        for (form, name) in [
            ("Tags.member.x.Key=a", "Tags.member.x.Key"),
            ("Tags.member.1=a", "Tags.member.1"),
            (
                "Tags.member.1.Key=a&Tags.member.1.Colour=b",
                "Tags.member.1.Colour",
            ),
            ("Tags.member.-1.Key=a", "Tags.member.-1.Key"),
        ] {
            let p = QueryParams::parse(&[form.as_bytes()]).unwrap();
            assert_eq!(
                p.key_value_members("Tags"),
                Err(MalformedMember(name.to_owned())),
                "{form}"
            );
        }
        // Leniently: a member name without a numeric index is skipped, an unknown field
        // ignored (its member still counts).
        let p = QueryParams::parse(&[
            b"Tags.member.x.Key=a&Tags.member.1=b&Tags.member.2.Colour=c&Tags.member.3.Key=d",
        ])
        .unwrap();
        assert_eq!(
            p.key_value_members_lenient("Tags"),
            vec![kv(None, None), kv(Some("d"), None)]
        );
    }

    #[test]
    fn integers_are_bounded() {
        let p = QueryParams::parse(&[b"D=900&E=12&F=x"]).unwrap();
        assert_eq!(p.integer("D", 900, 3600).unwrap(), Some(900));
        assert!(p.integer("E", 900, 3600).is_err());
        assert!(p.integer("F", 0, 1).is_err());
        assert_eq!(p.integer("G", 0, 1).unwrap(), None);
    }

    #[test]
    fn escapes_xml() {
        let e = ServiceError::new("Bad", 400, "a <b> & \"c\"");
        let r = encode_error("ns", &e, "rid");
        let body = String::from_utf8(r.body).unwrap();
        assert!(body.contains("<Message>a &lt;b&gt; &amp; &quot;c&quot;</Message>"));
        assert!(body.contains("<Type>Sender</Type><Code>Bad</Code>"));
        assert!(body.contains("<RequestId>rid</RequestId>"));
    }
}
