//! Secret ARNs and the identifiers a request may name a secret by.
//!
//! A secret's ARN is `arn:aws:secretsmanager:<region>:<account>:secret:<name>-<suffix>`, the
//! suffix six random alphanumerics minted at creation, so a secret deleted and re-created under
//! the same name gets another ARN (a policy on the old one does not reach the new one). A
//! `SecretId` is the name, the full ARN, or a *partial* ARN without the suffix; these are the
//! pure rules for which stored names to look at. No I/O.

use rampart_kms::custody::random_bytes;

/// The alphabet of the random suffix.
const SUFFIX_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// The length of the random suffix.
pub const SUFFIX_LEN: usize = 6;

/// `arn:aws:secretsmanager:<region>:<account>:secret:`, what every secret ARN here starts with.
pub fn arn_prefix(region: &str, account_id: &str) -> String {
    format!("arn:aws:secretsmanager:{region}:{account_id}:secret:")
}

/// Six random alphanumerics (rejection-sampled, so every character is equally likely).
pub fn random_suffix() -> String {
    let mut out = String::with_capacity(SUFFIX_LEN);
    let limit = 256 - 256 % SUFFIX_ALPHABET.len();
    while out.len() < SUFFIX_LEN {
        let mut byte = [0u8; 1];
        random_bytes(&mut byte);
        if usize::from(byte[0]) < limit {
            out.push(char::from(
                SUFFIX_ALPHABET[usize::from(byte[0]) % SUFFIX_ALPHABET.len()],
            ));
        }
    }
    out
}

/// A fresh ARN for the secret `name`.
pub fn mint_arn(region: &str, account_id: &str, name: &str) -> String {
    format!(
        "{}{name}-{}",
        arn_prefix(region, account_id),
        random_suffix()
    )
}

/// One stored name a `SecretId` may refer to, and the ARN the stored secret must then have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    /// `Some(arn)` when the identifier was a full ARN: the stored secret must carry exactly it.
    pub exact_arn: Option<String>,
}

/// The names to look up for `secret_id`, in order; the first stored secret that matches wins.
/// An ARN of another account, region or service names nothing here.
pub fn candidates(secret_id: &str, region: &str, account_id: &str) -> Vec<Candidate> {
    if !secret_id.starts_with("arn:") {
        return vec![Candidate {
            name: secret_id.to_owned(),
            exact_arn: None,
        }];
    }
    let prefix = arn_prefix(region, account_id);
    let Some(rest) = secret_id.strip_prefix(&prefix) else {
        return Vec::new();
    };
    let mut found = Vec::with_capacity(2);
    if let Some(name) = strip_suffix(rest) {
        found.push(Candidate {
            name: name.to_owned(),
            exact_arn: Some(secret_id.to_owned()),
        });
    }
    if !rest.is_empty() {
        // A partial ARN: the name itself, whatever suffix the stored secret has.
        found.push(Candidate {
            name: rest.to_owned(),
            exact_arn: None,
        });
    }
    found
}

/// The name in `<name>-<suffix>`, if `text` ends with a well-formed suffix.
fn strip_suffix(text: &str) -> Option<&str> {
    let split = text.len().checked_sub(SUFFIX_LEN + 1)?;
    if split == 0 || !text.is_char_boundary(split) {
        return None;
    }
    let (name, tail) = text.split_at(split);
    let suffix = tail.strip_prefix('-')?;
    suffix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric())
        .then_some(name)
}

/// The ARN a check is made on for an identifier that names no stored secret: the ARN itself,
/// or the name under this installation's prefix.
pub fn unresolved_arn(secret_id: &str, region: &str, account_id: &str) -> String {
    if secret_id.starts_with("arn:") {
        secret_id.to_owned()
    } else {
        format!("{}{secret_id}", arn_prefix(region, account_id))
    }
}

/// Checks a secret name: 1–512 characters of letters, digits and `/_+=.@-`, not ending in a
/// hyphen followed by six characters (which AWS warns reads as an ARN suffix — allowed, but a
/// partial-ARN lookup may then be ambiguous, exactly as on AWS).
pub fn check_name(name: &str) -> Result<(), crate::SecretsError> {
    let len = name.chars().count();
    if len == 0 || len > 512 {
        return Err(crate::SecretsError::constraint(
            name,
            "name",
            "Member must have length between 1 and 512",
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c))
    {
        return Err(crate::SecretsError::InvalidParameter(
            "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGION: &str = "us-east-1";
    const ACCOUNT: &str = "123456789012";

    #[test]
    fn minted_arns_carry_a_six_character_suffix() {
        let arn = mint_arn(REGION, ACCOUNT, "db/password");
        let rest = arn
            .strip_prefix("arn:aws:secretsmanager:us-east-1:123456789012:secret:db/password-")
            .unwrap();
        assert_eq!(rest.len(), 6);
        assert!(rest.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(arn, mint_arn(REGION, ACCOUNT, "db/password"));
    }

    #[test]
    fn a_name_is_looked_up_as_itself() {
        assert_eq!(
            candidates("prod/db", REGION, ACCOUNT),
            vec![Candidate {
                name: "prod/db".into(),
                exact_arn: None
            }]
        );
    }

    #[test]
    fn a_full_arn_must_match_exactly_and_also_reads_as_a_partial_one() {
        let arn = format!("{}prod/db-AbC123", arn_prefix(REGION, ACCOUNT));
        assert_eq!(
            candidates(&arn, REGION, ACCOUNT),
            vec![
                Candidate {
                    name: "prod/db".into(),
                    exact_arn: Some(arn.clone())
                },
                Candidate {
                    name: "prod/db-AbC123".into(),
                    exact_arn: None
                },
            ]
        );
    }

    #[test]
    fn a_partial_arn_names_the_secret_without_its_suffix() {
        let arn = format!("{}prod/db", arn_prefix(REGION, ACCOUNT));
        assert_eq!(
            candidates(&arn, REGION, ACCOUNT),
            vec![Candidate {
                name: "prod/db".into(),
                exact_arn: None
            }]
        );
    }

    #[test]
    fn arns_of_other_accounts_regions_or_services_name_nothing() {
        for arn in [
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbC123",
            "arn:aws:secretsmanager:us-east-1:999999999999:secret:x-AbC123",
            "arn:aws:kms:us-east-1:123456789012:secret:x-AbC123",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:",
        ] {
            assert!(candidates(arn, REGION, ACCOUNT).is_empty(), "{arn}");
        }
    }

    #[test]
    fn suffixes_are_six_alphanumerics_after_a_hyphen() {
        assert_eq!(strip_suffix("a-AbC123"), Some("a"));
        assert_eq!(strip_suffix("-AbC123"), None);
        assert_eq!(strip_suffix("a_AbC123"), None);
        assert_eq!(strip_suffix("a-AbC12!"), None);
        assert_eq!(strip_suffix("AbC123"), None);
        assert_eq!(strip_suffix("é-AbC123"), Some("é"));
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("prod/db_pass+1=x.y@z-w").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("has space").is_err());
        assert!(check_name(&"a".repeat(513)).is_err());
    }
}
