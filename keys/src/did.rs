//! `did:web` (W3C did:web method §3.2) and the DID document that lists the keys signing identity
//! credentials (INTERFACE.md §5). Served by the hub, read by services such as rp-example: one
//! definition for both.

use crate::SigningKey;
use serde_json::{json, Value};

/// The `did:web` DID of a base URL: its host, its port as `%3A<port>`, then each path segment after a `:`.
/// `http://127.0.0.1:8080` → `did:web:127.0.0.1%3A8080`, `https://identity.account.gov.uk/` →
/// `did:web:identity.account.gov.uk`. `None` for a string that is not a URL with a host.
pub fn did_web(base_url: &str) -> Option<String> {
    let url = url::Url::parse(base_url).ok()?;
    let mut did = format!("did:web:{}", url.host_str()?);
    if let Some(port) = url.port() {
        did.push_str(&format!("%3A{port}"));
    }
    for segment in url.path_segments().into_iter().flatten().filter(|s| !s.is_empty()) {
        did.push(':');
        did.push_str(segment);
    }
    Some(did)
}

/// The reference a credential's `kid` carries for one key of the document: `<did>#<key id>`.
pub fn key_reference(did: &str, key: &SigningKey) -> String {
    format!("{did}#{}", key.kid())
}

/// The DID document of an identity issuer: `@context`, `id` and one `JsonWebKey` assertion method per key.
pub fn document(identity_issuer: &str, keys: &[&SigningKey]) -> Value {
    let did = did_web(identity_issuer).unwrap_or_default();
    let methods: Vec<Value> = keys
        .iter()
        .map(|k| {
            json!({
                "id": key_reference(&did, k),
                "type": "JsonWebKey",
                "controller": did,
                "publicKeyJwk": k.public_jwk(),
            })
        })
        .collect();
    json!({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/jwk/v1"],
        "id": did,
        "assertionMethod": methods,
    })
}

/// The document's `assertionMethod` entry with this `id`, if there is one.
pub fn assertion_method<'a>(document: &'a Value, id: &str) -> Option<&'a Value> {
    document
        .get("assertionMethod")?
        .as_array()?
        .iter()
        .find(|m| m.get("id").and_then(Value::as_str) == Some(id))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn did_web_table() {
        let cases = [
            (
                "https://identity.account.gov.uk/",
                Some("did:web:identity.account.gov.uk"),
            ),
            (
                "https://identity.account.gov.uk",
                Some("did:web:identity.account.gov.uk"),
            ),
            ("http://127.0.0.1:8080", Some("did:web:127.0.0.1%3A8080")),
            (
                "https://example.gov.uk/hub/identity",
                Some("did:web:example.gov.uk:hub:identity"),
            ),
            ("not a url", None),
        ];
        for (url, want) in cases {
            assert_eq!(did_web(url).as_deref(), want, "{url}");
        }
    }

    #[test]
    fn document_lists_each_key_as_an_assertion_method() {
        let key = SigningKey::generate().unwrap();
        let doc = document("https://id.example", &[&key]);
        assert_eq!(doc["id"], "did:web:id.example");
        let id = key_reference("did:web:id.example", &key);
        let method = assertion_method(&doc, &id).unwrap();
        assert_eq!(method["type"], "JsonWebKey");
        assert_eq!(method["publicKeyJwk"]["kid"], key.kid());
        assert!(method["publicKeyJwk"].get("d").is_none(), "public half only");
        assert!(assertion_method(&doc, "did:web:id.example#other").is_none());
    }
}
