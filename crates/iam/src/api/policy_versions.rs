//! Versions of managed policies: CreatePolicyVersion, GetPolicyVersion, ListPolicyVersions,
//! DeletePolicyVersion, SetDefaultPolicyVersion. A policy keeps at most five versions; the
//! default one cannot be deleted; version ids are never reused.

use rampart_policy::{PolicyKind, SizeLimit};
use rampart_store::Expect;
use rampart_wire::protocol::query::{QueryParams, XmlWriter};
use rampart_wire::Check;
use time::OffsetDateTime;

use super::error::IamError;
use super::input;
use super::operation::{Call, IamOperation};
use super::pagination::{paginate, PageRequest};
use super::policies::{aws_document, not_found, PolicyRef};
use super::roles::check_document;
use super::xml;
use super::{IamService, Reply, COMMIT_ATTEMPTS};
use crate::entities::{self, ManagedPolicy, PolicyVersion};

/// AWS's quota of versions per managed policy.
pub const MAX_VERSIONS: usize = 5;

/// A version as listed: id, document, default or not, date.
struct VersionView {
    id: String,
    document: String,
    default: bool,
    created: OffsetDateTime,
}

/// The `VersionId` member: `v1`, `v2`, …
fn version_id(p: &QueryParams) -> Result<&str, IamError> {
    let id = input::required(p, "VersionId")?;
    let digits = id.strip_prefix('v').unwrap_or("");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
        return Err(IamError::constraint(
            "versionId",
            id,
            r"Member must satisfy regular expression pattern: v[1-9][0-9]*(\.[A-Za-z0-9-]*)?",
        ));
    }
    Ok(id)
}

/// The sort key of a version id: its number, zero-padded so text order is numeric order.
fn version_key(id: &str) -> String {
    format!("{:0>10}", id.trim_start_matches('v'))
}

fn no_such_version(arn: &str, id: &str) -> IamError {
    IamError::NoSuchEntity(format!(
        "Policy {arn} version {id} does not exist or is not attachable."
    ))
}

fn write_version(out: &mut XmlWriter, tag: &str, v: &VersionView, document: bool) {
    out.start(tag);
    if document {
        out.element("Document", &xml::document(&v.document));
    }
    out.element("VersionId", &v.id)
        .element("IsDefaultVersion", xml::boolean(v.default))
        .element("CreateDate", &xml::timestamp(v.created))
        .end(tag);
}

pub(super) struct CreatePolicyVersion {
    policy_arn: String,
    document: String,
    set_default: bool,
}

#[async_trait::async_trait]
impl IamOperation for CreatePolicyVersion {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        let policy_arn = input::policy_arn(p, "PolicyArn")?.to_owned();
        let document = input::required(p, "PolicyDocument")?;
        check_document(document, PolicyKind::Identity, SizeLimit::ManagedPolicy)?;
        Ok(CreatePolicyVersion {
            policy_arn,
            document: document.to_owned(),
            set_default: input::boolean(p, "SetAsDefault")?.unwrap_or(false),
        })
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![iam.policy_target(&self.policy_arn).await?.check(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.create_policy_version(self).await
    }

    fn written_document(&self) -> Option<(&str, PolicyKind)> {
        Some((&self.document, PolicyKind::Identity))
    }
}

/// One version of a managed policy, as Get/Delete/SetDefault name it.
pub(super) struct VersionOf {
    policy_arn: String,
    version_id: String,
}

impl VersionOf {
    fn decode(p: &QueryParams) -> Result<Self, IamError> {
        Ok(VersionOf {
            policy_arn: input::policy_arn(p, "PolicyArn")?.to_owned(),
            version_id: version_id(p)?.to_owned(),
        })
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![iam.policy_target(&self.policy_arn).await?.check(call)])
    }
}

pub(super) struct GetPolicyVersion(VersionOf);

#[async_trait::async_trait]
impl IamOperation for GetPolicyVersion {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        VersionOf::decode(p).map(GetPolicyVersion)
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        self.0.checks(iam, call).await
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.get_policy_version(self.0).await
    }
}

pub(super) struct ListPolicyVersions {
    policy_arn: String,
    page: PageRequest,
}

#[async_trait::async_trait]
impl IamOperation for ListPolicyVersions {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(ListPolicyVersions {
            policy_arn: input::policy_arn(p, "PolicyArn")?.to_owned(),
            page: PageRequest::from_params(p)?,
        })
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![iam.policy_target(&self.policy_arn).await?.check(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.list_policy_versions(self).await
    }
}

pub(super) struct DeletePolicyVersion(VersionOf);

#[async_trait::async_trait]
impl IamOperation for DeletePolicyVersion {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        VersionOf::decode(p).map(DeletePolicyVersion)
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        self.0.checks(iam, call).await
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.delete_policy_version(self.0).await
    }
}

pub(super) struct SetDefaultPolicyVersion(VersionOf);

#[async_trait::async_trait]
impl IamOperation for SetDefaultPolicyVersion {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        VersionOf::decode(p).map(SetDefaultPolicyVersion)
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        self.0.checks(iam, call).await
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.set_default_policy_version(self.0).await
    }
}

impl IamService {
    /// Every version of a policy, customer- or AWS-managed.
    async fn versions(&self, arn: &str) -> Result<Vec<VersionView>, IamError> {
        Ok(
            match self.find_policy(arn).await?.ok_or_else(|| not_found(arn))? {
                PolicyRef::Local(v) => {
                    let m = &v.entity;
                    m.versions
                        .iter()
                        .map(|ver| VersionView {
                            id: ver.version_id.clone(),
                            document: ver.document.clone(),
                            default: ver.version_id == m.default_version_id,
                            created: ver.created_at,
                        })
                        .collect()
                }
                PolicyRef::Aws(a) => vec![VersionView {
                    id: "v1".into(),
                    document: aws_document(a).to_owned(),
                    default: true,
                    created: a.created,
                }],
            },
        )
    }

    async fn create_policy_version(&self, r: CreatePolicyVersion) -> Reply {
        let arn = r.policy_arn.as_str();
        let document = r.document.as_str();
        let set_default = r.set_default;
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.local_policy(arn).await?;
            let mut policy: ManagedPolicy = current.entity.clone();
            if policy.versions.len() >= MAX_VERSIONS {
                return Err(IamError::LimitExceeded(format!(
                    "A managed policy can have up to {MAX_VERSIONS} versions. Before you create a new version, you must delete an existing version."
                )));
            }
            let now = OffsetDateTime::now_utc();
            let version = PolicyVersion {
                version_id: format!("v{}", policy.next_version),
                document: document.to_owned(),
                created_at: now,
            };
            policy.next_version += 1;
            policy.versions.push(version.clone());
            if set_default {
                policy.default_version_id = version.version_id.clone();
                policy.updated_at = now;
            }
            if self
                .try_commit(vec![entities::put(
                    &policy,
                    Expect::Version(current.version),
                )])
                .await?
            {
                let mut out = XmlWriter::new();
                let view = VersionView {
                    id: version.version_id,
                    document: version.document,
                    default: set_default,
                    created: now,
                };
                write_version(&mut out, "PolicyVersion", &view, false);
                return Ok(Some(out.finish()));
            }
        }
        Err(IamError::concurrent())
    }

    async fn get_policy_version(&self, r: VersionOf) -> Reply {
        let arn = r.policy_arn.as_str();
        let id = r.version_id.as_str();
        let version = self
            .versions(arn)
            .await?
            .into_iter()
            .find(|v| v.id == id)
            .ok_or_else(|| no_such_version(arn, id))?;
        let mut out = XmlWriter::new();
        write_version(&mut out, "PolicyVersion", &version, true);
        Ok(Some(out.finish()))
    }

    async fn list_policy_versions(&self, r: ListPolicyVersions) -> Reply {
        let ListPolicyVersions {
            policy_arn,
            page: req,
        } = r;
        let page = paginate(
            self.versions(&policy_arn).await?,
            |v| version_key(&v.id),
            &req,
        );
        let mut out = XmlWriter::new();
        out.start("Versions");
        for v in &page.items {
            write_version(&mut out, "member", v, false);
        }
        out.end("Versions");
        page.write_tail(&mut out);
        Ok(Some(out.finish()))
    }

    async fn delete_policy_version(&self, r: VersionOf) -> Reply {
        let arn = r.policy_arn.as_str();
        let id = r.version_id.as_str();
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.local_policy(arn).await?;
            let mut policy = current.entity.clone();
            if !policy.versions.iter().any(|v| v.version_id == id) {
                return Err(no_such_version(arn, id));
            }
            if policy.default_version_id == id {
                return Err(IamError::DeleteConflict(
                    "Cannot delete the default version of a policy.".into(),
                ));
            }
            policy.versions.retain(|v| v.version_id != id);
            if self
                .try_commit(vec![entities::put(
                    &policy,
                    Expect::Version(current.version),
                )])
                .await?
            {
                return Ok(None);
            }
        }
        Err(IamError::concurrent())
    }

    async fn set_default_policy_version(&self, r: VersionOf) -> Reply {
        let arn = r.policy_arn.as_str();
        let id = r.version_id.as_str();
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.local_policy(arn).await?;
            let mut policy = current.entity.clone();
            if !policy.versions.iter().any(|v| v.version_id == id) {
                return Err(no_such_version(arn, id));
            }
            policy.default_version_id = id.to_owned();
            policy.updated_at = OffsetDateTime::now_utc();
            if self
                .try_commit(vec![entities::put(
                    &policy,
                    Expect::Version(current.version),
                )])
                .await?
            {
                return Ok(None);
            }
        }
        Err(IamError::concurrent())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ids_sort_numerically() {
        assert!(version_key("v10") > version_key("v9"));
        let p = QueryParams::parse(&[b"VersionId=v0"]).unwrap();
        assert!(version_id(&p).is_err());
        let p = QueryParams::parse(&[b"VersionId=v12"]).unwrap();
        assert_eq!(version_id(&p).unwrap(), "v12");
    }
}
