//! Reading and validating request members the way IAM does: name patterns, paths, tags,
//! policy ARNs. Pure functions, so the rules are unit-tested here rather than through a server.

use rampart_wire::protocol::query::QueryParams;

use super::error::{lower_first, IamError};
use crate::entities::Tag;

/// The most tags an IAM user, role or policy may carry.
pub const MAX_TAGS: usize = 50;

/// A required member.
pub fn required<'a>(p: &'a QueryParams, member: &str) -> Result<&'a str, IamError> {
    p.get(member).ok_or_else(|| IamError::missing(member))
}

/// An entity name (`UserName`, `GroupName`, `RoleName`, `PolicyName`): IAM's
/// `[\w+=,.@-]+` between 1 and `max` characters.
pub fn name<'a>(p: &'a QueryParams, member: &str, max: usize) -> Result<&'a str, IamError> {
    let value = required(p, member)?;
    check_name(member, value, max)?;
    Ok(value)
}

/// An optional entity name.
pub fn optional_name<'a>(
    p: &'a QueryParams,
    member: &str,
    max: usize,
) -> Result<Option<&'a str>, IamError> {
    match p.get(member) {
        Some(value) => check_name(member, value, max).map(|()| Some(value)),
        None => Ok(None),
    }
}

/// Checks a name against IAM's `[\w+=,.@-]+` pattern and length.
pub fn check_name(member: &str, value: &str, max: usize) -> Result<(), IamError> {
    let len = value.chars().count();
    if len == 0 || len > max {
        return Err(IamError::constraint(
            &lower_first(member),
            value,
            &format!("Member must have length between 1 and {max}"),
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
    {
        return Err(IamError::constraint(
            &lower_first(member),
            value,
            r"Member must satisfy regular expression pattern: [\w+=,.@-]+",
        ));
    }
    Ok(())
}

/// An entity path: `/` or `/a/b/`, printable ASCII, at most 512 characters. Absent means `/`.
pub fn path(p: &QueryParams, member: &str) -> Result<String, IamError> {
    match p.get(member) {
        None => Ok("/".to_owned()),
        Some(value) => check_path(member, value).map(|()| value.to_owned()),
    }
}

/// Checks IAM's path pattern `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`.
pub fn check_path(member: &str, value: &str) -> Result<(), IamError> {
    let printable = value.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if value.is_empty() || value.len() > 512 || !printable {
        return Err(IamError::constraint(
            &lower_first(member),
            value,
            r"Member must satisfy regular expression pattern: (\u002F)|(\u002F[\u0021-\u007E]+\u002F)",
        ));
    }
    if !value.starts_with('/') || !value.ends_with('/') {
        return Err(IamError::ValidationError(
            "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.".into(),
        ));
    }
    Ok(())
}

/// A `PathPrefix`: starts with `/`, printable ASCII. Absent means every path.
pub fn path_prefix(p: &QueryParams) -> Result<String, IamError> {
    match p.get("PathPrefix") {
        None => Ok("/".to_owned()),
        Some(value)
            if value.starts_with('/')
                && value.len() <= 512
                && value.bytes().all(|b| (0x21..=0x7f).contains(&b)) =>
        {
            Ok(value.to_owned())
        }
        Some(value) => Err(IamError::constraint(
            "pathPrefix",
            value,
            r"Member must satisfy regular expression pattern: \u002F[\u0021-\u007F]*",
        )),
    }
}

/// `Tags.member.N.Key` / `.Value`, validated: keys 1..=128 characters, values up to 256,
/// no key twice (keys compare case-insensitively, as IAM does).
pub fn tags(p: &QueryParams) -> Result<Vec<Tag>, IamError> {
    // IAM tolerates stray `Tags.member.*` parameters; a missing Key or Value reads as empty.
    let tags: Vec<Tag> = p
        .key_value_members_lenient("Tags")
        .into_iter()
        .map(|m| Tag {
            key: m.key.unwrap_or_default(),
            value: m.value.unwrap_or_default(),
        })
        .collect();
    check_tags(&tags)?;
    Ok(tags)
}

fn check_tags(tags: &[Tag]) -> Result<(), IamError> {
    for (i, tag) in tags.iter().enumerate() {
        let key_len = tag.key.chars().count();
        if key_len == 0 || key_len > 128 {
            return Err(IamError::constraint(
                &format!("tags.{}.member.key", i + 1),
                &tag.key,
                "Member must have length between 1 and 128",
            ));
        }
        if tag.value.chars().count() > 256 {
            return Err(IamError::constraint(
                &format!("tags.{}.member.value", i + 1),
                &tag.value,
                "Member must have length less than or equal to 256",
            ));
        }
        if tags[..i]
            .iter()
            .any(|t| t.key.eq_ignore_ascii_case(&tag.key))
        {
            return Err(IamError::InvalidInput(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into(),
            ));
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(IamError::LimitExceeded(format!(
            "The number of tags has reached the maximum limit of {MAX_TAGS}."
        )));
    }
    Ok(())
}

/// Adds or replaces `new` tags on `existing` (keys compare case-insensitively).
pub fn merge_tags(existing: &mut Vec<Tag>, new: Vec<Tag>) -> Result<(), IamError> {
    for tag in new {
        match existing
            .iter_mut()
            .find(|t| t.key.eq_ignore_ascii_case(&tag.key))
        {
            Some(t) => *t = tag,
            None => existing.push(tag),
        }
    }
    if existing.len() > MAX_TAGS {
        return Err(IamError::LimitExceeded(format!(
            "The number of tags has reached the maximum limit of {MAX_TAGS}."
        )));
    }
    Ok(())
}

/// A policy ARN as given (`PolicyArn`, `PermissionsBoundary`): IAM refuses what is not an ARN
/// before looking anything up.
pub fn policy_arn<'a>(p: &'a QueryParams, member: &str) -> Result<&'a str, IamError> {
    let value = required(p, member)?;
    check_policy_arn(value)?;
    Ok(value)
}

/// Checks that `value` looks like an IAM policy ARN.
pub fn check_policy_arn(value: &str) -> Result<(), IamError> {
    match rampart_core::Arn::parse(value) {
        Ok(arn) if arn.service == "iam" && arn.resource.starts_with("policy/") => Ok(()),
        _ => Err(IamError::InvalidInput(format!("ARN {value} is not valid."))),
    }
}

/// An optional boolean member (`true`/`false`).
pub fn boolean(p: &QueryParams, member: &str) -> Result<Option<bool>, IamError> {
    match p.get(member) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(IamError::constraint(
            &lower_first(member),
            other,
            "Member must be a boolean",
        )),
    }
}

/// An optional integer member within `min..=max`, with AWS's messages.
pub fn integer(p: &QueryParams, member: &str, min: i64, max: i64) -> Result<Option<i64>, IamError> {
    let Some(raw) = p.get(member) else {
        return Ok(None);
    };
    let Ok(value) = raw.parse::<i64>() else {
        return Err(IamError::constraint(
            &lower_first(member),
            raw,
            "Member must be a number",
        ));
    };
    if value < min {
        return Err(IamError::constraint(
            &lower_first(member),
            raw,
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if value > max {
        return Err(IamError::constraint(
            &lower_first(member),
            raw,
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(raw: &str) -> QueryParams {
        QueryParams::parse(&[raw.as_bytes()]).unwrap()
    }

    #[test]
    fn names_follow_iam_pattern() {
        assert!(check_name("UserName", "bob+1=x,y.z@w-_", 64).is_ok());
        assert!(check_name("UserName", "a b", 64).is_err());
        assert!(check_name("UserName", "", 64).is_err());
        assert!(check_name("UserName", &"a".repeat(64), 64).is_ok());
        assert!(check_name("UserName", &"a".repeat(65), 64).is_err());
        assert!(check_name("UserName", "é", 64).is_err());
        let err = check_name("RoleName", "x/y", 64).unwrap_err();
        assert!(err.to_string().contains("at 'roleName'"), "{err}");
    }

    #[test]
    fn paths_begin_and_end_with_slash() {
        assert!(check_path("Path", "/").is_ok());
        assert!(check_path("Path", "/dev/team/").is_ok());
        assert!(matches!(
            check_path("Path", "dev/"),
            Err(IamError::ValidationError(_))
        ));
        assert!(check_path("Path", "/dev").is_err());
        assert!(check_path("Path", "/a b/").is_err());
        assert!(check_path("Path", "").is_err());
        assert_eq!(path(&params(""), "Path").unwrap(), "/");
        assert_eq!(path_prefix(&params("PathPrefix=%2Fdev")).unwrap(), "/dev");
        assert!(path_prefix(&params("PathPrefix=dev")).is_err());
    }

    #[test]
    fn tags_are_read_in_order_and_checked() {
        let t = tags(&params(
            "Tags.member.2.Key=b&Tags.member.2.Value=2&Tags.member.1.Key=a&Tags.member.1.Value=",
        ))
        .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].key.as_str(), t[0].value.as_str()), ("a", ""));
        assert_eq!(t[1].key, "b");
        assert!(matches!(
            tags(&params("Tags.member.1.Key=a&Tags.member.2.Key=A")),
            Err(IamError::InvalidInput(_))
        ));
        assert!(tags(&params("Tags.member.1.Value=x")).is_err());
        let mut existing = vec![Tag {
            key: "Env".into(),
            value: "a".into(),
        }];
        merge_tags(
            &mut existing,
            vec![Tag {
                key: "env".into(),
                value: "b".into(),
            }],
        )
        .unwrap();
        assert_eq!(existing.len(), 1);
        assert_eq!(existing[0].value, "b");
    }

    #[test]
    fn policy_arns_and_numbers() {
        assert!(check_policy_arn("arn:aws:iam::aws:policy/AdministratorAccess").is_ok());
        assert!(check_policy_arn("arn:aws:iam::123456789012:policy/a/b").is_ok());
        assert!(matches!(
            check_policy_arn("nope"),
            Err(IamError::InvalidInput(_))
        ));
        assert!(check_policy_arn("arn:aws:iam::123456789012:user/x").is_err());
        let p = params("M=3599&N=x&B=true&C=yes");
        assert!(integer(&p, "M", 3600, 43200).is_err());
        assert!(integer(&p, "N", 0, 1).is_err());
        assert_eq!(boolean(&p, "B").unwrap(), Some(true));
        assert!(boolean(&p, "C").is_err());
    }
}
