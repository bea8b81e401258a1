//! User pools: the Cognito-compatible cognito-idp API (JSON 1.1,
//! `AWSCognitoIdentityProviderService`, signing name `cognito-idp`) over the identity core
//! (`rampart-identity`: SRP, Argon2id and the password policy, signing keys, tokens, TOTP).
//!
//! What is stored (`records`; one JSON record per key, every key of a pool prefixed
//! `<pool id>/`; ≡ marks a value sealed under the root key, [`sealing`]):
//! - `cognito-idp/pools`, by pool id — [`records::pool::PoolRecord`]: id
//!   (`<region>_<9 alphanumerics>`), ARN (`arn:aws:cognito-idp:<region>:<account>:userpool/<id>`),
//!   name, dates, and the configuration in the wire's words (password policy, MFA, username
//!   and alias attributes, auto-verified attributes, custom schema, AdminCreateUserConfig,
//!   account recovery, tags, username case sensitivity).
//! - `cognito-idp/signing-keys`, by pool id — [`records::signing_keys::SigningKeysRecord`]:
//!   the pool's RSA keys (one for ID tokens, one for access tokens, retired ones kept for the
//!   JWKS until their tokens can no longer be valid, [`signing_keys`]), private keys PKCS#8 ≡
//!   (`UserPoolSigningKey`, context `<pool id>/<kid>`).
//! - `cognito-idp/clients`, by `<pool id>/<client id>` — [`records::client::ClientRecord`]:
//!   name, secret ≡ (`UserPoolClientSecret`, `<pool id>/<client id>`), explicit auth flows,
//!   token validities and units, read/write attributes, PreventUserExistenceErrors,
//!   EnableTokenRevocation, auth session validity.
//! - `cognito-idp/client-pools`, by client id — [`app_client::ClientPool`]: the pool a client
//!   belongs to, so public operations, which name only the client, find it; written and deleted
//!   with the client.
//! - `cognito-idp/users`, by `<pool id>/<username key>` (the username, lowercased in a
//!   case-insensitive pool) — [`records::user::UserRecord`]: username, `sub` (UUID),
//!   attributes, status (UNCONFIRMED, CONFIRMED, FORCE_CHANGE_PASSWORD, RESET_REQUIRED),
//!   enabled, the password's Argon2id PHC string ≡ (`UserPasswordHash`, `<pool id>/<sub>`) and
//!   SRP verifier ≡ (`UserSrpVerifier`, `<pool id>/<sub>`, computed with `USER_ID_FOR_SRP` =
//!   the stored username), whether it is temporary and until when, and pending one-time codes
//!   ≡ (`UserCode`, `<pool id>/<sub>/<kind>`), single-use, expiring, attempts counted.
//! - `cognito-idp/aliases`, by `<pool id>/<attribute>/<value>` — which user holds an email or
//!   phone number as a sign-in name (username attributes, verified alias attributes).
//! - `cognito-idp/groups`, by `<pool id>/<group>`; memberships in `cognito-idp/group-members`
//!   (`<pool id>/<group>␟<user key>`) and `cognito-idp/user-groups` (`<pool id>/<user key>␟<group>`),
//!   written together.
//! - `cognito-idp/code-sends`, by `<pool id>/<sub>` — [`send_limit::SendWindow`]: how many
//!   codes the public operations sent the user this hour.
//! - `cognito-idp/outbox`, by `<pool id>/<time-ordered id>` — [`records::outbox::OutboxMessage`]:
//!   codes and invitations as they would be sent, the code or temporary password ≡
//!   (`UserPoolOutboxMessage`, `<pool id>/<message id>`), expiring with the code.
//!
//! Not stored: [`source_limit`], the per-source rate limit of the unsigned sign-in and sign-up
//! endpoints, is a token bucket per address in each node's memory (the server applies it).
//!
//! The rest: [`service`] ([`UserPoolsService`] and the check on a named pool), [`ids`] (ids and
//! ARNs), [`error`] ([`UserPoolsError`], one variant per Cognito error code), and `api/`, one
//! module per family with the `user_pools_operations!` table in `api/mod.rs`.
//!
//! Layering: depends on `rampart-identity`, `rampart-core`, `rampart-wire` and
//! `rampart-store`, never on `rampart-iam`; the server registers the service.

mod api;
pub mod app_client;
pub mod auth;
pub mod delivery;
pub mod discovery;
pub mod error;
pub mod filter;
pub mod ids;
pub mod mail_relay;
pub mod outbox;
pub mod passwords;
pub mod records;
pub mod schema;
pub mod sealing;
pub mod send_limit;
pub mod service;
pub mod signing_keys;
pub mod source_limit;
pub mod users;

pub use api::{OPERATIONS, PROTOCOL};
pub use error::UserPoolsError;
pub use sealing::sealed_records;
pub use service::UserPoolsService;
