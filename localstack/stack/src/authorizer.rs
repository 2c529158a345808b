//! API Gateway's HTTP API JWT authorizer, as the local gateway applies it to
//! the routes that name one, before any function runs: the token from the
//! identity source (a `Bearer ` prefix optional), an RSA signature by the
//! issuer's key its `kid` names, `iss` equal to the configured issuer, `aud`
//! (else `client_id`) one of the configured audiences, `exp` in the future
//! and `nbf`, `iat` not. A refusal is API Gateway's own 401; an accepted
//! token's claims reach the function as API Gateway passes them (strings).
//!
//! The issuer is the emulator's Cognito: a pool's public issuer
//! (`https://cognito-idp.<region>.amazonaws.com/<pool>`) is served by the
//! emulator at `<endpoint>/<pool>`, so its keys are fetched from there,
//! cached, and fetched again for an unknown `kid` at most every few seconds.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use crate::resolve::Resolver;

/// How soon the keys may be fetched again for a `kid` they lack.
const REFETCH_AFTER: Duration = Duration::from_secs(5);

/// The claims of an accepted token, each as API Gateway passes it on.
pub type Claims = BTreeMap<String, String>;

/// Why the authorizer refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no token in the identity source")]
    Missing,
    /// The token is there but not good; the text is the `error_description`.
    #[error("{0}")]
    Invalid(String),
}

impl Refusal {
    /// The `www-authenticate` challenge API Gateway answers with.
    pub fn challenge(&self) -> String {
        match self {
            Refusal::Missing => "Bearer".to_owned(),
            Refusal::Invalid(description) => {
                format!(r#"Bearer scope="" error="invalid_token" error_description="{description}""#)
            }
        }
    }
}

fn invalid(description: impl Into<String>) -> Refusal {
    Refusal::Invalid(description.into())
}

/// One JWT authorizer of the HTTP API, its intrinsics resolved.
pub struct Authorizer {
    /// The identity source's header, lower-case.
    header: String,
    issuer: String,
    audience: Vec<String>,
    keys: Keys,
}

impl Authorizer {
    /// An authorizer reading the token from `identity_source`
    /// (`$request.header.<name>`), the issuer's keys at `jwks_url`.
    pub fn new(
        identity_source: &str,
        issuer: String,
        audience: Vec<String>,
        jwks_url: String,
    ) -> Result<Self> {
        let header = identity_source
            .strip_prefix("$request.header.")
            .filter(|name| !name.is_empty())
            .ok_or_else(|| {
                anyhow!(
                    "identity source {identity_source:?}: the local gateway reads tokens from a header only"
                )
            })?
            .to_ascii_lowercase();
        Ok(Self {
            header,
            issuer,
            audience,
            keys: Keys {
                url: jwks_url,
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .context("building the JWKS client")?,
                refetch_after: REFETCH_AFTER,
                cached: Mutex::new(Cached {
                    set: JwkSet::default(),
                    fetched: None,
                }),
            },
        })
    }

    /// The token's claims if the request's token passes, else why not.
    pub async fn check(&self, headers: &http::HeaderMap) -> Result<Claims, Refusal> {
        let token = self.token(headers)?;
        let header = TokenHeader::read(token)?;
        let rsa = header.alg.parse::<Algorithm>().ok();
        if !rsa.is_some_and(|alg| AlgorithmFamily::Rsa.algorithms().contains(&alg)) {
            let shown: String = header.alg.chars().filter(char::is_ascii_alphanumeric).collect();
            return Err(invalid(format!("signing method {shown} is invalid")));
        }
        let kid = header.kid.ok_or_else(|| invalid("the token has no kid"))?;
        let key = match self.keys.key(&kid).await {
            Ok(Some(key)) => key,
            Ok(None) => return Err(invalid("no key of the issuer matches the token's kid")),
            Err(error) => {
                tracing::warn!(url = %self.keys.url, error = format!("{error:#}"), "fetching the issuer's keys");
                return Err(invalid("the issuer's keys could not be fetched"));
            }
        };
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &self.validation())
            .map_err(|e| invalid(describe(e.kind())))?
            .claims;
        if !self.audience_matches(&claims) {
            return Err(invalid("the token does not have a valid audience"));
        }
        let now = jsonwebtoken::get_current_timestamp();
        if claims
            .get("iat")
            .and_then(Value::as_u64)
            .is_some_and(|iat| iat > now)
        {
            return Err(invalid("the token was issued in the future"));
        }
        Ok(claims
            .iter()
            .map(|(name, value)| (name.clone(), claim_text(value)))
            .collect())
    }

    /// The token in the identity source, without its `Bearer ` prefix.
    fn token<'h>(&self, headers: &'h http::HeaderMap) -> Result<&'h str, Refusal> {
        let Some(value) = headers.get(&self.header) else {
            return Err(Refusal::Missing);
        };
        let value = value
            .to_str()
            .map_err(|_| invalid("the token is not a valid JWT"))?
            .trim();
        let token = match value.get(..7) {
            Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => value[7..].trim_start(),
            _ if value.eq_ignore_ascii_case("bearer") => "",
            _ => value,
        };
        if token.is_empty() {
            return Err(Refusal::Missing);
        }
        Ok(token)
    }

    /// Signature, issuer and time, as jsonwebtoken checks them; the audience
    /// is checked apart, as API Gateway falls back on `client_id`.
    fn validation(&self) -> Validation {
        let mut validation = Validation::new_for_family(AlgorithmFamily::Rsa);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        validation
    }

    /// API Gateway reads `aud` (a string or a list) when the token has one,
    /// else `client_id` (what a Cognito access token carries).
    fn audience_matches(&self, claims: &Map<String, Value>) -> bool {
        let accepted = |value: &Value| {
            value
                .as_str()
                .is_some_and(|v| self.audience.iter().any(|a| a == v))
        };
        match (claims.get("aud"), claims.get("client_id")) {
            (Some(Value::Array(audiences)), _) => audiences.iter().any(accepted),
            (Some(audience), _) => accepted(audience),
            (None, Some(client)) => accepted(client),
            (None, None) => false,
        }
    }
}

/// What a token's header says, read before any check: its algorithm is
/// refused first, so an unsigned (`none`) or HMAC token is never verified.
#[derive(serde::Deserialize)]
struct TokenHeader {
    alg: String,
    kid: Option<String>,
}

impl TokenHeader {
    fn read(token: &str) -> Result<Self, Refusal> {
        let malformed = || invalid("the token is not a valid JWT");
        let mut parts = token.split('.');
        let (Some(header), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        let bytes = BASE64URL
            .decode(header.trim_end_matches('='))
            .map_err(|_| malformed())?;
        serde_json::from_slice(&bytes).map_err(|_| malformed())
    }
}

/// The `error_description` for what jsonwebtoken found wrong.
fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::InvalidSignature => "the token's signature is invalid".to_owned(),
        ErrorKind::ExpiredSignature => "the token has expired".to_owned(),
        ErrorKind::ImmatureSignature => "the token is not valid yet".to_owned(),
        ErrorKind::InvalidIssuer => "the token does not have a valid issuer".to_owned(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token has no {claim} claim"),
        ErrorKind::InvalidClaimFormat(claim) => format!("the token's {claim} claim is malformed"),
        _ => "the token is not a valid JWT".to_owned(),
    }
}

/// A claim as API Gateway hands it to the function: a string as it is,
/// a list as `[a b]`, anything else as its JSON text (`1700000000`, `true`).
fn claim_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(claim_text).collect::<Vec<_>>().join(" ")),
        other => other.to_string(),
    }
}

/// The issuer's keys, fetched on first use and again for an unknown `kid`.
struct Keys {
    url: String,
    http: reqwest::Client,
    refetch_after: Duration,
    cached: Mutex<Cached>,
}

struct Cached {
    set: JwkSet,
    fetched: Option<Instant>,
}

impl Keys {
    async fn key(&self, kid: &str) -> Result<Option<DecodingKey>> {
        // Held across the fetch, so requests that miss together fetch once.
        let mut cached = self.cached.lock().await;
        let may_fetch = cached.fetched.is_none_or(|at| at.elapsed() >= self.refetch_after);
        if cached.set.find(kid).is_none() && may_fetch {
            cached.set = self
                .http
                .get(&self.url)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .with_context(|| format!("fetching {}", self.url))?
                .json()
                .await
                .with_context(|| format!("reading the keys at {}", self.url))?;
            cached.fetched = Some(Instant::now());
        }
        cached
            .set
            .find(kid)
            .map(|jwk| DecodingKey::from_jwk(jwk).with_context(|| format!("the key {kid} at {}", self.url)))
            .transpose()
    }
}

/// The HTTP API's authorizers, by the name routes give them.
pub struct Authorizers(BTreeMap<String, Authorizer>);

impl Authorizers {
    /// The template's JWT authorizers, their issuer and audiences resolved
    /// against what was provisioned, their keys served by the emulator at
    /// `emulator_endpoint`.
    pub fn from_template(resolver: &Resolver<'_>, emulator_endpoint: &str) -> Result<Self> {
        resolver
            .template()
            .jwt_authorizers()
            .iter()
            .map(|(name, spec)| {
                let issuer = resolver.resolve_string(&spec.issuer)?;
                let audience = spec
                    .audience
                    .iter()
                    .map(|a| resolver.resolve_string(a))
                    .collect::<Result<_>>()?;
                let jwks_url = local_jwks_url(&issuer, emulator_endpoint)?;
                let authorizer = Authorizer::new(&spec.identity_source, issuer, audience, jwks_url)?;
                Ok((name.clone(), authorizer))
            })
            .collect::<Result<_>>()
            .map(Self)
            .context("the HTTP API's authorizers")
    }

    pub fn get(&self, name: &str) -> Option<&Authorizer> {
        self.0.get(name)
    }
}

/// Where the emulator serves the keys of a Cognito `issuer`.
pub fn local_jwks_url(issuer: &str, emulator_endpoint: &str) -> Result<String> {
    let pool = issuer
        .strip_prefix("https://cognito-idp.")
        .and_then(|rest| rest.split_once(".amazonaws.com/"))
        .map(|(_region, pool)| pool)
        .filter(|pool| !pool.is_empty() && !pool.contains('/'));
    match pool {
        Some(pool) => Ok(format!(
            "{}/{pool}/.well-known/jwks.json",
            emulator_endpoint.trim_end_matches('/')
        )),
        None => bail!(
            "the issuer {issuer} is not a Cognito user pool, the only issuer the local gateway can reach"
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;
    use tokio::io::AsyncWriteExt;

    use super::*;

    /// A key made for these tests only (`openssl genpkey -algorithm RSA`).
    const SIGNING_KEY: &str = include_str!("../tests/data/token-signing-key.pem");
    const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_shoppers";
    const CLIENT: &str = "storefront-client";

    fn signing_key() -> EncodingKey {
        EncodingKey::from_rsa_pem(SIGNING_KEY.as_bytes()).unwrap()
    }

    /// The test key's public half, as a JWKS lists it under `kid`.
    fn public_key(kid: &str) -> Value {
        let mut jwk = Jwk::from_encoding_key(&signing_key(), Algorithm::RS256).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        serde_json::to_value(jwk).unwrap()
    }

    /// A JWKS on a loopback port, changeable while served, counting fetches.
    struct KeyServer {
        url: String,
        keys: Arc<std::sync::Mutex<Vec<Value>>>,
        fetches: Arc<AtomicUsize>,
    }

    impl KeyServer {
        async fn start(keys: Vec<Value>) -> Self {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
            let keys = Arc::new(std::sync::Mutex::new(keys));
            let fetches = Arc::new(AtomicUsize::new(0));
            let (served, counted) = (keys.clone(), fetches.clone());
            tokio::spawn(async move {
                loop {
                    let (mut stream, _) = listener.accept().await.unwrap();
                    local_stack_testing::read_request(&mut stream).await.unwrap();
                    counted.fetch_add(1, Ordering::SeqCst);
                    let body = json!({"keys": *served.lock().unwrap()}).to_string();
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    stream.write_all(response.as_bytes()).await.unwrap();
                }
            });
            Self { url, keys, fetches }
        }

        fn fetches(&self) -> usize {
            self.fetches.load(Ordering::SeqCst)
        }
    }

    fn authorizer(keys: &KeyServer) -> Authorizer {
        Authorizer::new(
            "$request.header.Authorization",
            ISSUER.to_owned(),
            vec![CLIENT.to_owned()],
            keys.url.clone(),
        )
        .unwrap()
    }

    fn now() -> i64 {
        jsonwebtoken::get_current_timestamp() as i64
    }

    /// The claims of an ID token the pool would issue now.
    fn id_token_claims() -> Value {
        json!({
            "iss": ISSUER,
            "sub": "4a1f7c9e",
            "aud": CLIENT,
            "token_use": "id",
            "iat": now(),
            "auth_time": now(),
            "exp": now() + 3600,
            "email": "larry@example.com",
            "cognito:groups": ["shoppers", "beta"],
            "email_verified": true,
        })
    }

    fn sign(claims: &Value, kid: &str) -> String {
        let header = Header {
            kid: Some(kid.to_owned()),
            ..Header::new(Algorithm::RS256)
        };
        jsonwebtoken::encode(&header, claims, &signing_key()).unwrap()
    }

    fn bearer(token: &str) -> http::HeaderMap {
        with_authorization(&format!("Bearer {token}"))
    }

    fn with_authorization(value: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", value.parse().unwrap());
        headers
    }

    async fn refusal(claims: Value) -> String {
        let keys = KeyServer::start(vec![public_key("k1")]).await;
        match authorizer(&keys).check(&bearer(&sign(&claims, "k1"))).await {
            Err(Refusal::Invalid(description)) => description,
            other => panic!("{claims} was not refused as invalid: {other:?}"),
        }
    }

    fn with(changes: Value) -> Value {
        let mut claims = id_token_claims();
        for (name, value) in changes.as_object().unwrap() {
            match value {
                Value::Null => claims.as_object_mut().unwrap().remove(name),
                value => claims
                    .as_object_mut()
                    .unwrap()
                    .insert(name.clone(), value.clone()),
            };
        }
        claims
    }

    #[tokio::test]
    async fn a_pool_token_passes_with_its_claims_as_api_gateway_passes_them() {
        let keys = KeyServer::start(vec![public_key("k1")]).await;
        let token = id_token_claims();
        let claims = authorizer(&keys)
            .check(&bearer(&sign(&token, "k1")))
            .await
            .unwrap();
        assert_eq!(claims["sub"], "4a1f7c9e");
        assert_eq!(claims["exp"], token["exp"].to_string());
        assert_eq!(claims["cognito:groups"], "[shoppers beta]");
        assert_eq!(claims["email_verified"], "true");
    }

    #[tokio::test]
    async fn the_bearer_prefix_is_optional_in_any_case() {
        let keys = KeyServer::start(vec![public_key("k1")]).await;
        let authorizer = authorizer(&keys);
        let token = sign(&id_token_claims(), "k1");
        for value in [
            token.clone(),
            format!("bearer {token}"),
            format!("BEARER  {token}"),
        ] {
            assert!(
                authorizer.check(&with_authorization(&value)).await.is_ok(),
                "{value}"
            );
        }
    }

    #[tokio::test]
    async fn no_token_is_refused_with_a_bare_challenge() {
        let keys = KeyServer::start(vec![public_key("k1")]).await;
        let authorizer = authorizer(&keys);
        for headers in [http::HeaderMap::new(), with_authorization("Bearer ")] {
            let refused = authorizer.check(&headers).await.unwrap_err();
            assert_eq!(refused, Refusal::Missing);
            assert_eq!(refused.challenge(), "Bearer");
        }
    }

    #[tokio::test]
    async fn a_token_not_signed_with_rsa_is_refused_before_its_signature_is_read() {
        let keys = KeyServer::start(vec![public_key("k1")]).await;
        let authorizer = authorizer(&keys);
        let encode = |value: &Value| BASE64URL.encode(value.to_string());
        let claims = encode(&id_token_claims());
        let unsigned = format!("{}.{claims}.", encode(&json!({"alg": "none", "kid": "k1"})));
        // HS256 keyed with the public key's text: the classic confusion attack.
        let hmac_header = Header {
            kid: Some("k1".into()),
            ..Header::new(Algorithm::HS256)
        };
        let hmac = jsonwebtoken::encode(
            &hmac_header,
            &id_token_claims(),
            &EncodingKey::from_secret(public_key("k1").to_string().as_bytes()).unwrap(),
        )
        .unwrap();
        for (token, description) in [
            (unsigned, "signing method none is invalid"),
            (hmac, "signing method HS256 is invalid"),
        ] {
            assert_eq!(
                authorizer.check(&bearer(&token)).await,
                Err(Refusal::Invalid(description.into()))
            );
        }
        assert_eq!(
            keys.fetches(),
            0,
            "no key is fetched for a token refused by its header"
        );
    }

    #[tokio::test]
    async fn a_token_whose_signature_was_changed_is_refused() {
        let keys = KeyServer::start(vec![public_key("k1")]).await;
        let token = sign(&id_token_claims(), "k1");
        let (message, signature) = token.rsplit_once('.').unwrap();
        let mut changed = signature.to_owned().into_bytes();
        let middle = changed.len() / 2;
        changed[middle] = if changed[middle] == b'A' { b'B' } else { b'A' };
        let tampered = format!("{message}.{}", String::from_utf8(changed).unwrap());
        let refused = authorizer(&keys).check(&bearer(&tampered)).await.unwrap_err();
        assert_eq!(refused, invalid("the token's signature is invalid"));
        assert_eq!(
            refused.challenge(),
            r#"Bearer scope="" error="invalid_token" error_description="the token's signature is invalid""#
        );
    }

    #[tokio::test]
    async fn a_token_of_another_issuer_is_refused() {
        let other = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other";
        assert_eq!(
            refusal(with(json!({"iss": other}))).await,
            "the token does not have a valid issuer"
        );
        assert_eq!(
            refusal(with(json!({"iss": null}))).await,
            "the token has no iss claim"
        );
    }

    #[tokio::test]
    async fn the_audience_is_aud_else_client_id() {
        let keys = KeyServer::start(vec![public_key("k1")]).await;
        let authorizer = authorizer(&keys);
        let passes = |claims: Value| {
            let token = sign(&claims, "k1");
            let authorizer = &authorizer;
            async move { authorizer.check(&bearer(&token)).await.is_ok() }
        };
        let access_token = with(json!({"aud": null, "client_id": CLIENT, "token_use": "access"}));
        assert!(
            passes(access_token).await,
            "an access token names its client in client_id"
        );
        assert!(passes(with(json!({"aud": ["elsewhere", CLIENT]}))).await);
        assert!(!passes(with(json!({"aud": "another-client"}))).await);
        assert!(
            !passes(with(json!({"aud": "another-client", "client_id": CLIENT}))).await,
            "aud, when there, is what counts"
        );
        assert!(!passes(with(json!({"aud": null}))).await, "a token for no one");
        assert_eq!(
            refusal(with(json!({"aud": "another-client"}))).await,
            "the token does not have a valid audience"
        );
    }

    #[tokio::test]
    async fn a_token_outside_its_time_is_refused() {
        assert_eq!(
            refusal(with(json!({"exp": now() - 1, "iat": now() - 3601}))).await,
            "the token has expired"
        );
        assert_eq!(
            refusal(with(json!({"exp": null}))).await,
            "the token has no exp claim"
        );
        assert_eq!(
            refusal(with(json!({"nbf": now() + 60}))).await,
            "the token is not valid yet"
        );
        assert_eq!(
            refusal(with(json!({"iat": now() + 60}))).await,
            "the token was issued in the future"
        );
    }

    #[tokio::test]
    async fn what_is_not_a_jwt_is_refused() {
        let keys = KeyServer::start(vec![public_key("k1")]).await;
        let authorizer = authorizer(&keys);
        for token in ["abc", "a.b", "a.b.c.d", "!!.e30.e30"] {
            assert_eq!(
                authorizer.check(&bearer(token)).await,
                Err(invalid("the token is not a valid JWT")),
                "{token}"
            );
        }
        let no_kid =
            jsonwebtoken::encode(&Header::new(Algorithm::RS256), &id_token_claims(), &signing_key()).unwrap();
        assert_eq!(
            authorizer.check(&bearer(&no_kid)).await,
            Err(invalid("the token has no kid"))
        );
    }

    #[tokio::test]
    async fn an_unknown_kid_fetches_the_keys_again_but_not_more_than_every_few_seconds() {
        let keys = KeyServer::start(vec![public_key("k1")]).await;
        let mut authorizer = authorizer(&keys);
        authorizer.keys.refetch_after = Duration::from_millis(300);
        let old = bearer(&sign(&id_token_claims(), "k1"));
        let rotated = bearer(&sign(&id_token_claims(), "k2"));

        assert!(authorizer.check(&old).await.is_ok());
        assert!(authorizer.check(&old).await.is_ok());
        assert_eq!(keys.fetches(), 1, "known keys are cached");

        keys.keys.lock().unwrap().push(public_key("k2"));
        assert_eq!(
            authorizer.check(&rotated).await,
            Err(invalid("no key of the issuer matches the token's kid")),
            "the keys were fetched a moment ago"
        );
        assert_eq!(keys.fetches(), 1);

        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(authorizer.check(&rotated).await.is_ok());
        assert_eq!(keys.fetches(), 2);
    }

    #[test]
    fn a_cognito_issuer_is_served_by_the_emulator_and_no_other_issuer_is() {
        assert_eq!(
            local_jwks_url(ISSUER, "http://127.0.0.1:5000/").unwrap(),
            "http://127.0.0.1:5000/us-east-1_shoppers/.well-known/jwks.json"
        );
        for elsewhere in [
            "https://example.auth0.com/",
            "https://cognito-idp.us-east-1.amazonaws.com/",
            "http://cognito-idp.us-east-1.amazonaws.com/us-east-1_shoppers",
        ] {
            assert!(
                local_jwks_url(elsewhere, "http://127.0.0.1:5000").is_err(),
                "{elsewhere}"
            );
        }
    }

    #[test]
    fn only_a_header_can_be_the_identity_source() {
        let new = |source: &str| {
            Authorizer::new(
                source,
                ISSUER.into(),
                vec![CLIENT.into()],
                "http://127.0.0.1:1".into(),
            )
        };
        assert_eq!(new("$request.header.X-Token").unwrap().header, "x-token");
        assert!(new("$request.querystring.token").is_err());
    }
}
