//! Staging labels: UpdateSecretVersionStage, which moves a label to a version, removes it from
//! one, or both — the call a rotation function's `finishSecret` makes.

use rampart_wire::Check;
use serde::Deserialize;

use super::secrets::commit_change;
use super::wire::{self, SecretRef};
use super::{Call, Reply, SecretsOperation};
use crate::error::SecretsError;
use crate::records::{self, SecretRecord, AWSCURRENT, MAX_STAGES_PER_VERSION};
use crate::service::NamedSecret;
use crate::SecretsService;

pub(crate) struct UpdateSecretVersionStage {
    secret: NamedSecret,
    stage: String,
    move_to: Option<String>,
    remove_from: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateSecretVersionStageInput {
    secret_id: String,
    version_stage: String,
    remove_from_version_id: Option<String>,
    move_to_version_id: Option<String>,
}

fn version_not_found(id: &str) -> SecretsError {
    SecretsError::ResourceNotFound(format!(
        "Secrets Manager can't find the specified secret version: {id}"
    ))
}

impl UpdateSecretVersionStage {
    /// Moves or removes the label on `secret`, refusing what AWS refuses.
    fn apply(&self, secret: &mut SecretRecord) -> Result<(), SecretsError> {
        let stage = &self.stage;
        for id in self.move_to.iter().chain(&self.remove_from) {
            if secret.version(id).is_none() {
                return Err(version_not_found(id));
            }
        }
        let holder = secret.version_at(stage).map(|v| v.id.clone());
        let not_attached = |id: &str| {
            SecretsError::InvalidParameter(format!(
                "The staging label {stage} isn't attached to version {id}, so it can't be removed from it."
            ))
        };
        let Some(target) = &self.move_to else {
            // Removal only.
            let from = self.remove_from.as_deref().unwrap_or_default();
            if stage == AWSCURRENT {
                return Err(SecretsError::InvalidParameter(
                    "You can only move staging label AWSCURRENT to a different secret version. It can't be completely removed.".into(),
                ));
            }
            if holder.as_deref() != Some(from) {
                return Err(not_attached(from));
            }
            if let Some(version) = secret.versions.iter_mut().find(|v| v.id == from) {
                version.stages.retain(|s| s != stage);
            }
            return Ok(());
        };
        match (&holder, &self.remove_from) {
            (Some(h), _) if h == target => return Ok(()),
            (Some(h), None) => {
                return Err(SecretsError::InvalidParameter(format!(
                    "The parameter RemoveFromVersionId can't be empty. Staging label {stage} is currently attached to version {h}, so you must explicitly reference that version in RemoveFromVersionId."
                )))
            }
            (Some(h), Some(from)) if h != from => {
                return Err(SecretsError::InvalidParameter(format!(
                    "The parameter RemoveFromVersionId must name version {h}: staging label {stage} is currently attached to it, not to version {from}."
                )))
            }
            (None, Some(from)) => return Err(not_attached(from)),
            _ => {}
        }
        let labels = secret.version(target).map_or(0, |v| v.stages.len());
        if labels >= MAX_STAGES_PER_VERSION {
            return Err(SecretsError::LimitExceeded(format!(
                "A secret version can have at most {MAX_STAGES_PER_VERSION} staging labels."
            )));
        }
        records::attach_stages(&mut secret.versions, target, std::slice::from_ref(stage));
        Ok(())
    }
}

#[async_trait::async_trait]
impl SecretsOperation for UpdateSecretVersionStage {
    fn decode(body: &[u8]) -> Result<Self, SecretsError> {
        let input: UpdateSecretVersionStageInput = wire::decode(body)?;
        wire::check_length(&input.version_stage, "versionStage", 1, 256)?;
        for (id, field) in [
            (&input.move_to_version_id, "moveToVersionId"),
            (&input.remove_from_version_id, "removeFromVersionId"),
        ] {
            if let Some(id) = id {
                wire::check_length(id, field, 32, 64)?;
            }
        }
        if input.move_to_version_id.is_none() && input.remove_from_version_id.is_none() {
            return Err(SecretsError::InvalidParameter(
                "You must specify MoveToVersionId, RemoveFromVersionId, or both.".into(),
            ));
        }
        Ok(UpdateSecretVersionStage {
            secret: NamedSecret::parse(input.secret_id)?,
            stage: input.version_stage,
            move_to: input.move_to_version_id,
            remove_from: input.remove_from_version_id,
        })
    }

    async fn checks(
        &mut self,
        svc: &SecretsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, SecretsError> {
        Ok(vec![self.secret.check(svc, &call.action()).await?])
    }

    async fn execute(self, svc: &SecretsService, _: &Call<'_>) -> Reply {
        let authorized = self.secret.clone().into_live()?;
        let updated = commit_change(svc, authorized, Vec::new(), |next| self.apply(next)).await?;
        wire::reply(&SecretRef {
            arn: &updated.arn,
            name: &updated.name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{VersionMeta, AWSPENDING, AWSPREVIOUS};
    use time::OffsetDateTime;

    const V1: &str = "11111111-1111-1111-1111-111111111111";
    const V2: &str = "22222222-2222-2222-2222-222222222222";
    const V3: &str = "33333333-3333-3333-3333-333333333333";

    fn secret() -> SecretRecord {
        let version = |id: &str, stages: &[&str]| VersionMeta {
            id: id.into(),
            stages: stages.iter().map(|s| (*s).to_owned()).collect(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            key_arn: "k".into(),
            empty: false,
        };
        SecretRecord {
            name: "s".into(),
            arn: "arn:aws:secretsmanager:r:1:secret:s-AbC123".into(),
            description: None,
            kms_key_id: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
            last_changed_at: OffsetDateTime::UNIX_EPOCH,
            deletion_date: None,
            tags: Vec::new(),
            versions: vec![
                version(V1, &[AWSPREVIOUS]),
                version(V2, &[AWSCURRENT]),
                version(V3, &[AWSPENDING]),
            ],
            rotation: None,
            resource_policy: None,
        }
    }

    fn op(
        stage: &str,
        move_to: Option<&str>,
        remove_from: Option<&str>,
    ) -> UpdateSecretVersionStage {
        UpdateSecretVersionStage {
            secret: NamedSecret::parse("s".into()).unwrap(),
            stage: stage.into(),
            move_to: move_to.map(Into::into),
            remove_from: remove_from.map(Into::into),
        }
    }

    fn stages(s: &SecretRecord) -> Vec<Vec<String>> {
        s.versions.iter().map(|v| v.stages.clone()).collect()
    }

    #[test]
    fn moving_current_makes_the_old_current_previous() {
        let mut s = secret();
        op(AWSCURRENT, Some(V3), Some(V2)).apply(&mut s).unwrap();
        assert_eq!(
            stages(&s),
            vec![
                vec![],
                vec![AWSPREVIOUS.to_owned()],
                vec![AWSPENDING.to_owned(), AWSCURRENT.to_owned()]
            ]
        );
    }

    #[test]
    fn a_label_held_elsewhere_must_be_named_where_it_is() {
        let mut s = secret();
        let e = op(AWSCURRENT, Some(V3), None).apply(&mut s).unwrap_err();
        assert_eq!(e.code(), "InvalidParameterException");
        assert!(e.to_string().contains(V2), "{e}");
        let e = op(AWSCURRENT, Some(V3), Some(V1))
            .apply(&mut s)
            .unwrap_err();
        assert_eq!(e.code(), "InvalidParameterException");
        assert_eq!(s, secret(), "nothing moved");
    }

    #[test]
    fn labels_are_removed_but_current_is_not() {
        let mut s = secret();
        let e = op(AWSCURRENT, None, Some(V2)).apply(&mut s).unwrap_err();
        assert!(e.to_string().contains("can't be completely removed"), "{e}");
        op(AWSPENDING, None, Some(V3)).apply(&mut s).unwrap();
        assert!(s.version(V3).unwrap().stages.is_empty());
        let e = op(AWSPREVIOUS, None, Some(V2)).apply(&mut s).unwrap_err();
        assert_eq!(e.code(), "InvalidParameterException");
    }

    #[test]
    fn new_labels_attach_unknown_versions_are_not_found_and_labels_are_capped() {
        let mut s = secret();
        op("blue", Some(V1), None).apply(&mut s).unwrap();
        assert_eq!(s.version(V1).unwrap().stages, vec![AWSPREVIOUS, "blue"]);
        let e = op("blue", Some("44444444-4444-4444-4444-444444444444"), None)
            .apply(&mut s)
            .unwrap_err();
        assert_eq!(e.code(), "ResourceNotFoundException");
        op("blue", Some(V1), Some(V1)).apply(&mut s).unwrap();
        for i in 0..18 {
            op(&format!("l{i}"), Some(V1), None).apply(&mut s).unwrap();
        }
        assert_eq!(s.version(V1).unwrap().stages.len(), 20);
        let e = op("one-too-many", Some(V1), None)
            .apply(&mut s)
            .unwrap_err();
        assert_eq!(e.code(), "LimitExceededException");
    }
}
