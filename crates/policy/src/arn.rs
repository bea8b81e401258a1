//! Matching ARNs against `Resource` patterns and the `Arn*` condition operators.
//!
//! The rule, and why: an ARN is `arn:partition:service:region:account-id:resource`. A
//! pattern with six colon-separated segments is matched segment by segment, so a `*` in
//! the region cannot run into the account; the sixth segment (the resource part, which
//! may itself hold `:` and `/`) is matched as one string in which `*` spans both. This is
//! how the ARN condition operators are documented ("Each of the six colon-delimited
//! components of the ARN is checked separately", Condition operators page, with the
//! `…:finance/*` example), and it is what makes `arn:aws:logs:*:*:log-group:app:*` cover
//! that group's streams. A pattern with fewer than six segments (`arn:aws:s3:*`) has no
//! segment boundaries to respect, so it is matched as one wildcard string over the whole
//! ARN; so is any pattern against a request resource that is not an ARN.

use crate::pattern::Glob;
use crate::variables::{Template, VariableSource};

/// The six segments of an ARN (the last keeps its colons), or `None` if `text` has fewer.
pub(crate) fn split_arn(text: &str) -> Option<[&str; 6]> {
    let mut it = text.splitn(6, ':');
    Some([
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    ])
}

/// One segment (or the whole) of a pattern: compiled once when it has no variable.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    Static(Glob),
    Dynamic(Template),
}

impl Matcher {
    fn new(text: &str, substitute: bool) -> Matcher {
        let template = Template::parse(text, substitute);
        if template.is_static() {
            Matcher::Static(template.static_glob())
        } else {
            Matcher::Dynamic(template)
        }
    }

    fn matches(&self, text: &str, vars: &dyn VariableSource) -> bool {
        match self {
            Matcher::Static(glob) => glob.matches(text),
            Matcher::Dynamic(template) => template.matches_glob(text, vars),
        }
    }

    /// The text this matcher accepts, if it accepts exactly one text.
    fn exact(&self) -> Option<&str> {
        match self {
            Matcher::Static(Glob::Exact(text)) => Some(text),
            _ => None,
        }
    }
}

/// The first five segments of a six-segment pattern.
#[derive(Debug, Clone)]
pub(crate) enum Head {
    /// No wildcard or variable (the usual `arn:aws:s3:::`): one comparison of the
    /// request's `arn:partition:service:region:account:` prefix.
    Literal(Box<str>),
    /// Anything else: segment by segment.
    Segments(Box<[Matcher; 5]>),
}

/// A compiled ARN pattern.
#[derive(Debug, Clone)]
pub(crate) enum ArnPattern {
    /// `*`.
    Any,
    /// Fewer than six segments: one wildcard string over the whole ARN.
    Whole(Matcher),
    /// Six segments; `whole` serves request resources that are not ARNs.
    Segments {
        head: Head,
        resource: Matcher,
        whole: Matcher,
    },
}

impl ArnPattern {
    /// Compiles `text`; `substitute` says whether `${…}` is a variable (2012 policies).
    pub(crate) fn new(text: &str, substitute: bool) -> ArnPattern {
        if text == "*" {
            return ArnPattern::Any;
        }
        let whole = Matcher::new(text, substitute);
        let Some(parts) = split_outside_variables(text) else {
            return ArnPattern::Whole(whole);
        };
        let [p0, p1, p2, p3, p4, p5] = parts.map(|p| Matcher::new(p, substitute));
        let segments = [p0, p1, p2, p3, p4];
        let head = match segments
            .iter()
            .map(Matcher::exact)
            .collect::<Option<Vec<_>>>()
        {
            Some(exact) => Head::Literal(format!("{}:", exact.join(":")).into()),
            None => Head::Segments(Box::new(segments)),
        };
        ArnPattern::Segments {
            head,
            resource: p5,
            whole,
        }
    }

    /// Whether `arn` (whose segments `parts` the caller split once per request) matches.
    pub(crate) fn matches(
        &self,
        arn: &str,
        parts: Option<&[&str; 6]>,
        vars: &dyn VariableSource,
    ) -> bool {
        match (self, parts) {
            (ArnPattern::Any, _) => true,
            (ArnPattern::Whole(m), _) => m.matches(arn, vars),
            (ArnPattern::Segments { head, resource, .. }, Some(parts)) => {
                let head_ok = match head {
                    // parts[5] is the tail of `arn`, so what precedes it is the head.
                    Head::Literal(prefix) => {
                        arn.len() - parts[5].len() == prefix.len() && arn.starts_with(&**prefix)
                    }
                    Head::Segments(segments) => segments
                        .iter()
                        .zip(parts.iter())
                        .all(|(m, part)| m.matches(part, vars)),
                };
                head_ok && resource.matches(parts[5], vars)
            }
            (ArnPattern::Segments { whole, .. }, None) => whole.matches(arn, vars),
        }
    }
}

/// Splits a pattern into six segments at colons that are not inside `${…}` (a variable's
/// default value may hold a colon), or `None` if it has fewer than six.
fn split_outside_variables(text: &str) -> Option<[&str; 6]> {
    let mut cuts = [0usize; 5];
    let mut found = 0;
    let mut depth = 0usize;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() && found < 5 {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth > 0 => depth -= 1,
            b':' if depth == 0 => {
                cuts[found] = i;
                found += 1;
            }
            _ => {}
        }
        i += 1;
    }
    if found < 5 {
        return None;
    }
    Some([
        &text[..cuts[0]],
        &text[cuts[0] + 1..cuts[1]],
        &text[cuts[1] + 1..cuts[2]],
        &text[cuts[2] + 1..cuts[3]],
        &text[cuts[3] + 1..cuts[4]],
        &text[cuts[4] + 1..],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    struct NoVars;
    impl VariableSource for NoVars {
        fn variable(&self, key: &str) -> Option<Cow<'_, str>> {
            (key == "aws:username").then_some(Cow::Borrowed("alice"))
        }
    }

    fn m(pattern: &str, arn: &str) -> bool {
        let p = ArnPattern::new(pattern, true);
        p.matches(arn, split_arn(arn).as_ref(), &NoVars)
    }

    #[test]
    fn segments_do_not_bleed() {
        // The Condition operators page's example: ArnLike fails where StringLike succeeds.
        let value =
            "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt";
        assert!(!m("arn:aws:someservice:*:111122223333:finance/*", value));
        assert!(Glob::new("arn:aws:someservice:*:111122223333:finance/*").matches(value));
    }

    #[test]
    fn resource_part_spans_colons_and_slashes() {
        assert!(m(
            "arn:aws:logs:*:*:log-group:app:*",
            "arn:aws:logs:us-east-1:111122223333:log-group:app:log-stream:x"
        ));
        assert!(m("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b/c"));
        assert!(!m("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket2/a"));
        assert!(m("arn:aws:s3:::*", "arn:aws:s3:::b"));
        // An empty segment matches only an empty segment.
        assert!(!m("arn:aws:s3:::b", "arn:aws:s3:us-east-1::b"));
    }

    #[test]
    fn short_patterns_match_the_whole_arn() {
        assert!(m("arn:aws:s3:*", "arn:aws:s3:::bucket/key"));
        assert!(m("*", "anything"));
        assert!(!m("arn:aws:iam::*", "arn:aws:s3:::x"));
    }

    #[test]
    fn variables_in_the_resource_part() {
        assert!(m(
            "arn:aws:s3:::home/${aws:username}/*",
            "arn:aws:s3:::home/alice/x"
        ));
        assert!(!m(
            "arn:aws:s3:::home/${aws:userid}/*",
            "arn:aws:s3:::home/alice/x"
        ));
        assert!(m(
            "arn:aws:s3:::b/${aws:userid, 'a:b'}",
            "arn:aws:s3:::b/a:b"
        ));
    }

    #[test]
    fn non_arn_requests_use_the_whole_pattern() {
        assert!(m("arn:aws:s3:::*", "arn:aws:s3:::"));
        assert!(!m("arn:aws:s3:::*", "not-an-arn"));
    }
}
