//! Identifiers as Cognito mints them: pool ids (`<region>_<9 alphanumerics>`), pool ARNs, app
//! client ids (26 lowercase alphanumerics) and secrets, users' `sub` (a UUID). No I/O.

use crate::error::UserPoolsError;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Length of an app client id.
pub const CLIENT_ID_LEN: usize = 26;
/// Length of an app client secret (Cognito's are 51 or 52 characters).
pub const CLIENT_SECRET_LEN: usize = 51;

/// `len` characters drawn uniformly from `alphabet` (≤ 256 symbols), by rejection sampling.
pub fn random_string(alphabet: &[u8], len: usize) -> Result<String, UserPoolsError> {
    let limit = 256 - 256 % alphabet.len();
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        aws_lc_rs::rand::fill(&mut buf)
            .map_err(|_| UserPoolsError::Internal("The random source failed.".into()))?;
        for &b in buf.iter().filter(|&&b| usize::from(b) < limit) {
            if out.len() == len {
                break;
            }
            out.push(char::from(alphabet[usize::from(b) % alphabet.len()]));
        }
    }
    Ok(out)
}

/// A fresh pool id in `region`.
pub fn new_pool_id(region: &str) -> Result<String, UserPoolsError> {
    Ok(format!("{region}_{}", random_string(ALNUM, 9)?))
}

/// A fresh app client id.
pub fn new_client_id() -> Result<String, UserPoolsError> {
    random_string(LOWER_ALNUM, CLIENT_ID_LEN)
}

/// A fresh app client secret.
pub fn new_client_secret() -> Result<String, UserPoolsError> {
    random_string(LOWER_ALNUM, CLIENT_SECRET_LEN)
}

/// A fresh `sub`.
pub fn new_sub() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `arn:aws:cognito-idp:<region>:<account>:userpool/<pool id>`.
pub fn pool_arn(region: &str, account_id: &str, pool_id: &str) -> String {
    format!("arn:aws:cognito-idp:{region}:{account_id}:userpool/{pool_id}")
}

/// Whether `id` has a pool id's shape (`[\w-]+_[0-9a-zA-Z]+`, 1 to 55 characters): what the
/// model's pattern accepts, before any lookup.
pub fn is_pool_id_shaped(id: &str) -> bool {
    let Some((region, name)) = id.split_once('_') else {
        return false;
    };
    (1..=55).contains(&id.len())
        && !region.is_empty()
        && !name.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Whether `id` has a client id's shape (`[\w+]+`, 1 to 128 characters).
pub fn is_client_id_shaped(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '+')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_ids_have_cognito_shapes() {
        let pool = new_pool_id("eu-west-1").unwrap();
        assert!(is_pool_id_shaped(&pool), "{pool}");
        let (region, name) = pool.split_once('_').unwrap();
        assert_eq!(region, "eu-west-1");
        assert_eq!(name.len(), 9);
        let client = new_client_id().unwrap();
        assert_eq!(client.len(), CLIENT_ID_LEN);
        assert!(client
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        assert!(is_client_id_shaped(&client));
        assert_ne!(new_client_id().unwrap(), client);
        assert_eq!(new_client_secret().unwrap().len(), CLIENT_SECRET_LEN);
        assert_eq!(
            pool_arn("eu-west-1", "123456789012", &pool),
            format!("arn:aws:cognito-idp:eu-west-1:123456789012:userpool/{pool}")
        );
    }

    #[test]
    fn pool_id_shapes() {
        for good in ["us-east-1_abc", "eu-west-1_AbC123xyZ"] {
            assert!(is_pool_id_shaped(good), "{good}");
        }
        for bad in [
            "",
            "abc",
            "_abc",
            "us-east-1_",
            "us-east-1_a/b",
            "us east_1",
        ] {
            assert!(!is_pool_id_shaped(bad), "{bad}");
        }
    }
}
