//! From JSON text to a [`PolicyDocument`]: the grammar's shape, and which elements each
//! [`PolicyKind`] must or must not have ("Grammar of the IAM JSON policy language" and its
//! "Policy grammar notes"). The values inside the elements are checked by `validate`.

use crate::conditions::ConditionOperator;
use crate::document::{
    ActionElement, Condition, Effect, PolicyDocument, PolicyKind, PolicyVersion, PrincipalElement,
    PrincipalKind, Principals, ResourceElement, Statement,
};
use crate::error::{Location, Malformed, PolicyError};
use crate::json::Json;

/// Parses and validates a policy document of the given kind.
pub fn parse_policy(text: &str, kind: PolicyKind) -> Result<PolicyDocument, PolicyError> {
    let json = Json::parse(text).map_err(|e| {
        // serde_json ends its message with the position, which the location already gives.
        let message = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let detail = message.strip_suffix(&suffix).unwrap_or(&message).to_owned();
        PolicyError::new(
            Malformed::Syntax { detail },
            Location::Document {
                line: Some(e.line()),
                column: Some(e.column()),
            },
        )
    })?;
    let document = document(&json, kind)?;
    crate::validate::validate(&document, kind)?;
    Ok(document)
}

fn syntax(detail: impl Into<String>, location: Location) -> PolicyError {
    PolicyError::new(
        Malformed::Syntax {
            detail: detail.into(),
        },
        location,
    )
}

fn document(json: &Json, kind: PolicyKind) -> Result<PolicyDocument, PolicyError> {
    let doc_location = Location::Document {
        line: None,
        column: None,
    };
    let Json::Object(entries) = json else {
        return Err(syntax(
            format!("a policy must be a JSON object, not {}", json.type_name()),
            doc_location,
        ));
    };
    let mut version = None;
    let mut id = None;
    let mut statement = None;
    for (key, value) in entries {
        let here = || Location::Element(key.clone());
        match key.as_str() {
            "Version" => {
                version = Some(match value {
                    Json::String(s) if s == "2012-10-17" => PolicyVersion::V2012_10_17,
                    Json::String(s) if s == "2008-10-17" => PolicyVersion::V2008_10_17,
                    other => {
                        let found = other
                            .scalar_text()
                            .unwrap_or_else(|| other.type_name().into());
                        return Err(PolicyError::new(
                            Malformed::InvalidVersion { found },
                            here(),
                        ));
                    }
                })
            }
            "Id" => match value {
                Json::String(s) => id = Some(s.clone()),
                other => {
                    return Err(syntax(
                        format!("Id must be a string, not {}", other.type_name()),
                        here(),
                    ))
                }
            },
            "Statement" => statement = Some(value),
            _ => return Err(syntax(format!("unknown element {key:?}"), here())),
        }
    }
    let Some(statement) = statement else {
        return Err(PolicyError::new(Malformed::MissingStatement, doc_location));
    };
    let items: Vec<&Json> = match statement {
        Json::Object(_) => vec![statement],
        Json::Array(items) => items.iter().collect(),
        other => {
            return Err(syntax(
                format!(
                    "Statement must be an object or an array, not {}",
                    other.type_name()
                ),
                Location::Element("Statement".into()),
            ))
        }
    };
    if items.is_empty() {
        return Err(syntax(
            "Statement must hold at least one statement",
            Location::Element("Statement".into()),
        ));
    }
    let statements = items
        .into_iter()
        .enumerate()
        .map(|(index, item)| statement_of(item, index, kind))
        .collect::<Result<_, _>>()?;
    Ok(PolicyDocument {
        version,
        id,
        statements,
    })
}

/// A statement's position, for error locations.
struct Here {
    index: usize,
    sid: Option<String>,
}

impl Here {
    fn at(&self, field: &str) -> Location {
        Location::Statement {
            index: self.index,
            sid: self.sid.clone(),
            field: Some(field.to_owned()),
        }
    }

    fn whole(&self) -> Location {
        Location::Statement {
            index: self.index,
            sid: self.sid.clone(),
            field: None,
        }
    }
}

fn statement_of(json: &Json, index: usize, kind: PolicyKind) -> Result<Statement, PolicyError> {
    let Json::Object(entries) = json else {
        let here = Here { index, sid: None };
        return Err(syntax(
            format!(
                "a statement must be a JSON object, not {}",
                json.type_name()
            ),
            here.whole(),
        ));
    };
    // The Sid first, so that every error below can name the statement by it.
    let sid = entries.iter().find(|(k, _)| k == "Sid").map(|(_, v)| v);
    let here = Here {
        index,
        sid: sid.and_then(|v| v.scalar_text()),
    };
    let sid = match sid {
        None => None,
        Some(Json::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(syntax(
                format!("Sid must be a string, not {}", other.type_name()),
                here.at("Sid"),
            ))
        }
    };

    let mut effect = None;
    let mut principal: Option<PrincipalElement> = None;
    let mut action: Option<ActionElement> = None;
    let mut resource: Option<ResourceElement> = None;
    let mut conditions = Vec::new();
    for (key, value) in entries {
        match key.as_str() {
            "Sid" => {}
            "Effect" => {
                effect = Some(match value {
                    Json::String(s) if s == "Allow" => Effect::Allow,
                    Json::String(s) if s == "Deny" => Effect::Deny,
                    other => {
                        let found = other
                            .scalar_text()
                            .unwrap_or_else(|| other.type_name().into());
                        return Err(PolicyError::new(
                            Malformed::InvalidEffect { found },
                            here.at("Effect"),
                        ));
                    }
                })
            }
            "Principal" | "NotPrincipal" => {
                if principal.is_some() {
                    return Err(conflict("Principal", "NotPrincipal", &here));
                }
                principal = Some(PrincipalElement {
                    negated: key == "NotPrincipal",
                    principals: principals_of(value, &here.at(key))?,
                });
            }
            "Action" | "NotAction" => {
                if action.is_some() {
                    return Err(conflict("Action", "NotAction", &here));
                }
                action = Some(ActionElement {
                    negated: key == "NotAction",
                    actions: strings_of(value, &here.at(key))?,
                });
            }
            "Resource" | "NotResource" => {
                if resource.is_some() {
                    return Err(conflict("Resource", "NotResource", &here));
                }
                resource = Some(ResourceElement {
                    negated: key == "NotResource",
                    resources: strings_of(value, &here.at(key))?,
                });
            }
            "Condition" => conditions = conditions_of(value, &here)?,
            _ => return Err(syntax(format!("unknown element {key:?}"), here.at(key))),
        }
    }

    let Some(effect) = effect else {
        return Err(PolicyError::new(
            Malformed::MissingRequiredField { field: "Effect" },
            here.whole(),
        ));
    };
    if kind.names_principals() && principal.is_none() {
        return Err(PolicyError::new(
            Malformed::MissingRequiredField { field: "Principal" },
            here.whole(),
        ));
    }
    if let (false, Some(p)) = (kind.names_principals(), &principal) {
        let field = if p.negated {
            "NotPrincipal"
        } else {
            "Principal"
        };
        return Err(PolicyError::new(
            Malformed::PrincipalNotAllowed,
            here.at(field),
        ));
    }
    let action = match action {
        Some(a) if !a.actions.is_empty() => a,
        Some(_) | None => {
            let reason = if kind.is_iam() {
                Malformed::MissingActions
            } else {
                Malformed::MissingRequiredField { field: "Action" }
            };
            return Err(PolicyError::new(reason, here.whole()));
        }
    };
    match (&resource, kind) {
        (Some(r), PolicyKind::Trust) => {
            let field = if r.negated { "NotResource" } else { "Resource" };
            return Err(PolicyError::new(
                Malformed::ProhibitedField { field },
                here.at(field),
            ));
        }
        (None, PolicyKind::Trust) => {}
        (Some(r), _) if !r.resources.is_empty() => {}
        (_, PolicyKind::Resource) => {
            return Err(PolicyError::new(
                Malformed::MissingRequiredField { field: "Resource" },
                here.whole(),
            ))
        }
        _ => return Err(PolicyError::new(Malformed::MissingResources, here.whole())),
    }
    Ok(Statement {
        sid,
        effect,
        principal,
        action,
        resource,
        conditions,
    })
}

fn conflict(a: &str, b: &str, here: &Here) -> PolicyError {
    syntax(
        format!("a statement can have {a} or {b}, not both"),
        here.at(b),
    )
}

/// A string or an array of strings ("If the element takes an array … but only one value
/// is included, the brackets are optional").
fn strings_of(json: &Json, location: &Location) -> Result<Vec<String>, PolicyError> {
    match json {
        Json::String(s) => Ok(vec![s.clone()]),
        Json::Array(items) => items
            .iter()
            .map(|item| match item {
                Json::String(s) => Ok(s.clone()),
                other => Err(syntax(
                    format!("expected a string, found {}", other.type_name()),
                    location.clone(),
                )),
            })
            .collect(),
        other => Err(syntax(
            format!(
                "expected a string or an array of strings, found {}",
                other.type_name()
            ),
            location.clone(),
        )),
    }
}

fn principals_of(json: &Json, location: &Location) -> Result<Principals, PolicyError> {
    match json {
        Json::String(s) if s == "*" => Ok(Principals::Everyone),
        Json::String(s) => Err(PolicyError::new(
            Malformed::InvalidPrincipal {
                kind: String::new(),
                value: s.clone(),
            },
            location.clone(),
        )),
        Json::Object(entries) if entries.is_empty() => Err(syntax(
            "a principal element must name at least one principal",
            location.clone(),
        )),
        Json::Object(entries) => {
            let mut map = Vec::new();
            for (key, value) in entries {
                let ids = strings_of(value, location)?;
                let Some(kind) = PrincipalKind::from_key(key) else {
                    return Err(PolicyError::new(
                        Malformed::InvalidPrincipal {
                            kind: key.clone(),
                            value: ids.join(","),
                        },
                        location.clone(),
                    ));
                };
                if ids.is_empty() {
                    return Err(syntax(
                        format!("{key} names no principal"),
                        location.clone(),
                    ));
                }
                map.push((kind, ids));
            }
            Ok(Principals::Map(map))
        }
        other => Err(syntax(
            format!("expected \"*\" or an object, found {}", other.type_name()),
            location.clone(),
        )),
    }
}

/// `{ operator: { key: value-or-values } }`, flattened to one entry per operator/key.
fn conditions_of(json: &Json, here: &Here) -> Result<Vec<Condition>, PolicyError> {
    let location = here.at("Condition");
    let Json::Object(operators) = json else {
        return Err(syntax(
            format!("Condition must be an object, not {}", json.type_name()),
            location,
        ));
    };
    let mut out = Vec::new();
    for (name, block) in operators {
        let Some(operator) = ConditionOperator::parse(name) else {
            return Err(PolicyError::new(
                Malformed::InvalidConditionOperator {
                    operator: name.clone(),
                },
                location,
            ));
        };
        let Json::Object(keys) = block else {
            return Err(syntax(
                format!(
                    "{name} must map condition keys to values, not be {}",
                    block.type_name()
                ),
                location,
            ));
        };
        for (key, value) in keys {
            let values = match value {
                Json::Array(items) => items
                    .iter()
                    .map(|v| v.scalar_text())
                    .collect::<Option<Vec<_>>>(),
                scalar => scalar.scalar_text().map(|v| vec![v]),
            };
            let values = match values {
                Some(values) if !values.is_empty() => values,
                _ => {
                    return Err(syntax(
                        format!(
                            "{name} {key}: a condition value must be a string, number or \
                             boolean, or a non-empty array of them"
                        ),
                        location,
                    ))
                }
            };
            out.push(Condition {
                operator,
                key: key.clone(),
                values,
            });
        }
    }
    Ok(out)
}
