//! What the data plane reads for every request — the API, the stage, a deployment's snapshot,
//! the live routes, integration, authorizer and models — kept in memory, so that serving a
//! request costs no store read. The design of KMS's and Secrets Manager's record caches
//! ([`rampart_kms::cache::RecordCache`]): an entry is used for at most 5 s
//! ([`rampart_kms::cache::CACHE_TTL`]), so a change made through another node sharing the store
//! shows within that time; every write of the management API through this node empties every
//! cache before it answers (`api/mod.rs`), so a route changed here is served as it now stands
//! at once; a load overtaken by an invalidation is answered but not kept; absence is not kept.
//!
//! Only the data plane reads through it. The management API reads the store, since its writes
//! commit expecting the versions they read.

use std::sync::Arc;

use rampart_kms::cache::RecordCache;
use rampart_store::Store;

use crate::deployments::{DeploymentRecord, Snapshot};
use crate::error::GatewayError;
use crate::records::{
    self, child_key, ns, ApiRecord, AuthorizerRecord, IntegrationRecord, ModelRecord, RouteRecord,
    StageRecord, Stored,
};

/// Bytes kept of each kind of record (of snapshots, twice as much: each holds an API's whole
/// configuration).
const BYTES_PER_KIND: u64 = 16 << 20;

/// This node's cached reads of the data plane, by store key (`<apiId>` for the API and for an
/// API's lists, `<apiId>/<id>` for one child).
pub(crate) struct PlaneCache {
    apis: RecordCache<Stored<ApiRecord>>,
    stages: RecordCache<StageRecord>,
    snapshots: RecordCache<Snapshot>,
    routes: RecordCache<Vec<RouteRecord>>,
    integrations: RecordCache<IntegrationRecord>,
    authorizers: RecordCache<Stored<AuthorizerRecord>>,
    models: RecordCache<Vec<Stored<ModelRecord>>>,
}

impl Default for PlaneCache {
    fn default() -> Self {
        PlaneCache {
            apis: RecordCache::new(1024, BYTES_PER_KIND),
            stages: RecordCache::new(1024, BYTES_PER_KIND),
            snapshots: RecordCache::new(256, 2 * BYTES_PER_KIND),
            routes: RecordCache::new(1024, BYTES_PER_KIND),
            integrations: RecordCache::new(1024, BYTES_PER_KIND),
            authorizers: RecordCache::new(1024, BYTES_PER_KIND),
            models: RecordCache::new(256, BYTES_PER_KIND),
        }
    }
}

/// A single record of `ns` under `key`, with its weight, for a cache's loader.
async fn one<T: serde::de::DeserializeOwned>(
    store: &dyn Store,
    ns: &str,
    key: &str,
) -> Result<Option<(Stored<T>, u64)>, GatewayError> {
    records::load_weighed(store, ns, key).await
}

impl PlaneCache {
    /// The API `api_id`.
    pub async fn api(
        &self,
        store: &dyn Store,
        api_id: &str,
    ) -> Result<Option<Arc<Stored<ApiRecord>>>, GatewayError> {
        self.apis
            .load(api_id, || one(store, ns::APIS, api_id))
            .await
    }

    /// The stage `name` of the API `api_id`.
    pub async fn stage(
        &self,
        store: &dyn Store,
        api_id: &str,
        name: &str,
    ) -> Result<Option<Arc<StageRecord>>, GatewayError> {
        let key = child_key(api_id, name);
        self.stages
            .load(&key, || async {
                Ok(one::<StageRecord>(store, ns::STAGES, &key)
                    .await?
                    .map(|(s, w)| (s.record, w)))
            })
            .await
    }

    /// The snapshot of the deployment `id` of the API `api_id`.
    pub async fn snapshot(
        &self,
        store: &dyn Store,
        api_id: &str,
        id: &str,
    ) -> Result<Option<Arc<Snapshot>>, GatewayError> {
        let key = child_key(api_id, id);
        self.snapshots
            .load(&key, || async {
                Ok(one::<DeploymentRecord>(store, ns::DEPLOYMENTS, &key)
                    .await?
                    .map(|(d, w)| (d.record.snapshot, w)))
            })
            .await
    }

    /// The live routes of the API `api_id`, in key order (an API without routes has an
    /// empty list, kept like any other: a route created here invalidates it).
    pub async fn routes(
        &self,
        store: &dyn Store,
        api_id: &str,
    ) -> Result<Arc<Vec<RouteRecord>>, GatewayError> {
        let found = self
            .routes
            .load(api_id, || async {
                let (routes, weight) =
                    records::children_weighed::<RouteRecord>(store, ns::ROUTES, api_id).await?;
                let routes = routes.into_iter().map(|(_, r)| r.record).collect();
                Ok::<_, GatewayError>(Some((routes, weight)))
            })
            .await?;
        Ok(found.unwrap_or_default())
    }

    /// The live integration `id` of the API `api_id`.
    pub async fn integration(
        &self,
        store: &dyn Store,
        api_id: &str,
        id: &str,
    ) -> Result<Option<Arc<IntegrationRecord>>, GatewayError> {
        let key = child_key(api_id, id);
        self.integrations
            .load(&key, || async {
                Ok(one::<IntegrationRecord>(store, ns::INTEGRATIONS, &key)
                    .await?
                    .map(|(i, w)| (i.record, w)))
            })
            .await
    }

    /// The live authorizer `id` of the API `api_id`, with its store version.
    pub async fn authorizer(
        &self,
        store: &dyn Store,
        api_id: &str,
        id: &str,
    ) -> Result<Option<Arc<Stored<AuthorizerRecord>>>, GatewayError> {
        let key = child_key(api_id, id);
        self.authorizers
            .load(&key, || one(store, ns::AUTHORIZERS, &key))
            .await
    }

    /// The live models of the API `api_id`, with their store versions.
    pub async fn models(
        &self,
        store: &dyn Store,
        api_id: &str,
    ) -> Result<Arc<Vec<Stored<ModelRecord>>>, GatewayError> {
        let found = self
            .models
            .load(api_id, || async {
                let (models, weight) =
                    records::children_weighed::<ModelRecord>(store, ns::MODELS, api_id).await?;
                let models = models.into_iter().map(|(_, m)| m).collect();
                Ok::<_, GatewayError>(Some((models, weight)))
            })
            .await?;
        Ok(found.unwrap_or_default())
    }

    /// Forgets everything: every management write through this node calls it before it
    /// answers, whether or not it succeeded (it may have committed before failing).
    pub fn invalidate_all(&self) {
        self.apis.invalidate_all();
        self.stages.invalidate_all();
        self.snapshots.invalidate_all();
        self.routes.invalidate_all();
        self.integrations.invalidate_all();
        self.authorizers.invalidate_all();
        self.models.invalidate_all();
    }
}
