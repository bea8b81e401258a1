//! Reads the case tables in `tests/cases/*.json` (the format is described in
//! `tests/cases/README.md`) into policies and contexts.

// Each test binary uses part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use rampart_policy::{
    CompiledPolicy, ContextValue, Decision, EvaluationContext, PolicyKind, RequestPrincipal,
};
use serde_json::{Map, Value};

/// The directory holding the case files.
pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

/// Every `*.json` file in the case directory, sorted, except those named in `skip`.
pub fn case_files(skip: &[&str]) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("tests/cases exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| !skip.iter().any(|s| p.file_name().is_some_and(|n| n == *s)))
        .collect();
    files.sort();
    files
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("readable case file");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn kind_of(name: &str) -> PolicyKind {
    match name {
        "identity" => PolicyKind::Identity,
        "resource" => PolicyKind::Resource,
        "trust" => PolicyKind::Trust,
        "session" => PolicyKind::Session,
        "boundary" => PolicyKind::Boundary,
        other => panic!("unknown policy type {other:?}"),
    }
}

/// A document given as an object, as a string, or as a bare `statements` list (which
/// becomes a `2012-10-17` document, or `version` if the entry names one).
pub fn document_text(entry: &Value) -> String {
    if let Some(doc) = entry.get("document") {
        return match doc {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
    }
    let statements = entry
        .get("statements")
        .expect("a policy has a document or statements");
    let mut doc = Map::new();
    match entry.get("version") {
        Some(Value::Null) => {}
        Some(v) => {
            doc.insert("Version".into(), v.clone());
        }
        None => {
            doc.insert("Version".into(), "2012-10-17".into());
        }
    }
    doc.insert("Statement".into(), statements.clone());
    Value::Object(doc).to_string()
}

pub fn compile_policies(case: &Value) -> Result<Vec<CompiledPolicy>, String> {
    let policies = case["policies"]
        .as_array()
        .ok_or("policies must be an array")?;
    policies
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let kind = kind_of(p["type"].as_str().ok_or("policy type missing")?);
            let default_name = format!("policy{i}");
            let name = p["name"].as_str().unwrap_or(&default_name);
            CompiledPolicy::parse(name, kind, &document_text(p))
                .map_err(|e| format!("policy {name} does not parse: {e}"))
        })
        .collect()
}

/// The case's context over the file's default context, field by field.
pub fn merged_context(defaults: &Value, case: &Value) -> Map<String, Value> {
    let mut ctx = defaults.as_object().cloned().unwrap_or_default();
    if let Some(over) = case.as_object() {
        for (k, v) in over {
            ctx.insert(k.clone(), v.clone());
        }
    }
    ctx
}

fn str_field<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("principal needs {key:?}: {obj}"))
}

pub fn principal_of(p: &Value) -> RequestPrincipal {
    let mut principal = match p["type"].as_str().unwrap_or("user") {
        "user" => {
            let arn = str_field(p, "arn");
            let default_id = format!(
                "AIDA{}",
                arn.rsplit('/').next().unwrap_or("").to_uppercase()
            );
            RequestPrincipal::user(arn, p["id"].as_str().unwrap_or(&default_id))
        }
        "role-session" => RequestPrincipal::role_session(
            str_field(p, "role"),
            p["session"].as_str().unwrap_or("session"),
            p["role_id"].as_str().unwrap_or("AROAEXAMPLEROLEID"),
        ),
        "root" => RequestPrincipal::root(str_field(p, "account")),
        "federated-user" => {
            RequestPrincipal::federated_user(str_field(p, "user"), str_field(p, "name"))
        }
        "service" => RequestPrincipal::service(str_field(p, "service")),
        "anonymous" => RequestPrincipal::anonymous(),
        other => panic!("unknown principal type {other:?}"),
    };
    if let Some(tags) = p.get("tags").and_then(Value::as_object) {
        principal = principal.with_tags(
            tags.iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or(""))),
        );
    }
    if let Some(provider) = p.get("federated_provider").and_then(Value::as_str) {
        principal = principal.with_federated_provider(provider);
    }
    if let Some(id) = p.get("canonical_user").and_then(Value::as_str) {
        principal.canonical_user = Some(id.to_owned());
    }
    if p.get("no_source_arn").and_then(Value::as_bool) == Some(true) {
        principal.source_arn = None;
    }
    principal
}

fn value_of(v: &Value) -> ContextValue {
    match v {
        Value::String(s) => ContextValue::String(s.clone()),
        Value::Bool(b) => ContextValue::Boolean(*b),
        Value::Number(n) => ContextValue::Number(n.as_f64().expect("finite number")),
        other => panic!("a context value must be a string, number or boolean: {other}"),
    }
}

pub fn context_of(ctx: &Map<String, Value>) -> EvaluationContext {
    let principal = principal_of(ctx.get("principal").expect("context.principal"));
    let action = ctx
        .get("action")
        .and_then(Value::as_str)
        .expect("context.action");
    let resource = ctx.get("resource").and_then(Value::as_str).unwrap_or("*");
    let mut out = EvaluationContext::new(principal, action, resource);
    if let Some(account) = ctx.get("resource_account").and_then(Value::as_str) {
        out = out.with_resource_account(account);
    }
    if let Some(keys) = ctx.get("keys").and_then(Value::as_object) {
        for (key, value) in keys {
            match value {
                Value::Array(items) => {
                    out.set_values(key, items.iter().map(value_of));
                }
                Value::Null => {
                    out.remove(key);
                }
                scalar => {
                    out.set(key, value_of(scalar));
                }
            }
        }
    }
    out
}

pub fn decision_of(text: &str) -> Decision {
    Decision::parse(text).unwrap_or_else(|| panic!("unknown decision {text:?}"))
}
