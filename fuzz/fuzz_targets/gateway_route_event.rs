//! The API gateway's data plane on attacker-chosen requests: route keys as an operator writes
//! them, route selection over a request's method and path, the payload 1.0 and 2.0 events built
//! from the request's headers, query and body, and a function's answer mapped back. Nothing may
//! panic; every event is a JSON object whose `rawPath`/`path` is the request's; a route that
//! binds parameters matched the request's method.
//!
//! Input layout: byte 0 is a header count (modulo 8); then NUL-separated fields: the route keys
//! (one field, newline-separated), the method, the path, the query, then `name: value` header
//! fields, and the rest is the body (also fed to both response mappers as a function answer).

#![no_main]

use std::collections::BTreeMap;

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use rampart_gateway::events::{self, RequestFacts};
use rampart_gateway::route_key::{self, RouteKey};
use time::OffsetDateTime;

fuzz_target!(|data: &[u8]| {
    let Some((&count, rest)) = data.split_first() else {
        return;
    };
    let mut fields = rest.splitn(5 + usize::from(count % 8), |b| *b == 0);
    let text = |f: Option<&[u8]>| String::from_utf8_lossy(f.unwrap_or_default()).into_owned();
    let keys = text(fields.next());
    let method = text(fields.next());
    let path = text(fields.next());
    let query = text(fields.next());
    let mut rest: Vec<&[u8]> = fields.collect();
    let body = rest.pop().unwrap_or_default();
    let mut headers = HeaderMap::new();
    for field in rest {
        let Some(colon) = field.iter().position(|b| *b == b':') else {
            continue;
        };
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&field[..colon]),
            HeaderValue::from_bytes(&field[colon + 1..]),
        ) {
            headers.append(name, value);
        }
    }

    let parsed: Vec<RouteKey> = keys.lines().filter_map(RouteKey::parse).collect();
    for key in &parsed {
        if let Some(bound) = key.matches(&method, &path) {
            assert!(bound.iter().all(|(name, _)| !name.is_empty()));
        }
    }
    let selected = route_key::select(parsed.iter().map(|k| (k, k)), &method, &path);
    let (route, bound) = match selected {
        Some((key, bound)) => (format!("{key:?}"), bound),
        None => ("$default".to_owned(), Vec::new()),
    };

    let variables = BTreeMap::from([("stageVar".to_owned(), "v".to_owned())]);
    let facts = RequestFacts {
        account_id: "000000000000",
        api_id: "abc123",
        domain_name: "abc123.execute-api.localhost",
        request_id: "req",
        stage: "$default",
        route_key: &route,
        method: &method,
        raw_path: &path,
        raw_query: &query,
        headers: &headers,
        body,
        protocol: "HTTP/1.1",
        source_ip: "127.0.0.1",
        path_parameters: &bound,
        stage_variables: &variables,
        jwt: None,
        lambda: None,
        iam: None,
        time: OffsetDateTime::UNIX_EPOCH,
    };
    let v2 = events::event_v2(&facts);
    assert!(v2.is_object());
    assert_eq!(v2["rawPath"].as_str(), Some(path.as_str()));
    let v1 = events::event_v1(&facts);
    assert!(v1.is_object());
    let _ = serde_json::to_vec(&v1).expect("an event always serialises");

    let _ = events::response_v2(body);
    let _ = events::response_v1(body);
});
