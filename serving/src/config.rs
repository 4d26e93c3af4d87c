//! The settings every server shares: TLS (certificate, key, extra CA) and telemetry (log format,
//! OTLP export). Each binary's configuration embeds them as its `[tls]` and `[telemetry]` tables.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Serving over TLS and trusting peers' certificates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// The server's certificate chain, PEM (leaf first). With `key_file`, the server speaks TLS only
    /// (HTTP/2 and HTTP/1.1 by ALPN) and sends HSTS; without, plain HTTP (behind a TLS-terminating load
    /// balancer, or in development). Read again on SIGHUP and when the file changes.
    pub cert_file: Option<PathBuf>,
    /// The certificate's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
    /// How often the certificate and key files are checked for a change, seconds (absent: 5; 0: only on
    /// SIGHUP for the hub, never for the others).
    pub watch_secs: Option<u64>,
    /// An extra CA certificate file (PEM, one or more) trusted for outbound calls besides the system's
    /// roots: for private providers, services or a test CA.
    pub extra_ca_file: Option<PathBuf>,
}

impl TlsConfig {
    /// Whether the server serves TLS.
    pub fn enabled(&self) -> bool {
        self.cert_file.is_some() && self.key_file.is_some()
    }

    /// Checks that the certificate and key come together.
    pub fn validate(&self) -> Result<(), String> {
        match (&self.cert_file, &self.key_file) {
            (Some(_), None) => Err("field tls.key_file: needed with tls.cert_file".into()),
            (None, Some(_)) => Err("field tls.cert_file: needed with tls.key_file".into()),
            _ => Ok(()),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (the default), coloured on a terminal.
    #[default]
    Text,
    /// One JSON object per line, with the request's span fields (`request_id`, `trace_id`): for log
    /// collectors.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("log format {other:?}: text or json")),
        }
    }
}

/// Logs and traces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// `text` (default) or `json`. The level comes from `RUST_LOG` (default `info`).
    pub log_format: LogFormat,
    /// An OTLP/HTTP collector's base URL (e.g. `http://otel-collector:4318`); spans go to
    /// `<url>/v1/traces`. Absent: no traces are exported (logs still carry request ids).
    pub otlp_endpoint: Option<String>,
    /// `http/protobuf` (default) or `http/json`.
    pub otlp_protocol: String,
    /// The share of new traces recorded, 0.0 to 1.0; a trace continued from a caller follows the
    /// caller's decision.
    pub otlp_sample_ratio: f64,
    /// Seconds between exports of finished spans.
    pub otlp_export_secs: u64,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_format: LogFormat::Text,
            otlp_endpoint: None,
            otlp_protocol: "http/protobuf".into(),
            otlp_sample_ratio: 1.0,
            otlp_export_secs: 5,
        }
    }
}

impl TelemetryConfig {
    /// Checks the protocol, endpoint and ratio.
    pub fn validate(&self) -> Result<(), String> {
        if !matches!(self.otlp_protocol.as_str(), "http/protobuf" | "http/json") {
            return Err("field telemetry.otlp_protocol: http/protobuf or http/json".into());
        }
        if let Some(url) = &self.otlp_endpoint {
            let parsed = url
                .parse::<http::Uri>()
                .map_err(|e| format!("field telemetry.otlp_endpoint: {e}"))?;
            if parsed.scheme().is_none() {
                return Err("field telemetry.otlp_endpoint: an http:// or https:// URL".into());
            }
        }
        if !(0.0..=1.0).contains(&self.otlp_sample_ratio) {
            return Err("field telemetry.otlp_sample_ratio: 0.0 to 1.0".into());
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_naming_the_field() {
        let cases: [(TlsConfig, Option<&str>); 3] = [
            (TlsConfig::default(), None),
            (
                TlsConfig {
                    cert_file: Some("c.pem".into()),
                    ..TlsConfig::default()
                },
                Some("tls.key_file"),
            ),
            (
                TlsConfig {
                    key_file: Some("k.pem".into()),
                    ..TlsConfig::default()
                },
                Some("tls.cert_file"),
            ),
        ];
        for (tls, error) in cases {
            match (tls.validate(), error) {
                (Ok(()), None) => {}
                (Err(e), Some(field)) => assert!(e.contains(field), "{e}"),
                (got, want) => panic!("{tls:?}: {got:?}, wanted {want:?}"),
            }
        }
        let telemetry = |f: fn(&mut TelemetryConfig)| {
            let mut t = TelemetryConfig::default();
            f(&mut t);
            t.validate()
        };
        assert!(telemetry(|_| {}).is_ok());
        assert!(telemetry(|t| t.otlp_endpoint = Some("http://collector:4318".into())).is_ok());
        assert!(telemetry(|t| t.otlp_protocol = "grpc".into())
            .unwrap_err()
            .contains("otlp_protocol"));
        assert!(telemetry(|t| t.otlp_endpoint = Some("collector".into()))
            .unwrap_err()
            .contains("otlp_endpoint"));
        assert!(telemetry(|t| t.otlp_sample_ratio = 2.0)
            .unwrap_err()
            .contains("otlp_sample_ratio"));
        assert_eq!("json".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert!("yaml".parse::<LogFormat>().is_err());
    }
}
