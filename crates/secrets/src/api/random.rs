//! GetRandomPassword: a password from the operating system's random source, drawn by
//! rejection sampling so every allowed character is equally likely.

use rampart_kms::custody::random_bytes;
use rampart_wire::Check;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::wire;
use super::{Call, Reply, SecretsOperation};
use crate::error::SecretsError;
use crate::SecretsService;

const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

pub(crate) struct GetRandomPassword {
    length: usize,
    /// The allowed characters of each included class.
    classes: Vec<Vec<char>>,
    require_each: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetRandomPasswordInput {
    password_length: Option<i64>,
    exclude_characters: Option<String>,
    exclude_numbers: Option<bool>,
    exclude_punctuation: Option<bool>,
    exclude_uppercase: Option<bool>,
    exclude_lowercase: Option<bool>,
    include_space: Option<bool>,
    require_each_included_type: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetRandomPasswordReply<'a> {
    random_password: &'a str,
}

/// A uniformly random index below `n` (`n` ≤ 256).
fn uniform(n: usize) -> usize {
    let limit = 256 - 256 % n;
    loop {
        let mut byte = [0u8; 1];
        random_bytes(&mut byte);
        if usize::from(byte[0]) < limit {
            return usize::from(byte[0]) % n;
        }
    }
}

impl GetRandomPassword {
    fn generate(&self) -> Zeroizing<String> {
        let all: Vec<char> = self.classes.iter().flatten().copied().collect();
        let mut chars: Vec<char> = (0..self.length).map(|_| all[uniform(all.len())]).collect();
        if self.require_each && self.classes.len() <= self.length {
            // One character of each class at distinct random positions.
            let mut positions: Vec<usize> = (0..self.length).collect();
            for class in &self.classes {
                let pick = uniform(positions.len());
                let at = positions.swap_remove(pick);
                chars[at] = class[uniform(class.len())];
            }
        }
        Zeroizing::new(chars.into_iter().collect())
    }
}

#[async_trait::async_trait]
impl SecretsOperation for GetRandomPassword {
    fn decode(body: &[u8]) -> Result<Self, SecretsError> {
        let input: GetRandomPasswordInput = wire::decode(body)?;
        let length = input.password_length.unwrap_or(32);
        if !(1..=4096).contains(&length) {
            return Err(SecretsError::constraint(
                length,
                "passwordLength",
                "Member must have value between 1 and 4096",
            ));
        }
        let excluded = input.exclude_characters.unwrap_or_default();
        wire::check_length(&excluded, "excludeCharacters", 0, 4096)?;
        let mut classes = Vec::new();
        for (set, skip) in [
            (LOWER, input.exclude_lowercase),
            (UPPER, input.exclude_uppercase),
            (DIGITS, input.exclude_numbers),
            (PUNCTUATION, input.exclude_punctuation),
            (" ", input.include_space.map(|i| !i).or(Some(true))),
        ] {
            if skip.unwrap_or(false) {
                continue;
            }
            let allowed: Vec<char> = set.chars().filter(|c| !excluded.contains(*c)).collect();
            if !allowed.is_empty() {
                classes.push(allowed);
            }
        }
        if classes.is_empty() {
            return Err(SecretsError::InvalidParameter(
                "The password cannot be generated: every character is excluded.".into(),
            ));
        }
        Ok(GetRandomPassword {
            length: usize::try_from(length).unwrap_or(32),
            classes,
            require_each: input.require_each_included_type.unwrap_or(true),
        })
    }

    /// `secretsmanager:GetRandomPassword` has no resource type.
    async fn checks(
        &mut self,
        _: &SecretsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, SecretsError> {
        Ok(vec![Check::unscoped(call.action())])
    }

    async fn execute(self, _: &SecretsService, _: &Call<'_>) -> Reply {
        let password = self.generate();
        wire::reply(&GetRandomPasswordReply {
            random_password: &password,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_respect_exclusions_and_include_each_class() {
        let request = GetRandomPassword::decode(
            br#"{"PasswordLength": 40, "ExcludePunctuation": true, "ExcludeCharacters": "abc"}"#,
        )
        .unwrap();
        let password = request.generate();
        assert_eq!(password.chars().count(), 40);
        assert!(password
            .chars()
            .all(|c| c.is_ascii_alphanumeric() && !"abc".contains(c)));
        assert!(password.chars().any(|c| c.is_ascii_digit()));
        assert!(password.chars().any(|c| c.is_ascii_uppercase()));
        assert!(password.chars().any(|c| c.is_ascii_lowercase()));
    }

    #[test]
    fn everything_excluded_is_refused() {
        let body = br#"{"ExcludeNumbers": true, "ExcludePunctuation": true, "ExcludeUppercase": true, "ExcludeLowercase": true}"#;
        assert!(GetRandomPassword::decode(body).is_err());
    }
}
