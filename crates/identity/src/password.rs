//! Passwords: Argon2id hashes in PHC strings (for `USER_PASSWORD_AUTH` and every operation that
//! takes a password) and Cognito's password policy ([`policy`]).
//!
//! A user's stored secret is both a PHC string from here and an SRP verifier
//! ([`crate::srp::PasswordVerifier`]); the caller seals both under the root key before storing.

mod policy;

pub use policy::{
    generate_temporary_password, PasswordPolicy, PolicyViolation, PolicyWording, SYMBOLS,
};

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use zeroize::Zeroizing;

/// Bytes of fresh salt per hash (the PHC recommendation; the argon2 crate's minimum is 8).
const SALT_BYTES: usize = 16;

/// Argon2id's cost. The default is OWASP's recommended minimum for Argon2id (m = 19 MiB, t = 2,
/// p = 1), the figure BENCHMARKS.md reports sign-in latency against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Cost {
    /// Memory in KiB (`m`).
    pub memory_kib: u32,
    /// Passes over memory (`t`).
    pub iterations: u32,
    /// Lanes (`p`).
    pub parallelism: u32,
}

impl Default for Argon2Cost {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Why hashing could not be done at all (never "the password is wrong": that is `false`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    /// The configured cost is outside what Argon2 accepts.
    #[error("invalid Argon2id cost: {0}")]
    InvalidCost(String),
    /// The system random source failed.
    #[error("the random source failed")]
    Random,
    /// Argon2 itself failed (memory could not be allocated).
    #[error("hashing failed: {0}")]
    Hashing(String),
}

/// What checking a password against a stored hash found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password is right and the hash is at the configured cost.
    Match,
    /// The password is right but the hash was made at another cost (or variant): store a new
    /// hash of it now, while the plaintext is at hand.
    MatchNeedsRehash,
    /// The password is wrong, or the stored string is not a hash this hasher accepts.
    Mismatch,
}

impl Verification {
    /// Whether the password was right.
    pub fn is_match(self) -> bool {
        !matches!(self, Self::Mismatch)
    }
}

/// Hashes and verifies passwords at one configured Argon2id cost.
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    params: Params,
    /// A hash of a random password at the configured cost, verified against when the user does
    /// not exist, so that costs what a wrong password costs (PreventUserExistenceErrors).
    decoy: String,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher at `cost` (one hash is computed now, for the unknown-user path).
    pub fn new(cost: Argon2Cost) -> Result<Self, PasswordError> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| PasswordError::InvalidCost(e.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let mut hasher = Self {
            argon2,
            params,
            decoy: String::new(),
        };
        let mut random = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(random.as_mut_slice()).map_err(|_| PasswordError::Random)?;
        hasher.decoy = hasher.hash(&hex(random.as_slice()))?;
        Ok(hasher)
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) of `password` with a fresh
    /// random salt.
    pub fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let mut salt = [0u8; SALT_BYTES];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| PasswordError::Random)?;
        self.argon2
            .hash_password_with_salt(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| PasswordError::Hashing(e.to_string()))
    }

    /// Checks `password` against a stored PHC string. Only Argon2id hashes are accepted (a
    /// tampered row naming a weaker variant is a mismatch); the hash is recomputed with the
    /// stored salt and cost and compared in constant time by the argon2 crate.
    pub fn verify(&self, password: &str, stored: &str) -> Verification {
        let Ok(hash) = PasswordHash::new(stored) else {
            return Verification::Mismatch;
        };
        if hash.algorithm != argon2::ARGON2ID_IDENT || !self.acceptable(&hash) {
            return Verification::Mismatch;
        }
        if self
            .argon2
            .verify_password(password.as_bytes(), &hash)
            .is_err()
        {
            return Verification::Mismatch;
        }
        if Params::try_from(&hash).is_ok_and(|p| same_cost(&p, &self.params))
            && hash.version == Some(Version::V0x13.into())
        {
            Verification::Match
        } else {
            Verification::MatchNeedsRehash
        }
    }

    /// The unknown-user path: verifies `password` against the decoy hash (the same work as a
    /// wrong password for a real user) and answers [`Verification::Mismatch`].
    pub fn verify_unknown_user(&self, password: &str) -> Verification {
        let _ = self.verify(password, &self.decoy);
        Verification::Mismatch
    }

    /// A stored hash may ask for at most 4× the configured memory and passes: a row written at a
    /// higher cost still verifies, one written to exhaust memory does not.
    fn acceptable(&self, hash: &PasswordHash) -> bool {
        Params::try_from(hash).is_ok_and(|p| {
            p.m_cost() <= self.params.m_cost().saturating_mul(4)
                && p.t_cost() <= self.params.t_cost().saturating_mul(4)
                && p.p_cost() <= self.params.p_cost().saturating_mul(4)
        })
    }
}

fn same_cost(a: &Params, b: &Params) -> bool {
    a.m_cost() == b.m_cost() && a.t_cost() == b.t_cost() && a.p_cost() == b.p_cost()
}

fn hex(bytes: &[u8]) -> String {
    crate::srp::bytes_to_hex(bytes)
}

#[cfg(test)]
mod tests;
