//! `sts:AssumeRole`, decoded once into [`AssumeRole`]: the role it names is loaded once, its
//! trust policy is what authorization evaluates, and that same role is what the session is
//! issued for.
//!
//! As AWS enforces it: session tags and `TransitiveTagKeys` also need `sts:TagSession`, a
//! `SourceIdentity` also needs `sts:SetSourceIdentity` (each allowed by the caller's policies
//! and the role's trust policy); a role session assuming another role (role chaining) is
//! capped at one hour and carries its source identity and transitive tags into the new
//! session; invalid tags are refused, never dropped.

use rampart_core::{CallerIdentity, PrincipalType};
use rampart_policy::{check_size, parse_policy, PolicyKind, SizeLimit};
use rampart_wire::protocol::query::{KeyValueMember, QueryParams};
use rampart_wire::{Check, ResourcePolicy, ResourcePolicyKind};

use super::error::StsError;
use crate::entities::{Role, Tag};

/// AWS's limit on session tags, and on transitive tag keys.
const MAX_SESSION_TAGS: usize = 50;
/// A chained role session lasts at most an hour, whatever the role allows.
const CHAINED_MAX_SECONDS: i64 = 3600;

/// A decoded `AssumeRole` request, with what it inherits from a calling role session.
#[derive(Debug, Clone)]
pub(crate) struct AssumeRole {
    pub role_arn: String,
    /// The role under exactly that ARN, loaded once: None if it does not exist.
    pub role: Option<Role>,
    pub session_name: String,
    pub duration_seconds: i64,
    pub session_policy: Option<String>,
    pub policy_arns: Vec<String>,
    pub external_id: Option<String>,
    /// The new session's tags: the caller's transitive tags, then the requested ones.
    pub tags: Vec<Tag>,
    /// The new session's transitive keys: inherited, then requested.
    pub transitive_tag_keys: Vec<String>,
    /// The new session's source identity (inherited when chaining).
    pub source_identity: Option<String>,
}

/// `[\w+=,.@-]{min,max}`, AWS's pattern for session names and source identities.
pub(crate) fn check_name(field: &str, value: &str, min: usize, max: usize) -> Result<(), StsError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if value.len() < min || value.len() > max || !value.chars().all(ok_char) {
        return Err(StsError::pattern(field, value, min, max));
    }
    Ok(())
}

/// STS's tag pattern `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`.
fn tag_chars_ok(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
}

/// Session tags: `Tags.member.N.Key` / `.Value`, validated; a malformed list is refused.
fn session_tags(p: &QueryParams) -> Result<Vec<Tag>, StsError> {
    let indexed = p
        .key_value_members("Tags")
        .map_err(|m| StsError::InvalidParameterValue(format!("Invalid tag member {}.", m.0)))?;
    if indexed.len() > MAX_SESSION_TAGS {
        return Err(StsError::ValidationError(format!(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to {MAX_SESSION_TAGS}"
        )));
    }
    let mut tags: Vec<Tag> = Vec::with_capacity(indexed.len());
    for KeyValueMember { key, value } in indexed {
        let key = key
            .ok_or_else(|| StsError::ValidationError("A session tag is missing its Key.".into()))?;
        let value = value.ok_or_else(|| {
            StsError::ValidationError(format!("Session tag {key:?} is missing its Value."))
        })?;
        if key.is_empty() || key.chars().count() > 128 || !tag_chars_ok(&key) {
            return Err(StsError::ValidationError(format!(
                "1 validation error detected: Value '{key}' at 'tags.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]+ and have length between 1 and 128"
            )));
        }
        if value.chars().count() > 256 || !tag_chars_ok(&value) {
            return Err(StsError::ValidationError(format!(
                "1 validation error detected: Value '{value}' at 'tags.value' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]* and have length between 0 and 256"
            )));
        }
        if tags.iter().any(|t| t.key.eq_ignore_ascii_case(&key)) {
            return Err(StsError::InvalidParameterValue(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into(),
            ));
        }
        tags.push(Tag { key, value });
    }
    Ok(tags)
}

impl AssumeRole {
    /// Reads and validates the members. The role is loaded afterwards, once, by the service.
    pub fn decode(
        p: &QueryParams,
        caller: &CallerIdentity,
        min_session_seconds: u32,
    ) -> Result<Self, StsError> {
        let role_arn = p.required("RoleArn")?.to_owned();
        if role_arn.len() < 20 || role_arn.len() > 2048 {
            return Err(StsError::ValidationError(format!(
                "1 validation error detected: Value '{role_arn}' at 'roleArn' failed to satisfy constraint: Member must have length between 20 and 2048"
            )));
        }
        let session_name = p.required("RoleSessionName")?.to_owned();
        check_name("roleSessionName", &session_name, 2, 64)?;
        let chained = caller.principal_type == PrincipalType::AssumedRole;
        let duration_seconds = p
            .integer("DurationSeconds", i64::from(min_session_seconds), 43_200)
            .map_err(|e| {
                StsError::ValidationError(e.for_protocol(rampart_wire::ProtocolKind::Query).message)
            })?
            .unwrap_or(3600);
        if chained && duration_seconds > CHAINED_MAX_SECONDS {
            return Err(StsError::ValidationError(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.".into(),
            ));
        }
        let session_policy = p.get("Policy").map(str::to_owned);
        if let Some(document) = &session_policy {
            check_size(document, SizeLimit::SessionPolicy)
                .map_err(|e| StsError::PackedPolicyTooLarge(e.to_string()))?;
            parse_policy(document, PolicyKind::Session)
                .map_err(|e| StsError::MalformedPolicyDocument(e.aws_message()))?;
        }
        let policy_arns: Vec<String> = p
            .list("PolicyArns")
            .into_iter()
            .map(str::to_owned)
            .collect();
        // botocore sends PolicyArns.member.N.arn.
        let policy_arns = if policy_arns.is_empty() {
            (1..)
                .map_while(|n| {
                    p.get(&format!("PolicyArns.member.{n}.arn"))
                        .map(str::to_owned)
                })
                .take(11)
                .collect()
        } else {
            policy_arns
        };
        if policy_arns.len() > 10 {
            return Err(StsError::ValidationError(
                "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10".into(),
            ));
        }
        let external_id = p.get("ExternalId").map(str::to_owned);
        if let Some(id) = &external_id {
            let ok = |c: char| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c);
            if id.len() < 2 || id.len() > 1224 || !id.chars().all(ok) {
                return Err(StsError::ValidationError(format!(
                    "1 validation error detected: Value '{id}' at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]* and have length between 2 and 1224"
                )));
            }
        }
        let requested_source = p.get("SourceIdentity").map(str::to_owned);
        if let Some(si) = &requested_source {
            check_name("sourceIdentity", si, 2, 64)?;
            if si.to_ascii_lowercase().starts_with("aws:") {
                return Err(StsError::ValidationError(
                    "SourceIdentity must not begin with the prefix aws:".into(),
                ));
            }
        }
        let requested_tags = session_tags(p)?;
        let requested_transitive_keys: Vec<String> = p
            .list("TransitiveTagKeys")
            .into_iter()
            .map(str::to_owned)
            .collect();
        if requested_transitive_keys.len() > MAX_SESSION_TAGS {
            return Err(StsError::ValidationError(format!(
                "1 validation error detected: Value at 'transitiveTagKeys' failed to satisfy constraint: Member must have length less than or equal to {MAX_SESSION_TAGS}"
            )));
        }
        for key in &requested_transitive_keys {
            if !requested_tags
                .iter()
                .any(|t| t.key.eq_ignore_ascii_case(key))
            {
                return Err(StsError::InvalidParameterValue(format!(
                    "The transitive tag key {key} is not one of the session tags of this request."
                )));
            }
        }

        // Role chaining: the caller's source identity and transitive tags carry over, and
        // neither may be changed by the new link.
        let inherited = &caller.lineage;
        let source_identity = match (&inherited.source_identity, requested_source) {
            (Some(old), Some(new)) if *old != new => {
                return Err(StsError::InvalidParameterValue(
                    "The source identity of a role session cannot be changed when chaining roles."
                        .into(),
                ))
            }
            (Some(old), _) => Some(old.clone()),
            (None, new) => new,
        };
        let mut tags: Vec<Tag> = Vec::new();
        let mut transitive_tag_keys: Vec<String> = Vec::new();
        for (key, value) in &inherited.transitive_tags {
            if requested_tags
                .iter()
                .any(|t| t.key.eq_ignore_ascii_case(key))
            {
                return Err(StsError::InvalidParameterValue(format!(
                    "The session tag {key} is transitive from the calling session and cannot be set again."
                )));
            }
            tags.push(Tag {
                key: key.clone(),
                value: value.clone(),
            });
            transitive_tag_keys.push(key.clone());
        }
        tags.extend(requested_tags);
        if tags.len() > MAX_SESSION_TAGS {
            return Err(StsError::ValidationError(format!(
                "A session may carry at most {MAX_SESSION_TAGS} tags, transitive ones included."
            )));
        }
        transitive_tag_keys.extend(requested_transitive_keys);

        Ok(AssumeRole {
            role_arn,
            role: None,
            session_name,
            duration_seconds,
            session_policy,
            policy_arns,
            external_id,
            tags,
            transitive_tag_keys,
            source_identity,
        })
    }

    /// `sts:AssumeRole` on the role, with its trust policy; `sts:TagSession` when the session
    /// gets tags (requested or transitive); `sts:SetSourceIdentity` when it gets a source
    /// identity (requested or carried through a chain).
    pub fn checks(&self) -> Vec<Check> {
        let trust = ResourcePolicy {
            kind: ResourcePolicyKind::Trust,
            document: self
                .role
                .as_ref()
                .map(|r| r.assume_role_policy_document.clone()),
        };
        let on_role = |action: &str| {
            let mut check = Check::on(action, &self.role_arn).with_resource_policy(trust.clone());
            if let Some(role) = &self.role {
                for tag in &role.tags {
                    check.push_key(format!("aws:ResourceTag/{}", tag.key), &tag.value);
                    check.push_key(format!("iam:ResourceTag/{}", tag.key), &tag.value);
                }
            }
            check.push_key("sts:RoleSessionName", &self.session_name);
            if let Some(id) = &self.external_id {
                check.push_key("sts:ExternalId", id);
            }
            if let Some(si) = &self.source_identity {
                check.push_key("sts:SourceIdentity", si);
            }
            for tag in &self.tags {
                check.push_key(format!("aws:RequestTag/{}", tag.key), &tag.value);
                check.push_key("aws:TagKeys", &tag.key);
            }
            for key in &self.transitive_tag_keys {
                check.push_key("sts:TransitiveTagKeys", key);
            }
            check
        };
        let mut checks = vec![on_role("sts:AssumeRole")];
        if !self.tags.is_empty() || !self.transitive_tag_keys.is_empty() {
            checks.push(on_role("sts:TagSession"));
        }
        if self.source_identity.is_some() {
            checks.push(on_role("sts:SetSourceIdentity"));
        }
        checks
    }
}

/// The role name at the end of a role ARN (`arn:aws:iam::1:role/path/name` → `name`).
pub(crate) fn role_name(role_arn: &str) -> Option<&str> {
    let arn = role_arn.strip_prefix("arn:aws:iam::")?;
    let (_, resource) = arn.split_once(':')?;
    let path = resource.strip_prefix("role/")?;
    path.rsplit('/').next().filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(form: &str) -> QueryParams {
        QueryParams::parse(&[form.as_bytes()]).unwrap()
    }

    fn caller(kind: PrincipalType) -> CallerIdentity {
        CallerIdentity {
            account_id: "123456789012".into(),
            arn: "arn:aws:sts::123456789012:assumed-role/a/s".into(),
            user_id: "AROAX:s".into(),
            principal_type: kind,
            name: "a".into(),
            access_key_id: "ASIAX".into(),
            temporary: true,
            session_name: Some("s".into()),
            token_issue_time: None,
            source_ip: [127, 0, 0, 1].into(),
            secure_transport: false,
            mfa_present: false,
            lineage: Default::default(),
        }
    }

    const BASE: &str = "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Ft&RoleSessionName=s1";

    #[test]
    fn role_names_from_arns() {
        assert_eq!(role_name("arn:aws:iam::123456789012:role/app"), Some("app"));
        assert_eq!(
            role_name("arn:aws:iam::123456789012:role/a/b/app"),
            Some("app")
        );
        assert_eq!(role_name("arn:aws:iam::123456789012:user/app"), None);
        assert_eq!(role_name("arn:aws:iam::123456789012:role/"), None);
        assert_eq!(role_name("nonsense"), None);
    }

    #[test]
    fn session_names() {
        assert!(check_name("roleSessionName", "ci-job@42", 2, 64).is_ok());
        assert!(check_name("roleSessionName", "x", 2, 64).is_err());
        assert!(check_name("roleSessionName", "has space", 2, 64).is_err());
        assert!(check_name("roleSessionName", &"a".repeat(65), 2, 64).is_err());
    }

    #[test]
    fn tags_and_source_identity_add_checks() {
        let user = caller(PrincipalType::User);
        let plain = AssumeRole::decode(&params(BASE), &user, 900).unwrap();
        assert_eq!(plain.checks().len(), 1);
        let tagged = AssumeRole::decode(
            &params(&format!(
                "{BASE}&Tags.member.1.Key=team&Tags.member.1.Value=x&SourceIdentity=alice"
            )),
            &user,
            900,
        )
        .unwrap();
        let actions: Vec<_> = tagged.checks().into_iter().map(|c| c.action).collect();
        assert_eq!(
            actions,
            ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]
        );
        let transitive_only = AssumeRole::decode(
            &params(&format!("{BASE}&TransitiveTagKeys.member.1=team")),
            &user,
            900,
        );
        assert!(matches!(
            transitive_only,
            Err(StsError::InvalidParameterValue(_))
        ));
    }

    #[test]
    fn invalid_tags_are_refused() {
        let user = caller(PrincipalType::User);
        for bad in [
            "Tags.member.1.Key=&Tags.member.1.Value=x",
            "Tags.member.1.Key=a%21b&Tags.member.1.Value=x",
            "Tags.member.1.Key=a&Tags.member.1.Value=x&Tags.member.2.Key=A&Tags.member.2.Value=y",
            "Tags.member.1.Value=x",
            "Tags.member.x.Key=a",
        ] {
            let r = AssumeRole::decode(&params(&format!("{BASE}&{bad}")), &user, 900);
            assert!(r.is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn chaining_caps_duration_and_carries_lineage() {
        let mut session = caller(PrincipalType::AssumedRole);
        session.lineage.source_identity = Some("alice".into());
        session.lineage.transitive_tags = vec![("team".into(), "x".into())];
        let long = AssumeRole::decode(
            &params(&format!("{BASE}&DurationSeconds=3601")),
            &session,
            900,
        );
        assert!(matches!(long, Err(StsError::ValidationError(_))));
        let chained = AssumeRole::decode(&params(BASE), &session, 900).unwrap();
        assert_eq!(chained.source_identity.as_deref(), Some("alice"));
        assert_eq!(chained.tags[0].key, "team");
        assert_eq!(chained.transitive_tag_keys, ["team"]);
        assert_eq!(chained.checks().len(), 3);
        let changed = AssumeRole::decode(
            &params(&format!("{BASE}&SourceIdentity=mallory")),
            &session,
            900,
        );
        assert!(changed.is_err());
        let override_tag = AssumeRole::decode(
            &params(&format!(
                "{BASE}&Tags.member.1.Key=TEAM&Tags.member.1.Value=y"
            )),
            &session,
            900,
        );
        assert!(override_tag.is_err());
    }
}
