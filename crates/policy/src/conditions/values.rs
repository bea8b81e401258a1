//! The policy side of each operator family, read once at compile time, and the test of
//! one request value against it.

use std::net::IpAddr;

use base64::Engine;

use super::date::parse_instant;
use super::operator::BaseOperator;
use crate::arn::{split_arn, ArnPattern};
use crate::context::{parse_bool, parse_number, ContextValue, EvaluationContext};
use crate::error::Malformed;
use crate::pattern::{eq_ignore_case, Glob};
use crate::variables::Template;

/// How a string value compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrMode {
    Exact,
    IgnoreCase,
    Like,
}

/// One string value of a condition.
#[derive(Debug, Clone)]
pub(crate) enum StrValue {
    /// Compared as text (Exact, IgnoreCase).
    Text(String),
    /// A wildcard pattern (Like).
    Glob(Glob),
    /// Holds a policy variable; resolved per request.
    Dynamic(Template),
}

/// Numeric and date comparisons. The negated operators are the positive `Eq` with the
/// result inverted by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Cmp::Eq => request == policy,
            Cmp::Lt => request < policy,
            Cmp::Le => request <= policy,
            Cmp::Gt => request > policy,
            Cmp::Ge => request >= policy,
        }
    }
}

/// An IP range; a bare address is a /32 or /128 ("If you specify an IP address without
/// the associated routing prefix, IAM uses the default prefix value of /32").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub(crate) fn parse(text: &str) -> Option<Cidr> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = addr.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
            None => max,
        };
        (prefix <= max).then_some(Cidr { network, prefix })
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 address seen through IPv6 (::ffff:a.b.c.d) is still that IPv4 address.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(
                u32::from(net) as u128,
                u32::from(ip) as u128,
                self.prefix,
                32,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(u128::from(net), u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

fn prefix_eq(net: u128, ip: u128, prefix: u8, bits: u32) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = bits - prefix as u32;
    (net >> shift) == (ip >> shift)
}

/// The compiled values of one condition, by operator family.
#[derive(Debug, Clone)]
pub(crate) enum ValueTest {
    Str {
        mode: StrMode,
        values: Vec<StrValue>,
    },
    Numeric {
        cmp: Cmp,
        values: Vec<f64>,
    },
    Date {
        cmp: Cmp,
        values: Vec<i128>,
    },
    Bool {
        values: Vec<Result<bool, Template>>,
    },
    Binary {
        values: Vec<Vec<u8>>,
    },
    Ip {
        values: Vec<Cidr>,
    },
    Arn {
        values: Vec<ArnPattern>,
    },
    /// `true` means "the key is absent".
    Null {
        values: Vec<bool>,
    },
}

impl ValueTest {
    /// Reads the policy values for `op`. `substitute` is whether the document's version
    /// has policy variables at all.
    pub(crate) fn compile(
        op: BaseOperator,
        values: &[String],
        substitute: bool,
    ) -> Result<ValueTest, Malformed> {
        use BaseOperator::*;
        let substitute = substitute && op.takes_variables();
        let bad = |value: &str| Malformed::InvalidConditionValue {
            operator: op.name().to_owned(),
            value: value.to_owned(),
        };
        let all = |f: &dyn Fn(&str) -> Option<()>| -> Result<(), Malformed> {
            values.iter().try_for_each(|v| f(v).ok_or_else(|| bad(v)))
        };
        Ok(match op {
            StringEquals
            | StringNotEquals
            | StringEqualsIgnoreCase
            | StringNotEqualsIgnoreCase
            | StringLike
            | StringNotLike => {
                let mode = match op {
                    StringLike | StringNotLike => StrMode::Like,
                    StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => StrMode::IgnoreCase,
                    _ => StrMode::Exact,
                };
                let values = values
                    .iter()
                    .map(|v| {
                        let t = Template::parse(v, substitute);
                        match (t.is_static(), mode) {
                            (false, _) => StrValue::Dynamic(t),
                            (true, StrMode::Like) => StrValue::Glob(t.static_glob()),
                            (true, _) => StrValue::Text(t.static_text()),
                        }
                    })
                    .collect();
                ValueTest::Str { mode, values }
            }
            NumericEquals
            | NumericNotEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals => {
                all(&|v| parse_number(v).map(drop))?;
                ValueTest::Numeric {
                    cmp: cmp_of(op),
                    values: values.iter().filter_map(|v| parse_number(v)).collect(),
                }
            }
            DateEquals
            | DateNotEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => {
                all(&|v| parse_instant(v).map(drop))?;
                ValueTest::Date {
                    cmp: cmp_of(op),
                    values: values.iter().filter_map(|v| parse_instant(v)).collect(),
                }
            }
            Bool => {
                let mut out = Vec::new();
                for v in values {
                    let t = Template::parse(v, substitute);
                    if t.is_static() {
                        out.push(Ok(parse_bool(&t.static_text()).ok_or_else(|| bad(v))?));
                    } else {
                        out.push(Err(t));
                    }
                }
                ValueTest::Bool { values: out }
            }
            BinaryEquals => {
                let engine = &base64::engine::general_purpose::STANDARD;
                let decoded: Result<Vec<_>, _> = values
                    .iter()
                    .map(|v| engine.decode(v.trim()).map_err(|_| bad(v)))
                    .collect();
                ValueTest::Binary { values: decoded? }
            }
            IpAddress | NotIpAddress => {
                let nets: Result<Vec<_>, _> = values
                    .iter()
                    .map(|v| Cidr::parse(v).ok_or_else(|| bad(v)))
                    .collect();
                ValueTest::Ip { values: nets? }
            }
            ArnEquals | ArnLike | ArnNotEquals | ArnNotLike => ValueTest::Arn {
                values: values
                    .iter()
                    .map(|v| ArnPattern::new(v, substitute))
                    .collect(),
            },
            Null => {
                let flags: Result<Vec<_>, _> = values
                    .iter()
                    .map(|v| parse_bool(v).ok_or_else(|| bad(v)))
                    .collect();
                ValueTest::Null { values: flags? }
            }
        })
    }

    /// Whether one request value matches any of the policy values under the positive form
    /// of the operator ("multiple values for one key are OR").
    pub(crate) fn matches_any(&self, value: &ContextValue, ctx: &EvaluationContext) -> bool {
        match self {
            ValueTest::Str { mode, values } => {
                let text = value.text();
                values.iter().any(|v| str_matches(*mode, v, &text, ctx))
            }
            ValueTest::Numeric { cmp, values } => value
                .as_number()
                .is_some_and(|n| values.iter().any(|v| cmp.holds(n, *v))),
            ValueTest::Date { cmp, values } => value
                .as_instant()
                .is_some_and(|t| values.iter().any(|v| cmp.holds(t, *v))),
            ValueTest::Bool { values } => value.as_bool().is_some_and(|b| {
                values.iter().any(|v| match v {
                    Ok(expected) => *expected == b,
                    Err(t) => t
                        .resolve_text(ctx)
                        .and_then(|s| parse_bool(&s))
                        .is_some_and(|expected| expected == b),
                })
            }),
            ValueTest::Binary { values } => value
                .as_bytes()
                .is_some_and(|bytes| values.iter().any(|v| **v == *bytes)),
            ValueTest::Ip { values } => value
                .as_ip()
                .is_some_and(|ip| values.iter().any(|net| net.contains(ip))),
            ValueTest::Arn { values } => {
                let text = value.text();
                let parts = split_arn(&text);
                values.iter().any(|p| p.matches(&text, parts.as_ref(), ctx))
            }
            // Null is decided on the key's presence alone, by the caller.
            ValueTest::Null { .. } => false,
        }
    }
}

fn cmp_of(op: BaseOperator) -> Cmp {
    use BaseOperator::*;
    match op {
        NumericLessThan | DateLessThan => Cmp::Lt,
        NumericLessThanEquals | DateLessThanEquals => Cmp::Le,
        NumericGreaterThan | DateGreaterThan => Cmp::Gt,
        NumericGreaterThanEquals | DateGreaterThanEquals => Cmp::Ge,
        _ => Cmp::Eq,
    }
}

fn str_matches(mode: StrMode, value: &StrValue, text: &str, ctx: &EvaluationContext) -> bool {
    match (value, mode) {
        (StrValue::Text(t), StrMode::Exact) => t == text,
        (StrValue::Text(t), _) => eq_ignore_case(t, text),
        (StrValue::Glob(g), _) => g.matches(text),
        // A variable with no value is "effectively null": it equals and is like nothing.
        (StrValue::Dynamic(t), StrMode::Like) => t.matches_glob(text, ctx),
        (StrValue::Dynamic(t), StrMode::Exact) => t.equals(text, ctx),
        (StrValue::Dynamic(t), StrMode::IgnoreCase) => t
            .resolve_text(ctx)
            .is_some_and(|s| eq_ignore_case(&s, text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidrs() {
        let net = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(net.contains(ip("203.0.113.255")));
        assert!(!net.contains(ip("203.0.114.0")));
        assert!(net.contains(ip("::ffff:203.0.113.7")));
        let host = Cidr::parse("10.1.2.3").unwrap();
        assert!(host.contains(ip("10.1.2.3")) && !host.contains(ip("10.1.2.4")));
        let v6 = Cidr::parse("2001:DB8:1234:5678::/64").unwrap();
        assert!(v6.contains(ip("2001:db8:1234:5678:ffff::1")));
        assert!(!v6.contains(ip("2001:db8:1234:5679::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "10.0.0/8", "::/129", "10.0.0.0/", "x"] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
    }
}
