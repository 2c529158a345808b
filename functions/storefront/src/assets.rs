//! The storefront's fixed files: product pictures, the stylesheet, the script
//! and the icon. They are compiled into the binary, so the function needs no
//! bucket and no file system, and they never change while it runs: each
//! answer carries an ETag and may be cached for a year (pages link the CSS and
//! script with a `?v=` of their ETag, so a new deploy is fetched at once).

use lambda_http::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use lambda_http::http::{HeaderMap, StatusCode};
use lambda_http::{Body, Response};

pub struct Asset {
    pub bytes: &'static [u8],
    pub content_type: &'static str,
}

macro_rules! asset {
    ($file:literal, $content_type:literal) => {
        Asset {
            bytes: include_bytes!(concat!("../assets/", $file)),
            content_type: $content_type,
        }
    };
}

/// `GET /images/products/{picture}`: the pictures products name in `picture`.
pub fn picture(name: &str) -> Option<Asset> {
    Some(match name {
        "EclipsmartTravelRefractorTelescope.jpg" => {
            asset!("products/EclipsmartTravelRefractorTelescope.jpg", "image/jpeg")
        }
        "LensCleaningKit.jpg" => asset!("products/LensCleaningKit.jpg", "image/jpeg"),
        "NationalParkFoundationExplorascope.jpg" => {
            asset!("products/NationalParkFoundationExplorascope.jpg", "image/jpeg")
        }
        "OpticalTubeAssembly.jpg" => asset!("products/OpticalTubeAssembly.jpg", "image/jpeg"),
        "RedFlashlight.jpg" => asset!("products/RedFlashlight.jpg", "image/jpeg"),
        "RoofBinoculars.jpg" => asset!("products/RoofBinoculars.jpg", "image/jpeg"),
        "SolarFilter.jpg" => asset!("products/SolarFilter.jpg", "image/jpeg"),
        "SolarSystemColorImager.jpg" => asset!("products/SolarSystemColorImager.jpg", "image/jpeg"),
        "StarsenseExplorer.jpg" => asset!("products/StarsenseExplorer.jpg", "image/jpeg"),
        "TheCometBook.jpg" => asset!("products/TheCometBook.jpg", "image/jpeg"),
        _ => return None,
    })
}

/// `GET /static/{file}`.
pub fn static_file(name: &str) -> Option<Asset> {
    Some(match name {
        "shop.css" => asset!("static/shop.css", "text/css; charset=utf-8"),
        "shop.js" => asset!("static/shop.js", "text/javascript; charset=utf-8"),
        "favicon.svg" => asset!("static/favicon.svg", "image/svg+xml"),
        _ => return None,
    })
}

impl Asset {
    /// A strong validator: FNV-1a of the bytes, which is fast and stable.
    pub fn etag(&self) -> String {
        let hash = self.bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
        });
        format!("\"{hash:016x}\"")
    }

    /// The file, or 304 when the browser already holds these bytes.
    pub fn respond(&self, request_headers: &HeaderMap) -> Response<Body> {
        let etag = self.etag();
        let cached = request_headers
            .get_all(IF_NONE_MATCH)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|tag| {
                let tag = tag.trim();
                tag == "*" || tag.trim_start_matches("W/") == etag
            });
        let builder = Response::builder()
            .header(ETAG, &etag)
            .header(CACHE_CONTROL, "public, max-age=31536000, immutable");
        let response = if cached {
            builder.status(StatusCode::NOT_MODIFIED).body(Body::Empty)
        } else {
            builder
                .status(StatusCode::OK)
                .header(CONTENT_TYPE, self.content_type)
                .body(Body::Binary(self.bytes.to_vec()))
        };
        response.expect("static headers always build a response")
    }
}

/// The URL a page links a static file by, versioned by its content.
pub fn static_url(name: &str) -> String {
    match static_file(name) {
        Some(asset) => format!("/static/{name}?v={}", asset.etag().trim_matches('"')),
        None => format!("/static/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seeded_product_has_its_picture() {
        let products: serde_json::Value =
            serde_json::from_str(include_str!("../../../shared/seed/data/products.json")).unwrap();
        let products = products["products"].as_array().unwrap();
        assert_eq!(products.len(), 10);
        for product in products {
            let name = product["picture"].as_str().unwrap();
            let picture = picture(name).unwrap_or_else(|| panic!("no picture {name}"));
            assert!(picture.bytes.starts_with(&[0xff, 0xd8]), "{name} is not a JPEG");
        }
    }

    #[test]
    fn static_links_carry_the_content_version() {
        let url = static_url("shop.css");
        assert!(url.starts_with("/static/shop.css?v="), "{url}");
        assert_eq!(url.len(), "/static/shop.css?v=".len() + 16);
    }
}
