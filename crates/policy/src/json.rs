//! A JSON tree that keeps element order and refuses duplicate keys.
//!
//! `serde_json::Value` keeps the last of two equal keys without a word, but the policy
//! grammar says "Individual elements must not contain multiple instances of the same key"
//! ("Policy grammar notes"), and a policy with two `Effect`s must not be read as one.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// One JSON value. Numbers keep their text so that `10` stays `"10"` in a condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses `text`, refusing duplicate keys at any depth.
    pub(crate) fn parse(text: &str) -> Result<Json, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The JSON type's name, for "expected a string, found an object" messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }

    /// The text of a scalar as IAM reads it: strings as they are, numbers and booleans in
    /// their JSON spelling ("Quotation marks are optional for numeric and Boolean values").
    pub(crate) fn scalar_text(&self) -> Option<String> {
        match self {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.clone()),
            Json::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries: Vec<(String, Json)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            let value = map.next_value()?;
            entries.push((key, value));
        }
        Ok(Json::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_number_text() {
        let j = Json::parse(r#"{"b": 10, "a": [true, "x", 1.5]}"#).unwrap();
        let Json::Object(entries) = j else { panic!() };
        assert_eq!(entries[0].0, "b");
        assert_eq!(entries[0].1, Json::Number("10".into()));
        assert_eq!(
            entries[1].1,
            Json::Array(vec![
                Json::Bool(true),
                Json::String("x".into()),
                Json::Number("1.5".into())
            ])
        );
    }

    #[test]
    fn refuses_duplicate_keys_at_depth() {
        let err = Json::parse(r#"{"Statement": {"Effect": "Allow", "Effect": "Deny"}}"#);
        assert!(err
            .unwrap_err()
            .to_string()
            .contains("duplicate key \"Effect\""));
    }
}
