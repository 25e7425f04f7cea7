//! Workspace-level integration tests: scenarios that cross crates.

mod fallback;
mod plugin;
mod roundtrip;
mod smtp_oauth;
