//! Email delivery of the outbox (`--smtp-url`): codes and invitations go to the outbox as
//! always (it stays what `rampart identity outbox` reads), and a relay on each node sends the
//! email messages not yet sent through a [`MailSender`] the server provides (SMTP).
//!
//! A message is taken by writing its marker (`ns::OUTBOX_SENT`, `Expect::Absent`) before it is
//! sent, so with several nodes on one store each message goes out once; a send that fails
//! removes the marker and is tried again on a later pass, until the message expires. SMS
//! messages stay in the outbox only (no SMS gateway). The relay never logs a code.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use rampart_store::{Expect, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::UserPoolsError;
use crate::outbox::PendingMessage;
use crate::records::outbox::DeliveryMedium;
use crate::records::{self, ns, pool_key};
use crate::UserPoolsService;

/// Sends one email. Implemented by the server over SMTP; tests may record instead.
#[async_trait::async_trait]
pub trait MailSender: Send + Sync + 'static {
    /// Sends `body` with `subject` to `to`; an error says why (no secret in it).
    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String>;
}

/// The marker of a message the relay took.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Taken {
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
}

/// Relays the outbox every `every` until the process ends.
pub fn spawn(svc: Arc<UserPoolsService>, sender: Arc<dyn MailSender>, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = relay_once(&svc, sender.as_ref()).await {
                tracing::warn!(error = %e, "the mail relay could not read the outbox");
            }
        }
    });
}

/// One pass: sends every email message not yet taken; answers how many were sent.
pub async fn relay_once(
    svc: &UserPoolsService,
    sender: &dyn MailSender,
) -> Result<usize, UserPoolsError> {
    let now = OffsetDateTime::now_utc();
    // Only email goes by SMTP; messages already taken are neither opened nor tried again.
    let taken: HashSet<String> = records::all_keys(svc.store.as_ref(), ns::OUTBOX_SENT, "")
        .await?
        .into_iter()
        .collect();
    let pending =
        crate::outbox::pending_where(svc.store.as_ref(), &svc.keyring, None, now, |key, m| {
            m.medium == DeliveryMedium::Email && !taken.contains(key)
        })
        .await?;
    let mut sent = 0;
    for message in &pending {
        let key = pool_key(&message.pool_id, &message.message_id);
        let take = records::put(
            ns::OUTBOX_SENT,
            key.clone(),
            &Taken { at: now },
            Expect::Absent,
        );
        match svc.store.commit(vec![take]).await {
            Ok(_) => {}
            Err(StoreError::Conflict { .. }) => continue, // another node took it
            Err(e) => return Err(e.into()),
        }
        let (subject, body) = compose(message);
        match sender.send(&message.destination, &subject, &body).await {
            Ok(()) => sent += 1,
            Err(e) => {
                tracing::warn!(pool = %message.pool_id, kind = message.kind, error = %e,
                    "an email could not be sent; it is tried again on the next pass");
                let release = records::delete(ns::OUTBOX_SENT, key, Expect::Any);
                if let Err(e) = svc.store.commit(vec![release]).await {
                    tracing::warn!(error = %e, "a failed email's marker could not be removed");
                }
            }
        }
    }
    Ok(sent)
}

/// Cognito's default messages (a pool's own templates are not applied yet).
fn compose(m: &PendingMessage) -> (String, String) {
    let code = m.code.as_str();
    match m.kind {
        "invitation" => (
            "Your temporary password".to_owned(),
            format!(
                "Your username is {} and temporary password is {code}.",
                m.username
            ),
        ),
        "forgot-password" => (
            "Your password reset code".to_owned(),
            format!("Your password reset code is {code}."),
        ),
        _ => (
            "Your verification code".to_owned(),
            format!("Your verification code is {code}."),
        ),
    }
}
