//! Runs `tests/cases/malformed.json`: documents IAM refuses, each with a fragment of the
//! message we give, and a few it accepts. Plus the size quotas.

mod common;

use common::*;
use rampart_policy::{
    check_size, check_total_size, parse_policy, policy_size, CompiledPolicy, PolicyKind, SizeLimit,
    MALFORMED_POLICY_DOCUMENT,
};
use serde_json::Value;

#[test]
fn malformed_cases() {
    let table = read_json(&cases_dir().join("malformed.json"));
    let (mut refused, mut accepted, mut failures) = (0, 0, Vec::new());
    for case in table["cases"].as_array().expect("cases array") {
        let name = case["name"].as_str().expect("name");
        let kind = kind_of(case["kind"].as_str().expect("kind"));
        let text = document_text(case);
        let result = parse_policy(&text, kind);
        match (case["error"].as_str(), result) {
            (Some(fragment), Err(e)) if e.to_string().contains(fragment) => {
                assert_eq!(e.code(), MALFORMED_POLICY_DOCUMENT);
                assert!(e.to_string().starts_with(&e.aws_message()), "{name}");
                refused += 1;
            }
            (Some(fragment), Err(e)) => {
                failures.push(format!("{name}: expected {fragment:?} in {e}"))
            }
            (Some(fragment), Ok(_)) => {
                failures.push(format!("{name}: accepted, expected {fragment:?}"))
            }
            (None, Ok(doc)) => {
                // What parses must also compile.
                CompiledPolicy::compile(name, kind, &doc).expect("compiles");
                accepted += 1;
            }
            (None, Err(e)) => failures.push(format!("{name}: refused: {e}")),
        }
    }
    println!(
        "{refused} refused and {accepted} accepted as expected, {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(refused >= 30, "only {refused} malformed cases");
}

#[test]
fn aws_message_has_no_location() {
    let err = parse_policy(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"X","Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#,
        PolicyKind::Identity,
    )
    .unwrap_err();
    assert_eq!(
        err.aws_message(),
        "Policy document should not specify a principal."
    );
    assert_eq!(
        err.to_string(),
        "Policy document should not specify a principal. (Statement[0] (Sid \"X\"), element Principal)"
    );
}

fn document_of_size(chars: usize) -> String {
    // {"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/…"}}
    let head = r#"{"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/"#;
    let tail = r#""}}"#;
    let fixed = policy_size(head) + policy_size(tail);
    format!("{head}{}{tail}", "x".repeat(chars - fixed))
}

#[test]
fn size_quotas() {
    let doc = document_of_size(6144);
    assert_eq!(policy_size(&doc), 6144);
    assert!(check_size(&doc, SizeLimit::ManagedPolicy).is_ok());
    let over = document_of_size(6145);
    let err = check_size(&over, SizeLimit::ManagedPolicy).unwrap_err();
    assert_eq!(err.to_string(), "Cannot exceed quota for PolicySize: 6144");
    assert_eq!(err.code(), "LimitExceeded");
    assert_eq!(err.size, 6145);

    // White space does not count.
    let spaced = doc.replace(':', " :\n\t");
    assert_eq!(policy_size(&spaced), 6144);
    assert!(check_size(&spaced, SizeLimit::ManagedPolicy).is_ok());

    let err = check_size(&document_of_size(2049), SizeLimit::UserInline).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Maximum policy size of 2048 bytes exceeded for user"
    );
    assert!(check_size(&document_of_size(2049), SizeLimit::GroupInline).is_ok());
    assert!(check_size(&document_of_size(5121), SizeLimit::GroupInline).is_err());
    assert!(check_size(&document_of_size(10240), SizeLimit::RoleInline).is_ok());
    assert!(check_size(&document_of_size(10241), SizeLimit::RoleInline).is_err());
    let err = check_size(&document_of_size(2049), SizeLimit::TrustPolicy).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Cannot exceed quota for ACLSizePerRole: 2048"
    );
    assert!(check_size(&document_of_size(2049), SizeLimit::SessionPolicy).is_err());

    // The inline quotas are per entity: sizes add up.
    let total = policy_size(&document_of_size(1500)) + policy_size(&document_of_size(600));
    assert!(check_total_size(total, SizeLimit::UserInline).is_err());
    assert!(check_total_size(total, SizeLimit::RoleInline).is_ok());
}

#[test]
fn documents_round_trip_through_every_kind_rule() {
    // One identity document is valid as identity, boundary and session policy alike.
    let doc =
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;
    for kind in [
        PolicyKind::Identity,
        PolicyKind::Boundary,
        PolicyKind::Session,
    ] {
        assert!(parse_policy(doc, kind).is_ok(), "{kind}");
    }
    // …but not as a resource or trust policy, which need a principal.
    for kind in [PolicyKind::Resource, PolicyKind::Trust] {
        let err = parse_policy(doc, kind).unwrap_err();
        assert!(
            err.to_string().contains("Missing required field Principal"),
            "{kind}: {err}"
        );
    }
    let parsed = parse_policy(doc, PolicyKind::Identity).unwrap();
    assert_eq!(parsed.statements.len(), 1);
    assert!(parsed.substitutes_variables());
    let _: &Value = &Value::Null;
}
