//! End-to-end tests: the shop over HTTP, as a client of the OpenTelemetry
//! demo's storefront API sees it.

/// The tests of a module, named by their path (`gateway::an_unknown_route_is_a_json_404`).
macro_rules! tests {
    ($($test:ident),* $(,)?) => {
        &[$((concat!(module_path!(), "::", stringify!($test)), $test as crate::Test)),*]
    };
}

mod admin;
mod ads;
mod browser;
mod cart;
mod catalog;
mod chaos;
mod checkout;
mod contract;
mod currency;
mod gateway;
mod iam;
mod inventory;
mod limits;
mod listing;
mod loadgen;
mod metrics;
mod owners;
mod recommendations;
mod search;
mod shipping;
mod storefront;
mod tokens;
mod traces;

use std::sync::Arc;

use astroshop_tests::Shop;
use libtest_mimic::{Arguments, Failed, Trial};

type Test = fn(&Shop) -> anyhow::Result<()>;

fn main() {
    let arguments = Arguments::from_args();
    let tests: Vec<(&str, Test)> = [
        catalog::TESTS,
        search::TESTS,
        listing::TESTS,
        admin::TESTS,
        currency::TESTS,
        gateway::TESTS,
        cart::TESTS,
        shipping::TESTS,
        inventory::TESTS,
        ads::TESTS,
        recommendations::TESTS,
        loadgen::TESTS,
        storefront::TESTS,
        browser::TESTS,
        checkout::TESTS,
        owners::TESTS,
        tokens::TESTS,
        metrics::TESTS,
        traces::TESTS,
        contract::TESTS,
    ]
    .concat();
    let exclusive: Vec<(&str, Test)> = [
        checkout::EXCLUSIVE,
        search::EXCLUSIVE,
        listing::EXCLUSIVE,
        gateway::EXCLUSIVE,
        limits::EXCLUSIVE,
        iam::EXCLUSIVE,
        chaos::EXCLUSIVE,
        contract::EXCLUSIVE,
    ]
    .concat();
    if arguments.list {
        let trials = tests
            .iter()
            .chain(&exclusive)
            .map(|(name, _)| Trial::test(*name, || Ok(())))
            .collect();
        libtest_mimic::run(&arguments, trials).exit();
    }
    let shop = match Shop::start() {
        Ok(shop) => Arc::new(shop),
        Err(error) => {
            eprintln!("cannot start the shop: {error:#}");
            std::process::exit(1);
        }
    };
    eprintln!("testing {}", shop.base_url());
    // The catalogue's lists (the API's, and the storefront's pages) are read
    // from the read model the indexer fills from the `Products` stream once
    // the shop is up: every test starts once it holds the seeded catalogue.
    if let Err(error) = catalog::seeded_list(&shop, "/api/products") {
        eprintln!("the shop never listed its seeded catalogue: {error:#}");
        std::process::exit(1);
    }
    let trials = |tests: Vec<(&'static str, Test)>| -> Vec<Trial> {
        tests
            .into_iter()
            .map(|(name, test)| {
                let shop = shop.clone();
                Trial::test(name, move || {
                    test(&shop).map_err(|e| Failed::from(format!("{e:#}")))
                })
            })
            .collect()
    };
    let side_by_side = libtest_mimic::run(&arguments, trials(tests));
    // Tests that stop a consumer, sweep every pending order or empty a
    // route's bucket run one at a time, once nothing else is in flight.
    let alone = libtest_mimic::run(
        &Arguments {
            test_threads: Some(1),
            ..arguments.clone()
        },
        trials(exclusive),
    );
    let shop = Arc::into_inner(shop).expect("every test has finished with the shop");
    if let Err(error) = shop.stop() {
        eprintln!("tearing the stack down: {error:#}");
        std::process::exit(1);
    }
    if side_by_side.has_failed() || alone.has_failed() {
        std::process::exit(101);
    }
}
