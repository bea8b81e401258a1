//! The policies that apply to a principal, compiled once and kept with its credential, and
//! the decision for one request made from them by the policy engine (`rampart-policy`).

use std::sync::Arc;

use rampart_policy::{CompiledPolicy, PolicyKind};
use rampart_store::{Store, StoreError};

use crate::entities::{self, aws_managed_policy, Group, ManagedPolicy, Role, User};
use crate::sessions::SessionRecord;

/// The compiled policies of one principal, by the role each plays in evaluation.
#[derive(Debug, Clone, Default)]
pub struct PrincipalPolicies {
    /// Inline and attached policies of the principal and of its groups.
    pub identity: Vec<Arc<CompiledPolicy>>,
    /// The permissions boundary, if one is set.
    pub boundary: Option<Arc<CompiledPolicy>>,
    /// Session policies (assumed-role sessions only).
    pub session: Vec<Arc<CompiledPolicy>>,
}

impl PrincipalPolicies {
    /// Every policy, for [`rampart_policy::evaluate`].
    pub fn all(&self) -> impl Iterator<Item = &CompiledPolicy> {
        self.identity
            .iter()
            .chain(self.boundary.iter())
            .chain(self.session.iter())
            .map(|p| p.as_ref())
    }
}

/// Compiled managed policies by (ARN, version, kind): a managed policy version never changes,
/// so a compiled one can be reused by every principal it is attached to.
pub struct CompiledPolicyCache {
    cache: quick_cache::sync::Cache<(String, String, PolicyKind), Arc<CompiledPolicy>>,
}

impl Default for CompiledPolicyCache {
    fn default() -> Self {
        CompiledPolicyCache {
            cache: quick_cache::sync::Cache::new(4096),
        }
    }
}

impl CompiledPolicyCache {
    /// The default version of the managed policy `arn`, compiled as `kind`. A policy that no
    /// longer exists contributes nothing (detaching is the usual fix, as on AWS).
    async fn managed(
        &self,
        store: &dyn Store,
        arn: &str,
        kind: PolicyKind,
    ) -> Result<Option<Arc<CompiledPolicy>>, StoreError> {
        if let Some(document) = aws_managed_policy(arn) {
            let key = (arn.to_owned(), "builtin".to_owned(), kind);
            if let Some(hit) = self.cache.get(&key) {
                return Ok(Some(hit));
            }
            let compiled = Arc::new(compile(arn, kind, document)?);
            self.cache.insert(key, compiled.clone());
            return Ok(Some(compiled));
        }
        let Some(policy) = entities::load::<ManagedPolicy>(store, arn).await? else {
            return Ok(None);
        };
        let policy = policy.entity;
        let key = (arn.to_owned(), policy.default_version_id.clone(), kind);
        if let Some(hit) = self.cache.get(&key) {
            return Ok(Some(hit));
        }
        let document = policy.default_document().ok_or_else(|| {
            StoreError::Corrupt(format!("managed policy {arn} has no default version"))
        })?;
        let compiled = Arc::new(compile(arn, kind, document)?);
        self.cache.insert(key, compiled.clone());
        Ok(Some(compiled))
    }
}

/// Documents were validated when they were stored; one that no longer parses is corruption,
/// and the principal is denied rather than evaluated against part of its policies.
fn compile(name: &str, kind: PolicyKind, document: &str) -> Result<CompiledPolicy, StoreError> {
    CompiledPolicy::parse(name, kind, document)
        .map_err(|e| StoreError::Corrupt(format!("stored policy {name} does not parse: {e}")))
}

/// Inline and attached policies of an owner (user, group or role).
async fn owner_policies(
    store: &dyn Store,
    cache: &CompiledPolicyCache,
    owner_arn: &str,
    inline: &std::collections::BTreeMap<String, String>,
    attached: &[String],
    out: &mut Vec<Arc<CompiledPolicy>>,
) -> Result<(), StoreError> {
    for (name, document) in inline {
        let label = format!("{owner_arn}#inline/{name}");
        out.push(Arc::new(compile(&label, PolicyKind::Identity, document)?));
    }
    for arn in attached {
        if let Some(policy) = cache.managed(store, arn, PolicyKind::Identity).await? {
            out.push(policy);
        }
    }
    Ok(())
}

/// A permissions boundary, compiled; one naming a policy that is gone denies everything
/// rather than nothing.
async fn boundary(
    store: &dyn Store,
    cache: &CompiledPolicyCache,
    arn: &str,
) -> Result<Arc<CompiledPolicy>, StoreError> {
    if let Some(policy) = cache.managed(store, arn, PolicyKind::Boundary).await? {
        return Ok(policy);
    }
    Ok(Arc::new(compile(
        arn,
        PolicyKind::Boundary,
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"BoundaryPolicyMissing","Effect":"Deny","Action":"*","Resource":"*"}]}"#,
    )?))
}

/// The policies of a role: its own and its boundary (session policies are added per session).
pub async fn role_policies(
    store: &dyn Store,
    cache: &CompiledPolicyCache,
    role: &Role,
) -> Result<PrincipalPolicies, StoreError> {
    let mut policies = PrincipalPolicies::default();
    owner_policies(
        store,
        cache,
        &role.arn,
        &role.inline_policies,
        &role.attached_policies,
        &mut policies.identity,
    )
    .await?;
    if let Some(arn) = &role.permissions_boundary {
        policies.boundary = Some(boundary(store, cache, arn).await?);
    }
    Ok(policies)
}

/// A session's own policies (`Policy`, `PolicyArns`), which only ever narrow.
pub async fn session_policies(
    store: &dyn Store,
    cache: &CompiledPolicyCache,
    session: &SessionRecord,
) -> Result<Vec<Arc<CompiledPolicy>>, StoreError> {
    let mut out = Vec::new();
    if let Some(document) = &session.session_policy {
        out.push(Arc::new(compile(
            "session-policy",
            PolicyKind::Session,
            document,
        )?));
    }
    for arn in &session.session_policy_arns {
        match cache.managed(store, arn, PolicyKind::Session).await? {
            Some(policy) => out.push(policy),
            // A session policy that is gone still narrows: to nothing.
            None => out.push(Arc::new(compile(
                arn,
                PolicyKind::Session,
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#,
            )?)),
        }
    }
    Ok(out)
}

/// The policies that apply to an IAM user: its own, its groups', its boundary.
pub async fn user_policies(
    store: &dyn Store,
    cache: &CompiledPolicyCache,
    user: &User,
) -> Result<PrincipalPolicies, StoreError> {
    let mut policies = PrincipalPolicies::default();
    owner_policies(
        store,
        cache,
        &user.arn,
        &user.inline_policies,
        &user.attached_policies,
        &mut policies.identity,
    )
    .await?;
    for group_name in &user.groups {
        // A membership whose group is gone grants nothing.
        if let Some(group) = entities::load::<Group>(store, group_name).await? {
            let group = group.entity;
            owner_policies(
                store,
                cache,
                &group.arn,
                &group.inline_policies,
                &group.attached_policies,
                &mut policies.identity,
            )
            .await?;
        }
    }
    if let Some(arn) = &user.permissions_boundary {
        policies.boundary = Some(boundary(store, cache, arn).await?);
    }
    Ok(policies)
}
