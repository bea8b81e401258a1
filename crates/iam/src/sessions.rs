//! Temporary credentials: `ASIA…` access keys with a session token and an expiry, issued by
//! `sts:AssumeRole` and `sts:GetSessionToken`. They are verified like long-term keys; the
//! session token is checked (its SHA-256 is stored, never the token) and the expiry enforced.

use aws_lc_rs::digest;
use rampart_core::seal::{HoldsSealed, SealedSlot};
use rampart_core::{ids, RootKeyring, SealPurpose};
use rampart_store::{Expect, Store, StoreError, Write};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::entities::{Role, Tag};
use crate::ns;

/// Where a session came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum SessionOrigin {
    /// `sts:AssumeRole`: the session acts as the role.
    AssumedRole {
        role_name: String,
        role_id: String,
        role_arn: String,
        session_name: String,
    },
    /// `sts:GetSessionToken`: the session acts as the user.
    SessionToken {
        user_name: String,
        /// The user's unique id: a user deleted and re-created under the same name (or a
        /// renamed one whose name was taken) is another principal, and the session dies with
        /// the user it was issued to. Absent in sessions issued before ids were recorded.
        #[serde(default)]
        user_id: Option<String>,
    },
}

/// A session as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub access_key_id: String,
    /// The secret access key, sealed with the root key and bound to the access key id.
    pub sealed_secret: String,
    /// Hex SHA-256 of the session token.
    pub token_sha256: String,
    pub origin: SessionOrigin,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Inline session policy (`Policy`), as submitted.
    #[serde(default)]
    pub session_policy: Option<String>,
    /// Managed session policies (`PolicyArns`).
    #[serde(default)]
    pub session_policy_arns: Vec<String>,
    /// Session tags (`Tags`), which become `aws:PrincipalTag/*`.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// The tag keys that pass on to sessions this one assumes (role chaining).
    #[serde(default)]
    pub transitive_tag_keys: Vec<String>,
    #[serde(default)]
    pub source_identity: Option<String>,
    /// The ARN of the principal that asked for the session.
    pub issued_to: String,
}

impl SessionRecord {
    pub fn write(&self) -> Write {
        Write::Put {
            ns: ns::SESSIONS.to_owned(),
            key: self.access_key_id.clone(),
            value: serde_json::to_vec(self).expect("plain records serialise"),
            expect: Expect::Absent,
        }
    }
}

impl HoldsSealed for SessionRecord {
    fn sealed_slots(&mut self) -> Vec<SealedSlot<'_>> {
        vec![SealedSlot {
            purpose: SealPurpose::AccessKeySecret,
            context: self.access_key_id.clone(),
            sealed: &mut self.sealed_secret,
        }]
    }
}

/// What the caller receives, once.
#[derive(Debug, Clone)]
pub struct IssuedCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expires_at: OffsetDateTime,
}

/// SHA-256 of a session token, as stored.
pub fn token_sha256(token: &str) -> [u8; 32] {
    let digest = digest::digest(&digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// What a session is limited to and carries besides its principal's own policies.
#[derive(Debug, Clone, Default)]
pub struct SessionScope {
    /// Inline session policy (`Policy`).
    pub session_policy: Option<String>,
    /// Managed session policies (`PolicyArns`).
    pub session_policy_arns: Vec<String>,
    pub tags: Vec<Tag>,
    pub transitive_tag_keys: Vec<String>,
    pub source_identity: Option<String>,
}

/// New credentials and the record that makes them valid until `expires_at`.
pub fn issue(
    root_keys: &RootKeyring,
    origin: SessionOrigin,
    issued_to: &str,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
    scope: SessionScope,
) -> (IssuedCredentials, SessionRecord) {
    let access_key_id = ids::temporary_access_key_id();
    let secret_access_key = ids::secret_access_key();
    let session_token = ids::session_token();
    let record = SessionRecord {
        access_key_id: access_key_id.clone(),
        sealed_secret: root_keys.seal(
            SealPurpose::AccessKeySecret,
            &access_key_id,
            secret_access_key.as_bytes(),
        ),
        token_sha256: hex::encode(token_sha256(&session_token)),
        origin,
        issued_at: now,
        expires_at,
        session_policy: scope.session_policy,
        session_policy_arns: scope.session_policy_arns,
        tags: scope.tags,
        transitive_tag_keys: scope.transitive_tag_keys,
        source_identity: scope.source_identity,
        issued_to: issued_to.to_owned(),
    };
    (
        IssuedCredentials {
            access_key_id,
            secret_access_key,
            session_token,
            expires_at,
        },
        record,
    )
}

/// What a role session is asked for, by `sts:AssumeRole` or by an internal caller.
#[derive(Debug, Clone)]
pub struct RoleSessionRequest {
    pub session_name: String,
    pub duration: time::Duration,
    pub session_policy: Option<String>,
    pub session_policy_arns: Vec<String>,
    pub tags: Vec<Tag>,
    pub transitive_tag_keys: Vec<String>,
    pub source_identity: Option<String>,
    /// Who asked: a principal ARN, or an internal component (`rampart:functions`).
    pub issued_to: String,
}

/// Issues and stores a session of `role`. `sts:AssumeRole` calls this once the caller was
/// authorized against the role's trust policy; internal callers (the function runtime giving
/// each function its role's credentials) call it directly, so every role credential in the
/// system is made, stored, verified and expired the same way.
pub async fn issue_role_session(
    store: &dyn Store,
    root_keys: &RootKeyring,
    role: &Role,
    request: RoleSessionRequest,
) -> Result<IssuedCredentials, StoreError> {
    let now = OffsetDateTime::now_utc();
    let (creds, record) = issue(
        root_keys,
        SessionOrigin::AssumedRole {
            role_name: role.name.clone(),
            role_id: role.role_id.clone(),
            role_arn: role.arn.clone(),
            session_name: request.session_name,
        },
        &request.issued_to,
        now,
        now + request.duration,
        SessionScope {
            session_policy: request.session_policy,
            session_policy_arns: request.session_policy_arns,
            tags: request.tags,
            transitive_tag_keys: request.transitive_tag_keys,
            source_identity: request.source_identity,
        },
    );
    rampart_store::request_audit::commit(store, vec![record.write()]).await?;
    Ok(creds)
}
