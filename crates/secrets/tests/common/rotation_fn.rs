//! An in-process rotation function built like AWS's rotation template: it calls Secrets
//! Manager through the service's own prepared-operation path as a caller of its own (its
//! execution role) — the current value, a random password put in the pending version, the
//! password set on and tested against a "database", AWSCURRENT moved in `finishSecret`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use rampart_core::CallerIdentity;
use rampart_secrets::rotation::{InvokeError, InvokeOutcome, RotationInvoker};
use rampart_secrets::SecretsService;
use serde_json::{json, Value};

use super::{call, function_role, user};

pub const FUNCTION: &str = "arn:aws:lambda:eu-west-1:111122223333:function:rotate-db";

/// What the fake function was asked and did.
#[derive(Default)]
pub struct Journal {
    pub events: Vec<Value>,
    /// The checks each of its calls declared: (operation, action, resource).
    pub checks: Vec<(String, String, String)>,
}

/// A rotation function, like AWS's template, against a "database" that accepts one password.
pub struct FakeRotation {
    pub svc: OnceLock<Weak<SecretsService>>,
    role: CallerIdentity,
    /// The password the database accepts, per secret ARN.
    pub database: Mutex<HashMap<String, String>>,
    /// A step to fail with an error, as a function raising an exception.
    pub fail_at: Mutex<Option<&'static str>>,
    /// Something to do as another caller when a step runs (a cancel in the middle).
    pub during: Mutex<Option<(&'static str, Value)>>,
    pub journal: Mutex<Journal>,
}

impl FakeRotation {
    pub fn new() -> Arc<Self> {
        Arc::new(FakeRotation {
            svc: OnceLock::new(),
            role: function_role("rotate-db-role"),
            database: Mutex::default(),
            fail_at: Mutex::default(),
            during: Mutex::default(),
            journal: Mutex::default(),
        })
    }

    pub fn fail_at(&self, step: Option<&'static str>) {
        *self.fail_at.lock().unwrap() = step;
    }

    pub fn steps(&self) -> Vec<String> {
        let journal = self.journal.lock().unwrap();
        journal
            .events
            .iter()
            .map(|e| e["Step"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn sm(
        &self,
        svc: &SecretsService,
        op: &str,
        body: Value,
    ) -> Result<Value, (String, String)> {
        let called = call(svc, &self.role, op, body).await;
        let mut journal = self.journal.lock().unwrap();
        for c in &called.checks {
            journal.checks.push((
                op.to_owned(),
                c.action.clone(),
                c.resource.as_str().to_owned(),
            ));
        }
        called.result.map_err(|e| (e.code.to_string(), e.message))
    }

    /// The template's handler, step by step; Err is the exception the function raises.
    async fn handle(&self, svc: &SecretsService, event: &Value) -> Result<(), String> {
        let (arn, token, step) = (
            event["SecretId"].as_str().unwrap(),
            event["ClientRequestToken"].as_str().unwrap(),
            event["Step"].as_str().unwrap(),
        );
        let fail = |e: (String, String)| format!("{}: {}", e.0, e.1);
        let metadata = self
            .sm(svc, "DescribeSecret", json!({"SecretId": arn}))
            .await
            .map_err(fail)?;
        if metadata["RotationEnabled"] != json!(true) {
            return Err("ValueError: the secret is not enabled for rotation".into());
        }
        let stages = metadata["VersionIdsToStages"][token]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if stages.iter().any(|s| s == "AWSCURRENT") {
            return Ok(());
        }
        if !stages.iter().any(|s| s == "AWSPENDING") {
            return Err(format!("ValueError: version {token} is not AWSPENDING"));
        }
        let during = self.during.lock().unwrap().take();
        if let Some((op, body)) = during {
            // Another caller acts while the step runs.
            let _ = call(svc, &user("admin"), op, body).await;
        }
        if *self.fail_at.lock().unwrap() == Some(step_name(step)) {
            return Err(format!("RuntimeError: {step} failed"));
        }
        match step {
            "createSecret" => {
                self.sm(
                    svc,
                    "GetSecretValue",
                    json!({"SecretId": arn, "VersionStage": "AWSCURRENT"}),
                )
                .await
                .map_err(fail)?;
                let pending = self
                    .sm(
                        svc,
                        "GetSecretValue",
                        json!({"SecretId": arn, "VersionId": token, "VersionStage": "AWSPENDING"}),
                    )
                    .await;
                match pending {
                    Ok(_) => Ok(()),
                    Err((code, _)) if code == "ResourceNotFoundException" => {
                        let pw = self
                            .sm(
                                svc,
                                "GetRandomPassword",
                                json!({"ExcludeCharacters": "/@\"'\\"}),
                            )
                            .await
                            .map_err(fail)?;
                        self.sm(svc, "PutSecretValue", json!({
                            "SecretId": arn, "ClientRequestToken": token,
                            "SecretString": pw["RandomPassword"], "VersionStages": ["AWSPENDING"],
                            "RotationToken": event["RotationToken"],
                        }))
                        .await
                        .map_err(fail)?;
                        Ok(())
                    }
                    Err(e) => Err(fail(e)),
                }
            }
            "setSecret" => {
                let pending = self.pending(svc, arn, token).await.map_err(fail)?;
                self.database
                    .lock()
                    .unwrap()
                    .insert(arn.to_owned(), pending);
                Ok(())
            }
            "testSecret" => {
                let pending = self.pending(svc, arn, token).await.map_err(fail)?;
                match self.database.lock().unwrap().get(arn) {
                    Some(accepted) if *accepted == pending => Ok(()),
                    _ => Err("RuntimeError: the database refuses the pending password".into()),
                }
            }
            "finishSecret" => {
                let current = metadata["VersionIdsToStages"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .find(|(_, st)| st.as_array().unwrap().iter().any(|s| s == "AWSCURRENT"))
                    .map(|(id, _)| id.clone());
                let mut body = json!({"SecretId": arn, "VersionStage": "AWSCURRENT", "MoveToVersionId": token});
                if let Some(current) = current {
                    body["RemoveFromVersionId"] = json!(current);
                }
                self.sm(svc, "UpdateSecretVersionStage", body)
                    .await
                    .map_err(fail)?;
                Ok(())
            }
            other => Err(format!("ValueError: unknown step {other}")),
        }
    }

    async fn pending(
        &self,
        svc: &SecretsService,
        arn: &str,
        token: &str,
    ) -> Result<String, (String, String)> {
        let v = self
            .sm(
                svc,
                "GetSecretValue",
                json!({"SecretId": arn, "VersionId": token, "VersionStage": "AWSPENDING"}),
            )
            .await?;
        Ok(v["SecretString"].as_str().unwrap().to_owned())
    }
}

fn step_name(step: &str) -> &'static str {
    match step {
        "createSecret" => "createSecret",
        "setSecret" => "setSecret",
        "testSecret" => "testSecret",
        _ => "finishSecret",
    }
}

#[async_trait::async_trait]
impl RotationInvoker for FakeRotation {
    async fn dry_run(&self, function_arn: &str, _secret_arn: &str) -> Result<(), InvokeError> {
        if function_arn == FUNCTION {
            Ok(())
        } else {
            Err(InvokeError::FunctionNotFound)
        }
    }

    async fn invoke(
        &self,
        function_arn: &str,
        secret_arn: &str,
        payload: &[u8],
    ) -> Result<InvokeOutcome, InvokeError> {
        self.dry_run(function_arn, secret_arn).await?;
        let event: Value = serde_json::from_slice(payload).expect("the event is JSON");
        self.journal.lock().unwrap().events.push(event.clone());
        let svc = self.svc.get().and_then(Weak::upgrade).expect("the service");
        Ok(match self.handle(&svc, &event).await {
            Ok(()) => InvokeOutcome::Success(b"null".to_vec()),
            Err(e) => InvokeOutcome::FunctionError {
                error_type: e.split(':').next().unwrap_or("Error").to_owned(),
                message: e,
            },
        })
    }
}
