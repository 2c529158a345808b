//! The template's user pool, provisioned in the emulator, and the HTTP
//! API's authorizer resolved against it: the pool keeps the template's
//! password policy, and a token the emulator's Cognito issues to a shopper
//! of the pool passes the authorizer `ShopperToken`, its claims intact,
//! while the pool's other app clients' tokens do not.

use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ExplicitAuthFlowsType};
use local_stack::account::LOCAL_REGION;
use local_stack::authorizer::{Authorizers, Refusal};
use local_stack::resolve::{Names, Resolver};
use local_stack::template::Template;
use local_stack::{emulator, provision};

#[tokio::test]
async fn the_shopper_pool_issues_tokens_the_authorizer_accepts() {
    let template = Template::shop().unwrap();
    let endpoint = emulator::shared_endpoint();
    let config = provision::emulator_config(endpoint, LOCAL_REGION);
    let mut resolver = Resolver::new(&template, Names::local("user-pools"));
    provision::everything(&mut resolver, &config).await.unwrap();
    let reference = |id: &str| {
        resolver
            .resolve_string(&serde_json::json!({ "Ref": id }))
            .unwrap()
    };
    let (pool, client) = (reference("ShopperPool"), reference("ShopperPoolClient"));
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&config);

    let sign_up = |email: &str, password: &str| {
        cognito
            .sign_up()
            .client_id(&client)
            .username(email)
            .password(password)
            .send()
    };
    assert!(
        sign_up("weak@example.com", "abcdefgh").await.is_err(),
        "the template's policy asks for a number"
    );
    let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
    sign_up(&email, "lowercase-only-1")
        .await
        .expect("the template's policy asks for no capital or symbol");
    cognito
        .admin_confirm_sign_up()
        .user_pool_id(&pool)
        .username(&email)
        .send()
        .await
        .unwrap();
    let sign_in = |client: String| {
        cognito
            .initiate_auth()
            .client_id(client)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", &email)
            .auth_parameters("PASSWORD", "lowercase-only-1")
            .send()
    };
    let tokens = sign_in(client.clone()).await.unwrap();
    let id_token = tokens.authentication_result().unwrap().id_token().unwrap();

    let authorizers = Authorizers::from_template(&resolver, endpoint).unwrap();
    let authorizer = authorizers.get("ShopperToken").unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {id_token}").parse().unwrap());
    let claims = authorizer.check(&headers).await.unwrap();
    assert_eq!(claims["email"], email);
    assert_eq!(claims["aud"], client);
    assert!(claims["exp"].parse::<u64>().is_ok(), "{claims:?}");

    let other_client = cognito
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("elsewhere")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .and_then(|c| c.client_id)
        .unwrap();
    let elsewhere = sign_in(other_client).await.unwrap();
    headers.insert(
        "authorization",
        elsewhere
            .authentication_result()
            .unwrap()
            .id_token()
            .unwrap()
            .parse()
            .unwrap(),
    );
    assert_eq!(
        authorizer.check(&headers).await,
        Err(Refusal::Invalid(
            "the token does not have a valid audience".into()
        ))
    );
}
