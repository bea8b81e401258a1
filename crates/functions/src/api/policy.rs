//! A function's resource policy: AddPermission, RemovePermission, GetPolicy. The statements
//! are stored in the function's record (one write with it, so the policy and the function
//! never disagree) and ride on every check on the function (`functions::declare`); the
//! in-process invoker asks the same policy for service principals
//! ([`crate::Invoker::invoke_as_service`]).

use rampart_policy::{parse_policy, PolicyKind};
use rampart_store::{request_audit, Expect, StoreError};
use rampart_wire::service::RestInput;
use rampart_wire::{Check, Output};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::wire::{self, check_length};
use super::{path_param, Call, FunctionsOperation};
use crate::error::FunctionsError;
use crate::function_ref::FunctionRef;
use crate::records::{self, FunctionPolicy, FunctionRecord, Stored};
use crate::FunctionsService;

/// The largest function policy, in bytes (AWS: 20 KB).
pub const MAX_POLICY_BYTES: usize = 20 * 1024;

/// How a permission names who it is for, as AWS writes it into the statement.
fn principal(text: &str) -> Result<Value, FunctionsError> {
    let invalid = || {
        FunctionsError::InvalidParameterValue(
            "The provided principal was invalid. Please check the principal and try again.".into(),
        )
    };
    if text == "*" {
        return Ok(json!("*"));
    }
    if text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(json!({ "AWS": format!("arn:aws:iam::{text}:root") }));
    }
    if let Some(rest) = text.strip_prefix("arn:aws:iam::") {
        let (account, resource) = rest.split_once(':').ok_or_else(invalid)?;
        let ok_account = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
        if !ok_account || resource.is_empty() || resource.chars().any(char::is_whitespace) {
            return Err(invalid());
        }
        return Ok(json!({ "AWS": text }));
    }
    let service = text.strip_suffix(".amazonaws.com").ok_or_else(invalid)?;
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    if service.is_empty() || !service.chars().all(ok) {
        return Err(invalid());
    }
    Ok(json!({ "Service": text }))
}

/// `Action`: `lambda:<Action>`, `lambda:*` or `*` (the model's pattern).
fn check_action(action: &str) -> Result<(), FunctionsError> {
    let ok = action == "*"
        || action == "lambda:*"
        || action
            .strip_prefix("lambda:")
            .is_some_and(|a| !a.is_empty() && a.chars().all(|c| c.is_ascii_alphabetic()));
    if ok {
        Ok(())
    } else {
        Err(FunctionsError::constraint(
            action,
            "action",
            "Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])",
        ))
    }
}

/// A statement id: 1 to 100 of `allowed`.
fn check_statement_id(sid: &str, extra: &str) -> Result<(), FunctionsError> {
    check_length(sid, "statementId", 1, 100)?;
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || extra.contains(c);
    if !sid.chars().all(ok) {
        return Err(FunctionsError::constraint(
            sid,
            "statementId",
            &format!("Member must satisfy regular expression pattern: ([a-zA-Z0-9-_{extra}]+)"),
        ));
    }
    Ok(())
}

fn sid_of(statement: &Value) -> Option<&str> {
    statement.get("Sid").and_then(Value::as_str)
}

/// The function's policy, checked: past the size limit, or not a policy Rampart can
/// evaluate, it is refused rather than stored.
fn checked_policy(policy: FunctionPolicy) -> Result<FunctionPolicy, FunctionsError> {
    let document = policy.document();
    if document.len() > MAX_POLICY_BYTES {
        return Err(FunctionsError::PolicyLengthExceeded(format!(
            "The final policy size ({}) is bigger than the limit ({MAX_POLICY_BYTES}).",
            document.len()
        )));
    }
    parse_policy(&document, PolicyKind::Resource).map_err(|e| {
        FunctionsError::InvalidParameterValue(format!("The resulting policy is not valid: {e}"))
    })?;
    Ok(policy)
}

/// How often a change re-reads and retries when the function's state changed meanwhile.
const COMMIT_ATTEMPTS: usize = 4;

/// Stores `policy` as the function's, with a new revision, over what authorization read:
/// retried when only what authorization did not read changed meanwhile (a new function
/// becoming Active), refused if the function's revision or tags did.
async fn commit_policy(
    svc: &FunctionsService,
    authorized: &Stored<FunctionRecord>,
    policy: Option<FunctionPolicy>,
) -> Result<(), FunctionsError> {
    let mut current = authorized.clone();
    for _ in 0..COMMIT_ATTEMPTS {
        let mut next = current.record.clone();
        next.policy = policy.clone();
        next.revision_id = uuid::Uuid::new_v4().to_string();
        let write = records::put_function(&next, Expect::Version(current.version));
        match request_audit::commit(svc.store.as_ref(), vec![write]).await {
            Ok(_) => return Ok(()),
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let name = &authorized.record.name;
        current = records::load_function(svc.store.as_ref(), name)
            .await?
            .ok_or_else(|| FunctionsError::function_not_found(&authorized.record.arn))?;
        if current.record.revision_id != authorized.record.revision_id
            || current.record.tags != authorized.record.tags
        {
            break;
        }
    }
    Err(FunctionsError::ResourceConflict(
        "The function was changed by another request while this one was authorized. Retry the request.".into(),
    ))
}

/// The function named by the path and `Qualifier` (these operations take one).
fn policy_function(
    input: &RestInput,
    svc: &FunctionsService,
) -> Result<FunctionRef, FunctionsError> {
    super::functions_named(input, svc)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AddPermissionInput {
    statement_id: String,
    action: String,
    principal: String,
    source_arn: Option<String>,
    source_account: Option<String>,
    event_source_token: Option<String>,
    revision_id: Option<String>,
    #[serde(rename = "PrincipalOrgID")]
    principal_org_id: Option<String>,
    function_url_auth_type: Option<String>,
}

pub(crate) struct AddPermission {
    named: FunctionRef,
    statement_id: String,
    action: String,
    principal: Value,
    condition: Map<String, Value>,
    revision_id: Option<String>,
    function: Option<Stored<FunctionRecord>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AddPermissionReply {
    statement: String,
}

#[async_trait::async_trait]
impl FunctionsOperation for AddPermission {
    fn decode(input: &RestInput, svc: &FunctionsService) -> Result<Self, FunctionsError> {
        let named = policy_function(input, svc)?;
        let body: AddPermissionInput = wire::decode(&input.body)?;
        check_statement_id(&body.statement_id, "")?;
        check_action(&body.action)?;
        if body.principal.is_empty() || body.principal.chars().any(char::is_whitespace) {
            return Err(FunctionsError::constraint(
                &body.principal,
                "principal",
                "Member must satisfy regular expression pattern: [^\\s]+",
            ));
        }
        let principal = principal(&body.principal)?;
        if body.function_url_auth_type.is_some() {
            return Err(FunctionsError::InvalidParameterValue(
                "Function URLs (FunctionUrlAuthType) are not supported by this Rampart host."
                    .into(),
            ));
        }
        let mut string_equals = Map::new();
        let mut condition = Map::new();
        if let Some(arn) = body.source_arn {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            if parts.len() != 6 || parts[0] != "arn" || !parts[1].starts_with("aws") {
                return Err(FunctionsError::constraint(
                    &arn,
                    "sourceArn",
                    "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{2}(-gov)?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)",
                ));
            }
            condition.insert("ArnLike".into(), json!({ "AWS:SourceArn": arn }));
        }
        if let Some(account) = body.source_account {
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(FunctionsError::constraint(
                    &account,
                    "sourceAccount",
                    "Member must satisfy regular expression pattern: \\d{12}",
                ));
            }
            string_equals.insert("AWS:SourceAccount".into(), json!(account));
        }
        if let Some(org) = body.principal_org_id {
            let ok = org.len() >= 12
                && org.len() <= 34
                && org.strip_prefix("o-").is_some_and(|rest| {
                    rest.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                });
            if !ok {
                return Err(FunctionsError::constraint(
                    &org,
                    "principalOrgID",
                    "Member must satisfy regular expression pattern: o-[a-z0-9]{10,32}",
                ));
            }
            string_equals.insert("aws:PrincipalOrgID".into(), json!(org));
        }
        if let Some(token) = body.event_source_token {
            check_length(&token, "eventSourceToken", 0, 256)?;
            string_equals.insert("lambda:EventSourceToken".into(), json!(token));
        }
        if !string_equals.is_empty() {
            condition.insert("StringEquals".into(), Value::Object(string_equals));
        }
        Ok(AddPermission {
            named,
            statement_id: body.statement_id,
            action: body.action,
            principal,
            condition,
            revision_id: body.revision_id,
            function: None,
        })
    }

    /// `lambda:AddPermission` on the function (tags, its current policy).
    async fn checks(
        &mut self,
        svc: &FunctionsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, FunctionsError> {
        let (function, checks) = super::functions_check_named(svc, call, &self.named).await?;
        self.function = function;
        Ok(checks)
    }

    async fn execute(self, svc: &FunctionsService, _: &Call<'_>) -> Result<Output, FunctionsError> {
        let authorized = super::functions_found(&self.named, self.function.as_ref())?;
        let f = &authorized.record;
        f.check_revision(self.revision_id.as_deref())?;
        let mut statements = f
            .policy
            .as_ref()
            .map(|p| p.statements.clone())
            .unwrap_or_default();
        if statements
            .iter()
            .any(|s| sid_of(s) == Some(&self.statement_id))
        {
            return Err(FunctionsError::ResourceConflict(
                "The statement id (sid) provided already exists. Please choose another statement id or remove the existing statement.".into(),
            ));
        }
        let mut statement = json!({
            "Sid": self.statement_id,
            "Effect": "Allow",
            "Principal": self.principal,
            "Action": self.action,
            "Resource": f.arn,
        });
        if !self.condition.is_empty() {
            statement["Condition"] = Value::Object(self.condition);
        }
        statements.push(statement.clone());
        let policy = checked_policy(FunctionPolicy { statements })?;
        commit_policy(svc, authorized, Some(policy)).await?;
        wire::reply(
            201,
            &AddPermissionReply {
                statement: statement.to_string(),
            },
        )
    }
}

pub(crate) struct RemovePermission {
    named: FunctionRef,
    statement_id: String,
    revision_id: Option<String>,
    function: Option<Stored<FunctionRecord>>,
}

#[async_trait::async_trait]
impl FunctionsOperation for RemovePermission {
    fn decode(input: &RestInput, svc: &FunctionsService) -> Result<Self, FunctionsError> {
        let named = policy_function(input, svc)?;
        let statement_id = path_param(input, "StatementId")?.to_owned();
        check_statement_id(&statement_id, ".")?;
        Ok(RemovePermission {
            named,
            statement_id,
            revision_id: input.query.get("RevisionId").map(str::to_owned),
            function: None,
        })
    }

    /// `lambda:RemovePermission` on the function (tags, its current policy).
    async fn checks(
        &mut self,
        svc: &FunctionsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, FunctionsError> {
        let (function, checks) = super::functions_check_named(svc, call, &self.named).await?;
        self.function = function;
        Ok(checks)
    }

    async fn execute(self, svc: &FunctionsService, _: &Call<'_>) -> Result<Output, FunctionsError> {
        let authorized = super::functions_found(&self.named, self.function.as_ref())?;
        let f = &authorized.record;
        f.check_revision(self.revision_id.as_deref())?;
        let statements = f
            .policy
            .as_ref()
            .map(|p| p.statements.clone())
            .unwrap_or_default();
        let kept: Vec<Value> = statements
            .iter()
            .filter(|s| sid_of(s) != Some(&self.statement_id))
            .cloned()
            .collect();
        if kept.len() == statements.len() {
            return Err(FunctionsError::ResourceNotFound(format!(
                "Statement {} is not found in resource policy.",
                self.statement_id
            )));
        }
        let policy = (!kept.is_empty()).then_some(FunctionPolicy { statements: kept });
        commit_policy(svc, authorized, policy).await?;
        Ok(Output::Rest {
            status: 204,
            body: Vec::new(),
        })
    }
}

pub(crate) struct GetPolicy {
    named: FunctionRef,
    function: Option<Stored<FunctionRecord>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetPolicyReply {
    policy: String,
    revision_id: String,
}

#[async_trait::async_trait]
impl FunctionsOperation for GetPolicy {
    fn decode(input: &RestInput, svc: &FunctionsService) -> Result<Self, FunctionsError> {
        Ok(GetPolicy {
            named: policy_function(input, svc)?,
            function: None,
        })
    }

    /// `lambda:GetPolicy` on the function (tags, its policy).
    async fn checks(
        &mut self,
        svc: &FunctionsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, FunctionsError> {
        let (function, checks) = super::functions_check_named(svc, call, &self.named).await?;
        self.function = function;
        Ok(checks)
    }

    async fn execute(self, _: &FunctionsService, _: &Call<'_>) -> Result<Output, FunctionsError> {
        let f = &super::functions_found(&self.named, self.function.as_ref())?.record;
        let policy = f.policy.as_ref().ok_or_else(|| {
            FunctionsError::ResourceNotFound("The resource you requested does not exist.".into())
        })?;
        wire::reply(
            200,
            &GetPolicyReply {
                policy: policy.document(),
                revision_id: f.revision_id.clone(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_as_aws_writes_them() {
        assert_eq!(principal("*").unwrap(), json!("*"));
        assert_eq!(
            principal("123456789012").unwrap(),
            json!({"AWS": "arn:aws:iam::123456789012:root"})
        );
        assert_eq!(
            principal("arn:aws:iam::123456789012:role/r").unwrap(),
            json!({"AWS": "arn:aws:iam::123456789012:role/r"})
        );
        assert_eq!(
            principal("apigateway.amazonaws.com").unwrap(),
            json!({"Service": "apigateway.amazonaws.com"})
        );
        for bad in [
            "someone",
            "12345",
            "arn:aws:iam::1:root",
            ".amazonaws.com",
            "a b.amazonaws.com",
        ] {
            assert!(principal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn actions_and_statement_ids() {
        for ok in ["lambda:InvokeFunction", "lambda:*", "*"] {
            assert!(check_action(ok).is_ok(), "{ok}");
        }
        for bad in ["s3:GetObject", "lambda:", "lambda:Invoke-Function", ""] {
            assert!(check_action(bad).is_err(), "{bad}");
        }
        assert!(check_statement_id("allow-gw_1", "").is_ok());
        assert!(check_statement_id("a.b", "").is_err());
        assert!(check_statement_id("a.b", ".").is_ok());
        assert!(check_statement_id("", "").is_err());
    }

    #[test]
    fn statements_make_a_policy_the_engine_reads() {
        let policy = FunctionPolicy {
            statements: vec![json!({
                "Sid": "gw", "Effect": "Allow",
                "Principal": {"Service": "apigateway.amazonaws.com"},
                "Action": "lambda:InvokeFunction",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
                "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:execute-api:us-east-1:123456789012:abc/*"}},
            })],
        };
        assert!(checked_policy(policy.clone()).is_ok());
        let big = FunctionPolicy {
            statements: vec![policy.statements[0].clone(); 100],
        };
        assert!(matches!(
            checked_policy(big),
            Err(FunctionsError::PolicyLengthExceeded(_))
        ));
    }
}
