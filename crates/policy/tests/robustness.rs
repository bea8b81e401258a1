//! A deterministic stand-in for fuzzing: every document in the case tables, cut short and
//! with characters swapped for awkward ones, must be refused or accepted without a panic,
//! and whatever is accepted must evaluate without one (policy text reaches this crate from
//! callers, so a panic would be a denial of service).

mod common;

use common::*;
use rampart_policy::{
    evaluate, parse_policy, CompiledPolicy, EvaluationContext, PolicyKind, RequestPrincipal,
};
use serde_json::Value;

/// A small linear congruential generator: reproducible without a dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as usize
    }
}

const AWKWARD: [&str; 12] = [
    "*", "?", "${", "}", ":", "/", "é", "\\u0000", "\"", ",", "${*}", "🦀",
];

fn documents() -> Vec<String> {
    let mut docs = Vec::new();
    for file in case_files(&[]) {
        let table = read_json(&file);
        for case in table["cases"].as_array().into_iter().flatten() {
            if case.get("document").is_some() || case.get("statements").is_some() {
                docs.push(document_text(case));
            }
            for policy in case["policies"].as_array().into_iter().flatten() {
                docs.push(document_text(policy));
            }
        }
    }
    docs
}

fn contexts() -> Vec<EvaluationContext> {
    let alice = RequestPrincipal::user("arn:aws:iam::111122223333:user/alice", "AIDAALICE")
        .with_tags([("team", "é*?")]);
    vec![
        EvaluationContext::new(alice.clone(), "s3:GetObject", "arn:aws:s3:::bucket/é/🦀")
            .with("aws:SourceIp", "not an ip")
            .with("aws:CurrentTime", "🦀")
            .with_values("aws:TagKeys", ["", "*", "${aws:username}"]),
        EvaluationContext::new(alice, "é:🦀", "arn:::::")
            .with("s3:max-keys", "1e999")
            .with("svc:blob", "%%%"),
        EvaluationContext::new(RequestPrincipal::anonymous(), "", ""),
    ]
}

fn mutate_strings(value: &mut Value, rng: &mut Lcg) {
    match value {
        Value::String(s) if rng.next().is_multiple_of(3) => {
            let cut = s
                .char_indices()
                .map(|(i, _)| i)
                .nth(rng.next() % (s.chars().count() + 1));
            let at = cut.unwrap_or(s.len());
            s.insert_str(at, AWKWARD[rng.next() % AWKWARD.len()]);
        }
        Value::Array(items) => items.iter_mut().for_each(|v| mutate_strings(v, rng)),
        Value::Object(map) => map.values_mut().for_each(|v| mutate_strings(v, rng)),
        _ => {}
    }
}

#[test]
fn mutated_documents_never_panic() {
    let docs = documents();
    let ctxs = contexts();
    let mut rng = Lcg(0x5eed);
    let (mut accepted, mut refused) = (0, 0);
    for doc in &docs {
        let chars: Vec<char> = doc.chars().collect();
        for round in 0..12 {
            let mutated: String = match round {
                0 => chars[..rng.next() % (chars.len() + 1)].iter().collect(),
                1 => {
                    let mut out = String::new();
                    for &c in &chars {
                        if rng.next().is_multiple_of(23) {
                            out.push_str(AWKWARD[rng.next() % AWKWARD.len()]);
                        } else {
                            out.push(c);
                        }
                    }
                    out
                }
                // Still JSON: only the strings inside change, so the evaluator sees odd
                // patterns, ARNs, variables and condition values.
                _ => match serde_json::from_str::<Value>(doc) {
                    Ok(mut value) => {
                        mutate_strings(&mut value, &mut rng);
                        value.to_string()
                    }
                    Err(_) => doc.clone(),
                },
            };
            for kind in [
                PolicyKind::Identity,
                PolicyKind::Resource,
                PolicyKind::Trust,
            ] {
                match parse_policy(&mutated, kind) {
                    Ok(document) => {
                        accepted += 1;
                        let policy =
                            CompiledPolicy::compile("m", kind, &document).expect("compiles");
                        for ctx in &ctxs {
                            let _ = evaluate([&policy], ctx);
                        }
                    }
                    Err(e) => {
                        refused += 1;
                        assert!(!e.to_string().is_empty());
                    }
                }
            }
        }
    }
    println!(
        "{} documents, {accepted} mutations accepted, {refused} refused",
        docs.len()
    );
    assert!(accepted > 100 && refused > 100);
    let _ = Value::Null;
}
