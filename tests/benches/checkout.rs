//! How long a checkout takes on the local stack, from `POST /api/checkout`
//! to the order reading CONFIRMED, in two tables:
//! - one after another: 20 checkouts, the median and the worst, and where
//!   the time goes (each saga step's median, from the order's history);
//! - at once: 1, 10 and 40 shoppers each checking out once at the same
//!   moment, three rounds of each: the median round's orders settled per
//!   second and POST→CONFIRMED's p50, p95 and max, and every round's rate.
//!
//! - waiting: 20 checkouts with `Prefer: wait=5`, answered 200 once the
//!   saga has confirmed the order: POST→200's median, p95 and max, and how
//!   many reads of the order checkout made while waiting (from the answer's
//!   `Server-Timing`), beside 20 plain checkouts' POST→202.
//!
//! The baseline, measured in the same run, is one API call through the same
//! gateway and function runner (`POST /api/cart`), so the ratio says how
//! many such calls a whole saga costs.
//!
//! `./shop bench` (brings up its own local stack; `ASTROSHOP_BASE_URL`
//! measures another shop). Naming tables runs only those:
//! `cargo bench -p astroshop-tests --bench checkout --profile dev -- wait`
//! (`sequential`, `crowd`, `wait`).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use astroshop_domain::Timestamp;
use astroshop_tests::Shop;
use astroshop_tests::checkout::{GOOD_CARD, checkout_request, fresh_product};
use serde_json::{Value, json};

const RUNS: usize = 20;

/// How many shoppers check out at once, one row each.
const CROWDS: [usize; 3] = [1, 10, 40];

/// How many times each crowd checks out.
const ROUNDS: usize = 3;

fn main() -> Result<()> {
    let shop = Shop::start()?;
    let outcome = measure(&shop);
    shop.stop()?;
    outcome
}

/// Whether the table `name` is to be measured: every one when none is
/// named on the command line (cargo's own `--bench` flag aside).
fn wanted(name: &str) -> bool {
    let named: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    named.is_empty() || named.iter().any(|arg| arg == name)
}

fn measure(shop: &Shop) -> Result<()> {
    let product = fresh_product(shop, "benchmark", 10, 1_000)?;
    let run = format!("{}", std::process::id());
    let client = astroshop_tests::client_from(std::net::Ipv4Addr::LOCALHOST.into())?;
    // Warm every function once, so cold starts are not what is measured.
    checkout(shop, &client, &product, &format!("bench-{run}-warm"))?;

    let mut baseline = Vec::new();
    for n in 0..RUNS {
        let user = format!("bench-{run}-cart-{n}");
        let started = Instant::now();
        add_to_cart(shop, &product, &user)?;
        baseline.push(started.elapsed());
    }
    if wanted("sequential") {
        sequential(shop, &client, &product, &run, &baseline)?;
    }
    if wanted("crowd") {
        crowds(shop, &product, &run, median(&mut baseline))?;
    }
    if wanted("wait") {
        waiting(shop, &product, &run)?;
    }
    Ok(())
}

/// The first table: checkouts one after another, and where the time goes.
fn sequential(
    shop: &Shop,
    client: &reqwest::Client,
    product: &str,
    run: &str,
    baseline: &[Duration],
) -> Result<()> {
    let mut orders = Vec::new();
    for n in 0..RUNS {
        orders.push(checkout(shop, client, product, &format!("bench-{run}-{n}"))?);
    }
    let mut totals: Vec<Duration> = orders.iter().map(|(took, _)| *took).collect();

    let base = median(&mut baseline.to_vec());
    let total = median(&mut totals);
    println!();
    println!("checkout, POST /api/checkout to CONFIRMED, {RUNS} runs one after another (local stack)");
    println!(
        "{:<44} {:>10} {:>10} {:>8}",
        "measure", "median", "worst", "ratio"
    );
    row("baseline: POST /api/cart", base, worst(baseline), 1.0);
    row(
        "checkout: POST to CONFIRMED",
        total,
        worst(&totals),
        total.as_secs_f64() / base.as_secs_f64(),
    );
    steps_rows(&orders, base)
}

/// The second table: crowds of shoppers checking out at once, each crowd
/// [`ROUNDS`] times. A row is the round of median rate, beside the range of
/// every round's rate: on a busy two-core machine one round's rate moves by
/// a fifth from run to run, more than many a change would.
fn crowds(shop: &Shop, product: &str, run: &str, base: Duration) -> Result<()> {
    println!();
    println!(
        "checkout at once: each shopper checks out once, all starting together, {ROUNDS} rounds (local stack)"
    );
    println!(
        "{:<10} {:>9} {:>13} {:>10} {:>10} {:>10} {:>10}",
        "shoppers", "orders/s", "rounds", "p50", "p95", "max", "p50 ratio"
    );
    let mut largest = Vec::new();
    for crowd in CROWDS {
        let mut rounds = Vec::new();
        for round in 0..ROUNDS {
            let prefix = format!("bench-{run}-crowd{crowd}-{round}");
            let (took, orders) = crowd_checkout(shop, product, &prefix, crowd)?;
            rounds.push((crowd as f64 / took.as_secs_f64(), orders));
        }
        rounds.sort_by(|(a, _), (b, _)| a.total_cmp(b));
        let (slowest, fastest) = (rounds[0].0, rounds[ROUNDS - 1].0);
        let (rate, orders) = rounds.swap_remove(ROUNDS / 2);
        let mut latencies: Vec<Duration> = orders.iter().map(|(took, _)| *took).collect();
        let p50 = percentile(&mut latencies, 50);
        println!(
            "{crowd:<10} {rate:>9.2} {:>13} {:>7} ms {:>7} ms {:>7} ms {:>9.1}x",
            format!("{slowest:.2}-{fastest:.2}"),
            p50.as_millis(),
            percentile(&mut latencies, 95).as_millis(),
            worst(&latencies).as_millis(),
            p50.as_secs_f64() / base.as_secs_f64(),
        );
        largest = orders;
    }
    println!();
    println!(
        "where the time goes with {} shoppers at once (the median round)",
        largest.len()
    );
    steps_rows(&largest, base)
}

/// A row per step of the orders' saga: how long after the order was
/// placed it happened (median and worst).
fn steps_rows(orders: &[(Duration, Value)], base: Duration) -> Result<()> {
    let mut steps: Vec<(String, Vec<Duration>)> = Vec::new();
    for (_, order) in orders {
        for (step, took) in step_durations(order)? {
            match steps.iter_mut().find(|(name, _)| *name == step) {
                Some((_, all)) => all.push(took),
                None => steps.push((step, vec![took])),
            }
        }
    }
    for (step, mut all) in steps {
        let typical = median(&mut all);
        row(
            &format!("  step: up to {step}"),
            typical,
            worst(&all),
            typical.as_secs_f64() / base.as_secs_f64(),
        );
    }
    Ok(())
}

/// `crowd` shoppers, each with a cart of its own, check out at the same
/// moment; how long until the last order was confirmed, and each order's
/// POST→CONFIRMED time with the order. Any order that fails or stays
/// pending fails the run.
fn crowd_checkout(
    shop: &Shop,
    product: &str,
    run: &str,
    crowd: usize,
) -> Result<(Duration, Vec<(Duration, Value)>)> {
    let users: Vec<String> = (0..crowd).map(|n| format!("{run}-{n}")).collect();
    for user in &users {
        add_to_cart(shop, product, user)?;
    }
    // Each shopper from an address of its own, as a crowd comes: the shop
    // limits checkouts per client.
    let clients = (0..crowd)
        .map(|n| {
            let [_, _, high, low] = u32::try_from(n + 1)?.to_be_bytes();
            astroshop_tests::client_from(std::net::Ipv4Addr::new(127, 77, high, low).into())
        })
        .collect::<Result<Vec<_>>>()?;
    let start = std::sync::Barrier::new(crowd);
    let latencies = std::thread::scope(|scope| {
        let shoppers: Vec<_> = users
            .iter()
            .zip(&clients)
            .map(|(user, client)| {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    // Read as the order page reads it, every 3 s: the reads are
                    // not what is measured.
                    place_and_follow(shop, client, user, Duration::from_secs(3))
                })
            })
            .collect();
        shoppers
            .into_iter()
            .map(|shopper| {
                shopper
                    .join()
                    .unwrap_or_else(|_| bail!("a shopper's thread panicked"))
            })
            .collect::<Result<Vec<_>>>()
    })?;
    // All start together, so the last order is confirmed after the longest wait.
    let took = latencies.iter().map(|(took, _)| *took).max().unwrap_or_default();
    Ok((took, latencies))
}

/// The third table: checkouts that wait for their order with `Prefer:
/// wait=5`, one after another, from a client of their own (the shop limits
/// checkouts per client). The waiting ones come first, each ending with its
/// order settled, so the stack is idle for every one of them; the plain
/// ones, whose sagas carry on after their 202, come after.
fn waiting(shop: &Shop, product: &str, run: &str) -> Result<()> {
    let client = astroshop_tests::client_from(std::net::Ipv4Addr::new(127, 78, 0, 1).into())?;
    let post = |user: &str, headers: &[(&str, &str)]| {
        add_to_cart(shop, product, user)?;
        let request = checkout_request(user, &format!("{user}@example.com"), "USD", (GOOD_CARD, 1, 2039));
        let started = Instant::now();
        let reply = shop.send_from(
            &client,
            "POST",
            "/api/checkout?currencyCode=USD",
            headers,
            Some(&request),
        )?;
        Ok::<_, anyhow::Error>((started.elapsed(), reply))
    };
    let (mut waited, mut reads) = (Vec::new(), Vec::new());
    for n in 0..RUNS {
        let (took, reply) = post(&format!("bench-{run}-wait-{n}"), &[("prefer", "wait=5")])?;
        if reply.status != 200 || reply.body["status"] != "CONFIRMED" {
            bail!("checkout with wait=5: {} {}", reply.status, reply.body);
        }
        waited.push(took);
        reads.push(reads_of(&reply)?);
    }
    let mut accepted = Vec::new();
    for n in 0..RUNS {
        let (took, reply) = post(&format!("bench-{run}-nowait-{n}"), &[])?;
        if reply.status != 202 {
            bail!("checkout: {} {}", reply.status, reply.body);
        }
        accepted.push(took);
    }

    let base = median(&mut accepted);
    println!();
    println!(
        "checkout with Prefer: wait=5, POST to 200 CONFIRMED, {RUNS} runs one after another (local stack)"
    );
    println!(
        "{:<44} {:>10} {:>10} {:>10} {:>8}",
        "measure", "median", "p95", "max", "ratio"
    );
    let typical = median(&mut waited);
    for (name, all, typical) in [
        ("baseline: POST /api/checkout to 202", &mut accepted, base),
        ("Prefer: wait=5: POST to 200", &mut waited, typical),
    ] {
        println!(
            "{name:<44} {:>7} ms {:>7} ms {:>7} ms {:>7.1}x",
            typical.as_millis(),
            percentile(all, 95).as_millis(),
            worst(all).as_millis(),
            typical.as_secs_f64() / base.as_secs_f64(),
        );
    }
    reads.sort_unstable();
    println!(
        "{:<44} {:>10} {:>10} {:>10}",
        "reads of the order per wait",
        reads[reads.len() / 2],
        reads[(reads.len() * 95).div_ceil(100).max(1) - 1],
        reads.last().copied().unwrap_or_default(),
    );
    Ok(())
}

/// How many reads of the order checkout made while waiting, from its
/// answer's `Server-Timing: wait;dur=..;desc="N reads"`.
fn reads_of(reply: &astroshop_tests::Reply) -> Result<u32> {
    let timing = reply
        .headers
        .get("server-timing")
        .context("no Server-Timing")?
        .to_str()?;
    let (_, desc) = timing.split_once("desc=\"").context("no desc in Server-Timing")?;
    let reads = desc.split(' ').next().unwrap_or_default();
    reads.parse().with_context(|| format!("Server-Timing: {timing}"))
}

fn row(name: &str, median: Duration, worst: Duration, ratio: f64) {
    println!(
        "{name:<44} {:>8} ms {:>7} ms {ratio:>7.1}x",
        median.as_millis(),
        worst.as_millis()
    );
}

fn add_to_cart(shop: &Shop, product: &str, user: &str) -> Result<()> {
    let item = json!({"userId": user, "item": {"productId": product, "quantity": 1}});
    let reply = shop.send("POST", "/api/cart", Some(&item))?;
    if reply.status != 200 {
        bail!("adding to the cart: {} {}", reply.status, reply.body);
    }
    Ok(())
}

/// One checkout, timed from the POST to the first read of CONFIRMED.
fn checkout(shop: &Shop, client: &reqwest::Client, product: &str, user: &str) -> Result<(Duration, Value)> {
    add_to_cart(shop, product, user)?;
    place_and_follow(shop, client, user, Duration::from_millis(20))
}

/// Checks out `user`'s cart from `client` and follows the order to
/// CONFIRMED, reading it every `poll_every`; the time from sending the POST
/// to the moment the order's history says it was confirmed (this machine's
/// clock for both), so how often it is read changes nothing but the load.
fn place_and_follow(
    shop: &Shop,
    client: &reqwest::Client,
    user: &str,
    poll_every: Duration,
) -> Result<(Duration, Value)> {
    let request = checkout_request(user, &format!("{user}@example.com"), "USD", (GOOD_CARD, 1, 2039));
    let sent = time::OffsetDateTime::now_utc();
    let started = Instant::now();
    let placed = shop.send_from(
        client,
        "POST",
        "/api/checkout?currencyCode=USD",
        &[],
        Some(&request),
    )?;
    if placed.status != 202 {
        bail!("checkout: {} {}", placed.status, placed.body);
    }
    let id = placed.body["orderId"].as_str().context("no orderId")?.to_owned();
    // Followed by its link, as the shopper follows it.
    let link = placed.body["link"].as_str().context("no link")?.to_owned();
    loop {
        let order = shop.send_from(client, "GET", &link, &[], None)?.body;
        match order["status"].as_str() {
            Some("CONFIRMED") => {
                let confirmed = step_time(&order, "OrderConfirmed")?;
                return Ok(((confirmed - sent).try_into().unwrap_or_default(), order));
            }
            Some("FAILED") => bail!("order {id} failed: {}", order["failureReason"]),
            _ if started.elapsed() > Duration::from_secs(120) => {
                bail!("order {id} still pending after 2 minutes")
            }
            _ => std::thread::sleep(poll_every),
        }
    }
}

/// When the order's history says `step` happened.
fn step_time(order: &Value, step: &str) -> Result<time::OffsetDateTime> {
    let at = order["history"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|entry| entry["step"] == step)
        .and_then(|entry| entry["at"].as_str())
        .with_context(|| format!("no {step} in the order's history"))?;
    Ok(Timestamp::parse(at).context("an order's time")?.time())
}

/// How long after the order was placed each step of its history happened.
fn step_durations(order: &Value) -> Result<Vec<(String, Duration)>> {
    let at = |text: &str| {
        Timestamp::parse(text)
            .map(|at| at.time())
            .context("an order's time")
    };
    let placed = at(order["placedAt"].as_str().context("no placedAt")?)?;
    let mut steps = Vec::new();
    for step in order["history"].as_array().into_iter().flatten() {
        let (Some(name), Some(when)) = (step["step"].as_str(), step["at"].as_str()) else {
            continue;
        };
        let after = at(when)? - placed;
        steps.push((name.to_owned(), after.try_into().unwrap_or_default()));
    }
    Ok(steps)
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// The value `percent`% of the values are at or below (nearest rank).
fn percentile(values: &mut [Duration], percent: usize) -> Duration {
    values.sort();
    let rank = (values.len() * percent).div_ceil(100).max(1);
    values[rank - 1]
}

fn worst(values: &[Duration]) -> Duration {
    values.iter().copied().max().unwrap_or_default()
}
