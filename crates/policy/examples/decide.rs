//! Decides a stream of requests: one JSON case per line on stdin, one JSON answer per line on
//! stdout, in order. Used by the differential test (`tests/oracle/run.sh`), so one process
//! answers every generated case.
//!
//! A case: `{"id": …, "policies": [identity policy documents], "action": "s3:GetObject",
//! "resource": "arn:…", "resource_account"?: "…", "context": {"key": "value" | ["v1", "v2"]}}`; the caller is the IAM
//! user `arn:aws:iam::111122223333:user/alice`. An answer: `{"id": …, "decision":
//! "allowed|explicitDeny|implicitDeny"}`, or `{"id": …, "error": "…"}` when a document does not
//! parse.
//!
//! `cargo run --release -p rampart-policy --example decide < cases.jsonl`

use std::io::{self, BufRead, BufWriter, Write};

use rampart_policy::{
    evaluate, CompiledPolicy, ContextValue, EvaluationContext, PolicyKind, RequestPrincipal,
};
use serde_json::{json, Value};

fn value_of(v: &Value) -> ContextValue {
    match v {
        Value::String(s) => ContextValue::String(s.clone()),
        Value::Bool(b) => ContextValue::Boolean(*b),
        Value::Number(n) => ContextValue::Number(n.as_f64().unwrap_or(f64::NAN)),
        other => ContextValue::String(other.to_string()),
    }
}

fn decide(case: &Value) -> Result<&'static str, String> {
    let mut policies = Vec::new();
    for (i, doc) in case["policies"]
        .as_array()
        .ok_or("policies must be an array")?
        .iter()
        .enumerate()
    {
        let text = match doc {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        policies.push(
            CompiledPolicy::parse(&format!("p{i}"), PolicyKind::Identity, &text)
                .map_err(|e| format!("p{i}: {e}"))?,
        );
    }
    let alice = RequestPrincipal::user("arn:aws:iam::111122223333:user/alice", "AIDAALICE");
    let action = case["action"].as_str().ok_or("action missing")?;
    let resource = case["resource"].as_str().unwrap_or("*");
    let mut ctx = EvaluationContext::new(alice, action, resource);
    if let Some(account) = case["resource_account"].as_str() {
        ctx = ctx.with_resource_account(account);
    }
    if let Some(keys) = case["context"].as_object() {
        for (key, value) in keys {
            match value {
                Value::Array(items) => {
                    ctx.set_values(key, items.iter().map(value_of));
                }
                Value::Null => {
                    ctx.remove(key);
                }
                scalar => {
                    ctx.set(key, value_of(scalar));
                }
            }
        }
    }
    Ok(evaluate(policies.iter(), &ctx).decision.as_str())
}

fn main() -> io::Result<()> {
    let stdin = io::stdin();
    let mut out = BufWriter::new(io::stdout().lock());
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let answer = match serde_json::from_str::<Value>(&line) {
            Ok(case) => match decide(&case) {
                Ok(decision) => json!({"id": case["id"], "decision": decision}),
                Err(error) => json!({"id": case["id"], "error": error}),
            },
            Err(e) => json!({"id": null, "error": format!("bad case: {e}")}),
        };
        writeln!(out, "{answer}")?;
    }
    out.flush()
}
