//! The page that carries an authorization response to the service by POST (OAuth 2.0 Form Post Response
//! Mode §2): a form of hidden fields the browser submits at once, and a Continue button for a browser
//! without JavaScript. The only script the hub sends, allowed by its hash in the page's CSP.

use super::chrome::Chrome;
use crate::http::FormPost;
use askama::Template;
use axum::{
    http::{header, HeaderValue, StatusCode},
    response::Response,
};
use base64::{engine::general_purpose::STANDARD, Engine as _};
use sha2::{Digest, Sha256};

/// The script that submits the form; its hash is the only script the page's CSP allows.
pub const AUTO_SUBMIT: &str = "document.getElementById('form-post').submit();";

/// The form post page.
#[derive(Template, Debug)]
#[template(path = "form_post.html")]
pub struct FormPostPage<'a> {
    pub chrome: &'a Chrome,
    pub action: &'a str,
    pub fields: &'a [(String, String)],
}

/// Renders a form post in the person's language, with a CSP that lets only [`AUTO_SUBMIT`] run and the
/// form go only to the redirect URI's origin.
pub fn render(post: &FormPost, chrome: &Chrome) -> Response {
    let page = FormPostPage {
        chrome,
        action: &post.action,
        fields: &post.fields,
    };
    let mut response = super::page::render(StatusCode::OK, &page);
    let script = STANDARD.encode(Sha256::digest(AUTO_SUBMIT.as_bytes()));
    let target = url::Url::parse(&post.action)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "'none'".into());
    let csp = format!(
        "default-src 'self'; script-src 'sha256-{script}'; style-src 'self'; img-src 'self' data:; font-src 'self'; frame-ancestors 'none'; form-action {target}"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_page_posts_every_field_escaped_to_the_redirect_uri_and_allows_only_its_script() {
        let post = FormPost {
            action: "https://svc.example/cb".into(),
            fields: vec![
                ("code".into(), "abc".into()),
                ("state".into(), "\"><script>alert(1)</script>".into()),
                ("iss".into(), "https://hub.example".into()),
            ],
        };
        let response = render(&post, &Chrome::default());
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("form-action https://svc.example"), "{csp}");
        assert!(csp.contains("script-src 'sha256-"), "{csp}");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        let page = FormPostPage {
            chrome: &Chrome::default(),
            action: &post.action,
            fields: &post.fields,
        }
        .render()
        .unwrap();
        assert!(page.contains(r#"<form method="post" action="https://svc.example/cb" id="form-post">"#));
        assert!(page.contains(r#"<input type="hidden" name="code" value="abc">"#));
        assert!(!page.contains("<script>alert"), "a field's value is escaped");
        assert!(page.contains(&format!("<script>{AUTO_SUBMIT}</script>")));
        assert!(
            page.contains(r#"id="continue""#),
            "a button for a browser without JavaScript"
        );
    }
}
