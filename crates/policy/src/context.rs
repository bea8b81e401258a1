//! The request context a decision is made against ("Processing the request context" in
//! "Policy evaluation logic"): who asks, for which action on which resource, and the
//! condition keys with their values.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::sync::OnceLock;

use base64::Engine;

use crate::conditions::date::{format_instant, instant_from_epoch_seconds, parse_instant};
use crate::principal::RequestPrincipal;
use crate::variables::VariableSource;

/// One value of a condition key, with the type it was given as (the simulator's
/// `ContextKeyType`). Operators read a value as the type they need: a string `"10"` is a
/// number to `NumericEquals`, a date is text to `StringLike`.
#[derive(Debug, Clone, PartialEq)]
pub enum ContextValue {
    /// Text; read as a number, date, address, boolean or base64 when an operator needs one.
    String(String),
    /// A number (`aws:EpochTime`, `s3:max-keys`…); as a date it is epoch seconds.
    Number(f64),
    /// `true` or `false`.
    Boolean(bool),
    /// An instant, in nanoseconds since the epoch.
    Date(i128),
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// Bytes, for `BinaryEquals`.
    Binary(Vec<u8>),
}

impl ContextValue {
    /// A date value from epoch seconds.
    pub fn date_from_epoch_seconds(seconds: i64) -> ContextValue {
        ContextValue::Date(seconds as i128 * 1_000_000_000)
    }

    /// The value as text, as the String and ARN operators and policy variables see it.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            ContextValue::String(s) => Cow::Borrowed(s),
            ContextValue::Number(n) => Cow::Owned(format_number(*n)),
            ContextValue::Boolean(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            ContextValue::Date(nanos) => Cow::Owned(format_instant(*nanos)),
            ContextValue::Ip(ip) => Cow::Owned(ip.to_string()),
            ContextValue::Binary(bytes) => {
                Cow::Owned(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
        }
    }

    pub(crate) fn as_number(&self) -> Option<f64> {
        match self {
            ContextValue::Number(n) => Some(*n),
            ContextValue::String(s) => parse_number(s),
            _ => None,
        }
    }

    pub(crate) fn as_instant(&self) -> Option<i128> {
        match self {
            ContextValue::Date(nanos) => Some(*nanos),
            // aws:EpochTime is a number of seconds.
            ContextValue::Number(n) => instant_from_epoch_seconds(*n),
            ContextValue::String(s) => parse_instant(s),
            _ => None,
        }
    }

    pub(crate) fn as_ip(&self) -> Option<IpAddr> {
        match self {
            ContextValue::Ip(ip) => Some(*ip),
            ContextValue::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            ContextValue::Boolean(b) => Some(*b),
            ContextValue::String(s) => parse_bool(s),
            _ => None,
        }
    }

    /// Bytes for `BinaryEquals`: binary values as they are, strings read as base64.
    pub(crate) fn as_bytes(&self) -> Option<Cow<'_, [u8]>> {
        match self {
            ContextValue::Binary(bytes) => Some(Cow::Borrowed(bytes)),
            ContextValue::String(s) => base64::engine::general_purpose::STANDARD
                .decode(s.trim())
                .ok()
                .map(Cow::Owned),
            _ => None,
        }
    }
}

/// A number as IAM reads one: decimal digits with an optional sign and fraction. (Rust's
/// own float parser would also take `inf` and `1e3`, which are not numbers in a policy.)
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    let ok = !body.is_empty()
        && body.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && body.bytes().filter(|b| *b == b'.').count() <= 1
        && body != ".";
    if ok {
        t.parse().ok()
    } else {
        None
    }
}

/// `true` or `false`, in any case.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("true") {
        Some(true)
    } else if t.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

impl From<&str> for ContextValue {
    fn from(s: &str) -> Self {
        ContextValue::String(s.to_owned())
    }
}

impl From<String> for ContextValue {
    fn from(s: String) -> Self {
        ContextValue::String(s)
    }
}

impl From<bool> for ContextValue {
    fn from(b: bool) -> Self {
        ContextValue::Boolean(b)
    }
}

impl From<f64> for ContextValue {
    fn from(n: f64) -> Self {
        ContextValue::Number(n)
    }
}

impl From<i64> for ContextValue {
    fn from(n: i64) -> Self {
        ContextValue::Number(n as f64)
    }
}

impl From<IpAddr> for ContextValue {
    fn from(ip: IpAddr) -> Self {
        ContextValue::Ip(ip)
    }
}

/// A small multiply-rotate hasher (the "Fx" hash) for condition keys. SipHash's defence
/// against flooding buys nothing for a few dozen keys that the server puts in one request's
/// context, and it was a tenth of a decision's time.
#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type KeyMap = HashMap<Box<str>, Vec<ContextValue>, BuildHasherDefault<KeyHasher>>;

/// Keys set or removed explicitly: `None` marks a key removed, hiding an implied value.
type ExplicitMap = HashMap<Box<str>, Option<Vec<ContextValue>>, BuildHasherDefault<KeyHasher>>;

/// The request facts every authorized call carries (`aws:SourceIp`, `aws:CurrentTime` and
/// `aws:EpochTime`, `aws:SecureTransport`, `aws:RequestedRegion`), kept typed until a
/// condition asks for one of them.
#[derive(Debug, Clone, Default)]
struct Facts {
    source_ip: Option<IpAddr>,
    epoch_seconds: Option<i64>,
    secure_transport: Option<bool>,
    requested_region: Option<Box<str>>,
}

/// Lower-case names of the keys [`Facts`] implies.
const SOURCE_IP: &str = "aws:sourceip";
const CURRENT_TIME: &str = "aws:currenttime";
const EPOCH_TIME: &str = "aws:epochtime";
const SECURE_TRANSPORT: &str = "aws:securetransport";
const REQUESTED_REGION: &str = "aws:requestedregion";

/// Everything one decision is made against.
///
/// Condition keys are case-insensitive ("Key names are case-insensitive", Variables page):
/// they are stored lower-cased. A key with one value is single-valued; set several with
/// [`EvaluationContext::set_values`]. A key set to no values at all is an empty set, which
/// is what `ForAllValues`/`ForAnyValue` treat as "no keys in the request".
#[derive(Debug, Clone)]
pub struct EvaluationContext {
    principal: RequestPrincipal,
    action: String,
    action_lower: String,
    resource: String,
    /// Byte offsets of the resource ARN's first five colons, found once.
    resource_cuts: Option<[usize; 5]>,
    resource_account: Option<String>,
    /// Keys set (or removed) explicitly; they take precedence over the implied ones.
    keys: ExplicitMap,
    facts: Facts,
    /// The keys the principal and `facts` imply, built on the first lookup that needs one:
    /// most decisions (an Allow without conditions) read no key at all, and building them
    /// was most of an authorized request's decision time.
    implied: OnceLock<KeyMap>,
}

impl EvaluationContext {
    /// A context for `principal` calling `action` (`service:Name`) on `resource` (an ARN,
    /// or `*` for actions without a resource). The principal's global keys
    /// (`aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:userid`,
    /// `aws:username`, `aws:PrincipalTag/*`, …) are filled in from it.
    pub fn new(principal: RequestPrincipal, action: &str, resource: &str) -> Self {
        EvaluationContext {
            action: action.to_owned(),
            action_lower: action.to_lowercase(),
            resource: resource.to_owned(),
            resource_cuts: colon_cuts(resource),
            resource_account: None,
            keys: ExplicitMap::default(),
            facts: Facts::default(),
            implied: OnceLock::new(),
            principal,
        }
    }

    /// The keys the principal and the typed facts imply, built once.
    fn implied(&self) -> &KeyMap {
        self.implied.get_or_init(|| {
            let globals = self.principal.global_keys();
            let mut keys = KeyMap::with_capacity_and_hasher(globals.len() + 5, Default::default());
            for (key, value) in globals {
                keys.insert(key.into(), vec![value]);
            }
            let facts = &self.facts;
            let mut put = |key: &str, value: ContextValue| {
                keys.insert(key.into(), vec![value]);
            };
            if let Some(ip) = facts.source_ip {
                put(SOURCE_IP, ContextValue::Ip(ip));
            }
            if let Some(seconds) = facts.epoch_seconds {
                put(CURRENT_TIME, ContextValue::date_from_epoch_seconds(seconds));
                put(EPOCH_TIME, ContextValue::from(seconds));
            }
            if let Some(secure) = facts.secure_transport {
                put(SECURE_TRANSPORT, ContextValue::Boolean(secure));
            }
            if let Some(region) = &facts.requested_region {
                put(REQUESTED_REGION, ContextValue::from(&**region));
            }
            keys
        })
    }

    /// Changes a typed fact: an explicit value or removal of its keys gives way to it, as a
    /// later `set` would replace them.
    fn set_fact(&mut self, keys: &[&str], change: impl FnOnce(&mut Facts)) -> &mut Self {
        for key in keys {
            self.keys.remove(*key);
        }
        change(&mut self.facts);
        self.implied = OnceLock::new();
        self
    }

    /// The caller.
    pub fn principal(&self) -> &RequestPrincipal {
        &self.principal
    }

    /// The action as given.
    pub fn action(&self) -> &str {
        &self.action
    }

    pub(crate) fn action_lower(&self) -> &str {
        &self.action_lower
    }

    /// The resource ARN as given.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The account that owns the resource: set explicitly, or else the account segment of
    /// the resource ARN when it has one. `None` means "the caller's own account" (S3-style
    /// ARNs carry no account; AWS-managed policies, `arn:aws:iam::aws:policy/…`, belong to
    /// no customer account and are readable by every one).
    pub fn resource_account(&self) -> Option<&str> {
        if let Some(account) = &self.resource_account {
            return Some(account);
        }
        self.resource_parts()
            .map(|parts| parts[4])
            .filter(|account| !account.is_empty() && *account != "aws")
    }

    /// The resource ARN's six segments, or `None` if it is not an ARN.
    pub(crate) fn resource_parts(&self) -> Option<[&str; 6]> {
        let [a, b, c, d, e] = self.resource_cuts?;
        let r = self.resource.as_str();
        Some([
            &r[..a],
            &r[a + 1..b],
            &r[b + 1..c],
            &r[c + 1..d],
            &r[d + 1..e],
            &r[e + 1..],
        ])
    }

    /// Names the account that owns the resource, for resources whose ARN does not say.
    pub fn with_resource_account(mut self, account: &str) -> Self {
        self.resource_account = Some(account.to_owned());
        self
    }

    /// Sets a single-valued key.
    pub fn set(&mut self, key: &str, value: impl Into<ContextValue>) -> &mut Self {
        self.keys.insert(lower_key(key), Some(vec![value.into()]));
        self
    }

    /// Sets a multivalued key (possibly to the empty set).
    pub fn set_values<V: Into<ContextValue>>(
        &mut self,
        key: &str,
        values: impl IntoIterator<Item = V>,
    ) -> &mut Self {
        let values = values.into_iter().map(Into::into).collect();
        self.keys.insert(lower_key(key), Some(values));
        self
    }

    /// Removes a key, so that it is absent from the request.
    pub fn remove(&mut self, key: &str) -> &mut Self {
        self.keys.insert(lower_key(key), None);
        self
    }

    /// Builder form of [`EvaluationContext::set`].
    pub fn with(mut self, key: &str, value: impl Into<ContextValue>) -> Self {
        self.set(key, value);
        self
    }

    /// Builder form of [`EvaluationContext::set_values`].
    pub fn with_values<V: Into<ContextValue>>(
        mut self,
        key: &str,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.set_values(key, values);
        self
    }

    /// The values of a key, looked up case-insensitively.
    pub fn values(&self, key: &str) -> Option<&[ContextValue]> {
        self.values_lower(&key.to_lowercase())
    }

    pub(crate) fn values_lower(&self, key_lower: &str) -> Option<&[ContextValue]> {
        match self.keys.get(key_lower) {
            Some(explicit) => explicit.as_deref(),
            None => self.implied().get(key_lower).map(Vec::as_slice),
        }
    }

    /// `aws:SourceIp`.
    pub fn with_source_ip(mut self, ip: IpAddr) -> Self {
        self.set_fact(&[SOURCE_IP], |f| f.source_ip = Some(ip));
        self
    }

    /// `aws:CurrentTime` and `aws:EpochTime` for the given epoch second.
    pub fn with_current_time(mut self, epoch_seconds: i64) -> Self {
        self.set_fact(&[CURRENT_TIME, EPOCH_TIME], |f| {
            f.epoch_seconds = Some(epoch_seconds)
        });
        self
    }

    /// `aws:SecureTransport`: whether the request came over TLS.
    pub fn with_secure_transport(mut self, secure: bool) -> Self {
        self.set_fact(&[SECURE_TRANSPORT], |f| f.secure_transport = Some(secure));
        self
    }

    /// `aws:MultiFactorAuthPresent` (and, when present, `aws:MultiFactorAuthAge`).
    pub fn with_mfa(self, present: bool, age_seconds: Option<i64>) -> Self {
        let ctx = self.with("aws:MultiFactorAuthPresent", present);
        match age_seconds {
            Some(age) => ctx.with("aws:MultiFactorAuthAge", age),
            None => ctx,
        }
    }

    /// `aws:TokenIssueTime`: when the temporary credentials were issued.
    pub fn with_token_issue_time(self, epoch_seconds: i64) -> Self {
        self.with(
            "aws:TokenIssueTime",
            ContextValue::date_from_epoch_seconds(epoch_seconds),
        )
    }

    /// `aws:RequestedRegion`.
    pub fn with_requested_region(mut self, region: &str) -> Self {
        self.set_fact(&[REQUESTED_REGION], |f| {
            f.requested_region = Some(region.into())
        });
        self
    }

    /// `aws:RequestTag/<key>` for each tag sent in the request, and `aws:TagKeys`.
    pub fn with_request_tags<'a>(
        mut self,
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let mut keys = Vec::new();
        for (key, value) in tags {
            self.set(&format!("aws:RequestTag/{key}"), value);
            keys.push(key.to_owned());
        }
        self.with_values("aws:TagKeys", keys)
    }

    /// `aws:ResourceTag/<key>` for each tag on the resource.
    pub fn with_resource_tags<'a>(
        mut self,
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        for (key, value) in tags {
            self.set(&format!("aws:ResourceTag/{key}"), value);
        }
        self
    }

    /// `aws:CalledVia` (multivalued, in call order), with `aws:CalledViaFirst` and
    /// `aws:CalledViaLast`.
    pub fn with_called_via<'a>(self, services: impl IntoIterator<Item = &'a str>) -> Self {
        let services: Vec<&str> = services.into_iter().collect();
        let mut ctx = self.with_values("aws:CalledVia", services.iter().copied());
        if let (Some(first), Some(last)) = (services.first(), services.last()) {
            ctx = ctx
                .with("aws:CalledViaFirst", *first)
                .with("aws:CalledViaLast", *last);
        }
        ctx
    }
}

/// A key as stored: lower-cased, without a second allocation when it already is.
fn lower_key(key: &str) -> Box<str> {
    if key.bytes().any(|b| b.is_ascii_uppercase()) || !key.is_ascii() {
        key.to_lowercase().into()
    } else {
        key.into()
    }
}

/// The positions of the first five colons of `text`, if it has five.
fn colon_cuts(text: &str) -> Option<[usize; 5]> {
    let mut cuts = [0usize; 5];
    let mut colons = text.match_indices(':').map(|(i, _)| i);
    for cut in &mut cuts {
        *cut = colons.next()?;
    }
    Some(cuts)
}

impl VariableSource for EvaluationContext {
    fn variable(&self, key: &str) -> Option<Cow<'_, str>> {
        match self.values_lower(key)? {
            [one] => Some(one.text()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive() {
        let ctx = EvaluationContext::new(RequestPrincipal::anonymous(), "s3:GetObject", "*")
            .with("AWS:SourceIp", "10.0.0.1");
        assert_eq!(ctx.values("aws:sourceip").unwrap()[0].text(), "10.0.0.1");
        assert_eq!(
            ctx.values("aws:SOURCEIP").unwrap()[0].as_ip(),
            "10.0.0.1".parse().ok()
        );
    }

    #[test]
    fn explicit_keys_override_and_remove_implied_ones() {
        let ctx = || {
            EvaluationContext::new(RequestPrincipal::anonymous(), "s3:GetObject", "*")
                .with_source_ip("10.0.0.1".parse().unwrap())
                .with_current_time(60)
        };
        let ip = |c: &EvaluationContext| c.values("aws:SourceIp").map(|v| v[0].text().into_owned());
        // Implied, read lazily.
        assert_eq!(ip(&ctx()).as_deref(), Some("10.0.0.1"));
        assert_eq!(
            ctx().values("aws:EpochTime").unwrap()[0].as_number(),
            Some(60.0)
        );
        assert_eq!(
            ctx().values("aws:CurrentTime").unwrap()[0].text(),
            "1970-01-01T00:01:00Z"
        );
        assert!(ctx().values("aws:SecureTransport").is_none());
        // A later `set` wins over the fact; a later fact wins over an earlier `set`.
        let mut c = ctx();
        c.set("AWS:SourceIp", "10.0.0.2");
        assert_eq!(ip(&c).as_deref(), Some("10.0.0.2"));
        let c = c.with_source_ip("10.0.0.3".parse().unwrap());
        assert_eq!(ip(&c).as_deref(), Some("10.0.0.3"));
        // Removal hides an implied key, even after it was read once; a later fact restores it.
        let mut c = ctx();
        assert!(ip(&c).is_some());
        c.remove("aws:sourceip");
        assert!(ip(&c).is_none());
        let c = c.with_source_ip("10.0.0.4".parse().unwrap());
        assert_eq!(ip(&c).as_deref(), Some("10.0.0.4"));
        // A fact changed after a lookup is seen (the implied keys are rebuilt).
        let c = ctx();
        assert!(c.values("aws:RequestedRegion").is_none());
        let c = c.with_requested_region("eu-west-1");
        assert_eq!(
            c.values("aws:requestedregion").unwrap()[0].text(),
            "eu-west-1"
        );
    }

    #[test]
    fn principal_keys_are_implied_and_can_be_removed() {
        let p = RequestPrincipal::anonymous();
        let mut ctx = EvaluationContext::new(p, "s3:GetObject", "*");
        assert_eq!(
            ctx.values("aws:PrincipalIsAWSService").unwrap()[0].as_bool(),
            Some(false)
        );
        ctx.remove("aws:PrincipalIsAWSService");
        assert!(ctx.values("aws:principalisawsservice").is_none());
        ctx.set("aws:PrincipalIsAWSService", true);
        assert_eq!(
            ctx.values("aws:principalisawsservice").unwrap()[0].as_bool(),
            Some(true)
        );
    }

    #[test]
    fn typed_views() {
        assert_eq!(ContextValue::from("10").as_number(), Some(10.0));
        assert_eq!(ContextValue::from("1e3").as_number(), None);
        assert_eq!(ContextValue::from(12i64).text(), "12");
        assert_eq!(ContextValue::from("TRUE").as_bool(), Some(true));
        assert_eq!(
            ContextValue::date_from_epoch_seconds(0).text(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(ContextValue::from(1.0f64).as_instant(), Some(1_000_000_000));
        assert_eq!(
            ContextValue::from("aGk=").as_bytes().as_deref(),
            Some(&b"hi"[..])
        );
    }

    #[test]
    fn resource_account_from_arn() {
        let p = RequestPrincipal::anonymous();
        let ctx = EvaluationContext::new(
            p.clone(),
            "sqs:SendMessage",
            "arn:aws:sqs:us-east-1:444455556666:q",
        );
        assert_eq!(ctx.resource_account(), Some("444455556666"));
        let ctx = EvaluationContext::new(p, "s3:GetObject", "arn:aws:s3:::b/k");
        assert_eq!(ctx.resource_account(), None);
        assert_eq!(ctx.with_resource_account("1").resource_account(), Some("1"));
    }
}
