//! Test support shared by every g360-mail crate: `MockMailProvider`, a
//! recording provider, the provider conformance checks and the emulator of
//! Microsoft identity + Graph mail, scripted hostile HTTP servers, SMTP test
//! servers, fixtures several crates' tests share ([`routes`]) and the one
//! proptest configuration ([`fuzz::config`]).

pub mod certs;
pub mod conformance;
pub mod fuzz;
pub mod graph;
pub mod hostile;
mod recording;
pub mod routes;
pub mod smtp;

pub use g360_mail_core::MockMailProvider;
pub use recording::{
    RECORDING_PROVIDER_TYPE, Recorder, RecordingFactory, RecordingProvider, RecordingSettings,
};
