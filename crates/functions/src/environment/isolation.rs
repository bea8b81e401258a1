//! How long an execution environment lives: Rampart's `isolation` option, which Lambda's API
//! has no field for. A function sets it with the reserved environment variable
//! `RAMPART_ISOLATION` (so every client that can set `Environment` — boto3, the CLI, SAM,
//! Terraform — can set it, and `GetFunctionConfiguration` shows it):
//!
//! - `warm` (the default, Lambda's behaviour): an environment serves one invocation after
//!   another while it stays healthy, so what one invocation leaves in memory or in its tmp
//!   directory is there for the next;
//! - `per-invocation`: every invocation gets a fresh environment (new process tree, new tmp
//!   directory), stopped as soon as it answers, so a payload that injected code cannot leave
//!   anything behind for a later event. Every invocation is a cold start.

use crate::error::FunctionsError;

/// The environment variable that carries the option.
pub const ISOLATION_VARIABLE: &str = "RAMPART_ISOLATION";

/// Whether an environment may serve more than one invocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Isolation {
    /// Reused warm for the function's next invocations.
    #[default]
    Warm,
    /// Stopped after its one invocation.
    PerInvocation,
}

impl Isolation {
    /// The option a variable's value names; anything else is refused when the function is
    /// configured, so a typo never silently means `warm`.
    pub fn parse(value: &str) -> Result<Self, FunctionsError> {
        match value {
            "warm" => Ok(Isolation::Warm),
            "per-invocation" => Ok(Isolation::PerInvocation),
            other => Err(FunctionsError::InvalidParameterValue(format!(
                "The environment variable {ISOLATION_VARIABLE} must be \"warm\" or \"per-invocation\", not {other:?}."
            ))),
        }
    }

    /// The isolation of a function whose (opened) variables are `variables`.
    pub fn of<'a>(mut variables: impl Iterator<Item = (&'a str, &'a str)>) -> Self {
        variables
            .find(|(name, _)| *name == ISOLATION_VARIABLE)
            .and_then(|(_, value)| Isolation::parse(value).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_two_values_and_nothing_else() {
        assert_eq!(Isolation::parse("warm").unwrap(), Isolation::Warm);
        assert_eq!(
            Isolation::parse("per-invocation").unwrap(),
            Isolation::PerInvocation
        );
        for bad in [
            "",
            "Per-Invocation",
            "per_invocation",
            "always",
            "per-invocation ",
        ] {
            assert!(
                matches!(
                    Isolation::parse(bad),
                    Err(FunctionsError::InvalidParameterValue(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_function_without_the_variable_is_warm() {
        assert_eq!(
            Isolation::of([("GREETING", "hi")].into_iter()),
            Isolation::Warm
        );
        assert_eq!(
            Isolation::of([("A", "1"), (ISOLATION_VARIABLE, "per-invocation")].into_iter()),
            Isolation::PerInvocation
        );
    }
}
