//! One person's cookies, kept as a browser keeps them on 127.0.0.1: one jar for the host whatever the port,
//! and `Secure` cookies sent over plain `http` on loopback (reqwest's own store does not send those).

use reqwest::header::{HeaderMap, HeaderValue, SET_COOKIE};

/// The cookies of one virtual person, by name. Attributes other than deletion (`Max-Age=0`, an empty
/// value) are ignored: every party runs on one loopback host, and every path the hub uses is `/`.
#[derive(Debug, Default)]
pub struct Jar {
    cookies: Vec<(String, String)>,
}

impl Jar {
    /// Keeps (or forgets) the cookies a response sets.
    pub fn keep(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            if let Ok(text) = value.to_str() {
                self.set(text);
            }
        }
    }

    fn set(&mut self, set_cookie: &str) {
        let mut parts = set_cookie.split(';');
        let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
            return;
        };
        let (name, value) = (name.trim(), value.trim());
        let expired = parts.any(|a| {
            a.trim()
                .split_once('=')
                .is_some_and(|(k, v)| k.trim().eq_ignore_ascii_case("max-age") && v.trim().starts_with(['0', '-']))
        });
        self.cookies.retain(|(n, _)| n != name);
        if !expired && !value.is_empty() {
            self.cookies.push((name.to_string(), value.to_string()));
        }
    }

    /// The `Cookie` header to send, if any cookie is kept.
    pub fn header(&self) -> Option<HeaderValue> {
        if self.cookies.is_empty() {
            return None;
        }
        let mut text = String::with_capacity(self.cookies.iter().map(|(n, v)| n.len() + v.len() + 2).sum());
        for (i, (n, v)) in self.cookies.iter().enumerate() {
            if i > 0 {
                text.push_str("; ");
            }
            text.push_str(n);
            text.push('=');
            text.push_str(v);
        }
        HeaderValue::from_str(&text).ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn keeps_secure_cookies_replaces_and_forgets() {
        let mut jar = Jar::default();
        assert!(jar.header().is_none());
        let mut h = HeaderMap::new();
        for v in [
            "__Host-hub-journey=j1; Path=/; Secure; HttpOnly; SameSite=Lax",
            "__Host-hub-lang=en; Path=/; Secure",
        ] {
            h.append(SET_COOKIE, HeaderValue::from_static(v));
        }
        jar.keep(&h);
        assert_eq!(jar.header().unwrap(), "__Host-hub-journey=j1; __Host-hub-lang=en");
        let mut h = HeaderMap::new();
        h.append(
            SET_COOKIE,
            HeaderValue::from_static("__Host-hub-journey=j2; Path=/; Secure"),
        );
        h.append(
            SET_COOKIE,
            HeaderValue::from_static("__Host-hub-lang=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"),
        );
        jar.keep(&h);
        assert_eq!(jar.header().unwrap(), "__Host-hub-journey=j2");
        let mut h = HeaderMap::new();
        h.append(SET_COOKIE, HeaderValue::from_static("__Host-hub-journey=j2; max-age=0"));
        jar.keep(&h);
        assert!(jar.header().is_none());
    }
}
