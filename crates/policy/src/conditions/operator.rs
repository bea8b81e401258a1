//! Condition operator names ("IAM JSON policy elements: Condition operators").

use std::fmt;

/// An operator without its set qualifier or `IfExists` suffix. The variants are AWS's
/// operator names; their meaning is in the module documentation and the IAM User Guide.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BaseOperator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

/// Every base operator with its name, in the documentation's order.
const NAMES: [(BaseOperator, &str); 27] = [
    (BaseOperator::StringEquals, "StringEquals"),
    (BaseOperator::StringNotEquals, "StringNotEquals"),
    (
        BaseOperator::StringEqualsIgnoreCase,
        "StringEqualsIgnoreCase",
    ),
    (
        BaseOperator::StringNotEqualsIgnoreCase,
        "StringNotEqualsIgnoreCase",
    ),
    (BaseOperator::StringLike, "StringLike"),
    (BaseOperator::StringNotLike, "StringNotLike"),
    (BaseOperator::NumericEquals, "NumericEquals"),
    (BaseOperator::NumericNotEquals, "NumericNotEquals"),
    (BaseOperator::NumericLessThan, "NumericLessThan"),
    (BaseOperator::NumericLessThanEquals, "NumericLessThanEquals"),
    (BaseOperator::NumericGreaterThan, "NumericGreaterThan"),
    (
        BaseOperator::NumericGreaterThanEquals,
        "NumericGreaterThanEquals",
    ),
    (BaseOperator::DateEquals, "DateEquals"),
    (BaseOperator::DateNotEquals, "DateNotEquals"),
    (BaseOperator::DateLessThan, "DateLessThan"),
    (BaseOperator::DateLessThanEquals, "DateLessThanEquals"),
    (BaseOperator::DateGreaterThan, "DateGreaterThan"),
    (BaseOperator::DateGreaterThanEquals, "DateGreaterThanEquals"),
    (BaseOperator::Bool, "Bool"),
    (BaseOperator::BinaryEquals, "BinaryEquals"),
    (BaseOperator::IpAddress, "IpAddress"),
    (BaseOperator::NotIpAddress, "NotIpAddress"),
    (BaseOperator::ArnEquals, "ArnEquals"),
    (BaseOperator::ArnLike, "ArnLike"),
    (BaseOperator::ArnNotEquals, "ArnNotEquals"),
    (BaseOperator::ArnNotLike, "ArnNotLike"),
    (BaseOperator::Null, "Null"),
];

impl BaseOperator {
    /// The operator's name as written in policies.
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(op, _)| *op == self)
            .map(|(_, name)| *name)
            .unwrap_or("?")
    }

    /// True for the negated operators, whose several values combine as NOR and which are
    /// true when the key is missing ("Condition operators", the Important box).
    pub fn is_negated(self) -> bool {
        use BaseOperator::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }

    /// Whether `${…}` in this operator's values is a policy variable. The Variables page
    /// names the String and ARN operators; the Condition operators page also says "You can
    /// use a policy variable with the Boolean condition operator", so Bool is included.
    pub fn takes_variables(self) -> bool {
        use BaseOperator::*;
        matches!(
            self,
            StringEquals
                | StringNotEquals
                | StringEqualsIgnoreCase
                | StringNotEqualsIgnoreCase
                | StringLike
                | StringNotLike
                | ArnEquals
                | ArnLike
                | ArnNotEquals
                | ArnNotLike
                | Bool
        )
    }
}

/// `ForAllValues:` or `ForAnyValue:` ("Creating a condition with multiple keys or values").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetQualifier {
    /// Every request value must match; true for a missing or empty key.
    ForAllValues,
    /// Some request value must match; false for a missing or empty key.
    ForAnyValue,
}

/// A complete condition operator such as `ForAnyValue:StringLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConditionOperator {
    /// The set qualifier, if any.
    pub qualifier: Option<SetQualifier>,
    /// The operator proper.
    pub base: BaseOperator,
    /// The `IfExists` suffix: a missing key makes the condition true.
    pub if_exists: bool,
}

impl ConditionOperator {
    /// Reads an operator name. Names are matched case-insensitively: AWS does not document
    /// whether `stringequals` is refused, and accepting it refuses nothing AWS accepts.
    /// `IfExists` is refused on `Null`, as "You can add IfExists to the end of any condition
    /// operator name except the Null condition".
    pub fn parse(name: &str) -> Option<ConditionOperator> {
        let (qualifier, rest) = if let Some(rest) = strip_prefix_ci(name, "ForAllValues:") {
            (Some(SetQualifier::ForAllValues), rest)
        } else if let Some(rest) = strip_prefix_ci(name, "ForAnyValue:") {
            (Some(SetQualifier::ForAnyValue), rest)
        } else {
            (None, name)
        };
        let (if_exists, base_name) = match strip_suffix_ci(rest, "IfExists") {
            Some(base) => (true, base),
            None => (false, rest),
        };
        let base = NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(base_name))
            .map(|(op, _)| *op)?;
        if if_exists && base == BaseOperator::Null {
            return None;
        }
        Some(ConditionOperator {
            qualifier,
            base,
            if_exists,
        })
    }
}

impl fmt::Display for ConditionOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.qualifier {
            Some(SetQualifier::ForAllValues) => f.write_str("ForAllValues:")?,
            Some(SetQualifier::ForAnyValue) => f.write_str("ForAnyValue:")?,
            None => {}
        }
        f.write_str(self.base.name())?;
        if self.if_exists {
            f.write_str("IfExists")?;
        }
        Ok(())
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn strip_suffix_ci<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    let tail = s.get(cut..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &s[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_qualifiers_and_suffix() {
        let op = ConditionOperator::parse("ForAnyValue:StringLikeIfExists").unwrap();
        assert_eq!(op.qualifier, Some(SetQualifier::ForAnyValue));
        assert_eq!(op.base, BaseOperator::StringLike);
        assert!(op.if_exists);
        assert_eq!(op.to_string(), "ForAnyValue:StringLikeIfExists");
        let op = ConditionOperator::parse("NotIpAddress").unwrap();
        assert!(op.base.is_negated() && op.qualifier.is_none() && !op.if_exists);
    }

    #[test]
    fn refuses_unknown_and_null_if_exists() {
        for bad in [
            "StringEqual",
            "NullIfExists",
            "ForSomeValues:StringEquals",
            "",
            "IfExists",
        ] {
            assert!(ConditionOperator::parse(bad).is_none(), "{bad}");
        }
    }
}
