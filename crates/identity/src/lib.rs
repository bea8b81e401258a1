//! Identity: the cryptographic core of Cognito-compatible user pools.
//!
//! Pure functions over plain data, no I/O of its own and no API operations: the cognito-idp
//! API (another crate/module) stores what these produce (sealed under the root key) and calls
//! them per request; the gateway uses [`verifier`] for JWT authorizers.
//!
//! - [`srp`]: the server side of Cognito's SRP variant (`USER_SRP_AUTH`);
//! - [`password`]: Argon2id password hashes and Cognito's password policy;
//! - [`tokens`]: per-pool RSA signing keys, Cognito's ID and access tokens, JWKS, discovery;
//! - [`verifier`]: a JWT verifier over a fetched, cached JWKS, with a revocation hook;
//! - [`totp`]: RFC 6238 one-time codes as Cognito's software-token MFA uses them.

pub mod password;
pub mod srp;
pub mod tokens;
pub mod totp;
pub mod verifier;
