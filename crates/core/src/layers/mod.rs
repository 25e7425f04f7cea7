//! Decorators over [`MailProvider`](crate::MailProvider) for behaviour that
//! crosses providers.
//!
//! - [`FallbackProvider`]: a second route for sends the primary certainly did
//!   not accept.
//!
//! Retries stay inside each provider, which alone knows when resending is safe
//! (for Office 365, after looking the mail up in Sent Items); the fallback
//! layer sits outside them, so the secondary route is tried only once the
//! primary's own retries are over.

mod fallback;

pub use fallback::{FallbackProvider, fallback_reason};
