//! The `rampart` server: CLI, configuration, the listener and the request pipeline that wires
//! every service together. `main.rs` is a thin entry point over this library so integration
//! tests can assemble a pipeline with their own services.

pub mod audit;
pub mod audit_cmd;
pub mod cli;
pub mod front;
pub mod functions_roles;
pub mod gateway_plane;
pub mod identity_cmd;
pub mod keys_cmd;
pub mod logs_cmd;
pub mod mail;
pub mod maintenance;
pub mod metrics;
pub mod pipeline;
pub mod policy_cmd;
pub mod registry;
pub mod root_key;
pub mod rotation_functions;
pub mod serve;
pub mod telemetry;
