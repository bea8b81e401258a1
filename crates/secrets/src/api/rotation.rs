//! Rotation: RotateSecret and CancelRotateSecret. The run itself is `crate::rotation`.

use rampart_wire::Check;
use serde::{Deserialize, Serialize};

use super::secrets::commit_change;
use super::wire::{self, SecretIdInput};
use super::{Call, Reply, SecretsOperation};
use crate::error::SecretsError;
use crate::records::SecretRecord;
use crate::rotation::runner::{begin_run, previous_rotation_incomplete, reschedule};
use crate::rotation::{RotationRules, RotationState, RunPurpose, Schedule};
use crate::service::NamedSecret;
use crate::SecretsService;

/// `ARN`, `Name` and the rotation's `VersionId`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RotationReply<'a> {
    #[serde(rename = "ARN")]
    arn: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<&'a str>,
}

/// What AWS answers when it cannot invoke the rotation function (it does not exist, or its
/// policy does not let Secrets Manager invoke it): nothing is configured.
fn cannot_invoke() -> SecretsError {
    SecretsError::AccessDenied(
        "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com."
            .into(),
    )
}

pub(crate) struct RotateSecret {
    secret: NamedSecret,
    token: String,
    token_given: bool,
    lambda_arn: Option<String>,
    rules: Option<RotationRules>,
    immediately: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RotateSecretInput {
    secret_id: String,
    client_request_token: Option<String>,
    #[serde(rename = "RotationLambdaARN")]
    rotation_lambda_arn: Option<String>,
    rotation_rules: Option<RotationRules>,
    rotate_immediately: Option<bool>,
    external_secret_rotation_metadata: Option<serde_json::Value>,
    external_secret_rotation_role_arn: Option<String>,
}

impl RotateSecret {
    /// The function the rotation invokes: the request's, or the one configured before.
    fn function(&self) -> Option<String> {
        self.lambda_arn.clone().or_else(|| {
            self.secret
                .secret
                .as_ref()
                .and_then(|s| s.record.rotation.as_ref())
                .and_then(|r| r.lambda_arn.clone())
        })
    }

    /// Records the configuration on `next` and starts the run under the request's token.
    fn configure(
        &self,
        next: &mut SecretRecord,
        function: &str,
        now: time::OffsetDateTime,
    ) -> Result<(), SecretsError> {
        let purpose = if self.immediately {
            RunPurpose::Rotate
        } else {
            RunPurpose::TestConfiguration
        };
        begin_run(next, &self.token, function, purpose, now)?;
        // Manually putting a new value counts as a rotation when the next date is worked out.
        let current_since = next
            .version_at(crate::records::AWSCURRENT)
            .map(|v| v.created_at);
        let state = next.rotation.get_or_insert_with(RotationState::default);
        let was_enabled = state.enabled;
        state.enabled = true;
        state.lambda_arn = Some(function.to_owned());
        if let Some(rules) = &self.rules {
            state.rules = Some(rules.clone());
        }
        if self.rules.is_some() || !was_enabled || state.window_opens_at.is_none() {
            let base = [state.last_rotated_at, current_since]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or(now);
            reschedule(state, if self.immediately { now } else { base });
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl SecretsOperation for RotateSecret {
    fn decode(body: &[u8]) -> Result<Self, SecretsError> {
        let input: RotateSecretInput = wire::decode(body)?;
        if input.external_secret_rotation_metadata.is_some()
            || input.external_secret_rotation_role_arn.is_some()
        {
            return Err(SecretsError::InvalidParameter(
                "Managed external secrets are not supported.".into(),
            ));
        }
        if let Some(arn) = &input.rotation_lambda_arn {
            wire::check_length(arn, "rotationLambdaARN", 0, 2048)?;
        }
        if let Some(rules) = &input.rotation_rules {
            Schedule::parse(rules)?;
        }
        let token_given = input.client_request_token.is_some();
        Ok(RotateSecret {
            secret: NamedSecret::parse(input.secret_id)?,
            token: wire::version_id(input.client_request_token)?,
            token_given,
            lambda_arn: input.rotation_lambda_arn.filter(|a| !a.is_empty()),
            rules: input.rotation_rules,
            immediately: input.rotate_immediately.unwrap_or(true),
        })
    }

    /// `secretsmanager:RotateSecret` on the secret (with the request's function as
    /// `secretsmanager:RotationLambdaARN` and the configured one as
    /// `secretsmanager:resource/AllowRotationLambdaArn`), and `lambda:InvokeFunction` on the
    /// function the rotation will invoke, which AWS also requires of the caller.
    async fn checks(
        &mut self,
        svc: &SecretsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, SecretsError> {
        let mut check = self.secret.check(svc, &call.action()).await?;
        if let Some(arn) = &self.lambda_arn {
            check.push_key("secretsmanager:RotationLambdaARN", arn);
        }
        let configured = self
            .secret
            .secret
            .as_ref()
            .and_then(|s| s.record.rotation.as_ref())
            .and_then(|r| r.lambda_arn.clone());
        if let Some(arn) = configured {
            check.push_key("secretsmanager:resource/AllowRotationLambdaArn", arn);
        }
        let mut checks = vec![check];
        if let Some(function) = self.function() {
            checks.push(Check::on("lambda:InvokeFunction", function));
        }
        Ok(checks)
    }

    async fn execute(self, svc: &SecretsService, _: &Call<'_>) -> Reply {
        let function = self.function();
        let authorized = self.secret.clone().into_live()?;
        let secret = &authorized.record;
        let Some(function) = function else {
            return Err(SecretsError::InvalidRequest(
                "No Lambda rotation function ARN is associated with this secret.".into(),
            ));
        };
        let done = |version_id: Option<&str>| {
            wire::reply(&RotationReply {
                arn: &secret.arn,
                name: &secret.name,
                version_id,
            })
        };
        // A retried request: the rotation under this token is running, or has finished.
        if self.token_given {
            let run = secret.rotation.as_ref().and_then(|r| r.run.as_ref());
            let running = run.is_some_and(|r| r.token == self.token && r.failure.is_none());
            let finished = secret
                .rotation
                .as_ref()
                .is_some_and(|r| r.last_token.as_deref() == Some(self.token.as_str()));
            if running || finished {
                return done(Some(&self.token));
            }
        }
        if secret.pending_version().is_some_and(|p| p.id != self.token) {
            return Err(previous_rotation_incomplete());
        }
        svc.rotator
            .invoker
            .dry_run(&function, &secret.arn)
            .await
            .map_err(|_| cannot_invoke())?;
        let now = svc.rotator.clock.now();
        let updated = commit_change(svc, authorized.clone(), Vec::new(), |next| {
            self.configure(next, &function, now)
        })
        .await?;
        svc.rotator.spawn(&updated.name, &updated.arn, &self.token);
        wire::reply(&RotationReply {
            arn: &updated.arn,
            name: &updated.name,
            version_id: self.immediately.then_some(self.token.as_str()),
        })
    }
}

pub(crate) struct CancelRotateSecret {
    secret: NamedSecret,
}

#[async_trait::async_trait]
impl SecretsOperation for CancelRotateSecret {
    fn decode(body: &[u8]) -> Result<Self, SecretsError> {
        let input: SecretIdInput = wire::decode(body)?;
        Ok(CancelRotateSecret {
            secret: NamedSecret::parse(input.secret_id)?,
        })
    }

    async fn checks(
        &mut self,
        svc: &SecretsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, SecretsError> {
        Ok(vec![self.secret.check(svc, &call.action()).await?])
    }

    /// Turns automatic rotation off and stops a run in progress; its pending version keeps
    /// `AWSPENDING` (AWS leaves the clean-up to the caller) and is answered as `VersionId`.
    async fn execute(self, svc: &SecretsService, _: &Call<'_>) -> Reply {
        let authorized = self.secret.into_live()?;
        let updated = commit_change(svc, authorized, Vec::new(), |next| {
            let state = next.rotation.get_or_insert_with(RotationState::default);
            state.enabled = false;
            state.window_opens_at = None;
            state.next_rotation_at = None;
            state.run = None;
            Ok(())
        })
        .await?;
        wire::reply(&RotationReply {
            arn: &updated.arn,
            name: &updated.name,
            version_id: updated.pending_version().map(|v| v.id.as_str()),
        })
    }
}
