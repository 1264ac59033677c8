//! The teacher console's sign-in cookie. An API key typed once into the
//! console is exchanged (`POST /v1/console/session`) for a random token
//! that lives only in an `HttpOnly`, `SameSite=Strict` cookie — `Secure`
//! and named `__Host-estrade_console` when Estrade is served over HTTPS —
//! and PostgreSQL keeps only its hash (`estrade_db::console`). A request
//! without `Authorization` is authenticated by that cookie
//! ([`crate::auth::Caller`]); one that may change something (any method
//! but GET and HEAD) must also carry an `Origin` equal to the public URL's,
//! so no other page can act with the cookie. `SameSite=Strict` already
//! keeps it off requests from other sites; the `Origin` check also covers
//! other origins of the same site and browsers that ignore `SameSite`.

use std::time::Duration;

use axum::http::header::{COOKIE, ORIGIN};
use axum::http::{HeaderMap, HeaderValue, Method};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;

use crate::error::Error;

/// How console cookies are named, set and checked in this deployment.
#[derive(Debug, Clone)]
pub struct ConsoleCookies {
    name: &'static str,
    secure: bool,
    origin: String,
    ttl: Duration,
}

/// The cookie's name over plain HTTP (development, tests).
pub const PLAIN_NAME: &str = "estrade_console";

/// Its name over HTTPS: the `__Host-` prefix makes browsers refuse it
/// unless it is `Secure`, for the whole host, and set by the host itself.
pub const SECURE_NAME: &str = "__Host-estrade_console";

impl ConsoleCookies {
    /// Cookies for the service at `public_url`, lasting `ttl`.
    pub fn new(public_url: &url::Url, ttl: Duration) -> Self {
        let secure = public_url.scheme() == "https";
        Self {
            name: if secure { SECURE_NAME } else { PLAIN_NAME },
            secure,
            origin: public_url.origin().ascii_serialization(),
            ttl,
        }
    }

    /// How long a sign-in lasts.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The console token a request carries, if any.
    pub fn token(&self, headers: &HeaderMap) -> Option<String> {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(cookie::Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == self.name && !c.value().is_empty())
            .map(|c| c.value().to_owned())
    }

    /// The `Set-Cookie` that signs this browser in with `token`.
    pub fn set(&self, token: &str) -> HeaderValue {
        let max_age =
            cookie::time::Duration::seconds(i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX));
        self.header(token, max_age)
    }

    /// The `Set-Cookie` that forgets it.
    pub fn clear(&self) -> HeaderValue {
        self.header("", cookie::time::Duration::ZERO)
    }

    fn header(&self, value: &str, max_age: cookie::time::Duration) -> HeaderValue {
        let cookie = cookie::Cookie::build((self.name, value))
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(cookie::SameSite::Strict)
            .max_age(max_age)
            .build();
        HeaderValue::from_str(&cookie.to_string()).expect("a cookie of URL-safe characters")
    }

    /// Refuses a request that may change something unless it comes from
    /// Estrade's own pages (its `Origin` is the public URL's).
    pub fn check_origin(&self, method: &Method, headers: &HeaderMap) -> Result<(), Error> {
        if matches!(*method, Method::GET | Method::HEAD) {
            return Ok(());
        }
        match headers.get(ORIGIN) {
            Some(origin) if origin.as_bytes() == self.origin.as_bytes() => Ok(()),
            _ => Err(Error::CrossOrigin),
        }
    }
}

/// A new console token: 256 random bits, URL-safe.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies(url: &str) -> ConsoleCookies {
        ConsoleCookies::new(&url.parse().unwrap(), Duration::from_secs(3600))
    }

    #[test]
    fn over_https_the_cookie_is_secure_host_only_http_only_and_strict() {
        let set = cookies("https://app.example.org/").set("abc");
        let set = set.to_str().unwrap();
        assert!(set.starts_with("__Host-estrade_console=abc;"), "{set}");
        for part in [
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/",
            "Max-Age=3600",
        ] {
            assert!(set.contains(part), "{set} lacks {part}");
        }
        assert!(!set.contains("Domain"), "{set}");
    }

    #[test]
    fn over_plain_http_the_cookie_cannot_be_secure_and_keeps_the_other_attributes() {
        let set = cookies("http://127.0.0.1:8080").set("abc");
        let set = set.to_str().unwrap();
        assert!(set.starts_with("estrade_console=abc;"), "{set}");
        assert!(!set.contains("Secure"), "{set}");
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        let cleared = cookies("http://127.0.0.1:8080").clear();
        assert!(cleared.to_str().unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn the_token_is_read_from_among_other_cookies_and_only_under_its_own_name() {
        let c = cookies("https://app.example.org");
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("a=1; estrade_console=plain"),
        );
        assert_eq!(
            c.token(&headers),
            None,
            "the plain name is not read over HTTPS"
        );
        headers.append(
            COOKIE,
            HeaderValue::from_static("__Host-estrade_console=tok; b=2"),
        );
        assert_eq!(c.token(&headers).as_deref(), Some("tok"));
    }

    #[test]
    fn changes_need_the_public_origin_and_reads_do_not() {
        let c = cookies("https://app.example.org/some/path");
        let with = |origin: Option<&'static str>| {
            let mut h = HeaderMap::new();
            if let Some(o) = origin {
                h.insert(ORIGIN, HeaderValue::from_static(o));
            }
            h
        };
        assert!(c.check_origin(&Method::GET, &with(None)).is_ok());
        assert!(
            c.check_origin(&Method::POST, &with(Some("https://app.example.org")))
                .is_ok()
        );
        for origin in [
            None,
            Some("https://evil.example"),
            Some("null"),
            Some("http://app.example.org"),
        ] {
            for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
                assert!(
                    matches!(
                        c.check_origin(&method, &with(origin)),
                        Err(Error::CrossOrigin)
                    ),
                    "{method} from {origin:?}"
                );
            }
        }
    }

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }
}
