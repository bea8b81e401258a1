//! Linting policies as they are written: an IAM call that stores a policy document answers,
//! besides AWS's response, the linter's findings in an `x-rampart-policy-findings` header (a
//! JSON array), which SDKs pass through untouched (botocore:
//! `response["ResponseMetadata"]["HTTPHeaders"]["x-rampart-policy-findings"]`).

use rampart_policy::{lint, parse_policy, PolicyKind};

/// The response header that carries the findings.
pub const FINDINGS_HEADER: &str = "x-rampart-policy-findings";

/// The findings header for a successful policy write, if the document has findings.
pub fn findings_header(document: &str, kind: PolicyKind) -> Option<(&'static str, String)> {
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

    #[test]
    fn findings_for_over_broad_documents_only() {
        let admin = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
        let (name, value) = findings_header(admin, PolicyKind::Identity).unwrap();
        assert_eq!(name, FINDINGS_HEADER);
        assert!(value.contains("wildcard-action") && value.contains("passrole-wildcard"));
        let narrow = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetRole","Resource":"arn:aws:iam::1:role/x"}}"#;
        assert!(findings_header(narrow, PolicyKind::Identity).is_none());
    }
}
