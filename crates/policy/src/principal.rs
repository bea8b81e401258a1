//! Principals: who makes a request ([`RequestPrincipal`]) and how a `Principal` element
//! names them ("AWS JSON policy elements: Principal").
//!
//! How a statement's principal matched matters to the decision, because "the principal
//! ARN that is specified in the policy determines whether implicit denies in other policy
//! types are applicable" ("Policy evaluation logic"); see [`PrincipalMatch`].

use crate::context::ContextValue;
use crate::document::{PrincipalKind, Principals};

/// The kind of caller, with the spelling `aws:PrincipalType` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalType {
    /// The account root user (`aws:PrincipalType` = `Account`).
    Account,
    /// An IAM user.
    User,
    /// A role session (`AssumeRole`, `AssumeRoleWithWebIdentity`, `AssumeRoleWithSAML`).
    AssumedRole,
    /// A `GetFederationToken` session.
    FederatedUser,
    /// An AWS service acting through a service principal.
    Service,
    /// A caller holding a web identity (OIDC) token, before it assumes a role.
    WebIdentityUser,
    /// An unauthenticated caller.
    Anonymous,
}

impl PrincipalType {
    /// The value of `aws:PrincipalType`, where AWS defines one.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalType::Account => "Account",
            PrincipalType::User => "User",
            PrincipalType::AssumedRole => "AssumedRole",
            PrincipalType::FederatedUser => "FederatedUser",
            PrincipalType::Service => "Service",
            PrincipalType::WebIdentityUser => "WebIdentityUser",
            PrincipalType::Anonymous => "Anonymous",
        }
    }
}

/// The caller of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestPrincipal {
    /// What kind of caller this is.
    pub principal_type: PrincipalType,
    /// The ARN the caller acts as: the user ARN, the assumed-role *session* ARN
    /// (`arn:aws:sts::…:assumed-role/Role/session`), the federated-user ARN, the root ARN;
    /// the service name for a service; empty for anonymous callers.
    pub arn: String,
    /// The caller's account, if it has one.
    pub account: Option<String>,
    /// `aws:userid`: `AIDA…` for users, `role-id:session` for role sessions,
    /// `account:name` for federated users, the account id for root.
    pub user_id: Option<String>,
    /// `aws:username`: only IAM users have one.
    pub username: Option<String>,
    /// The entity behind a session: the role ARN (with its path) for a role session, the
    /// IAM user ARN for a federated user. Resource policies naming it grant "to the entity",
    /// which a permissions boundary or session policy still limits.
    pub source_arn: Option<String>,
    /// The identity provider of a web-identity or SAML session, matched by `Federated`.
    pub federated_provider: Option<String>,
    /// An S3 canonical user id, matched by `CanonicalUser`.
    pub canonical_user: Option<String>,
    /// Principal (and session) tags, `aws:PrincipalTag/<key>`.
    pub tags: Vec<(String, String)>,
}

impl RequestPrincipal {
    fn base(principal_type: PrincipalType, arn: String, account: Option<String>) -> Self {
        RequestPrincipal {
            principal_type,
            arn,
            account,
            user_id: None,
            username: None,
            source_arn: None,
            federated_provider: None,
            canonical_user: None,
            tags: Vec::new(),
        }
    }

    /// The root user of `account`.
    pub fn root(account: &str) -> Self {
        let mut p = Self::base(
            PrincipalType::Account,
            format!("arn:aws:iam::{account}:root"),
            Some(account.to_owned()),
        );
        p.user_id = Some(account.to_owned());
        p
    }

    /// An IAM user, from its ARN (`arn:aws:iam::111122223333:user/path/name`) and unique id.
    pub fn user(arn: &str, user_id: &str) -> Self {
        let mut p = Self::base(PrincipalType::User, arn.to_owned(), account_of(arn));
        p.user_id = Some(user_id.to_owned());
        p.username = arn.rsplit('/').next().map(str::to_owned);
        p
    }

    /// A session of the role `role_arn` (`arn:aws:iam::…:role/path/Name`) named
    /// `session_name`, whose role has the unique id `role_id`.
    pub fn role_session(role_arn: &str, session_name: &str, role_id: &str) -> Self {
        let account = account_of(role_arn).unwrap_or_default();
        let role_name = role_arn.rsplit('/').next().unwrap_or_default();
        let mut p = Self::base(
            PrincipalType::AssumedRole,
            format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}"),
            Some(account),
        );
        p.user_id = Some(format!("{role_id}:{session_name}"));
        p.source_arn = Some(role_arn.to_owned());
        p
    }

    /// A `GetFederationToken` session named `name` of the IAM user `user_arn`.
    pub fn federated_user(user_arn: &str, name: &str) -> Self {
        let account = account_of(user_arn).unwrap_or_default();
        let mut p = Self::base(
            PrincipalType::FederatedUser,
            format!("arn:aws:sts::{account}:federated-user/{name}"),
            Some(account.clone()),
        );
        p.user_id = Some(format!("{account}:{name}"));
        p.source_arn = Some(user_arn.to_owned());
        p
    }

    /// A service principal such as `lambda.amazonaws.com`.
    pub fn service(name: &str) -> Self {
        Self::base(PrincipalType::Service, name.to_owned(), None)
    }

    /// A holder of a web identity token from `provider` (the issuer as an IAM OIDC provider
    /// names it, e.g. `cognito-idp.us-east-1.amazonaws.com/us-east-1_abc`), for the subject
    /// `subject`. Trust policies name it with `"Federated": provider`.
    pub fn web_identity(provider: &str, subject: &str) -> Self {
        let mut p = Self::base(PrincipalType::WebIdentityUser, String::new(), None);
        p.federated_provider = Some(provider.to_owned());
        p.user_id = Some(format!("{provider}:{subject}"));
        p
    }

    /// An unauthenticated caller.
    pub fn anonymous() -> Self {
        let mut p = Self::base(PrincipalType::Anonymous, String::new(), None);
        p.user_id = Some("anonymous".to_owned());
        p
    }

    /// Adds principal tags.
    pub fn with_tags<'a>(mut self, tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        self.tags
            .extend(tags.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())));
        self
    }

    /// Sets the identity provider of a web-identity or SAML session.
    pub fn with_federated_provider(mut self, provider: &str) -> Self {
        self.federated_provider = Some(provider.to_owned());
        self
    }

    /// `aws:PrincipalArn`: for a role session this is the role's ARN, not the session's
    /// ("aws:PrincipalArn" in "AWS global condition context keys").
    pub fn principal_arn(&self) -> Option<&str> {
        match self.principal_type {
            PrincipalType::Anonymous | PrincipalType::Service | PrincipalType::WebIdentityUser => {
                None
            }
            PrincipalType::AssumedRole => Some(self.source_arn.as_deref().unwrap_or(&self.arn)),
            _ => Some(&self.arn),
        }
    }

    /// The global condition keys this principal puts in the request context, with their
    /// names already lower-cased.
    pub(crate) fn global_keys(&self) -> Vec<(String, ContextValue)> {
        let mut keys = Vec::with_capacity(8 + self.tags.len());
        let mut put = |k: &str, v: &str| keys.push((k.to_owned(), ContextValue::from(v)));
        if let Some(arn) = self.principal_arn() {
            put("aws:principalarn", arn);
        }
        if let Some(account) = &self.account {
            put("aws:principalaccount", account);
        }
        if self.principal_type != PrincipalType::Service {
            put("aws:principaltype", self.principal_type.as_str());
        }
        if let Some(id) = &self.user_id {
            put("aws:userid", id);
        }
        if let Some(name) = &self.username {
            put("aws:username", name);
        }
        if self.principal_type == PrincipalType::Service {
            put("aws:principalservicename", &self.arn);
        }
        for (key, value) in &self.tags {
            put(&format!("aws:principaltag/{}", key.to_lowercase()), value);
        }
        keys.push((
            "aws:principalisawsservice".to_owned(),
            ContextValue::Boolean(self.principal_type == PrincipalType::Service),
        ));
        keys
    }
}

/// The account segment of an IAM or STS ARN.
fn account_of(arn: &str) -> Option<String> {
    crate::arn::split_arn(arn)
        .map(|p| p[4].to_owned())
        .filter(|a| !a.is_empty())
}

/// How a statement's principal element named the caller, which decides whether other
/// policy types' implicit denies still apply to a resource-policy allow ("Determining
/// whether a request is allowed or denied within an account", and the table under it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PrincipalMatch {
    /// An account (`123456789012` or `arn:aws:iam::123456789012:root`): the account
    /// delegates to its own IAM policies, so within that account an identity-based allow
    /// is still required. This is how key policies and trust policies read the account
    /// principal, and we apply it to every resource policy.
    Account,
    /// `*`, or a `NotPrincipal` that does not name the caller: a grant to everyone, which
    /// does not need an identity-based allow but, like a grant to a role, is limited by a
    /// permissions boundary or session policy (the documentation does not say; we chose
    /// the reading that grants less).
    Everyone,
    /// The entity behind a session: the role ARN for a role session, or the IAM user who
    /// called `GetFederationToken`. "Resource-based policies that grant permissions to an
    /// IAM role ARN are limited by an implicit deny in a permissions boundary or session
    /// policy."
    Entity,
    /// The caller itself: its user ARN, session ARN, service, provider or canonical id.
    /// "Permissions granted directly to a session are not limited by an implicit deny in an
    /// identity-based policy, a permissions boundary, or session policy."
    Direct,
}

/// One compiled identifier from a principal element.
#[derive(Debug, Clone)]
enum Matcher {
    Everyone,
    Account(String),
    Arn(String),
    /// A role ARN also matches the role's sessions.
    Role {
        arn: String,
        account: String,
        name: String,
    },
    /// A unique id (`AIDA…`, `AROA…`), as IAM rewrites a deleted principal to.
    UniqueId(String),
    Service(String),
    Federated(String),
    CanonicalUser(String),
}

/// A compiled `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone)]
pub(crate) struct PrincipalMatcher {
    negated: bool,
    matchers: Vec<Matcher>,
}

impl PrincipalMatcher {
    pub(crate) fn new(negated: bool, principals: &Principals) -> Self {
        let matchers = match principals {
            Principals::Everyone => vec![Matcher::Everyone],
            Principals::Map(entries) => entries
                .iter()
                .flat_map(|(kind, ids)| ids.iter().map(move |id| compile(*kind, id)))
                .collect(),
        };
        PrincipalMatcher { negated, matchers }
    }

    /// How the element names `caller`, or `None` if the statement does not apply to it.
    pub(crate) fn matches(&self, caller: &RequestPrincipal) -> Option<PrincipalMatch> {
        let best = self
            .matchers
            .iter()
            .filter_map(|m| match_one(m, caller))
            .max();
        if self.negated {
            // NotPrincipal applies to everyone it does not name.
            match best {
                Some(_) => None,
                None => Some(PrincipalMatch::Everyone),
            }
        } else {
            best
        }
    }
}

fn compile(kind: PrincipalKind, id: &str) -> Matcher {
    match kind {
        PrincipalKind::Aws if id == "*" => Matcher::Everyone,
        PrincipalKind::Aws if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) => {
            Matcher::Account(id.to_owned())
        }
        PrincipalKind::Aws => match crate::arn::split_arn(id) {
            Some(parts) if parts[2] == "iam" && parts[5] == "root" => {
                Matcher::Account(parts[4].to_owned())
            }
            Some(parts) if parts[2] == "iam" && parts[5].starts_with("role/") => Matcher::Role {
                arn: id.to_owned(),
                account: parts[4].to_owned(),
                name: parts[5].rsplit('/').next().unwrap_or_default().to_owned(),
            },
            Some(_) => Matcher::Arn(id.to_owned()),
            None => Matcher::UniqueId(id.to_owned()),
        },
        PrincipalKind::Service if id == "*" => Matcher::Everyone,
        PrincipalKind::Service => Matcher::Service(id.to_ascii_lowercase()),
        PrincipalKind::Federated => Matcher::Federated(id.to_owned()),
        PrincipalKind::CanonicalUser => Matcher::CanonicalUser(id.to_owned()),
    }
}

fn match_one(m: &Matcher, caller: &RequestPrincipal) -> Option<PrincipalMatch> {
    let direct_if = |ok: bool| ok.then_some(PrincipalMatch::Direct);
    match m {
        Matcher::Everyone => Some(PrincipalMatch::Everyone),
        Matcher::Account(account) => (caller.account.as_deref() == Some(account.as_str())
            && caller.principal_type != PrincipalType::Service)
            .then_some(PrincipalMatch::Account),
        Matcher::Arn(arn) => {
            if *arn == caller.arn {
                Some(PrincipalMatch::Direct)
            } else if caller.source_arn.as_deref() == Some(arn.as_str()) {
                Some(PrincipalMatch::Entity)
            } else {
                None
            }
        }
        Matcher::Role { arn, account, name } => {
            if caller.principal_type != PrincipalType::AssumedRole {
                return direct_if(*arn == caller.arn);
            }
            let same_role = match caller.source_arn.as_deref() {
                Some(source) => source == arn,
                // Without the role ARN, fall back to the session ARN, which has no path.
                None => {
                    let prefix = format!("arn:aws:sts::{account}:assumed-role/{name}/");
                    caller.arn.starts_with(&prefix)
                }
            };
            same_role.then_some(PrincipalMatch::Entity)
        }
        Matcher::UniqueId(id) => direct_if(
            caller
                .user_id
                .as_deref()
                .is_some_and(|uid| uid.split(':').next() == Some(id.as_str())),
        ),
        Matcher::Service(service) => direct_if(
            caller.principal_type == PrincipalType::Service
                && caller.arn.eq_ignore_ascii_case(service),
        ),
        Matcher::Federated(provider) => {
            direct_if(caller.federated_provider.as_deref() == Some(provider.as_str()))
        }
        Matcher::CanonicalUser(id) => {
            direct_if(caller.canonical_user.as_deref() == Some(id.as_str()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element(json_ids: &[(PrincipalKind, &str)]) -> PrincipalMatcher {
        let map = json_ids
            .iter()
            .map(|(k, id)| (*k, vec![id.to_string()]))
            .collect();
        PrincipalMatcher::new(false, &Principals::Map(map))
    }

    #[test]
    fn role_arn_matches_its_sessions_as_entity() {
        let session = RequestPrincipal::role_session(
            "arn:aws:iam::111122223333:role/app/Worker",
            "s1",
            "AROAEXAMPLE",
        );
        assert_eq!(
            session.arn,
            "arn:aws:sts::111122223333:assumed-role/Worker/s1"
        );
        assert_eq!(
            session.principal_arn(),
            Some("arn:aws:iam::111122223333:role/app/Worker")
        );
        let by_role = element(&[(
            PrincipalKind::Aws,
            "arn:aws:iam::111122223333:role/app/Worker",
        )]);
        assert_eq!(by_role.matches(&session), Some(PrincipalMatch::Entity));
        let by_session = element(&[(
            PrincipalKind::Aws,
            "arn:aws:sts::111122223333:assumed-role/Worker/s1",
        )]);
        assert_eq!(by_session.matches(&session), Some(PrincipalMatch::Direct));
        let by_account = element(&[(PrincipalKind::Aws, "111122223333")]);
        assert_eq!(by_account.matches(&session), Some(PrincipalMatch::Account));
        let other = element(&[(PrincipalKind::Aws, "arn:aws:iam::111122223333:role/Other")]);
        assert_eq!(other.matches(&session), None);
    }

    #[test]
    fn not_principal_inverts() {
        let user = RequestPrincipal::user("arn:aws:iam::111122223333:user/alice", "AIDA1");
        let map = vec![(
            PrincipalKind::Aws,
            vec!["arn:aws:iam::111122223333:user/alice".to_owned()],
        )];
        let not = PrincipalMatcher::new(true, &Principals::Map(map));
        assert_eq!(not.matches(&user), None);
        let bob = RequestPrincipal::user("arn:aws:iam::111122223333:user/bob", "AIDA2");
        assert_eq!(not.matches(&bob), Some(PrincipalMatch::Everyone));
    }
}
