//! The runtimes this host runs: `provided.al2023`/`provided.al2`/`provided` (the package's
//! own `bootstrap` executable) and `python3.x` (the host's Python, running the official
//! `awslambdaric` when it is importable and otherwise the runtime loop Rampart ships,
//! `runtimes/python_bootstrap.py`). Other runtimes of the service model are refused at
//! CreateFunction rather than accepted and never run.

use crate::error::FunctionsError;

/// Every runtime value the service model accepts (for `ValidationException`).
const MODEL_RUNTIMES: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "java8",
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "java25",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet6",
    "dotnet8",
    "dotnet10",
    "nodejs4.3-edge",
    "go1.x",
    "ruby2.5",
    "ruby2.7",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "provided",
    "provided.al2",
    "provided.al2023",
];

/// The Python runtime loop Rampart ships, used when `awslambdaric` is not importable.
pub const PYTHON_BOOTSTRAP: &str = include_str!("runtimes/python_bootstrap.py");

/// A runtime a function can be created with here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// `python3.8` … `python3.14`, run by the host's Python.
    Python(String),
    /// `provided`, `provided.al2`, `provided.al2023`: the package's `bootstrap`.
    Provided(String),
}

impl Runtime {
    pub fn parse(value: &str) -> Result<Self, FunctionsError> {
        if !MODEL_RUNTIMES.contains(&value) {
            return Err(FunctionsError::constraint(
                value,
                "runtime",
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    MODEL_RUNTIMES.join(", ")
                ),
            ));
        }
        let python_minor = value
            .strip_prefix("python3.")
            .and_then(|m| m.parse::<u32>().ok());
        match (value, python_minor) {
            (_, Some(minor)) if minor >= 8 => Ok(Runtime::Python(value.to_owned())),
            ("provided" | "provided.al2" | "provided.al2023", _) => {
                Ok(Runtime::Provided(value.to_owned()))
            }
            _ => Err(FunctionsError::InvalidParameterValue(format!(
                "The runtime parameter of {value} is not supported by this Rampart host, which runs python3.8 and later and the provided runtimes."
            ))),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Runtime::Python(name) | Runtime::Provided(name) => name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_runtimes_this_host_runs() {
        assert_eq!(
            Runtime::parse("python3.12").unwrap(),
            Runtime::Python("python3.12".into())
        );
        assert!(matches!(
            Runtime::parse("provided.al2023"),
            Ok(Runtime::Provided(_))
        ));
        assert!(matches!(
            Runtime::parse("nodejs20.x"),
            Err(FunctionsError::InvalidParameterValue(_))
        ));
        assert!(matches!(
            Runtime::parse("python2.7"),
            Err(FunctionsError::InvalidParameterValue(_))
        ));
        assert!(matches!(
            Runtime::parse("cobol"),
            Err(FunctionsError::Validation(_))
        ));
    }
}
