//! Route keys and route selection, as HTTP APIs define them (pure, no I/O).
//!
//! A route key is `$default` or `<METHOD> <path>`, where METHOD is an HTTP method or `ANY` and
//! the path is `/` or `/`-separated segments, each a literal, a `{parameter}`, or — last only —
//! a greedy `{parameter+}`. A request is routed to the most specific matching route: a route
//! without a greedy variable before one with it, then segment by segment a literal before a
//! parameter before a greedy variable, then a route for the request's method before an `ANY`
//! route; `$default` only when nothing else matches (API Gateway's "Routing API requests").

use std::cmp::Ordering;

use percent_encoding::percent_decode_str;

/// The methods a route key may name (besides `ANY`).
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// One segment of a route's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Param(String),
    Greedy(String),
}

/// A parsed route key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteKey {
    /// `$default`: what no other route matches.
    Default,
    Route {
        /// None for `ANY`.
        method: Option<String>,
        /// The path as written (`/items/{id}`): the 1.0 event's `resource`.
        path: String,
        segments: Vec<Segment>,
    },
}

/// API Gateway's refusal of a malformed route key.
pub const INVALID_ROUTE_KEY: &str = "The provided route key is not formatted properly for HTTP protocol. Format should be \"<HTTP METHOD> /<PATH>\" or \"$default\"";

fn is_param_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

impl RouteKey {
    /// Parses a route key; None if it is not one.
    pub fn parse(key: &str) -> Option<RouteKey> {
        if key == "$default" {
            return Some(RouteKey::Default);
        }
        let (method, path) = key.split_once(' ')?;
        let method = match method {
            "ANY" => None,
            m if METHODS.contains(&m) => Some(m.to_owned()),
            _ => return None,
        };
        if !path.starts_with('/') || path.contains(char::is_whitespace) || path.contains('?') {
            return None;
        }
        let mut segments = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        if path != "/" {
            let parts: Vec<&str> = path[1..].split('/').collect();
            for (i, part) in parts.iter().enumerate() {
                if part.is_empty() {
                    return None;
                }
                let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    Some(inner) => match inner.strip_suffix('+') {
                        Some(name) if i + 1 == parts.len() && is_param_name(name) => {
                            names.push(name);
                            Segment::Greedy(name.to_owned())
                        }
                        Some(_) => return None,
                        None if is_param_name(inner) => {
                            names.push(inner);
                            Segment::Param(inner.to_owned())
                        }
                        None => return None,
                    },
                    None if part.contains(['{', '}']) => return None,
                    None => Segment::Literal((*part).to_owned()),
                };
                segments.push(segment);
            }
        }
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != names.len() {
            return None; // a parameter named twice
        }
        Some(RouteKey::Route {
            method,
            path: path.to_owned(),
            segments,
        })
    }

    /// The path parameters this key binds for a request, if it matches it. `path` is the
    /// request's path after the stage, still percent-encoded.
    pub fn matches(&self, method: &str, path: &str) -> Option<Vec<(String, String)>> {
        let RouteKey::Route {
            method: want,
            segments,
            ..
        } = self
        else {
            return Some(Vec::new());
        };
        if want.as_deref().is_some_and(|m| m != method) {
            return None;
        }
        let request: Vec<&str> = match path {
            "/" | "" => Vec::new(),
            p => p.strip_prefix('/').unwrap_or(p).split('/').collect(),
        };
        let mut bound = Vec::new();
        for (i, segment) in segments.iter().enumerate() {
            match segment {
                Segment::Greedy(name) => {
                    let rest = request.get(i..)?;
                    if rest.is_empty() || rest.iter().all(|s| s.is_empty()) {
                        return None;
                    }
                    let decoded: Option<Vec<String>> = rest.iter().map(|s| decode(s)).collect();
                    bound.push((name.clone(), decoded?.join("/")));
                    return Some(bound);
                }
                Segment::Literal(literal) => {
                    if decode(request.get(i)?)? != *literal {
                        return None;
                    }
                }
                Segment::Param(name) => {
                    let value = request.get(i)?;
                    if value.is_empty() {
                        return None;
                    }
                    bound.push((name.clone(), decode(value)?));
                }
            }
        }
        (request.len() == segments.len()).then_some(bound)
    }

    /// How specific this key is, for ordering matches: greater is more specific.
    fn specificity(&self) -> (bool, Vec<u8>, bool) {
        match self {
            RouteKey::Default => (false, Vec::new(), false),
            RouteKey::Route {
                method, segments, ..
            } => {
                let greedy = matches!(segments.last(), Some(Segment::Greedy(_)));
                let ranks = segments
                    .iter()
                    .map(|s| match s {
                        Segment::Literal(_) => 3,
                        Segment::Param(_) => 2,
                        Segment::Greedy(_) => 1,
                    })
                    .collect();
                (!greedy, ranks, method.is_some())
            }
        }
    }
}

fn decode(raw: &str) -> Option<String> {
    percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Path parameters a route binds: (name, decoded value).
pub type Bound = Vec<(String, String)>;

/// The best route among `routes` for a request: the item given with it, and the parameters it
/// binds. `$default` is chosen only when no other route matches.
pub fn select<'a, T>(
    routes: impl IntoIterator<Item = (&'a RouteKey, T)>,
    method: &str,
    path: &str,
) -> Option<(T, Bound)> {
    let mut best: Option<(&RouteKey, T, Bound)> = None;
    let mut default = None;
    for (key, item) in routes {
        if *key == RouteKey::Default {
            default = Some(item);
            continue;
        }
        let Some(bound) = key.matches(method, path) else {
            continue;
        };
        let better = match &best {
            None => true,
            Some((current, _, _)) => {
                key.specificity().cmp(&current.specificity()) == Ordering::Greater
            }
        };
        if better {
            best = Some((key, item, bound));
        }
    }
    match best {
        Some((_, item, bound)) => Some((item, bound)),
        None => default.map(|item| (item, Vec::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> RouteKey {
        RouteKey::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn parses_route_keys() {
        assert_eq!(key("$default"), RouteKey::Default);
        for good in [
            "GET /",
            "GET /items/{id}",
            "ANY /x/{proxy+}",
            "ANY /{proxy+}",
            "POST /a/b.c/{x-y}",
        ] {
            key(good);
        }
        for bad in [
            "",
            "GET",
            "get /x",
            "FETCH /x",
            "GET x",
            "GET /x//y",
            "GET /x/",
            "GET /{proxy+}/x",
            "GET /{}",
            "GET /{a}/{a}",
            "GET /a{b}",
            "GET /x?y=1",
            "GET  /x",
            "$DEFAULT",
        ] {
            assert!(RouteKey::parse(bad).is_none(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn binds_parameters() {
        assert_eq!(
            key("GET /items/{id}").matches("GET", "/items/a%20b"),
            Some(vec![("id".into(), "a b".into())])
        );
        assert_eq!(key("GET /items/{id}").matches("POST", "/items/1"), None);
        assert_eq!(key("GET /items/{id}").matches("GET", "/items/1/x"), None);
        assert_eq!(key("GET /items/{id}").matches("GET", "/items/"), None);
        assert_eq!(key("GET /items/{id}").matches("GET", "/items"), None);
        assert_eq!(
            key("ANY /x/{proxy+}").matches("DELETE", "/x/a/b/c"),
            Some(vec![("proxy".into(), "a/b/c".into())])
        );
        assert_eq!(key("ANY /x/{proxy+}").matches("GET", "/x"), None);
        assert_eq!(key("ANY /x/{proxy+}").matches("GET", "/x/"), None);
        assert_eq!(key("GET /").matches("GET", "/"), Some(vec![]));
        assert_eq!(key("GET /").matches("GET", "/a"), None);
        // A literal matches its decoded form; invalid UTF-8 matches nothing.
        assert_eq!(
            key("GET /caf\u{e9}").matches("GET", "/caf%C3%A9"),
            Some(vec![])
        );
        assert_eq!(key("GET /{id}").matches("GET", "/%FF"), None);
    }

    #[test]
    fn selects_the_most_specific_route() {
        let keys: Vec<RouteKey> = [
            "GET /pets/dog/1",
            "GET /pets/dog/{id}",
            "GET /pets/{proxy+}",
            "ANY /{proxy+}",
            "$default",
            "ANY /pets/dog/{id}",
            "ANY /items/{id}",
            "GET /items/{id}",
        ]
        .iter()
        .map(|k| key(k))
        .collect();
        let pick = |method: &str, path: &str| {
            select(keys.iter().enumerate().map(|(i, k)| (k, i)), method, path)
                .map(|(i, _)| keys[i].clone())
        };
        assert_eq!(pick("GET", "/pets/dog/1"), Some(key("GET /pets/dog/1")));
        assert_eq!(pick("GET", "/pets/dog/2"), Some(key("GET /pets/dog/{id}")));
        assert_eq!(pick("POST", "/pets/dog/2"), Some(key("ANY /pets/dog/{id}")));
        assert_eq!(pick("GET", "/pets/cat/1"), Some(key("GET /pets/{proxy+}")));
        assert_eq!(pick("POST", "/pets/cat/1"), Some(key("ANY /{proxy+}")));
        assert_eq!(pick("GET", "/items/7"), Some(key("GET /items/{id}")));
        assert_eq!(pick("PUT", "/items/7"), Some(key("ANY /items/{id}")));
        assert_eq!(pick("GET", "/"), Some(key("$default")));
        let none: Vec<RouteKey> = vec![key("GET /a")];
        assert!(select(none.iter().map(|k| (k, ())), "GET", "/b").is_none());
    }
}
