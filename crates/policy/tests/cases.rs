//! Runs every decision case in `tests/cases/*.json` (all files but `malformed.json`) and
//! reports how many passed. The tables are data so that a later differential test can
//! replay them against another evaluator.

mod common;

use std::collections::BTreeSet;

use common::*;
use rampart_policy::{evaluate, PolicyKind};
use serde_json::Value;

fn run_case(defaults: &Value, case: &Value) -> Result<(), String> {
    let policies = compile_policies(case)?;
    let ctx = context_of(&merged_context(defaults, &case["context"]));
    let got = evaluate(policies.iter(), &ctx);
    let want = decision_of(case["expect"].as_str().ok_or("expect missing")?);
    if got.decision != want {
        return Err(format!(
            "expected {want}, got {} (statements {:?}, missing {:?})",
            got.decision,
            got.statements
                .iter()
                .map(|s| format!("{}#{}{:?}", s.policy, s.index, s.sid))
                .collect::<Vec<_>>(),
            got.missing_allow
        ));
    }
    if let Some(sids) = case.get("matched_sids").and_then(Value::as_array) {
        let want: BTreeSet<&str> = sids.iter().filter_map(Value::as_str).collect();
        let have: BTreeSet<&str> = got
            .statements
            .iter()
            .filter_map(|s| s.sid.as_deref())
            .collect();
        if want != have {
            return Err(format!("expected statements {want:?}, got {have:?}"));
        }
    }
    if let Some(missing) = case.get("missing").and_then(Value::as_str) {
        let want: PolicyKind = kind_of(missing);
        if got.missing_allow != Some(want) {
            return Err(format!(
                "expected missing allow in {want}, got {:?}",
                got.missing_allow
            ));
        }
    }
    if let Some(text) = case.get("explanation").and_then(Value::as_str) {
        let have = got.explanation(ctx.action()).unwrap_or_default();
        if have != text {
            return Err(format!("expected explanation {text:?}, got {have:?}"));
        }
    }
    Ok(())
}

#[test]
fn decision_cases() {
    let mut passed = 0;
    let mut failures = Vec::new();
    let mut names = BTreeSet::new();
    for file in case_files(&["malformed.json"]) {
        let table = read_json(&file);
        let defaults = table.get("default_context").cloned().unwrap_or(Value::Null);
        let file_name = file.file_name().unwrap().to_string_lossy().into_owned();
        for case in table["cases"].as_array().expect("cases array") {
            let name = case["name"].as_str().expect("case name");
            assert!(
                names.insert(format!("{file_name}/{name}")),
                "duplicate case name {file_name}/{name}"
            );
            match run_case(&defaults, case) {
                Ok(()) => passed += 1,
                Err(why) => failures.push(format!("{file_name}: {name}: {why}")),
            }
        }
    }
    println!("{passed} passed, {} failed", failures.len());
    assert!(
        failures.is_empty(),
        "{} of {} decision cases failed:\n{}",
        failures.len(),
        passed + failures.len(),
        failures.join("\n")
    );
    assert!(passed >= 150, "only {passed} decision cases");
}
