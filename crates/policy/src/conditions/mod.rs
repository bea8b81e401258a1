//! The `Condition` element: operators, their values, and how one condition is decided
//! ("IAM JSON policy elements: Condition operators" and "Creating a condition with
//! multiple keys or values" in the IAM User Guide).
//!
//! The rules, in the order a condition is decided:
//! - `Null` looks only at whether the key is present (`true` = absent);
//! - a key that is absent (or set to the empty set) makes the condition true with
//!   `…IfExists`, true under `ForAllValues`, false under `ForAnyValue`, and otherwise
//!   false for positive operators and true for negated ones ("If the policy condition
//!   requires that the key is not matched … and the right key is not present, the
//!   condition is true");
//! - several policy values for one key are OR for positive operators and NOR for negated
//!   ones ("the string cannot match any of the … values listed");
//! - `ForAllValues`: every request value must pass; `ForAnyValue`: at least one must,
//!   where a value passes a negated operator when it matches none of the policy values;
//! - without a set qualifier, a key with several request values passes a positive
//!   operator when any of them matches, and a negated one when none does;
//! - a request value of the wrong type for the operator (a non-number for `Numeric*`)
//!   matches nothing.
//!
//! Several keys in one operator, and several operators, are AND: the statement keeps a
//! flat list of conditions and needs all of them.

pub(crate) mod date;
mod operator;
mod values;

pub use operator::{BaseOperator, ConditionOperator, SetQualifier};

use crate::context::EvaluationContext;
use crate::document::Condition;
use crate::error::Malformed;
use values::ValueTest;

/// One operator/key pair, ready to evaluate.
#[derive(Debug, Clone)]
pub(crate) struct CompiledCondition {
    operator: ConditionOperator,
    negated: bool,
    /// Lower-cased: condition keys are case-insensitive.
    key: Box<str>,
    test: ValueTest,
}

impl CompiledCondition {
    /// Compiles a parsed condition; `substitute` is whether the document has variables.
    pub(crate) fn compile(
        condition: &Condition,
        substitute: bool,
    ) -> Result<CompiledCondition, Malformed> {
        let operator = condition.operator;
        Ok(CompiledCondition {
            operator,
            negated: operator.base.is_negated(),
            key: condition.key.to_lowercase().into(),
            test: ValueTest::compile(operator.base, &condition.values, substitute)?,
        })
    }

    /// Whether the condition holds in `ctx`.
    pub(crate) fn evaluate(&self, ctx: &EvaluationContext) -> bool {
        let present = ctx.values_lower(&self.key).filter(|v| !v.is_empty());
        if let ValueTest::Null { values } = &self.test {
            let absent = present.is_none();
            return values.contains(&absent);
        }
        let Some(values) = present else {
            if self.operator.if_exists {
                return true;
            }
            return match self.operator.qualifier {
                Some(SetQualifier::ForAllValues) => true,
                Some(SetQualifier::ForAnyValue) => false,
                None => self.negated,
            };
        };
        let positive = |v| self.test.matches_any(v, ctx);
        match self.operator.qualifier {
            None if self.negated => !values.iter().any(positive),
            None => values.iter().any(positive),
            Some(SetQualifier::ForAllValues) => values.iter().all(|v| positive(v) != self.negated),
            Some(SetQualifier::ForAnyValue) => values.iter().any(|v| positive(v) != self.negated),
        }
    }
}
