//! The service's configuration: one typed struct, read once at start-up.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How `rp-example` is set up. Every field has a development default ([`Config::default`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where people reach this service, without a trailing slash (`http://127.0.0.1:3000`). The redirect
    /// URI is `{base_url}/callback`, the post-logout redirect `{base_url}/signed-out`.
    pub base_url: String,
    /// The hub's issuer identifier, exactly as its discovery document states it.
    pub issuer: String,
    /// This service's client id at the hub.
    pub client_id: String,
    /// The PEM private key that signs client assertions; generated there when missing (development).
    pub key_path: PathBuf,
    /// Shown in the GOV.UK header and as the start page heading.
    pub service_name: String,
    /// Scopes asked for at sign-in; must contain `openid`.
    pub scopes: Vec<String>,
    /// The issuer of identity credentials (`iss` of the coreIdentityJWT; its DID document is at
    /// `{identity_issuer}/.well-known/did.json`). `None`: the hub's issuer, as the hub's own default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_issuer: Option<String>,
    /// Serving over TLS, and the extra CA trusted when calling the hub.
    pub tls: serving::TlsConfig,
    /// Log format and OpenTelemetry trace export.
    pub telemetry: serving::TelemetryConfig,
    /// Hand the sign-in's W3C trace context to the hub as a `traceparent` parameter of the
    /// authorization request (the browser's redirect cannot carry headers), so that a hub set to adopt it
    /// makes one trace of the whole sign-in. Only for a federation whose telemetry one operator runs.
    pub share_trace_context: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:3000".into(),
            issuer: "http://127.0.0.1:8080".into(),
            client_id: "rp-example".into(),
            key_path: PathBuf::from(".dev-keys/rp-example.pem"),
            service_name: "Example service".into(),
            scopes: vec!["openid".into(), "email".into()],
            identity_issuer: None,
            tls: serving::TlsConfig::default(),
            telemetry: serving::TelemetryConfig::default(),
            share_trace_context: false,
        }
    }
}

impl Config {
    /// Checks what would otherwise fail later, naming the field.
    pub fn validate(&self) -> anyhow::Result<()> {
        let base = url::Url::parse(&self.base_url)
            .map_err(|e| anyhow::anyhow!("base_url {:?} is not a URL: {e}", self.base_url))?;
        if !matches!(base.scheme(), "http" | "https") {
            anyhow::bail!("base_url {:?} must be http or https", self.base_url);
        }
        if self.base_url.ends_with('/') {
            anyhow::bail!("base_url {:?} must not end with a slash", self.base_url);
        }
        url::Url::parse(&self.issuer).map_err(|e| anyhow::anyhow!("issuer {:?} is not a URL: {e}", self.issuer))?;
        if let Some(identity_issuer) = &self.identity_issuer {
            url::Url::parse(identity_issuer)
                .map_err(|e| anyhow::anyhow!("identity_issuer {identity_issuer:?} is not a URL: {e}"))?;
        }
        if self.client_id.is_empty() {
            anyhow::bail!("client_id must not be empty");
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            anyhow::bail!("scopes must contain \"openid\"");
        }
        self.tls.validate().map_err(anyhow::Error::msg)?;
        self.telemetry.validate().map_err(anyhow::Error::msg)?;
        Ok(())
    }

    /// The identity issuer: [`Config::identity_issuer`] when set, else the hub's issuer.
    pub fn identity_issuer(&self) -> &str {
        self.identity_issuer.as_deref().unwrap_or(&self.issuer)
    }

    /// The redirect URI registered at the hub.
    pub fn redirect_uri(&self) -> String {
        format!("{}/callback", self.base_url)
    }

    /// Where the hub sends people back after logout.
    pub fn post_logout_redirect_uri(&self) -> String {
        format!("{}/signed-out", self.base_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_unknown_fields_are_refused() {
        assert!(Config::default().validate().is_ok());
        let bad: Result<Config, _> = serde_json::from_str(r#"{"client_id":"x","colour":"red"}"#);
        assert!(bad.is_err());
        let partial: Result<Config, _> = serde_json::from_str(r#"{"client_id":"x"}"#);
        assert_eq!(
            partial.ok().map(|c| c.service_name),
            Some("Example service".to_string())
        );
        let slash = Config {
            base_url: "http://127.0.0.1:3000/".into(),
            ..Config::default()
        };
        assert!(slash.validate().is_err());
    }

    #[test]
    fn the_identity_issuer_defaults_to_the_hub() {
        let config = Config::default();
        assert_eq!(config.identity_issuer(), "http://127.0.0.1:8080");
        let config = Config {
            identity_issuer: Some("https://identity.example.gov.uk/".into()),
            ..Config::default()
        };
        assert_eq!(config.identity_issuer(), "https://identity.example.gov.uk/");
        let bad = Config {
            identity_issuer: Some("nope".into()),
            ..Config::default()
        };
        assert!(bad.validate().is_err());
    }
}
