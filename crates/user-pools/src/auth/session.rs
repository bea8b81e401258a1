//! Challenge sessions: what InitiateAuth hands the client to answer a challenge with (the
//! `Session` member, or for `PASSWORD_VERIFIER` the `SECRET_BLOCK`, which Cognito's SRP clients
//! send back in place of a session). Opaque to the client: the state is sealed under the root
//! key ([`SealPurpose::UserAuthSession`], bound to the pool and app client), so nothing is
//! stored while a challenge is pending. Short-lived (the client's `AuthSessionValidity`, 3
//! minutes by default) and single-use: answering one records its id in
//! [`ns::USED_SESSIONS`] with `Expect::Absent`, so a replay — even racing on another node —
//! is refused.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rampart_core::SealPurpose;
use rampart_store::Expect;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::error::UserPoolsError;
use crate::records::auth::UsedSessionRecord;
use crate::records::{self, ns, pool_key};
use crate::sealing::{self, client_context};
use crate::UserPoolsService;

/// Which challenge a session answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Challenge {
    NewPasswordRequired,
    PasswordVerifier,
    SoftwareTokenMfa,
    MfaSetup,
}

impl Challenge {
    pub fn name(self) -> &'static str {
        match self {
            Challenge::NewPasswordRequired => "NEW_PASSWORD_REQUIRED",
            Challenge::PasswordVerifier => "PASSWORD_VERIFIER",
            Challenge::SoftwareTokenMfa => "SOFTWARE_TOKEN_MFA",
            Challenge::MfaSetup => "MFA_SETUP",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "NEW_PASSWORD_REQUIRED" => Some(Challenge::NewPasswordRequired),
            "PASSWORD_VERIFIER" => Some(Challenge::PasswordVerifier),
            "SOFTWARE_TOKEN_MFA" => Some(Challenge::SoftwareTokenMfa),
            "MFA_SETUP" => Some(Challenge::MfaSetup),
            _ => None,
        }
    }
}

/// A pending challenge, as sealed into the session.
#[derive(Clone, Serialize, Deserialize)]
pub struct ChallengeSession {
    /// Random; what single use is recorded by.
    pub id: String,
    pub pool_id: String,
    pub client_id: String,
    pub challenge: Challenge,
    /// The user's stored username (`USER_ID_FOR_SRP`), or the name given for a user that does
    /// not exist (an SRP decoy, which can never succeed).
    pub username: String,
    /// The user's `sub`; None for a decoy.
    pub sub: Option<String>,
    /// The SRP session key (base64), for `PASSWORD_VERIFIER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srp_key: Option<String>,
    /// Seconds since the epoch.
    pub expires_at: i64,
}

impl ChallengeSession {
    /// A new session for `challenge`, valid for `minutes`.
    pub fn new(
        pool_id: &str,
        client_id: &str,
        challenge: Challenge,
        username: &str,
        sub: Option<&str>,
        minutes: u32,
        now: OffsetDateTime,
    ) -> Result<Self, UserPoolsError> {
        Ok(ChallengeSession {
            id: crate::ids::random_string(b"0123456789abcdefghijklmnopqrstuvwxyz", 24)?,
            pool_id: pool_id.to_owned(),
            client_id: client_id.to_owned(),
            challenge,
            username: username.to_owned(),
            sub: sub.map(str::to_owned),
            srp_key: None,
            expires_at: (now + Duration::minutes(i64::from(minutes.clamp(3, 15)))).unix_timestamp(),
        })
    }

    /// The session as the client carries it.
    pub fn seal(&self, svc: &UserPoolsService) -> String {
        let json = zeroize::Zeroizing::new(records::encode(self));
        let sealed = sealing::seal(
            &svc.keyring,
            SealPurpose::UserAuthSession,
            &client_context(&self.pool_id, &self.client_id),
            &json,
        );
        // The ids travel beside the sealed state (they are not secret, and the sealing binds
        // them), so operations that get only the session (AssociateSoftwareToken) can open it.
        STANDARD.encode(format!("{}\0{}\0{sealed}", self.pool_id, self.client_id))
    }

    /// Opens a session whose pool and client the request does not name (AssociateSoftwareToken
    /// and VerifySoftwareToken with a `Session`); see [`ChallengeSession::open`].
    pub async fn open_carried(
        svc: &UserPoolsService,
        challenge: Challenge,
        carried: &str,
        now: OffsetDateTime,
    ) -> Result<Self, UserPoolsError> {
        let (pool_id, client_id, _) = unpack(carried)?;
        Self::open(svc, &pool_id, &client_id, challenge, carried, now).await
    }

    /// Opens a session the client sent back through `client_id` of `pool_id` for `challenge`:
    /// anything that does not open, is for another client or challenge, or has expired is
    /// `NotAuthorizedException: Invalid session for the user.`; then spends it.
    pub async fn open(
        svc: &UserPoolsService,
        pool_id: &str,
        client_id: &str,
        challenge: Challenge,
        carried: &str,
        now: OffsetDateTime,
    ) -> Result<Self, UserPoolsError> {
        let invalid = || UserPoolsError::NotAuthorized("Invalid session for the user.".into());
        let (carried_pool, carried_client, sealed) = unpack(carried)?;
        if carried_pool != pool_id || carried_client != client_id {
            return Err(invalid());
        }
        // A session that does not open is the client's doing (forged, or from another pool
        // or client), not a fault of the store: no error log.
        let opened = svc
            .keyring
            .open(
                &sealed,
                SealPurpose::UserAuthSession,
                &client_context(pool_id, client_id),
            )
            .map_err(|_| invalid())?;
        let session: ChallengeSession = serde_json::from_slice(&opened).map_err(|_| invalid())?;
        if session.pool_id != pool_id
            || session.client_id != client_id
            || session.challenge != challenge
        {
            return Err(invalid());
        }
        let expires_at =
            OffsetDateTime::from_unix_timestamp(session.expires_at).map_err(|_| invalid())?;
        if now >= expires_at {
            return Err(UserPoolsError::NotAuthorized(
                "Invalid session for the user, session is expired.".into(),
            ));
        }
        // Spent before it is acted on, whatever the answer turns out to be.
        svc.store
            .commit(vec![records::put(
                ns::USED_SESSIONS,
                pool_key(pool_id, &session.id),
                &UsedSessionRecord { expires_at },
                Expect::Absent,
            )])
            .await
            .map_err(|e| match e {
                rampart_store::StoreError::Conflict { .. } => {
                    UserPoolsError::NotAuthorized("Invalid session for the user.".into())
                }
                other => other.into(),
            })?;
        Ok(session)
    }
}

/// The pool id, client id and sealed state a carried session holds.
fn unpack(carried: &str) -> Result<(String, String, String), UserPoolsError> {
    let invalid = || UserPoolsError::NotAuthorized("Invalid session for the user.".into());
    let text = STANDARD
        .decode(carried.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(invalid)?;
    let mut parts = text.splitn(3, '\0');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(pool), Some(client), Some(sealed)) => {
            Ok((pool.to_owned(), client.to_owned(), sealed.to_owned()))
        }
        _ => Err(invalid()),
    }
}
