//! The floor of the cold-start benchmark: a `lambda_runtime` function that
//! answers each event with the event itself, and does nothing else. Built in
//! the workspace as every function is, so the comparison is of what the
//! functions add.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(event.payload)
    }))
    .await
}
