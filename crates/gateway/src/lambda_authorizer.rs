//! REQUEST (Lambda) authorizers on the data plane, as API Gateway runs them for HTTP APIs:
//!
//! 1. the identity sources' values are read from the request (headers, query, stage
//!    variables); one missing or empty → 401 without invoking anything;
//! 2. an answer cached for the same (authorizer, identity values) within the authorizer's TTL
//!    is reused; otherwise the function gets the payload 1.0 or 2.0 authorizer event;
//! 3. its answer decides: a simple response (`isAuthorized`, 2.0 with simple responses) or an
//!    IAM policy (`principalId`, `policyDocument`), evaluated by Rampart's policy engine for
//!    `execute-api:Invoke` on this request's route ARN — on every request, cached or not, so a
//!    policy allowing one method never lets another through; a denial → 403;
//! 4. its `context` reaches the integration (`requestContext.authorizer.lambda`, 2.0; the
//!    authorizer map with `principalId`, 1.0).
//!
//! A function error answered `Unauthorized` is a 401; any other failure, or an answer that is
//! neither shape, a 500 — never a pass.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rampart_policy::{
    evaluate, CompiledPolicy, Decision, EvaluationContext, PolicyKind, RequestPrincipal,
};
use serde_json::{json, Map, Value};

use crate::events::{self, LambdaContext, RequestFacts};
use crate::integration::{self, IntegrationFailure};
use crate::jwt::Refusal;
use crate::records::{AuthorizerRecord, RequestAuthorizer};
use crate::GatewayService;

/// The time an authorizer function may take (API Gateway's limit for HTTP APIs).
const AUTHORIZER_TIMEOUT: Duration = Duration::from_secs(10);

/// Cached answers kept at most; past it, expired ones go, then all. (Keys are digests, so a
/// caller sending huge identity values cannot make an entry large.)
const MAX_CACHED: usize = 20_000;

/// How a request fared with a Lambda authorizer.
#[derive(Debug)]
pub enum Verdict {
    Allow(LambdaContext),
    Refuse(Refusal),
    /// The authorizer failed or answered nonsense: 500.
    Failed,
}

/// An authorizer's answer, as cached.
#[derive(Debug)]
enum Answer {
    Simple {
        authorized: bool,
        context: Map<String, Value>,
    },
    Policy {
        principal_id: String,
        policy: CompiledPolicy,
        context: Map<String, Value>,
    },
}

/// (API, authorizer, the authorizer record's version, SHA-256 of the identity values): an
/// updated authorizer starts with an empty cache.
type CacheKey = (String, String, i64, [u8; 32]);

fn values_digest(values: &[String]) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for v in values {
        // Length-prefixed, so ["ab","c"] and ["a","bc"] differ.
        ctx.update(&(v.len() as u64).to_be_bytes());
        ctx.update(v.as_bytes());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// This node's cache of authorizer answers.
#[derive(Default)]
pub struct LambdaAuthorizers {
    cache: Mutex<HashMap<CacheKey, (Instant, Arc<Answer>)>>,
}

/// The values of `sources` in the request; None if one is missing or empty.
pub fn identity_values(sources: &[String], facts: &RequestFacts<'_>) -> Option<Vec<String>> {
    sources
        .iter()
        .map(|source| {
            let value = if let Some(name) = source.strip_prefix("$request.header.") {
                let values: Vec<&str> = facts
                    .headers
                    .get_all(name)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect();
                values.join(",")
            } else if let Some(name) = source.strip_prefix("$request.querystring.") {
                facts
                    .raw_query
                    .split('&')
                    .filter_map(|pair| {
                        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                        (k == name).then(|| {
                            percent_encoding::percent_decode_str(&v.replace('+', " "))
                                .decode_utf8_lossy()
                                .into_owned()
                        })
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            } else if let Some(name) = source.strip_prefix("$stageVariables.") {
                facts.stage_variables.get(name).cloned().unwrap_or_default()
            } else {
                String::new()
            };
            (!value.is_empty()).then_some(value)
        })
        .collect()
}

/// The event an authorizer function gets.
pub fn authorizer_event(
    config: &RequestAuthorizer,
    facts: &RequestFacts<'_>,
    route_arn: &str,
    values: &[String],
) -> Value {
    let mut event = if config.payload_format_version == "2.0" {
        let mut e = events::event_v2(facts);
        e["type"] = json!("REQUEST");
        e["routeArn"] = json!(route_arn);
        e["identitySource"] = json!(values);
        e
    } else {
        let mut e = events::event_v1(facts);
        let joined = values.join(",");
        e["type"] = json!("REQUEST");
        e["methodArn"] = json!(route_arn);
        e["identitySource"] = json!(joined);
        e["authorizationToken"] = json!(joined);
        e
    };
    // An authorizer sees the request's head, never its body.
    if let Some(map) = event.as_object_mut() {
        map.remove("body");
        map.remove("isBase64Encoded");
    }
    event
}

fn context_of(object: &Map<String, Value>) -> Result<Map<String, Value>, ()> {
    match object.get("context") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(c)) => Ok(c.clone()),
        Some(_) => Err(()),
    }
}

/// Reads an authorizer function's answer.
fn parse_answer(config: &RequestAuthorizer, payload: &[u8]) -> Result<Answer, ()> {
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(payload) else {
        return Err(());
    };
    let context = context_of(&object)?;
    if config.enable_simple_responses {
        let Some(Value::Bool(authorized)) = object.get("isAuthorized") else {
            return Err(());
        };
        return Ok(Answer::Simple {
            authorized: *authorized,
            context,
        });
    }
    let principal_id = match object.get("principalId") {
        Some(Value::String(p)) => p.clone(),
        _ => return Err(()),
    };
    let document = match object.get("policyDocument") {
        Some(Value::Object(d)) => Value::Object(d.clone()).to_string(),
        Some(Value::String(d)) => d.clone(),
        _ => return Err(()),
    };
    let policy = CompiledPolicy::parse("lambda-authorizer", PolicyKind::Identity, &document)
        .map_err(|_| ())?;
    Ok(Answer::Policy {
        principal_id,
        policy,
        context,
    })
}

/// What an answer means for the request to `route_arn` of `account`.
fn decide(answer: &Answer, account: &str, route_arn: &str) -> Verdict {
    match answer {
        Answer::Simple {
            authorized: true,
            context,
        } => Verdict::Allow(LambdaContext {
            context: context.clone(),
            principal_id: None,
        }),
        Answer::Simple { .. } => Verdict::Refuse(Refusal::Forbidden),
        Answer::Policy {
            principal_id,
            policy,
            context,
        } => {
            // The policy is evaluated as the identity policy of a caller of this account, so
            // that it alone decides (no root shortcut, no cross-account rule).
            let caller = RequestPrincipal::user(
                &format!("arn:aws:iam::{account}:user/lambda-authorizer"),
                "AIDALAMBDAAUTHORIZER",
            );
            let request = EvaluationContext::new(caller, "execute-api:Invoke", route_arn);
            match evaluate([policy], &request).decision {
                Decision::Allowed => Verdict::Allow(LambdaContext {
                    context: context.clone(),
                    principal_id: Some(principal_id.clone()),
                }),
                _ => Verdict::Refuse(Refusal::Forbidden),
            }
        }
    }
}

/// Whether a function error is the authorizer's way of saying 401.
fn says_unauthorized(error: &Bytes) -> bool {
    serde_json::from_slice::<Value>(error)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .is_some_and(|m| m == "Unauthorized")
}

impl LambdaAuthorizers {
    /// Authorizes the request `facts` describes (its route ARN `route_arn`) with `authorizer`
    /// (at the stored `version`).
    pub async fn authorize(
        &self,
        svc: &GatewayService,
        authorizer: &AuthorizerRecord,
        version: i64,
        facts: &RequestFacts<'_>,
        route_arn: &str,
    ) -> Verdict {
        let Some(config) = &authorizer.request else {
            return Verdict::Failed;
        };
        let Some(values) = identity_values(&authorizer.identity_source, facts) else {
            return Verdict::Refuse(Refusal::Unauthorized);
        };
        let key = (
            facts.api_id.to_owned(),
            authorizer.authorizer_id.clone(),
            version,
            values_digest(&values),
        );
        let ttl = Duration::from_secs(u64::from(config.ttl_seconds));
        if !ttl.is_zero() {
            let cache = self.cache.lock().expect("authorizer cache lock");
            if let Some((expires, answer)) = cache.get(&key) {
                if Instant::now() < *expires {
                    return decide(answer, facts.account_id, route_arn);
                }
            }
        }
        let event = authorizer_event(config, facts, route_arn, &values);
        // An authorizer's invocation names the authorizer, as API Gateway's `aws:SourceArn`.
        let source_arn = format!(
            "arn:aws:execute-api:{}:{}:{}/authorizers/{}",
            svc.region, facts.account_id, facts.api_id, authorizer.authorizer_id
        );
        let payload = match integration::invoke_function(
            svc,
            &config.function_name,
            AUTHORIZER_TIMEOUT,
            &source_arn,
            Bytes::from(event.to_string()),
        )
        .await
        {
            Ok(payload) => payload,
            Err(IntegrationFailure::FunctionError(error)) if says_unauthorized(&error) => {
                return Verdict::Refuse(Refusal::Unauthorized)
            }
            Err(e) => {
                tracing::warn!(authorizer = %authorizer.authorizer_id, failure = ?e, "the Lambda authorizer failed");
                return Verdict::Failed;
            }
        };
        let Ok(answer) = parse_answer(config, &payload) else {
            tracing::warn!(authorizer = %authorizer.authorizer_id, "the Lambda authorizer's answer is neither a simple response nor a policy");
            return Verdict::Failed;
        };
        let answer = Arc::new(answer);
        if !ttl.is_zero() {
            let now = Instant::now();
            let mut cache = self.cache.lock().expect("authorizer cache lock");
            if cache.len() >= MAX_CACHED {
                cache.retain(|_, (expires, _)| now < *expires);
                if cache.len() >= MAX_CACHED {
                    cache.clear();
                }
            }
            cache.insert(key, (now + ttl, answer.clone()));
        }
        decide(&answer, facts.account_id, route_arn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(simple: bool) -> RequestAuthorizer {
        RequestAuthorizer {
            authorizer_uri: String::new(),
            function_name: "f".into(),
            payload_format_version: "2.0".into(),
            enable_simple_responses: simple,
            ttl_seconds: 0,
        }
    }

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc/$default/GET/items/1";

    fn verdict(simple: bool, answer: Value) -> Verdict {
        match parse_answer(&config(simple), answer.to_string().as_bytes()) {
            Ok(a) => decide(&a, "123456789012", ARN),
            Err(()) => Verdict::Failed,
        }
    }

    fn policy(effect: &str, resource: &str) -> Value {
        json!({"principalId": "user-1", "context": {"k": "v"}, "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": effect, "Action": "execute-api:Invoke", "Resource": resource}]}})
    }

    #[test]
    fn simple_answers() {
        match verdict(
            true,
            json!({"isAuthorized": true, "context": {"user": "u"}}),
        ) {
            Verdict::Allow(c) => assert_eq!(c.context["user"], "u"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            verdict(true, json!({"isAuthorized": false})),
            Verdict::Refuse(Refusal::Forbidden)
        ));
        for bad in [
            json!({"isAuthorized": "yes"}),
            json!({}),
            json!("allow"),
            json!({"isAuthorized": true, "context": 1}),
        ] {
            assert!(matches!(verdict(true, bad), Verdict::Failed));
        }
    }

    #[test]
    fn policy_answers_are_evaluated_for_the_route() {
        match verdict(
            false,
            policy(
                "Allow",
                "arn:aws:execute-api:us-east-1:123456789012:abc/*/GET/*",
            ),
        ) {
            Verdict::Allow(c) => assert_eq!(c.principal_id.as_deref(), Some("user-1")),
            other => panic!("{other:?}"),
        }
        for refused in [
            policy(
                "Allow",
                "arn:aws:execute-api:us-east-1:123456789012:abc/*/POST/*",
            ),
            policy("Deny", "*"),
            policy(
                "Allow",
                "arn:aws:execute-api:us-east-1:123456789012:other/*",
            ),
        ] {
            assert!(matches!(
                verdict(false, refused),
                Verdict::Refuse(Refusal::Forbidden)
            ));
        }
        // A simple answer where a policy is expected is no answer at all.
        assert!(matches!(
            verdict(false, json!({"isAuthorized": true})),
            Verdict::Failed
        ));
        assert!(matches!(
            verdict(
                false,
                json!({"principalId": "p", "policyDocument": {"Statement": "nonsense"}})
            ),
            Verdict::Failed
        ));
    }

    #[test]
    fn identity_digests_keep_values_apart() {
        let d = |v: &[&str]| values_digest(&v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_ne!(d(&["ab", "c"]), d(&["a", "bc"]));
        assert_eq!(d(&["a"]), d(&["a"]));
        assert_ne!(d(&["a"]), d(&["b"]));
    }

    #[test]
    fn unauthorized_errors() {
        assert!(says_unauthorized(&Bytes::from_static(
            br#"{"errorMessage":"Unauthorized","errorType":"Exception"}"#
        )));
        assert!(!says_unauthorized(&Bytes::from_static(
            br#"{"errorMessage":"boom"}"#
        )));
    }
}
