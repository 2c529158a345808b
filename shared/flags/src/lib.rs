//! The shop's fault flags, the OpenTelemetry demo's flagd flags done as AWS
//! AppConfig feature flags. The template holds them as an
//! `AWS.AppConfig.FeatureFlags` document (`FlagDocument`: each flag, its
//! attributes' constraints, its values); a function reads their values from
//! the AppConfig agent's local HTTP interface (`Flags`), which caches the
//! deployed document and answers `FlagValues`. Every flag is off unless
//! someone turns it on, and a function that cannot read its flags runs as if
//! all were off: a flag breaks the shop only on purpose.

mod document;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use document::{FlagDocument, FlagError, FlagListing};

/// Each flag, with the fault it injects where it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Flag {
    /// The card processor declines this share (`rate`, 0..1) of charges.
    PaymentFailure,
    /// The card processor does not answer.
    PaymentUnreachable,
    /// The ad service fails this share (`rate`) of requests (the demo: 1 in 10).
    AdFailure,
    /// Cart writes fail at this `rate`.
    CartFailure,
    /// One product (`productId`) cannot be read.
    ProductCatalogFailure,
    /// Product pictures are served `delaySeconds` late.
    ImageSlowLoad,
    /// Shipping quotes for addresses outside the US take `delaySeconds` more.
    IntlShippingSlowdown,
    /// Checkout publishes `count` extra events for each order.
    EventBusFlood,
    /// Recommendations take `delaySeconds` more.
    RecommendationsSlow,
    /// The load generator sends `count` extra home page requests a visit.
    LoadGeneratorFloodHomepage,
}

impl Flag {
    pub const ALL: [Flag; 10] = [
        Flag::PaymentFailure,
        Flag::PaymentUnreachable,
        Flag::AdFailure,
        Flag::CartFailure,
        Flag::ProductCatalogFailure,
        Flag::ImageSlowLoad,
        Flag::IntlShippingSlowdown,
        Flag::EventBusFlood,
        Flag::RecommendationsSlow,
        Flag::LoadGeneratorFloodHomepage,
    ];

    /// The flag's key in the AppConfig document.
    pub fn name(self) -> &'static str {
        match self {
            Flag::PaymentFailure => "paymentFailure",
            Flag::PaymentUnreachable => "paymentUnreachable",
            Flag::AdFailure => "adFailure",
            Flag::CartFailure => "cartFailure",
            Flag::ProductCatalogFailure => "productCatalogFailure",
            Flag::ImageSlowLoad => "imageSlowLoad",
            Flag::IntlShippingSlowdown => "intlShippingSlowdown",
            Flag::EventBusFlood => "eventBusFlood",
            Flag::RecommendationsSlow => "recommendationsSlow",
            Flag::LoadGeneratorFloodHomepage => "loadGeneratorFloodHomepage",
        }
    }
}

impl std::fmt::Display for Flag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One flag's value: on or off, and its attributes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlagValue {
    pub enabled: bool,
    #[serde(flatten)]
    pub attributes: BTreeMap<String, Value>,
}

/// What the AppConfig agent answers for a feature-flags profile: every
/// flag's value by its key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FlagValues(pub BTreeMap<String, FlagValue>);

impl FlagValues {
    /// The flag's value when it is on.
    fn on(&self, flag: Flag) -> Option<&FlagValue> {
        self.0.get(flag.name()).filter(|value| value.enabled)
    }

    pub fn is_on(&self, flag: Flag) -> bool {
        self.on(flag).is_some()
    }

    /// A number attribute of the flag, when it is on.
    pub fn number(&self, flag: Flag, attribute: &str) -> Option<f64> {
        self.on(flag)?.attributes.get(attribute)?.as_f64()
    }

    /// A text attribute of the flag, when it is on.
    pub fn text(&self, flag: Flag, attribute: &str) -> Option<&str> {
        self.on(flag)?.attributes.get(attribute)?.as_str()
    }

    /// Whether the fault strikes this call: the flag is on and a draw falls
    /// within its `rate` (every call when it has none).
    pub fn strikes(&self, flag: Flag) -> bool {
        self.is_on(flag) && rand::random::<f64>() < self.number(flag, "rate").unwrap_or(1.0)
    }

    /// The flag's `delaySeconds`, when it is on.
    pub fn delay(&self, flag: Flag) -> Option<Duration> {
        Duration::try_from_secs_f64(self.number(flag, "delaySeconds")?).ok()
    }

    /// Waits the flag's `delaySeconds` when it is on (and counts the fault).
    pub async fn hold_back(&self, flag: Flag) {
        if let Some(delay) = self.delay(flag) {
            injected(flag);
            tokio::time::sleep(delay).await;
        }
    }

    /// The flag's `count`, when it is on.
    pub fn count(&self, flag: Flag) -> Option<u32> {
        let count = self.number(flag, "count")?;
        (count >= 0.0 && count.fract() == 0.0 && count <= f64::from(u32::MAX)).then_some(count as u32)
    }
}

/// Logs and counts (`FaultsInjected`, by flag) a fault about to be injected.
pub fn injected(flag: Flag) {
    tracing::warn!(%flag, "injecting a fault: its flag is on");
    astroshop_telemetry::metric("FaultsInjected", "Count", 1.0, Some(("Flag", flag.name())));
}

/// The AppConfig agent's port, as the agent itself reads it.
pub const AGENT_PORT_VARIABLE: &str = "AWS_APPCONFIG_EXTENSION_HTTP_PORT";
/// The agent's port when nothing sets one.
pub const AGENT_DEFAULT_PORT: u16 = 2772;
/// The flags' profile on the agent
/// (`/applications/<app>/environments/<env>/configurations/<profile>`).
pub const PROFILE_PATH_VARIABLE: &str = "FLAGS_PATH";

/// Reads the flags from the AppConfig agent beside the function. The agent
/// keeps the deployed document and polls AppConfig for a newer one, so a read
/// is a local HTTP call and the function keeps no copy of its own.
#[derive(Debug, Clone)]
pub struct Flags {
    http: reqwest::Client,
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    /// The profile's URL on the agent.
    Agent(String),
    /// Values fixed in memory: none (every flag off), or a test's.
    Fixed(FlagValues),
}

impl Flags {
    /// The agent at `AWS_APPCONFIG_EXTENSION_HTTP_PORT` (2772 by default),
    /// the profile at `FLAGS_PATH`; without `FLAGS_PATH` every flag is off.
    pub fn from_env() -> Self {
        let port = std::env::var(AGENT_PORT_VARIABLE)
            .ok()
            .and_then(|port| port.parse().ok())
            .unwrap_or(AGENT_DEFAULT_PORT);
        match std::env::var(PROFILE_PATH_VARIABLE) {
            Ok(path) if !path.is_empty() => Self::at(format!("http://localhost:{port}{path}")),
            _ => Self::none(),
        }
    }

    /// The flags of the profile at `url` on an agent.
    pub fn at(url: String) -> Self {
        Self::from_source(Source::Agent(url))
    }

    /// Flags that always have these values (a handler's tests).
    pub fn fixed(values: FlagValues) -> Self {
        Self::from_source(Source::Fixed(values))
    }

    /// No flags: every one is off.
    pub fn none() -> Self {
        Self::fixed(FlagValues::default())
    }

    /// The agent is plain HTTP on the function's own host, so the client
    /// trusts no certificate and loads none: reqwest's default reads the
    /// system's whole certificate store when it is built, on every cold start.
    fn from_source(source: Source) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(1))
            .tls_certs_only([])
            .build()
            .unwrap_or_default();
        Self { http, source }
    }

    /// The flags' values now; all off when they cannot be read (logged).
    pub async fn current(&self) -> FlagValues {
        let url = match &self.source {
            Source::Fixed(values) => return values.clone(),
            Source::Agent(url) => url,
        };
        match self.read(url).await {
            Ok(values) => values,
            Err(error) => {
                tracing::warn!(
                    error = %astroshop_telemetry::error_chain(&error),
                    "the flags could not be read from the AppConfig agent; every flag counts as off"
                );
                FlagValues::default()
            }
        }
    }

    async fn read(&self, url: &str) -> Result<FlagValues, reqwest::Error> {
        self.http.get(url).send().await?.error_for_status()?.json().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(document: Value) -> FlagValues {
        serde_json::from_value(document).unwrap()
    }

    #[test]
    fn an_off_flag_has_no_attributes_to_act_on() {
        let flags = values(json!({
            "cartFailure": {"enabled": false, "rate": 1.0},
            "imageSlowLoad": {"enabled": false, "delaySeconds": 5},
        }));
        assert!(!flags.is_on(Flag::CartFailure));
        assert!(!flags.strikes(Flag::CartFailure));
        assert_eq!(flags.delay(Flag::ImageSlowLoad), None);
    }

    #[test]
    fn a_flag_the_document_does_not_hold_is_off() {
        assert!(!FlagValues::default().strikes(Flag::AdFailure));
        assert_eq!(FlagValues::default().count(Flag::EventBusFlood), None);
    }

    #[test]
    fn a_rate_of_one_always_strikes_and_of_zero_never() {
        let always = values(json!({"paymentFailure": {"enabled": true, "rate": 1.0}}));
        let never = values(json!({"paymentFailure": {"enabled": true, "rate": 0.0}}));
        for _ in 0..100 {
            assert!(always.strikes(Flag::PaymentFailure));
            assert!(!never.strikes(Flag::PaymentFailure));
        }
    }

    #[test]
    fn a_rate_strikes_about_its_share() {
        let flags = values(json!({"adFailure": {"enabled": true, "rate": 0.1}}));
        let struck = (0..10_000).filter(|_| flags.strikes(Flag::AdFailure)).count();
        assert!(
            (700..1300).contains(&struck),
            "{struck} of 10000 at a rate of 0.1"
        );
    }

    #[test]
    fn an_on_flag_without_a_rate_strikes_every_call() {
        let flags = values(json!({"paymentUnreachable": {"enabled": true}}));
        assert!(flags.strikes(Flag::PaymentUnreachable));
    }

    #[test]
    fn attributes_are_read_by_kind() {
        let flags = values(json!({
            "imageSlowLoad": {"enabled": true, "delaySeconds": 2.5},
            "eventBusFlood": {"enabled": true, "count": 100},
            "productCatalogFailure": {"enabled": true, "productId": "OLJCESPC7Z"},
            "loadGeneratorFloodHomepage": {"enabled": true, "count": -1},
        }));
        assert_eq!(
            flags.delay(Flag::ImageSlowLoad),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(flags.count(Flag::EventBusFlood), Some(100));
        assert_eq!(
            flags.text(Flag::ProductCatalogFailure, "productId"),
            Some("OLJCESPC7Z")
        );
        assert_eq!(flags.count(Flag::LoadGeneratorFloodHomepage), None);
    }

    #[tokio::test]
    async fn flags_that_cannot_be_read_are_all_off() {
        // Nothing listens on port 9 of this machine.
        let flags = Flags::at("http://127.0.0.1:9/applications/a/environments/e/configurations/p".into());
        assert_eq!(flags.current().await, FlagValues::default());
    }
}
