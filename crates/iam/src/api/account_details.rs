//! GetAccountAuthorizationDetails: every user, group, role and managed policy with its
//! policies, in one paged list (users, then groups, then roles, then policies).

use rampart_wire::protocol::query::{QueryParams, XmlWriter};
use rampart_wire::Check;

use super::error::IamError;
use super::operation::{Call, IamOperation};
use super::pagination::{paginate, scan_all, PageRequest};
use super::policies::{aws_document, split_policy_arn, usage_by_scan, AWS_POLICIES};
use super::xml;
use super::{IamService, Reply};
use crate::entities::{Group, ManagedPolicy, Role, User};

/// One entry of the answer, with its place in the paged order.
enum Detail {
    User(User),
    Group(Group),
    Role(Role),
    Local(ManagedPolicy),
    Aws(usize, (u32, u32)),
}

impl Detail {
    fn key(&self) -> String {
        match self {
            Detail::User(u) => format!("1/{}", u.name),
            Detail::Group(g) => format!("2/{}", g.name),
            Detail::Role(r) => format!("3/{}", r.name),
            Detail::Local(m) => format!("4/{}", m.arn),
            Detail::Aws(i, _) => format!("4/{}", AWS_POLICIES[*i].arn),
        }
    }
}

const FILTERS: [&str; 5] = [
    "User",
    "Role",
    "Group",
    "LocalManagedPolicy",
    "AWSManagedPolicy",
];

fn inline_list<'a>(
    out: &mut XmlWriter,
    tag: &str,
    policies: impl IntoIterator<Item = (&'a String, &'a String)>,
) {
    out.start(tag);
    for (name, doc) in policies {
        out.start("member")
            .element("PolicyName", name)
            .element("PolicyDocument", &xml::document(doc))
            .end("member");
    }
    out.end(tag);
}

fn attached_list(out: &mut XmlWriter, arns: &[String]) {
    out.start("AttachedManagedPolicies");
    for arn in arns {
        let (_, name) = split_policy_arn(arn);
        out.start("member")
            .element("PolicyName", &name)
            .element("PolicyArn", arn)
            .end("member");
    }
    out.end("AttachedManagedPolicies");
}

pub(super) struct GetAccountAuthorizationDetails {
    /// The `Filter` members, each one of [`FILTERS`]; none means all.
    filter: Vec<String>,
    page: PageRequest,
}

#[async_trait::async_trait]
impl IamOperation for GetAccountAuthorizationDetails {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        let filter = p.list("Filter");
        if let Some(bad) = filter.iter().find(|f| !FILTERS.contains(f)) {
            return Err(IamError::constraint(
                "filter",
                bad,
                "Member must satisfy enum value set: [User, Role, Group, LocalManagedPolicy, AWSManagedPolicy]",
            ));
        }
        Ok(GetAccountAuthorizationDetails {
            filter: filter.into_iter().map(str::to_owned).collect(),
            page: PageRequest::from_params(p)?,
        })
    }

    async fn checks(&mut self, _: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![Check::unscoped(call.action())])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.get_account_authorization_details(self).await
    }
}

impl IamService {
    async fn get_account_authorization_details(&self, r: GetAccountAuthorizationDetails) -> Reply {
        let GetAccountAuthorizationDetails { filter, page: req } = r;
        let wants = |kind: &str| filter.is_empty() || filter.iter().any(|f| f == kind);
        let store = self.store.as_ref();
        let mut details = Vec::new();
        if wants("User") {
            details.extend(
                scan_all::<User>(store)
                    .await?
                    .into_iter()
                    .map(|v| Detail::User(v.entity)),
            );
        }
        if wants("Group") {
            details.extend(
                scan_all::<Group>(store)
                    .await?
                    .into_iter()
                    .map(|v| Detail::Group(v.entity)),
            );
        }
        if wants("Role") {
            details.extend(
                scan_all::<Role>(store)
                    .await?
                    .into_iter()
                    .map(|v| Detail::Role(v.entity)),
            );
        }
        if wants("LocalManagedPolicy") {
            details.extend(
                scan_all::<ManagedPolicy>(store)
                    .await?
                    .into_iter()
                    .map(|v| Detail::Local(v.entity)),
            );
        }
        if wants("AWSManagedPolicy") {
            // AWS lists only the AWS-managed policies the account uses.
            for (i, aws) in AWS_POLICIES.iter().enumerate() {
                let counts = usage_by_scan(self, aws.arn).await?;
                if counts.0 > 0 || counts.1 > 0 {
                    details.push(Detail::Aws(i, counts));
                }
            }
        }
        let page = paginate(details, Detail::key, &req);

        let mut out = XmlWriter::new();
        out.start("UserDetailList");
        for d in &page.items {
            if let Detail::User(u) = d {
                out.start("member")
                    .element("Path", &u.path)
                    .element("UserName", &u.name)
                    .element("UserId", &u.user_id)
                    .element("Arn", &u.arn)
                    .element("CreateDate", &xml::timestamp(u.created_at));
                inline_list(&mut out, "UserPolicyList", &u.inline_policies);
                xml::strings(&mut out, "GroupList", u.groups.iter().map(String::as_str));
                attached_list(&mut out, &u.attached_policies);
                xml::boundary(&mut out, u.permissions_boundary.as_deref());
                xml::tags(&mut out, "Tags", &u.tags);
                out.end("member");
            }
        }
        out.end("UserDetailList");
        out.start("GroupDetailList");
        for d in &page.items {
            if let Detail::Group(g) = d {
                out.start("member")
                    .element("Path", &g.path)
                    .element("GroupName", &g.name)
                    .element("GroupId", &g.group_id)
                    .element("Arn", &g.arn)
                    .element("CreateDate", &xml::timestamp(g.created_at));
                inline_list(&mut out, "GroupPolicyList", &g.inline_policies);
                attached_list(&mut out, &g.attached_policies);
                out.end("member");
            }
        }
        out.end("GroupDetailList");
        out.start("RoleDetailList");
        for d in &page.items {
            if let Detail::Role(r) = d {
                out.start("member")
                    .element("Path", &r.path)
                    .element("RoleName", &r.name)
                    .element("RoleId", &r.role_id)
                    .element("Arn", &r.arn)
                    .element("CreateDate", &xml::timestamp(r.created_at))
                    .element(
                        "AssumeRolePolicyDocument",
                        &xml::document(&r.assume_role_policy_document),
                    )
                    .start("InstanceProfileList")
                    .end("InstanceProfileList");
                inline_list(&mut out, "RolePolicyList", &r.inline_policies);
                attached_list(&mut out, &r.attached_policies);
                xml::boundary(&mut out, r.permissions_boundary.as_deref());
                xml::tags(&mut out, "Tags", &r.tags);
                out.end("member");
            }
        }
        out.end("RoleDetailList");
        out.start("Policies");
        for d in &page.items {
            match d {
                Detail::Local(m) => {
                    out.start("member")
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
                        .element("IsAttachable", "true")
                        .optional("Description", m.description.as_deref())
                        .element("CreateDate", &xml::timestamp(m.created_at))
                        .element("UpdateDate", &xml::timestamp(m.updated_at))
                        .start("PolicyVersionList");
                    for v in &m.versions {
                        out.start("member")
                            .element("Document", &xml::document(&v.document))
                            .element("VersionId", &v.version_id)
                            .element(
                                "IsDefaultVersion",
                                xml::boolean(v.version_id == m.default_version_id),
                            )
                            .element("CreateDate", &xml::timestamp(v.created_at))
                            .end("member");
                    }
                    out.end("PolicyVersionList").end("member");
                }
                Detail::Aws(i, (attachments, boundaries)) => {
                    let a = &AWS_POLICIES[*i];
                    out.start("member")
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
                        .start("PolicyVersionList")
                        .start("member")
                        .element("Document", &xml::document(aws_document(a)))
                        .element("VersionId", "v1")
                        .element("IsDefaultVersion", "true")
                        .element("CreateDate", &xml::timestamp(a.created))
                        .end("member")
                        .end("PolicyVersionList")
                        .end("member");
                }
                _ => {}
            }
        }
        out.end("Policies");
        page.write_tail(&mut out);
        Ok(Some(out.finish()))
    }
}
