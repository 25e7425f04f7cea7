//! Test support shared by every g360-mail crate: `MockMailProvider`, a
//! recording provider, the provider conformance checks and the emulator of
//! Microsoft identity + Graph mail.

pub mod graph;

pub use g360_mail_core::MockMailProvider;
