//! The events against AWS's documented examples ("Working with AWS Lambda proxy integrations
//! for HTTP APIs", payload format versions 1.0 and 2.0), field by field, and the response
//! mappings.

use super::*;
use http::{HeaderName, HeaderValue};
use serde_json::json;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    map
}

/// Compares every field of `expected` with `got`, and that `got` has no other field.
fn same(got: &Value, expected: &Value, at: &str) {
    match (got, expected) {
        (Value::Object(g), Value::Object(e)) => {
            let mut gk: Vec<_> = g.keys().collect();
            let mut ek: Vec<_> = e.keys().collect();
            gk.sort();
            ek.sort();
            assert_eq!(gk, ek, "the fields of {at}");
            for (k, v) in e {
                same(&g[k], v, &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(got, expected, "{at}"),
    }
}

fn at_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap()
}

#[test]
fn v2_event_matches_the_documented_example() {
    // The documented request: POST /my/path?parameter1=value1&parameter1=value2&parameter2=value
    // with two cookies, header2 twice, a path parameter, two stage variables and a JWT.
    let h = headers(&[
        ("header1", "value1"),
        ("header2", "value1"),
        ("header2", "value2"),
        ("cookie", "cookie1; cookie2"),
        ("user-agent", "agent"),
    ]);
    let params = vec![("parameter1".to_owned(), "value1".to_owned())];
    let vars: BTreeMap<String, String> =
        [("stageVariable1", "value1"), ("stageVariable2", "value2")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
    let jwt = JwtContext {
        claims: [("claim1", "value1"), ("claim2", "value2")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        scopes: Some(vec!["scope1".into(), "scope2".into()]),
    };
    let facts = RequestFacts {
        account_id: "123456789012",
        api_id: "api-id",
        domain_name: "id.execute-api.us-east-1.amazonaws.com",
        request_id: "id",
        stage: "$default",
        route_key: "$default",
        method: "POST",
        raw_path: "/my/path",
        raw_query: "parameter1=value1&parameter1=value2&parameter2=value",
        headers: &h,
        body: b"Hello from Lambda",
        protocol: "HTTP/1.1",
        source_ip: "192.0.2.1",
        path_parameters: &params,
        stage_variables: &vars,
        jwt: Some(&jwt),
        lambda: None,
        iam: None,
        time: at_millis(1583348638390),
    };
    // AWS's example, but for two things it cannot agree with itself on: its `headers` leave
    // out the user-agent its `userAgent` comes from, and its `time` (12 Mar) is not its
    // `timeEpoch` (4 Mar). `authentication` (mutual TLS) is not served.
    let expected = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/my/path",
        "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
        "cookies": ["cookie1", "cookie2"],
        "headers": { "header1": "value1", "header2": "value1,value2", "user-agent": "agent" },
        "queryStringParameters": { "parameter1": "value1,value2", "parameter2": "value" },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "authorizer": {
                "jwt": {
                    "claims": { "claim1": "value1", "claim2": "value2" },
                    "scopes": ["scope1", "scope2"]
                }
            },
            "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "id",
            "http": {
                "method": "POST",
                "path": "/my/path",
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "agent"
            },
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "04/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1583348638390i64
        },
        "body": "Hello from Lambda",
        "pathParameters": { "parameter1": "value1" },
        "isBase64Encoded": false,
        "stageVariables": { "stageVariable1": "value1", "stageVariable2": "value2" }
    });
    same(&event_v2(&facts), &expected, "event");
}

#[test]
fn v2_event_leaves_out_what_the_request_lacks() {
    let h = headers(&[("content-type", "application/octet-stream")]);
    let vars = BTreeMap::new();
    let facts = RequestFacts {
        account_id: "1",
        api_id: "abc",
        domain_name: "abc.execute-api.localhost",
        request_id: "r",
        stage: "prod",
        route_key: "GET /a",
        method: "GET",
        raw_path: "/prod/a%20b",
        raw_query: "",
        headers: &h,
        body: &[0xff, 0x00],
        protocol: "HTTP/1.1",
        source_ip: "127.0.0.1",
        path_parameters: &[],
        stage_variables: &vars,
        jwt: None,
        lambda: None,
        iam: None,
        time: at_millis(0),
    };
    let e = event_v2(&facts);
    for absent in [
        "cookies",
        "queryStringParameters",
        "pathParameters",
        "stageVariables",
    ] {
        assert!(e.get(absent).is_none(), "{absent}");
    }
    assert!(e["requestContext"].get("authorizer").is_none());
    assert_eq!(e["rawPath"], "/prod/a%20b");
    assert_eq!(e["requestContext"]["http"]["path"], "/prod/a b");
    assert_eq!(e["requestContext"]["domainPrefix"], "abc");
    // A binary body travels as base64.
    assert_eq!(e["body"], "/wA=");
    assert_eq!(e["isBase64Encoded"], true);
}

#[test]
fn v1_event_matches_the_documented_example() {
    let h = headers(&[
        ("header1", "value1"),
        ("header2", "value1"),
        ("header2", "value2"),
        ("user-agent", "user-agent"),
    ]);
    let vars = BTreeMap::new();
    let facts = RequestFacts {
        account_id: "123456789012",
        api_id: "id",
        domain_name: "id.execute-api.us-east-1.amazonaws.com",
        request_id: "id=",
        stage: "$default",
        route_key: "GET /my/path",
        method: "GET",
        raw_path: "/my/path",
        raw_query: "parameter1=value1&parameter1=value2&parameter2=value",
        headers: &h,
        body: b"Hello from Lambda!",
        protocol: "HTTP/1.1",
        source_ip: "192.0.2.1",
        path_parameters: &[],
        stage_variables: &vars,
        jwt: None,
        lambda: None,
        iam: None,
        time: at_millis(1583349317135),
    };
    // AWS's example, but: its headers leave out the user-agent header, its `extendedRequestId`
    // is another id (Rampart has one per request), and `identity.clientCert` (mutual TLS) is
    // not served.
    let expected = json!({
        "version": "1.0",
        "resource": "/my/path",
        "path": "/my/path",
        "httpMethod": "GET",
        "headers": { "header1": "value1", "header2": "value2", "user-agent": "user-agent" },
        "multiValueHeaders": {
            "header1": ["value1"],
            "header2": ["value1", "value2"],
            "user-agent": ["user-agent"]
        },
        "queryStringParameters": { "parameter1": "value2", "parameter2": "value" },
        "multiValueQueryStringParameters": {
            "parameter1": ["value1", "value2"],
            "parameter2": ["value"]
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "id",
            "authorizer": { "claims": null, "scopes": null },
            "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "id",
            "extendedRequestId": "id=",
            "httpMethod": "GET",
            "identity": {
                "accessKey": null,
                "accountId": null,
                "caller": null,
                "cognitoAuthenticationProvider": null,
                "cognitoAuthenticationType": null,
                "cognitoIdentityId": null,
                "cognitoIdentityPoolId": null,
                "principalOrgId": null,
                "sourceIp": "192.0.2.1",
                "user": null,
                "userAgent": "user-agent",
                "userArn": null
            },
            "path": "/my/path",
            "protocol": "HTTP/1.1",
            "requestId": "id=",
            "requestTime": "04/Mar/2020:19:15:17 +0000",
            "requestTimeEpoch": 1583349317135i64,
            "resourceId": null,
            "resourcePath": "/my/path",
            "stage": "$default"
        },
        "pathParameters": null,
        "stageVariables": null,
        "body": "Hello from Lambda!",
        "isBase64Encoded": false
    });
    same(&event_v1(&facts), &expected, "event");
}

#[test]
fn v2_responses() {
    // A bare value is the body of a 200 JSON response.
    let r = response_v2(br#"{"hello":"world"}"#).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, br#"{"hello":"world"}"#);
    assert_eq!(
        r.headers,
        vec![("content-type".into(), "application/json".into())]
    );
    let r = response_v2(br#""Hello from Lambda!""#).unwrap();
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &br#""Hello from Lambda!""#[..])
    );
    // The documented structured response.
    let r = response_v2(
        br#"{"cookies":["cookie1","cookie2"],"isBase64Encoded":false,"statusCode":201,
            "headers":{"headername":"headervalue","X-Num":1},"body":"Hello from Lambda!"}"#,
    )
    .unwrap();
    assert_eq!(r.status, 201);
    assert_eq!(r.body, b"Hello from Lambda!");
    let mut got = r.headers.clone();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("content-type".into(), "application/json".into()),
            ("headername".into(), "headervalue".into()),
            ("set-cookie".into(), "cookie1".into()),
            ("set-cookie".into(), "cookie2".into()),
            ("x-num".into(), "1".into()),
        ]
    );
    let r = response_v2(br#"{"statusCode":200,"isBase64Encoded":true,"body":"/wA="}"#).unwrap();
    assert_eq!(r.body, vec![0xff, 0x00]);
    for bad in [
        &b"not json"[..],
        br#"{"statusCode":"abc"}"#,
        br#"{"statusCode":99}"#,
        br#"{"statusCode":200,"headers":[]}"#,
        br#"{"statusCode":200,"headers":{"a":{}}}"#,
        br#"{"statusCode":200,"cookies":"a"}"#,
        br#"{"statusCode":200,"isBase64Encoded":true,"body":"***"}"#,
    ] {
        assert!(
            response_v2(bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn v1_responses() {
    let r = response_v1(
        br#"{"statusCode":302,"headers":{"Location":"/x","a":"1"},
            "multiValueHeaders":{"Set-Cookie":["a=1","b=2"],"a":["2","3"]},"body":""}"#,
    )
    .unwrap();
    assert_eq!(r.status, 302);
    let mut got = r.headers.clone();
    got.sort();
    // `a` in both maps takes the multi-value list only.
    assert_eq!(
        got,
        vec![
            ("a".into(), "2".into()),
            ("a".into(), "3".into()),
            ("content-type".into(), "application/json".into()),
            ("location".into(), "/x".into()),
            ("set-cookie".into(), "a=1".into()),
            ("set-cookie".into(), "b=2".into()),
        ]
    );
    // 1.0 has no simplified form: a bare value is malformed.
    assert!(response_v1(br#"{"hello":"world"}"#).is_err());
    assert!(response_v1(br#""text""#).is_err());
}

#[test]
fn clf_times() {
    assert_eq!(
        clf_time(at_millis(1583349317135)),
        "04/Mar/2020:19:15:17 +0000"
    );
}
