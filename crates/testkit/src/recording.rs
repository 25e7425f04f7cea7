//! [`RecordingProvider`]: an in-memory provider that keeps what it is sent,
//! for state assertions (the stub to `MockMailProvider`'s mock), and
//! [`RecordingFactory`], which registers it as provider type `recording`.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use g360_mail_core::{
    Capabilities, Check, ConfigProblem, Error, Integration, MailProvider, MailboxAccess,
    MailboxQuery, MessagePage, MessageUid, OutgoingMessage, ProviderFactory, ReceivedMessage,
    Result, SendReceipt, VerifyOptions, VerifyReport,
};
use serde::Deserialize;

/// The provider type of [`RecordingFactory`].
pub const RECORDING_PROVIDER_TYPE: &str = "recording";

/// What a [`RecordingProvider`] has been sent, shared with the test.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    sent: Arc<Mutex<Vec<(String, OutgoingMessage)>>>,
}

impl Recorder {
    /// Every message sent so far, with the address of the account that sent it.
    pub fn sent(&self) -> Vec<(String, OutgoingMessage)> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn push(&self, account: &str, message: OutgoingMessage) {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).push((account.to_owned(), message));
    }
}

/// A provider that records every message and can send but not read.
#[derive(Debug, Clone)]
pub struct RecordingProvider {
    address: String,
    recorder: Recorder,
}

impl RecordingProvider {
    /// A provider for `address` recording into `recorder`.
    pub fn new(address: impl Into<String>, recorder: Recorder) -> Self {
        RecordingProvider { address: address.into(), recorder }
    }
}

#[async_trait]
impl MailProvider for RecordingProvider {
    fn provider_type(&self) -> &'static str {
        RECORDING_PROVIDER_TYPE
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::send_only();
        caps.html_body = true;
        caps.attachments = true;
        caps.custom_headers = true;
        caps
    }

    async fn send(&self, message: &OutgoingMessage) -> Result<SendReceipt> {
        self.recorder.push(&self.address, message.clone());
        let domain = self.address.rsplit_once('@').map_or("", |(_, d)| d);
        Ok(SendReceipt::new(
            RECORDING_PROVIDER_TYPE,
            message.uid(),
            message.uid().internet_message_id(domain),
        ))
    }

    async fn list_messages(&self, _query: &MailboxQuery) -> Result<MessagePage> {
        Err(Error::unsupported(RECORDING_PROVIDER_TYPE, "read mail"))
    }

    async fn get_message(&self, _id: &str) -> Result<ReceivedMessage> {
        Err(Error::unsupported(RECORDING_PROVIDER_TYPE, "read mail"))
    }

    async fn verify(&self, _options: &VerifyOptions) -> Result<VerifyReport> {
        let mut report = VerifyReport::new(RECORDING_PROVIDER_TYPE);
        report.push(Check::pass("recorder", "messages are kept in memory"));
        Ok(report)
    }

    async fn find_sent(&self, uid: MessageUid) -> Result<Option<SendReceipt>> {
        let found = self.recorder.sent().into_iter().find(|(_, m)| m.uid() == uid);
        Ok(found.map(|(_, m)| {
            let mut r =
                SendReceipt::new(RECORDING_PROVIDER_TYPE, uid, m.uid().internet_message_id(""));
            r.recovered = true;
            r
        }))
    }
}

/// Settings of a `recording` integration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingSettings {
    /// A label, only checked to be non-empty when given.
    #[serde(default)]
    pub label: Option<String>,
}

/// Registers [`RecordingProvider`] as provider type `recording`; every
/// provider it builds records into the same [`Recorder`].
#[derive(Debug, Clone, Default)]
pub struct RecordingFactory {
    recorder: Recorder,
}

impl RecordingFactory {
    /// A factory recording into `recorder`.
    pub fn new(recorder: Recorder) -> Self {
        RecordingFactory { recorder }
    }
}

impl ProviderFactory for RecordingFactory {
    type Settings = RecordingSettings;

    fn provider_type(&self) -> &'static str {
        RECORDING_PROVIDER_TYPE
    }

    fn description(&self) -> &'static str {
        "keeps sent mail in memory (tests)"
    }

    fn needs_secret(&self) -> bool {
        false
    }

    fn validate(&self, settings: &RecordingSettings) -> Vec<ConfigProblem> {
        match &settings.label {
            Some(l) if l.trim().is_empty() => vec![ConfigProblem::new("label", "is empty")],
            _ => Vec::new(),
        }
    }

    fn build(
        &self,
        _integration: &Integration,
        _settings: &RecordingSettings,
        access: &MailboxAccess,
    ) -> Result<Arc<dyn MailProvider>> {
        Ok(Arc::new(RecordingProvider::new(access.mailbox.addr(), self.recorder.clone())))
    }
}
