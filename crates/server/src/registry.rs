//! The services this endpoint offers, indexed for routing.

use std::collections::HashMap;
use std::sync::Arc;

use rampart_wire::protocol::rest_json::RestRoute;
use rampart_wire::{OperationSpec, Protocol, Service};

/// A registered service and its operations by name.
pub struct RegisteredService {
    pub service: Arc<dyn Service>,
    pub protocol: Protocol,
    pub signing_name: &'static str,
    operations: HashMap<&'static str, &'static OperationSpec>,
    routes: Vec<(RestRoute, &'static OperationSpec)>,
}

impl RegisteredService {
    /// The operation named `name` (query `Action`, JSON target suffix).
    pub fn operation(&self, name: &str) -> Option<&'static OperationSpec> {
        self.operations.get(name).copied()
    }

    /// The rest-json operation for `method` and `path`, with its bound path labels.
    pub fn route(
        &self,
        method: &str,
        path: &str,
    ) -> Option<(&'static OperationSpec, Vec<(&'static str, String)>)> {
        self.routes
            .iter()
            .find_map(|(route, op)| route.matches(method, path).map(|bound| (*op, bound)))
    }
}

/// Every service, by SigV4 signing name and by JSON target prefix.
#[derive(Default)]
pub struct Registry {
    by_signing_name: HashMap<&'static str, Arc<RegisteredService>>,
    by_target_prefix: HashMap<&'static str, Arc<RegisteredService>>,
}

impl Registry {
    pub fn register(&mut self, service: Arc<dyn Service>) {
        let protocol = service.protocol();
        let signing_name = service.signing_name();
        let operations = service
            .operations()
            .iter()
            .map(|op| (op.name, op))
            .collect();
        let routes = service
            .operations()
            .iter()
            .filter_map(|op| op.route.map(|r| (r, op)))
            .collect();
        let registered = Arc::new(RegisteredService {
            service,
            protocol,
            signing_name,
            operations,
            routes,
        });
        if let Protocol::Json { target_prefix, .. } = protocol {
            self.by_target_prefix
                .insert(target_prefix, registered.clone());
        }
        let previous = self.by_signing_name.insert(signing_name, registered);
        assert!(
            previous.is_none(),
            "service {signing_name} registered twice"
        );
    }

    pub fn by_signing_name(&self, name: &str) -> Option<&Arc<RegisteredService>> {
        self.by_signing_name.get(name)
    }

    pub fn by_target_prefix(&self, prefix: &str) -> Option<&Arc<RegisteredService>> {
        self.by_target_prefix.get(prefix)
    }
}
