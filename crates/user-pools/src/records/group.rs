//! A group of a pool as stored. Memberships are two index records (see
//! [`super::ns::GROUP_MEMBERS`] and [`super::ns::USER_GROUPS`]), written together.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{pool_key, SEP};

/// A group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub pool_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precedence: Option<u32>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_modified_at: OffsetDateTime,
}

/// The [`super::ns::GROUP_MEMBERS`] key of `user_key` in `group`.
pub fn member_key(pool_id: &str, group: &str, user_key: &str) -> String {
    pool_key(pool_id, &format!("{group}{SEP}{user_key}"))
}

/// The prefix of every member of `group`.
pub fn members_prefix(pool_id: &str, group: &str) -> String {
    pool_key(pool_id, &format!("{group}{SEP}"))
}

/// The [`super::ns::USER_GROUPS`] key of `group` for `user_key`.
pub fn membership_key(pool_id: &str, user_key: &str, group: &str) -> String {
    pool_key(pool_id, &format!("{user_key}{SEP}{group}"))
}

/// The prefix of every group of `user_key`.
pub fn memberships_prefix(pool_id: &str, user_key: &str) -> String {
    pool_key(pool_id, &format!("{user_key}{SEP}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_keys_cannot_collide_across_names() {
        // "a/b" + "c" and "a" + "b/c" would collide with '/' as the separator.
        assert_ne!(member_key("p_1", "a/b", "c"), member_key("p_1", "a", "b/c"));
        assert!(member_key("p_1", "g", "u").starts_with(&members_prefix("p_1", "g")));
        assert!(!member_key("p_1", "gx", "u").starts_with(&members_prefix("p_1", "g")));
        assert!(!membership_key("p_1", "ux", "g").starts_with(&memberships_prefix("p_1", "u")));
    }
}
