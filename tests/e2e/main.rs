//! End-to-end tests over the real binaries (hub, idp-stub, rp-example) on free ports, with real Redis
//! and headless Chromium. One test binary, so the suite links once.

mod accessibility;
mod attacks;
mod audit;
mod browser;
mod cluster;
mod concurrency;
mod conformance;
mod faults;
mod flows;
mod harness;
mod identity;
mod independent;
mod independent_op;
mod launcher;
mod load;
mod logout;
mod observability;
mod operations;
mod resilience;
mod rolling;
mod rotation;
mod sandbox;
mod tls;
