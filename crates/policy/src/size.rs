//! Policy size quotas ("IAM and AWS STS quotas, name requirements, and character limits" in
//! the IAM User Guide). IAM answers an oversized document with `LimitExceeded`.

use std::fmt;

/// The AWS error code for [`LimitExceeded`].
pub const LIMIT_EXCEEDED: &str = "LimitExceeded";

/// Which IAM size quota a document is checked against ("IAM and AWS STS quotas" in the
/// IAM User Guide). Sizes are counted in characters, white space excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SizeLimit {
    /// A customer managed policy: 6,144 characters.
    ManagedPolicy,
    /// All inline policies of one user together: 2,048 characters.
    UserInline,
    /// All inline policies of one role together: 10,240 characters.
    RoleInline,
    /// All inline policies of one group together: 5,120 characters.
    GroupInline,
    /// A role trust policy: 2,048 characters (the default quota).
    TrustPolicy,
    /// A session policy passed to `AssumeRole*` / `GetFederationToken`: 2,048 characters.
    SessionPolicy,
}

impl SizeLimit {
    /// The quota in characters.
    pub const fn max_chars(self) -> usize {
        match self {
            SizeLimit::ManagedPolicy => 6144,
            SizeLimit::UserInline => 2048,
            SizeLimit::RoleInline => 10240,
            SizeLimit::GroupInline => 5120,
            SizeLimit::TrustPolicy => 2048,
            SizeLimit::SessionPolicy => 2048,
        }
    }
}

/// A document over its size quota. `Display` is IAM's `LimitExceeded` message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LimitExceeded {
    /// The quota that was exceeded.
    pub limit: SizeLimit,
    /// The document's size in characters, white space excluded.
    pub size: usize,
}

impl LimitExceeded {
    /// The AWS error code: `LimitExceeded` (STS calls it `PackedPolicyTooLarge` for
    /// session policies; the server picks the code by operation).
    pub fn code(&self) -> &'static str {
        LIMIT_EXCEEDED
    }
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let max = self.limit.max_chars();
        match self.limit {
            SizeLimit::ManagedPolicy => write!(f, "Cannot exceed quota for PolicySize: {max}"),
            SizeLimit::TrustPolicy => write!(f, "Cannot exceed quota for ACLSizePerRole: {max}"),
            SizeLimit::UserInline => {
                write!(f, "Maximum policy size of {max} bytes exceeded for user")
            }
            SizeLimit::RoleInline => {
                write!(f, "Maximum policy size of {max} bytes exceeded for role")
            }
            SizeLimit::GroupInline => {
                write!(f, "Maximum policy size of {max} bytes exceeded for group")
            }
            SizeLimit::SessionPolicy => write!(
                f,
                "Member must have length less than or equal to {max} (policy has {} characters)",
                self.size
            ),
        }
    }
}

/// The size IAM counts for a document: its characters, white space excluded
/// ("Policy grammar notes": "Policy size calculations do not include white space characters").
pub fn policy_size(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

/// Checks `document` against `limit`. For the per-entity inline quotas, pass the inline
/// policies' sizes summed with [`policy_size`] through [`check_total_size`] instead.
pub fn check_size(document: &str, limit: SizeLimit) -> Result<(), LimitExceeded> {
    check_total_size(policy_size(document), limit)
}

/// Checks an already counted size (e.g. all of a user's inline policies) against `limit`.
pub fn check_total_size(size: usize, limit: SizeLimit) -> Result<(), LimitExceeded> {
    if size > limit.max_chars() {
        Err(LimitExceeded { limit, size })
    } else {
        Ok(())
    }
}
