//! Graph mail endpoints (reference §3–§5): authorization, sendMail, drafts,
//! upload sessions, folders, lists, delta, messages, MIME, attachments.

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};

use super::Shared;
use super::handlers::{Ctx, graph_error, json_response, strip_folder_prefix};
use super::identity::{TokenProblem, validate_bearer};
use super::mime;
use super::model::{
    AccessPolicy, App, BodyType, EmailAddress, FileAttachment, MAIL_READ, MAIL_READ_WRITE,
    MAIL_SEND, MailMessage, Mailbox, MailboxState, MessageBody, RbacScope,
};
use super::odata::{self, Expand, QueryError};
use super::record::{Delivery, SendVia};
use super::state::{
    DeltaState, FOLDERS, Removed, State, UploadSession, b64, folder_id, new_internet_message_id,
    normalize_folder, random_id, random_token,
};

/// A Graph error before it becomes a response.
#[derive(Debug)]
struct GErr {
    status: StatusCode,
    code: &'static str,
    message: String,
}

type GResult<T> = Result<T, GErr>;

fn gerr(status: StatusCode, code: &'static str, message: impl Into<String>) -> GErr {
    GErr { status, code, message: message.into() }
}

fn bad_request(message: impl Into<String>) -> GErr {
    gerr(StatusCode::BAD_REQUEST, "BadRequest", message)
}

fn not_found_item() -> GErr {
    gerr(
        StatusCode::NOT_FOUND,
        "ErrorItemNotFound",
        "The specified object was not found in the store.",
    )
}

fn invalid_recipients(detail: &str) -> GErr {
    gerr(
        StatusCode::BAD_REQUEST,
        "ErrorInvalidRecipients",
        format!("At least one recipient is not valid., {detail}"),
    )
}

impl From<QueryError> for GErr {
    fn from(e: QueryError) -> Self {
        gerr(StatusCode::BAD_REQUEST, e.code, e.message)
    }
}

fn respond(ctx: &Ctx, e: GErr) -> Response {
    graph_error(ctx, e.status, e.code, &e.message)
}

/// The permission an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Perm {
    Read,
    Send,
    ReadWrite,
}

impl Perm {
    fn granted_by(self, role: &str) -> bool {
        match self {
            Perm::Read => role == MAIL_READ || role == MAIL_READ_WRITE,
            Perm::Send => role == MAIL_SEND,
            Perm::ReadWrite => role == MAIL_READ_WRITE,
        }
    }
}

/// The operations, with their original-case path parameters.
#[derive(Debug)]
enum Op {
    SendMail,
    GetFolder(String),
    List(Option<String>),
    Delta(String),
    CreateDraft,
    GetMessage(String),
    Mime(String),
    ListAttachments(String),
    AddAttachment(String),
    CreateUploadSession(String),
    GetAttachment(String, String),
    AttachmentValue(String, String),
    SendDraft(String),
}

impl Op {
    fn perm(&self) -> Perm {
        match self {
            Op::SendMail | Op::SendDraft(_) => Perm::Send,
            Op::CreateDraft | Op::AddAttachment(_) | Op::CreateUploadSession(_) => Perm::ReadWrite,
            _ => Perm::Read,
        }
    }
}

/// Matches the path after `/users/{id}`; `Err` = unknown path or method.
fn route(method: &Method, rest: &[String]) -> GResult<Op> {
    let full = rest;
    let rest = strip_folder_prefix(rest);
    let lower: Vec<String> = rest.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    let p = |i: usize| rest[i].clone();
    let get = method == Method::GET;
    let post = method == Method::POST;
    let op = match l.as_slice() {
        ["sendmail"] if post => Op::SendMail,
        ["mailfolders", _] if get => Op::GetFolder(p(1)),
        ["mailfolders", _, "messages"] if get => Op::List(Some(p(1))),
        ["mailfolders", _, "messages", "delta"] if get => Op::Delta(p(1)),
        ["messages"] if get => Op::List(None),
        ["messages"] if post => Op::CreateDraft,
        ["messages", _] if get => Op::GetMessage(p(1)),
        ["messages", _, "$value"] if get => Op::Mime(p(1)),
        ["messages", _, "send"] if post => Op::SendDraft(p(1)),
        ["messages", _, "attachments"] if get => Op::ListAttachments(p(1)),
        ["messages", _, "attachments"] if post => Op::AddAttachment(p(1)),
        ["messages", _, "attachments", "createuploadsession"] if post => {
            Op::CreateUploadSession(p(1))
        }
        ["messages", _, "attachments", _] if get => Op::GetAttachment(p(1), p(3)),
        ["messages", _, "attachments", _, "$value"] if get => Op::AttachmentValue(p(1), p(3)),
        ["sendmail"]
        | ["mailfolders", ..]
        | ["messages"]
        | ["messages", _]
        | ["messages", _, "$value" | "send" | "attachments"]
        | ["messages", _, "attachments", ..] => {
            return Err(gerr(
                StatusCode::METHOD_NOT_ALLOWED,
                "BadRequest",
                "The HTTP method is not supported for this resource in the emulator (no PATCH, move, delete, reply, forward).",
            ));
        }
        _ => {
            let seg = full.last().map(String::as_str).unwrap_or_default();
            return Err(bad_request(format!("Resource not found for the segment '{seg}'.")));
        }
    };
    Ok(op)
}

fn unauthorized(ctx: &Ctx, problem: &TokenProblem) -> Response {
    let mut resp =
        graph_error(ctx, StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", problem.message());
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(
            "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
        ),
    );
    resp
}

/// The 4 MB request ceiling (§3.7).
fn oversize(shared: &Shared, ctx: &Ctx) -> Option<Response> {
    let (limit, status) = {
        let st = shared.lock();
        (st.options.max_request_bytes, st.options.oversize_status)
    };
    (ctx.body.len() > limit).then(|| {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        graph_error(ctx, status, "BadRequest", "The maximum request length supported is 4MB.")
    })
}

/// Everything an operation needs to know about the caller and the mailbox.
struct Caller {
    mailbox: Mailbox,
}

fn in_list(list: &[String], m: &Mailbox) -> bool {
    list.iter().any(|x| {
        let x = x.to_ascii_lowercase();
        x == m.address || x == m.upn || m.aliases.contains(&x)
    })
}

fn authorize(shared: &Shared, ctx: &Ctx, user: &str, perm: Perm) -> GResult<Caller> {
    let token = validate_bearer(shared, ctx).map_err(|p| {
        // Mapped to a response with WWW-Authenticate by the caller.
        gerr(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", p.message())
    })?;
    let st = shared.lock();
    let app: Option<App> = st.app(&token.tenant_id, &token.client_id).cloned();
    let rbac = app.as_ref().map(|a| a.rbac.clone()).unwrap_or_default();
    if token.roles.is_empty() && rbac.is_empty() {
        return Err(if st.options.no_roles_answers_401 {
            gerr(
                StatusCode::UNAUTHORIZED,
                "NoPermissionsInAccessToken",
                "The token contains no permissions, or permissions can not be understood.",
            )
        } else {
            access_denied()
        });
    }
    let invalid_user = || {
        gerr(
            StatusCode::NOT_FOUND,
            "ErrorInvalidUser",
            format!("The requested user '{user}' is invalid."),
        )
    };
    let entry = st.resolve_user(user).ok_or_else(invalid_user)?;
    if entry.tenant_id != token.tenant_id {
        return Err(invalid_user());
    }
    let mailbox = entry.mailbox.clone();
    match mailbox.state {
        MailboxState::Active => {}
        MailboxState::Invalid => return Err(invalid_user()),
        MailboxState::NotEnabledForRest => {
            return Err(gerr(
                StatusCode::NOT_FOUND,
                "MailboxNotEnabledForRESTAPI",
                "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            ));
        }
    }
    let policy_denies = match app.as_ref().and_then(|a| a.access_policy.as_ref()) {
        Some(AccessPolicy::RestrictAccess(list)) => !in_list(list, &mailbox),
        Some(AccessPolicy::DenyAccess(list)) => in_list(list, &mailbox),
        None => false,
    };
    if policy_denies {
        return Err(gerr(
            StatusCode::FORBIDDEN,
            "ErrorAccessDenied",
            "Access to OData is disabled.",
        ));
    }
    let by_role = token.roles.iter().any(|r| perm.granted_by(r));
    let by_rbac = rbac.iter().any(|g| {
        perm.granted_by(&g.role)
            && match &g.scope {
                RbacScope::Organization => true,
                RbacScope::Mailboxes(list) => in_list(list, &mailbox),
            }
    });
    if !(by_role || by_rbac) {
        return Err(access_denied());
    }
    Ok(Caller { mailbox })
}

fn access_denied() -> GErr {
    gerr(
        StatusCode::FORBIDDEN,
        "ErrorAccessDenied",
        "Access is denied. Check credentials and try again.",
    )
}

/// Entry point for `/v1.0/users/{user}/...` and `/v1.0/me/...`.
pub(crate) fn handle(shared: &Shared, ctx: &Ctx, user: Option<&str>, rest: &[String]) -> Response {
    if let Some(resp) = oversize(shared, ctx) {
        return resp;
    }
    if let Err(p) = validate_bearer(shared, ctx) {
        return unauthorized(ctx, &p);
    }
    let Some(user) = user else {
        return respond(
            ctx,
            bad_request("/me request is only valid with delegated authentication flow."),
        );
    };
    if rest.is_empty() {
        return respond(
            ctx,
            gerr(
                StatusCode::FORBIDDEN,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ),
        );
    }
    let op = match route(&ctx.method, rest) {
        Ok(op) => op,
        Err(e) => return respond(ctx, e),
    };
    super::ndr::release_due(&mut shared.lock());
    let caller = match authorize(shared, ctx, user, op.perm()) {
        Ok(c) => c,
        Err(e) => return respond(ctx, e),
    };
    let result = match op {
        Op::SendMail => send_mail(shared, ctx, &caller),
        Op::GetFolder(f) => get_folder(shared, ctx, &caller, &f),
        Op::List(f) => list(shared, ctx, &caller, f.as_deref()),
        Op::Delta(f) => delta(shared, ctx, &caller, &f),
        Op::CreateDraft => create_draft(shared, ctx, &caller),
        Op::GetMessage(id) => get_message(shared, ctx, &caller, &id),
        Op::Mime(id) => get_mime(shared, &caller, &id),
        Op::ListAttachments(id) => list_attachments(shared, ctx, &caller, &id),
        Op::AddAttachment(id) => add_attachment(shared, ctx, &caller, &id),
        Op::CreateUploadSession(id) => create_upload_session(shared, ctx, &caller, &id),
        Op::GetAttachment(id, att) => get_attachment(shared, ctx, &caller, &id, &att, false),
        Op::AttachmentValue(id, att) => get_attachment(shared, ctx, &caller, &id, &att, true),
        Op::SendDraft(id) => send_draft(shared, ctx, &caller, &id),
    };
    result.unwrap_or_else(|e| respond(ctx, e))
}

// --- Rendering --------------------------------------------------------------

fn fmt_ts(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn enc_user(address: &str) -> String {
    address.replace('@', "%40")
}

/// `Prefer` headers that matter here.
#[derive(Debug, Default)]
struct Prefs {
    body: Option<BodyType>,
    immutable: bool,
    max_page: Option<usize>,
    applied: Vec<String>,
}

fn prefs(ctx: &Ctx) -> Prefs {
    let mut p = Prefs::default();
    for item in ctx.prefers() {
        let (key, value) = item.split_once('=').unwrap_or((item.as_str(), ""));
        let value = value.trim().trim_matches('"');
        match key.trim().to_ascii_lowercase().as_str() {
            "outlook.body-content-type" => {
                let t = match value.to_ascii_lowercase().as_str() {
                    "text" => Some(BodyType::Text),
                    "html" => Some(BodyType::Html),
                    _ => None,
                };
                if let Some(t) = t {
                    p.body = Some(t);
                    p.applied.push(format!("outlook.body-content-type=\"{}\"", t.as_str()));
                }
            }
            "idtype" if value.eq_ignore_ascii_case("ImmutableId") => {
                p.immutable = true;
                p.applied.push("IdType=\"ImmutableId\"".into());
            }
            "odata.maxpagesize" => {
                if let Ok(n) = value.parse::<usize>() {
                    p.max_page = Some(n.max(1));
                    p.applied.push(format!("odata.maxpagesize={n}"));
                }
            }
            _ => {}
        }
    }
    p
}

fn with_prefs(mut resp: Response, p: &Prefs) -> Response {
    if !p.applied.is_empty()
        && let Ok(v) = HeaderValue::from_str(&p.applied.join(","))
    {
        resp.headers_mut().insert("preference-applied", v);
    }
    resp
}

/// How to render messages for one request.
#[derive(Debug, Default)]
struct View {
    body: Option<BodyType>,
    immutable: bool,
    select: Option<Vec<String>>,
    expand: Expand,
}

fn view(ctx: &Ctx, p: &Prefs) -> GResult<View> {
    view_from_options(ctx.query("$select"), ctx.query("$expand"), p)
}

fn view_from_options(select: Option<&str>, expand: Option<&str>, p: &Prefs) -> GResult<View> {
    let select = select
        .map(|s| odata::parse_select(s, odata::MESSAGE_PROPERTIES, "microsoft.graph.message"))
        .transpose()?;
    let expand = expand.map(odata::parse_expand).transpose()?.unwrap_or_default();
    Ok(View { body: p.body, immutable: p.immutable, select, expand })
}

fn recipient(a: &EmailAddress) -> Value {
    json!({ "emailAddress": { "name": a.name.clone().unwrap_or_else(|| a.address.clone()), "address": a.address } })
}

fn recipients(list: &[EmailAddress]) -> Value {
    Value::Array(list.iter().map(recipient).collect())
}

pub(crate) fn html_to_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    let mut tag = String::new();
    let lower = html.to_ascii_lowercase();
    // Drop <head>...</head> and <style>...</style> contents.
    let mut skip_until: Option<&str> = None;
    let mut i = 0;
    let bytes = html.as_bytes();
    while i < bytes.len() {
        if let Some(end) = skip_until {
            if lower[i..].starts_with(end) {
                i += end.len();
                skip_until = None;
            } else {
                i += 1;
            }
            continue;
        }
        let c = html[i..].chars().next().unwrap_or(' ');
        if in_tag {
            if c == '>' {
                in_tag = false;
                let t = tag.trim().to_ascii_lowercase();
                let name = t.split_whitespace().next().unwrap_or_default().trim_end_matches('/');
                match name {
                    "br" | "/p" | "/div" | "/tr" | "/li" | "/h1" | "/h2" | "/h3" => {
                        out.push_str("\r\n")
                    }
                    "head" => skip_until = Some("</head>"),
                    "style" => skip_until = Some("</style>"),
                    "script" => skip_until = Some("</script>"),
                    _ => {}
                }
                tag.clear();
            } else {
                tag.push(c);
            }
        } else if c == '<' {
            in_tag = true;
        } else {
            out.push(c);
        }
        i += c.len_utf8();
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
        .trim()
        .to_string()
}

pub(crate) fn text_to_html(text: &str) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace("\r\n", "\n")
        .replace('\n', "<br>\r\n");
    format!(
        "<html><head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n</head>\r\n<body>\r\n<div>{escaped}</div>\r\n</body>\r\n</html>\r\n"
    )
}

fn body_as(body: &MessageBody, want: BodyType) -> MessageBody {
    match (body.content_type, want) {
        (a, b) if a == b => body.clone(),
        (BodyType::Html, BodyType::Text) => {
            MessageBody::new(BodyType::Text, html_to_text(&body.content))
        }
        _ => MessageBody::new(BodyType::Html, text_to_html(&body.content)),
    }
}

fn body_json(b: &MessageBody) -> Value {
    json!({ "contentType": b.content_type.as_str(), "content": b.content })
}

fn preview(m: &MailMessage) -> String {
    let text = match m.body.content_type {
        BodyType::Text => m.body.content.clone(),
        BodyType::Html => html_to_text(&m.body.content),
    };
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.chars().take(255).collect()
}

fn change_key(m: &MailMessage) -> String {
    format!("CQAAABYAAA{}", STANDARD_NO_PAD.encode(m.change_seq.to_be_bytes()))
}

fn message_id_for(m: &MailMessage, immutable: bool) -> &str {
    if immutable { &m.immutable_id } else { &m.id }
}

fn attachment_json(a: &FileAttachment, with_bytes: bool) -> Value {
    let mut v = json!({
        "@odata.type": "#microsoft.graph.fileAttachment",
        "@odata.mediaContentType": a.content_type,
        "id": a.id,
        "lastModifiedDateTime": fmt_ts(Timestamp::now()),
        "name": a.name,
        "contentType": a.content_type,
        "size": a.bytes.len(),
        "isInline": a.is_inline,
        "contentId": a.content_id,
        "contentLocation": Value::Null,
    });
    if with_bytes {
        v["contentBytes"] = Value::String(b64(&a.bytes));
    }
    v
}

fn message_json(m: &MailMessage, mailbox: &Mailbox, v: &View) -> Value {
    let body = body_as(&m.body, v.body.unwrap_or(BodyType::Html));
    let ck = change_key(m);
    let id = message_id_for(m, v.immutable);
    let mut o = Map::new();
    o.insert("@odata.etag".into(), json!(format!("W/\"{ck}\"")));
    o.insert("id".into(), json!(id));
    o.insert("createdDateTime".into(), json!(fmt_ts(m.sent_at.unwrap_or(m.received_at))));
    o.insert("lastModifiedDateTime".into(), json!(fmt_ts(m.received_at)));
    o.insert("changeKey".into(), json!(ck));
    o.insert("categories".into(), json!(m.categories));
    o.insert("receivedDateTime".into(), json!(fmt_ts(m.received_at)));
    o.insert("sentDateTime".into(), json!(fmt_ts(m.sent_at.unwrap_or(m.received_at))));
    o.insert("hasAttachments".into(), json!(m.has_attachments()));
    o.insert("internetMessageId".into(), json!(m.internet_message_id));
    o.insert("subject".into(), json!(m.subject));
    o.insert("bodyPreview".into(), json!(preview(m)));
    o.insert("importance".into(), json!(m.importance));
    o.insert("parentFolderId".into(), json!(folder_id(mailbox, &m.folder)));
    o.insert("conversationId".into(), json!(m.conversation_id));
    o.insert("conversationIndex".into(), json!("AQHaremulatorAAAAAAA="));
    o.insert("isDeliveryReceiptRequested".into(), json!(false));
    o.insert("isReadReceiptRequested".into(), json!(false));
    o.insert("isRead".into(), json!(m.is_read));
    o.insert("isDraft".into(), json!(m.is_draft));
    o.insert(
        "webLink".into(),
        json!(format!(
            "https://outlook.office365.com/owa/?ItemID={}&exvsurl=1&viewmodel=ReadMessageItem",
            id.replace('=', "%3D")
        )),
    );
    o.insert("inferenceClassification".into(), json!("focused"));
    o.insert("body".into(), body_json(&body));
    o.insert("sender".into(), m.sender.as_ref().map_or(Value::Null, recipient));
    o.insert("from".into(), m.from.as_ref().map_or(Value::Null, recipient));
    o.insert("toRecipients".into(), recipients(&m.to));
    o.insert("ccRecipients".into(), recipients(&m.cc));
    o.insert("bccRecipients".into(), recipients(&m.bcc));
    o.insert("replyTo".into(), recipients(&m.reply_to));
    o.insert("flag".into(), json!({ "flagStatus": "notFlagged" }));
    let selected = |name: &str| {
        v.select.as_ref().is_some_and(|s| s.iter().any(|x| x.eq_ignore_ascii_case(name)))
    };
    if selected("uniqueBody") {
        o.insert("uniqueBody".into(), body_json(&body));
    }
    if selected("internetMessageHeaders") {
        let mut headers = vec![
            json!({"name": "Message-ID", "value": m.internet_message_id}),
            json!({"name": "Subject", "value": m.subject}),
            json!({"name": "MIME-Version", "value": "1.0"}),
        ];
        headers.extend(m.headers.iter().map(|(n, val)| json!({"name": n, "value": val})));
        o.insert("internetMessageHeaders".into(), Value::Array(headers));
    }
    if let Some(ids) = &v.expand.extended {
        let props: Vec<Value> = m
            .extended_properties
            .iter()
            .filter(|(k, _)| ids.is_empty() || ids.iter().any(|i| i.eq_ignore_ascii_case(k)))
            .map(|(k, val)| json!({"id": k, "value": val}))
            .collect();
        if !props.is_empty() {
            o.insert("singleValueExtendedProperties".into(), Value::Array(props));
        }
    }
    if v.expand.attachments {
        let atts: Vec<Value> = m.attachments.iter().map(|a| attachment_json(a, true)).collect();
        o.insert("attachments".into(), Value::Array(atts));
    }
    if let Some(select) = &v.select {
        o.retain(|k, _| {
            k == "@odata.etag"
                || k == "id"
                || k == "singleValueExtendedProperties"
                || k == "attachments"
                || select.iter().any(|s| s.eq_ignore_ascii_case(k))
        });
    }
    Value::Object(o)
}

// --- Lookups ----------------------------------------------------------------

/// A folder path segment (well-known name or folder id) → well-known name.
fn resolve_folder(mailbox: &Mailbox, segment: &str) -> GResult<&'static str> {
    if let Some(name) = normalize_folder(segment) {
        return Ok(name);
    }
    for (name, _) in FOLDERS {
        if folder_id(mailbox, name) == segment {
            return Ok(name);
        }
    }
    if segment.starts_with("AAMk") || segment.starts_with("AQMk") {
        Err(not_found_item())
    } else {
        Err(gerr(StatusCode::BAD_REQUEST, "ErrorInvalidIdMalformed", "Id is malformed."))
    }
}

fn find_message<'a>(st: &'a State, mailbox: &Mailbox, id: &str) -> GResult<&'a MailMessage> {
    let entry = st
        .tenants
        .iter()
        .flat_map(|t| t.mailboxes.iter())
        .find(|m| m.mailbox.address == mailbox.address)
        .ok_or_else(not_found_item)?;
    entry.messages.iter().find(|m| m.id == id || m.immutable_id == id).ok_or_else(not_found_item)
}

fn find_message_mut<'a>(
    st: &'a mut State,
    mailbox: &Mailbox,
    id: &str,
) -> GResult<&'a mut MailMessage> {
    let entry = st.mailbox_by_address_mut(&mailbox.address).ok_or_else(not_found_item)?;
    entry
        .messages
        .iter_mut()
        .find(|m| m.id == id || m.immutable_id == id)
        .ok_or_else(not_found_item)
}

fn context_url(shared: &Shared, mailbox: &Mailbox, tail: &str) -> String {
    format!("{}/v1.0/$metadata#users('{}'){tail}", shared.base_url, enc_user(&mailbox.address))
}

/// `{base}{path}?{query without paging options}&{extra}`.
fn link(shared: &Shared, ctx: &Ctx, keep_query: bool, extra: (&str, &str)) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    if keep_query {
        for (k, v) in &ctx.query {
            let bare = k.trim_start_matches('$').to_ascii_lowercase();
            if bare != "skiptoken" && bare != "skip" && bare != "deltatoken" {
                ser.append_pair(k, v);
            }
        }
    }
    ser.append_pair(extra.0, extra.1);
    format!("{}{}?{}", shared.base_url, ctx.raw_path, ser.finish())
}

// --- Reading ----------------------------------------------------------------

fn get_folder(shared: &Shared, ctx: &Ctx, caller: &Caller, segment: &str) -> GResult<Response> {
    const FOLDER_PROPS: &[&str] = &[
        "id",
        "displayName",
        "parentFolderId",
        "childFolderCount",
        "unreadItemCount",
        "totalItemCount",
        "sizeInBytes",
        "isHidden",
    ];
    let mailbox = &caller.mailbox;
    let name = resolve_folder(mailbox, segment)?;
    let select = ctx
        .query("$select")
        .map(|s| odata::parse_select(s, FOLDER_PROPS, "microsoft.graph.mailFolder"))
        .transpose()?;
    let messages = shared.lock().folder_messages(&mailbox.address, name);
    let display = FOLDERS.iter().find(|(n, _)| *n == name).map_or(name, |(_, d)| *d);
    let mut o = Map::new();
    let tail = if select.is_some() { "/mailFolders(id)/$entity" } else { "/mailFolders/$entity" };
    o.insert("@odata.context".into(), json!(context_url(shared, mailbox, tail)));
    o.insert("id".into(), json!(folder_id(mailbox, name)));
    o.insert("displayName".into(), json!(display));
    o.insert("parentFolderId".into(), json!(folder_id(mailbox, "msgfolderroot")));
    o.insert("childFolderCount".into(), json!(0));
    o.insert("unreadItemCount".into(), json!(messages.iter().filter(|m| !m.is_read).count()));
    o.insert("totalItemCount".into(), json!(messages.len()));
    o.insert(
        "sizeInBytes".into(),
        json!(messages.iter().map(|m| m.body.content.len()).sum::<usize>()),
    );
    o.insert("isHidden".into(), json!(false));
    if let Some(select) = select {
        o.retain(|k, _| k == "@odata.context" || k == "id" || select.iter().any(|s| s == k));
    }
    Ok(json_response(StatusCode::OK, &Value::Object(o)))
}

fn parse_top(raw: Option<&str>, default: usize, max: usize) -> GResult<usize> {
    match raw {
        None => Ok(default),
        Some(t) => {
            let n: i64 = t.trim().parse().map_err(|_| {
                bad_request(format!("Invalid value '{t}' for $top query option found."))
            })?;
            if n < 1 {
                return Err(bad_request(format!(
                    "Invalid value '{t}' for $top query option found."
                )));
            }
            let n = n as usize;
            if n > max {
                return Err(bad_request(format!(
                    "The limit of '{max}' for Top query has been exceeded. The value from the incoming request is '{n}'."
                )));
            }
            Ok(n)
        }
    }
}

fn list(shared: &Shared, ctx: &Ctx, caller: &Caller, folder: Option<&str>) -> GResult<Response> {
    let mailbox = &caller.mailbox;
    let folder = folder.map(|f| resolve_folder(mailbox, f)).transpose()?;
    let p = prefs(ctx);
    let v = view(ctx, &p)?;
    if ctx.query("$search").is_some() {
        return Err(bad_request("$search is not emulated."));
    }
    let (default_top, max_top, enforce) = {
        let st = shared.lock();
        (
            st.options.default_page_size,
            st.options.max_page_size,
            st.options.enforce_inefficient_filter,
        )
    };
    let top = parse_top(ctx.query("$top"), default_top, max_top)?;
    let filter = ctx.query("$filter").map(odata::parse_filter).transpose()?;
    let order = ctx.query("$orderby").map(odata::parse_orderby).transpose()?;
    if let (Some(f), Some(o), true) = (&filter, &order, enforce) {
        odata::check_inefficient(f, o)?;
    }
    let offset = if let Some(token) = ctx.query("$skiptoken") {
        odata::skiptoken_offset(token).ok_or_else(|| bad_request("The $skiptoken is not valid."))?
    } else if let Some(skip) = ctx.query("$skip") {
        skip.parse::<usize>().map_err(|_| {
            bad_request(format!("Invalid value '{skip}' for $skip query option found."))
        })?
    } else {
        0
    };
    let mut messages: Vec<MailMessage> = {
        let st = shared.lock();
        let entry = st
            .tenants
            .iter()
            .flat_map(|t| t.mailboxes.iter())
            .find(|m| m.mailbox.address == mailbox.address)
            .ok_or_else(not_found_item)?;
        entry
            .messages
            .iter()
            .filter(|m| folder.is_none_or(|f| m.folder == f))
            .filter(|m| filter.as_ref().is_none_or(|f| f.matches(m)))
            .cloned()
            .collect()
    };
    odata::sort(&mut messages, order.as_ref());
    let total = messages.len();
    let page: Vec<Value> =
        messages.iter().skip(offset).take(top).map(|m| message_json(m, mailbox, &v)).collect();
    let tail = match folder {
        Some(f) => format!("/mailFolders('{f}')/messages"),
        None => "/messages".to_string(),
    };
    let tail = match &v.select {
        Some(s) => format!("{tail}({})", s.join(",")),
        None => tail,
    };
    let mut body = json!({ "@odata.context": context_url(shared, mailbox, &tail), "value": page });
    if offset + top < total {
        body["@odata.nextLink"] =
            json!(link(shared, ctx, true, ("$skiptoken", &odata::skiptoken(offset + top))));
    }
    Ok(with_prefs(json_response(StatusCode::OK, &body), &p))
}

fn sync_state_not_found() -> GErr {
    gerr(
        StatusCode::GONE,
        "syncStateNotFound",
        "The sync state generation is not found or has expired. Restart the sync without a delta token.",
    )
}

fn delta(shared: &Shared, ctx: &Ctx, caller: &Caller, segment: &str) -> GResult<Response> {
    let mailbox = &caller.mailbox;
    let folder = resolve_folder(mailbox, segment)?;
    let p = prefs(ctx);
    // (since, upto, offset, options)
    let (since, upto, offset, options): (u64, u64, usize, Vec<(String, String)>) = if let Some(dt) =
        ctx.query("$deltatoken")
    {
        let st = shared.lock();
        let state = st.delta_tokens.get(dt).ok_or_else(sync_state_not_found)?;
        if state.mailbox != mailbox.address || state.folder != folder {
            return Err(sync_state_not_found());
        }
        (state.seq, st.change_seq, 0, state.options.clone())
    } else if let Some(sk) = ctx.query("$skiptoken") {
        let t = odata::decode_token(sk).ok_or_else(sync_state_not_found)?;
        let get = |k: &str| t.get(k).and_then(Value::as_u64);
        let options: Vec<(String, String)> = t
            .get("q")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| {
                        Some((p.get(0)?.as_str()?.to_string(), p.get(1)?.as_str()?.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        match (get("s"), get("u"), get("o")) {
            (Some(s), Some(u), Some(o)) => (s, u, o as usize, options),
            _ => return Err(sync_state_not_found()),
        }
    } else {
        let options: Vec<(String, String)> = ctx
            .query
            .iter()
            .filter(|(k, _)| {
                let bare = k.trim_start_matches('$').to_ascii_lowercase();
                matches!(
                    bare.as_str(),
                    "select" | "top" | "expand" | "filter" | "orderby" | "changetype" | "search"
                )
            })
            .cloned()
            .collect();
        (0, shared.lock().change_seq, 0, options)
    };
    let opt = |name: &str| {
        options
            .iter()
            .find(|(k, _)| k.trim_start_matches('$').eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    if opt("search").is_some() {
        return Err(bad_request("$search is not supported with delta."));
    }
    let filter = opt("filter").map(odata::parse_filter).transpose()?;
    if let Some(f) = &filter {
        let only_received = f
            .conds
            .iter()
            .all(|c| matches!(c, odata::Cond::Received(odata::Cmp::Ge | odata::Cmp::Gt, _)));
        if !only_received {
            return Err(bad_request(
                "Delta query on messages supports only $filter=receivedDateTime ge|gt {value}.",
            ));
        }
    }
    if let Some(o) = opt("orderby") {
        let o = odata::parse_orderby(o)?;
        if !(o.property == "receiveddatetime" && o.descending) {
            return Err(bad_request(
                "Delta query on messages supports only $orderby=receivedDateTime desc.",
            ));
        }
    }
    let (default_top, max_top) = {
        let st = shared.lock();
        (st.options.default_page_size, st.options.max_page_size)
    };
    let size = match (opt("top"), p.max_page) {
        (Some(t), _) => parse_top(Some(t), default_top, max_top)?,
        (None, Some(n)) => n.min(max_top),
        (None, None) => default_top,
    };
    let change_type = opt("changeType").map(str::to_ascii_lowercase);
    let v = view_from_options(opt("select"), opt("expand"), &p)?;

    let (mut changed, removed): (Vec<MailMessage>, Vec<Removed>) = {
        let st = shared.lock();
        let entry = st
            .tenants
            .iter()
            .flat_map(|t| t.mailboxes.iter())
            .find(|m| m.mailbox.address == mailbox.address)
            .ok_or_else(not_found_item)?;
        let changed = entry
            .messages
            .iter()
            .filter(|m| m.folder == folder && m.change_seq > since && m.change_seq <= upto)
            .filter(|m| filter.as_ref().is_none_or(|f| f.matches(m)))
            .cloned()
            .collect();
        let removed = if since > 0 {
            entry
                .removed
                .iter()
                .filter(|r| r.folder == folder && r.seq > since && r.seq <= upto)
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        (changed, removed)
    };
    odata::sort(&mut changed, None);
    let mut items: Vec<Value> = Vec::new();
    if change_type.as_deref() != Some("deleted") {
        items.extend(changed.iter().map(|m| message_json(m, mailbox, &v)));
    }
    if change_type.as_deref().is_none_or(|c| c == "deleted") {
        items.extend(removed.iter().map(|r| {
            json!({
                "@odata.type": "#microsoft.graph.message",
                "id": if v.immutable { &r.immutable_id } else { &r.id },
                "@removed": { "reason": "deleted" },
            })
        }));
    }
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(offset).take(size).collect();
    let mut body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#Collection(message)", shared.base_url),
        "value": page,
    });
    if offset + size < total {
        let q: Vec<Value> = options.iter().map(|(k, v)| json!([k, v])).collect();
        let token = odata::encode_token(&json!({
            "s": since, "u": upto, "o": offset + size, "q": q,
        }));
        body["@odata.nextLink"] = json!(link(shared, ctx, false, ("$skiptoken", &token)));
    } else {
        let token = random_token(24);
        shared.lock().delta_tokens.insert(
            token.clone(),
            DeltaState {
                mailbox: mailbox.address.clone(),
                folder: folder.to_string(),
                seq: upto,
                options,
            },
        );
        body["@odata.deltaLink"] = json!(link(shared, ctx, false, ("$deltatoken", &token)));
    }
    Ok(with_prefs(json_response(StatusCode::OK, &body), &p))
}

fn get_message(shared: &Shared, ctx: &Ctx, caller: &Caller, id: &str) -> GResult<Response> {
    let p = prefs(ctx);
    let v = view(ctx, &p)?;
    let st = shared.lock();
    let m = find_message(&st, &caller.mailbox, id)?;
    let mut body = message_json(m, &caller.mailbox, &v);
    drop(st);
    if let Value::Object(o) = &mut body {
        let ctx_url = context_url(shared, &caller.mailbox, "/messages/$entity");
        let mut with_ctx = Map::new();
        with_ctx.insert("@odata.context".into(), json!(ctx_url));
        with_ctx.extend(std::mem::take(o));
        *o = with_ctx;
    }
    Ok(with_prefs(json_response(StatusCode::OK, &body), &p))
}

fn get_mime(shared: &Shared, caller: &Caller, id: &str) -> GResult<Response> {
    let st = shared.lock();
    let m = find_message(&st, &caller.mailbox, id)?;
    let include_bcc = m.folder == "sentitems" || m.folder == "drafts";
    let raw = mime::render(m, include_bcc);
    drop(st);
    let mut resp = (StatusCode::OK, raw).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(resp)
}

const ATTACHMENT_PROPS: &[&str] = &[
    "id",
    "lastModifiedDateTime",
    "name",
    "contentType",
    "size",
    "isInline",
    "contentId",
    "contentLocation",
    "contentBytes",
];

fn select_attachment(mut v: Value, select: &Option<Vec<String>>) -> Value {
    if let (Some(select), Value::Object(o)) = (select, &mut v) {
        o.retain(|k, _| {
            k == "@odata.type"
                || k == "@odata.mediaContentType"
                || k == "id"
                || select.iter().any(|s| s == k)
        });
    }
    v
}

fn list_attachments(shared: &Shared, ctx: &Ctx, caller: &Caller, id: &str) -> GResult<Response> {
    let select = ctx
        .query("$select")
        .map(|s| odata::parse_select(s, ATTACHMENT_PROPS, "microsoft.graph.attachment"))
        .transpose()?;
    let st = shared.lock();
    let m = find_message(&st, &caller.mailbox, id)?;
    let value: Vec<Value> = m
        .attachments
        .iter()
        .map(|a| select_attachment(attachment_json(a, true), &select))
        .collect();
    drop(st);
    let body = json!({
        "@odata.context": context_url(shared, &caller.mailbox, &format!("/messages('{id}')/attachments")),
        "value": value,
    });
    Ok(json_response(StatusCode::OK, &body))
}

fn get_attachment(
    shared: &Shared,
    ctx: &Ctx,
    caller: &Caller,
    id: &str,
    att: &str,
    raw: bool,
) -> GResult<Response> {
    let select = ctx
        .query("$select")
        .map(|s| odata::parse_select(s, ATTACHMENT_PROPS, "microsoft.graph.attachment"))
        .transpose()?;
    let st = shared.lock();
    let m = find_message(&st, &caller.mailbox, id)?;
    let a = m.attachments.iter().find(|a| a.id == att).ok_or_else(not_found_item)?.clone();
    drop(st);
    if raw {
        let mut resp = (StatusCode::OK, a.bytes.clone()).into_response();
        if let Ok(v) = HeaderValue::from_str(&a.content_type) {
            resp.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        return Ok(resp);
    }
    let mut body = select_attachment(attachment_json(&a, true), &select);
    body["@odata.context"] = json!(context_url(
        shared,
        &caller.mailbox,
        &format!("/messages('{id}')/attachments/$entity")
    ));
    Ok(json_response(StatusCode::OK, &body))
}

// --- Parsing message JSON -----------------------------------------------------

fn parse_json_body(ctx: &Ctx) -> GResult<Value> {
    if ctx.body.is_empty() {
        return Err(bad_request("Empty Payload. JSON content expected."));
    }
    serde_json::from_slice(&ctx.body).map_err(|_| {
        bad_request(
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        )
    })
}

fn get_ci<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    o.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
}

fn valid_address(a: &str) -> bool {
    let Some((local, domain)) = a.rsplit_once('@') else { return false };
    !local.is_empty()
        && !domain.is_empty()
        && domain.contains('.')
        && !a.chars().any(|c| c.is_whitespace() || c == '<' || c == '>' || c == ',')
}

fn parse_recipient(v: &Value) -> GResult<EmailAddress> {
    let ea = v
        .get("emailAddress")
        .ok_or_else(|| invalid_recipients("A recipient must have an emailAddress."))?;
    let address = ea.get("address").and_then(Value::as_str).unwrap_or_default().trim().to_string();
    if !valid_address(&address) {
        return Err(invalid_recipients(&format!(
            "Recipient '{address}' is not resolved. All recipients must be resolved before a message can be submitted."
        )));
    }
    let name = ea.get("name").and_then(Value::as_str).map(str::to_string);
    Ok(EmailAddress { address, name })
}

fn parse_recipients(o: &Map<String, Value>, key: &str) -> GResult<Vec<EmailAddress>> {
    match get_ci(o, key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a.iter().map(parse_recipient).collect(),
        Some(_) => Err(bad_request(format!(
            "Invalid JSON. A collection was expected for the property '{key}'."
        ))),
    }
}

fn parse_attachment(v: &Value) -> GResult<FileAttachment> {
    let o = v
        .as_object()
        .ok_or_else(|| bad_request("Invalid JSON. An object was expected for an attachment."))?;
    let kind = get_ci(o, "@odata.type").and_then(Value::as_str);
    match kind {
        Some(k) if k.eq_ignore_ascii_case("#microsoft.graph.fileAttachment") => {}
        Some(k) => {
            return Err(bad_request(format!(
                "The attachment type '{k}' is not emulated (only #microsoft.graph.fileAttachment)."
            )));
        }
        None => {
            let prop = if get_ci(o, "contentBytes").is_some() { "contentBytes" } else { "name" };
            return Err(bad_request(format!(
                "The property '{prop}' does not exist on type 'microsoft.graph.attachment'. Make sure to only use property names that are defined by the type or mark the type as open type."
            )));
        }
    }
    let name = get_ci(o, "name").and_then(Value::as_str).unwrap_or_default();
    if name.is_empty() {
        return Err(gerr(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            "The attachment name is required.",
        ));
    }
    let bytes_b64 = get_ci(o, "contentBytes").and_then(Value::as_str).unwrap_or_default();
    let bytes = STANDARD
        .decode(bytes_b64.trim())
        .map_err(|_| bad_request("The value of 'contentBytes' is not a valid base64 string."))?;
    let content_type =
        get_ci(o, "contentType").and_then(Value::as_str).unwrap_or("application/octet-stream");
    let mut a = FileAttachment::new(name, content_type, bytes);
    a.is_inline = get_ci(o, "isInline").and_then(Value::as_bool).unwrap_or(false);
    a.content_id = get_ci(o, "contentId").and_then(Value::as_str).map(str::to_string);
    Ok(a)
}

/// A message from JSON (`sendMail`'s `message`, or a draft body).
struct Parsed {
    message: MailMessage,
    from_given: Option<EmailAddress>,
    requested_id: Option<String>,
}

fn parse_message(v: &Value) -> GResult<Parsed> {
    let o = v
        .as_object()
        .ok_or_else(|| bad_request("Invalid JSON. An object was expected for 'message'."))?;
    for key in o.keys() {
        let known = key == "@odata.type"
            || odata::MESSAGE_PROPERTIES.iter().any(|p| p.eq_ignore_ascii_case(key));
        if !known {
            return Err(bad_request(format!(
                "The property '{key}' does not exist on type 'microsoft.graph.message'. Make sure to only use property names that are defined by the type or mark the type as open type."
            )));
        }
    }
    let mut m = MailMessage::new(get_ci(o, "subject").and_then(Value::as_str).unwrap_or_default());
    if let Some(body) = get_ci(o, "body").and_then(Value::as_object) {
        let ct = get_ci(body, "contentType").and_then(Value::as_str).unwrap_or("text");
        let content_type = match ct.to_ascii_lowercase().as_str() {
            "text" => BodyType::Text,
            "html" => BodyType::Html,
            _ => {
                return Err(bad_request(format!(
                    "Cannot convert the literal '{ct}' to the expected type 'microsoft.graph.bodyType'."
                )));
            }
        };
        let content = get_ci(body, "content").and_then(Value::as_str).unwrap_or_default();
        m.body = MessageBody::new(content_type, content);
    } else {
        m.body = MessageBody::new(BodyType::Text, "");
    }
    m.to = parse_recipients(o, "toRecipients")?;
    m.cc = parse_recipients(o, "ccRecipients")?;
    m.bcc = parse_recipients(o, "bccRecipients")?;
    m.reply_to = parse_recipients(o, "replyTo")?;
    let from_given = match get_ci(o, "from") {
        None | Some(Value::Null) => None,
        Some(v) => Some(parse_recipient(v)?),
    };
    if let Some(i) = get_ci(o, "importance").and_then(Value::as_str) {
        let lower = i.to_ascii_lowercase();
        if !matches!(lower.as_str(), "low" | "normal" | "high") {
            return Err(bad_request(format!(
                "Cannot convert the literal '{i}' to the expected type 'microsoft.graph.importance'."
            )));
        }
        m.importance = lower;
    }
    if let Some(headers) = get_ci(o, "internetMessageHeaders").and_then(Value::as_array) {
        for h in headers {
            let name = h.get("name").and_then(Value::as_str).unwrap_or_default();
            let value = h.get("value").and_then(Value::as_str).unwrap_or_default();
            if !(name.len() > 2 && name[..2].eq_ignore_ascii_case("x-")) {
                return Err(gerr(
                    StatusCode::BAD_REQUEST,
                    "InvalidInternetMessageHeader",
                    format!(
                        "The internet message header name '{name}' should start with 'x-' or 'X-'."
                    ),
                ));
            }
            m.headers.push((name.to_string(), value.to_string()));
        }
    }
    if let Some(props) = get_ci(o, "singleValueExtendedProperties").and_then(Value::as_array) {
        for p in props {
            let id = p.get("id").and_then(Value::as_str).unwrap_or_default();
            let value = p.get("value").and_then(Value::as_str);
            let (Some(value), false) = (value, id.trim().is_empty()) else {
                return Err(gerr(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidProperty",
                    "A singleValueExtendedProperty needs a string 'id' and a string 'value'.",
                ));
            };
            m.extended_properties.push((id.to_string(), value.to_string()));
        }
    }
    if let Some(cats) = get_ci(o, "categories").and_then(Value::as_array) {
        m.categories = cats.iter().filter_map(Value::as_str).map(str::to_string).collect();
    }
    if let Some(atts) = get_ci(o, "attachments").and_then(Value::as_array) {
        for a in atts {
            m.attachments.push(parse_attachment(a)?);
        }
    }
    let requested_id = get_ci(o, "internetMessageId").and_then(Value::as_str).map(str::to_string);
    Ok(Parsed { message: m, from_given, requested_id })
}

fn check_from(caller: &Caller, from: Option<&EmailAddress>) -> GResult<()> {
    let Some(from) = from else { return Ok(()) };
    let a = from.address.to_ascii_lowercase();
    let mb = &caller.mailbox;
    if a == mb.address || a == mb.upn || mb.aliases.contains(&a) || mb.send_as.contains(&a) {
        return Ok(());
    }
    Err(gerr(
        StatusCode::FORBIDDEN,
        "ErrorSendAsDenied",
        "The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account. Cannot submit message.",
    ))
}

fn check_sendable(shared: &Shared, caller: &Caller, m: &MailMessage) -> GResult<()> {
    let n = m.to.len() + m.cc.len() + m.bcc.len();
    if n == 0 {
        return Err(invalid_recipients(
            "A message can't be sent because it contains no recipients.",
        ));
    }
    let max = shared.lock().options.max_recipients;
    if n > max {
        return Err(invalid_recipients(&format!(
            "The message has {n} recipients; the limit is {max}."
        )));
    }
    let size = m.body.content.len() + m.attachments.iter().map(|a| a.bytes.len()).sum::<usize>();
    if size > caller.mailbox.max_send_size {
        return Err(gerr(
            StatusCode::BAD_REQUEST,
            "ErrorMessageSizeExceeded",
            "The message exceeds the maximum supported size.",
        ));
    }
    Ok(())
}

// --- Sending ------------------------------------------------------------------

fn accepted() -> Response {
    let mut resp = StatusCode::ACCEPTED.into_response();
    resp.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    resp
}

fn send_mail(shared: &Shared, ctx: &Ctx, caller: &Caller) -> GResult<Response> {
    let content_type = ctx.header("content-type").unwrap_or_default().to_ascii_lowercase();
    if content_type.starts_with("text/plain") {
        return send_mime(shared, ctx, caller);
    }
    let body = parse_json_body(ctx)?;
    let o = body.as_object().ok_or_else(|| bad_request("Invalid JSON. An object was expected."))?;
    for key in o.keys() {
        if !key.eq_ignore_ascii_case("message") && !key.eq_ignore_ascii_case("saveToSentItems") {
            return Err(bad_request(format!(
                "The parameter '{key}' in the request payload is not a valid parameter for the operation 'sendMail'."
            )));
        }
    }
    let message = get_ci(o, "message").filter(|v| !v.is_null()).ok_or_else(|| {
        gerr(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidParameter",
            "The 'message' parameter is required.",
        )
    })?;
    let save = match get_ci(o, "saveToSentItems") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s))
            if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") =>
        {
            s.eq_ignore_ascii_case("true")
        }
        Some(other) => {
            return Err(bad_request(format!(
                "Cannot convert the literal '{other}' to the expected type 'Edm.Boolean'."
            )));
        }
    };
    let parsed = parse_message(message)?;
    check_from(caller, parsed.from_given.as_ref())?;
    check_sendable(shared, caller, &parsed.message)?;
    let mut m = parsed.message;
    m.from = parsed.from_given;
    let mut st = shared.lock();
    deliver(&mut st, caller, m, save, SendVia::SendMailJson, parsed.requested_id, ctx.seq, None);
    Ok(accepted())
}

fn send_mime(shared: &Shared, ctx: &Ctx, caller: &Caller) -> GResult<Response> {
    let text: String =
        String::from_utf8_lossy(&ctx.body).chars().filter(|c| !c.is_whitespace()).collect();
    let invalid = || {
        gerr(
            StatusCode::BAD_REQUEST,
            "ErrorMimeContentInvalidBase64String",
            "Invalid base64 string for MIME content.",
        )
    };
    if text.is_empty() {
        return Err(invalid());
    }
    let raw = STANDARD.decode(text.as_bytes()).map_err(|_| invalid())?;
    let parsed = mime::parse(&raw).ok_or_else(invalid)?;
    check_from(caller, parsed.from.as_ref())?;
    check_sendable(shared, caller, &parsed)?;
    let requested =
        (!parsed.internet_message_id.is_empty()).then(|| parsed.internet_message_id.clone());
    let mut st = shared.lock();
    deliver(&mut st, caller, parsed, true, SendVia::SendMailMime, requested, ctx.seq, None);
    Ok(accepted())
}

/// Puts the copies in place and records the delivery. `draft_id` is the
/// draft that leaves the Drafts folder, if sending a draft.
#[allow(clippy::too_many_arguments)]
fn deliver(
    st: &mut State,
    caller: &Caller,
    mut m: MailMessage,
    save: bool,
    via: SendVia,
    requested: Option<String>,
    seq: u64,
    draft_id: Option<&str>,
) {
    let now = Timestamp::now();
    let mb = &caller.mailbox;
    let preserve = st.options.preserve_internet_message_id;
    let imid = match (&requested, preserve) {
        (Some(r), true) if !r.is_empty() => r.clone(),
        _ => new_internet_message_id(),
    };
    let own = EmailAddress::named(mb.address.clone(), mb.display_name.clone());
    if m.from.is_none() {
        m.from = Some(own.clone());
    }
    m.sender = Some(own);
    m.internet_message_id = imid.clone();
    m.sent_at = Some(now);
    m.received_at = now;
    m.is_draft = false;
    let immutable = if let Some(id) = draft_id {
        let seq_removed = st.next_change();
        let entry = st.mailbox_by_address_mut(&mb.address).expect("sender mailbox exists");
        let mut immutable = None;
        if let Some(pos) = entry.messages.iter().position(|x| x.id == id || x.immutable_id == id) {
            let d = entry.messages.remove(pos);
            immutable = Some(d.immutable_id.clone());
            entry.removed.push(Removed {
                folder: d.folder,
                id: d.id,
                immutable_id: d.immutable_id,
                seq: seq_removed,
            });
        }
        immutable
    } else {
        None
    };
    if let Some(raw) = &m.mime {
        // A MIME send keeps its bytes, with our Message-ID if it was replaced.
        if !preserve || requested.is_none() {
            let mut with_id = format!("Message-ID: {imid}\r\n").into_bytes();
            with_id.extend_from_slice(raw);
            m.mime = Some(with_id);
        }
    }
    if save {
        let mut sent = m.clone();
        sent.id = String::new();
        sent.immutable_id = immutable.unwrap_or_default();
        sent.is_read = true;
        st.store(&mb.address, "sentitems", sent);
    }
    let mut delivered_to: Vec<String> = Vec::new();
    let mut external = Vec::new();
    let all: Vec<&EmailAddress> = m.to.iter().chain(&m.cc).chain(&m.bcc).collect();
    for r in all {
        let local = st.recipient_mailbox(&r.address).filter(|addr| {
            st.tenants
                .iter()
                .flat_map(|t| t.mailboxes.iter())
                .any(|e| e.mailbox.address == *addr && e.mailbox.state == MailboxState::Active)
        });
        match local {
            Some(addr) if !delivered_to.contains(&addr) => {
                let mut copy = m.clone();
                copy.id = String::new();
                copy.immutable_id = String::new();
                copy.bcc.clear();
                copy.extended_properties.clear();
                copy.is_read = false;
                copy.mime = m.mime.as_deref().map(mime::strip_bcc);
                for a in &mut copy.attachments {
                    a.id = String::new();
                }
                st.store(&addr, "inbox", copy);
                delivered_to.push(addr);
            }
            Some(_) => {}
            None => external.push(r.address.to_ascii_lowercase()),
        }
    }
    let mut failed = Vec::new();
    for r in m.to.iter().chain(&m.cc).chain(&m.bcc) {
        let address = r.address.to_ascii_lowercase();
        if failed.iter().any(|(a, _)| *a == address) {
            continue;
        }
        if let Some(b) = st.options.bounces.get(&address) {
            failed.push((address, b.clone()));
        } else if st.options.ndr_for_unknown_recipients
            && external.contains(&address)
            && super::ndr::in_tenant_domain(st, &address)
        {
            let d = "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup";
            failed.push((address, super::ndr::Bounce::new("5.1.10", d)));
        }
    }
    if !failed.is_empty() {
        let sender = EmailAddress::named(mb.address.clone(), mb.display_name.clone());
        super::ndr::queue(st, &sender, &m, failed);
    }
    let addrs = |v: &[EmailAddress]| v.iter().map(|a| a.address.clone()).collect::<Vec<_>>();
    st.deliveries.push(Delivery {
        sender: mb.address.clone(),
        internet_message_id: imid,
        requested_internet_message_id: requested,
        subject: m.subject.clone(),
        to: addrs(&m.to),
        cc: addrs(&m.cc),
        bcc: addrs(&m.bcc),
        delivered_to,
        external,
        saved_to_sent_items: save,
        via,
        at: now,
        request_seq: seq,
    });
}

fn create_draft(shared: &Shared, ctx: &Ctx, caller: &Caller) -> GResult<Response> {
    let body = parse_json_body(ctx)?;
    let parsed = parse_message(&body)?;
    check_from(caller, parsed.from_given.as_ref())?;
    let mut m = parsed.message;
    m.from = parsed.from_given;
    if m.from.is_none() {
        m.from = Some(EmailAddress::named(
            caller.mailbox.address.clone(),
            caller.mailbox.display_name.clone(),
        ));
    }
    m.sender = m.from.clone();
    m.is_draft = true;
    m.is_read = true;
    m.sent_at = None;
    m.received_at = Timestamp::now();
    if let Some(id) = parsed.requested_id {
        m.internet_message_id = id;
    }
    let p = prefs(ctx);
    let v = View { immutable: p.immutable, ..View::default() };
    let mut st = shared.lock();
    let id = st.store(&caller.mailbox.address, "drafts", m).ok_or_else(not_found_item)?;
    let stored = find_message(&st, &caller.mailbox, &id)?;
    let mut body = message_json(stored, &caller.mailbox, &v);
    drop(st);
    body["@odata.context"] = json!(context_url(shared, &caller.mailbox, "/messages/$entity"));
    Ok(with_prefs(json_response(StatusCode::CREATED, &body), &p))
}

fn add_attachment(shared: &Shared, ctx: &Ctx, caller: &Caller, id: &str) -> GResult<Response> {
    let body = parse_json_body(ctx)?;
    let mut a = parse_attachment(&body)?;
    a.id = random_id("AAMkAGAtt", 24);
    let seq = shared.lock().next_change();
    let mut st = shared.lock();
    let m = find_message_mut(&mut st, &caller.mailbox, id)?;
    m.attachments.push(a.clone());
    m.change_seq = seq;
    drop(st);
    let mut body = attachment_json(&a, true);
    body["@odata.context"] = json!(context_url(
        shared,
        &caller.mailbox,
        &format!("/messages('{id}')/attachments/$entity")
    ));
    Ok(json_response(StatusCode::CREATED, &body))
}

/// Smallest attachment for an upload session (3 MB).
const MIN_UPLOAD: usize = 3 * 1024 * 1024;

fn create_upload_session(
    shared: &Shared,
    ctx: &Ctx,
    caller: &Caller,
    id: &str,
) -> GResult<Response> {
    let body = parse_json_body(ctx)?;
    let item = body
        .as_object()
        .and_then(|o| get_ci(o, "AttachmentItem"))
        .and_then(Value::as_object)
        .ok_or_else(|| {
            gerr(
                StatusCode::BAD_REQUEST,
                "ErrorInvalidParameter",
                "The 'AttachmentItem' parameter is required.",
            )
        })?;
    let kind = get_ci(item, "attachmentType").and_then(Value::as_str).unwrap_or("file");
    if !kind.eq_ignore_ascii_case("file") {
        return Err(bad_request(format!(
            "The attachmentType '{kind}' is not emulated (only 'file')."
        )));
    }
    let name = get_ci(item, "name").and_then(Value::as_str).unwrap_or_default().to_string();
    if name.is_empty() {
        return Err(gerr(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            "The attachment name is required.",
        ));
    }
    let size = get_ci(item, "size").and_then(Value::as_u64).unwrap_or(0) as usize;
    if size < MIN_UPLOAD {
        return Err(gerr(
            StatusCode::BAD_REQUEST,
            "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize",
            "Attachment size must be greater than the minimum size.",
        ));
    }
    if size > caller.mailbox.max_send_size {
        return Err(gerr(
            StatusCode::BAD_REQUEST,
            "ErrorMessageSizeExceeded",
            "The message exceeds the maximum supported size.",
        ));
    }
    let lifetime = shared.lock().options.upload_session_lifetime;
    {
        let st = shared.lock();
        find_message(&st, &caller.mailbox, id)?;
    }
    let session = random_token(24);
    let auth_token = random_token(32);
    let expires_at =
        Timestamp::now() + SignedDuration::try_from(lifetime).unwrap_or(SignedDuration::ZERO);
    shared.lock().upload_sessions.insert(
        session.clone(),
        UploadSession {
            mailbox: caller.mailbox.address.clone(),
            message_id: id.to_string(),
            name,
            content_type: get_ci(item, "contentType")
                .and_then(Value::as_str)
                .unwrap_or("application/octet-stream")
                .to_string(),
            is_inline: get_ci(item, "isInline").and_then(Value::as_bool).unwrap_or(false),
            content_id: get_ci(item, "contentId").and_then(Value::as_str).map(str::to_string),
            size,
            received: Vec::new(),
            auth_token: auth_token.clone(),
            expires_at,
        },
    );
    let body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#microsoft.graph.uploadSession", shared.base_url),
        "uploadUrl": format!("{}/upload/{session}?authtoken={auth_token}", shared.base_url),
        "expirationDateTime": fmt_ts(expires_at),
        "nextExpectedRanges": ["0-"],
    });
    Ok(json_response(StatusCode::CREATED, &body))
}

/// `PUT`/`DELETE {uploadUrl}`: pre-authenticated, no bearer token.
pub(crate) fn upload(shared: &Shared, ctx: &Ctx, session: &str) -> Response {
    upload_inner(shared, ctx, session).unwrap_or_else(|e| respond(ctx, e))
}

fn upload_inner(shared: &Shared, ctx: &Ctx, session: &str) -> GResult<Response> {
    if let Some(resp) = oversize(shared, ctx) {
        return Ok(resp);
    }
    let gone = || {
        gerr(
            StatusCode::NOT_FOUND,
            "ErrorItemNotFound",
            "The upload session was not found or has expired.",
        )
    };
    let s = shared.lock().upload_sessions.get(session).cloned().ok_or_else(gone)?;
    if ctx.query("authtoken") != Some(s.auth_token.as_str()) {
        return Err(gerr(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "The upload URL's authtoken is missing or invalid; use the uploadUrl verbatim.",
        ));
    }
    if ctx.header("authorization").is_some() {
        return Err(gerr(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Do not send an Authorization header to a pre-authenticated upload URL.",
        ));
    }
    if s.expires_at <= Timestamp::now() {
        shared.lock().upload_sessions.remove(session);
        return Err(gone());
    }
    if ctx.method == Method::DELETE {
        shared.lock().upload_sessions.remove(session);
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    if ctx.method != Method::PUT {
        return Err(gerr(
            StatusCode::METHOD_NOT_ALLOWED,
            "BadRequest",
            "Use PUT (chunk) or DELETE (cancel).",
        ));
    }
    let range = ctx.header("content-range").unwrap_or_default();
    let parsed = range.strip_prefix("bytes ").and_then(|r| {
        let (span, total) = r.split_once('/')?;
        let (a, b) = span.split_once('-')?;
        Some((
            a.trim().parse::<usize>().ok()?,
            b.trim().parse::<usize>().ok()?,
            total.trim().parse::<usize>().ok()?,
        ))
    });
    let Some((start, end, total)) = parsed else {
        return Err(gerr(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            format!("Invalid Content-Range header '{range}'; expected 'bytes start-end/total'."),
        ));
    };
    if total != s.size {
        return Err(gerr(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            format!(
                "The total size {total} in Content-Range differs from the session size {}.",
                s.size
            ),
        ));
    }
    if end < start || end - start + 1 != ctx.body.len() {
        return Err(gerr(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            "The Content-Range does not match the length of the body.",
        ));
    }
    if start != s.received.len() {
        return Err(gerr(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "ErrorInvalidRequest",
            format!(
                "Fragments must be uploaded in order; the next expected range starts at {}.",
                s.received.len()
            ),
        ));
    }
    let mut st = shared.lock();
    let sess = st.upload_sessions.get_mut(session).ok_or_else(gone)?;
    sess.received.extend_from_slice(&ctx.body);
    if sess.received.len() < sess.size {
        let body = json!({
            "@odata.context": format!("{}/v1.0/$metadata#microsoft.graph.uploadSession", shared.base_url),
            "expirationDateTime": fmt_ts(sess.expires_at),
            "nextExpectedRanges": [sess.received.len().to_string()],
        });
        return Ok(json_response(StatusCode::OK, &body));
    }
    let sess = st.upload_sessions.remove(session).ok_or_else(gone)?;
    let mut a = FileAttachment::new(sess.name, sess.content_type, sess.received);
    a.is_inline = sess.is_inline;
    a.content_id = sess.content_id;
    a.id = random_id("AAMkAGAtt", 24);
    let seq = st.next_change();
    let entry = st.mailbox_by_address_mut(&sess.mailbox).ok_or_else(not_found_item)?;
    let m = entry
        .messages
        .iter_mut()
        .find(|m| m.id == sess.message_id || m.immutable_id == sess.message_id)
        .ok_or_else(not_found_item)?;
    m.attachments.push(a.clone());
    m.change_seq = seq;
    drop(st);
    let mut resp = StatusCode::CREATED.into_response();
    let location = format!(
        "{}/v1.0/users('{}')/messages('{}')/attachments('{}')",
        shared.base_url,
        enc_user(&sess.mailbox),
        sess.message_id,
        a.id
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

fn send_draft(shared: &Shared, ctx: &Ctx, caller: &Caller, id: &str) -> GResult<Response> {
    let draft = {
        let st = shared.lock();
        find_message(&st, &caller.mailbox, id)?.clone()
    };
    if !draft.is_draft {
        return Err(gerr(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            "Only draft messages can be sent.",
        ));
    }
    check_sendable(shared, caller, &draft)?;
    let requested = Some(draft.internet_message_id.clone());
    let draft_id = draft.id.clone();
    let mut st = shared.lock();
    deliver(&mut st, caller, draft, true, SendVia::Draft, requested, ctx.seq, Some(&draft_id));
    Ok(accepted())
}
