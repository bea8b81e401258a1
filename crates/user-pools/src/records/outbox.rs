//! The delivery outbox: the messages a pool would send (confirmation and reset codes,
//! invitations with a temporary password), stored instead of sent so tests and local
//! development can complete flows (`rampart identity outbox`). What the message carries — the
//! code or temporary password — is sealed ([`rampart_core::SealPurpose::UserPoolOutboxMessage`],
//! context `<pool id>/<message id>`); a message expires with its code, and the code itself is
//! single-use on the user's record.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::user::CodeKind;

/// What a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// A one-time code of this kind.
    Code(CodeKind),
    /// AdminCreateUser's invitation: the username and temporary password.
    Invitation,
}

impl MessageKind {
    /// How the outbox names it.
    pub fn label(self) -> &'static str {
        match self {
            MessageKind::Code(kind) => kind.label(),
            MessageKind::Invitation => "invitation",
        }
    }
}

/// `DeliveryMediumType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryMedium {
    Email,
    Sms,
}

impl DeliveryMedium {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMedium::Email => "EMAIL",
            DeliveryMedium::Sms => "SMS",
        }
    }

    /// The attribute a medium delivers to.
    pub fn attribute(self) -> &'static str {
        match self {
            DeliveryMedium::Email => "email",
            DeliveryMedium::Sms => "phone_number",
        }
    }
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// Time-ordered: `<creation time in ns, 20 digits>-<8 random alphanumerics>`.
    pub id: String,
    pub pool_id: String,
    pub username: String,
    pub sub: String,
    pub kind: MessageKind,
    pub medium: DeliveryMedium,
    /// The address or number it is for.
    pub destination: String,
    /// The code or temporary password, sealed.
    pub sealed_secret: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// A fresh message id for a message created at `now`.
pub fn new_message_id(now: OffsetDateTime) -> Result<String, crate::UserPoolsError> {
    let nanos = now.unix_timestamp_nanos().max(0);
    Ok(format!(
        "{nanos:020}-{}",
        crate::ids::random_string(b"abcdefghijklmnopqrstuvwxyz0123456789", 8)?
    ))
}

/// Masks a destination as Cognito's `CodeDeliveryDetails.Destination` does
/// (`a***@e***`, `+*******1234`).
pub fn masked_destination(medium: DeliveryMedium, destination: &str) -> String {
    match medium {
        DeliveryMedium::Email => match destination.split_once('@') {
            Some((local, domain)) => format!(
                "{}***@{}***",
                local.chars().next().unwrap_or('*'),
                domain.chars().next().unwrap_or('*')
            ),
            None => "***".into(),
        },
        DeliveryMedium::Sms => {
            let chars: Vec<char> = destination.chars().collect();
            let keep = chars.len().min(4);
            let (head, tail) = chars.split_at(chars.len() - keep);
            let mut out: String = head
                .iter()
                .enumerate()
                .map(|(i, c)| if i == 0 && *c == '+' { '+' } else { '*' })
                .collect();
            out.extend(tail);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_masked_as_cognito_masks_them() {
        assert_eq!(
            masked_destination(DeliveryMedium::Email, "alice@example.com"),
            "a***@e***"
        );
        assert_eq!(
            masked_destination(DeliveryMedium::Sms, "+15555551234"),
            "+*******1234"
        );
    }

    #[test]
    fn message_ids_sort_by_time() {
        let t = OffsetDateTime::now_utc();
        let a = new_message_id(t).unwrap();
        let b = new_message_id(t + time::Duration::nanoseconds(1)).unwrap();
        assert!(a < b, "{a} {b}");
    }
}
