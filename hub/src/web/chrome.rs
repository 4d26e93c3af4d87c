//! The language of a person's request and the frame every page is drawn in. A request's language is a `?lang=` switch on a page that offers one, else the `__Host-hub-lang`
//! cookie, else English; `/authorize` sets that cookie from the service's `ui_locales` (OIDC Core
//! §3.1.2.1) and a switch sets it from the person's choice.

use crate::{http::cookies::HubCookies, i18n::Lang};
use axum::{
    extract::FromRequestParts,
    http::{request::Parts, HeaderMap, Method},
};

/// The pages where a language switch is offered: re-fetching them with `?lang=` is safe.
const SWITCHABLE: &[&str] = &["/choose-provider", "/consent"];

/// What every page's frame needs: its language and, where offered, the link switching to the other one.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    pub lang: Lang,
    /// The other language and the link to this page in it.
    pub switch: Option<(Lang, String)>,
}

impl Chrome {
    /// The message `id` in the page's language.
    pub fn t(&self, id: &str) -> String {
        self.lang.t(id)
    }

    /// The language of a request: a `?lang=` switch, else the cookie, else English.
    pub fn of(method: &Method, path: &str, query: Option<&str>, headers: &HeaderMap) -> (Chrome, Option<Lang>) {
        let switched = query.and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "lang")
                .and_then(|(_, v)| Lang::parse(&v))
        });
        let lang = switched.or(HubCookies::read(headers).lang).unwrap_or_default();
        let switch = (SWITCHABLE.contains(&path) && matches!(*method, Method::GET | Method::POST)).then(|| {
            let other = match lang {
                Lang::En => Lang::Cy,
                Lang::Cy => Lang::En,
            };
            let mut link = format!("{path}?lang={}", other.code());
            // Keep the other parameters of the page (the journey it shows).
            if let Some(q) = query {
                for (k, v) in url::form_urlencoded::parse(q.as_bytes()).filter(|(k, _)| k != "lang") {
                    link.push('&');
                    link.push_str(
                        &url::form_urlencoded::Serializer::new(String::new())
                            .append_pair(&k, &v)
                            .finish(),
                    );
                }
            }
            (other, link)
        });
        (Chrome { lang, switch }, switched)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Chrome {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Chrome>().cloned().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::cookies;
    use axum::http::{header, HeaderValue};

    #[test]
    fn language_choice_table() {
        let with_cookie = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                header::COOKIE,
                HeaderValue::from_str(&format!("{}={v}", cookies::LANG)).unwrap_or_else(|_| unreachable!()),
            );
            h
        };
        let none = HeaderMap::new();
        let cases = [
            ("/choose-provider", None, &none, Lang::En, None, true),
            (
                "/choose-provider",
                Some("lang=cy"),
                &none,
                Lang::Cy,
                Some(Lang::Cy),
                true,
            ),
            (
                "/choose-provider",
                Some("lang=CY-gb"),
                &none,
                Lang::Cy,
                Some(Lang::Cy),
                true,
            ),
            (
                "/choose-provider",
                Some("lang=fr"),
                &with_cookie("cy"),
                Lang::Cy,
                None,
                true,
            ),
            (
                "/consent",
                Some("lang=en"),
                &with_cookie("cy"),
                Lang::En,
                Some(Lang::En),
                true,
            ),
            ("/upstream/callback", None, &with_cookie("cy"), Lang::Cy, None, false),
            ("/authorize", None, &with_cookie("xx"), Lang::En, None, false),
            ("/logout", None, &none, Lang::En, None, false),
        ];
        for (path, query, headers, lang, switched, offered) in cases {
            let (chrome, got) = Chrome::of(&Method::GET, path, query, headers);
            assert_eq!(
                (chrome.lang, got, chrome.switch.is_some()),
                (lang, switched, offered),
                "{path} {query:?}"
            );
        }
        let (chrome, _) = Chrome::of(&Method::GET, "/consent", Some("lang=cy&journey=abc"), &none);
        assert_eq!(
            chrome.switch.map(|(_, l)| l).as_deref(),
            Some("/consent?lang=en&journey=abc")
        );
        assert_eq!(Lang::from_ui_locales("fr cy en"), Some(Lang::Cy));
        assert_eq!(Lang::from_ui_locales("en-GB cy"), Some(Lang::En));
        assert_eq!(Lang::from_ui_locales("fr"), None);
    }
}
