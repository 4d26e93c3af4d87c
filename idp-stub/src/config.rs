//! The stub's one typed configuration (STYLE.md §7): read once from TOML, overridable from the command line,
//! validated at start-up with errors that name the entry and field.

use crate::{outcome::Outcome, personas};
use anyhow::{bail, Context as _};
use serde::Deserialize;
use std::{collections::HashSet, net::SocketAddr, path::PathBuf};

/// Everything the stub needs to run: where it is reachable, where its keys live, the providers it plays and
/// the clients (the hub) allowed to use them.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Public base URL without a trailing slash; each provider's issuer is `{base_url}/{provider id}`.
    pub base_url: String,
    /// Directory of the providers' signing keys, `{keys_dir}/{provider id}.pem` (generated when missing).
    pub keys_dir: PathBuf,
    /// The branded providers served by this process.
    pub providers: Vec<ProviderConfig>,
    /// The OIDC clients registered at every provider.
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
    /// Answer every valid authorization request at once as this persona, with no page and no click (for
    /// load tests); `None` shows the page. Everything else (tokens, PKCE, client assertions) is unchanged.
    #[serde(default)]
    pub non_interactive: Option<String>,
    /// The outcome of those answers; `success` when absent. Needs `non_interactive`.
    #[serde(default)]
    pub non_interactive_outcome: Option<Outcome>,
    /// Serve the test-only endpoints `/{p}/config` (forced outcomes) and `/_requests` (every request
    /// received); off, they are 404 and nothing is recorded. Allowed on a loopback listen address only.
    #[serde(default)]
    pub test_endpoints: bool,
    /// Connections open at once from one client address (256 by default). A load test plays many
    /// browsers from one address besides the hub's own connections, and raises it.
    #[serde(default = "default_connections_per_ip")]
    pub max_connections_per_ip: usize,
    /// Serving over TLS, and the extra CA trusted when fetching clients' JWKS.
    #[serde(default)]
    pub tls: serving::TlsConfig,
    /// Log format and OpenTelemetry trace export.
    #[serde(default)]
    pub telemetry: serving::TelemetryConfig,
}

fn default_connections_per_ip() -> usize {
    serving::server::Limits::default().max_connections_per_ip
}

/// One branded provider: its path segment and its names in English and Welsh.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Path segment and key file name, `[a-z0-9-]+`.
    pub id: String,
    /// Display name, shown as the service name on its pages.
    pub name: String,
    /// Welsh display name.
    pub name_cy: String,
}

/// A registered client. It authenticates at the token endpoint with `private_key_jwt`, its keys coming from
/// exactly one of `jwks_uri` or `public_key_pem`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The client's identifier.
    pub client_id: String,
    /// Exact redirect URIs it may use.
    pub redirect_uris: Vec<String>,
    /// Where its public keys are published (fetched with a 5 s timeout and cached).
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Its public key as SubjectPublicKeyInfo PEM.
    #[serde(default)]
    pub public_key_pem: Option<String>,
}

/// Path segments the stub uses itself, so no provider may take them.
const RESERVED_IDS: &[&str] = &["assets", "personas", "_requests", "healthz"];

impl Config {
    /// Reads and validates a TOML configuration file.
    pub fn from_file(path: impl AsRef<std::path::Path>) -> anyhow::Result<Config> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let config: Config = toml::from_str(&text).with_context(|| format!("invalid config {}", path.display()))?;
        config
            .validate()
            .with_context(|| format!("invalid config {}", path.display()))?;
        Ok(config)
    }

    /// Checks the values serde cannot: URLs, ids, uniqueness and key sources.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.base_url.ends_with('/') {
            bail!("base_url: must not end with '/' (got {:?})", self.base_url);
        }
        url::Url::parse(&self.base_url)
            .map_err(|e| anyhow::anyhow!("base_url: not a URL ({e}): {:?}", self.base_url))?;
        if self.providers.is_empty() {
            bail!("providers: at least one provider is needed");
        }
        let mut ids = HashSet::new();
        for (i, p) in self.providers.iter().enumerate() {
            let valid = !p.id.is_empty()
                && p.id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !valid {
                bail!(
                    "providers[{i}].id: must be non-empty lowercase letters, digits and '-' (got {:?})",
                    p.id
                );
            }
            if RESERVED_IDS.contains(&p.id.as_str()) {
                bail!("providers[{i}].id: {:?} is reserved", p.id);
            }
            if !ids.insert(p.id.as_str()) {
                bail!("providers[{i}].id: duplicate id {:?}", p.id);
            }
            if p.name.trim().is_empty() {
                bail!("providers[{i}] ({}).name: must not be empty", p.id);
            }
            if p.name_cy.trim().is_empty() {
                bail!("providers[{i}] ({}).name_cy: must not be empty", p.id);
            }
        }
        if let Some(persona) = &self.non_interactive {
            if personas::find(persona).is_none() {
                bail!("non_interactive: unknown persona {persona:?} (see /personas)");
            }
        } else if self.non_interactive_outcome.is_some() {
            bail!("non_interactive_outcome: needs non_interactive (a persona)");
        }
        self.tls.validate().map_err(anyhow::Error::msg)?;
        self.telemetry.validate().map_err(anyhow::Error::msg)?;
        let mut client_ids = HashSet::new();
        for (i, c) in self.clients.iter().enumerate() {
            if c.client_id.is_empty() {
                bail!("clients[{i}].client_id: must not be empty");
            }
            if !client_ids.insert(c.client_id.as_str()) {
                bail!("clients[{i}].client_id: duplicate id {:?}", c.client_id);
            }
            if c.redirect_uris.is_empty() {
                bail!("clients[{i}] ({}).redirect_uris: at least one is needed", c.client_id);
            }
            for (j, uri) in c.redirect_uris.iter().enumerate() {
                let parsed = url::Url::parse(uri).map_err(|e| {
                    anyhow::anyhow!("clients[{i}] ({}).redirect_uris[{j}]: not a URL ({e})", c.client_id)
                })?;
                if parsed.fragment().is_some() {
                    bail!(
                        "clients[{i}] ({}).redirect_uris[{j}]: must not have a fragment",
                        c.client_id
                    );
                }
            }
            match (&c.jwks_uri, &c.public_key_pem) {
                (Some(uri), None) => {
                    url::Url::parse(uri)
                        .map_err(|e| anyhow::anyhow!("clients[{i}] ({}).jwks_uri: not a URL ({e})", c.client_id))?;
                }
                (None, Some(pem)) => {
                    keys::VerifyingKey::from_pem(pem.as_bytes(), None)
                        .map_err(|e| anyhow::anyhow!("clients[{i}] ({}).public_key_pem: {e}", c.client_id))?;
                }
                _ => bail!(
                    "clients[{i}] ({}): exactly one of jwks_uri or public_key_pem is needed",
                    c.client_id
                ),
            }
        }
        Ok(())
    }

    /// Refuses the test-only endpoints on an address other people can reach: they force outcomes and list
    /// every request (codes and client assertions included).
    pub fn check_listen_addr(&self, addr: SocketAddr) -> anyhow::Result<()> {
        if self.test_endpoints && !addr.ip().is_loopback() {
            bail!(
                "--test-endpoints (test_endpoints) is allowed only on a loopback address, not on {addr}: \
                 listen on 127.0.0.1 or turn the test endpoints off"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Config> {
        let c: Config = toml::from_str(text)?;
        c.validate()?;
        Ok(c)
    }

    #[test]
    fn dev_config_is_valid() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/dev/idp-stub.toml");
        let c = Config::from_file(path).unwrap();
        assert_eq!(c.providers.len(), 2);
        assert_eq!(c.clients[0].client_id, "federation-hub");
    }

    #[test]
    fn validation_errors_name_the_field() {
        let base = r#"base_url = "http://x"
keys_dir = "k"
"#;
        let cases = [
            ("[[providers]]\nid=\"a\"\nname=\"A\"\nname_cy=\"A\"\n[[providers]]\nid=\"a\"\nname=\"B\"\nname_cy=\"B\"\n", "providers[1].id"),
            ("[[providers]]\nid=\"A b\"\nname=\"A\"\nname_cy=\"A\"\n", "providers[0].id"),
            (
                "[[providers]]\nid=\"a\"\nname=\"A\"\nname_cy=\"A\"\n[[clients]]\nclient_id=\"c\"\nredirect_uris=[\"http://r\"]\n",
                "exactly one of jwks_uri",
            ),
            (
                "[[providers]]\nid=\"a\"\nname=\"A\"\nname_cy=\"A\"\n[[clients]]\nclient_id=\"c\"\nredirect_uris=[\"nope\"]\njwks_uri=\"http://j\"\n",
                "clients[0] (c).redirect_uris[0]",
            ),
        ];
        for (tail, expected) in cases {
            let err = format!("{:#}", parse(&format!("{base}{tail}")).unwrap_err());
            assert!(err.contains(expected), "{err} should mention {expected}");
        }
        let err = format!("{:#}", parse(&format!("{base}surprise = 1\n")).unwrap_err());
        assert!(err.contains("surprise"), "{err}");
    }

    #[test]
    fn non_interactive_names_a_known_persona_and_outcome() {
        let base = "base_url = \"http://x\"\nkeys_dir = \"k\"\n";
        let provider = "[[providers]]\nid=\"a\"\nname=\"A\"\nname_cy=\"A\"\n";
        let ok = parse(&format!(
            "{base}non_interactive = \"alex-morgan\"\nnon_interactive_outcome = \"wrong-aud\"\n{provider}"
        ))
        .unwrap();
        assert_eq!(ok.non_interactive.as_deref(), Some("alex-morgan"));
        assert_eq!(ok.non_interactive_outcome, Some(Outcome::WrongAud));
        assert!(!ok.test_endpoints, "off by default");
        let cases = [
            ("non_interactive = \"nobody\"\n", "non_interactive: unknown persona"),
            ("non_interactive_outcome = \"success\"\n", "needs non_interactive"),
            (
                "non_interactive = \"alex-morgan\"\nnon_interactive_outcome = \"explode\"\n",
                "non_interactive_outcome",
            ),
        ];
        for (fields, expected) in cases {
            let err = format!("{:#}", parse(&format!("{base}{fields}{provider}")).unwrap_err());
            assert!(err.contains(expected), "{err} should mention {expected}");
        }
    }

    #[test]
    fn test_endpoints_only_on_loopback() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/dev/idp-stub.toml");
        let mut c = Config::from_file(path).unwrap();
        let public: SocketAddr = "192.0.2.10:8090".parse().unwrap();
        assert!(c.check_listen_addr(public).is_ok(), "fine without the test endpoints");
        c.test_endpoints = true;
        for ok in ["127.0.0.1:8090", "[::1]:8090"] {
            assert!(c.check_listen_addr(ok.parse().unwrap()).is_ok(), "{ok}");
        }
        for refused in ["192.0.2.10:8090", "0.0.0.0:8090", "[::]:8090"] {
            let err = c.check_listen_addr(refused.parse().unwrap()).unwrap_err().to_string();
            assert!(err.contains("--test-endpoints"), "{err}");
        }
    }
}
