//! The events an `AWS_PROXY` integration hands a function, built exactly as API Gateway builds
//! them for HTTP APIs (payload format 2.0 and 1.0), and the function's answer mapped back to an
//! HTTP response as API Gateway maps it. Pure: the data plane gathers [`RequestFacts`] once.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::HeaderMap;
use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

/// What a JWT authorizer established about the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtContext {
    /// The token's claims, every value as a string (API Gateway's rendering).
    pub claims: BTreeMap<String, String>,
    /// The token's scopes, when the route asks for scopes.
    pub scopes: Option<Vec<String>>,
}

/// What a Lambda authorizer established: its answer's `context`, and `principalId` for an
/// IAM-policy answer.
#[derive(Debug, Clone, PartialEq)]
pub struct LambdaContext {
    pub context: Map<String, Value>,
    pub principal_id: Option<String>,
}

/// Everything an event is built from.
#[derive(Debug, Clone)]
pub struct RequestFacts<'a> {
    pub account_id: &'a str,
    pub api_id: &'a str,
    /// `<apiId>.execute-api.<host>`.
    pub domain_name: &'a str,
    pub request_id: &'a str,
    pub stage: &'a str,
    /// The route key that matched (`GET /items/{id}`, `$default`).
    pub route_key: &'a str,
    pub method: &'a str,
    /// The path as addressed, the stage's segment included for a named stage (API Gateway's
    /// `rawPath`), still percent-encoded.
    pub raw_path: &'a str,
    /// The query string as received, without `?`.
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub protocol: &'a str,
    pub source_ip: &'a str,
    pub path_parameters: &'a [(String, String)],
    pub stage_variables: &'a BTreeMap<String, String>,
    pub jwt: Option<&'a JwtContext>,
    pub lambda: Option<&'a LambdaContext>,
    /// The signer of an `AWS_IAM` route's request.
    pub iam: Option<&'a crate::iam_auth::IamCaller>,
    pub time: OffsetDateTime,
}

/// `12/Mar/2020:19:03:58 +0000`, the events' `time`/`requestTime`.
pub fn clf_time(t: OffsetDateTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000",
        t.day(),
        MONTHS[usize::from(u8::from(t.month())) - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn epoch_millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Header values by lowercase name, in arrival order; values that are not text are dropped.
fn header_lists(headers: &HeaderMap) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        if let Ok(v) = value.to_str() {
            out.entry(name.as_str().to_ascii_lowercase())
                .or_default()
                .push(v.to_owned());
        }
    }
    out
}

/// Query parameters decoded, by name, in arrival order (`+` is a space, as forms encode it).
fn query_lists(raw: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let dec = |s: &str| {
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        out.entry(dec(k)).or_default().push(dec(v));
    }
    out
}

/// Whether a body of this content type reaches the function as text (else base64).
fn is_text(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return true;
    };
    let ct = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.ends_with("/json")
        || ct.ends_with("+json")
        || ct.ends_with("/xml")
        || ct.ends_with("+xml")
        || ct == "application/javascript"
        || ct == "application/x-www-form-urlencoded"
}

/// The body as the event carries it: (body, isBase64Encoded); None when there is none.
fn event_body(facts: &RequestFacts<'_>) -> (Option<String>, bool) {
    if facts.body.is_empty() {
        return (None, false);
    }
    let ct = facts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    match std::str::from_utf8(facts.body) {
        Ok(text) if is_text(ct) => (Some(text.to_owned()), false),
        _ => (Some(STANDARD.encode(facts.body)), true),
    }
}

fn string_map<'a>(pairs: impl IntoIterator<Item = (&'a String, String)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k.clone(), Value::String(v)))
            .collect(),
    )
}

fn user_agent(facts: &RequestFacts<'_>) -> String {
    facts
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

fn domain_prefix<'a>(facts: &RequestFacts<'a>) -> &'a str {
    facts.domain_name.split('.').next().unwrap_or(facts.api_id)
}

/// The payload format 2.0 event.
pub fn event_v2(facts: &RequestFacts<'_>) -> Value {
    let mut headers = header_lists(facts.headers);
    // Cookies travel apart, one entry per cookie.
    let cookies: Vec<String> = headers
        .remove("cookie")
        .unwrap_or_default()
        .iter()
        .flat_map(|h| h.split(';'))
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    let query = query_lists(facts.raw_query);
    let (body, base64) = event_body(facts);
    let mut request_context = json!({
        "accountId": facts.account_id,
        "apiId": facts.api_id,
        "domainName": facts.domain_name,
        "domainPrefix": domain_prefix(facts),
        "http": {
            "method": facts.method,
            "path": percent_decode_str(facts.raw_path).decode_utf8_lossy(),
            "protocol": facts.protocol,
            "sourceIp": facts.source_ip,
            "userAgent": user_agent(facts),
        },
        "requestId": facts.request_id,
        "routeKey": facts.route_key,
        "stage": facts.stage,
        "time": clf_time(facts.time),
        "timeEpoch": epoch_millis(facts.time),
    });
    if let Some(jwt) = facts.jwt {
        request_context["authorizer"] = json!({
            "jwt": { "claims": jwt.claims, "scopes": jwt.scopes },
        });
    }
    if let Some(lambda) = facts.lambda {
        request_context["authorizer"] = json!({ "lambda": lambda.context });
    }
    if let Some(iam) = facts.iam {
        request_context["authorizer"] = json!({ "iam": {
            "accessKey": iam.access_key,
            "accountId": iam.account_id,
            "callerId": iam.user_id,
            "cognitoIdentity": null,
            "principalOrgId": null,
            "userArn": iam.user_arn,
            "userId": iam.user_id,
        }});
    }
    let mut event = Map::new();
    event.insert("version".into(), json!("2.0"));
    event.insert("routeKey".into(), json!(facts.route_key));
    event.insert("rawPath".into(), json!(facts.raw_path));
    event.insert("rawQueryString".into(), json!(facts.raw_query));
    if !cookies.is_empty() {
        event.insert("cookies".into(), json!(cookies));
    }
    event.insert(
        "headers".into(),
        string_map(headers.iter().map(|(k, v)| (k, v.join(",")))),
    );
    if !query.is_empty() {
        event.insert(
            "queryStringParameters".into(),
            string_map(query.iter().map(|(k, v)| (k, v.join(",")))),
        );
    }
    event.insert("requestContext".into(), request_context);
    if let Some(body) = body {
        event.insert("body".into(), json!(body));
    }
    if !facts.path_parameters.is_empty() {
        event.insert(
            "pathParameters".into(),
            string_map(facts.path_parameters.iter().map(|(k, v)| (k, v.clone()))),
        );
    }
    event.insert("isBase64Encoded".into(), json!(base64));
    if !facts.stage_variables.is_empty() {
        event.insert("stageVariables".into(), json!(facts.stage_variables));
    }
    Value::Object(event)
}

/// The payload format 1.0 event (the REST API's proxy event, as HTTP APIs send it).
pub fn event_v1(facts: &RequestFacts<'_>) -> Value {
    let headers = header_lists(facts.headers);
    let query = query_lists(facts.raw_query);
    let (body, base64) = event_body(facts);
    let resource = match facts.route_key.split_once(' ') {
        Some((_, path)) => path,
        None => facts.route_key,
    };
    let path = percent_decode_str(facts.raw_path)
        .decode_utf8_lossy()
        .into_owned();
    let single = |lists: &BTreeMap<String, Vec<String>>| -> Value {
        if lists.is_empty() {
            return Value::Null;
        }
        string_map(
            lists
                .iter()
                .map(|(k, v)| (k, v.last().cloned().unwrap_or_default())),
        )
    };
    let multi = |lists: &BTreeMap<String, Vec<String>>| -> Value {
        if lists.is_empty() {
            Value::Null
        } else {
            json!(lists)
        }
    };
    let authorizer = match (facts.jwt, facts.lambda) {
        (Some(jwt), _) => json!({ "claims": jwt.claims, "scopes": jwt.scopes }),
        // A Lambda authorizer's context keys, beside its principal.
        (None, Some(lambda)) => {
            let mut map = lambda.context.clone();
            map.insert("principalId".into(), json!(lambda.principal_id));
            map.insert("integrationLatency".into(), json!(0));
            Value::Object(map)
        }
        (None, None) => json!({ "claims": null, "scopes": null }),
    };
    json!({
        "version": "1.0",
        "resource": resource,
        "path": path,
        "httpMethod": facts.method,
        "headers": single(&headers),
        "multiValueHeaders": multi(&headers),
        "queryStringParameters": single(&query),
        "multiValueQueryStringParameters": multi(&query),
        "requestContext": {
            "accountId": facts.account_id,
            "apiId": facts.api_id,
            "authorizer": authorizer,
            "domainName": facts.domain_name,
            "domainPrefix": domain_prefix(facts),
            "extendedRequestId": facts.request_id,
            "httpMethod": facts.method,
            "identity": {
                "accessKey": facts.iam.map(|i| i.access_key.as_str()),
                "accountId": facts.iam.map(|i| i.account_id.as_str()),
                "caller": facts.iam.map(|i| i.user_id.as_str()),
                "cognitoAuthenticationProvider": null,
                "cognitoAuthenticationType": null,
                "cognitoIdentityId": null,
                "cognitoIdentityPoolId": null,
                "principalOrgId": null,
                "sourceIp": facts.source_ip,
                "user": facts.iam.map(|i| i.user_id.as_str()),
                "userAgent": user_agent(facts),
                "userArn": facts.iam.map(|i| i.user_arn.as_str()),
            },
            "path": path,
            "protocol": facts.protocol,
            "requestId": facts.request_id,
            "requestTime": clf_time(facts.time),
            "requestTimeEpoch": epoch_millis(facts.time),
            // AWS's documented 1.0 event has no resource id for HTTP APIs.
            "resourceId": null,
            "resourcePath": resource,
            "stage": facts.stage,
        },
        "pathParameters": if facts.path_parameters.is_empty() {
            Value::Null
        } else {
            string_map(facts.path_parameters.iter().map(|(k, v)| (k, v.clone())))
        },
        "stageVariables": if facts.stage_variables.is_empty() {
            Value::Null
        } else {
            json!(facts.stage_variables)
        },
        "body": body,
        "isBase64Encoded": base64,
    })
}

/// An HTTP response mapped from a function's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedResponse {
    pub status: u16,
    /// In order; a name may repeat (`set-cookie`, 1.0's multi-value headers).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The function answered something API Gateway cannot map (a 502 to the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedResponse(pub &'static str);

/// A header value as API Gateway takes it: strings as they are, numbers and booleans written
/// out; anything else is malformed.
fn header_value(v: &Value) -> Result<String, MalformedResponse> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(MalformedResponse("a header value is not a string")),
    }
}

fn status_of(v: Option<&Value>) -> Result<u16, MalformedResponse> {
    let status = match v {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    status
        .filter(|s| (100..=599).contains(s))
        .map(|s| s as u16)
        .ok_or(MalformedResponse("statusCode is not an HTTP status"))
}

fn body_of(object: &Map<String, Value>) -> Result<Vec<u8>, MalformedResponse> {
    let base64 = match object.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        _ => return Err(MalformedResponse("isBase64Encoded is not a boolean")),
    };
    let text = match object.get("body") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) => s.clone(),
        // A structured body is sent as its JSON.
        Some(other) => other.to_string(),
    };
    if base64 {
        STANDARD
            .decode(text.as_bytes())
            .map_err(|_| MalformedResponse("the body is not base64"))
    } else {
        Ok(text.into_bytes())
    }
}

fn push_headers(
    out: &mut Vec<(String, String)>,
    headers: Option<&Value>,
) -> Result<(), MalformedResponse> {
    match headers {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(map)) => {
            for (k, v) in map {
                out.push((k.to_ascii_lowercase(), header_value(v)?));
            }
            Ok(())
        }
        Some(_) => Err(MalformedResponse("headers is not an object")),
    }
}

/// Maps a payload format 2.0 answer: an object with `statusCode` is a response; any other valid
/// JSON is the body of a 200 `application/json` response.
pub fn response_v2(payload: &[u8]) -> Result<MappedResponse, MalformedResponse> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|_| MalformedResponse("the answer is not JSON"))?;
    let object = match &value {
        Value::Object(map) if map.contains_key("statusCode") => map,
        _ => {
            return Ok(MappedResponse {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: payload.to_vec(),
            })
        }
    };
    let status = status_of(object.get("statusCode"))?;
    let mut headers = Vec::new();
    push_headers(&mut headers, object.get("headers"))?;
    match object.get("cookies") {
        None | Some(Value::Null) => {}
        Some(Value::Array(cookies)) => {
            for c in cookies {
                let Value::String(c) = c else {
                    return Err(MalformedResponse("a cookie is not a string"));
                };
                headers.push(("set-cookie".into(), c.clone()));
            }
        }
        Some(_) => return Err(MalformedResponse("cookies is not a list")),
    }
    if !headers.iter().any(|(k, _)| k == "content-type") {
        headers.push(("content-type".into(), "application/json".into()));
    }
    Ok(MappedResponse {
        status,
        headers,
        body: body_of(object)?,
    })
}

/// Maps a payload format 1.0 answer, which must be an object with `statusCode`; `headers` and
/// `multiValueHeaders` are merged (a name in both takes every value).
pub fn response_v1(payload: &[u8]) -> Result<MappedResponse, MalformedResponse> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|_| MalformedResponse("the answer is not JSON"))?;
    let Value::Object(object) = &value else {
        return Err(MalformedResponse("the answer is not an object"));
    };
    let status = status_of(object.get("statusCode"))?;
    let mut headers = Vec::new();
    match object.get("multiValueHeaders") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, values) in map {
                let Value::Array(values) = values else {
                    return Err(MalformedResponse("multiValueHeaders values are not lists"));
                };
                for v in values {
                    headers.push((k.to_ascii_lowercase(), header_value(v)?));
                }
            }
        }
        Some(_) => return Err(MalformedResponse("multiValueHeaders is not an object")),
    }
    let mut single = Vec::new();
    push_headers(&mut single, object.get("headers"))?;
    for (k, v) in single {
        if !headers.iter().any(|(name, _)| *name == k) {
            headers.push((k, v));
        }
    }
    if !headers.iter().any(|(k, _)| k == "content-type") {
        headers.push(("content-type".into(), "application/json".into()));
    }
    Ok(MappedResponse {
        status,
        headers,
        body: body_of(object)?,
    })
}

#[cfg(test)]
mod tests;
