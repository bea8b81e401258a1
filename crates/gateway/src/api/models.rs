//! Models: CreateModel, GetModels, GetModel, UpdateModel, DeleteModel, GetModelTemplate. A
//! model is a JSON Schema that routes name in `RequestModels` to have request bodies
//! validated ([`crate::request_models`]); on AWS models are for WebSocket APIs, on Rampart
//! HTTP APIs take them too (a Rampart extension). A schema is compiled before it is stored:
//! one that does not compile is a BadRequest with the reason. A model a route names can be
//! neither renamed nor deleted (the route would name nothing).

use rampart_store::{request_audit, Expect};
use rampart_wire::service::RestInput;
use rampart_wire::{Check, Output};
use serde::{Deserialize, Serialize};

use super::wire;
use super::{child_id, Call, GatewayOperation, ListRequest, NamedApi};
use crate::deployments;
use crate::error::GatewayError;
use crate::records::{self, child_key, ns, ApiRecord, ModelRecord, RouteRecord, Stored};
use crate::GatewayService;

/// `Model` as botocore parses it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ModelShape<'a> {
    content_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    model_id: &'a str,
    name: &'a str,
    schema: &'a str,
}

fn shape(m: &ModelRecord) -> ModelShape<'_> {
    ModelShape {
        content_type: &m.content_type,
        description: m.description.as_deref(),
        model_id: &m.model_id,
        name: &m.name,
        schema: &m.schema,
    }
}

/// The members CreateModel and UpdateModel take.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModelMembers {
    name: Option<String>,
    schema: Option<String>,
    content_type: Option<String>,
    description: Option<String>,
}

impl ModelMembers {
    /// Checks what can be checked without the store, the schema compiled.
    fn check(&self) -> Result<(), GatewayError> {
        if let Some(name) = &self.name {
            wire::check_length(name, "name", 1, 128)?;
            if !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(GatewayError::BadRequest(format!(
                    "Invalid model name: {name}. Model names are alphanumeric."
                )));
            }
        }
        if let Some(schema) = &self.schema {
            wire::check_length(schema, "schema", 0, 32768)?;
            crate::request_models::compile(schema).map_err(|reason| {
                GatewayError::BadRequest(format!("Invalid model schema specified: {reason}"))
            })?;
        }
        if let Some(c) = &self.content_type {
            wire::check_length(c, "contentType", 1, 256)?;
        }
        if let Some(d) = &self.description {
            wire::check_length(d, "description", 0, 1024)?;
        }
        Ok(())
    }
}

async fn models(
    svc: &GatewayService,
    api_id: &str,
) -> Result<Vec<(String, ModelRecord)>, GatewayError> {
    records::children(svc.store.as_ref(), ns::MODELS, api_id).await
}

/// Refuses `name` if another model of the API has it. (Under the API's guard, so two
/// concurrent creates cannot both pass.)
async fn check_name_free(
    svc: &GatewayService,
    api_id: &str,
    name: &str,
    except: Option<&str>,
) -> Result<(), GatewayError> {
    if models(svc, api_id)
        .await?
        .iter()
        .any(|(_, m)| m.name == name && Some(m.model_id.as_str()) != except)
    {
        return Err(GatewayError::Conflict(format!(
            "Model name already exists for this API: {name}"
        )));
    }
    Ok(())
}

/// The route naming model `name`, if any.
async fn route_naming(
    svc: &GatewayService,
    api_id: &str,
    name: &str,
) -> Result<Option<String>, GatewayError> {
    let routes = records::children::<RouteRecord>(svc.store.as_ref(), ns::ROUTES, api_id).await?;
    Ok(routes
        .into_iter()
        .find(|(_, r)| r.request_models.values().any(|m| m == name))
        .map(|(_, r)| r.route_id))
}

async fn load(
    svc: &GatewayService,
    api_id: &str,
    id: &str,
) -> Result<Stored<ModelRecord>, GatewayError> {
    records::load(svc.store.as_ref(), ns::MODELS, &child_key(api_id, id))
        .await?
        .ok_or_else(|| GatewayError::not_found("Model", id))
}

pub(crate) struct CreateModel {
    named: NamedApi,
    members: ModelMembers,
}

#[async_trait::async_trait]
impl GatewayOperation for CreateModel {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        let members: ModelMembers = wire::decode(&input.body)?;
        if members.name.is_none() || members.schema.is_none() {
            return Err(GatewayError::BadRequest(
                "Invalid input: name and schema are required.".into(),
            ));
        }
        members.check()?;
        Ok(CreateModel {
            named: NamedApi::decode(input)?,
            members,
        })
    }

    /// `apigateway:POST` on `/apis/<apiId>/models`.
    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        self.named.check(svc, "POST", "/models").await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let api_id = &api.record.api_id;
        let m = self.members;
        let model = ModelRecord {
            model_id: crate::ids::child_id(),
            name: m.name.unwrap_or_default(),
            schema: m.schema.unwrap_or_default(),
            content_type: m.content_type.unwrap_or_else(|| "application/json".into()),
            description: m.description,
        };
        check_name_free(svc, api_id, &model.name, None).await?;
        super::check_quota(svc, ns::MODELS, api_id, 200, "models").await?;
        let writes = vec![
            records::guard(api),
            records::put(
                ns::MODELS,
                child_key(api_id, &model.model_id),
                &model,
                Expect::Absent,
            ),
        ];
        let writes = deployments::follow(svc, &api.record, writes).await?;
        request_audit::commit(svc.store.as_ref(), writes).await?;
        wire::reply(201, &shape(&model))
    }
}

/// GetModel and GetModelTemplate: a model by the path's `{modelId}`.
pub(crate) struct ModelById {
    named: NamedApi,
    model_id: String,
}

impl ModelById {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(ModelById {
            named: NamedApi::decode(input)?,
            model_id: child_id(input, "modelId", "Model")?,
        })
    }

    /// `apigateway:<method>` on `/apis/<apiId>/models/<modelId><suffix>`.
    async fn check(
        &mut self,
        svc: &GatewayService,
        method: &str,
        suffix: &str,
    ) -> Result<Vec<Check>, GatewayError> {
        let tail = format!("/models/{}{suffix}", self.model_id);
        self.named.check(svc, method, &tail).await
    }

    /// The API as authorization read it, and the model in it.
    async fn found(
        &self,
        svc: &GatewayService,
    ) -> Result<(&Stored<ApiRecord>, Stored<ModelRecord>), GatewayError> {
        let api = self.named.found()?;
        let model = load(svc, &api.record.api_id, &self.model_id).await?;
        Ok((api, model))
    }
}

pub(crate) struct GetModel(ModelById);

#[async_trait::async_trait]
impl GatewayOperation for GetModel {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(GetModel(ModelById::decode(input)?))
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        self.0.check(svc, "GET", "").await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let (_, m) = self.0.found(svc).await?;
        wire::reply(200, &shape(&m.record))
    }
}

pub(crate) struct GetModelTemplate(ModelById);

#[derive(Serialize)]
struct TemplateReply {
    value: String,
}

/// The mapping template API Gateway derives from a model: the input's root, and each of an
/// object schema's top-level properties read from it.
fn template(schema: &str) -> String {
    let mut out = String::from("#set($inputRoot = $input.path('$'))\n");
    let parsed: serde_json::Value = serde_json::from_str(schema).unwrap_or_default();
    match parsed.get("properties").and_then(|p| p.as_object()) {
        Some(props) if !props.is_empty() => {
            let fields: Vec<String> = props
                .keys()
                .map(|k| format!("  \"{k}\" : \"$inputRoot.{k}\""))
                .collect();
            out.push_str(&format!("{{\n{}\n}}", fields.join(",\n")));
        }
        _ => out.push_str("$input.json('$')"),
    }
    out
}

#[async_trait::async_trait]
impl GatewayOperation for GetModelTemplate {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(GetModelTemplate(ModelById::decode(input)?))
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        self.0.check(svc, "GET", "/template").await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let (_, m) = self.0.found(svc).await?;
        wire::reply(
            200,
            &TemplateReply {
                value: template(&m.record.schema),
            },
        )
    }
}

pub(crate) struct GetModels(ListRequest);

#[async_trait::async_trait]
impl GatewayOperation for GetModels {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(GetModels(ListRequest::decode(input)?))
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        self.0.named.check(svc, "GET", "/models").await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.0.named.found()?;
        let (items, next_token) = self.0.page(models(svc, &api.record.api_id).await?)?;
        super::list_reply(items.iter().map(shape).collect(), next_token)
    }
}

pub(crate) struct UpdateModel {
    by_id: ModelById,
    members: ModelMembers,
}

#[async_trait::async_trait]
impl GatewayOperation for UpdateModel {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        let members: ModelMembers = wire::decode(&input.body)?;
        members.check()?;
        Ok(UpdateModel {
            by_id: ModelById::decode(input)?,
            members,
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        self.by_id.check(svc, "PATCH", "").await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let (api, stored) = self.by_id.found(svc).await?;
        let api_id = &api.record.api_id;
        let mut model = stored.record.clone();
        let m = self.members;
        if let Some(name) = m.name.filter(|n| *n != model.name) {
            check_name_free(svc, api_id, &name, Some(&model.model_id)).await?;
            if let Some(route) = route_naming(svc, api_id, &model.name).await? {
                return Err(GatewayError::BadRequest(format!(
                    "Model {} is used by route {route} and cannot be renamed.",
                    model.name
                )));
            }
            model.name = name;
        }
        if let Some(v) = m.schema {
            model.schema = v;
        }
        if let Some(v) = m.content_type {
            model.content_type = v;
        }
        if let Some(v) = m.description {
            model.description = Some(v);
        }
        let writes = vec![
            records::guard(api),
            records::put(
                ns::MODELS,
                child_key(api_id, &model.model_id),
                &model,
                Expect::Version(stored.version),
            ),
        ];
        let writes = deployments::follow(svc, &api.record, writes).await?;
        request_audit::commit(svc.store.as_ref(), writes).await?;
        wire::reply(200, &shape(&model))
    }
}

pub(crate) struct DeleteModel(ModelById);

#[async_trait::async_trait]
impl GatewayOperation for DeleteModel {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(DeleteModel(ModelById::decode(input)?))
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        self.0.check(svc, "DELETE", "").await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let (api, stored) = self.0.found(svc).await?;
        let api_id = &api.record.api_id;
        if let Some(route) = route_naming(svc, api_id, &stored.record.name).await? {
            return Err(GatewayError::BadRequest(format!(
                "Cannot delete model '{}', is referenced in route: {route}",
                stored.record.name
            )));
        }
        let writes = vec![
            records::guard(api),
            records::delete(
                ns::MODELS,
                child_key(api_id, &self.0.model_id),
                Expect::Version(stored.version),
            ),
        ];
        let writes = deployments::follow(svc, &api.record, writes).await?;
        request_audit::commit(svc.store.as_ref(), writes).await?;
        Ok(wire::no_content())
    }
}

#[cfg(test)]
mod tests {
    use super::template;

    #[test]
    fn templates_read_the_top_level_properties() {
        let t = template(r#"{"type":"object","properties":{"a":{},"b":{}}}"#);
        assert!(
            t.starts_with("#set($inputRoot = $input.path('$'))\n{"),
            "{t}"
        );
        assert!(t.contains("\"a\" : \"$inputRoot.a\"") && t.contains("\"b\" : \"$inputRoot.b\""));
        assert!(template(r#"{"type":"string"}"#).ends_with("$input.json('$')"));
    }
}
