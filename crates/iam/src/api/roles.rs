//! Roles: CreateRole, GetRole, ListRoles, UpdateRole, UpdateRoleDescription,
//! UpdateAssumeRolePolicy, DeleteRole.
//! A role's trust policy is validated as a trust policy (it must name principals and may not
//! name resources) before it is stored.

use rampart_core::ids;
use rampart_policy::{check_size, parse_policy, PolicyKind, SizeLimit};
use rampart_store::{Expect, Write};
use rampart_wire::protocol::query::{QueryParams, XmlWriter};
use rampart_wire::Check;
use time::OffsetDateTime;

use super::error::IamError;
use super::input;
use super::operation::{Call, IamOperation};
use super::pagination::{name_taken, scan_page, PageRequest};
use super::targets::{request_tags, Authorized};
use super::xml::{self, Detail};
use super::{Holder, IamService, Reply, COMMIT_ATTEMPTS};
use crate::entities::{self, Role, Tag};

/// `MaxSessionDuration` bounds and default, in seconds.
const MIN_SESSION: i64 = 3600;
const MAX_SESSION: i64 = 43200;

/// The most characters a role description may have.
const MAX_DESCRIPTION: usize = 1000;

/// Checks a document as a policy of `kind` within `limit`, with IAM's errors.
pub(super) fn check_document(
    document: &str,
    kind: PolicyKind,
    limit: SizeLimit,
) -> Result<(), IamError> {
    check_size(document, limit).map_err(|e| IamError::LimitExceeded(e.to_string()))?;
    parse_policy(document, kind)
        .map(|_| ())
        .map_err(|e| IamError::MalformedPolicyDocument(e.aws_message()))
}

/// `Description`, within IAM's length limit.
fn description(p: &QueryParams) -> Result<Option<String>, IamError> {
    match p.get("Description") {
        Some(d) if d.chars().count() > MAX_DESCRIPTION => Err(IamError::constraint(
            "description",
            d,
            &format!("Member must have length less than or equal to {MAX_DESCRIPTION}"),
        )),
        other => Ok(other.map(str::to_owned)),
    }
}

/// `MaxSessionDuration`, within IAM's bounds.
fn max_session(p: &QueryParams) -> Result<Option<u32>, IamError> {
    Ok(input::integer(p, "MaxSessionDuration", MIN_SESSION, MAX_SESSION)?.map(|m| m as u32))
}

pub(super) struct CreateRole {
    name: String,
    path: String,
    /// The trust policy, already validated as one.
    document: String,
    description: Option<String>,
    max_session: u32,
    tags: Vec<Tag>,
    boundary: Option<String>,
}

#[async_trait::async_trait]
impl IamOperation for CreateRole {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        let name = input::name(p, "RoleName", 64)?.to_owned();
        let path = input::path(p, "Path")?;
        let document = input::required(p, "AssumeRolePolicyDocument")?;
        check_document(document, PolicyKind::Trust, SizeLimit::TrustPolicy)?;
        let description = description(p)?;
        let max_session = max_session(p)?.unwrap_or(MIN_SESSION as u32);
        let tags = input::tags(p)?;
        let boundary = p.get("PermissionsBoundary");
        if let Some(arn) = boundary {
            input::check_policy_arn(arn)?;
        }
        Ok(CreateRole {
            name,
            path,
            document: document.to_owned(),
            description,
            max_session,
            tags,
            boundary: boundary.map(str::to_owned),
        })
    }

    /// The new role's ARN; `iam:PermissionsBoundary` is the boundary it will carry.
    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        let mut check = iam.new_target("role", &self.path, &self.name).check(call);
        if let Some(boundary) = &self.boundary {
            check.push_key("iam:PermissionsBoundary", boundary);
        }
        request_tags(&mut check, &self.tags);
        Ok(vec![check])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.create_role(self).await
    }

    fn written_document(&self) -> Option<(&str, PolicyKind)> {
        Some((&self.document, PolicyKind::Trust))
    }
}

pub(super) struct GetRole {
    name: String,
}

#[async_trait::async_trait]
impl IamOperation for GetRole {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(GetRole {
            name: input::name(p, "RoleName", 64)?.to_owned(),
        })
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![iam.target::<Role>(&self.name).await?.check(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.get_role(&self.name).await
    }
}

pub(super) struct ListRoles {
    prefix: String,
    page: PageRequest,
}

#[async_trait::async_trait]
impl IamOperation for ListRoles {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(ListRoles {
            prefix: input::path_prefix(p)?,
            page: PageRequest::from_params(p)?,
        })
    }

    async fn checks(&mut self, _: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![Check::unscoped(call.action())])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.list_roles(self).await
    }
}

pub(super) struct UpdateRole {
    name: String,
    description: Option<String>,
    max_session: Option<u32>,
    /// The role as its checks read it: the write acts on that state only.
    authorized: Authorized,
}

#[async_trait::async_trait]
impl IamOperation for UpdateRole {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(UpdateRole {
            name: input::name(p, "RoleName", 64)?.to_owned(),
            description: description(p)?,
            max_session: max_session(p)?,
            authorized: Authorized::default(),
        })
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        let target = self
            .authorized
            .record(iam.target::<Role>(&self.name).await?);
        Ok(vec![target.check(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.update_role(self).await
    }
}

pub(super) struct UpdateRoleDescription {
    name: String,
    description: String,
    /// The role as its checks read it: the write acts on that state only.
    authorized: Authorized,
}

#[async_trait::async_trait]
impl IamOperation for UpdateRoleDescription {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        let name = input::name(p, "RoleName", 64)?.to_owned();
        let description = description(p)?.ok_or_else(|| IamError::missing("Description"))?;
        Ok(UpdateRoleDescription {
            name,
            description,
            authorized: Authorized::default(),
        })
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        let target = self
            .authorized
            .record(iam.target::<Role>(&self.name).await?);
        Ok(vec![target.check(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.update_role_description(self).await
    }
}

pub(super) struct UpdateAssumeRolePolicy {
    name: String,
    /// The new trust policy, already validated as one.
    document: String,
    /// The role as its checks read it: the write acts on that state only.
    authorized: Authorized,
}

#[async_trait::async_trait]
impl IamOperation for UpdateAssumeRolePolicy {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        let name = input::name(p, "RoleName", 64)?.to_owned();
        let document = input::required(p, "PolicyDocument")?;
        check_document(document, PolicyKind::Trust, SizeLimit::TrustPolicy)?;
        Ok(UpdateAssumeRolePolicy {
            name,
            document: document.to_owned(),
            authorized: Authorized::default(),
        })
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        let target = self
            .authorized
            .record(iam.target::<Role>(&self.name).await?);
        Ok(vec![target.check(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.update_assume_role_policy(self).await
    }

    fn written_document(&self) -> Option<(&str, PolicyKind)> {
        Some((&self.document, PolicyKind::Trust))
    }
}

pub(super) struct DeleteRole {
    name: String,
    /// The role as its checks read it: the write acts on that state only.
    authorized: Authorized,
}

#[async_trait::async_trait]
impl IamOperation for DeleteRole {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(DeleteRole {
            name: input::name(p, "RoleName", 64)?.to_owned(),
            authorized: Authorized::default(),
        })
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        let target = self
            .authorized
            .record(iam.target::<Role>(&self.name).await?);
        Ok(vec![target.check(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.delete_role(self).await
    }
}

impl IamService {
    async fn create_role(&self, r: CreateRole) -> Reply {
        let CreateRole {
            name,
            path,
            document,
            description,
            max_session,
            tags,
            boundary,
        } = r;
        let name = name.as_str();
        let boundary = boundary.as_deref();
        for _ in 0..COMMIT_ATTEMPTS {
            if name_taken::<Role>(self.store.as_ref(), name).await? {
                return Err(IamError::already_exists("Role", name));
            }
            let mut writes: Vec<Write> = Vec::new();
            if let Some(arn) = boundary {
                writes.extend(self.boundary_policy(arn).await?.adjust(0, 1));
            }
            let role = Role {
                name: name.to_owned(),
                role_id: ids::unique_id("AROA"),
                arn: self.arn("role", &path, name),
                path: path.clone(),
                created_at: OffsetDateTime::now_utc(),
                assume_role_policy_document: document.clone(),
                description: description.clone(),
                max_session_duration: max_session,
                attached_policies: Vec::new(),
                inline_policies: Default::default(),
                permissions_boundary: boundary.map(str::to_owned),
                tags: tags.clone(),
            };
            writes.push(entities::put(&role, Expect::Absent));
            if self.try_commit(writes).await? {
                let mut out = XmlWriter::new();
                xml::role(&mut out, "Role", &role, Detail::Full);
                return Ok(Some(out.finish()));
            }
        }
        Err(IamError::concurrent())
    }

    async fn get_role(&self, name: &str) -> Reply {
        let role = self.load::<Role>(name).await?;
        let mut out = XmlWriter::new();
        xml::role(&mut out, "Role", &role.entity, Detail::Full);
        Ok(Some(out.finish()))
    }

    async fn list_roles(&self, r: ListRoles) -> Reply {
        let ListRoles { prefix, page: req } = r;
        let page =
            scan_page::<Role>(self.store.as_ref(), &req, |r| r.path.starts_with(&prefix)).await?;
        let mut out = XmlWriter::new();
        out.start("Roles");
        for r in &page.items {
            xml::role(&mut out, "member", &r.entity, Detail::Summary);
        }
        out.end("Roles");
        page.write_tail(&mut out);
        Ok(Some(out.finish()))
    }

    /// Changes the description and/or the longest session; answers an empty result element,
    /// as IAM does.
    async fn update_role(&self, r: UpdateRole) -> Reply {
        let UpdateRole {
            name,
            description,
            max_session,
            authorized,
        } = r;
        self.modify::<Role>(&name, &authorized, |role| {
            if let Some(d) = &description {
                role.description = Some(d.clone());
            }
            if let Some(m) = max_session {
                role.max_session_duration = m;
            }
            Ok(())
        })
        .await?;
        Ok(Some(String::new()))
    }

    /// The older form of UpdateRole: sets the description and answers the role.
    async fn update_role_description(&self, r: UpdateRoleDescription) -> Reply {
        let UpdateRoleDescription {
            name,
            description,
            authorized,
        } = r;
        self.modify::<Role>(&name, &authorized, |role| {
            role.description = Some(description.clone());
            Ok(())
        })
        .await?;
        self.get_role(&name).await
    }

    async fn update_assume_role_policy(&self, r: UpdateAssumeRolePolicy) -> Reply {
        let UpdateAssumeRolePolicy {
            name,
            document,
            authorized,
        } = r;
        self.modify::<Role>(&name, &authorized, |role| {
            role.assume_role_policy_document = document.clone();
            Ok(())
        })
        .await?;
        Ok(None)
    }

    /// Deletes a role with no policies left, as IAM requires.
    async fn delete_role(&self, r: DeleteRole) -> Reply {
        let name = r.name.as_str();
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.load::<Role>(name).await?;
            r.authorized.holds_for(&current.entity)?;
            if !current.entity.inline_policies.is_empty() {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must delete policies first.".into(),
                ));
            }
            if !current.entity.attached_policies.is_empty() {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must detach all policies first.".into(),
                ));
            }
            let mut writes = Vec::new();
            if let Some(arn) = &current.entity.permissions_boundary {
                if let Some(policy) = self.find_policy(arn).await? {
                    writes.extend(policy.adjust(0, -1));
                }
            }
            writes.push(entities::delete::<Role>(
                name,
                Expect::Version(current.version),
            ));
            if self.try_commit(writes).await? {
                return Ok(None);
            }
        }
        Err(IamError::concurrent())
    }

    /// Read-modify-write of one entity, retried when another writer got there first. Each
    /// read must still be the entity as `authorized` (what the request's checks read of it).
    pub(super) async fn modify<T: Holder>(
        &self,
        name: &str,
        authorized: &Authorized,
        change: impl Fn(&mut T) -> Result<(), IamError>,
    ) -> Result<(), IamError> {
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.load::<T>(name).await?;
            authorized.holds_for(&current.entity)?;
            let mut entity = current.entity.clone();
            change(&mut entity)?;
            if self
                .try_commit(vec![entities::put(
                    &entity,
                    Expect::Version(current.version),
                )])
                .await?
            {
                return Ok(());
            }
        }
        Err(IamError::concurrent())
    }
}
