//! Shopper accounts: signing up and in with the shop's Cognito user pool,
//! and the ID token a signed-in shopper's browser keeps in a cookie. The
//! storefront never checks a token's signature: the API's gateway does, on
//! every call that carries it. The storefront only reads the token's
//! `email` (to greet the shopper) and `exp` (to let the cookie end with it).
//!
//! Cognito's answers become `AccountError`s a form can explain; its own
//! messages never reach a page.

use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::forms::Credentials;

/// Why signing up or in did not work.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("an account with this e-mail exists")]
    EmailTaken,
    #[error("the password does not meet the pool's policy")]
    WeakPassword,
    #[error("wrong e-mail or password")]
    WrongCredentials,
    #[error("too many attempts")]
    TooManyAttempts,
    #[error("Cognito asked for a further step: {0}")]
    Challenged(String),
    #[error("Cognito: {0}")]
    Unavailable(#[source] Box<aws_sdk_cognitoidentityprovider::Error>),
}

impl<E> From<E> for AccountError
where
    aws_sdk_cognitoidentityprovider::Error: From<E>,
{
    fn from(error: E) -> Self {
        use aws_sdk_cognitoidentityprovider::Error;
        match Error::from(error) {
            Error::UsernameExistsException(_) | Error::AliasExistsException(_) => Self::EmailTaken,
            // A password Cognito's pattern refuses is an invalid parameter.
            Error::InvalidPasswordException(_) | Error::InvalidParameterException(_) => Self::WeakPassword,
            Error::NotAuthorizedException(_) | Error::UserNotFoundException(_) => Self::WrongCredentials,
            Error::TooManyRequestsException(_)
            | Error::TooManyFailedAttemptsException(_)
            | Error::LimitExceededException(_) => Self::TooManyAttempts,
            other => Self::Unavailable(Box::new(other)),
        }
    }
}

/// The accounts port: the storefront's pages are generic over it, so they
/// can be tested without Cognito.
pub trait Shoppers {
    /// Creates the account, ready to sign in with.
    fn sign_up(&self, credentials: &Credentials) -> impl Future<Output = Result<(), AccountError>> + Send;

    /// The shopper's ID token.
    fn sign_in(
        &self,
        credentials: &Credentials,
    ) -> impl Future<Output = Result<IdToken, AccountError>> + Send;
}

/// The template's `ShopperPool`, through its `ShopperPoolClient`.
pub struct CognitoShoppers {
    client: Client,
    pool_id: String,
    client_id: String,
}

impl CognitoShoppers {
    pub fn new(client: Client, pool_id: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            client,
            pool_id: pool_id.into(),
            client_id: client_id.into(),
        }
    }

    /// The shop sends no sign-up code: every new account is confirmed at once.
    async fn confirm(&self, credentials: &Credentials) -> Result<(), AccountError> {
        self.client
            .admin_confirm_sign_up()
            .user_pool_id(&self.pool_id)
            .username(credentials.email.as_str())
            .send()
            .await?;
        Ok(())
    }

    async fn initiate_auth(&self, credentials: &Credentials) -> Result<IdToken, AccountError> {
        let answer = self
            .client
            .initiate_auth()
            .client_id(&self.client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", credentials.email.as_str())
            .auth_parameters("PASSWORD", credentials.password.expose())
            .send()
            .await?;
        if let Some(challenge) = answer.challenge_name() {
            return Err(AccountError::Challenged(challenge.as_str().to_owned()));
        }
        answer
            .authentication_result()
            .and_then(|result| result.id_token())
            .and_then(IdToken::parse)
            .ok_or_else(|| AccountError::Challenged("no readable ID token in the answer".to_owned()))
    }
}

impl Shoppers for CognitoShoppers {
    async fn sign_up(&self, credentials: &Credentials) -> Result<(), AccountError> {
        self.client
            .sign_up()
            .client_id(&self.client_id)
            .username(credentials.email.as_str())
            .password(credentials.password.expose())
            .send()
            .await?;
        self.confirm(credentials).await
    }

    async fn sign_in(&self, credentials: &Credentials) -> Result<IdToken, AccountError> {
        match self.initiate_auth(credentials).await {
            // Signed up, but the confirmation that follows failed. Cognito
            // says "not confirmed" only to the right password, so the
            // account is the caller's: confirm it, as sign-up would have.
            Err(AccountError::Unavailable(error))
                if matches!(
                    *error,
                    aws_sdk_cognitoidentityprovider::Error::UserNotConfirmedException(_)
                ) =>
            {
                self.confirm(credentials).await?;
                self.initiate_auth(credentials).await
            }
            other => other,
        }
    }
}

/// A signed-in shopper's Cognito ID token, as the cookie keeps it and the
/// API takes it (`Authorization: Bearer`).
#[derive(Clone, PartialEq, Eq)]
pub struct IdToken {
    raw: String,
    email: Option<String>,
    /// Seconds since the Unix epoch.
    expires_at: u64,
}

#[derive(Deserialize)]
struct Claims {
    exp: u64,
    #[serde(default)]
    email: Option<String>,
}

impl IdToken {
    /// A JWT whose claims say when it ends. Only the characters of a JWT
    /// are accepted, so the token is safe in a cookie and a header.
    pub fn parse(raw: &str) -> Option<Self> {
        let jwt_characters = raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !jwt_characters || raw.len() > 3800 {
            return None;
        }
        let mut parts = raw.split('.');
        let (_, Some(payload), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        Some(Self {
            raw: raw.to_owned(),
            email: claims.email,
            expires_at: claims.exp,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The shopper's e-mail, as the token says it.
    pub fn email(&self) -> Option<&str> {
        self.email.as_deref()
    }

    /// How long the token is still good for; zero once it has ended.
    pub fn seconds_left(&self, now: SystemTime) -> u64 {
        let now = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        self.expires_at.saturating_sub(now)
    }
}

impl std::fmt::Debug for IdToken {
    /// A token is a credential: it never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdToken")
            .field("email", &self.email)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A token with these claims, for tests: it is never checked here.
#[cfg(test)]
pub fn test_token(email: &str, expires_at: u64) -> IdToken {
    let claims = serde_json::json!({"sub": "s", "email": email, "exp": expires_at});
    let raw = format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.c2lnbmF0dXJl",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    IdToken::parse(&raw).expect("a well-formed token")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use aws_sdk_cognitoidentityprovider::types::error::{
        InternalErrorException, InvalidPasswordException, NotAuthorizedException, UserNotFoundException,
        UsernameExistsException,
    };

    #[test]
    fn a_tokens_email_and_lifetime_are_read_and_it_never_debug_prints() {
        let token = test_token("ada@example.com", 1_000);
        assert_eq!(token.email(), Some("ada@example.com"));
        let now = UNIX_EPOCH + Duration::from_secs(400);
        assert_eq!(token.seconds_left(now), 600);
        assert_eq!(token.seconds_left(now + Duration::from_secs(900)), 0);
        let printed = format!("{token:?}");
        assert!(!printed.contains(token.as_str()), "{printed}");
    }

    #[test]
    fn anything_but_a_jwt_with_an_expiry_is_no_token() {
        for raw in [
            "",
            "not-a-token",
            "a.b",
            "a.b.c.d",
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzIn0.c2ln",
            "x.eyJleHAiOjF9.y; Domain=evil",
            "x.eyJleHAiOjF9.y\r\nSet-Cookie: a=b",
        ] {
            assert!(IdToken::parse(raw).is_none(), "{raw:?} was taken for a token");
        }
        assert!(IdToken::parse("x.eyJleHAiOjF9.y").is_some());
    }

    #[test]
    fn cognitos_answers_become_errors_a_form_can_explain() {
        use aws_sdk_cognitoidentityprovider::Error;
        let exists = Error::UsernameExistsException(UsernameExistsException::builder().build());
        assert!(matches!(AccountError::from(exists), AccountError::EmailTaken));
        let weak = Error::InvalidPasswordException(InvalidPasswordException::builder().build());
        assert!(matches!(AccountError::from(weak), AccountError::WeakPassword));
        let wrong = Error::NotAuthorizedException(NotAuthorizedException::builder().build());
        assert!(matches!(
            AccountError::from(wrong),
            AccountError::WrongCredentials
        ));
        let unknown = Error::UserNotFoundException(UserNotFoundException::builder().build());
        assert!(matches!(
            AccountError::from(unknown),
            AccountError::WrongCredentials
        ));
        let down = Error::InternalErrorException(InternalErrorException::builder().message("boom").build());
        let error = AccountError::from(down);
        assert!(matches!(error, AccountError::Unavailable(_)), "{error:?}");
        assert!(std::error::Error::source(&error).is_some(), "the cause is kept");
        assert_eq!(
            astroshop_telemetry::error_chain(&error),
            "Cognito: InternalErrorException: boom",
            "Cognito's words, once"
        );
    }
}
