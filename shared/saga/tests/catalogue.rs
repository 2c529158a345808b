//! The event catalogue in `events/` is kept honest: every sample event
//! matches its JSON schema and parses into its domain type, every schema
//! names the source and detail-type the code publishes, and every sample SQS
//! batch reads as saga deliveries.

use std::path::PathBuf;

use astroshop_domain::events::*;
use astroshop_saga::Delivery;
use aws_lambda_events::event::sqs::SqsEvent;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn read(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Checks `value` against the subset of JSON Schema the catalogue uses
/// (type, required, properties, additionalProperties, items, minItems, enum,
/// minimum, maximum, minLength, $ref); patterns are left to the domain types,
/// which the samples must also parse into.
fn validate(schema: &Value, root: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(reference) = schema["$ref"].as_str() {
        let target = root
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("unresolved {reference}"));
        return validate(target, root, value, at, errors);
    }
    let kind_ok = match schema["type"].as_str() {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some(other) => panic!("type {other} is not used by the catalogue"),
        None => true,
    };
    if !kind_ok {
        errors.push(format!("{at}: expected {}, got {value}", schema["type"]));
        return;
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {options:?}"));
    }
    if let (Some(minimum), Some(number)) = (schema["minimum"].as_i64(), value.as_i64())
        && number < minimum
    {
        errors.push(format!("{at}: {number} < {minimum}"));
    }
    if let (Some(maximum), Some(number)) = (schema["maximum"].as_i64(), value.as_i64())
        && number > maximum
    {
        errors.push(format!("{at}: {number} > {maximum}"));
    }
    if let (Some(min), Some(text)) = (schema["minLength"].as_u64(), value.as_str())
        && (text.chars().count() as u64) < min
    {
        errors.push(format!("{at}: shorter than {min}"));
    }
    if let Some(object) = value.as_object() {
        for field in schema["required"].as_array().into_iter().flatten() {
            let field = field.as_str().unwrap_or_default();
            if !object.contains_key(field) {
                errors.push(format!("{at}: missing {field}"));
            }
        }
        let properties = schema["properties"].as_object();
        for (field, inner) in object {
            match properties.and_then(|p| p.get(field)) {
                Some(field_schema) => validate(field_schema, root, inner, &format!("{at}.{field}"), errors),
                None if schema["additionalProperties"] == false => {
                    errors.push(format!("{at}: unexpected field {field}"))
                }
                None => {}
            }
        }
    }
    if let Some(items) = value.as_array() {
        if let Some(min) = schema["minItems"].as_u64()
            && (items.len() as u64) < min
        {
            errors.push(format!("{at}: fewer than {min} items"));
        }
        for (index, item) in items.iter().enumerate() {
            validate(&schema["items"], root, item, &format!("{at}[{index}]"), errors);
        }
    }
}

fn check<T: DomainEvent + DeserializeOwned>() {
    let name = T::DETAIL_TYPE.trim_end_matches(".v1");
    let sample = read(events_dir().join(format!("bus/{name}.json")));
    let schema = read(events_dir().join(format!("schemas/{}.json", T::DETAIL_TYPE)));
    assert_eq!(schema["x-source"], T::SOURCE, "{name}: schema source");
    assert_eq!(
        schema["x-detail-type"],
        T::DETAIL_TYPE,
        "{name}: schema detail-type"
    );
    assert_eq!(sample["source"], T::SOURCE, "{name}: sample source");
    assert_eq!(
        sample["detail-type"],
        T::DETAIL_TYPE,
        "{name}: sample detail-type"
    );
    let mut errors = Vec::new();
    validate(&schema, &schema, &sample["detail"], "detail", &mut errors);
    assert!(
        errors.is_empty(),
        "{name}: the sample breaks its schema: {errors:#?}"
    );
    let envelope: Envelope<T> = serde_json::from_value(sample["detail"].clone())
        .unwrap_or_else(|e| panic!("{name}: the sample does not parse as the domain type: {e}"));
    assert_eq!(
        envelope.metadata.event_id,
        event_id::<T>(envelope.data.order_id())
    );
}

#[test]
fn every_sample_event_matches_its_schema_and_domain_type() {
    check::<OrderPlaced>();
    check::<InventoryReserved>();
    check::<InventoryReservationFailed>();
    check::<PaymentSucceeded>();
    check::<PaymentFailed>();
    check::<InventoryReleased>();
    check::<OrderShipped>();
    check::<OrderConfirmed>();
    check::<OrderFailed>();
    check::<PaymentRefunded>();
    check::<OrderFlagged>();
    let schemas = std::fs::read_dir(events_dir().join("schemas")).unwrap().count();
    assert_eq!(schemas, 11, "a schema without a checked sample");
}

#[test]
fn a_schema_rejects_what_the_domain_rejects() {
    let schema = read(events_dir().join("schemas/OrderFlagged.v1.json"));
    let mut detail = read(events_dir().join("bus/OrderFlagged.json"))["detail"].clone();
    detail["data"]["score"] = Value::from(-1);
    detail["data"]["extra"] = Value::from(true);
    detail["metadata"].as_object_mut().unwrap().remove("eventId");
    let mut errors = Vec::new();
    validate(&schema, &schema, &detail, "detail", &mut errors);
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

#[test]
fn every_sample_sqs_batch_reads_as_saga_deliveries() {
    let mut batches = 0;
    for entry in std::fs::read_dir(events_dir().join("sqs")).unwrap() {
        let path = entry.unwrap().path();
        let event: SqsEvent = serde_json::from_value(read(path.clone())).unwrap();
        assert!(!event.records.is_empty(), "{}", path.display());
        for record in &event.records {
            let delivery = Delivery::read(record).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(delivery.detail_type.ends_with(".v1"), "{}", path.display());
        }
        batches += 1;
    }
    assert_eq!(batches, 10, "one sample batch per queue consumer");
}
