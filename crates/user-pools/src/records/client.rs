//! An app client as stored: what it may do (auth flows, attributes it reads and writes), how
//! long its tokens last, and its secret — sealed under the root key
//! ([`rampart_core::SealPurpose::UserPoolClientSecret`], context `<pool id>/<client id>`),
//! since DescribeUserPoolClient must answer it and SECRET_HASH is an HMAC keyed by it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// An app client of a pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    pub pool_id: String,
    /// 26 lowercase alphanumerics.
    pub client_id: String,
    pub client_name: String,
    /// The secret, sealed; None for a public client (no SECRET_HASH).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_secret: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_modified_at: OffsetDateTime,
    /// `ALLOW_USER_PASSWORD_AUTH`, `ALLOW_USER_SRP_AUTH`, `ALLOW_REFRESH_TOKEN_AUTH`, … as
    /// given (legacy `ADMIN_NO_SRP_AUTH`-style names included).
    #[serde(default)]
    pub explicit_auth_flows: Vec<String>,
    pub token_validity: TokenValidity,
    /// Attributes the client may read (empty: all).
    #[serde(default)]
    pub read_attributes: Vec<String>,
    /// Attributes the client may write (empty: all writable).
    #[serde(default)]
    pub write_attributes: Vec<String>,
    /// `PreventUserExistenceErrors` is `ENABLED`: unknown users answer like wrong passwords.
    pub prevent_user_existence_errors: bool,
    /// `EnableTokenRevocation` (default true): refresh tokens can be revoked.
    pub enable_token_revocation: bool,
    /// `AuthSessionValidity`: minutes a challenge session lasts (3–15, default 3).
    pub auth_session_validity_minutes: u32,
    #[serde(default)]
    pub callback_urls: Vec<String>,
    #[serde(default)]
    pub logout_urls: Vec<String>,
    #[serde(default)]
    pub supported_identity_providers: Vec<String>,
}

/// How long each token lasts: the `*TokenValidity` value in its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenValidity {
    pub access: u32,
    pub access_unit: TimeUnit,
    pub id: u32,
    pub id_unit: TimeUnit,
    pub refresh: u32,
    pub refresh_unit: TimeUnit,
}

impl Default for TokenValidity {
    /// Cognito's defaults: access and ID tokens 60 minutes, refresh tokens 30 days.
    fn default() -> Self {
        TokenValidity {
            access: 60,
            access_unit: TimeUnit::Minutes,
            id: 60,
            id_unit: TimeUnit::Minutes,
            refresh: 30,
            refresh_unit: TimeUnit::Days,
        }
    }
}

/// `TimeUnitsType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    Seconds,
    Minutes,
    Hours,
    Days,
}

impl TimeUnit {
    /// `value` of this unit as a duration.
    pub fn duration(self, value: u32) -> time::Duration {
        let value = i64::from(value);
        match self {
            TimeUnit::Seconds => time::Duration::seconds(value),
            TimeUnit::Minutes => time::Duration::minutes(value),
            TimeUnit::Hours => time::Duration::hours(value),
            TimeUnit::Days => time::Duration::days(value),
        }
    }

    /// The unit's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Seconds => "seconds",
            TimeUnit::Minutes => "minutes",
            TimeUnit::Hours => "hours",
            TimeUnit::Days => "days",
        }
    }

    /// Reads a wire name.
    pub fn parse(s: &str) -> Option<TimeUnit> {
        match s {
            "seconds" => Some(TimeUnit::Seconds),
            "minutes" => Some(TimeUnit::Minutes),
            "hours" => Some(TimeUnit::Hours),
            "days" => Some(TimeUnit::Days),
            _ => None,
        }
    }
}

impl TokenValidity {
    /// How long access tokens last.
    pub fn access_duration(&self) -> time::Duration {
        self.access_unit.duration(self.access)
    }

    /// How long ID tokens last.
    pub fn id_duration(&self) -> time::Duration {
        self.id_unit.duration(self.id)
    }

    /// How long refresh tokens last.
    pub fn refresh_duration(&self) -> time::Duration {
        self.refresh_unit.duration(self.refresh)
    }
}

impl ClientRecord {
    /// Whether the client allows the auth flow `flow` (`ALLOW_USER_SRP_AUTH`, …). A client
    /// created without ExplicitAuthFlows allows SRP and refresh, as Cognito's default.
    pub fn allows_flow(&self, flow: &str) -> bool {
        if self.explicit_auth_flows.is_empty() {
            return matches!(
                flow,
                "ALLOW_USER_SRP_AUTH" | "ALLOW_REFRESH_TOKEN_AUTH" | "ALLOW_CUSTOM_AUTH"
            );
        }
        self.explicit_auth_flows.iter().any(|f| f == flow)
    }
}
