//! The API gateway: API Gateway v2 HTTP APIs. The management API (apigatewayv2, rest-json)
//! creates APIs, routes, integrations with functions, JWT authorizers and stages; the data
//! plane serves requests to those APIs by host (`<apiId>.execute-api.<host>`) or path
//! (`/_api/<apiId>/<stage>/…`), authorizes them with the route's JWT authorizer and invokes
//! the route's function in process.
//!
//! What lives where:
//! - [`records`]: APIs and their children as stored, each keyed under its API.
//! - `api/`: the management API, one module per family (`apis`, `routes`, `integrations`,
//!   `authorizers`, `stages`, `deployments`, `models`) with the `gateway_operations!` table in
//!   `api/mod.rs` and `wire` for the shapes botocore parses.
//! - [`deployments`]: deployments and their snapshots, and the automatic deployments of
//!   `AutoDeploy` stages; [`serving`]: what a stage serves (live or its snapshot).
//! - [`route_key`]: route keys and route selection (pure).
//! - [`events`]: payload format 1.0/2.0 events and response mapping (pure).
//! - [`jwt`]: JWT authorizers over `rampart_identity`'s verifier; [`fetch`]: OpenID discovery
//!   of external issuers' keys.
//! - [`lambda_authorizer`]: REQUEST authorizers: identity sources, the authorizer event, simple
//!   and IAM-policy answers (decided by `rampart_policy`), the answer cache.
//! - [`iam_auth`]: `AWS_IAM` routes, through [`iam_auth::IamInvokers`] (the server, over IAM).
//! - [`integration`]: the one call into `rampart_functions::Invoker`.
//! - [`request_models`]: request bodies validated against a route's model (JSON Schema),
//!   schemas compiled once per model version.
//! - [`cors`]: CORS preflights and response headers, as API Gateway applies an API's
//!   `CorsConfiguration` (pure).
//! - [`throttle`]: the stages' and routes' token buckets.
//! - [`data_plane`]: one request from stage to response; [`access_log`]: its audit record;
//!   `plane_cache`: what it reads per request, kept up to 5 s and emptied by every write here.
//! - [`error`]: [`GatewayError`], one variant per AWS error code.
//!
//! Layering: depends on `rampart-functions`, `rampart-identity`, `rampart-kms` (its record
//! cache), `rampart-policy`, `rampart-store`,
//! `rampart-wire` and `rampart-core`; Rampart's own issuers come in through
//! [`jwt::LocalIssuers`], which the server implements over the user pools.

pub mod access_log;
mod api;
pub mod cors;
pub mod data_plane;
pub mod deployments;
pub mod error;
pub mod events;
pub mod fetch;
pub mod iam_auth;
pub mod ids;
pub mod integration;
pub mod jwt;
pub mod lambda_authorizer;
mod plane_cache;
pub mod records;
pub mod request_models;
pub mod route_key;
pub mod service;
pub mod serving;
pub mod throttle;

pub use api::{OPERATIONS, PROTOCOL};
pub use data_plane::Addressed;
pub use error::GatewayError;
pub use iam_auth::IamInvokers;
pub use jwt::LocalIssuers;
pub use service::GatewayService;
