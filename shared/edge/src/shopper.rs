//! Who a request acts for. A signed-in shopper is known only from the token
//! API Gateway's JWT authorizer checked on the route (its `sub` claim, in the
//! request context the gateway fills in); a client's header or parameter
//! never names one. A guest is whoever the client says, as the OpenTelemetry
//! demo's clients send it, but never an account.

use astroshop_domain::UserId;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::ApiError;

/// The signed-in shopper, on a route with the JWT authorizer; `None` on any
/// other route, whatever the request carries.
pub fn signed_in(request: &Request) -> Option<UserId> {
    let RequestContext::ApiGatewayV2(context) = request.request_context_ref()? else {
        return None;
    };
    let sub = context.authorizer.as_ref()?.jwt.as_ref()?.claims.get("sub")?;
    UserId::account(sub).ok()
}

/// A guest's id as the client gives it (a cart's `userId` or `sessionId`).
pub fn guest(id: &str) -> Result<UserId, ApiError> {
    UserId::guest(id).map_err(|e| ApiError::bad_request("invalid_user_id", e.to_string()))
}

/// The shopper a request is for: the signed-in one on an account route,
/// else the guest the client names with `given` (`None` when it names none).
pub fn shopper(request: &Request, given: Option<&str>) -> Result<Option<UserId>, ApiError> {
    match signed_in(request) {
        Some(account) => Ok(Some(account)),
        None => given.map(guest).transpose(),
    }
}
