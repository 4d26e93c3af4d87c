//! The middleware that renders every [`Page`] (and [`FormPost`]) a handler returned in the person's
//! language (see [`Chrome::of`]), and remembers a `?lang=` switch in the `__Host-hub-lang` cookie.

use super::{chrome::Chrome, page::Page};
use crate::http::{
    cookies::{self, CookieChange},
    FormPost,
};
use axum::{extract::Request, http::header, middleware::Next, response::Response};

/// Middleware: decides the request's language, hands it to handlers (as [`Chrome`]), renders any
/// [`Page`] the handler returned in it, and remembers a `?lang=` switch in the cookie.
pub async fn localise(mut request: Request, next: Next) -> Response {
    let (chrome, switched) = Chrome::of(
        request.method(),
        request.uri().path(),
        request.uri().query(),
        request.headers(),
    );
    request.extensions_mut().insert(chrome.clone());
    let mut response = next.run(request).await;
    if let Some(post) = response.extensions_mut().remove::<FormPost>() {
        let mut rendered = super::form_post::render(&post, &chrome);
        for value in response.headers().get_all(header::SET_COOKIE) {
            rendered.headers_mut().append(header::SET_COOKIE, value.clone());
        }
        response = rendered;
    }
    if let Some(page) = response.extensions_mut().remove::<Page>() {
        let status = response.status();
        let rendered = page.render_in(&chrome);
        let headers = response.headers().clone();
        response = rendered;
        *response.status_mut() = status;
        // Keep what the handler set (cookies above all); the rendered page brings its own body headers.
        for (name, value) in headers.iter() {
            if name == header::SET_COOKIE {
                response.headers_mut().append(name, value.clone());
            } else if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                response.headers_mut().insert(name, value.clone());
            }
        }
    }
    if let Some(lang) = switched {
        cookies::apply(response.headers_mut(), &[CookieChange::Lang(lang)]);
    }
    response
}
