//! Integrations: CreateIntegration, GetIntegrations, GetIntegration, UpdateIntegration,
//! DeleteIntegration. Only
//! `AWS_PROXY` integrations with a function of this account and region; the function's name is
//! read from the URI once, here, and the data plane invokes exactly that.

use rampart_store::{request_audit, Expect};
use rampart_wire::service::RestInput;
use rampart_wire::{Check, Output};
use serde::{Deserialize, Serialize};

use super::wire;
use super::{child_id, Call, GatewayOperation, NamedApi};
use crate::deployments;
use crate::error::GatewayError;
use crate::records::{self, child_key, ns, IntegrationRecord, RouteRecord};
use crate::GatewayService;

/// `Integration` as botocore parses it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IntegrationShape<'a> {
    connection_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    integration_id: &'a str,
    integration_method: &'a str,
    integration_type: &'static str,
    integration_uri: &'a str,
    payload_format_version: &'a str,
    timeout_in_millis: u32,
}

fn shape(i: &IntegrationRecord) -> IntegrationShape<'_> {
    IntegrationShape {
        connection_type: "INTERNET",
        description: i.description.as_deref(),
        integration_id: &i.integration_id,
        integration_method: &i.integration_method,
        integration_type: "AWS_PROXY",
        integration_uri: &i.integration_uri,
        payload_format_version: &i.payload_format_version,
        timeout_in_millis: i.timeout_in_millis,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateIntegrationBody {
    integration_type: Option<String>,
    integration_uri: Option<String>,
    integration_method: Option<String>,
    payload_format_version: Option<String>,
    timeout_in_millis: Option<i64>,
    description: Option<String>,
    connection_type: Option<String>,
    credentials_arn: Option<String>,
    integration_subtype: Option<String>,
}

/// The function name of an integration URI naming a function of `account` in `region`: a
/// function ARN, or API Gateway's `arn:aws:apigateway:<region>:lambda:path/2015-03-31/
/// functions/<function ARN>/invocations` form.
pub(crate) fn function_name(
    uri: &str,
    region: &str,
    account: &str,
) -> Result<String, GatewayError> {
    let bad = || {
        GatewayError::BadRequest(format!(
            "Invalid integration URI specified: {uri}. An AWS_PROXY integration names a function of this account and region by its ARN."
        ))
    };
    let arn = match uri.strip_prefix(&format!(
        "arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/"
    )) {
        Some(rest) => rest.strip_suffix("/invocations").ok_or_else(bad)?,
        None => uri,
    };
    let name = arn
        .strip_prefix(&format!("arn:aws:lambda:{region}:{account}:function:"))
        .ok_or_else(bad)?;
    // `$LATEST` is what runs; other versions and aliases do not exist yet.
    let name = name.strip_suffix(":$LATEST").unwrap_or(name);
    let valid = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Err(bad());
    }
    Ok(name.to_owned())
}

pub(crate) struct CreateIntegration {
    named: NamedApi,
    body: CreateIntegrationBody,
}

#[async_trait::async_trait]
impl GatewayOperation for CreateIntegration {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        let body: CreateIntegrationBody = wire::decode(&input.body)?;
        match body.integration_type.as_deref() {
            Some("AWS_PROXY") => {}
            Some(other) => {
                return Err(GatewayError::BadRequest(format!(
                    "Integration type {other} is not supported by this Rampart host: use AWS_PROXY with a function."
                )))
            }
            None => {
                return Err(GatewayError::BadRequest(
                    "Invalid input: integrationType is required.".into(),
                ))
            }
        }
        if body.credentials_arn.is_some() || body.integration_subtype.is_some() {
            return Err(GatewayError::BadRequest(
                "CredentialsArn and IntegrationSubtype are not supported by this Rampart host yet."
                    .into(),
            ));
        }
        if body
            .connection_type
            .as_deref()
            .is_some_and(|c| c != "INTERNET")
        {
            return Err(GatewayError::BadRequest(
                "Only connection type INTERNET is supported.".into(),
            ));
        }
        match body.payload_format_version.as_deref() {
            Some("1.0") | Some("2.0") => {}
            Some(other) => {
                return Err(GatewayError::BadRequest(format!(
                    "Invalid payload format version: {other}. Use 1.0 or 2.0."
                )))
            }
            None => {
                return Err(GatewayError::BadRequest(
                    "A payloadFormatVersion is required for AWS_PROXY integrations of HTTP APIs."
                        .into(),
                ))
            }
        }
        if let Some(t) = body.timeout_in_millis {
            if !(50..=30000).contains(&t) {
                return Err(GatewayError::BadRequest(
                    "Invalid input: timeoutInMillis must be between 50 and 30000.".into(),
                ));
            }
        }
        if let Some(d) = &body.description {
            wire::check_length(d, "description", 0, 1024)?;
        }
        if body.integration_uri.is_none() {
            return Err(GatewayError::BadRequest(
                "Invalid input: integrationUri is required for AWS_PROXY integrations.".into(),
            ));
        }
        Ok(CreateIntegration {
            named: NamedApi::decode(input)?,
            body,
        })
    }

    /// `apigateway:POST` on `/apis/<apiId>/integrations`. Invoking the function is decided by
    /// the function's resource policy when the gateway calls it, as on AWS.
    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        self.named.check(svc, "POST", "/integrations").await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let b = self.body;
        super::check_quota(
            svc,
            ns::INTEGRATIONS,
            &api.record.api_id,
            300,
            "integrations",
        )
        .await?;
        let uri = b.integration_uri.unwrap_or_default();
        let integration = IntegrationRecord {
            integration_id: crate::ids::child_id(),
            function_name: function_name(&uri, &svc.region, &svc.account_id)?,
            integration_uri: uri,
            payload_format_version: b.payload_format_version.unwrap_or_default(),
            timeout_in_millis: b.timeout_in_millis.unwrap_or(30000) as u32,
            description: b.description,
            integration_method: b.integration_method.unwrap_or_else(|| "POST".into()),
        };
        let writes = vec![
            records::guard(api),
            records::put(
                ns::INTEGRATIONS,
                child_key(&api.record.api_id, &integration.integration_id),
                &integration,
                Expect::Absent,
            ),
        ];
        let writes = deployments::follow(svc, &api.record, writes).await?;
        request_audit::commit(svc.store.as_ref(), writes).await?;
        wire::reply(201, &shape(&integration))
    }
}

async fn load_integration(
    svc: &GatewayService,
    api_id: &str,
    id: &str,
) -> Result<records::Stored<IntegrationRecord>, GatewayError> {
    records::load(svc.store.as_ref(), ns::INTEGRATIONS, &child_key(api_id, id))
        .await?
        .ok_or_else(|| GatewayError::not_found("Integration", id))
}

pub(crate) struct GetIntegration {
    named: NamedApi,
    integration_id: String,
}

#[async_trait::async_trait]
impl GatewayOperation for GetIntegration {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(GetIntegration {
            named: NamedApi::decode(input)?,
            integration_id: child_id(input, "integrationId", "Integration")?,
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        let tail = format!("/integrations/{}", self.integration_id);
        self.named.check(svc, "GET", &tail).await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let i = load_integration(svc, &api.record.api_id, &self.integration_id).await?;
        wire::reply(200, &shape(&i.record))
    }
}

pub(crate) struct GetIntegrations {
    named: NamedApi,
    max_results: Option<String>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GetIntegrationsReply<'a> {
    items: Vec<IntegrationShape<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[async_trait::async_trait]
impl GatewayOperation for GetIntegrations {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(GetIntegrations {
            named: NamedApi::decode(input)?,
            max_results: input.query.get("maxResults").map(str::to_owned),
            next_token: input.query.get("nextToken").map(str::to_owned),
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        self.named.check(svc, "GET", "/integrations").await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let all = records::children::<IntegrationRecord>(
            svc.store.as_ref(),
            ns::INTEGRATIONS,
            &api.record.api_id,
        )
        .await?;
        let (items, next_token) =
            wire::page(all, self.max_results.as_deref(), self.next_token.as_deref())?;
        wire::reply(
            200,
            &GetIntegrationsReply {
                items: items.iter().map(shape).collect(),
                next_token,
            },
        )
    }
}

pub(crate) struct DeleteIntegration {
    named: NamedApi,
    integration_id: String,
}

#[async_trait::async_trait]
impl GatewayOperation for DeleteIntegration {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(DeleteIntegration {
            named: NamedApi::decode(input)?,
            integration_id: child_id(input, "integrationId", "Integration")?,
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        let tail = format!("/integrations/{}", self.integration_id);
        self.named.check(svc, "DELETE", &tail).await
    }

    /// Refused while a route targets it; the API guard keeps a route from taking it as its
    /// target meanwhile.
    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let api_id = &api.record.api_id;
        let stored = load_integration(svc, api_id, &self.integration_id).await?;
        let routes =
            records::children::<RouteRecord>(svc.store.as_ref(), ns::ROUTES, api_id).await?;
        if let Some((_, r)) = routes
            .iter()
            .find(|(_, r)| r.integration_id() == Some(self.integration_id.as_str()))
        {
            return Err(GatewayError::BadRequest(format!(
                "Cannot delete Integration {}, it is used by route {} ({}).",
                self.integration_id, r.route_id, r.route_key
            )));
        }
        let writes = vec![
            records::guard(api),
            records::delete(
                ns::INTEGRATIONS,
                child_key(api_id, &self.integration_id),
                Expect::Version(stored.version),
            ),
        ];
        let writes = deployments::follow(svc, &api.record, writes).await?;
        request_audit::commit(svc.store.as_ref(), writes).await?;
        Ok(wire::no_content())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateIntegrationBody {
    integration_type: Option<String>,
    integration_uri: Option<String>,
    integration_method: Option<String>,
    payload_format_version: Option<String>,
    timeout_in_millis: Option<i64>,
    description: Option<String>,
    connection_type: Option<String>,
    credentials_arn: Option<String>,
    integration_subtype: Option<String>,
}

pub(crate) struct UpdateIntegration {
    named: NamedApi,
    integration_id: String,
    body: UpdateIntegrationBody,
}

#[async_trait::async_trait]
impl GatewayOperation for UpdateIntegration {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        let body: UpdateIntegrationBody = wire::decode(&input.body)?;
        if body
            .integration_type
            .as_deref()
            .is_some_and(|t| t != "AWS_PROXY")
        {
            return Err(GatewayError::BadRequest(
                "Only AWS_PROXY integrations are supported by this Rampart host.".into(),
            ));
        }
        if body.credentials_arn.is_some() || body.integration_subtype.is_some() {
            return Err(GatewayError::BadRequest(
                "CredentialsArn and IntegrationSubtype are not supported by this Rampart host yet."
                    .into(),
            ));
        }
        if body
            .connection_type
            .as_deref()
            .is_some_and(|c| c != "INTERNET")
        {
            return Err(GatewayError::BadRequest(
                "Only connection type INTERNET is supported.".into(),
            ));
        }
        if let Some(v) = body.payload_format_version.as_deref() {
            if v != "1.0" && v != "2.0" {
                return Err(GatewayError::BadRequest(format!(
                    "Invalid payload format version: {v}. Use 1.0 or 2.0."
                )));
            }
        }
        if body
            .timeout_in_millis
            .is_some_and(|t| !(50..=30000).contains(&t))
        {
            return Err(GatewayError::BadRequest(
                "Invalid input: timeoutInMillis must be between 50 and 30000.".into(),
            ));
        }
        if let Some(d) = &body.description {
            wire::check_length(d, "description", 0, 1024)?;
        }
        Ok(UpdateIntegration {
            named: NamedApi::decode(input)?,
            integration_id: child_id(input, "integrationId", "Integration")?,
            body,
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        let tail = format!("/integrations/{}", self.integration_id);
        self.named.check(svc, "PATCH", &tail).await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let api_id = &api.record.api_id;
        let stored = load_integration(svc, api_id, &self.integration_id).await?;
        let mut i = stored.record.clone();
        let b = self.body;
        if let Some(uri) = b.integration_uri {
            i.function_name = function_name(&uri, &svc.region, &svc.account_id)?;
            i.integration_uri = uri;
        }
        if let Some(v) = b.payload_format_version {
            i.payload_format_version = v;
        }
        if let Some(t) = b.timeout_in_millis {
            i.timeout_in_millis = t as u32;
        }
        if let Some(d) = b.description {
            i.description = Some(d);
        }
        if let Some(m) = b.integration_method {
            i.integration_method = m;
        }
        let writes = vec![
            records::guard(api),
            records::put(
                ns::INTEGRATIONS,
                child_key(api_id, &self.integration_id),
                &i,
                Expect::Version(stored.version),
            ),
        ];
        let writes = deployments::follow(svc, &api.record, writes).await?;
        request_audit::commit(svc.store.as_ref(), writes).await?;
        wire::reply(200, &shape(&i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_from_uris() {
        let ok = |uri: &str| function_name(uri, "us-east-1", "123456789012").unwrap();
        assert_eq!(
            ok("arn:aws:lambda:us-east-1:123456789012:function:my-fn"),
            "my-fn"
        );
        assert_eq!(
            ok("arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST"),
            "f"
        );
        assert_eq!(
            ok("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:f/invocations"),
            "f"
        );
        for bad in [
            "arn:aws:lambda:eu-west-1:123456789012:function:f",
            "arn:aws:lambda:us-east-1:999999999999:function:f",
            "arn:aws:lambda:us-east-1:123456789012:function:f:prod",
            "arn:aws:lambda:us-east-1:123456789012:function:",
            "https://example.com",
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:f",
        ] {
            assert!(function_name(bad, "us-east-1", "123456789012").is_err(), "{bad}");
        }
    }
}
