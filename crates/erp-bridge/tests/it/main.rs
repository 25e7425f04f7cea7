//! Integration tests of the bridge: configuration (files, environment, ERP
//! rows), providers wired to accounts, run-time changes, fallback routes, the
//! ERP example and the configuration fuzz target. One test binary for all of
//! them, so the tests link once.

mod support;

mod apply;
mod bridge;
mod config;
mod example;
mod fallback;
mod fuzz_config;
mod rows;
