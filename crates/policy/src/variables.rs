//! Policy variables: `${aws:username}`, `${aws:PrincipalTag/team, 'none'}` and the escapes
//! `${*}`, `${?}`, `${$}` ("IAM policy elements: Variables and tags").
//!
//! Rules kept here, from that page:
//! - only `Version: 2012-10-17` substitutes; otherwise `${…}` is literal text;
//! - "You can use any single-valued condition key as a variable. You can't use a
//!   multivalued condition key as a variable": a key with several values has no value;
//! - a variable with no value (and no default) makes its Resource or condition value match
//!   nothing ("Policy variables with no value");
//! - the value substituted, and the escapes, are literal: a `*` in a user's tag does not
//!   become a wildcard (the escapes exist precisely to write a literal `*`).

use std::borrow::Cow;

use crate::pattern::{pieces_of, Glob, Piece};

/// Where a template finds variable values: the request context, by lower-cased key.
pub(crate) trait VariableSource {
    /// The single value of `key` (already lower-case), or `None` if absent or multivalued.
    fn variable(&self, key: &str) -> Option<Cow<'_, str>>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Policy text: in a wildcard context `*` and `?` are wildcards here.
    Text(String),
    /// Text from an escape, always literal.
    Escaped(char),
    /// A variable with its lower-cased key and optional default.
    Var {
        key: Box<str>,
        default: Option<String>,
    },
}

/// A value that may contain policy variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Reads `text`; with `substitute == false` (2008 policies) it is all literal text.
    pub(crate) fn parse(text: &str, substitute: bool) -> Template {
        if !substitute || !text.contains("${") {
            return Template {
                parts: vec![Part::Text(text.to_owned())],
            };
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let Some(len) = rest[start + 2..].find('}') else {
                break;
            };
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let inner = &rest[start + 2..start + 2 + len];
            parts.push(variable_part(inner));
            rest = &rest[start + 2 + len + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Template { parts }
    }

    /// True when the template has no variable, so it can be resolved once at compile time.
    pub(crate) fn is_static(&self) -> bool {
        !self.parts.iter().any(|p| matches!(p, Part::Var { .. }))
    }

    /// The text with variables substituted, for exact comparisons. `None` if a variable
    /// has no value and no default.
    pub(crate) fn resolve_text(&self, source: &dyn VariableSource) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Escaped(c) => out.push(*c),
                Part::Var { key, default } => out.push_str(&lookup(source, key, default)?),
            }
        }
        Some(out)
    }

    /// The text of a template without variables.
    pub(crate) fn static_text(&self) -> String {
        struct NoVariables;
        impl VariableSource for NoVariables {
            fn variable(&self, _: &str) -> Option<Cow<'_, str>> {
                None
            }
        }
        self.resolve_text(&NoVariables).unwrap_or_default()
    }

    /// The template as a wildcard pattern with variables substituted; `None` if a variable
    /// has no value and no default.
    pub(crate) fn resolve_glob(&self, source: &dyn VariableSource) -> Option<Glob> {
        let mut pieces = Vec::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => pieces_of(t, &mut pieces),
                Part::Escaped(c) => pieces.push(Piece::Lit(c.to_string())),
                Part::Var { key, default } => {
                    pieces.push(Piece::Lit(lookup(source, key, default)?.into_owned()))
                }
            }
        }
        Some(Glob::from_pieces(pieces))
    }

    /// The pattern of a template without variables.
    pub(crate) fn static_glob(&self) -> Glob {
        let mut pieces = Vec::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => pieces_of(t, &mut pieces),
                Part::Escaped(c) => pieces.push(Piece::Lit(c.to_string())),
                Part::Var { .. } => {}
            }
        }
        Glob::from_pieces(pieces)
    }
}

fn lookup<'a>(
    source: &'a dyn VariableSource,
    key: &str,
    default: &'a Option<String>,
) -> Option<Cow<'a, str>> {
    source
        .variable(key)
        .or_else(|| default.as_deref().map(Cow::Borrowed))
}

/// Reads what is between `${` and `}`.
fn variable_part(inner: &str) -> Part {
    match inner {
        "*" => return Part::Escaped('*'),
        "?" => return Part::Escaped('?'),
        "$" => return Part::Escaped('$'),
        _ => {}
    }
    // "separate the variable text and the default value with a comma and space", the
    // default in single quotes: `${aws:PrincipalTag/team, 'company-wide'}`.
    let (key, default) = match inner.split_once(',') {
        Some((key, default)) => {
            let default = default.trim();
            let default = default
                .strip_prefix('\'')
                .and_then(|d| d.strip_suffix('\''))
                .unwrap_or(default);
            (key.trim(), Some(default.to_owned()))
        }
        None => (inner.trim(), None),
    };
    if key.is_empty() {
        return Part::Text(format!("${{{inner}}}"));
    }
    Part::Var {
        key: key.to_lowercase().into(),
        default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<&'static str, &'static str>);
    impl VariableSource for Map {
        fn variable(&self, key: &str) -> Option<Cow<'_, str>> {
            self.0.get(key).map(|v| Cow::Borrowed(*v))
        }
    }

    fn ctx() -> Map {
        Map(HashMap::from([
            ("aws:username", "alice"),
            ("aws:principaltag/team", "a*b"),
        ]))
    }

    #[test]
    fn substitutes_case_insensitive_keys() {
        let t = Template::parse("home/${AWS:UserName}/*", true);
        assert_eq!(t.resolve_text(&ctx()).unwrap(), "home/alice/*");
        assert!(t.resolve_glob(&ctx()).unwrap().matches("home/alice/x"));
        assert!(!t.resolve_glob(&ctx()).unwrap().matches("home/bob/x"));
    }

    #[test]
    fn missing_variable_and_default() {
        let t = Template::parse("${aws:userid}", true);
        assert_eq!(t.resolve_text(&ctx()), None);
        let t = Template::parse("bucket-${aws:PrincipalTag/dept, 'company-wide'}", true);
        assert_eq!(t.resolve_text(&ctx()).unwrap(), "bucket-company-wide");
    }

    #[test]
    fn escapes_and_values_are_literal() {
        let t = Template::parse("a${*}b${?}${$}", true);
        assert_eq!(t.static_text(), "a*b?$");
        let g = t.static_glob();
        assert!(g.matches("a*b?$") && !g.matches("axb?$"));
        let t = Template::parse("${aws:PrincipalTag/team}", true);
        let g = t.resolve_glob(&ctx()).unwrap();
        assert!(g.matches("a*b") && !g.matches("axxb"));
    }

    #[test]
    fn version_2008_is_literal() {
        let t = Template::parse("home/${aws:username}", false);
        assert!(t.is_static());
        assert_eq!(t.static_text(), "home/${aws:username}");
    }

    #[test]
    fn unterminated_is_text() {
        let t = Template::parse("a${aws:username", true);
        assert_eq!(t.static_text(), "a${aws:username");
    }
}
