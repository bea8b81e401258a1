//! Amazon Resource Names: `arn:partition:service:region:account-id:resource`.

use std::fmt;

/// A parsed ARN. The resource part keeps its `/` and `:` separators as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arn {
    pub partition: String,
    pub service: String,
    pub region: String,
    pub account_id: String,
    pub resource: String,
}

/// Why a string is not an ARN.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid ARN {0:?}: expected arn:partition:service:region:account-id:resource")]
pub struct ArnParseError(pub String);

impl Arn {
    /// The partition Rampart uses for every ARN it mints.
    pub const PARTITION: &'static str = "aws";

    pub fn new(service: &str, region: &str, account_id: &str, resource: &str) -> Self {
        Arn {
            partition: Self::PARTITION.to_owned(),
            service: service.to_owned(),
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            resource: resource.to_owned(),
        }
    }

    pub fn parse(s: &str) -> Result<Self, ArnParseError> {
        let mut parts = s.splitn(6, ':');
        let err = || ArnParseError(s.to_owned());
        if parts.next() != Some("arn") {
            return Err(err());
        }
        let partition = parts.next().ok_or_else(err)?;
        let service = parts.next().ok_or_else(err)?;
        let region = parts.next().ok_or_else(err)?;
        let account_id = parts.next().ok_or_else(err)?;
        let resource = parts.next().ok_or_else(err)?;
        if partition.is_empty() || service.is_empty() || resource.is_empty() {
            return Err(err());
        }
        Ok(Arn {
            partition: partition.to_owned(),
            service: service.to_owned(),
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            resource: resource.to_owned(),
        })
    }
}

/// The ARN of a role session: `arn:aws:sts::<account>:assumed-role/<role-name>/<session-name>`.
///
/// The role's path is not part of it, as on AWS: a session of `role/app/worker` is
/// `assumed-role/worker/<session>`.
pub fn assumed_role_arn(account_id: &str, role_name: &str, session_name: &str) -> String {
    format!(
        "arn:{}:sts::{account_id}:assumed-role/{role_name}/{session_name}",
        Arn::PARTITION
    )
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account_id, self.resource
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let s = "arn:aws:iam::123456789012:user/path/alice";
        let arn = Arn::parse(s).unwrap();
        assert_eq!(arn.service, "iam");
        assert_eq!(arn.region, "");
        assert_eq!(arn.resource, "user/path/alice");
        assert_eq!(arn.to_string(), s);
        // The resource may itself contain colons.
        let arn = Arn::parse("arn:aws:logs:us-east-1:1:log-group:x:*").unwrap();
        assert_eq!(arn.resource, "log-group:x:*");
    }

    #[test]
    fn assumed_role_arns() {
        let arn = assumed_role_arn("123456789012", "worker", "build-7");
        assert_eq!(arn, "arn:aws:sts::123456789012:assumed-role/worker/build-7");
        let parsed = Arn::parse(&arn).unwrap();
        assert_eq!(parsed.service, "sts");
        assert_eq!(parsed.region, "");
        assert_eq!(parsed.account_id, "123456789012");
        assert_eq!(parsed.resource, "assumed-role/worker/build-7");
    }

    #[test]
    fn rejects_non_arns() {
        for bad in [
            "",
            "arn",
            "arn:aws",
            "foo:aws:iam::1:user/a",
            "arn:aws:iam::1:",
            "arn::iam::1:x",
        ] {
            assert!(Arn::parse(bad).is_err(), "{bad}");
        }
    }
}
