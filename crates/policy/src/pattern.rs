//! Wildcard patterns: `*` matches any run of characters (including none), `?` exactly one.
//!
//! Patterns are split into pieces once, when a policy is compiled, and the common shapes
//! (`*`, `exact`, `prefix*`, `*suffix`) get a matcher that is one comparison.

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Characters that must appear as they are (a `*` or `?` here is literal).
    Lit(String),
    /// `*`.
    Star,
    /// `?`.
    One,
}

/// Splits pattern text into pieces, reading `*` and `?` as wildcards.
pub(crate) fn pieces_of(text: &str, out: &mut Vec<Piece>) {
    let mut lit = String::new();
    for c in text.chars() {
        match c {
            '*' | '?' => {
                if !lit.is_empty() {
                    out.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                out.push(if c == '*' { Piece::Star } else { Piece::One });
            }
            _ => lit.push(c),
        }
    }
    if !lit.is_empty() {
        out.push(Piece::Lit(lit));
    }
}

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Glob {
    /// `*`: everything.
    Any,
    /// No wildcard.
    Exact(Box<str>),
    /// `text*`.
    Prefix(Box<str>),
    /// `*text`.
    Suffix(Box<str>),
    /// Anything else.
    General(Box<[Piece]>),
}

impl Glob {
    /// Compiles pattern text, reading `*` and `?` as wildcards.
    pub(crate) fn new(text: &str) -> Glob {
        let mut pieces = Vec::new();
        pieces_of(text, &mut pieces);
        Glob::from_pieces(pieces)
    }

    /// Compiles already split pieces (literal pieces come from policy-variable values and
    /// the `${*}`/`${?}` escapes, whose `*` and `?` are not wildcards).
    pub(crate) fn from_pieces(pieces: Vec<Piece>) -> Glob {
        let pieces = normalize(pieces);
        match pieces.as_slice() {
            [] => Glob::Exact("".into()),
            [Piece::Star] => Glob::Any,
            [Piece::Lit(l)] => Glob::Exact(l.as_str().into()),
            [Piece::Lit(l), Piece::Star] => Glob::Prefix(l.as_str().into()),
            [Piece::Star, Piece::Lit(l)] => Glob::Suffix(l.as_str().into()),
            _ => Glob::General(pieces.into_boxed_slice()),
        }
    }

    /// Whether `text` matches, case-sensitively.
    pub(crate) fn matches(&self, text: &str) -> bool {
        match self {
            Glob::Any => true,
            Glob::Exact(e) => **e == *text,
            Glob::Prefix(p) => text.starts_with(&**p),
            Glob::Suffix(s) => text.ends_with(&**s),
            Glob::General(pieces) => matches_pieces(pieces, text),
        }
    }

    /// Whether this pattern has any wildcard at all.
    pub(crate) fn is_any(&self) -> bool {
        matches!(self, Glob::Any)
    }
}

/// Joins neighbouring literals and collapses runs of `*`, so matching never re-tries the
/// same split twice.
fn normalize(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
    for piece in pieces {
        match (out.last_mut(), piece) {
            (Some(Piece::Lit(prev)), Piece::Lit(l)) => prev.push_str(&l),
            (Some(Piece::Star), Piece::Star) => {}
            (_, Piece::Lit(l)) if l.is_empty() => {}
            (_, piece) => out.push(piece),
        }
    }
    out
}

/// Length in bytes of the character starting at `at`.
fn char_len(text: &str, at: usize) -> usize {
    text[at..].chars().next().map_or(1, char::len_utf8)
}

/// A borrowed piece, for matching patterns whose literals come from a request (resolved
/// policy variables) without building a [`Glob`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum PieceRef<'a> {
    Lit(&'a str),
    Star,
    One,
}

impl<'a> From<&'a Piece> for PieceRef<'a> {
    fn from(piece: &'a Piece) -> Self {
        match piece {
            Piece::Lit(l) => PieceRef::Lit(l),
            Piece::Star => PieceRef::Star,
            Piece::One => PieceRef::One,
        }
    }
}

fn matches_pieces(pieces: &[Piece], text: &str) -> bool {
    matches_with(pieces.len(), |i| PieceRef::from(&pieces[i]), text)
}

/// The classic greedy matcher with one back-track point: on a mismatch, the last `*` takes
/// one more character and matching resumes after it. Linear in practice, quadratic at
/// worst. `piece(i)` gives the i-th of `count` pieces.
pub(crate) fn matches_with<'p>(
    count: usize,
    piece: impl Fn(usize) -> PieceRef<'p>,
    text: &str,
) -> bool {
    let (mut p, mut i) = (0usize, 0usize);
    // After a `*`: the piece to resume at and the text position the star reaches to.
    let mut resume: Option<(usize, usize)> = None;
    loop {
        if p < count {
            match piece(p) {
                PieceRef::Star => {
                    resume = Some((p + 1, i));
                    p += 1;
                    continue;
                }
                PieceRef::One if i < text.len() => {
                    i += char_len(text, i);
                    p += 1;
                    continue;
                }
                PieceRef::Lit(l) if text[i..].starts_with(l) => {
                    i += l.len();
                    p += 1;
                    continue;
                }
                _ => {}
            }
        } else if i == text.len() {
            return true;
        }
        match resume {
            Some((rp, ri)) if ri < text.len() => {
                let next = ri + char_len(text, ri);
                resume = Some((rp, next));
                p = rp;
                i = next;
            }
            _ => return false,
        }
    }
}

/// Compares two strings ignoring case (Unicode simple lowercase), without allocating.
pub(crate) fn eq_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, text: &str) -> bool {
        Glob::new(pattern).matches(text)
    }

    #[test]
    fn shapes() {
        assert_eq!(Glob::new("*"), Glob::Any);
        assert_eq!(Glob::new("**"), Glob::Any);
        assert!(matches!(Glob::new("s3:get*"), Glob::Prefix(_)));
        assert!(matches!(Glob::new("*report"), Glob::Suffix(_)));
        assert!(matches!(Glob::new("a*b?c"), Glob::General(_)));
    }

    #[test]
    fn wildcards() {
        assert!(m("*", ""));
        assert!(m("a*", "a"));
        assert!(m("a*c", "abbbc"));
        assert!(!m("a*c", "abbbd"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("*a*b*", "xxaxxbxx"));
        assert!(m("*ab", "aab"));
        assert!(m("a*a*a", "aaaaa"));
        assert!(!m("a*a*a", "aa"));
        assert!(m("?", "é"));
        assert!(m(
            "arn:aws:s3:::bucket/*/x?z",
            "arn:aws:s3:::bucket/a/b/xyz"
        ));
        assert!(!m("abc", "abcd"));
        assert!(m("", ""));
        assert!(!m("", "a"));
    }

    #[test]
    fn literal_pieces_are_not_wildcards() {
        let g = Glob::from_pieces(vec![Piece::Lit("a*".into()), Piece::Star]);
        assert!(g.matches("a*xyz"));
        assert!(!g.matches("abxyz"));
    }

    #[test]
    fn ignore_case() {
        assert!(eq_ignore_case("ÉCOLE", "école"));
        assert!(eq_ignore_case("Admin", "aDMIN"));
        assert!(!eq_ignore_case("admin", "admins"));
    }
}
