//! An `AWS.AppConfig.FeatureFlags` document, as the template's hosted
//! configuration holds it: each flag with its attributes' constraints, and
//! the flags' values. AppConfig refuses a version whose values break their
//! constraints; `set` refuses a change the same way.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{FlagValue, FlagValues};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FlagError {
    #[error("not an AWS.AppConfig.FeatureFlags document: {0}")]
    Unreadable(String),
    #[error("there is no flag {0:?}")]
    UnknownFlag(String),
    #[error("flag {flag} has no attribute {attribute:?}")]
    UnknownAttribute { flag: String, attribute: String },
    #[error("{flag}.{attribute} must be {rule}, not {value}")]
    Constraint {
        flag: String,
        attribute: String,
        rule: String,
        value: Value,
    },
    #[error("{flag}.{attribute} is required")]
    Missing { flag: String, attribute: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlagDocument {
    version: String,
    flags: BTreeMap<String, Definition>,
    values: BTreeMap<String, FlagValue>,
}

/// A flag as the document defines it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Definition {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    attributes: BTreeMap<String, Attribute>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Attribute {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    constraints: Option<Constraints>,
}

/// What AppConfig checks an attribute's value against.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Constraints {
    #[serde(rename = "type")]
    kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    minimum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    maximum: Option<f64>,
    #[serde(default, rename = "enum", skip_serializing_if = "Option::is_none")]
    allowed: Option<Vec<Value>>,
    #[serde(default)]
    required: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    String,
    Number,
    Boolean,
}

/// One flag as `./shop flags` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct FlagListing<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub value: &'a FlagValue,
}

impl FlagDocument {
    /// Reads a document and checks its values against their constraints.
    pub fn parse(text: &str) -> Result<Self, FlagError> {
        let document: Self =
            serde_json::from_str(text).map_err(|error| FlagError::Unreadable(error.to_string()))?;
        if document.version != "1" {
            return Err(FlagError::Unreadable(format!(
                "version {:?}, where AppConfig reads \"1\"",
                document.version
            )));
        }
        for (flag, value) in &document.values {
            document.check(flag, value)?;
        }
        if let Some(flag) = document
            .values
            .keys()
            .find(|flag| !document.flags.contains_key(*flag))
        {
            return Err(FlagError::UnknownFlag(flag.clone()));
        }
        Ok(document)
    }

    /// What the AppConfig agent answers for this document: every defined
    /// flag's value (a flag without one is off).
    pub fn values(&self) -> FlagValues {
        FlagValues(
            self.flags
                .keys()
                .map(|flag| (flag.clone(), self.values.get(flag).cloned().unwrap_or_default()))
                .collect(),
        )
    }

    /// Every flag with its description and value, by name.
    pub fn listing(&self) -> Vec<FlagListing<'_>> {
        static OFF: FlagValue = FlagValue {
            enabled: false,
            attributes: BTreeMap::new(),
        };
        self.flags
            .iter()
            .map(|(name, definition)| FlagListing {
                name,
                description: definition.description.as_deref(),
                value: self.values.get(name).unwrap_or(&OFF),
            })
            .collect()
    }

    /// Turns `flag` on or off (`enabled`, else as it was) and sets the
    /// attributes given, keeping the others; nothing changes unless the new
    /// value meets the flag's constraints.
    pub fn set(
        &mut self,
        flag: &str,
        enabled: Option<bool>,
        attributes: BTreeMap<String, Value>,
    ) -> Result<&FlagValue, FlagError> {
        let mut value = self.values.get(flag).cloned().unwrap_or_default();
        if let Some(enabled) = enabled {
            value.enabled = enabled;
        }
        value.attributes.extend(attributes);
        self.check(flag, &value)?;
        self.values.insert(flag.to_owned(), value);
        Ok(&self.values[flag])
    }

    fn check(&self, flag: &str, value: &FlagValue) -> Result<(), FlagError> {
        let definition = self
            .flags
            .get(flag)
            .ok_or_else(|| FlagError::UnknownFlag(flag.to_owned()))?;
        if let Some(attribute) = value
            .attributes
            .keys()
            .find(|attribute| !definition.attributes.contains_key(*attribute))
        {
            return Err(FlagError::UnknownAttribute {
                flag: flag.to_owned(),
                attribute: attribute.clone(),
            });
        }
        for (attribute, defined) in &definition.attributes {
            let Some(constraints) = &defined.constraints else {
                continue;
            };
            match value.attributes.get(attribute) {
                Some(given) => constraints.check(given).map_err(|rule| FlagError::Constraint {
                    flag: flag.to_owned(),
                    attribute: attribute.clone(),
                    rule,
                    value: given.clone(),
                })?,
                None if constraints.required => {
                    return Err(FlagError::Missing {
                        flag: flag.to_owned(),
                        attribute: attribute.clone(),
                    });
                }
                None => {}
            }
        }
        Ok(())
    }
}

impl Constraints {
    /// `Err(the rule broken)` when `value` breaks one.
    fn check(&self, value: &Value) -> Result<(), String> {
        let fits_kind = match self.kind {
            Kind::String => value.is_string(),
            Kind::Number => value.is_number(),
            Kind::Boolean => value.is_boolean(),
        };
        if !fits_kind {
            return Err(format!("a {}", self.kind.name()));
        }
        if let Some(number) = value.as_f64()
            && (self.minimum.is_some_and(|minimum| number < minimum)
                || self.maximum.is_some_and(|maximum| number > maximum))
        {
            let bound = |b: Option<f64>| b.map_or("any".to_owned(), |b| b.to_string());
            return Err(format!("from {} to {}", bound(self.minimum), bound(self.maximum)));
        }
        if let Some(allowed) = &self.allowed {
            let same = |a: &Value| match (a.as_f64(), value.as_f64()) {
                (Some(a), Some(b)) => a == b,
                _ => a == value,
            };
            if !allowed.iter().any(same) {
                return Err(format!("one of {}", Value::from(allowed.clone())));
            }
        }
        Ok(())
    }
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Number => "number",
            Kind::Boolean => "boolean",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document() -> FlagDocument {
        FlagDocument::parse(
            &json!({
                "version": "1",
                "flags": {
                    "cartFailure": {
                        "name": "cartFailure",
                        "description": "Cart writes fail at this rate",
                        "attributes": {"rate": {"constraints": {"type": "number", "minimum": 0, "maximum": 1, "required": true}}}
                    },
                    "imageSlowLoad": {
                        "name": "imageSlowLoad",
                        "attributes": {"delaySeconds": {"constraints": {"type": "number", "enum": [5, 10]}}}
                    },
                    "paymentUnreachable": {"name": "paymentUnreachable"}
                },
                "values": {
                    "cartFailure": {"enabled": false, "rate": 0.5},
                    "imageSlowLoad": {"enabled": false, "delaySeconds": 5}
                }
            })
            .to_string(),
        )
        .unwrap()
    }

    #[test]
    fn the_agent_answers_every_flag_a_flag_without_a_value_off() {
        let values = document().values();
        assert_eq!(values.0.len(), 3);
        assert_eq!(values.0["paymentUnreachable"], FlagValue::default());
        assert_eq!(values.0["cartFailure"].attributes["rate"], json!(0.5));
    }

    #[test]
    fn setting_keeps_the_attributes_not_given() {
        let mut document = document();
        document.set("cartFailure", Some(true), BTreeMap::new()).unwrap();
        let values = document.values();
        assert!(values.0["cartFailure"].enabled);
        assert_eq!(values.0["cartFailure"].attributes["rate"], json!(0.5));
    }

    #[test]
    fn a_value_that_breaks_a_constraint_is_refused_and_changes_nothing() {
        let mut document = document();
        let rate = |value: Value| BTreeMap::from([("rate".to_owned(), value)]);
        for (value, rule) in [
            (json!(1.5), "from 0 to 1"),
            (json!(-0.1), "from 0 to 1"),
            (json!("half"), "a number"),
        ] {
            let error = document.set("cartFailure", Some(true), rate(value)).unwrap_err();
            assert!(
                matches!(&error, FlagError::Constraint { rule: r, .. } if r == rule),
                "{error}"
            );
        }
        let slow = BTreeMap::from([("delaySeconds".to_owned(), json!(7))]);
        let error = document.set("imageSlowLoad", Some(true), slow).unwrap_err();
        assert_eq!(
            error.to_string(),
            "imageSlowLoad.delaySeconds must be one of [5,10], not 7"
        );
        assert_eq!(document.values(), self::document().values());
    }

    #[test]
    fn unknown_flags_and_attributes_are_refused() {
        let mut document = document();
        assert_eq!(
            document
                .set("noSuchFlag", Some(true), BTreeMap::new())
                .unwrap_err(),
            FlagError::UnknownFlag("noSuchFlag".into())
        );
        let extra = BTreeMap::from([("speed".to_owned(), json!(1))]);
        assert!(matches!(
            document.set("paymentUnreachable", Some(true), extra).unwrap_err(),
            FlagError::UnknownAttribute { .. }
        ));
    }

    #[test]
    fn a_document_whose_values_break_their_constraints_is_refused() {
        let text = json!({
            "version": "1",
            "flags": {"cartFailure": {"name": "cartFailure", "attributes": {"rate": {"constraints": {"type": "number", "required": true}}}}},
            "values": {"cartFailure": {"enabled": false}}
        });
        assert!(matches!(
            FlagDocument::parse(&text.to_string()),
            Err(FlagError::Missing { .. })
        ));
        assert!(matches!(
            FlagDocument::parse(r#"{"version":"2","flags":{},"values":{}}"#),
            Err(FlagError::Unreadable(_))
        ));
    }
}
