//! Scenario 2: listing a large Inbox through paging, with and without
//! bodies, through the Office 365 provider against a raw paging loop.

use std::sync::Arc;

use g360_mail_core::{EmailAddress, Folder, MailProvider, MailboxQuery, Secret};
use g360_mail_o365::{O365Factory, O365Provider, O365Settings};
use g360_mail_testkit::graph::{self, Endpoint, GraphEmulator, MailMessage, RequestRecord};
use jiff::Timestamp;
use reqwest::header::AUTHORIZATION;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;

use crate::Options;
use crate::graph_send::{REQUEST_TIMEOUT, fetch_token, raw_client};
use crate::util::{Pass, PassStats, measure, ratio};

const MAILBOX: &str = "pedidos@contoso.example";

const BODY: &str = "Buenos días:\r\n\r\nAdjuntamos el pedido de la semana. Rogamos confirmen \
plazo de entrega y precio unitario de cada referencia antes del viernes.\r\n\r\nUn saludo,\r\n\
Compras";

/// Ours against the raw paging loop, for one kind of read.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReadComparison {
    /// Whether every message's body was read too.
    pub(crate) bodies: bool,
    /// Whether the bodies came with the list pages (`with_bodies`: one
    /// request per page) rather than by `get_message` of each message.
    pub(crate) inline: bool,
    /// Messages read per measured run (each side reads them twice).
    pub(crate) messages: usize,
    /// `$top` of the list requests.
    pub(crate) page_size: u32,
    /// HTTP requests per message read (the same for both sides: checked).
    pub(crate) requests_per_message: f64,
    /// `list_messages` (+ `get_message`) of the provider.
    pub(crate) ours: PassStats,
    /// A raw loop of the same requests, decoding into `serde_json::Value`.
    pub(crate) baseline: PassStats,
    /// ours.per_second / baseline.per_second.
    pub(crate) ratio: f64,
}

/// What scenario 2 reports.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReadReport {
    /// Messages in the Inbox.
    pub(crate) inbox_messages: usize,
    /// Without bodies, with bodies by `get_message` of each message, with bodies
    /// inline in the pages.
    pub(crate) passes: Vec<ReadComparison>,
    /// Context, not a comparison: a raw paging loop asking for the body in
    /// the list itself (`$select=...,body`), which the `MailProvider` API
    /// cannot express: messages per second.
    pub(crate) raw_inline_bodies_per_second: f64,
}

#[derive(Deserialize)]
struct Page {
    value: Vec<serde_json::Value>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// The requests of the provider, replayed by the raw loop: same URLs, same
/// `Prefer` header.
#[derive(Debug, Clone)]
struct Shapes {
    first_list: String,
    list_prefer: Option<String>,
    get_query: String,
    get_prefer: Option<String>,
    /// The second `GET` of a message whose body came as HTML: its text
    /// (`get_message`'s `BodyFormat::Both`).
    text_query: Option<String>,
    text_prefer: Option<String>,
    attachments_prefer: Option<String>,
}

struct Reader {
    url: String,
    provider: Arc<O365Provider>,
    client: reqwest::Client,
    bearer: String,
    page_size: u32,
}

/// Runs scenario 2.
pub(crate) async fn run(opts: &Options, servers: &Handle) -> Result<ReadReport, String> {
    let emu = servers.spawn(GraphEmulator::start()).await.map_err(|e| e.to_string())?;
    let setup = emu.quick_setup(&[MAILBOX]);
    let start = Timestamp::from_second(1_750_000_000).map_err(|e| e.to_string())?;
    emu.seed_inbox(
        MAILBOX,
        (0..opts.read_messages).map(|i| {
            MailMessage::new(format!("Pedido PC-{i:06}"))
                .with_from(graph::EmailAddress::named(
                    format!("compras{}@proveedor.example", i % 50),
                    "Compras Proveedor",
                ))
                .with_to(graph::EmailAddress::new(MAILBOX))
                .with_text_body(BODY)
                .with_received_at(start + jiff::SignedDuration::from_secs(i as i64))
        }),
    );
    let url = emu.url();
    let provider = O365Factory::new()
        .builder(O365Settings::default())
        .with_client_id(&setup.client_id)
        .with_tenant_id(&setup.tenant_id)
        .with_client_secret(Secret::new(setup.secret.clone()))
        .with_mailbox(EmailAddress::new(MAILBOX).map_err(|e| e.to_string())?)
        .with_authority_url(&url)
        .with_graph_url(&url)
        .with_allow_insecure_http_dangerous(true)
        .build()
        .map_err(|e| e.to_string())?;
    let client = raw_client()?;
    let token = fetch_token(&client, &url, &setup).await?;
    let reader = Reader {
        url,
        provider: Arc::new(provider),
        client,
        bearer: format!("Bearer {token}"),
        page_size: opts.page_size,
    };

    // Warm-up of ours, which also records the shapes of its requests.
    emu.reset_records();
    reader.ours(reader.page_size as usize, true).await?;
    let shapes = shapes(&emu.requests())?;
    reader.raw(&shapes, reader.page_size as usize, true).await?;

    let mut passes = Vec::new();
    for (bodies, n) in [(false, opts.read_messages), (true, opts.read_with_bodies)] {
        let mut ours = Pass::default();
        let mut baseline = Pass::default();
        // Each side reads the first `n` messages twice: baseline, ours, ours, baseline.
        // Requests and messages read, counted on each side: both must make
        // the same requests.
        let mut ours_requests = (0, 0);
        let mut raw_requests = (0, 0);
        for side_is_baseline in [true, false, false, true] {
            emu.reset_records();
            let (pass, read) = if side_is_baseline {
                measure(reader.raw(&shapes, n, bodies)).await
            } else {
                measure(reader.ours(n, bodies)).await
            };
            if side_is_baseline {
                baseline.absorb(pass);
                raw_requests.0 += emu.requests().len();
                raw_requests.1 += read;
            } else {
                ours.absorb(pass);
                ours_requests.0 += emu.requests().len();
                ours_requests.1 += read;
            }
        }
        if ours_requests != raw_requests {
            return Err(format!(
                "the raw loop did not replay our requests: {} requests for {} messages, ours {} for {}",
                raw_requests.0, raw_requests.1, ours_requests.0, ours_requests.1
            ));
        }
        let ours = ours.stats(2 * n);
        let baseline = baseline.stats(2 * n);
        passes.push(ReadComparison {
            bodies,
            inline: false,
            messages: n,
            page_size: opts.page_size,
            requests_per_message: crate::util::round(
                ours_requests.0 as f64 / ours_requests.1.max(1) as f64,
                3,
            ),
            ratio: ratio(ours.per_second, baseline.per_second),
            ours,
            baseline,
        });
    }
    // Bodies inline: ours with `with_bodies` against a raw loop replaying
    // our own inline list request (same URL, same `Prefer`), each decoding
    // the page with its bodies.
    emu.reset_records();
    reader.ours_inline(reader.page_size as usize).await?;
    let records = emu.requests();
    let list = records
        .iter()
        .find(|r| r.endpoint == Endpoint::ListMessages)
        .ok_or("no inline list request recorded")?;
    let inline_shapes = Shapes {
        first_list: format!("{}?{}", list.path, list.query.clone().unwrap_or_default()),
        list_prefer: list.header("prefer").map(str::to_owned),
        ..shapes.clone()
    };
    let n = opts.read_with_bodies;
    let mut ours = Pass::default();
    let mut baseline = Pass::default();
    for side_is_baseline in [true, false, false, true] {
        emu.reset_records();
        let (pass, _) = if side_is_baseline {
            measure(reader.raw_inline(&inline_shapes, n)).await
        } else {
            measure(reader.ours_inline(n)).await
        };
        if side_is_baseline { baseline.absorb(pass) } else { ours.absorb(pass) }
    }
    let ours = ours.stats(2 * n);
    let baseline = baseline.stats(2 * n);
    passes.push(ReadComparison {
        bodies: true,
        inline: true,
        messages: n,
        page_size: opts.page_size,
        requests_per_message: crate::util::round(
            n.div_ceil(opts.page_size as usize) as f64 / n.max(1) as f64,
            3,
        ),
        ratio: ratio(ours.per_second, baseline.per_second),
        ours,
        baseline,
    });
    emu.reset_records();
    let inline_query = with_body(&shapes.first_list);
    let inline = Shapes { first_list: inline_query, ..shapes.clone() };
    let (pass, _) = measure(reader.raw(&inline, opts.read_messages, false)).await;
    let inline = pass.stats(opts.read_messages);
    Ok(ReadReport {
        inbox_messages: opts.read_messages,
        passes,
        raw_inline_bodies_per_second: inline.per_second,
    })
}

/// The list URL with `body` added to its `$select`.
fn with_body(url: &str) -> String {
    match url.split_once('?') {
        Some((path, query)) => {
            let q: Vec<String> = query
                .split('&')
                .map(|p| {
                    if p.starts_with("$select=") || p.starts_with("%24select=") {
                        format!("{p}%2Cbody")
                    } else {
                        p.to_owned()
                    }
                })
                .collect();
            format!("{path}?{}", q.join("&"))
        }
        None => url.to_owned(),
    }
}

fn shapes(records: &[RequestRecord]) -> Result<Shapes, String> {
    let find = |e: Endpoint| {
        records.iter().find(|r| r.endpoint == e).ok_or_else(|| format!("no {e:?} request recorded"))
    };
    let list = find(Endpoint::ListMessages)?;
    let get = find(Endpoint::GetMessage)?;
    let attachments = find(Endpoint::Attachments)?;
    let query = |r: &RequestRecord| r.query.clone().unwrap_or_default();
    let text =
        records.iter().find(|r| r.endpoint == Endpoint::GetMessage && query(r) != query(get));
    Ok(Shapes {
        first_list: format!("{}?{}", list.path, query(list)),
        list_prefer: list.header("prefer").map(str::to_owned),
        get_query: query(get),
        get_prefer: get.header("prefer").map(str::to_owned),
        text_query: text.map(query),
        text_prefer: text.and_then(|t| t.header("prefer")).map(str::to_owned),
        attachments_prefer: attachments.header("prefer").map(str::to_owned),
    })
}

impl Reader {
    /// The provider: pages of `list_messages`, and `get_message` of each
    /// message when `bodies`. Stops after `n` messages.
    ///
    /// [`Reader::ours_inline`] asks for the bodies with the pages instead.
    async fn ours(&self, n: usize, bodies: bool) -> Result<usize, String> {
        let mut query = MailboxQuery::folder(Folder::Inbox);
        query.page_size = self.page_size;
        let mut read = 0;
        loop {
            let page = self.provider.list_messages(&query).await.map_err(|e| e.to_string())?;
            for m in page.messages.iter().take(n - read) {
                if bodies {
                    let full = self.provider.get_message(&m.id).await.map_err(|e| e.to_string())?;
                    if full.text.is_none() && full.html.is_none() {
                        return Err(format!("message {} came without a body", m.id));
                    }
                }
                read += 1;
            }
            match page.continuation {
                Some(c) if read < n => query.continuation = Some(c),
                _ => return Ok(read),
            }
        }
    }

    /// The provider with `with_bodies`: each page carries its messages'
    /// bodies. Stops after `n` messages.
    async fn ours_inline(&self, n: usize) -> Result<usize, String> {
        let mut query = MailboxQuery::folder(Folder::Inbox).with_bodies(true);
        query.page_size = self.page_size;
        let mut read = 0;
        loop {
            let page = self.provider.list_messages(&query).await.map_err(|e| e.to_string())?;
            for m in page.messages.iter().take(n - read) {
                if m.text.is_none() && m.html.is_none() {
                    return Err(format!("message {} came without a body", m.id));
                }
                read += 1;
            }
            match page.continuation {
                Some(c) if read < n => query.continuation = Some(c),
                _ => return Ok(read),
            }
        }
    }

    /// One GET, decoded from JSON.
    async fn get<T: DeserializeOwned>(&self, url: &str, prefer: Option<&str>) -> Result<T, String> {
        let mut req =
            self.client.get(url).timeout(REQUEST_TIMEOUT).header(AUTHORIZATION, &self.bearer);
        if let Some(p) = prefer {
            req = req.header("Prefer", p);
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("GET answered {status}"));
        }
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    }

    /// The raw loop over pages that carry their bodies: each message's body
    /// must be there.
    async fn raw_inline(&self, shapes: &Shapes, n: usize) -> Result<usize, String> {
        let mut next = format!("{}{}", self.url, shapes.first_list);
        let mut read = 0;
        loop {
            let page: Page = self.get(&next, shapes.list_prefer.as_deref()).await?;
            for m in page.value.iter().take(n - read) {
                if m["body"]["content"].as_str().is_none() {
                    return Err(format!("message {} came without a body", m["id"]));
                }
                read += 1;
            }
            match page.next_link {
                Some(link) if read < n => next = link,
                _ => return Ok(read),
            }
        }
    }

    /// The raw loop: the same requests, decoded into `serde_json::Value`,
    /// following `@odata.nextLink`.
    async fn raw(&self, shapes: &Shapes, n: usize, bodies: bool) -> Result<usize, String> {
        let mut next = format!("{}{}", self.url, shapes.first_list);
        let users = format!("{}/v1.0/users/{MAILBOX}/messages", self.url);
        let mut read = 0;
        loop {
            let page: Page = self.get(&next, shapes.list_prefer.as_deref()).await?;
            for m in page.value.iter().take(n - read) {
                if bodies {
                    let id = m["id"].as_str().ok_or("a message without id")?;
                    let url = format!("{users}/{id}?{}", shapes.get_query);
                    let full: serde_json::Value =
                        self.get(&url, shapes.get_prefer.as_deref()).await?;
                    if full["body"]["content"].as_str().is_none() {
                        return Err(format!("message {id} came without a body"));
                    }
                    let html = full["body"]["contentType"]
                        .as_str()
                        .is_some_and(|t| t.eq_ignore_ascii_case("html"));
                    if let (true, Some(text_query)) = (html, &shapes.text_query) {
                        let url = format!("{users}/{id}?{text_query}");
                        let _: serde_json::Value =
                            self.get(&url, shapes.text_prefer.as_deref()).await?;
                    }
                    let url = format!("{users}/{id}/attachments");
                    let _: Page = self.get(&url, shapes.attachments_prefer.as_deref()).await?;
                }
                read += 1;
            }
            match page.next_link {
                Some(link) if read < n => next = link,
                _ => return Ok(read),
            }
        }
    }
}
