//! The API against its published contract: `GET /api/openapi.json` serves
//! infra/openapi.json as it is in the repository, and schemathesis (from
//! .venv/contract, which `./shop test` installs) fuzzes every operation of
//! the served document with inputs it generates from the schemas, valid and
//! invalid, signed in where the operation asks for a token. Any answer that
//! is a 5xx, has a status, content type, header or body the document does
//! not give that operation, accepts input the document says is invalid,
//! answers a method the path does not take with anything but a 405, or lets
//! a request without its token through, fails.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use astroshop_tests::{Shop, ensure_that};
use local_stack::tools::repo_root;

pub const TESTS: &[(&str, crate::Test)] = tests![the_served_document_is_the_repositorys];

// Alone, and last: the fuzzer adds, replaces and deletes products and sets
// stock levels (the seeded ones' too, through the document's examples), and
// spends checkouts of 127.0.0.1's allowance, which no other test should find.
pub const EXCLUSIVE: &[(&str, crate::Test)] = tests![schemathesis_finds_no_failure_in_any_operation];

/// Test cases per operation and phase: enough to reach every documented
/// status of each operation, few enough for the run to stay near a minute.
/// `ASTROSHOP_CONTRACT_EXAMPLES` asks for more, for a deeper run by hand.
const MAX_EXAMPLES: &str = "8";

/// The answers that reject input the document says is invalid:
/// schemathesis's own list, and the gateway's refusals of a request too
/// large for API Gateway (413 for the body, 414 for the request line, 431
/// for the headers), which a generated value can be.
const REJECTIONS: &str = r#"["400", "401", "403", "404", "405", "406", "409", "413", "414", "415", "422", "428", "429", "431", "5xx"]"#;

const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,response_headers_conformance,negative_data_rejection,\
                      unsupported_method,ignored_auth";

fn the_served_document_is_the_repositorys(shop: &Shop) -> Result<()> {
    let path = repo_root().join("infra/openapi.json");
    let file: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
    )?;
    let served = shop.get("/api/openapi.json")?;
    ensure_that!(
        served.status == 200,
        "GET /api/openapi.json: {} {}",
        served.status,
        served.body
    );
    ensure_that!(
        served.headers.get("content-type").and_then(|v| v.to_str().ok()) == Some("application/json"),
        "GET /api/openapi.json is served as {:?}",
        served.headers.get("content-type")
    );
    ensure_that!(
        served.body == file,
        "the served document differs from {}",
        path.display()
    );
    Ok(())
}

/// The card processor's key, as payment reads it from SSM; `None` for a
/// deployed shop, whose processor then only shows that it refuses strangers.
fn processor_key(shop: &Shop) -> Result<Option<String>> {
    let (Ok(parameter), Ok(aws)) = (shop.setting("PROCESSOR_KEY_PARAMETER"), shop.aws()) else {
        return Ok(None);
    };
    let output = shop.block_on(
        aws_sdk_ssm::Client::new(&aws)
            .get_parameter()
            .name(&parameter)
            .with_decryption(true)
            .send(),
    )?;
    Ok(output.parameter.and_then(|p| p.value))
}

fn schemathesis_finds_no_failure_in_any_operation(shop: &Shop) -> Result<()> {
    let schemathesis = repo_root().join(".venv/contract/bin/schemathesis");
    ensure_that!(
        schemathesis.exists(),
        "{} is missing: ./shop test installs it from localstack/contract/requirements.txt",
        schemathesis.display()
    );
    let email = format!("contract-{}@example.com", uuid::Uuid::new_v4().simple());
    let shopper = shop.sign_up(&email, "contract-fuzz-42")?;
    let admin_key = shop.admin_key()?;
    let processor_key = processor_key(shop)?;

    // The tokens reach schemathesis through its environment, never its
    // command line; each goes to the operations whose security scheme names it.
    let work = std::env::temp_dir().join(format!("astroshop-contract-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let mut config = format!(
        "[checks.negative_data_rejection]\nexpected-statuses = {REJECTIONS}\n\n\
         [auth.openapi.shopperToken]\nbearer = \"${{SHOPPER_TOKEN}}\"\n\n\
         [auth.openapi.adminKey]\nbearer = \"${{ADMIN_KEY}}\"\n",
    );
    if processor_key.is_some() {
        config.push_str("\n[auth.openapi.processorKey]\nbearer = \"${PROCESSOR_KEY}\"\n");
    }
    let config_path = work.join("schemathesis.toml");
    std::fs::write(&config_path, config)?;

    let base = shop.base_url();
    let examples = std::env::var("ASTROSHOP_CONTRACT_EXAMPLES").unwrap_or_else(|_| MAX_EXAMPLES.to_owned());
    let started = Instant::now();
    let output = Command::new(&schemathesis)
        .arg("--config-file")
        .arg(&config_path)
        .arg("run")
        .arg(format!("{base}/api/openapi.json"))
        .args(["--url", base])
        .args(["--checks", CHECKS])
        .args(["--max-examples", &examples])
        .args(["--workers", "2"])
        .args(["--request-timeout", "30"])
        .args(["--no-color"])
        .current_dir(&work)
        .env(
            "SCHEMATHESIS_HOOKS",
            repo_root().join("localstack/contract/hooks.py"),
        )
        .env("SHOPPER_TOKEN", &shopper.id_token)
        .env("ADMIN_KEY", &admin_key)
        .env("PROCESSOR_KEY", processor_key.unwrap_or_default())
        .output()
        .with_context(|| format!("running {}", schemathesis.display()))?;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let _ = std::fs::remove_dir_all(&work);
    // What schemathesis warns of (operations it could not get past a 404 or
    // a 401, say) is not a failure, but is shown: it is what the run missed.
    if let Some((_, warnings)) = report.split_once("= WARNINGS =")
        && let Some((warnings, _)) = warnings.split_once("= SUMMARY =")
    {
        eprintln!("schemathesis warns:\n{}", warnings.trim_matches('=').trim());
    }
    let summary = report
        .lines()
        .rev()
        .find(|line| line.contains(" generated"))
        .unwrap_or_default();
    eprintln!(
        "schemathesis ran for {:.0} s ({}, {examples} per operation and phase) and exited with {}",
        started.elapsed().as_secs_f64(),
        summary.trim(),
        output.status
    );
    ensure_that!(
        output.status.success(),
        "schemathesis found failures against {base}/api/openapi.json:\n{report}"
    );
    Ok(())
}
