//! Rate limits (issue "under attack": bounded resources): per client address on the endpoints that cost
//! the hub work or store (`/authorize`, `/par`, `/token`, `/choose-provider`), and per service only once
//! the service has authenticated (`/token`, `/par`): a `client_id` in an unauthenticated `/authorize` is
//! anyone's to send, so counting it would let anyone starve the service. Over the limit a request gets
//! `429 Too Many Requests` with `Retry-After`. Token buckets (GCRA,
//! the `governor` crate), kept per hub instance: behind a load balancer of N instances a client gets at
//! most N times the limit. Idle buckets are dropped, so the limiter's memory stays bounded.

use governor::{
    clock::{Clock as _, DefaultClock},
    DefaultKeyedRateLimiter, Quota, RateLimiter,
};
use std::{
    net::IpAddr,
    num::NonZeroU32,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

/// A limit: a steady rate per second and the burst allowed above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Requests per second allowed steadily.
    pub per_second: u32,
    /// Requests allowed at once above the steady rate.
    pub burst: u32,
}

fn quota(rate: Rate) -> Quota {
    let per_second = NonZeroU32::new(rate.per_second.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(rate.burst.max(rate.per_second).max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(per_second).allow_burst(burst)
}

/// Refused: retry after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
}

impl Limited {
    /// Whole seconds for `Retry-After`, at least one.
    pub fn seconds(&self) -> u64 {
        self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0)
    }
}

/// The hub's limiters.
#[derive(Debug)]
pub struct Limiter {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_client: DefaultKeyedRateLimiter<String>,
    checks: AtomicU64,
    enabled: bool,
}

/// How often (in checks) idle buckets are dropped.
const SWEEP_EVERY: u64 = 4096;

impl Limiter {
    /// Limiters at these rates; `enabled = false` lets everything through (benchmarks on one address).
    pub fn new(per_ip: Rate, per_client: Rate, enabled: bool) -> Self {
        Self {
            per_ip: RateLimiter::keyed(quota(per_ip)),
            per_client: RateLimiter::keyed(quota(per_client)),
            checks: AtomicU64::new(0),
            enabled,
        }
    }

    fn sweep(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed).is_multiple_of(SWEEP_EVERY) {
            self.per_ip.retain_recent();
            self.per_client.retain_recent();
        }
    }

    /// Takes one request from the client address's bucket.
    pub fn ip(&self, ip: IpAddr) -> Result<(), Limited> {
        if !self.enabled {
            return Ok(());
        }
        self.sweep();
        self.per_ip.check_key(&ip).map_err(|not_until| {
            crate::telemetry::rate_limited("ip");
            Limited {
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            }
        })
    }

    /// Takes one request from a service's bucket. Only for a request the service has authenticated
    /// (`/token`, `/par`, after client authentication): anyone can name a `client_id` in `/authorize`.
    pub fn authenticated_client(&self, client_id: &str) -> Result<(), Limited> {
        if !self.enabled {
            return Ok(());
        }
        self.sweep();
        self.per_client.check_key(&client_id.to_string()).map_err(|not_until| {
            crate::telemetry::rate_limited("client");
            Limited {
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            }
        })
    }
}

/// The client address of a request: the peer, or (when the peer is a trusted proxy) the last address
/// in `X-Forwarded-For` that is not one of the trusted proxies.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    forwarded_for
        .into_iter()
        .flat_map(|h| h.rsplit(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_with_a_retry_time() {
        let limiter = Limiter::new(
            Rate {
                per_second: 1,
                burst: 3,
            },
            Rate {
                per_second: 1,
                burst: 2,
            },
            true,
        );
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert!(limiter.ip(ip).is_ok());
        }
        let refused = limiter.ip(ip).unwrap_err();
        assert!(refused.seconds() >= 1);
        assert!(
            limiter.ip("192.0.2.2".parse().unwrap()).is_ok(),
            "another address has its own bucket"
        );
        assert!(limiter.authenticated_client("svc").is_ok() && limiter.authenticated_client("svc").is_ok());
        assert!(limiter.authenticated_client("svc").is_err());
        assert!(
            limiter.authenticated_client("other").is_ok(),
            "another service has its own bucket"
        );
        let off = Limiter::new(
            Rate {
                per_second: 1,
                burst: 1,
            },
            Rate {
                per_second: 1,
                burst: 1,
            },
            false,
        );
        for _ in 0..10 {
            assert!(off.ip(ip).is_ok());
        }
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        let spoofed = Some("198.51.100.1, 203.0.113.9");
        assert_eq!(
            client_ip(client, spoofed, &[proxy]),
            client,
            "an untrusted peer is the client"
        );
        assert_eq!(
            client_ip(proxy, spoofed, &[proxy]),
            client,
            "the last hop before the proxy"
        );
        assert_eq!(client_ip(proxy, None, &[proxy]), proxy);
        assert_eq!(client_ip(proxy, Some("junk"), &[proxy]), proxy);
    }
}
