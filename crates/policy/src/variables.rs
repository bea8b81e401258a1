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

use crate::pattern::{matches_with, pieces_of, Glob, Piece, PieceRef};

/// Where a template finds variable values: the request context, by lower-cased key.
pub(crate) trait VariableSource {
    /// The single value of `key` (already lower-case), or `None` if absent or multivalued.
    fn variable(&self, key: &str) -> Option<Cow<'_, str>>;
}

/// A variable's lower-cased key and optional default.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Variable {
    key: Box<str>,
    default: Option<String>,
}

impl Variable {
    fn lookup<'a>(&'a self, source: &'a dyn VariableSource) -> Option<Cow<'a, str>> {
        source
            .variable(&self.key)
            .or_else(|| self.default.as_deref().map(Cow::Borrowed))
    }
}

/// The template read as text: literal runs (escapes included) and variables.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TextPart {
    Lit(String),
    Var(usize),
}

/// The template read as a wildcard pattern: policy text split at `*`/`?`, escapes as
/// literals, variables by slot.
#[derive(Debug, Clone, PartialEq, Eq)]
enum GlobPart {
    Piece(Piece),
    Var(usize),
}

/// A value that may contain policy variables. It keeps two views, made once at parse
/// time, so that a request can be matched without building strings or patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    vars: Vec<Variable>,
    text: Vec<TextPart>,
    glob: Vec<GlobPart>,
}

/// Variables resolved on the stack before falling back to a `Vec`.
const INLINE_VARS: usize = 4;

impl Template {
    /// Reads `text`; with `substitute == false` (2008 policies) it is all literal text.
    pub(crate) fn parse(text: &str, substitute: bool) -> Template {
        let mut t = Template {
            vars: Vec::new(),
            text: Vec::new(),
            glob: Vec::new(),
        };
        if !substitute || !text.contains("${") {
            t.push_text(text);
            return t;
        }
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let Some(len) = rest[start + 2..].find('}') else {
                break;
            };
            t.push_text(&rest[..start]);
            t.push_inner(&rest[start + 2..start + 2 + len]);
            rest = &rest[start + 2 + len + 1..];
        }
        t.push_text(rest);
        t
    }

    /// Policy text: literal as text, wildcards as a pattern.
    fn push_text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.push_lit_text(text);
        let mut pieces = Vec::new();
        pieces_of(text, &mut pieces);
        self.glob.extend(pieces.into_iter().map(GlobPart::Piece));
    }

    /// Literal in both views (escapes).
    fn push_escaped(&mut self, c: char) {
        self.push_lit_text(c.encode_utf8(&mut [0; 4]));
        self.glob.push(GlobPart::Piece(Piece::Lit(c.to_string())));
    }

    fn push_lit_text(&mut self, text: &str) {
        match self.text.last_mut() {
            Some(TextPart::Lit(prev)) => prev.push_str(text),
            _ => self.text.push(TextPart::Lit(text.to_owned())),
        }
    }

    /// What is between `${` and `}`.
    fn push_inner(&mut self, inner: &str) {
        match inner {
            "*" => return self.push_escaped('*'),
            "?" => return self.push_escaped('?'),
            "$" => return self.push_escaped('$'),
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
            return self.push_text(&format!("${{{inner}}}"));
        }
        let slot = self.vars.len();
        self.vars.push(Variable {
            key: key.to_lowercase().into(),
            default,
        });
        self.text.push(TextPart::Var(slot));
        self.glob.push(GlobPart::Var(slot));
    }

    /// True when the template has no variable, so it can be resolved once at compile time.
    pub(crate) fn is_static(&self) -> bool {
        self.vars.is_empty()
    }

    /// The text of a template without variables.
    pub(crate) fn static_text(&self) -> String {
        self.text
            .iter()
            .filter_map(|p| match p {
                TextPart::Lit(l) => Some(l.as_str()),
                TextPart::Var(_) => None,
            })
            .collect()
    }

    /// The pattern of a template without variables.
    pub(crate) fn static_glob(&self) -> Glob {
        Glob::from_pieces(
            self.glob
                .iter()
                .filter_map(|p| match p {
                    GlobPart::Piece(piece) => Some(piece.clone()),
                    GlobPart::Var(_) => None,
                })
                .collect(),
        )
    }

    /// The text with variables substituted. `None` if a variable has no value and no
    /// default: it is "effectively null" and equals nothing.
    pub(crate) fn resolve_text(&self, source: &dyn VariableSource) -> Option<String> {
        let mut out = String::new();
        for part in &self.text {
            match part {
                TextPart::Lit(l) => out.push_str(l),
                TextPart::Var(slot) => out.push_str(&self.vars[*slot].lookup(source)?),
            }
        }
        Some(out)
    }

    /// Whether `text` equals the template with variables substituted, without building
    /// the substituted string.
    pub(crate) fn equals(&self, text: &str, source: &dyn VariableSource) -> bool {
        let mut rest = text;
        for part in &self.text {
            let value = match part {
                TextPart::Lit(l) => Cow::Borrowed(l.as_str()),
                TextPart::Var(slot) => match self.vars[*slot].lookup(source) {
                    Some(v) => v,
                    None => return false,
                },
            };
            match rest.strip_prefix(&*value) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        rest.is_empty()
    }

    /// Whether `text` matches the template as a wildcard pattern with variables
    /// substituted (as literals). False if a variable has no value and no default.
    pub(crate) fn matches_glob(&self, text: &str, source: &dyn VariableSource) -> bool {
        if self.vars.len() > INLINE_VARS {
            let values: Option<Vec<Cow<str>>> =
                self.vars.iter().map(|v| v.lookup(source)).collect();
            return values.is_some_and(|values| self.match_resolved(text, &values));
        }
        let mut values: [Cow<str>; INLINE_VARS] = Default::default();
        for (slot, var) in self.vars.iter().enumerate() {
            match var.lookup(source) {
                Some(v) => values[slot] = v,
                None => return false,
            }
        }
        self.match_resolved(text, &values[..self.vars.len()])
    }

    fn match_resolved(&self, text: &str, values: &[Cow<'_, str>]) -> bool {
        let piece = |i: usize| match &self.glob[i] {
            GlobPart::Piece(p) => PieceRef::from(p),
            GlobPart::Var(slot) => PieceRef::Lit(&values[*slot]),
        };
        matches_with(self.glob.len(), piece, text)
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
        assert!(t.equals("home/alice/*", &ctx()));
        assert!(!t.equals("home/alice/x", &ctx()));
        assert!(t.matches_glob("home/alice/x", &ctx()));
        assert!(!t.matches_glob("home/bob/x", &ctx()));
    }

    #[test]
    fn missing_variable_and_default() {
        let t = Template::parse("${aws:userid}", true);
        assert_eq!(t.resolve_text(&ctx()), None);
        assert!(!t.equals("", &ctx()));
        assert!(!t.matches_glob("", &ctx()));
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
        assert!(t.matches_glob("a*b", &ctx()) && !t.matches_glob("axxb", &ctx()));
    }

    #[test]
    fn many_variables() {
        let t = Template::parse(
            "${aws:username}-${aws:username}-${aws:username}-${aws:username}-${aws:username}*",
            true,
        );
        assert!(t.matches_glob("alice-alice-alice-alice-alice!", &ctx()));
        assert!(!t.matches_glob("alice-alice-alice-alice-bob", &ctx()));
        assert!(t.equals("alice-alice-alice-alice-alice*", &ctx()));
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
