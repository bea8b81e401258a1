//! App clients: CreateUserPoolClient, DescribeUserPoolClient, UpdateUserPoolClient,
//! ListUserPoolClients, DeleteUserPoolClient — each authorized on the pool's ARN; the client is
//! looked up only under that pool.

use rampart_core::SealPurpose;
use rampart_store::Expect;
use rampart_wire::Check;
use serde::Deserialize;
use serde_json::{json, Value};

use super::wire::{self, epoch};
use super::{Call, Reply, UserPoolsOperation};
use crate::error::UserPoolsError;
use crate::records::client::{ClientRecord, TimeUnit, TokenValidity};
use crate::records::pool::PoolRecord;
use crate::records::{self, ns, pool_key, pool_prefix, Stored};
use crate::sealing::{self, client_context};
use crate::service::{now, NamedPool};
use crate::{ids, schema, UserPoolsService};

/// The most app clients a pool may have (Cognito's quota).
const MAX_CLIENTS: usize = 1000;

const FLOWS: &[&str] = &[
    "ADMIN_NO_SRP_AUTH",
    "CUSTOM_AUTH_FLOW_ONLY",
    "USER_PASSWORD_AUTH",
    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ALLOW_CUSTOM_AUTH",
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
    "ALLOW_USER_AUTH",
];

/// The settings CreateUserPoolClient and UpdateUserPoolClient take alike.
#[derive(Deserialize, Clone, Default)]
#[serde(rename_all = "PascalCase")]
struct SettingsInput {
    refresh_token_validity: Option<i64>,
    access_token_validity: Option<i64>,
    id_token_validity: Option<i64>,
    token_validity_units: Option<UnitsInput>,
    read_attributes: Option<Vec<String>>,
    write_attributes: Option<Vec<String>>,
    explicit_auth_flows: Option<Vec<String>>,
    supported_identity_providers: Option<Vec<String>>,
    #[serde(rename = "CallbackURLs")]
    callback_urls: Option<Vec<String>>,
    #[serde(rename = "LogoutURLs")]
    logout_urls: Option<Vec<String>>,
    prevent_user_existence_errors: Option<String>,
    enable_token_revocation: Option<bool>,
    auth_session_validity: Option<i64>,
    allowed_o_auth_flows: Option<Vec<String>>,
}

#[derive(Deserialize, Clone, Default)]
#[serde(rename_all = "PascalCase")]
struct UnitsInput {
    access_token: Option<String>,
    id_token: Option<String>,
    refresh_token: Option<String>,
}

/// The settings, checked: what a client record takes from them.
#[derive(Clone)]
struct Settings {
    explicit_auth_flows: Vec<String>,
    token_validity: TokenValidity,
    read_attributes: Vec<String>,
    write_attributes: Vec<String>,
    prevent_user_existence_errors: bool,
    enable_token_revocation: bool,
    auth_session_validity_minutes: u32,
    callback_urls: Vec<String>,
    logout_urls: Vec<String>,
    supported_identity_providers: Vec<String>,
}

fn invalid(message: impl Into<String>) -> UserPoolsError {
    UserPoolsError::InvalidParameter(message.into())
}

fn unit(value: Option<&str>, field: &str, default: TimeUnit) -> Result<TimeUnit, UserPoolsError> {
    match value {
        None => Ok(default),
        Some(v) => TimeUnit::parse(v).ok_or_else(|| {
            UserPoolsError::constraint(
                v,
                field,
                "Member must satisfy enum value set: [seconds, minutes, hours, days]",
            )
        }),
    }
}

impl SettingsInput {
    /// Checks the members that need no stored state.
    fn check(self) -> Result<Settings, UserPoolsError> {
        if self.allowed_o_auth_flows.is_some_and(|f| !f.is_empty()) {
            // No hosted UI or OAuth endpoints yet: a client configured for them would fail
            // at the first redirect.
            return Err(UserPoolsError::InvalidParameter(
                "OAuth flows are not supported.".into(),
            ));
        }
        let flows = self.explicit_auth_flows.unwrap_or_default();
        for f in &flows {
            if !FLOWS.contains(&f.as_str()) {
                return Err(UserPoolsError::constraint(
                    format!("[{}]", flows.join(", ")),
                    "explicitAuthFlows",
                    &format!(
                        "Member must satisfy constraint: [Member must satisfy enum value set: [{}]]",
                        FLOWS.join(", ")
                    ),
                ));
            }
        }
        let legacy = flows.iter().any(|f| !f.starts_with("ALLOW_"));
        if legacy && flows.iter().any(|f| f.starts_with("ALLOW_")) {
            return Err(invalid(
                "The ExplicitAuthFlows contains legacy and new auth flows. Use only one type of auth flows.",
            ));
        }
        let units = self.token_validity_units.unwrap_or_default();
        // Without units, the validities are in Cognito's historical units: hours for access
        // and ID tokens, days for refresh tokens.
        let access_unit = unit(
            units.access_token.as_deref(),
            "tokenValidityUnits.accessToken",
            TimeUnit::Hours,
        )?;
        let id_unit = unit(
            units.id_token.as_deref(),
            "tokenValidityUnits.idToken",
            TimeUnit::Hours,
        )?;
        let refresh_unit = unit(
            units.refresh_token.as_deref(),
            "tokenValidityUnits.refreshToken",
            TimeUnit::Days,
        )?;
        let default = TokenValidity::default();
        let mut validity = default;
        if let Some(v) = self.access_token_validity {
            validity.access = range(v, "accessTokenValidity", 1, 86400)?;
            validity.access_unit = access_unit;
        } else if units.access_token.is_some() {
            validity.access = convert(60, TimeUnit::Minutes, access_unit);
            validity.access_unit = access_unit;
        }
        if let Some(v) = self.id_token_validity {
            validity.id = range(v, "idTokenValidity", 1, 86400)?;
            validity.id_unit = id_unit;
        } else if units.id_token.is_some() {
            validity.id = convert(60, TimeUnit::Minutes, id_unit);
            validity.id_unit = id_unit;
        }
        if let Some(v) = self.refresh_token_validity {
            validity.refresh = range(v, "refreshTokenValidity", 0, 315_360_000)?;
            validity.refresh_unit = refresh_unit;
            if validity.refresh == 0 {
                validity.refresh = 30;
                validity.refresh_unit = TimeUnit::Days;
            }
        } else if units.refresh_token.is_some() {
            validity.refresh = convert(30 * 86400, TimeUnit::Seconds, refresh_unit);
            validity.refresh_unit = refresh_unit;
        }
        // The least ID/access token validity is the service's (`check_token_floor`, at
        // execute): 5 minutes, as Cognito, unless a test lowered it.
        between(
            validity.access_duration(),
            time::Duration::ZERO,
            time::Duration::days(1),
            "Access",
        )?;
        between(
            validity.id_duration(),
            time::Duration::ZERO,
            time::Duration::days(1),
            "Id",
        )?;
        between(
            validity.refresh_duration(),
            time::Duration::hours(1),
            time::Duration::days(3650),
            "Refresh",
        )?;
        let prevent = match self.prevent_user_existence_errors.as_deref() {
            None | Some("LEGACY") => false,
            Some("ENABLED") => true,
            Some(other) => {
                return Err(UserPoolsError::constraint(
                    other,
                    "preventUserExistenceErrors",
                    "Member must satisfy enum value set: [LEGACY, ENABLED]",
                ))
            }
        };
        let session = match self.auth_session_validity {
            Some(v) => range(v, "authSessionValidity", 3, 15)?,
            None => 3,
        };
        let providers = self.supported_identity_providers.unwrap_or_default();
        if providers.iter().any(|p| p != "COGNITO") {
            return Err(invalid("Only the COGNITO identity provider is supported."));
        }
        Ok(Settings {
            explicit_auth_flows: dedup(flows),
            token_validity: validity,
            read_attributes: dedup(self.read_attributes.unwrap_or_default()),
            write_attributes: dedup(self.write_attributes.unwrap_or_default()),
            prevent_user_existence_errors: prevent,
            enable_token_revocation: self.enable_token_revocation.unwrap_or(true),
            auth_session_validity_minutes: session,
            callback_urls: self.callback_urls.unwrap_or_default(),
            logout_urls: self.logout_urls.unwrap_or_default(),
            supported_identity_providers: providers,
        })
    }
}

/// Refuses a validity outside `min`..=`max`, worded as Cognito words it.
fn between(
    d: time::Duration,
    min: time::Duration,
    max: time::Duration,
    what: &str,
) -> Result<(), UserPoolsError> {
    if d < min || d > max {
        // The range Cognito states starts at its own minimum, even when a test lowered it.
        Err(invalid(format!(
            "{what} token validity must be between {} and {}.",
            human(min.max(COGNITO_MIN_TOKEN_VALIDITY)),
            human(max)
        )))
    } else {
        Ok(())
    }
}

/// Cognito's least ID and access token validity.
const COGNITO_MIN_TOKEN_VALIDITY: time::Duration = time::Duration::minutes(5);

impl Settings {
    /// Refuses ID and access token validities below the service's least
    /// ([`UserPoolsService::min_token_validity`]).
    fn check_token_floor(&self, svc: &UserPoolsService) -> Result<(), UserPoolsError> {
        let floor = svc.min_token_validity;
        let v = &self.token_validity;
        between(
            v.access_duration(),
            floor,
            time::Duration::days(1),
            "Access",
        )?;
        between(v.id_duration(), floor, time::Duration::days(1), "Id")
    }
}

fn human(d: time::Duration) -> String {
    if d.whole_days() >= 1 && d.whole_seconds() % 86400 == 0 {
        format!("{} days", d.whole_days())
    } else if d.whole_hours() >= 1 && d.whole_seconds() % 3600 == 0 {
        format!("{} hours", d.whole_hours())
    } else {
        format!("{} minutes", d.whole_minutes())
    }
}

/// `value` of `from` expressed in `to` (rounded down, at least 1).
fn convert(value: u32, from: TimeUnit, to: TimeUnit) -> u32 {
    let seconds = from.duration(value).whole_seconds();
    let per = to.duration(1).whole_seconds();
    u32::try_from((seconds / per).max(1)).unwrap_or(u32::MAX)
}

fn range(v: i64, field: &str, min: i64, max: i64) -> Result<u32, UserPoolsError> {
    if v < min || v > max {
        return Err(UserPoolsError::constraint(
            v,
            field,
            &format!("Member must have value between {min} and {max}"),
        ));
    }
    Ok(v as u32)
}

fn dedup(list: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for item in list {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Read/write attributes must be in the pool's schema (Cognito refuses the rest).
fn check_attributes(pool: &PoolRecord, settings: &Settings) -> Result<(), UserPoolsError> {
    for (list, what) in [
        (&settings.read_attributes, "read"),
        (&settings.write_attributes, "write"),
    ] {
        if list
            .iter()
            .any(|a| !schema::knows(&pool.config, a) || (what == "write" && a == "sub"))
        {
            return Err(invalid(format!(
                "Invalid {what} attributes specified while creating a client"
            )));
        }
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), UserPoolsError> {
    wire::check_length(name, "clientName", 1, 128)?;
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c.is_whitespace() || "+=,.@-".contains(c))
    {
        return Err(UserPoolsError::constraint(
            name,
            "clientName",
            "Member must satisfy regular expression pattern: [\\w\\s+=,.@-]+",
        ));
    }
    Ok(())
}

/// `UserPoolClientType`, with the secret opened when it has one.
fn client_shape(svc: &UserPoolsService, c: &ClientRecord) -> Result<Value, UserPoolsError> {
    let v = &c.token_validity;
    let mut out = json!({
        "UserPoolId": c.pool_id,
        "ClientName": c.client_name,
        "ClientId": c.client_id,
        "LastModifiedDate": epoch(c.last_modified_at),
        "CreationDate": epoch(c.created_at),
        "RefreshTokenValidity": v.refresh,
        "AccessTokenValidity": v.access,
        "IdTokenValidity": v.id,
        "TokenValidityUnits": {
            "AccessToken": v.access_unit.as_str(),
            "IdToken": v.id_unit.as_str(),
            "RefreshToken": v.refresh_unit.as_str(),
        },
        "ExplicitAuthFlows": c.explicit_auth_flows,
        "AllowedOAuthFlowsUserPoolClient": false,
        "PreventUserExistenceErrors": if c.prevent_user_existence_errors { "ENABLED" } else { "LEGACY" },
        "EnableTokenRevocation": c.enable_token_revocation,
        "EnablePropagateAdditionalUserContextData": false,
        "AuthSessionValidity": c.auth_session_validity_minutes,
    });
    let o = out.as_object_mut().expect("an object");
    for (key, list) in [
        ("ReadAttributes", &c.read_attributes),
        ("WriteAttributes", &c.write_attributes),
        ("CallbackURLs", &c.callback_urls),
        ("LogoutURLs", &c.logout_urls),
        (
            "SupportedIdentityProviders",
            &c.supported_identity_providers,
        ),
    ] {
        if !list.is_empty() {
            o.insert(key.into(), json!(list));
        }
    }
    if let Some(sealed) = &c.sealed_secret {
        let secret = sealing::open_text(
            &svc.keyring,
            SealPurpose::UserPoolClientSecret,
            &client_context(&c.pool_id, &c.client_id),
            sealed,
        )?;
        o.insert("ClientSecret".into(), json!(secret.as_str()));
    }
    Ok(out)
}

pub(crate) struct CreateUserPoolClient {
    pool: NamedPool,
    name: String,
    secret: SecretChoice,
    settings: Settings,
}

enum SecretChoice {
    None,
    Generate,
    Given(zeroize::Zeroizing<String>),
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateClientInput {
    user_pool_id: String,
    client_name: String,
    generate_secret: Option<bool>,
    client_secret: Option<String>,
    #[serde(flatten)]
    settings: SettingsInput,
}

#[async_trait::async_trait]
impl UserPoolsOperation for CreateUserPoolClient {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: CreateClientInput = wire::decode(body)?;
        check_name(&input.client_name)?;
        let secret = match (input.generate_secret.unwrap_or(false), input.client_secret) {
            (_, Some(given)) => {
                let given = zeroize::Zeroizing::new(given);
                let len = given.chars().count();
                if !(24..=64).contains(&len)
                    || !given
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '+')
                {
                    return Err(UserPoolsError::secret_constraint(
                        "clientSecret",
                        "Member must have length between 24 and 64 and satisfy regular expression pattern: [\\w+]+",
                    ));
                }
                SecretChoice::Given(given)
            }
            (true, None) => SecretChoice::Generate,
            (false, None) => SecretChoice::None,
        };
        Ok(CreateUserPoolClient {
            pool: NamedPool::parse(input.user_pool_id)?,
            name: input.client_name,
            secret,
            settings: input.settings.check()?,
        })
    }

    async fn checks(
        &mut self,
        svc: &UserPoolsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, UserPoolsError> {
        Ok(vec![self.pool.check(svc, &call.action()).await?])
    }

    async fn execute(self, svc: &UserPoolsService, _: &Call<'_>) -> Reply {
        let pool = self.pool.into_pool()?;
        self.settings.check_token_floor(svc)?;
        check_attributes(&pool.record, &self.settings)?;
        let pool_id = pool.record.id.clone();
        let existing =
            records::all_keys(svc.store.as_ref(), ns::CLIENTS, &pool_prefix(&pool_id)).await?;
        if existing.len() >= MAX_CLIENTS {
            return Err(UserPoolsError::LimitExceeded(
                "The user pool has reached its limit of app clients.".into(),
            ));
        }
        let client_id = ids::new_client_id()?;
        let context = client_context(&pool_id, &client_id);
        let secret = match self.secret {
            SecretChoice::None => None,
            SecretChoice::Generate => Some(zeroize::Zeroizing::new(ids::new_client_secret()?)),
            SecretChoice::Given(s) => Some(s),
        };
        let at = now();
        let s = self.settings;
        let client = ClientRecord {
            pool_id: pool_id.clone(),
            client_id: client_id.clone(),
            client_name: self.name,
            sealed_secret: secret.map(|s| {
                sealing::seal(
                    &svc.keyring,
                    SealPurpose::UserPoolClientSecret,
                    &context,
                    s.as_bytes(),
                )
            }),
            created_at: at,
            last_modified_at: at,
            explicit_auth_flows: s.explicit_auth_flows,
            token_validity: s.token_validity,
            read_attributes: s.read_attributes,
            write_attributes: s.write_attributes,
            prevent_user_existence_errors: s.prevent_user_existence_errors,
            enable_token_revocation: s.enable_token_revocation,
            auth_session_validity_minutes: s.auth_session_validity_minutes,
            callback_urls: s.callback_urls,
            logout_urls: s.logout_urls,
            supported_identity_providers: s.supported_identity_providers,
        };
        rampart_store::request_audit::commit(
            svc.store.as_ref(),
            // A pool deleted meanwhile leaves an unreachable client under an id never reused.
            vec![
                records::put(
                    ns::CLIENTS,
                    pool_key(&pool_id, &client_id),
                    &client,
                    Expect::Absent,
                ),
                crate::app_client::index_write(&pool_id, &client_id),
            ],
        )
        .await?;
        wire::reply(&json!({ "UserPoolClient": client_shape(svc, &client)? }))
    }
}

/// A `ClientId` member, looked up under the authorized pool only.
#[derive(Debug, Clone)]
struct NamedClient {
    id: String,
}

impl NamedClient {
    fn parse(id: String) -> Result<Self, UserPoolsError> {
        if !ids::is_client_id_shaped(&id) {
            return Err(UserPoolsError::constraint(
                &id,
                "clientId",
                "Member must satisfy regular expression pattern: [\\w+]+",
            ));
        }
        Ok(NamedClient { id })
    }

    async fn load(
        &self,
        svc: &UserPoolsService,
        pool: &PoolRecord,
    ) -> Result<Stored<ClientRecord>, UserPoolsError> {
        svc.load_client(&pool.id, &self.id)
            .await?
            .ok_or_else(|| UserPoolsError::client_not_found(&self.id))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ClientIdInput {
    user_pool_id: String,
    client_id: String,
}

pub(crate) struct DescribeUserPoolClient {
    pool: NamedPool,
    client: NamedClient,
}

#[async_trait::async_trait]
impl UserPoolsOperation for DescribeUserPoolClient {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: ClientIdInput = wire::decode(body)?;
        Ok(DescribeUserPoolClient {
            pool: NamedPool::parse(input.user_pool_id)?,
            client: NamedClient::parse(input.client_id)?,
        })
    }

    async fn checks(
        &mut self,
        svc: &UserPoolsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, UserPoolsError> {
        Ok(vec![self.pool.check(svc, &call.action()).await?])
    }

    async fn execute(self, svc: &UserPoolsService, _: &Call<'_>) -> Reply {
        let pool = self.pool.into_pool()?;
        let client = self.client.load(svc, &pool.record).await?;
        wire::reply(&json!({ "UserPoolClient": client_shape(svc, &client.record)? }))
    }
}

pub(crate) struct UpdateUserPoolClient {
    pool: NamedPool,
    client: NamedClient,
    name: Option<String>,
    settings: Settings,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateClientInput {
    user_pool_id: String,
    client_id: String,
    client_name: Option<String>,
    #[serde(flatten)]
    settings: SettingsInput,
}

#[async_trait::async_trait]
impl UserPoolsOperation for UpdateUserPoolClient {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: UpdateClientInput = wire::decode(body)?;
        if let Some(name) = &input.client_name {
            check_name(name)?;
        }
        Ok(UpdateUserPoolClient {
            pool: NamedPool::parse(input.user_pool_id)?,
            client: NamedClient::parse(input.client_id)?,
            name: input.client_name,
            settings: input.settings.check()?,
        })
    }

    async fn checks(
        &mut self,
        svc: &UserPoolsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, UserPoolsError> {
        Ok(vec![self.pool.check(svc, &call.action()).await?])
    }

    async fn execute(self, svc: &UserPoolsService, _: &Call<'_>) -> Reply {
        let pool = self.pool.into_pool()?;
        self.settings.check_token_floor(svc)?;
        check_attributes(&pool.record, &self.settings)?;
        let stored = self.client.load(svc, &pool.record).await?;
        let mut next = stored.record.clone();
        // A setting left out takes its default, as Cognito documents for this operation.
        let s = self.settings;
        if let Some(name) = self.name {
            next.client_name = name;
        }
        next.explicit_auth_flows = s.explicit_auth_flows;
        next.token_validity = s.token_validity;
        next.read_attributes = s.read_attributes;
        next.write_attributes = s.write_attributes;
        next.prevent_user_existence_errors = s.prevent_user_existence_errors;
        next.enable_token_revocation = s.enable_token_revocation;
        next.auth_session_validity_minutes = s.auth_session_validity_minutes;
        next.callback_urls = s.callback_urls;
        next.logout_urls = s.logout_urls;
        next.supported_identity_providers = s.supported_identity_providers;
        next.last_modified_at = now();
        rampart_store::request_audit::commit(
            svc.store.as_ref(),
            vec![records::put(
                ns::CLIENTS,
                pool_key(&next.pool_id, &next.client_id),
                &next,
                Expect::Version(stored.version),
            )],
        )
        .await?;
        wire::reply(&json!({ "UserPoolClient": client_shape(svc, &next)? }))
    }
}

pub(crate) struct ListUserPoolClients {
    pool: NamedPool,
    max_results: usize,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListClientsInput {
    user_pool_id: String,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[async_trait::async_trait]
impl UserPoolsOperation for ListUserPoolClients {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: ListClientsInput = wire::decode(body)?;
        let max_results = match input.max_results {
            Some(n) => range(n, "maxResults", 1, 60)? as usize,
            None => 60,
        };
        Ok(ListUserPoolClients {
            pool: NamedPool::parse(input.user_pool_id)?,
            max_results,
            next_token: wire::pagination_token(input.next_token, "nextToken")?,
        })
    }

    async fn checks(
        &mut self,
        svc: &UserPoolsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, UserPoolsError> {
        Ok(vec![self.pool.check(svc, &call.action()).await?])
    }

    async fn execute(self, svc: &UserPoolsService, _: &Call<'_>) -> Reply {
        let pool = self.pool.into_pool()?;
        let prefix = pool_prefix(&pool.record.id);
        // The token is a client id; listed only under the authorized pool's prefix.
        let after = self.next_token.map(|t| format!("{prefix}{t}"));
        let (page, more) = records::list::<ClientRecord>(
            svc.store.as_ref(),
            ns::CLIENTS,
            &prefix,
            after.as_deref(),
            self.max_results,
        )
        .await?;
        let clients: Vec<_> = page
            .iter()
            .map(|(_, c)| {
                json!({
                    "ClientId": c.record.client_id,
                    "UserPoolId": c.record.pool_id,
                    "ClientName": c.record.client_name,
                })
            })
            .collect();
        let mut out = json!({ "UserPoolClients": clients });
        if more {
            if let Some((_, c)) = page.last() {
                out["NextToken"] = json!(c.record.client_id);
            }
        }
        wire::reply(&out)
    }
}

pub(crate) struct DeleteUserPoolClient {
    pool: NamedPool,
    client: NamedClient,
}

#[async_trait::async_trait]
impl UserPoolsOperation for DeleteUserPoolClient {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: ClientIdInput = wire::decode(body)?;
        Ok(DeleteUserPoolClient {
            pool: NamedPool::parse(input.user_pool_id)?,
            client: NamedClient::parse(input.client_id)?,
        })
    }

    async fn checks(
        &mut self,
        svc: &UserPoolsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, UserPoolsError> {
        Ok(vec![self.pool.check(svc, &call.action()).await?])
    }

    async fn execute(self, svc: &UserPoolsService, _: &Call<'_>) -> Reply {
        let pool = self.pool.into_pool()?;
        let client = self.client.load(svc, &pool.record).await?;
        rampart_store::request_audit::commit(
            svc.store.as_ref(),
            vec![
                records::delete(
                    ns::CLIENTS,
                    pool_key(&client.record.pool_id, &client.record.client_id),
                    Expect::Version(client.version),
                ),
                records::delete(
                    ns::CLIENT_POOLS,
                    client.record.client_id.clone(),
                    Expect::Any,
                ),
            ],
        )
        .await?;
        Ok(b"{}".to_vec())
    }
}
