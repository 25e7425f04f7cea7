//! End-to-end tests of the `g360-mail` binary: each module spawns the real
//! binary as a user or an ERP job would. One test binary for all of them, so
//! the tests link once.

mod support;

mod bounces;
mod bounces_sync;
mod bulk;
mod cli;
mod cli_json;
mod diagnosis;
mod fallback;
mod guide_table;
mod o365;
mod outbox_crash;
mod outbox_direct;
mod outbox_limits;
mod outbox_pacing;
mod outbox_signals;
mod outbox_urls;
mod secrets;
mod texts;
