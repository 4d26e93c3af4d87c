//! Who the hub trusts: relying services ([`clients`], INTERFACE.md §8) and identity providers
//! ([`providers`], §9), read from TOML files at start-up and validated with errors that name the entry
//! and the field.

pub mod clients;
pub mod providers;

pub use clients::{Client, ClientRegistry};
pub use providers::{Provider, ProviderRegistry};

use std::sync::Arc;

/// Both registries as they stood when a request began: a reload meanwhile changes nothing a decision
/// already looked at.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub clients: Arc<ClientRegistry>,
    pub providers: Arc<ProviderRegistry>,
}

impl Snapshot {
    /// The client with this id.
    pub fn client(&self, id: &str) -> Option<&Client> {
        self.clients.get(id)
    }

    /// The provider with this id.
    pub fn provider(&self, id: &str) -> Option<&Provider> {
        self.providers.get(id)
    }
}

/// A registry file that cannot be used; the message names the file, entry and field.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct RegistryError {
    pub file: String,
    pub message: String,
}

/// Reads a registry file and validates it with `parse`; errors name the file.
pub fn load<T>(path: &std::path::Path, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<T, RegistryError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| RegistryError {
        file: file.clone(),
        message: e.to_string(),
    })?;
    parse(&text).map_err(|message| RegistryError { file, message })
}

/// Whether a URL is acceptable as a redirect target: https, or http on loopback for development.
pub fn is_allowed_redirect(url: &url::Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => matches!(url.host_str(), Some("127.0.0.1") | Some("localhost") | Some("[::1]")),
        _ => false,
    }
}
