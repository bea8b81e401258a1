#![warn(missing_docs)]
//! The IAM policy language: parse, validate and evaluate AWS policy documents.
//!
//! Pure: no I/O, no clock, no store. The IAM layer hands it documents and a request
//! context and gets back a decision it can explain the way AWS does.
//!
//! ```
//! use rampart_policy::{evaluate, CompiledPolicy, Decision, EvaluationContext, PolicyKind,
//!                      RequestPrincipal};
//!
//! let policy = CompiledPolicy::parse("home", PolicyKind::Identity, r#"{
//!     "Version": "2012-10-17",
//!     "Statement": {"Effect": "Allow", "Action": "s3:GetObject",
//!                   "Resource": "arn:aws:s3:::home/${aws:username}/*"}
//! }"#).unwrap();
//! let alice = RequestPrincipal::user("arn:aws:iam::111122223333:user/alice", "AIDAALICE");
//! let ctx = EvaluationContext::new(alice, "s3:GetObject", "arn:aws:s3:::home/alice/notes");
//! assert_eq!(evaluate([&policy], &ctx).decision, Decision::Allowed);
//! ```
//!
//! The pieces, in the order a request meets them:
//! - [`parse_policy`] reads a document for a [`PolicyKind`] and refuses what IAM refuses,
//!   with [`PolicyError`]s that say what and where; [`check_size`] applies the quotas;
//! - [`CompiledPolicy`] is a document made ready to evaluate;
//! - [`EvaluationContext`] is the request: [`RequestPrincipal`], action, resource, keys;
//! - [`evaluate`] returns an [`Evaluation`]: the [`Decision`], the statements behind it,
//!   and which policy type lacked an allow.

mod arn;
mod compile;
pub mod conditions;
mod context;
mod decision;
mod document;
mod error;
mod evaluate;
mod json;
pub mod lint;
mod parse;
mod pattern;
mod principal;
mod size;
mod validate;
mod variables;

pub use compile::CompiledPolicy;
pub use conditions::{BaseOperator, ConditionOperator, SetQualifier};
pub use context::{ContextValue, EvaluationContext};
pub use decision::{Decision, Evaluation, MatchedStatement};
pub use document::{
    ActionElement, Condition, Effect, PolicyDocument, PolicyKind, PolicyVersion, PrincipalElement,
    PrincipalKind, Principals, ResourceElement, Statement,
};
pub use error::{Location, Malformed, PolicyError, MALFORMED_POLICY_DOCUMENT};
pub use evaluate::evaluate;
pub use lint::{lint, Finding, Severity};
pub use parse::parse_policy;
pub use principal::{PrincipalMatch, PrincipalType, RequestPrincipal};
pub use size::{
    check_size, check_total_size, policy_size, LimitExceeded, SizeLimit, LIMIT_EXCEEDED,
};
