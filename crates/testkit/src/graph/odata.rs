//! OData query options: `$filter`, `$select`, `$orderby`, `$expand`, and the
//! opaque paging tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::model::MailMessage;

/// Message properties `$select` and JSON bodies may name.
pub(crate) const MESSAGE_PROPERTIES: &[&str] = &[
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "receivedDateTime",
    "sentDateTime",
    "hasAttachments",
    "internetMessageId",
    "subject",
    "bodyPreview",
    "importance",
    "parentFolderId",
    "conversationId",
    "conversationIndex",
    "isDeliveryReceiptRequested",
    "isReadReceiptRequested",
    "isRead",
    "isDraft",
    "webLink",
    "inferenceClassification",
    "body",
    "uniqueBody",
    "sender",
    "from",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "replyTo",
    "flag",
    "internetMessageHeaders",
    "attachments",
    "singleValueExtendedProperties",
    "multiValueExtendedProperties",
    "extensions",
];

/// An OData error to answer with 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryError {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

fn bad(message: impl Into<String>) -> QueryError {
    QueryError { code: "BadRequest", message: message.into() }
}

fn no_property(name: &str) -> QueryError {
    bad(format!("Could not find a property named '{name}' on type 'microsoft.graph.message'."))
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Cmp {
    fn parse(word: &str) -> Option<Cmp> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Cmp::Eq,
            "ne" => Cmp::Ne,
            "gt" => Cmp::Gt,
            "ge" => Cmp::Ge,
            "lt" => Cmp::Lt,
            "le" => Cmp::Le,
            _ => return None,
        })
    }

    fn holds<T: Ord>(self, left: &T, right: &T) -> bool {
        match self {
            Cmp::Eq => left == right,
            Cmp::Ne => left != right,
            Cmp::Gt => left > right,
            Cmp::Ge => left >= right,
            Cmp::Lt => left < right,
            Cmp::Le => left <= right,
        }
    }
}

/// One condition of a `$filter` conjunction.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    IsRead(bool),
    HasAttachments(bool),
    Received(Cmp, Timestamp),
    InternetMessageId(String),
    ExtendedProperty { id: String, value: String },
    ExtendedPropertyPrefix { id: String, prefix: String },
}

impl Cond {
    /// The message property the condition restricts (for `InefficientFilter`).
    pub(crate) fn property(&self) -> &'static str {
        match self {
            Cond::IsRead(_) => "isread",
            Cond::HasAttachments(_) => "hasattachments",
            Cond::Received(..) => "receiveddatetime",
            Cond::InternetMessageId(_) => "internetmessageid",
            Cond::ExtendedProperty { .. } | Cond::ExtendedPropertyPrefix { .. } => {
                "singlevalueextendedproperties"
            }
        }
    }

    fn holds(&self, m: &MailMessage) -> bool {
        match self {
            Cond::IsRead(v) => m.is_read == *v,
            Cond::HasAttachments(v) => m.has_attachments() == *v,
            Cond::Received(cmp, ts) => cmp.holds(&m.received_at, ts),
            Cond::InternetMessageId(id) => m.internet_message_id == *id,
            // Graph compares extended property values case-insensitively.
            Cond::ExtendedProperty { id, value } => {
                m.extended_property(id).is_some_and(|v| v.eq_ignore_ascii_case(value))
            }
            Cond::ExtendedPropertyPrefix { id, prefix } => {
                m.extended_property(id).is_some_and(|v| {
                    v.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix))
                })
            }
        }
    }
}

/// A parsed `$filter`: conditions joined by `and`.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Filter {
    pub(crate) conds: Vec<Cond>,
}

impl Filter {
    pub(crate) fn matches(&self, m: &MailMessage) -> bool {
        self.conds.iter().all(|c| c.holds(m))
    }
}

/// A tiny cursor over the filter text.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn skip_ws(&mut self) {
        while self.text[self.pos..].starts_with(char::is_whitespace) {
            self.pos += self.text[self.pos..].chars().next().map_or(1, char::len_utf8);
        }
    }

    fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.pos >= self.text.len()
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.text[self.pos..].starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// A word: letters, digits and `/ . _ - + :` (dates, property paths).
    fn word(&mut self, allow_colon: bool) -> &'a str {
        self.skip_ws();
        let start = self.pos;
        for (i, c) in self.text[start..].char_indices() {
            let ok = c.is_ascii_alphanumeric()
                || matches!(c, '/' | '.' | '_' | '-' | '+')
                || (allow_colon && c == ':');
            if !ok {
                self.pos = start + i;
                return &self.text[start..self.pos];
            }
        }
        self.pos = self.text.len();
        &self.text[start..]
    }

    /// A quoted string with `''` as an escaped quote.
    fn string(&mut self) -> Option<String> {
        self.skip_ws();
        if !self.text[self.pos..].starts_with('\'') {
            return None;
        }
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.text[self.pos..].char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                    out.push('\'');
                    chars.next();
                    continue;
                }
                self.pos += i + 1;
                return Some(out);
            }
            out.push(c);
        }
        None
    }

    fn syntax_error(&self) -> QueryError {
        bad(format!(
            "Invalid filter clause: Syntax error at position {} in '{}'.",
            self.pos, self.text
        ))
    }
}

/// Parses the supported `$filter` forms (module docs of `graph`).
pub(crate) fn parse_filter(text: &str) -> Result<Filter, QueryError> {
    let mut c = Cursor { text, pos: 0 };
    let mut conds = Vec::new();
    loop {
        conds.push(parse_cond(&mut c)?);
        if c.at_end() {
            break;
        }
        let word = c.word(false);
        if !word.eq_ignore_ascii_case("and") {
            if word.eq_ignore_ascii_case("or") {
                return Err(bad(format!(
                    "Invalid filter clause: 'or' is not supported by the emulator in '{text}'."
                )));
            }
            return Err(c.syntax_error());
        }
    }
    Ok(Filter { conds })
}

fn parse_bool(word: &str) -> Option<bool> {
    match word {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn parse_cond(c: &mut Cursor<'_>) -> Result<Cond, QueryError> {
    let property = c.word(false);
    if property.is_empty() {
        return Err(c.syntax_error());
    }
    if property.eq_ignore_ascii_case("singleValueExtendedProperties/any") {
        return parse_any(c);
    }
    let op_word = c.word(false);
    let op = Cmp::parse(op_word).ok_or_else(|| c.syntax_error())?;
    match property.to_ascii_lowercase().as_str() {
        "isread" | "hasattachments" => {
            let v = parse_bool(c.word(false)).ok_or_else(|| c.syntax_error())?;
            let v = match op {
                Cmp::Eq => v,
                Cmp::Ne => !v,
                _ => return Err(c.syntax_error()),
            };
            Ok(if property.eq_ignore_ascii_case("isread") {
                Cond::IsRead(v)
            } else {
                Cond::HasAttachments(v)
            })
        }
        "receiveddatetime" => {
            let literal = c.word(true);
            let ts: Timestamp = literal.parse().map_err(|_| {
                bad(format!(
                    "Invalid filter clause: The DateTimeOffset text '{literal}' should be in format 'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within valid range."
                ))
            })?;
            Ok(Cond::Received(op, ts))
        }
        "internetmessageid" => {
            if op != Cmp::Eq {
                return Err(c.syntax_error());
            }
            let v = c.string().ok_or_else(|| c.syntax_error())?;
            Ok(Cond::InternetMessageId(v))
        }
        other => {
            let known = MESSAGE_PROPERTIES.iter().any(|p| p.eq_ignore_ascii_case(other));
            if known {
                Err(bad(format!(
                    "Invalid filter clause: filtering on '{property}' is not emulated (supported: isRead, hasAttachments, receivedDateTime, internetMessageId, singleValueExtendedProperties/Any)."
                )))
            } else {
                Err(no_property(property))
            }
        }
    }
}

/// `singleValueExtendedProperties/Any(ep: ep/id eq '...' and ep/value eq '...')`.
fn parse_any(c: &mut Cursor<'_>) -> Result<Cond, QueryError> {
    if !c.eat('(') {
        return Err(c.syntax_error());
    }
    let var = c.word(false).to_string();
    if var.is_empty() || !c.eat(':') {
        return Err(c.syntax_error());
    }
    let mut id = None;
    let mut value = None;
    let mut prefix = None;
    loop {
        // `startswith(ep/value, '...')` (Graph allows it on string values).
        let save = c.pos;
        let word = c.word(false);
        if word.eq_ignore_ascii_case("startswith") && c.eat('(') {
            let path = c.word(false);
            let ok = path
                .split_once('/')
                .is_some_and(|(v, f)| v == var && f.eq_ignore_ascii_case("value"));
            if !ok || !c.eat(',') {
                return Err(c.syntax_error());
            }
            prefix = Some(c.string().ok_or_else(|| c.syntax_error())?);
            if !c.eat(')') {
                return Err(c.syntax_error());
            }
            if c.eat(')') {
                break;
            }
            if !c.word(false).eq_ignore_ascii_case("and") {
                return Err(c.syntax_error());
            }
            continue;
        }
        c.pos = save;
        let path = c.word(false);
        let (v, field) = path.split_once('/').ok_or_else(|| c.syntax_error())?;
        if v != var {
            return Err(c.syntax_error());
        }
        if !c.word(false).eq_ignore_ascii_case("eq") {
            return Err(c.syntax_error());
        }
        let literal = c.string().ok_or_else(|| c.syntax_error())?;
        match field.to_ascii_lowercase().as_str() {
            "id" => id = Some(literal),
            "value" => value = Some(literal),
            _ => return Err(c.syntax_error()),
        }
        if c.eat(')') {
            break;
        }
        if !c.word(false).eq_ignore_ascii_case("and") {
            return Err(c.syntax_error());
        }
    }
    match (id, value, prefix) {
        (Some(id), None, Some(prefix)) => Ok(Cond::ExtendedPropertyPrefix { id, prefix }),
        (Some(id), Some(value), None) => Ok(Cond::ExtendedProperty { id, value }),
        _ => {
            Err(bad("Invalid filter clause: the lambda must compare both ep/id and ep/value."
                .to_string()))
        }
    }
}

/// A parsed `$orderby`: one property and the direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OrderBy {
    pub(crate) property: String,
    pub(crate) descending: bool,
}

pub(crate) fn parse_orderby(text: &str) -> Result<OrderBy, QueryError> {
    let mut words = text.split_whitespace();
    let property = words.next().unwrap_or_default();
    let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(bad(format!("Invalid $orderby clause '{text}'."))),
    };
    if text.contains(',') {
        return Err(bad("Sorting on more than one property is not emulated.".to_string()));
    }
    match property.to_ascii_lowercase().as_str() {
        "receiveddatetime" | "sentdatetime" | "subject" => {
            Ok(OrderBy { property: property.to_ascii_lowercase(), descending })
        }
        _ if MESSAGE_PROPERTIES.iter().any(|p| p.eq_ignore_ascii_case(property)) => {
            Err(bad(format!("Sorting on '{property}' is not emulated.")))
        }
        _ => Err(no_property(property)),
    }
}

/// The reference §4.2 rule: ordered properties must come first in the filter.
pub(crate) fn check_inefficient(filter: &Filter, order: &OrderBy) -> Result<(), QueryError> {
    if filter.conds.is_empty() {
        return Ok(());
    }
    if filter.conds[0].property() == order.property {
        Ok(())
    } else {
        Err(QueryError {
            code: "InefficientFilter",
            message: "The restriction or sort order is too complex for this operation.".into(),
        })
    }
}

/// Sorts messages per `$orderby` (default: `receivedDateTime desc`).
pub(crate) fn sort(messages: &mut [MailMessage], order: Option<&OrderBy>) {
    let (property, descending) =
        order.map_or(("receiveddatetime", true), |o| (o.property.as_str(), o.descending));
    messages.sort_by(|a, b| {
        let ord = match property {
            "sentdatetime" => a.sent_at.cmp(&b.sent_at),
            "subject" => a.subject.cmp(&b.subject),
            _ => a.received_at.cmp(&b.received_at),
        };
        if descending { ord.reverse() } else { ord }
    });
}

/// Parses `$select` into lowercase property names; unknown ones are errors.
pub(crate) fn parse_select(
    text: &str,
    known: &[&str],
    type_name: &str,
) -> Result<Vec<String>, QueryError> {
    let mut out = Vec::new();
    for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match known.iter().find(|p| p.eq_ignore_ascii_case(name)) {
            Some(p) => out.push((*p).to_string()),
            None => {
                return Err(bad(format!(
                    "Could not find a property named '{name}' on type '{type_name}'."
                )));
            }
        }
    }
    Ok(out)
}

/// What `$expand` asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Expand {
    /// `singleValueExtendedProperties`, with the ids of its `$filter` (none = all).
    pub(crate) extended: Option<Vec<String>>,
    /// `attachments`.
    pub(crate) attachments: bool,
}

/// Parses `$expand=singleValueExtendedProperties($filter=id eq '...')` and
/// `$expand=attachments`.
pub(crate) fn parse_expand(text: &str) -> Result<Expand, QueryError> {
    let mut expand = Expand::default();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let name_end = rest.find(['(', ',']).unwrap_or(rest.len());
        let name = rest[..name_end].trim();
        rest = &rest[name_end..];
        let mut inner = "";
        if rest.starts_with('(') {
            let close =
                matching_paren(rest).ok_or_else(|| bad(format!("Invalid $expand '{text}'.")))?;
            inner = &rest[1..close];
            rest = &rest[close + 1..];
        }
        rest = rest.trim_start_matches(',').trim_start();
        if name.eq_ignore_ascii_case("singleValueExtendedProperties") {
            let mut ids = Vec::new();
            if let Some(f) = inner.trim().strip_prefix("$filter=") {
                for clause in split_or(f) {
                    let clause = clause.trim();
                    let ok = clause.len() > 2 && clause[..2].eq_ignore_ascii_case("id");
                    let mut c = Cursor { text: clause, pos: 2 };
                    if !ok || !c.word(false).eq_ignore_ascii_case("eq") {
                        return Err(bad(format!("Invalid filter clause in $expand '{text}'.")));
                    }
                    ids.push(c.string().ok_or_else(|| bad(format!("Invalid $expand '{text}'.")))?);
                }
            } else if !inner.trim().is_empty() {
                return Err(bad(format!("Invalid $expand '{text}'.")));
            }
            expand.extended = Some(ids);
        } else if name.eq_ignore_ascii_case("attachments") {
            expand.attachments = true;
        } else {
            return Err(bad(format!(
                "Parsing OData Select and Expand failed: Could not find a property named '{name}' on type 'microsoft.graph.message'."
            )));
        }
    }
    Ok(expand)
}

fn matching_paren(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_str = false;
    for (i, c) in s.char_indices() {
        match c {
            '\'' => in_str = !in_str,
            '(' if !in_str => depth += 1,
            ')' if !in_str => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits at ` or ` outside quotes.
fn split_or(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_str = false;
    let mut start = 0;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            in_str = !in_str;
        } else if !in_str && s[i..].len() >= 4 && s[i..i + 4].eq_ignore_ascii_case(" or ") {
            out.push(&s[start..i]);
            i += 4;
            start = i;
            continue;
        }
        i += 1;
    }
    out.push(&s[start..]);
    out
}

/// Encodes an opaque paging token.
pub(crate) fn encode_token(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// Decodes an opaque paging token.
pub(crate) fn decode_token(token: &str) -> Option<Value> {
    URL_SAFE_NO_PAD.decode(token.trim()).ok().and_then(|b| serde_json::from_slice(&b).ok())
}

/// The `$skiptoken` of a list page: the offset of the next page.
pub(crate) fn skiptoken(offset: usize) -> String {
    encode_token(&json!({ "o": offset, "n": uuid::Uuid::new_v4().simple().to_string() }))
}

/// The offset in a list `$skiptoken`.
pub(crate) fn skiptoken_offset(token: &str) -> Option<usize> {
    decode_token(token)?.get("o")?.as_u64().map(|o| o as usize)
}
