//! CORS for HTTP APIs, as API Gateway does it when an API has a `CorsConfiguration`: it
//! answers preflight requests itself (`OPTIONS` with `Origin` and
//! `Access-Control-Request-Method`: 204, before any route, authorizer or integration), and on
//! every other answer to an allowed origin it sets the `Access-Control-*` headers itself,
//! dropping whatever the integration put there. Origins match exactly (ignoring case), `*`,
//! or a `scheme://*.domain` wildcard of subdomains. Pure.

use serde::{Deserialize, Serialize};

/// An API's `CorsConfiguration`, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsConfig {
    #[serde(default)]
    pub allow_origins: Vec<String>,
    #[serde(default)]
    pub allow_methods: Vec<String>,
    #[serde(default)]
    pub allow_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    #[serde(default)]
    pub max_age: Option<i64>,
    #[serde(default)]
    pub allow_credentials: bool,
}

impl CorsConfig {
    /// What API Gateway refuses in a configuration.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_age.is_some_and(|m| !(-1..=86400).contains(&m)) {
            return Err("maxAge must be between -1 and 86400.".into());
        }
        if self.allow_credentials && self.allow_origins.iter().any(|o| o == "*") {
            return Err(
                "allowCredentials cannot be true when allowOrigins contains the wildcard *.".into(),
            );
        }
        for origin in &self.allow_origins {
            let shaped = origin == "*"
                || origin
                    .split_once("://")
                    .is_some_and(|(scheme, host)| !scheme.is_empty() && !host.is_empty());
            if !shaped {
                return Err(format!("Invalid origin in allowOrigins: {origin}"));
            }
        }
        Ok(())
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if it is allowed.
    pub fn allowed_origin(&self, origin: &str) -> Option<String> {
        self.allow_origins.iter().find_map(|allowed| {
            if allowed == "*" {
                return Some(if self.allow_credentials {
                    origin.to_owned()
                } else {
                    "*".to_owned()
                });
            }
            if allowed.eq_ignore_ascii_case(origin) {
                return Some(origin.to_owned());
            }
            let (scheme, pattern) = allowed.split_once("://")?;
            let suffix = pattern.strip_prefix('*')?; // `.example.com`
            let (o_scheme, o_host) = origin.split_once("://")?;
            (o_scheme.eq_ignore_ascii_case(scheme)
                && o_host.len() > suffix.len()
                && o_host
                    .to_ascii_lowercase()
                    .ends_with(&suffix.to_ascii_lowercase()))
            .then(|| origin.to_owned())
        })
    }

    /// The headers of API Gateway's answer to a preflight from `origin` (none for an origin
    /// not allowed: the browser then refuses the real request).
    pub fn preflight(&self, origin: &str) -> Vec<(&'static str, String)> {
        let Some(allow_origin) = self.allowed_origin(origin) else {
            return Vec::new();
        };
        let mut headers = vec![("access-control-allow-origin", allow_origin)];
        if !self.allow_methods.is_empty() {
            headers.push(("access-control-allow-methods", self.allow_methods.join(",")));
        }
        if !self.allow_headers.is_empty() {
            headers.push(("access-control-allow-headers", self.allow_headers.join(",")));
        }
        if let Some(age) = self.max_age {
            headers.push(("access-control-max-age", age.to_string()));
        }
        if self.allow_credentials {
            headers.push(("access-control-allow-credentials", "true".into()));
        }
        headers
    }

    /// The headers set on an ordinary answer to a request from `origin`.
    pub fn response(&self, origin: &str) -> Vec<(&'static str, String)> {
        let Some(allow_origin) = self.allowed_origin(origin) else {
            return Vec::new();
        };
        let mut headers = vec![("access-control-allow-origin", allow_origin)];
        if !self.expose_headers.is_empty() {
            headers.push((
                "access-control-expose-headers",
                self.expose_headers.join(","),
            ));
        }
        if self.allow_credentials {
            headers.push(("access-control-allow-credentials", "true".into()));
        }
        headers
    }
}

/// Sets `cors`'s headers for `origin` on `response`, replacing any the integration set.
pub fn apply(
    cors: &CorsConfig,
    origin: Option<&str>,
    response: &mut http::Response<axum::body::Body>,
) {
    let headers = response.headers_mut();
    let names: Vec<http::HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for name in names {
        headers.remove(name);
    }
    let Some(origin) = origin else {
        return;
    };
    for (name, value) in cors.response(origin) {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors(origins: &[&str], credentials: bool) -> CorsConfig {
        CorsConfig {
            allow_origins: origins.iter().map(|s| (*s).to_owned()).collect(),
            allow_methods: vec!["GET".into(), "POST".into()],
            allow_headers: vec!["authorization".into(), "content-type".into()],
            expose_headers: vec!["x-echo".into()],
            max_age: Some(600),
            allow_credentials: credentials,
        }
    }

    #[test]
    fn origins() {
        let c = cors(&["https://app.example.com", "https://*.example.org"], true);
        assert_eq!(
            c.allowed_origin("https://APP.example.com").as_deref(),
            Some("https://APP.example.com")
        );
        assert_eq!(
            c.allowed_origin("https://a.example.org").as_deref(),
            Some("https://a.example.org")
        );
        for refused in [
            "https://evil.com",
            "http://app.example.com",
            "https://example.org",
            "https://.example.org",
            "https://a.example.org.evil.com",
            "null",
        ] {
            assert_eq!(c.allowed_origin(refused), None, "{refused}");
        }
        assert_eq!(
            cors(&["*"], false).allowed_origin("https://x").as_deref(),
            Some("*")
        );
    }

    #[test]
    fn preflight_and_response_headers() {
        let c = cors(&["https://app.example.com"], true);
        let pre = c.preflight("https://app.example.com");
        assert!(pre.contains(&("access-control-allow-methods", "GET,POST".into())));
        assert!(pre.contains(&(
            "access-control-allow-headers",
            "authorization,content-type".into()
        )));
        assert!(pre.contains(&("access-control-max-age", "600".into())));
        assert!(pre.contains(&("access-control-allow-credentials", "true".into())));
        assert!(c.preflight("https://evil.com").is_empty());
        let resp = c.response("https://app.example.com");
        assert!(resp.contains(&("access-control-expose-headers", "x-echo".into())));
        assert!(!resp
            .iter()
            .any(|(k, _)| *k == "access-control-allow-methods"));
    }

    #[test]
    fn validation() {
        assert!(cors(&["*"], true).validate().is_err());
        assert!(cors(&["example.com"], false).validate().is_err());
        let mut c = cors(&["https://a"], false);
        c.max_age = Some(86401);
        assert!(c.validate().is_err());
        assert!(cors(&["https://a", "*"], false).validate().is_ok());
    }
}
