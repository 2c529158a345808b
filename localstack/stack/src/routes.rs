//! API Gateway HTTP API route selection: the most specific route wins. A
//! literal segment beats a `{variable}`, which beats a greedy `{proxy+}`; a
//! route for the method beats `ANY`; `$default` catches what nothing else does.
//! A route carries the authorizer it names and the throttling its stage gives
//! it, which the gateway applies.

use std::collections::BTreeMap;

use crate::template::{self, Throttling};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Variable(String),
    Greedy(String),
}

#[derive(Debug, Clone)]
pub struct Route {
    /// `GET /api/products/{productId}`, as API Gateway names it.
    pub route_key: String,
    /// The function (cargo binary) that serves it.
    pub function: String,
    /// The JWT authorizer a request must pass before the function runs.
    pub authorizer: Option<String>,
    /// The route's request limits, shared by all its clients.
    pub throttling: Option<Throttling>,
    method: Option<String>,
    segments: Option<Vec<Segment>>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Selection<'r> {
    Found {
        route: &'r Route,
        path_parameters: BTreeMap<String, String>,
    },
    /// The path is known, the method is not: the methods that are.
    MethodNotAllowed(Vec<String>),
    NotFound,
}

impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        self.route_key == other.route_key
    }
}

impl Eq for Route {}

impl Route {
    /// A route from a template event: `method` (`ANY` for all) and `path`
    /// (`$default` for the catch-all).
    pub fn new(method: &str, path: &str, function: &str) -> Self {
        let method = method.to_ascii_uppercase();
        let segments = (path != "$default").then(|| {
            path.trim_start_matches('/')
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => match name.strip_suffix('+') {
                        Some(greedy) => Segment::Greedy(greedy.to_owned()),
                        None => Segment::Variable(name.to_owned()),
                    },
                    None => Segment::Literal(s.to_owned()),
                })
                .collect()
        });
        Self {
            route_key: template::route_key(&method, path),
            function: function.to_owned(),
            authorizer: None,
            throttling: None,
            method: (method != "ANY").then_some(method),
            segments,
        }
    }

    /// The route, guarded by `authorizer` (none for an open route).
    pub fn with_authorizer(self, authorizer: Option<String>) -> Self {
        Self { authorizer, ..self }
    }

    /// The route, throttled as its stage says (not at all for `None`).
    pub fn with_throttling(self, throttling: Option<Throttling>) -> Self {
        Self { throttling, ..self }
    }

    /// The path parameters if `path` matches, with a rank: lower is more specific.
    fn match_path(&self, path: &[&str]) -> Option<(Vec<u8>, BTreeMap<String, String>)> {
        let segments = self.segments.as_ref()?;
        let mut rank = Vec::with_capacity(segments.len());
        let mut parameters = BTreeMap::new();
        for (index, segment) in segments.iter().enumerate() {
            match segment {
                Segment::Literal(literal) => {
                    if path.get(index) != Some(&literal.as_str()) {
                        return None;
                    }
                    rank.push(0);
                }
                Segment::Variable(name) => {
                    parameters.insert(name.clone(), decode(path.get(index)?));
                    rank.push(1);
                }
                Segment::Greedy(name) => {
                    let rest = path.get(index..).filter(|rest| !rest.is_empty())?;
                    parameters.insert(name.clone(), decode(&rest.join("/")));
                    rank.push(2);
                    return Some((rank, parameters));
                }
            }
        }
        (segments.len() == path.len()).then_some((rank, parameters))
    }
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// How specific a match is, per segment then by method: lower wins.
type Specificity = (Vec<u8>, u8);

#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    pub fn new(routes: Vec<Route>) -> Self {
        Self { routes }
    }

    /// Every `HttpApi` event of the template's functions.
    pub fn from_template(template: &crate::template::Template) -> Self {
        Self::new(
            template
                .functions()
                .iter()
                .flat_map(|f| {
                    f.routes.iter().map(|r| {
                        Route::new(&r.method, &r.path, &f.binary)
                            .with_authorizer(r.authorizer.clone())
                            .with_throttling(template.route_throttling(&r.key()))
                    })
                })
                .collect(),
        )
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn select(&self, method: &str, path: &str) -> Selection<'_> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut best: Option<(Specificity, &Route, BTreeMap<String, String>)> = None;
        let mut allowed = Vec::new();
        for route in &self.routes {
            let Some((rank, parameters)) = route.match_path(&segments) else {
                continue;
            };
            let method_rank = match &route.method {
                Some(m) if m == method => 0,
                None => 1,
                Some(m) => {
                    allowed.push(m.clone());
                    continue;
                }
            };
            let key = (rank, method_rank);
            if best.as_ref().is_none_or(|(best_key, ..)| key < *best_key) {
                best = Some((key, route, parameters));
            }
        }
        if let Some((_, route, path_parameters)) = best {
            return Selection::Found {
                route,
                path_parameters,
            };
        }
        if let Some(route) = self.routes.iter().find(|r| r.segments.is_none()) {
            return Selection::Found {
                route,
                path_parameters: BTreeMap::new(),
            };
        }
        if allowed.is_empty() {
            Selection::NotFound
        } else {
            allowed.sort();
            allowed.dedup();
            Selection::MethodNotAllowed(allowed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        RouteTable::new(vec![
            Route::new("GET", "/api/products/{productId}", "get-product"),
            Route::new("GET", "/api/products/search", "search"),
            Route::new("GET", "/api/products", "list"),
            Route::new("POST", "/api/cart", "add"),
            Route::new("GET", "/api/cart", "get-cart"),
            Route::new("ANY", "/static/{proxy+}", "static"),
            Route::new("GET", "/static/logo.png", "logo"),
        ])
    }

    fn selected(table: &RouteTable, method: &str, path: &str) -> Option<(String, BTreeMap<String, String>)> {
        match table.select(method, path) {
            Selection::Found {
                route,
                path_parameters,
            } => Some((route.function.clone(), path_parameters)),
            _ => None,
        }
    }

    #[test]
    fn a_literal_segment_beats_a_variable() {
        assert_eq!(
            selected(&table(), "GET", "/api/products/search").unwrap().0,
            "search"
        );
        let (function, params) = selected(&table(), "GET", "/api/products/OLJCESPC7Z").unwrap();
        assert_eq!(function, "get-product");
        assert_eq!(params["productId"], "OLJCESPC7Z");
    }

    #[test]
    fn a_greedy_variable_takes_the_rest_of_the_path_and_loses_to_literals() {
        let (function, params) = selected(&table(), "GET", "/static/img/a%20b.jpg").unwrap();
        assert_eq!(function, "static");
        assert_eq!(params["proxy"], "img/a b.jpg");
        assert_eq!(selected(&table(), "GET", "/static/logo.png").unwrap().0, "logo");
        assert_eq!(
            selected(&table(), "DELETE", "/static/logo.png").unwrap().0,
            "static"
        );
        assert!(selected(&table(), "GET", "/static").is_none());
    }

    #[test]
    fn the_method_decides_between_routes_of_one_path() {
        assert_eq!(selected(&table(), "POST", "/api/cart").unwrap().0, "add");
        assert_eq!(selected(&table(), "GET", "/api/cart").unwrap().0, "get-cart");
    }

    #[test]
    fn a_known_path_with_another_method_is_not_allowed() {
        assert_eq!(
            table().select("DELETE", "/api/products"),
            Selection::MethodNotAllowed(vec!["GET".into()])
        );
    }

    #[test]
    fn an_unknown_path_is_not_found_unless_there_is_a_default_route() {
        assert_eq!(table().select("GET", "/nope"), Selection::NotFound);
        assert_eq!(table().select("GET", "/api/products/a/b"), Selection::NotFound);
        let mut routes = table().routes;
        routes.push(Route::new("ANY", "$default", "fallback"));
        let with_default = RouteTable::new(routes);
        assert_eq!(selected(&with_default, "GET", "/nope").unwrap().0, "fallback");
    }

    #[test]
    fn empty_segments_are_ignored_like_a_trailing_slash() {
        assert_eq!(selected(&table(), "GET", "/api/products/").unwrap().0, "list");
    }
}
