//! The AWS wire: how requests and responses look on the network, independent of any service.
//!
//! - [`sigv4`]: Signature Version 4 verification (header and presigned forms). Pure functions.
//! - [`protocol`]: the `query`, `json` (1.0/1.1) and `rest-json` protocols: decoding a request
//!   into an operation input and encoding results and errors in each protocol's shape.
//! - [`service`]: what a service registers (its operations) and what an operation receives.
//! - [`operation`]: the typed-operation scaffolding services share (decode, check, run).
//!
//! Nothing here performs I/O, so all of it can be unit-tested, fuzzed and benchmarked alone.

pub mod error;
pub mod operation;
pub mod protocol;
pub mod service;
pub mod sigv4;

pub use error::{CommonError, Fault, ServiceError};
pub use protocol::{Protocol, ProtocolKind};
pub use service::{
    Authentication, Check, Input, OperationContext, OperationSpec, Output, Permission,
    PreparedOperation, Resource, ResourcePolicy, ResourcePolicyKind, Service, Verdict,
};
