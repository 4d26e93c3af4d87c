//! The hub's cookies, each read and written here and nowhere else (DESIGN.md: its own names, never a
//! shared `session`). Every one is `__Host-` (RFC 6265bis §4.1.3.2: this origin only, `Path=/`, no
//! `Domain`), `Secure`, `HttpOnly` and `SameSite=Lax`. Values that are not the shape the hub writes are
//! ignored as if absent.

use crate::{
    i18n::Lang,
    ids::{BrowserId, ProviderId, SessionId},
};
use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts, HeaderMap, HeaderValue},
};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

/// The browser: journeys are bound to its hash, so a journey's pages and answers act only in the browser
/// it started in. Not a store key; it names no journey (one browser may have several at once).
pub const BROWSER: &str = "__Host-hub-browser";
/// The hub's single sign-on session.
pub const SESSION: &str = "__Host-hub-session";
/// The person's language: `en` or `cy` and nothing else.
pub const LANG: &str = "__Host-hub-lang";
/// The provider chosen last (only its id), offered first next time.
pub const LAST_PROVIDER: &str = "__Host-hub-last-provider";

/// A year, for cookies that remember a preference.
const A_YEAR: i64 = 365 * 24 * 3600;

/// The hub's cookies as a request carried them.
#[derive(Debug, Clone, Default)]
pub struct HubCookies {
    pub browser: Option<BrowserId>,
    pub session: Option<SessionId>,
    pub lang: Option<Lang>,
    pub last_provider: Option<ProviderId>,
}

/// A random id as the hub writes them: 43 characters of base64url.
fn token_shaped(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A provider id as the registry allows them.
fn id_shaped(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl HubCookies {
    /// The browser's id: the one it sent, or a new one (with the cookie that gives it to the browser).
    pub fn browser_or_new(&self) -> (BrowserId, Option<CookieChange>) {
        match &self.browser {
            Some(id) => (id.clone(), None),
            None => {
                let id = BrowserId::generate();
                (id.clone(), Some(CookieChange::Browser(id)))
            }
        }
    }

    /// Reads the hub's cookies from request headers.
    pub fn read(headers: &HeaderMap) -> Self {
        let jar = CookieJar::from_headers(headers);
        let value = |name: &str| jar.get(name).map(|c| c.value().to_string());
        Self {
            browser: value(BROWSER)
                .filter(|v| token_shaped(v))
                .map(|v| BrowserId::from_wire(&v)),
            session: value(SESSION)
                .filter(|v| token_shaped(v))
                .map(|v| SessionId::from_wire(&v)),
            lang: value(LANG).and_then(|v| Lang::parse(&v)),
            last_provider: value(LAST_PROVIDER).filter(|v| id_shaped(v)).map(ProviderId::from),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for HubCookies {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::read(&parts.headers))
    }
}

/// A change to one of the hub's cookies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieChange {
    /// The browser's id, set once (for the browser session).
    Browser(BrowserId),
    /// A new hub session.
    Session(SessionId),
    /// The hub session ended.
    EndSession,
    /// The person's language.
    Lang(Lang),
    /// The provider chosen, to offer first next time.
    LastProvider(ProviderId),
}

fn cookie(name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax)
        .build()
}

fn removal(name: &'static str) -> Cookie<'static> {
    let mut c = cookie(name, String::new());
    c.set_max_age(time::Duration::ZERO);
    c
}

impl CookieChange {
    /// The `Set-Cookie` value for this change.
    pub fn to_cookie(&self) -> Cookie<'static> {
        match self {
            CookieChange::Browser(id) => cookie(BROWSER, id.as_str().to_string()),
            CookieChange::Session(id) => cookie(SESSION, id.as_str().to_string()),
            CookieChange::EndSession => removal(SESSION),
            CookieChange::Lang(lang) => {
                let mut c = cookie(LANG, lang.code().to_string());
                c.set_max_age(time::Duration::seconds(A_YEAR));
                c
            }
            CookieChange::LastProvider(id) => {
                let mut c = cookie(LAST_PROVIDER, id.as_str().to_string());
                c.set_max_age(time::Duration::seconds(A_YEAR));
                c
            }
        }
    }
}

/// Appends the `Set-Cookie` headers of `changes` to a response's headers.
pub fn apply(headers: &mut HeaderMap, changes: &[CookieChange]) {
    for change in changes {
        if let Ok(v) = HeaderValue::from_str(&change.to_cookie().encoded().to_string()) {
            headers.append(header::SET_COOKIE, v);
        }
    }
}

/// Cookies of the auditor view (its own listener): `__Host-`, `Secure`, `HttpOnly`, `SameSite=Strict`,
/// holding 43-character random tokens only.
pub mod strict {
    use axum::http::{header, HeaderMap, HeaderValue};
    use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

    fn cookie(name: &'static str, value: String) -> Cookie<'static> {
        Cookie::build((name, value))
            .path("/")
            .secure(true)
            .http_only(true)
            .same_site(SameSite::Strict)
            .build()
    }

    /// Sets a cookie on a response.
    pub fn set(headers: &mut HeaderMap, name: &'static str, value: String) {
        if let Ok(v) = HeaderValue::from_str(&cookie(name, value).encoded().to_string()) {
            headers.append(header::SET_COOKIE, v);
        }
    }

    /// Removes a cookie from the browser.
    pub fn clear(headers: &mut HeaderMap, name: &'static str) {
        let mut c = cookie(name, String::new());
        c.set_max_age(time::Duration::ZERO);
        if let Ok(v) = HeaderValue::from_str(&c.encoded().to_string()) {
            headers.append(header::SET_COOKIE, v);
        }
    }

    /// A cookie's value from a request, if it has the shape written here (43 characters of base64url).
    pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
        let jar = CookieJar::from_headers(headers);
        let value = jar.get(name)?.value().to_string();
        super::token_shaped(&value).then_some(value)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_host_secure_httponly_lax_and_read_back() {
        let id = BrowserId::generate();
        let mut headers = HeaderMap::new();
        apply(
            &mut headers,
            &[
                CookieChange::Browser(id.clone()),
                CookieChange::EndSession,
                CookieChange::Lang(Lang::Cy),
            ],
        );
        let set: Vec<String> = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        for c in &set {
            for attr in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
                assert!(c.contains(attr), "{c} lacks {attr}");
            }
            assert!(c.starts_with("__Host-"), "{c}");
            assert!(!c.contains("Domain"), "{c}");
        }
        assert!(set[1].contains("Max-Age=0"), "{}", set[1]);
        let mut request = HeaderMap::new();
        request.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("{BROWSER}={}; {LANG}=cy; {SESSION}=short", id.as_str())).unwrap(),
        );
        let read = HubCookies::read(&request);
        assert_eq!(read.browser, Some(id));
        assert_eq!(read.lang, Some(Lang::Cy));
        assert_eq!(read.session, None, "a value of the wrong shape is ignored");
    }
}
