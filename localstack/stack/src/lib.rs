//! The Docker-free local stack. No emulator on PyPI or crates.io runs a
//! `provided.al2023` Lambda or serves an API Gateway HTTP API, so this crate
//! does that part, reading `infra/template.yaml`: it provisions the AWS
//! emulators (dynoxide for DynamoDB, moto server for the rest; `emulator`)
//! with the template's resources, runs the functions as Lambda runs them
//! (`runtime`, `functions`), and serves the HTTP API on a local port,
//! checking the tokens of the routes that name a JWT authorizer against the
//! emulator's Cognito user pools, as API Gateway checks them, and holding
//! each route to the throttling the template gives it. Every AWS call a
//! function makes is checked against the role SAM would give it (`iam`).
//!
//! Every trigger reaches a function the same way: an event built here, posted
//! to the stack's Invoke API (`functions::invoke_url`). The
//! gateway does it for `HttpApi` events; SQS, DynamoDB-stream and Schedule
//! sources plug in beside it, reading their resources from the template
//! through `template` and `resolve` and polling the emulator as Lambda's
//! event source mappings do.
//!
//! The functions' output passes through it too: the Embedded Metric Format
//! lines among it are added up as CloudWatch would, and served as Prometheus
//! text (`metrics`). Their spans go over OTLP to the trace viewer (Arize
//! Phoenix) it starts when installed (`viewer`).

pub mod account;
pub mod apigw;
pub mod authorizer;
pub mod control;
pub mod emulator;
pub mod flags;
pub mod functions;
pub mod gateway;
pub mod iam;
pub mod metrics;
pub mod process;
pub mod provision;
pub mod queues;
pub mod redrive;
pub mod resolve;
pub mod routes;
pub mod runtime;
pub mod serve;
pub mod sources;
pub mod stack;
pub mod streams;
pub mod template;
pub mod throttle;
pub mod tools;
pub mod viewer;

pub use stack::{Stack, StackOptions};
