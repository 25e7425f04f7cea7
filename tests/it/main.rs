//! Workspace-level integration tests: scenarios that cross crates.

mod plugin;
mod roundtrip;
