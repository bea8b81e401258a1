//! Domain types every Rampart crate shares: who is calling ([`CallerIdentity`]), what was
//! recorded about it ([`AuditRecord`]), the identifiers AWS uses ([`ids`], [`arn`]) and how
//! secrets are sealed under the root key before they touch the store ([`seal`]).
//!
//! This crate sits at the bottom of the workspace: it depends on no other Rampart crate.

pub mod arn;
pub mod audit;
pub mod caller;
pub mod ids;
pub mod seal;

pub use arn::Arn;
pub use audit::{AccessDetail, AuditCheck, AuditOutcome, AuditQuery, AuditRecord};
pub use caller::{CallerIdentity, PrincipalType, SessionLineage};
pub use seal::{RootKey, RootKeyId, RootKeyring, SealError, SealPurpose};
