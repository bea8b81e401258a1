//! Arbitrary bytes through the policy language: parse the document as every `PolicyKind`,
//! compile it, check it against the size quotas, and evaluate what compiled (each policy alone, then all of
//! them together) against a request built from the same input. Nothing may panic.
//!
//! Input layout: byte 0 chooses the principal (low 3 bits) and whether the context keys are
//! sent as strings, numbers/booleans where they parse, or multivalued (bits 3-4); the rest
//! up to the first NUL byte is the policy document; after it, newline-separated lines:
//! the action, the resource, then `key=value` condition keys (a value with `|` in it is a
//! multivalued key, `key=` with nothing after it is an empty set, `-key` removes a key).
//! The seed corpus (see `seed_policy_evaluate.py`) is the documents and contexts of
//! `crates/policy/tests/cases/*.json` in this layout.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_policy::{
    check_size, evaluate, parse_policy, CompiledPolicy, ContextValue, EvaluationContext,
    PolicyKind, RequestPrincipal, SizeLimit,
};

const KINDS: [PolicyKind; 5] = [
    PolicyKind::Identity,
    PolicyKind::Resource,
    PolicyKind::Trust,
    PolicyKind::Session,
    PolicyKind::Boundary,
];

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (doc, ctx_bytes) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &rest[rest.len()..]),
    };
    let doc = String::from_utf8_lossy(doc);
    let ctx_text = String::from_utf8_lossy(ctx_bytes);

    for limit in [
        SizeLimit::ManagedPolicy,
        SizeLimit::TrustPolicy,
        SizeLimit::SessionPolicy,
    ] {
        if let Err(e) = check_size(&doc, limit) {
            let _ = (e.code(), e.to_string());
        }
    }
    let mut compiled = Vec::new();
    for kind in KINDS {
        if let Ok(parsed) = parse_policy(&doc, kind) {
            let _ = format!("{parsed:?}");
        }
        match CompiledPolicy::parse(&format!("{kind:?}"), kind, &doc) {
            Ok(policy) => {
                let _ = policy.statement_count();
                compiled.push(policy);
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }

    let ctx = context_of(flags, &ctx_text);
    for policy in &compiled {
        let evaluation = evaluate([policy], &ctx);
        let _ = evaluation.explanation(ctx.action());
        let _ = evaluation.denied_by();
    }
    if !compiled.is_empty() {
        let evaluation = evaluate(compiled.iter(), &ctx);
        let _ = evaluation.explanation(ctx.action());
    }
});

fn principal_of(selector: u8) -> RequestPrincipal {
    match selector & 7 {
        0 => RequestPrincipal::user("arn:aws:iam::111122223333:user/alice", "AIDAALICE")
            .with_tags([("team", "blue"), ("Project", "x")]),
        1 => RequestPrincipal::role_session(
            "arn:aws:iam::111122223333:role/path/Role",
            "session",
            "AROAROLE",
        )
        .with_tags([("team", "red")]),
        2 => RequestPrincipal::root("111122223333"),
        3 => RequestPrincipal::federated_user("arn:aws:iam::111122223333:user/bob", "fed"),
        4 => RequestPrincipal::service("lambda.amazonaws.com"),
        5 => RequestPrincipal::anonymous(),
        6 => RequestPrincipal::user("arn:aws:iam::444455556666:user/x/y", "AIDAOTHER")
            .with_federated_provider("accounts.google.com"),
        _ => RequestPrincipal::role_session("arn:aws:iam::111122223333:role/R", "", ""),
    }
}

fn value_of(mode: u8, text: &str) -> ContextValue {
    if mode == 1 {
        if let Ok(n) = text.parse::<f64>() {
            return ContextValue::Number(n);
        }
        if let Ok(b) = text.parse::<bool>() {
            return ContextValue::Boolean(b);
        }
        if let Ok(ip) = text.parse() {
            return ContextValue::Ip(ip);
        }
        if let Ok(n) = text.parse::<i64>() {
            return ContextValue::date_from_epoch_seconds(n);
        }
    }
    if mode == 3 {
        return ContextValue::Binary(text.as_bytes().to_vec());
    }
    ContextValue::String(text.to_owned())
}

fn context_of(flags: u8, text: &str) -> EvaluationContext {
    let mut lines = text.split('\n');
    let action = lines.next().unwrap_or("s3:GetObject");
    let resource = lines.next().unwrap_or("*");
    let mut ctx = EvaluationContext::new(principal_of(flags), action, resource);
    if flags & 0x80 != 0 {
        ctx = ctx.with_resource_account("444455556666");
    }
    let mode = (flags >> 3) & 3;
    for line in lines {
        if let Some(key) = line.strip_prefix('-') {
            ctx.remove(key);
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        if value.is_empty() || value.contains('|') || mode == 2 {
            let values: Vec<ContextValue> = value
                .split('|')
                .filter(|v| !v.is_empty())
                .map(|v| value_of(mode & 1, v))
                .collect();
            ctx.set_values(key, values);
        } else {
            ctx.set(key, value_of(mode, value));
        }
    }
    ctx
}
