//! Where the store lives: parsing the one URL an operator configures.
//!
//! Pure string handling, kept apart from the backends so it can be unit-tested without a
//! database and so `open` and `PostgresStore::connect` agree on what a URL means.

use std::path::PathBuf;

use crate::StoreError;

/// A parsed store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite database file (relative paths are relative to the working directory).
    Sqlite(PathBuf),
    /// A PostgreSQL database; `url` has the `schema` parameter removed because sqlx does not
    /// know it and would reject it.
    Postgres { url: String, schema: Option<String> },
}

impl Location {
    /// Parses `sqlite:///abs/path.db`, `sqlite://relative.db`, `sqlite:relative.db`, a bare
    /// filesystem path, or `postgres://…`/`postgresql://…` with an optional `schema=NAME`.
    ///
    /// In-memory SQLite is refused: it would not persist, and the read pool would see a
    /// different (empty) database from the writer.
    pub fn parse(url: &str) -> Result<Location, StoreError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(StoreError::InvalidUrl("empty store URL".into()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let (url, schema) = split_schema(url)?;
            return Ok(Location::Postgres { url, schema });
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(StoreError::InvalidUrl(format!("{url}: no database path")));
            }
            if path.contains(":memory:") || path.contains("mode=memory") {
                return Err(StoreError::InvalidUrl(format!(
                    "{url}: in-memory SQLite does not persist; give a file path"
                )));
            }
            if path.contains('?') {
                return Err(StoreError::InvalidUrl(format!(
                    "{url}: SQLite URL parameters are not supported (Rampart sets its own)"
                )));
            }
            return Ok(Location::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(StoreError::InvalidUrl(format!(
                "unsupported scheme {scheme:?}: use sqlite://, postgres:// or a file path"
            )));
        }
        Ok(Location::Sqlite(PathBuf::from(url)))
    }
}

/// Removes the `schema` query parameter from a PostgreSQL URL, returning the remaining URL and
/// the validated schema name.
pub(crate) fn split_schema(url: &str) -> Result<(String, Option<String>), StoreError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None));
    };
    let mut schema = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("schema", value)) => {
                if schema.is_some() {
                    return Err(StoreError::InvalidUrl("schema given twice".into()));
                }
                schema = Some(validate_schema(value)?.to_owned());
            }
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, schema))
}

/// Accepts only plain identifiers (`[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes) so the name can
/// be quoted into `CREATE SCHEMA` and `search_path` without any escaping questions.
pub(crate) fn validate_schema(name: &str) -> Result<&str, StoreError> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if first_ok && rest_ok && name.len() <= 63 {
        Ok(name)
    } else {
        Err(StoreError::InvalidUrl(format!(
            "schema {name:?}: use letters, digits and _ (not first), at most 63"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(p: &str) -> Location {
        Location::Sqlite(PathBuf::from(p))
    }

    #[test]
    fn sqlite_forms() {
        assert_eq!(
            Location::parse("sqlite:///abs/r.db").ok(),
            Some(sqlite("/abs/r.db"))
        );
        assert_eq!(
            Location::parse("sqlite://rel.db").ok(),
            Some(sqlite("rel.db"))
        );
        assert_eq!(
            Location::parse("sqlite:rel.db").ok(),
            Some(sqlite("rel.db"))
        );
        assert_eq!(
            Location::parse("/var/lib/r.db").ok(),
            Some(sqlite("/var/lib/r.db"))
        );
        assert_eq!(Location::parse("data/r.db").ok(), Some(sqlite("data/r.db")));
    }

    #[test]
    fn rejects_unusable_urls() {
        for bad in [
            "",
            "  ",
            "sqlite://",
            "sqlite::memory:",
            "sqlite://x.db?mode=rwc",
            "mysql://host/db",
            "postgres://h/db?schema=a;drop",
            "postgres://h/db?schema=1abc",
            "postgres://h/db?schema=a&schema=b",
        ] {
            assert!(
                matches!(Location::parse(bad), Err(StoreError::InvalidUrl(_))),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn postgres_schema_is_stripped() {
        let parsed = Location::parse("postgresql://u@h:5432/db?sslmode=disable&schema=tenant_1");
        assert_eq!(
            parsed.ok(),
            Some(Location::Postgres {
                url: "postgresql://u@h:5432/db?sslmode=disable".into(),
                schema: Some("tenant_1".into()),
            })
        );
        let parsed = Location::parse("postgres://h/db?schema=_a");
        assert_eq!(
            parsed.ok(),
            Some(Location::Postgres {
                url: "postgres://h/db".into(),
                schema: Some("_a".into()),
            })
        );
        let parsed = Location::parse("postgres://h/db");
        assert_eq!(
            parsed.ok(),
            Some(Location::Postgres {
                url: "postgres://h/db".into(),
                schema: None,
            })
        );
    }
}
