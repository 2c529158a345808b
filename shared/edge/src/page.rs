//! Paging, for every list that can grow: `limit` and an opaque `cursor` in;
//! one page and, when more follow, a `Link: <…>; rel="next"` header (RFC
//! 8288) out. The body keeps the list's shape, so a client that never pages
//! (the demo's own) reads the first page exactly as it read the whole list.
//!
//! A cursor is where the previous page ended, in the list's own terms (a
//! sort key, a timestamp and an id), together with a digest of the query it
//! came from: a cursor used with other filters is refused rather than
//! silently starting somewhere meaningless. A cursor is not a secret: each
//! list rebuilds its keys from a cursor's parts after checking them, so a
//! forged one can only start a page elsewhere in what the caller may read.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lambda_http::http::{HeaderValue, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::{ApiError, query};

/// The most items one page holds.
pub const MAX_LIMIT: usize = 100;

/// The longest cursor read; ours are far shorter.
const MAX_CURSOR_CHARS: usize = 1024;

/// What a request asks of a list: how many, and from where.
#[derive(Debug)]
pub struct PageRequest {
    pub limit: usize,
    cursor: Option<Cursor>,
    scope: String,
}

#[derive(Debug, Serialize, serde::Deserialize)]
struct Cursor {
    /// The digest of the query the cursor belongs to.
    #[serde(rename = "q")]
    scope: String,
    /// Where the previous page ended.
    #[serde(rename = "a")]
    after: serde_json::Value,
}

impl PageRequest {
    /// `limit` (1 to [`MAX_LIMIT`], `default_limit` when absent) and
    /// `cursor`. `scope` names everything else that decides the list (its
    /// filters, its order, whose it is): a cursor from another scope is a 400.
    pub fn from_request(request: &Request, default_limit: usize, scope: &str) -> Result<Self, ApiError> {
        let limit = match query(request, "limit") {
            None => default_limit,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|limit| (1..=MAX_LIMIT).contains(limit))
                .ok_or_else(|| {
                    ApiError::invalid_parameter(
                        "limit",
                        format!("query parameter \"limit\" must be a whole number from 1 to {MAX_LIMIT}"),
                    )
                })?,
        };
        let scope = digest(scope);
        let cursor = query(request, "cursor")
            .map(|text| decode_cursor(text, &scope))
            .transpose()?;
        Ok(Self { limit, cursor, scope })
    }

    /// Where the previous page ended, as the list wrote it; `None` on the
    /// first page. A cursor whose position does not read as `T` is a 400.
    pub fn after<T: DeserializeOwned>(&self) -> Result<Option<T>, ApiError> {
        self.cursor
            .as_ref()
            .map(|cursor| serde_json::from_value(cursor.after.clone()).map_err(|_| invalid_cursor()))
            .transpose()
    }

    /// The cursor that starts the page after the one ending at `position`.
    pub fn next_cursor(&self, position: &impl Serialize) -> Result<String, ApiError> {
        let cursor = Cursor {
            scope: self.scope.clone(),
            after: serde_json::to_value(position)
                .map_err(|error| ApiError::internal(format!("writing a cursor: {error}")))?,
        };
        let json = serde_json::to_vec(&cursor)
            .map_err(|error| ApiError::internal(format!("writing a cursor: {error}")))?;
        Ok(URL_SAFE_NO_PAD.encode(json))
    }
}

fn decode_cursor(text: &str, scope: &str) -> Result<Cursor, ApiError> {
    if text.len() > MAX_CURSOR_CHARS {
        return Err(invalid_cursor());
    }
    let cursor: Cursor = URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or_else(invalid_cursor)?;
    if cursor.scope != scope {
        return Err(ApiError::invalid_parameter(
            "cursor",
            "query parameter \"cursor\" belongs to a list with other parameters; start again without it",
        ));
    }
    Ok(cursor)
}

fn invalid_cursor() -> ApiError {
    ApiError::invalid_parameter(
        "cursor",
        "query parameter \"cursor\" is not one this list gave out",
    )
}

fn digest(scope: &str) -> String {
    let hash = Sha256::digest(scope.as_bytes());
    URL_SAFE_NO_PAD.encode(&hash[..12])
}

/// Adds `Link: <path?…&cursor=next>; rel="next"` to `response`: the
/// request's own path and parameters, with the next page's cursor.
pub fn link_next(request: &Request, next_cursor: &str, response: &mut Response<Body>) {
    let params = request.query_string_parameters();
    // Sorted, so the link does not depend on a hash map's order.
    let mut pairs: Vec<(&str, &str)> = params.iter().filter(|(name, _)| *name != "cursor").collect();
    pairs.sort_unstable();
    pairs.push(("cursor", next_cursor));
    let Ok(query) = serde_urlencoded::to_string(&pairs) else {
        return;
    };
    let link = format!("<{}?{query}>; rel=\"next\"", request.uri().path());
    if let Ok(value) = HeaderValue::from_str(&link) {
        response.headers_mut().insert(header::LINK, value);
    }
}

/// 200 with `items` as the body and, when `next` is a cursor, the Link to it.
pub fn page_response(request: &Request, items: &impl Serialize, next: Option<String>) -> Response<Body> {
    let mut response = crate::ok(items);
    if let Some(cursor) = next {
        link_next(request, &cursor, &mut response);
    }
    response
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use lambda_http::http::StatusCode;

    use super::*;

    fn request(query: &[(&str, &str)]) -> Request {
        let params: HashMap<String, Vec<String>> = query.iter().fold(HashMap::new(), |mut map, (k, v)| {
            map.entry((*k).to_owned()).or_default().push((*v).to_owned());
            map
        });
        lambda_http::http::Request::builder()
            .uri("https://shop.example/api/products")
            .body(Body::Empty)
            .unwrap()
            .with_query_string_parameters(params)
    }

    fn rejected_parameter(error: ApiError) -> String {
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let Body::Text(text) = response.body() else {
            panic!("no body")
        };
        let body: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(body["error"]["code"], "invalid_parameter");
        body["error"]["parameter"].as_str().unwrap().to_owned()
    }

    #[test]
    fn the_limit_defaults_and_is_bounded() {
        assert_eq!(
            PageRequest::from_request(&request(&[]), 20, "").unwrap().limit,
            20
        );
        assert_eq!(
            PageRequest::from_request(&request(&[("limit", "100")]), 20, "")
                .unwrap()
                .limit,
            100
        );
        for bad in ["0", "101", "-1", "ten", "1.5"] {
            let error = PageRequest::from_request(&request(&[("limit", bad)]), 20, "").unwrap_err();
            assert_eq!(rejected_parameter(error), "limit", "{bad}");
        }
    }

    #[test]
    fn a_cursor_carries_its_position_to_the_next_page() {
        let first = PageRequest::from_request(&request(&[]), 20, "sort=price").unwrap();
        assert_eq!(first.after::<(u64, String)>().unwrap(), None);
        let cursor = first.next_cursor(&(42_u64, "OLJCESPC7Z")).unwrap();
        let next = PageRequest::from_request(&request(&[("cursor", &cursor)]), 20, "sort=price").unwrap();
        assert_eq!(
            next.after::<(u64, String)>().unwrap(),
            Some((42, "OLJCESPC7Z".to_owned()))
        );
    }

    #[test]
    fn a_cursor_from_another_query_or_made_up_is_refused() {
        let cursor = PageRequest::from_request(&request(&[]), 20, "sort=price")
            .unwrap()
            .next_cursor(&"x")
            .unwrap();
        let error = PageRequest::from_request(&request(&[("cursor", &cursor)]), 20, "sort=name").unwrap_err();
        assert_eq!(rejected_parameter(error), "cursor");
        let long = "A".repeat(MAX_CURSOR_CHARS + 1);
        for bad in ["not base64!", "e30", long.as_str()] {
            let error = PageRequest::from_request(&request(&[("cursor", bad)]), 20, "").unwrap_err();
            assert_eq!(rejected_parameter(error), "cursor", "{bad}");
        }
        let wrong_shape =
            PageRequest::from_request(&request(&[("cursor", &cursor)]), 20, "sort=price").unwrap();
        assert_eq!(
            rejected_parameter(wrong_shape.after::<u64>().unwrap_err()),
            "cursor"
        );
    }

    #[test]
    fn the_next_link_repeats_the_query_with_the_new_cursor() {
        let asked = request(&[("sort", "-price"), ("cursor", "old"), ("category", "star gazing")]);
        let response = page_response(&asked, &[1, 2], Some("NEXT".to_owned()));
        assert_eq!(
            response.headers()[header::LINK],
            "</api/products?category=star+gazing&sort=-price&cursor=NEXT>; rel=\"next\""
        );
        let last = page_response(&asked, &[1, 2], None);
        assert!(last.headers().get(header::LINK).is_none());
    }
}
