//! Linting policies as they are written: an IAM call that stores a policy document answers,
//! besides AWS's response, the linter's findings in an `x-rampart-policy-findings` header (a
//! JSON array), which SDKs pass through untouched (botocore:
//! `response["ResponseMetadata"]["HTTPHeaders"]["x-rampart-policy-findings"]`).

use rampart_policy::{lint, parse_policy, PolicyKind};
use rampart_wire::protocol::query::QueryParams;

/// The response header that carries the findings.
pub const FINDINGS_HEADER: &str = "x-rampart-policy-findings";

/// The document an operation stores, and the kind it is stored as.
fn written_document<'a>(operation: &str, params: &'a QueryParams) -> Option<(&'a str, PolicyKind)> {
    match operation {
        "CreatePolicy"
        | "CreatePolicyVersion"
        | "PutUserPolicy"
        | "PutGroupPolicy"
        | "PutRolePolicy" => params
            .get("PolicyDocument")
            .map(|d| (d, PolicyKind::Identity)),
        "CreateRole" => params
            .get("AssumeRolePolicyDocument")
            .map(|d| (d, PolicyKind::Trust)),
        "UpdateAssumeRolePolicy" => params.get("PolicyDocument").map(|d| (d, PolicyKind::Trust)),
        _ => None,
    }
}

/// The findings header for a successful policy write, if the document has findings.
pub fn findings_header(operation: &str, params: &QueryParams) -> Option<(&'static str, String)> {
    let (document, kind) = written_document(operation, params)?;
    // The operation accepted the document, so it parses; stay quiet if it somehow does not.
    let parsed = parse_policy(document, kind).ok()?;
    let findings = lint(&parsed);
    if findings.is_empty() {
        return None;
    }
    let json: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            serde_json::json!({
                "severity": f.severity.to_string(),
                "rule": f.rule,
                "statement": f.statement,
                "sid": f.sid,
                "message": f.message,
            })
        })
        .collect();
    // Header values must be ASCII to survive every HTTP stack: escape the rest as JSON does.
    let text = serde_json::Value::Array(json).to_string();
    let ascii: String = text
        .chars()
        .flat_map(|c| match c.is_ascii() {
            true => vec![c.to_string()],
            false => c
                .encode_utf16(&mut [0; 2])
                .iter()
                .map(|unit| format!("\\u{unit:04x}"))
                .collect(),
        })
        .collect();
    Some((FINDINGS_HEADER, ascii))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(form: &str) -> QueryParams {
        QueryParams::parse(&[form.as_bytes()]).unwrap()
    }

    #[test]
    fn findings_for_over_broad_writes_only() {
        let admin = "PolicyDocument=%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%7D";
        let (name, value) = findings_header("PutUserPolicy", &params(admin)).unwrap();
        assert_eq!(name, FINDINGS_HEADER);
        assert!(value.contains("wildcard-action") && value.contains("passrole-wildcard"));
        assert!(findings_header("GetUserPolicy", &params(admin)).is_none());
        let narrow = "PolicyDocument=%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22iam%3AGetRole%22%2C%22Resource%22%3A%22arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx%22%7D%7D";
        assert!(findings_header("PutUserPolicy", &params(narrow)).is_none());
    }
}
