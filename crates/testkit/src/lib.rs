//! Test support shared by every g360-mail crate: `MockMailProvider`, a
//! recording provider, the provider conformance checks and the emulator of
//! Microsoft identity + Graph mail, and scripted hostile HTTP servers.

pub mod certs;
pub mod conformance;
pub mod graph;
pub mod hostile;
mod recording;
pub mod smtp;

pub use g360_mail_core::MockMailProvider;
pub use recording::{
    RECORDING_PROVIDER_TYPE, Recorder, RecordingFactory, RecordingProvider, RecordingSettings,
};
