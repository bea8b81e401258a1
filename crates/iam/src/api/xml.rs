//! The XML shapes of IAM's entities, with element names and nesting as botocore's
//! `iam/2010-05-08` model reads them: lists as `<member>` elements, timestamps in ISO 8601,
//! policy documents URL-encoded (botocore URL-decodes and JSON-parses `policyDocumentType`).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rampart_wire::protocol::query::XmlWriter;
use time::macros::format_description;
use time::OffsetDateTime;

use crate::entities::{Group, Role, Tag, User};

/// What `encodeURIComponent`/Java's encoder leave alone; AWS's encoding of policy documents.
const DOCUMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `2026-11-26T10:00:00Z`: whole seconds in UTC, as IAM writes its dates.
///
/// Written by hand for four-digit years (every date IAM stores): `time`'s formatter walks a
/// format description, a thousand instructions for each date of each answer.
pub fn timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let Ok(year) = u32::try_from(t.year()) else {
        return formatted(t);
    };
    if year > 9999 {
        return formatted(t);
    }
    let mut out = String::with_capacity(20);
    let mut push = |n: u32, width: u32, then: Option<char>| {
        for place in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10u32.pow(place) % 10) as u8));
        }
        if let Some(c) = then {
            out.push(c);
        }
    };
    push(year, 4, Some('-'));
    push(u32::from(u8::from(t.month())), 2, Some('-'));
    push(u32::from(t.day()), 2, Some('T'));
    push(u32::from(t.hour()), 2, Some(':'));
    push(u32::from(t.minute()), 2, Some(':'));
    push(u32::from(t.second()), 2, Some('Z'));
    out
}

fn formatted(t: OffsetDateTime) -> String {
    t.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    ))
    .unwrap_or_default()
}

/// A policy document as IAM returns it: percent-encoded JSON text.
pub fn document(text: &str) -> String {
    utf8_percent_encode(text, DOCUMENT).to_string()
}

/// `true`/`false`.
pub fn boolean(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// `<tag><member><Key/><Value/></member>…</tag>`.
pub fn tags(xml: &mut XmlWriter, tag: &str, tags: &[Tag]) {
    xml.start(tag);
    for t in tags {
        xml.start("member")
            .element("Key", &t.key)
            .element("Value", &t.value)
            .end("member");
    }
    xml.end(tag);
}

/// `<PermissionsBoundary>` when the entity has one.
pub fn boundary(xml: &mut XmlWriter, arn: Option<&str>) {
    if let Some(arn) = arn {
        xml.start("PermissionsBoundary")
            .element("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
            .element("PermissionsBoundaryArn", arn)
            .end("PermissionsBoundary");
    }
}

/// How much of an entity a response shows: list operations leave out tags and boundaries,
/// as IAM's do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    Summary,
    Full,
}

/// The `User` shape inside `tag`.
pub fn user(xml: &mut XmlWriter, tag: &str, u: &User, detail: Detail) {
    xml.start(tag)
        .element("Path", &u.path)
        .element("UserName", &u.name)
        .element("UserId", &u.user_id)
        .element("Arn", &u.arn)
        .element("CreateDate", &timestamp(u.created_at));
    if detail == Detail::Full {
        boundary(xml, u.permissions_boundary.as_deref());
        if !u.tags.is_empty() {
            tags(xml, "Tags", &u.tags);
        }
    }
    xml.end(tag);
}

/// The `Group` shape inside `tag`.
pub fn group(xml: &mut XmlWriter, tag: &str, g: &Group) {
    xml.start(tag)
        .element("Path", &g.path)
        .element("GroupName", &g.name)
        .element("GroupId", &g.group_id)
        .element("Arn", &g.arn)
        .element("CreateDate", &timestamp(g.created_at))
        .end(tag);
}

/// The `Role` shape inside `tag`.
pub fn role(xml: &mut XmlWriter, tag: &str, r: &Role, detail: Detail) {
    xml.start(tag)
        .element("Path", &r.path)
        .element("RoleName", &r.name)
        .element("RoleId", &r.role_id)
        .element("Arn", &r.arn)
        .element("CreateDate", &timestamp(r.created_at))
        .element(
            "AssumeRolePolicyDocument",
            &document(&r.assume_role_policy_document),
        )
        .optional("Description", r.description.as_deref())
        .element("MaxSessionDuration", &r.max_session_duration.to_string());
    if detail == Detail::Full {
        boundary(xml, r.permissions_boundary.as_deref());
        if !r.tags.is_empty() {
            tags(xml, "Tags", &r.tags);
        }
        xml.start("RoleLastUsed").end("RoleLastUsed");
    }
    xml.end(tag);
}

/// `<tag><member>name</member>…</tag>`.
pub fn strings<'a>(xml: &mut XmlWriter, tag: &str, items: impl IntoIterator<Item = &'a str>) {
    xml.start(tag);
    for item in items {
        xml.element("member", item);
    }
    xml.end(tag);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_whole_seconds_utc() {
        let t = time::macros::datetime!(2026-11-26 10:00:00.123456 +02:00);
        assert_eq!(timestamp(t), "2026-11-26T08:00:00Z");
        let early = time::macros::datetime!(0042-01-02 03:04:05 UTC);
        assert_eq!(timestamp(early), "0042-01-02T03:04:05Z");
    }

    #[test]
    fn documents_are_percent_encoded() {
        let doc = r#"{"Version": "2012-10-17", "S": "a+b/c~"}"#;
        let enc = document(doc);
        assert_eq!(
            enc,
            "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22S%22%3A%20%22a%2Bb%2Fc~%22%7D"
        );
        let back = percent_encoding::percent_decode_str(&enc)
            .decode_utf8()
            .unwrap();
        assert_eq!(back, doc);
    }

    #[test]
    fn users_in_summary_leave_out_tags() {
        let u = User {
            name: "bob".into(),
            user_id: "AIDAX".into(),
            arn: "arn:aws:iam::123456789012:user/bob".into(),
            path: "/".into(),
            created_at: time::macros::datetime!(2026-11-26 10:00:00 UTC),
            attached_policies: vec![],
            inline_policies: Default::default(),
            groups: vec![],
            permissions_boundary: Some("arn:aws:iam::aws:policy/AdministratorAccess".into()),
            tags: vec![Tag {
                key: "k".into(),
                value: "<v>".into(),
            }],
        };
        let mut x = XmlWriter::new();
        user(&mut x, "User", &u, Detail::Full);
        let full = x.finish();
        assert!(full.contains("<Tags><member><Key>k</Key><Value>&lt;v&gt;</Value></member></Tags>"));
        assert!(full.contains("<PermissionsBoundaryType>PermissionsBoundaryPolicy"));
        assert!(full.contains("<CreateDate>2026-11-26T10:00:00Z</CreateDate>"));
        let mut x = XmlWriter::new();
        user(&mut x, "member", &u, Detail::Summary);
        assert!(!x.finish().contains("Tags"));
    }
}
