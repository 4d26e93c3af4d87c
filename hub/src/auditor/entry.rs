//! `GET /entry/{log}/{index}`: one entry's JSON, its leaf hash, and a link to
//! `GET /entry/{log}/{index}/proof`, which downloads a c2sp.org/tlog-proof@v1 file proving the entry is
//! in the log's latest checkpoint (cosignatures and all), named `<log>-<index>.tlog-proof`: anyone with
//! the entry and the log's verifier key can check it offline (`hub audit check-proof`).

use super::{logs, AuditorState, Message, Nav, SignedIn};
use crate::audit::dates;
use askama::Template;
use axum::{
    extract::{Path, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};

/// The entry page.
#[derive(Template, Debug)]
#[template(path = "auditor/entry.html")]
pub struct EntryPage {
    pub nav: Option<Nav>,
    pub origin: String,
    pub slug: String,
    pub index: u64,
    pub time: Option<String>,
    pub iso: Option<String>,
    pub event: Option<String>,
    pub leaf_hash: String,
    /// The entry's JSON, pretty-printed (or its bytes as text if it is not JSON).
    pub json: String,
}

/// An index as written in addresses: a decimal with no sign and no leading zero.
fn parse_index(text: &str) -> Option<u64> {
    let canonical =
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

/// `GET /entry/{log}/{index}`.
pub async fn get(
    State(state): State<AuditorState>,
    signed: SignedIn,
    Path((slug, index)): Path<(String, String)>,
) -> Response {
    let nav = signed.nav("search");
    let (Some(source), Some(index)) = (state.source(&slug).cloned(), parse_index(&index)) else {
        return Message::not_found(nav);
    };
    let read = {
        let source = source.clone();
        tokio::task::spawn_blocking(move || logs::entry_at(&source, index)).await
    };
    let bytes = match read {
        Ok(Ok(Some(bytes))) => bytes,
        Ok(Ok(None)) => return Message::not_found(nav),
        Ok(Err(e)) => return Message::unavailable(nav, "The entry could not be read from the log.", &e),
        Err(e) => return Message::unavailable(nav, "The entry could not be read from the log.", &e.to_string()),
    };
    let value: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
    let time = value.as_ref().and_then(|v| v.get("time")).and_then(|t| t.as_i64());
    let page = EntryPage {
        nav,
        origin: source.origin.clone(),
        slug: source.slug.clone(),
        index,
        time: time.map(dates::readable),
        iso: time.map(dates::iso),
        event: value
            .as_ref()
            .and_then(|v| v.get("event"))
            .and_then(|e| e.as_str())
            .map(str::to_string),
        leaf_hash: tlog::merkle::leaf_hash(&bytes).to_base64(),
        json: value
            .as_ref()
            .and_then(|v| serde_json::to_string_pretty(v).ok())
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned()),
    };
    crate::web::page::render(StatusCode::OK, &page)
}

/// `GET /entry/{log}/{index}/proof`: the tlog-proof file, as a download.
pub async fn proof(
    State(state): State<AuditorState>,
    signed: SignedIn,
    Path((slug, index)): Path<(String, String)>,
) -> Response {
    let nav = signed.nav("search");
    let (Some(source), Some(index)) = (state.source(&slug).cloned(), parse_index(&index)) else {
        return Message::not_found(nav);
    };
    let made = {
        let source = source.clone();
        tokio::task::spawn_blocking(move || {
            let (cp, _) = source.checkpoint()?;
            if index >= cp.size {
                return Ok(None);
            }
            tlog::read::prove_inclusion(&source.reader(), &source.vkey, index, None)
                .map(Some)
                .map_err(|e| e.to_string())
        })
        .await
    };
    let text = match made {
        Ok(Ok(Some(text))) => text,
        Ok(Ok(None)) => return Message::not_found(nav),
        Ok(Err(e)) => return Message::unavailable(nav, "The proof could not be made.", &e),
        Err(e) => return Message::unavailable(nav, "The proof could not be made.", &e.to_string()),
    };
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // The slug is letters, digits, `.`, `_` and `-` only, so the name needs no quoting rules.
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}-{index}.tlog-proof\"", source.slug)) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_are_canonical_decimals() {
        assert_eq!(parse_index("0"), Some(0));
        assert_eq!(parse_index("42"), Some(42));
        for bad in ["", "-1", "+1", "01", "1.0", "1e3", "18446744073709551616", " 1"] {
            assert_eq!(parse_index(bad), None, "{bad}");
        }
    }
}
