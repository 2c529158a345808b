//! The event catalogue in `events/` is kept honest: every sample event (on
//! the bus, in an SQS batch, in the orders outbox's stream) matches its JSON
//! schema, formats and patterns included, and parses into its domain type;
//! every schema names the source and detail-type the code publishes; the
//! schemas take exactly the e-mail addresses and times the domain types
//! take; and every sample SQS batch reads as saga deliveries.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use astroshop_domain::events::*;
use astroshop_domain::{EmailAddress, Timestamp};
use astroshop_saga::Delivery;
use aws_lambda_events::event::sqs::SqsEvent;
use jsonschema::Validator;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `.json` files of one folder of the catalogue, by name.
fn files(folder: &str) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(events_dir().join(folder))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "json"))
        .collect();
    paths.sort();
    paths
}

fn name(path: &Path) -> String {
    let folder = path.parent().and_then(Path::file_name).unwrap_or_default();
    let file = path.file_name().unwrap_or_default();
    format!("{}/{}", folder.display(), file.display())
}

/// One event type the shop publishes: its names on the bus, and whether an
/// event's `detail` reads as it.
struct EventType {
    source: &'static str,
    detail_type: &'static str,
    reads: fn(&Value) -> Result<(), String>,
}

fn event_type<T: DomainEvent + DeserializeOwned>() -> EventType {
    EventType {
        source: T::SOURCE,
        detail_type: T::DETAIL_TYPE,
        reads: |detail| {
            let envelope: Envelope<T> = serde_json::from_value(detail.clone())
                .map_err(|e| format!("does not parse as the domain type: {e}"))?;
            let expected = event_id::<T>(envelope.data.order_id());
            if envelope.metadata.event_id == expected {
                Ok(())
            } else {
                Err(format!(
                    "eventId {:?} is not {expected:?}",
                    envelope.metadata.event_id
                ))
            }
        },
    }
}

fn event_types() -> [EventType; 12] {
    [
        event_type::<OrderPlaced>(),
        event_type::<InventoryReserved>(),
        event_type::<InventoryReservationFailed>(),
        event_type::<PaymentSucceeded>(),
        event_type::<PaymentFailed>(),
        event_type::<InventoryReleased>(),
        event_type::<OrderShipped>(),
        event_type::<ShipmentWithheld>(),
        event_type::<OrderConfirmed>(),
        event_type::<OrderFailed>(),
        event_type::<PaymentRefunded>(),
        event_type::<OrderFlagged>(),
    ]
}

/// A schema's validator, with `format` asserted (2020-12 only annotates it
/// unless asked).
fn validator(schema: &Value) -> Validator {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|e| panic!("{}: not a valid schema: {e}", schema["$id"]))
}

/// Every schema of the catalogue, by the detail-type it names.
fn schemas() -> BTreeMap<String, Value> {
    files("schemas")
        .iter()
        .map(|path| {
            let schema = read(path);
            let detail_type = schema["x-detail-type"].as_str().unwrap_or_default().to_owned();
            (detail_type, schema)
        })
        .collect()
}

/// Every schema's validator, by detail-type.
fn validators() -> BTreeMap<String, Validator> {
    schemas()
        .into_iter()
        .map(|(detail_type, schema)| (detail_type, validator(&schema)))
        .collect()
}

/// What is wrong with `sample`, by its schema and its domain type.
fn problems_of(sample: &Sample, validators: &BTreeMap<String, Validator>) -> Vec<String> {
    let Sample {
        source,
        detail_type,
        detail,
        ..
    } = sample;
    let types = event_types();
    let Some(event_type) = types.iter().find(|t| t.detail_type == detail_type) else {
        return vec![format!("{detail_type:?} is not an event type the shop publishes")];
    };
    let mut problems = Vec::new();
    if source != event_type.source {
        problems.push(format!("source {source:?} is not {:?}", event_type.source));
    }
    match validators.get(detail_type) {
        None => problems.push(format!("no schema names {detail_type}")),
        Some(validator) => problems.extend(validator.iter_errors(detail).map(|error| {
            format!(
                "breaks its schema at {:?}: {error}",
                error.instance_path().as_str()
            )
        })),
    }
    if let Err(problem) = (event_type.reads)(detail) {
        problems.push(problem);
    }
    problems
}

/// One sample event of the catalogue, and where it is.
struct Sample {
    at: String,
    source: String,
    detail_type: String,
    detail: Value,
}

impl Sample {
    /// An event as EventBridge delivers it (`source`, `detail-type`, `detail`).
    fn of_bus_event(at: String, event: &Value) -> Self {
        Self {
            at,
            source: event["source"].as_str().unwrap_or_default().to_owned(),
            detail_type: event["detail-type"].as_str().unwrap_or_default().to_owned(),
            detail: event["detail"].clone(),
        }
    }
}

/// Every sample event: each on the bus, each in an SQS batch (the body is
/// the bus event) and each outbox item in the orders stream sample.
fn samples() -> Vec<Sample> {
    let mut samples = Vec::new();
    for path in files("bus") {
        samples.push(Sample::of_bus_event(name(&path), &read(&path)));
    }
    for path in files("sqs") {
        for (index, record) in read(&path)["Records"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = format!("{} record {index}", name(&path));
            let body = serde_json::from_str(record["body"].as_str().unwrap_or_default())
                .unwrap_or_else(|e| panic!("{at}: the body is not JSON: {e}"));
            samples.push(Sample::of_bus_event(at, &body));
        }
    }
    let outbox = events_dir().join("dynamodb/orders-outbox-insert.json");
    for (index, record) in read(&outbox)["Records"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("{} record {index}", name(&outbox));
        let item = &record["dynamodb"]["NewImage"];
        let text = |attribute: &str| item[attribute]["S"].as_str().unwrap_or_default().to_owned();
        samples.push(Sample {
            source: text("source"),
            detail_type: text("detailType"),
            detail: serde_json::from_str(&text("detail"))
                .unwrap_or_else(|e| panic!("{at}: the detail is not JSON: {e}")),
            at,
        });
    }
    samples
}

#[test]
fn every_sample_event_matches_its_schema_and_domain_type() {
    let samples = samples();
    let validators = validators();
    let problems: Vec<String> = samples
        .iter()
        .flat_map(|sample| {
            problems_of(sample, &validators)
                .into_iter()
                .map(move |problem| format!("{}: {problem}", sample.at))
        })
        .collect();
    assert!(
        problems.is_empty(),
        "{} problems with the catalogue's sample events:\n{}",
        problems.len(),
        problems.join("\n")
    );
    for folder in ["bus/", "sqs/", "dynamodb/"] {
        assert!(
            samples.iter().any(|sample| sample.at.starts_with(folder)),
            "no sample event read from {folder}"
        );
    }
}

#[test]
fn every_event_type_has_a_schema_naming_it_and_a_sample_on_the_bus() {
    let schemas = schemas();
    for event_type in event_types() {
        let name = event_type.detail_type.trim_end_matches(".v1");
        let schema = &schemas[event_type.detail_type];
        assert_eq!(schema["x-source"], event_type.source, "{name}: schema source");
        let sample = read(&events_dir().join(format!("bus/{name}.json")));
        assert_eq!(sample["source"], event_type.source, "{name}: sample source");
        assert_eq!(
            sample["detail-type"], event_type.detail_type,
            "{name}: sample detail-type"
        );
    }
    assert_eq!(schemas.len(), 12, "a schema without a checked sample");
    let defs: Vec<&Value> = schemas.values().map(|schema| &schema["$defs"]).collect();
    assert!(
        defs.iter().all(|each| *each == defs[0]),
        "the schemas' shared definitions ($defs) differ: an edit reached only some"
    );
}

#[test]
fn a_schema_rejects_what_the_domain_rejects() {
    let schema = read(&events_dir().join("schemas/OrderFlagged.v1.json"));
    let mut detail = read(&events_dir().join("bus/OrderFlagged.json"))["detail"].clone();
    detail["data"]["score"] = Value::from(-1);
    detail["data"]["extra"] = Value::from(true);
    detail["metadata"].as_object_mut().unwrap().remove("eventId");
    let errors: Vec<String> = validator(&schema)
        .iter_errors(&detail)
        .map(|e| e.to_string())
        .collect();
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

/// OrderPlaced's sample with `pointer` set to `text`: whether its schema
/// takes it.
fn schema_takes(pointer: &str, text: &str) -> bool {
    let schema = read(&events_dir().join("schemas/OrderPlaced.v1.json"));
    let mut detail = read(&events_dir().join("bus/OrderPlaced.json"))["detail"].clone();
    *detail.pointer_mut(pointer).unwrap() = Value::from(text);
    validator(&schema).is_valid(&detail)
}

#[test]
fn the_schemas_take_exactly_the_addresses_the_domain_takes() {
    let label = "d".repeat(63);
    let longest = format!("{}@{label}.{label}.{}", "l".repeat(64), "d".repeat(61));
    let addresses = [
        "larry_sergei@example.com",
        "Larry.Page@Example.COM",
        "a+shop@mail.b.example",
        "o'brien@example.ie",
        "x@xn--mller-kva.de",
        "1@2.example",
        &longest,
        &format!("{longest}x"),
        &format!("{}@example.com", "l".repeat(65)),
        &format!("a@{}.com", "d".repeat(64)),
        "",
        "larry",
        "@example.com",
        "larry@",
        "larry@localhost",
        "a@b.",
        "larry@example..com",
        "larry@-example.com",
        "larry@example-.com",
        "larry@exa_mple.com",
        "larry@a@example.com",
        "larry page@example.com",
        " larry@example.com",
        "larry@example.com\n",
        ".larry@example.com",
        "lar..ry@example.com",
        "\"larry\"@example.com",
        "Larry <larry@example.com>",
        "larry@[127.0.0.1]",
        "larry@müller.de",
        "lärry@example.com",
    ];
    let disagreements: Vec<String> = addresses
        .iter()
        .filter(|address| schema_takes("/data/order/email", address) != EmailAddress::parse(address).is_ok())
        .map(|address| format!("{address:?}: the domain says {:?}", EmailAddress::parse(address)))
        .collect();
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

#[test]
fn the_schemas_take_exactly_the_times_the_domain_takes() {
    let times = [
        "2026-11-21T10:00:00Z",
        "2026-11-21T10:00:00.000Z",
        "2026-11-21T10:00:01.123456789Z",
        "2026-11-21T21:30:00-05:00",
        "2026-11-21t10:00:00z",
        "yesterday",
        "",
        "2026-11-21",
        "2026-11-21T10:00:00",
        "2026-11-21 10:00:00Z",
        "2026-11-31T10:00:00Z",
        "2026-11-21T25:00:00Z",
        "1795262400",
        " 2026-11-21T10:00:00Z",
    ];
    let mut disagreements = Vec::new();
    for pointer in ["/data/order/placedAt", "/metadata/occurredAt"] {
        for time in times {
            if schema_takes(pointer, time) != Timestamp::parse(time).is_ok() {
                disagreements.push(format!(
                    "{pointer} {time:?}: the domain says {:?}",
                    Timestamp::parse(time)
                ));
            }
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

#[test]
fn every_sample_sqs_batch_reads_as_saga_deliveries() {
    let mut batches = 0;
    for path in files("sqs") {
        let event: SqsEvent = serde_json::from_value(read(&path)).unwrap();
        assert!(!event.records.is_empty(), "{}", path.display());
        for record in &event.records {
            let delivery = Delivery::read(record).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(delivery.detail_type.ends_with(".v1"), "{}", path.display());
        }
        batches += 1;
    }
    assert_eq!(batches, 10, "one sample batch per queue consumer");
}
