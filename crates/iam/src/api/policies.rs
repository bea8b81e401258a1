//! Managed policies: CreatePolicy, GetPolicy, ListPolicies, DeletePolicy, and what the
//! other policy operations share: finding a policy by ARN, whether customer-managed (stored)
//! or AWS-managed (built in), and keeping its attachment counts in the commits that change
//! them.

use rampart_core::ids;
use rampart_policy::{PolicyKind, SizeLimit};
use rampart_store::{Expect, Write};
use rampart_wire::protocol::query::{QueryParams, XmlWriter};
use rampart_wire::Check;
use time::OffsetDateTime;

use super::error::IamError;
use super::input;
use super::operation::{Call, IamOperation};
use super::pagination::{scan_all, scan_page, Page, PageRequest};
use super::roles::check_document;
use super::targets::request_tags;
use super::xml;
use super::{IamService, Reply, COMMIT_ATTEMPTS};
use crate::entities::{
    self, aws_managed_policy, Group, ManagedPolicy, PolicyVersion, Role, Tag, User, Versioned,
    ADMINISTRATOR_ACCESS_ARN,
};

/// The longest policy name and description IAM accepts.
const MAX_POLICY_NAME: usize = 128;
const MAX_DESCRIPTION: usize = 1000;

/// An AWS-managed policy Rampart ships: its metadata as AWS publishes it.
#[derive(Debug)]
pub(super) struct AwsPolicy {
    /// `arn:aws:iam::aws:policy/…`.
    pub arn: &'static str,
    /// The policy name.
    pub name: &'static str,
    /// AWS's published policy id (`ANPA…`).
    pub id: &'static str,
    /// When AWS created it (its only version's date too).
    pub created: OffsetDateTime,
}

/// The AWS-managed policies, in ARN order.
pub(super) const AWS_POLICIES: &[AwsPolicy] = &[AwsPolicy {
    arn: ADMINISTRATOR_ACCESS_ARN,
    name: "AdministratorAccess",
    id: "ANPAIWMBCKSKIEE64ZLYK",
    created: time::macros::datetime!(2015-02-06 18:39:46 UTC),
}];

/// A managed policy found by ARN.
pub(super) enum PolicyRef {
    Local(Box<Versioned<ManagedPolicy>>),
    Aws(&'static AwsPolicy),
}

impl PolicyRef {
    /// The write that moves a customer-managed policy's counts by `attachments` and
    /// `boundaries`, expecting the version read (none for AWS-managed policies, whose counts
    /// are computed when asked).
    pub fn adjust(&self, attachments: i64, boundaries: i64) -> Option<Write> {
        match self {
            PolicyRef::Local(v) => {
                let mut policy = v.entity.clone();
                policy.attachment_count = shift(policy.attachment_count, attachments);
                policy.permissions_boundary_usage_count =
                    shift(policy.permissions_boundary_usage_count, boundaries);
                Some(entities::put(&policy, Expect::Version(v.version)))
            }
            PolicyRef::Aws(_) => None,
        }
    }
}

fn shift(count: u32, by: i64) -> u32 {
    (i64::from(count) + by).clamp(0, i64::from(u32::MAX)) as u32
}

/// The name and path of a policy ARN's resource (`policy/a/b/Name` → `/a/b/`, `Name`).
pub(super) fn split_policy_arn(arn: &str) -> (String, String) {
    let resource = arn.splitn(6, ':').nth(5).unwrap_or("");
    let rest = resource.strip_prefix("policy").unwrap_or(resource);
    match rest.rfind('/') {
        Some(i) => (rest[..=i].to_owned(), rest[i + 1..].to_owned()),
        None => ("/".to_owned(), rest.to_owned()),
    }
}

/// Counts how many entities attach `arn` and use it as their boundary, by scanning them:
/// for AWS-managed policies, which have no record to keep counts in.
pub(super) async fn usage_by_scan(service: &IamService, arn: &str) -> Result<(u32, u32), IamError> {
    let store = service.store.as_ref();
    let users = scan_all::<User>(store).await?;
    let groups = scan_all::<Group>(store).await?;
    let roles = scan_all::<Role>(store).await?;
    let attached = |list: &[String]| list.iter().any(|a| a == arn);
    let boundary = |b: &Option<String>| b.as_deref() == Some(arn);
    let attachments = users
        .iter()
        .filter(|u| attached(&u.entity.attached_policies))
        .count()
        + groups
            .iter()
            .filter(|g| attached(&g.entity.attached_policies))
            .count()
        + roles
            .iter()
            .filter(|r| attached(&r.entity.attached_policies))
            .count();
    let boundaries = users
        .iter()
        .filter(|u| boundary(&u.entity.permissions_boundary))
        .count()
        + roles
            .iter()
            .filter(|r| boundary(&r.entity.permissions_boundary))
            .count();
    Ok((attachments as u32, boundaries as u32))
}

pub(super) struct CreatePolicy {
    name: String,
    path: String,
    document: String,
    description: Option<String>,
    tags: Vec<Tag>,
}

#[async_trait::async_trait]
impl IamOperation for CreatePolicy {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        let name = input::name(p, "PolicyName", MAX_POLICY_NAME)?.to_owned();
        let path = input::path(p, "Path")?;
        let document = input::required(p, "PolicyDocument")?;
        check_document(document, PolicyKind::Identity, SizeLimit::ManagedPolicy)?;
        let description = match p.get("Description") {
            Some(d) if d.chars().count() > MAX_DESCRIPTION => {
                return Err(IamError::constraint(
                    "description",
                    d,
                    &format!("Member must have length less than or equal to {MAX_DESCRIPTION}"),
                ))
            }
            other => other.map(str::to_owned),
        };
        Ok(CreatePolicy {
            name,
            path,
            document: document.to_owned(),
            description,
            tags: input::tags(p)?,
        })
    }

    /// The new policy's ARN, with the tags it will carry.
    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        let mut check = iam.new_target("policy", &self.path, &self.name).check(call);
        request_tags(&mut check, &self.tags);
        Ok(vec![check])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.create_policy(self).await
    }

    fn written_document(&self) -> Option<(&str, PolicyKind)> {
        Some((&self.document, PolicyKind::Identity))
    }
}

pub(super) struct GetPolicy {
    policy_arn: String,
}

#[async_trait::async_trait]
impl IamOperation for GetPolicy {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(GetPolicy {
            policy_arn: input::policy_arn(p, "PolicyArn")?.to_owned(),
        })
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![iam.policy_target(&self.policy_arn).await?.check(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.get_policy(&self.policy_arn).await
    }
}

/// Which policies `ListPolicies` answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    All,
    Aws,
    Local,
}

pub(super) struct ListPolicies {
    scope: Scope,
    only_attached: bool,
    prefix: String,
    page: PageRequest,
}

#[async_trait::async_trait]
impl IamOperation for ListPolicies {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        let scope = match p.get("Scope").unwrap_or("All") {
            "All" => Scope::All,
            "AWS" => Scope::Aws,
            "Local" => Scope::Local,
            other => {
                return Err(IamError::constraint(
                    "scope",
                    other,
                    "Member must satisfy enum value set: [All, AWS, Local]",
                ))
            }
        };
        Ok(ListPolicies {
            scope,
            only_attached: input::boolean(p, "OnlyAttached")?.unwrap_or(false),
            prefix: input::path_prefix(p)?,
            page: PageRequest::from_params(p)?,
        })
    }

    async fn checks(&mut self, _: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![Check::unscoped(call.action())])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.list_policies(self).await
    }
}

pub(super) struct DeletePolicy {
    policy_arn: String,
}

#[async_trait::async_trait]
impl IamOperation for DeletePolicy {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(DeletePolicy {
            policy_arn: input::policy_arn(p, "PolicyArn")?.to_owned(),
        })
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![iam.policy_target(&self.policy_arn).await?.check(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.delete_policy(&self.policy_arn).await
    }
}

impl IamService {
    /// The policy `arn` names, if any.
    pub(super) async fn find_policy(&self, arn: &str) -> Result<Option<PolicyRef>, IamError> {
        if let Some(aws) = AWS_POLICIES.iter().find(|a| a.arn == arn) {
            return Ok(Some(PolicyRef::Aws(aws)));
        }
        Ok(entities::load::<ManagedPolicy>(self.store.as_ref(), arn)
            .await?
            .map(|v| PolicyRef::Local(Box::new(v))))
    }

    /// The policy to attach, or IAM's `NoSuchEntity`.
    pub(super) async fn attachable_policy(&self, arn: &str) -> Result<PolicyRef, IamError> {
        self.find_policy(arn)
            .await?
            .ok_or_else(|| IamError::no_such_policy(arn))
    }

    /// The policy to use as a permissions boundary, or IAM's `NoSuchEntity`.
    pub(super) async fn boundary_policy(&self, arn: &str) -> Result<PolicyRef, IamError> {
        self.find_policy(arn).await?.ok_or_else(|| {
            IamError::NoSuchEntity(format!(
                "Scope ARN: {arn} does not exist or is not attachable."
            ))
        })
    }

    /// A customer-managed policy, or `NoSuchEntity` ("was not found", as GetPolicy says).
    pub(super) async fn local_policy(
        &self,
        arn: &str,
    ) -> Result<Versioned<ManagedPolicy>, IamError> {
        match self.find_policy(arn).await? {
            Some(PolicyRef::Local(v)) => Ok(*v),
            Some(PolicyRef::Aws(_)) => Err(IamError::InvalidInput(format!(
                "Policy {arn} is an AWS managed policy and cannot be modified."
            ))),
            None => Err(not_found(arn)),
        }
    }

    async fn create_policy(&self, r: CreatePolicy) -> Reply {
        let CreatePolicy {
            name,
            path,
            document,
            description,
            tags,
        } = r;
        let name = name.as_str();
        let arn = self.arn("policy", &path, name);
        let now = OffsetDateTime::now_utc();
        let policy = ManagedPolicy {
            name: name.to_owned(),
            policy_id: ids::unique_id("ANPA"),
            arn: arn.clone(),
            path,
            description,
            created_at: now,
            updated_at: now,
            default_version_id: "v1".to_owned(),
            versions: vec![PolicyVersion {
                version_id: "v1".to_owned(),
                document,
                created_at: now,
            }],
            next_version: 2,
            tags,
            attachment_count: 0,
            permissions_boundary_usage_count: 0,
        };
        // Creation only ever conflicts with an existing policy: no retry needed.
        if !self
            .try_commit(vec![entities::put(&policy, Expect::Absent)])
            .await?
        {
            return Err(IamError::EntityAlreadyExists(format!(
                "A policy called {name} already exists. Duplicate names are not allowed."
            )));
        }
        let mut out = XmlWriter::new();
        write_local(&mut out, "Policy", &policy, false);
        Ok(Some(out.finish()))
    }

    async fn get_policy(&self, arn: &str) -> Reply {
        let mut out = XmlWriter::new();
        match self.find_policy(arn).await?.ok_or_else(|| not_found(arn))? {
            PolicyRef::Local(v) => write_local(&mut out, "Policy", &v.entity, true),
            PolicyRef::Aws(aws) => {
                let counts = usage_by_scan(self, aws.arn).await?;
                write_aws(&mut out, "Policy", aws, counts);
            }
        }
        Ok(Some(out.finish()))
    }

    /// Customer-managed policies in ARN order, then the AWS-managed ones (whose ARNs sort
    /// after every account's), filtered by `Scope`, `OnlyAttached` and `PathPrefix`.
    async fn list_policies(&self, r: ListPolicies) -> Reply {
        let ListPolicies {
            scope,
            only_attached,
            prefix,
            page: req,
        } = r;
        let mut page: Page<Versioned<ManagedPolicy>> = if scope == Scope::Aws {
            Page {
                items: Vec::new(),
                next_after: None,
            }
        } else {
            scan_page::<ManagedPolicy>(self.store.as_ref(), &req, |m| {
                m.path.starts_with(&prefix) && (!only_attached || m.attachment_count > 0)
            })
            .await?
        };
        let mut aws_items = Vec::new();
        if scope != Scope::Local && page.next_after.is_none() && prefix_matches_root(&prefix) {
            for aws in AWS_POLICIES {
                if req.after.as_deref().is_some_and(|after| aws.arn <= after) {
                    continue;
                }
                let counts = usage_by_scan(self, aws.arn).await?;
                if only_attached && counts.0 == 0 {
                    continue;
                }
                if page.items.len() + aws_items.len() == req.max_items {
                    page.next_after = Some(
                        aws_items
                            .last()
                            .map(|(a, _): &(&AwsPolicy, _)| a.arn.to_owned())
                            .or_else(|| page.items.last().map(|v| v.entity.arn.clone()))
                            .unwrap_or_default(),
                    );
                    break;
                }
                aws_items.push((aws, counts));
            }
        }
        let mut out = XmlWriter::new();
        out.start("Policies");
        for v in &page.items {
            write_local(&mut out, "member", &v.entity, false);
        }
        for (aws, counts) in aws_items {
            write_aws(&mut out, "member", aws, counts);
        }
        out.end("Policies");
        page.write_tail(&mut out);
        Ok(Some(out.finish()))
    }

    /// Deletes a customer-managed policy that is attached nowhere and has only its default
    /// version left, as IAM requires.
    async fn delete_policy(&self, arn: &str) -> Reply {
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.local_policy(arn).await?;
            let policy = &current.entity;
            if policy.attachment_count > 0 {
                return Err(IamError::DeleteConflict(
                    "Cannot delete a policy attached to entities.".into(),
                ));
            }
            if policy.permissions_boundary_usage_count > 0 {
                return Err(IamError::DeleteConflict(
                    "Cannot delete a policy used as a permissions boundary.".into(),
                ));
            }
            if policy.versions.len() > 1 {
                return Err(IamError::DeleteConflict(
                    "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.".into(),
                ));
            }
            let write = entities::delete::<ManagedPolicy>(arn, Expect::Version(current.version));
            if self.try_commit(vec![write]).await? {
                return Ok(None);
            }
        }
        Err(IamError::concurrent())
    }
}

/// AWS-managed policies all live at `/`.
fn prefix_matches_root(prefix: &str) -> bool {
    "/".starts_with(prefix)
}

/// "Policy arn:… was not found."
pub(super) fn not_found(arn: &str) -> IamError {
    IamError::NoSuchEntity(format!("Policy {arn} was not found."))
}

/// The `Policy` shape of a customer-managed policy. List operations leave out the
/// description, as IAM's do.
fn write_local(out: &mut XmlWriter, tag: &str, m: &ManagedPolicy, description: bool) {
    out.start(tag)
        .element("PolicyName", &m.name)
        .element("PolicyId", &m.policy_id)
        .element("Arn", &m.arn)
        .element("Path", &m.path)
        .element("DefaultVersionId", &m.default_version_id)
        .element("AttachmentCount", &m.attachment_count.to_string())
        .element(
            "PermissionsBoundaryUsageCount",
            &m.permissions_boundary_usage_count.to_string(),
        )
        .element("IsAttachable", "true");
    if description {
        out.optional("Description", m.description.as_deref());
    }
    out.element("CreateDate", &xml::timestamp(m.created_at))
        .element("UpdateDate", &xml::timestamp(m.updated_at));
    if !m.tags.is_empty() {
        xml::tags(out, "Tags", &m.tags);
    }
    out.end(tag);
}

/// The `Policy` shape of an AWS-managed policy.
fn write_aws(out: &mut XmlWriter, tag: &str, a: &AwsPolicy, (attachments, boundaries): (u32, u32)) {
    out.start(tag)
        .element("PolicyName", a.name)
        .element("PolicyId", a.id)
        .element("Arn", a.arn)
        .element("Path", "/")
        .element("DefaultVersionId", "v1")
        .element("AttachmentCount", &attachments.to_string())
        .element("PermissionsBoundaryUsageCount", &boundaries.to_string())
        .element("IsAttachable", "true")
        .element("CreateDate", &xml::timestamp(a.created))
        .element("UpdateDate", &xml::timestamp(a.created))
        .end(tag);
}

/// The document of an AWS-managed policy (every one Rampart ships has one).
pub(super) fn aws_document(a: &AwsPolicy) -> &'static str {
    aws_managed_policy(a.arn).unwrap_or("{}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_arns_split_into_path_and_name() {
        assert_eq!(
            split_policy_arn("arn:aws:iam::aws:policy/AdministratorAccess"),
            ("/".to_owned(), "AdministratorAccess".to_owned())
        );
        assert_eq!(
            split_policy_arn("arn:aws:iam::123456789012:policy/a/b/P"),
            ("/a/b/".to_owned(), "P".to_owned())
        );
    }

    #[test]
    fn counts_never_underflow() {
        assert_eq!(shift(0, -1), 0);
        assert_eq!(shift(2, 1), 3);
    }
}
