//! Wire types of Microsoft identity and Microsoft Graph, apart from the domain
//! types of `g360-mail-core` (`camelCase`, as Graph spells them).
//!
//! Only the fields g360-mail reads or writes are modelled; unknown fields are
//! ignored when reading.

use serde::{Deserialize, Serialize};

/// A message as written to Graph (send or draft), without its attachments:
/// the body of `POST /users/{id}/sendMail` adds them and `saveToSentItems`
/// around it (`crate::body::send_mail`).
///
/// <https://learn.microsoft.com/graph/api/user-sendmail>
///
/// <https://learn.microsoft.com/graph/api/resources/message>
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GraphOutgoing<'a> {
    pub(crate) subject: &'a str,
    pub(crate) body: GraphBody<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) from: Option<GraphRecipientOut<'a>>,
    pub(crate) to_recipients: Vec<GraphRecipientOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) cc_recipients: Vec<GraphRecipientOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) bcc_recipients: Vec<GraphRecipientOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) reply_to: Vec<GraphRecipientOut<'a>>,
    pub(crate) importance: &'static str,
    pub(crate) internet_message_id: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) internet_message_headers: Vec<GraphHeader<'a>>,
    pub(crate) single_value_extended_properties: Vec<GraphExtendedProperty<'a>>,
}

/// `itemBody`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GraphBody<'a> {
    pub(crate) content_type: &'static str,
    pub(crate) content: &'a str,
}

/// `recipient` as written.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GraphRecipientOut<'a> {
    pub(crate) email_address: GraphEmailAddressOut<'a>,
}

/// `emailAddress` as written.
#[derive(Debug, Serialize)]
pub(crate) struct GraphEmailAddressOut<'a> {
    pub(crate) address: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<&'a str>,
}

/// `internetMessageHeader`.
#[derive(Debug, Serialize)]
pub(crate) struct GraphHeader<'a> {
    pub(crate) name: &'a str,
    pub(crate) value: &'a str,
}

/// `singleValueLegacyExtendedProperty`.
///
/// <https://learn.microsoft.com/graph/api/resources/singlevaluelegacyextendedproperty>
#[derive(Debug, Serialize)]
pub(crate) struct GraphExtendedProperty<'a> {
    pub(crate) id: &'a str,
    pub(crate) value: String,
}

/// The body of `POST …/attachments/createUploadSession`.
///
/// <https://learn.microsoft.com/graph/api/attachment-createuploadsession>
#[derive(Debug, Serialize)]
pub(crate) struct CreateUploadSession<'a> {
    #[serde(rename = "AttachmentItem")]
    pub(crate) attachment_item: AttachmentItem<'a>,
}

/// `attachmentItem`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AttachmentItem<'a> {
    pub(crate) attachment_type: &'static str,
    pub(crate) name: &'a str,
    pub(crate) size: u64,
    pub(crate) content_type: &'a str,
    pub(crate) is_inline: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) content_id: Option<&'a str>,
}

/// `uploadSession`.
///
/// <https://learn.microsoft.com/graph/api/resources/uploadsession>
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UploadSession {
    pub(crate) upload_url: String,
}

/// The id of a created item (draft).
#[derive(Debug, Deserialize)]
pub(crate) struct CreatedItem {
    pub(crate) id: String,
}

/// A message as Graph returns it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct GraphMessage {
    pub(crate) id: String,
    pub(crate) internet_message_id: Option<String>,
    pub(crate) subject: Option<String>,
    pub(crate) from: Option<GraphRecipient>,
    pub(crate) sender: Option<GraphRecipient>,
    pub(crate) to_recipients: Option<Vec<GraphRecipient>>,
    pub(crate) cc_recipients: Option<Vec<GraphRecipient>>,
    pub(crate) bcc_recipients: Option<Vec<GraphRecipient>>,
    pub(crate) reply_to: Option<Vec<GraphRecipient>>,
    pub(crate) sent_date_time: Option<String>,
    pub(crate) received_date_time: Option<String>,
    pub(crate) is_read: Option<bool>,
    pub(crate) importance: Option<String>,
    pub(crate) body_preview: Option<String>,
    pub(crate) body: Option<GraphBodyIn>,
    pub(crate) has_attachments: Option<bool>,
    pub(crate) attachments: Option<Vec<GraphAttachment>>,
    #[serde(rename = "@removed")]
    pub(crate) removed: Option<serde_json::Value>,
}

/// `itemBody` as read.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct GraphBodyIn {
    pub(crate) content_type: Option<String>,
    pub(crate) content: Option<String>,
}

/// `recipient` as read.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct GraphRecipient {
    pub(crate) email_address: Option<GraphEmailAddress>,
}

/// `emailAddress` as read.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct GraphEmailAddress {
    pub(crate) address: Option<String>,
    pub(crate) name: Option<String>,
}

/// An attachment as read (file, item or reference attachment).
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct GraphAttachment {
    #[serde(rename = "@odata.type")]
    pub(crate) odata_type: Option<String>,
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) size: Option<u64>,
    pub(crate) is_inline: Option<bool>,
    pub(crate) content_id: Option<String>,
    pub(crate) content_bytes: Option<String>,
}

impl std::fmt::Debug for GraphAttachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphAttachment")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// A collection page: `value` plus the paging links.
///
/// <https://learn.microsoft.com/graph/paging>
#[derive(Debug, Deserialize)]
pub(crate) struct GraphPage<T> {
    #[serde(default = "Vec::new")]
    pub(crate) value: Vec<T>,
    #[serde(rename = "@odata.nextLink")]
    pub(crate) next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink")]
    pub(crate) delta_link: Option<String>,
}

/// The error body of Graph.
///
/// <https://learn.microsoft.com/graph/errors>
#[derive(Debug, Default, Deserialize)]
pub(crate) struct GraphErrorBody {
    #[serde(default)]
    pub(crate) error: GraphErrorDetail,
}

/// `error` of a Graph error body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct GraphErrorDetail {
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) inner_error: Option<GraphInnerError>,
}

/// `innerError` of a Graph error body.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct GraphInnerError {
    pub(crate) code: Option<String>,
    #[serde(rename = "request-id")]
    pub(crate) request_id: Option<String>,
    #[serde(rename = "client-request-id")]
    pub(crate) client_request_id: Option<String>,
}

/// The success answer of the v2.0 token endpoint.
///
/// <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow>
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    #[serde(default)]
    pub(crate) expires_in: Option<NumberOrString>,
    #[serde(default)]
    pub(crate) refresh_in: Option<NumberOrString>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .field("refresh_in", &self.refresh_in)
            .finish_non_exhaustive()
    }
}

/// A number Entra sometimes writes as a string (`"3599"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum NumberOrString {
    Number(u64),
    Text(String),
}

impl NumberOrString {
    pub(crate) fn as_u64(&self) -> Option<u64> {
        match self {
            NumberOrString::Number(n) => Some(*n),
            NumberOrString::Text(s) => s.trim().parse().ok(),
        }
    }
}

/// The error answer of the token and discovery endpoints.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct TokenErrorBody {
    pub(crate) error: String,
    pub(crate) error_description: String,
    pub(crate) error_codes: Vec<u64>,
    pub(crate) trace_id: Option<String>,
    pub(crate) correlation_id: Option<String>,
    pub(crate) timestamp: Option<String>,
}

/// The claims of an access token g360-mail looks at (diagnostics only).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct TokenClaims {
    pub(crate) roles: Option<Vec<String>>,
    pub(crate) scp: Option<String>,
    pub(crate) tid: Option<String>,
    pub(crate) appid: Option<String>,
    pub(crate) azp: Option<String>,
    pub(crate) idtyp: Option<String>,
    pub(crate) aud: Option<String>,
}

/// The OpenID Connect discovery document of a tenant.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct OpenIdConfiguration {
    pub(crate) token_endpoint: Option<String>,
    pub(crate) cloud_instance_name: Option<String>,
    pub(crate) msgraph_host: Option<String>,
    pub(crate) tenant_region_scope: Option<String>,
}

/// A delivery report as listed: `message` with only `id`,
/// `receivedDateTime`, `internetMessageId` and its message class expanded
/// (<https://learn.microsoft.com/graph/api/singlevaluelegacyextendedproperty-get>).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct GraphReportRef {
    pub(crate) id: String,
    pub(crate) received_date_time: Option<String>,
    pub(crate) internet_message_id: Option<String>,
    pub(crate) single_value_extended_properties: Vec<GraphExtendedPropertyIn>,
}

/// `singleValueLegacyExtendedProperty`: an id such as `String 0x001A` and its value.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct GraphExtendedPropertyIn {
    pub(crate) id: String,
    pub(crate) value: Option<String>,
}
