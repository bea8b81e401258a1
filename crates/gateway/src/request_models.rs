//! Request validation: a route whose `RequestModels` names a model (API Gateway's Model API,
//! a JSON Schema) has each request's body checked against it after the authorizer and before
//! the integration, as API Gateway's REST APIs order it; a body that is not JSON, or does not
//! match, is answered 400 and the function is not invoked. On AWS models serve WebSocket APIs
//! only; on Rampart HTTP APIs take them too (a Rampart extension, driven by unmodified
//! clients through CreateModel and CreateRoute's `RequestModels`).
//!
//! Schemas are JSON Schema draft 4 (API Gateway's), unless a schema's `$schema` names
//! another draft. They are compiled when a model is created or updated (a schema that does
//! not compile is refused) and, for requests, once per model version and node
//! ([`Schemas`]). The `jsonschema` crate is built without its resolvers, so a `$ref` to
//! anything outside the schema is never fetched: such a schema does not compile.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use jsonschema::{Draft, Validator};

use crate::records::ModelRecord;

/// At most this many errors are answered, each at most [`MAX_ERROR_CHARS`] characters: an
/// answer never grows with the input.
pub const MAX_ERRORS: usize = 10;
pub const MAX_ERROR_CHARS: usize = 200;
/// Compiled schemas kept per node before the cache starts over.
const MAX_CACHED: usize = 1024;

/// A schema as a model holds it, compiled; the reason it does not compile otherwise.
pub fn compile(schema: &str) -> Result<Validator, String> {
    let value: serde_json::Value =
        serde_json::from_str(schema).map_err(|e| format!("the schema is not JSON: {e}"))?;
    let mut options = jsonschema::options();
    // API Gateway's draft, unless the schema names its own (which the crate then reads).
    if value.get("$schema").is_none() {
        options = options.with_draft(Draft::Draft4);
    }
    options.build(&value).map_err(|e| bounded(&e.to_string()))
}

/// Why a body was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Invalid {
    /// Not JSON at all.
    NotJson,
    /// JSON that does not match: the first errors, bounded.
    Mismatch(Vec<String>),
}

/// Checks `body` against `validator`.
pub fn check(validator: &Validator, body: &[u8]) -> Result<(), Invalid> {
    let instance: serde_json::Value = serde_json::from_slice(body).map_err(|_| Invalid::NotJson)?;
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .take(MAX_ERRORS)
        .map(|e| {
            let at = e.instance_path().to_string();
            let at = if at.is_empty() { "/".to_owned() } else { at };
            bounded(&format!("{at}: {e}"))
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Invalid::Mismatch(errors))
    }
}

fn bounded(text: &str) -> String {
    if text.chars().count() <= MAX_ERROR_CHARS {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(MAX_ERROR_CHARS - 1).collect();
    out.push('…');
    out
}

/// The model a request is validated with: the one for its media type (`Content-Type`
/// without parameters, case-insensitive), else the `application/json` one, else the first —
/// a route with a model validates every request, so a client cannot skip validation by
/// naming another type; `None` for a route without models.
pub fn model_for<'a>(
    request_models: &'a BTreeMap<String, String>,
    content_type: Option<&str>,
) -> Option<&'a str> {
    if request_models.is_empty() {
        return None;
    }
    let essence = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase());
    essence
        .and_then(|e| {
            request_models
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&e))
        })
        .or_else(|| {
            request_models
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("application/json"))
        })
        .or_else(|| request_models.iter().next())
        .map(|(_, name)| name.as_str())
}

/// Compiled schemas by (API, model, version): a new version of a model is compiled anew, an
/// old one is never used for it.
#[derive(Default)]
pub struct Schemas {
    compiled: Mutex<HashMap<(String, String, i64), Arc<Validator>>>,
}

impl Schemas {
    /// The compiled schema of `model` (of API `api_id`, at `version`).
    pub fn get(
        &self,
        api_id: &str,
        model: &ModelRecord,
        version: i64,
    ) -> Result<Arc<Validator>, String> {
        let key = (api_id.to_owned(), model.model_id.clone(), version);
        if let Some(v) = self.compiled.lock().expect("schema cache lock").get(&key) {
            return Ok(v.clone());
        }
        // Compiled outside the lock; two requests may both compile it once.
        let validator = Arc::new(compile(&model.schema)?);
        let mut cache = self.compiled.lock().expect("schema cache lock");
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(key, validator.clone());
        Ok(validator)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.compiled.lock().expect("schema cache lock").len()
    }
}

#[cfg(test)]
#[path = "request_models/tests.rs"]
mod tests;
