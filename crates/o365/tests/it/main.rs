//! Integration tests of the Office 365 provider against the in-process
//! Microsoft identity + Graph emulator of `g360-mail-testkit`.

mod util;

mod certificate;
mod conformance;
mod errors;
mod factory;
mod hostile;
mod limits;
mod read;
mod reports;
mod retry;
mod secrets;
mod send;
mod tls_ca;
mod token;
mod verify;
