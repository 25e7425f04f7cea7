//! Scenario 1: `sendMail` through the Office 365 provider against raw
//! `reqwest` POSTs of the same JSON, on the Graph emulator.

use std::sync::Arc;
use std::time::Duration;

use g360_mail_core::{Attachment, EmailAddress, MailProvider, OutgoingMessage, Secret};
use g360_mail_o365::{GRAPH_MAILBOX_CONCURRENCY, O365Factory, O365Provider, O365Settings};
use g360_mail_testkit::graph::{GraphEmulator, QuickSetup};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde::Serialize;
use tokio::runtime::Handle;

use crate::Options;
use crate::util::{Pass, PassStats, drive, ratio, split};

/// Mailboxes of the concurrent pass.
pub(crate) const MAILBOXES: usize = 8;
/// The recipient: outside the emulated tenant, so no Inbox copies are kept.
const RECIPIENT: &str = "cliente@fabrikam.example";
/// Size of the attachment of the second pass.
pub(crate) const ATTACHMENT_BYTES: usize = 1024 * 1024;
/// Rounds of each comparison: each runs both sides, in alternating order.
const ROUNDS: usize = 2;
/// Timeout of one request, as the provider's default `request_timeout_ms`.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

const TEXT_BODY: &str = "Estimado cliente:\r\n\r\nLe enviamos la factura correspondiente a su \
pedido. El importe se cargará en la cuenta indicada en el plazo acordado.\r\n\r\nPara cualquier \
consulta responda a este mensaje indicando el número de factura.\r\n\r\nAtentamente,\r\n\
Departamento de Administración\r\nG360 ERP";

/// Ours against the baseline for one payload and concurrency.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SendComparison {
    /// `text` or `attachment-1MiB`.
    pub(crate) payload: &'static str,
    /// Requests in flight in total (mailboxes × per-mailbox workers).
    pub(crate) concurrency: usize,
    /// Sending mailboxes.
    pub(crate) mailboxes: usize,
    /// Bytes of one `sendMail` request body.
    pub(crate) request_bytes: usize,
    /// The provider.
    pub(crate) ours: PassStats,
    /// Raw reqwest POSTs of the same JSON.
    pub(crate) baseline: PassStats,
    /// ours.per_second / baseline.per_second.
    pub(crate) ratio: f64,
    /// Highest number of requests in flight for one mailbox during our
    /// passes, as the emulator counted them.
    pub(crate) ours_max_in_flight_per_mailbox: usize,
}

/// What scenario 1 reports.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SendReport {
    /// One entry per payload and concurrency.
    pub(crate) passes: Vec<SendComparison>,
    /// Token endpoint requests made by the provider in the whole scenario
    /// (every pass, warm-ups included; one factory for all mailboxes).
    pub(crate) token_requests_ours: usize,
    /// Token endpoint requests made by the baseline (its fixed token).
    pub(crate) token_requests_baseline: usize,
    /// The emulator's raw capacity.
    pub(crate) emulator: EmulatorCapacity,
}

/// How fast the emulator serves a raw client.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EmulatorCapacity {
    /// `GET .../mailFolders/inbox?$select=id` answered per second, raw client.
    pub(crate) raw_get_per_second: f64,
    /// Concurrency of that probe.
    pub(crate) concurrency: usize,
    /// Requests of that probe.
    pub(crate) requests: usize,
    /// Server CPU per request of that probe, in microseconds.
    pub(crate) server_cpu_us_per_request: f64,
    /// Text `sendMail` answered per second to the raw client at the highest
    /// concurrency (= the baseline of that pass).
    pub(crate) raw_send_text_per_second: f64,
}

struct Bench {
    emu: GraphEmulator,
    url: String,
    mailboxes: Vec<String>,
    providers: Vec<Arc<O365Provider>>,
    clients: Vec<reqwest::Client>,
    bearer: Arc<String>,
    attachment: Vec<u8>,
    token_requests: usize,
}

/// Runs scenario 1.
pub(crate) async fn run(opts: &Options, servers: &Handle) -> Result<SendReport, String> {
    let emu = servers.spawn(GraphEmulator::start()).await.map_err(|e| e.to_string())?;
    // Graph's MailboxConcurrency limit, enforced: a fifth request in flight
    // for one mailbox would be answered 429 and show up as an error or a
    // retry in the figures.
    emu.configure(|o| o.concurrency_limit = Some(GRAPH_MAILBOX_CONCURRENCY as usize));
    let mailboxes: Vec<String> =
        (1..=MAILBOXES).map(|i| format!("facturas{i}@contoso.example")).collect();
    let refs: Vec<&str> = mailboxes.iter().map(String::as_str).collect();
    let setup = emu.quick_setup(&refs);
    let url = emu.url();
    let factory = O365Factory::new();
    let mut providers = Vec::new();
    for mb in &mailboxes {
        providers.push(Arc::new(provider(&factory, &setup, &url, mb)?));
    }
    let clients: Vec<reqwest::Client> =
        mailboxes.iter().map(|_| raw_client()).collect::<Result<_, _>>()?;
    let token = fetch_token(&clients[0], &url, &setup).await?;
    let mut bench = Bench {
        token_requests: 0,
        emu,
        url,
        mailboxes,
        providers,
        clients,
        bearer: Arc::new(format!("Bearer {token}")),
        attachment: pseudo_random(ATTACHMENT_BYTES, 7),
    };
    let token_requests_baseline = bench.emu.token_requests();
    bench.checkpoint();

    let (probe, probe_n) = bench.capacity_probe(opts.capacity_requests).await;
    let probe_stats = probe.stats(probe_n);

    let mut passes = Vec::new();
    let per_mailbox = GRAPH_MAILBOX_CONCURRENCY as usize;
    for (payload, n) in [("text", opts.mails), ("attachment-1MiB", opts.large_mails)] {
        for (mailboxes, workers) in [(1, 1), (MAILBOXES, per_mailbox)] {
            passes.push(bench.compare(payload, n, mailboxes, workers).await?);
        }
    }
    let raw_send_text_per_second = passes
        .iter()
        .filter(|p| p.payload == "text")
        .map(|p| p.baseline.per_second)
        .fold(0.0, f64::max);
    bench.checkpoint();
    Ok(SendReport {
        passes,
        token_requests_ours: bench.token_requests - token_requests_baseline,
        token_requests_baseline,
        emulator: EmulatorCapacity {
            raw_get_per_second: probe_stats.per_second,
            concurrency: MAILBOXES * per_mailbox,
            requests: probe_stats.items,
            server_cpu_us_per_request: probe_stats.server_cpu_us_per_item,
            raw_send_text_per_second,
        },
    })
}

pub(crate) fn provider(
    factory: &O365Factory,
    setup: &QuickSetup,
    url: &str,
    mailbox: &str,
) -> Result<O365Provider, String> {
    factory
        .builder(O365Settings::default())
        .with_client_id(&setup.client_id)
        .with_tenant_id(&setup.tenant_id)
        .with_client_secret(Secret::new(setup.secret.clone()))
        .with_mailbox(EmailAddress::new(mailbox).map_err(|e| e.to_string())?)
        .with_authority_url(url)
        .with_graph_url(url)
        .with_allow_insecure_http_dangerous(true)
        .build()
        .map_err(|e| e.to_string())
}

/// The baseline's HTTP client: reqwest's defaults (HTTP/1.1 keep-alive pool
/// on `http://`), the provider's connect timeout.
pub(crate) fn raw_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("cannot build the raw client: {e}"))
}

/// One client-credentials token, fetched by hand.
pub(crate) async fn fetch_token(
    http: &reqwest::Client,
    url: &str,
    setup: &QuickSetup,
) -> Result<String, String> {
    let form = [
        ("client_id", setup.client_id.as_str()),
        ("client_secret", setup.secret.as_str()),
        ("scope", "https://graph.microsoft.com/.default"),
        ("grant_type", "client_credentials"),
    ];
    let v: serde_json::Value = http
        .post(format!("{url}/{}/oauth2/v2.0/token", setup.tenant_id))
        .form(&form)
        .send()
        .await
        .map_err(|e| format!("token request: {e}"))?
        .json()
        .await
        .map_err(|e| format!("token answer: {e}"))?;
    v["access_token"].as_str().map(str::to_owned).ok_or_else(|| format!("no token in {v}"))
}

/// Deterministic incompressible bytes.
pub(crate) fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

impl Bench {
    /// Adds the token requests seen so far and forgets the emulator's
    /// records (they keep every request body) and our sent copies, so that
    /// every half of a comparison starts from the same emulator state.
    fn checkpoint(&mut self) -> usize {
        self.token_requests += self.emu.token_requests();
        let max = self.emu.max_concurrency_all().values().copied().max().unwrap_or(0);
        self.emu.reset_records();
        for mb in &self.mailboxes {
            let ids: Vec<String> = self.emu.sent_items(mb).into_iter().map(|m| m.id).collect();
            for id in ids {
                self.emu.delete_message(mb, &id);
            }
        }
        max
    }

    fn message(&self, payload: &str, i: usize) -> Result<OutgoingMessage, String> {
        let mut b = OutgoingMessage::builder()
            .to_all([EmailAddress::new(RECIPIENT).map_err(|e| e.to_string())?])
            .subject(format!("Factura FV-2025-{i:06}"))
            .text(TEXT_BODY);
        if payload != "text" {
            let a = Attachment::new(
                format!("FV-2025-{i:06}.pdf"),
                "application/pdf",
                self.attachment.clone(),
            )
            .map_err(|e| e.to_string())?;
            b = b.attach(a);
        }
        b.build().map_err(|e| e.to_string())
    }

    fn ours_jobs(
        &self,
        payload: &str,
        n: usize,
        mailboxes: usize,
        offset: usize,
    ) -> Result<Vec<Vec<OutgoingMessage>>, String> {
        split(n, mailboxes, |_, i| self.message(payload, offset + i))
            .into_iter()
            .map(|q| q.into_iter().collect())
            .collect()
    }

    /// The same JSON the provider sends (built by the provider itself), one
    /// body per mail, ready before the clock starts.
    fn baseline_jobs(
        &self,
        payload: &str,
        n: usize,
        mailboxes: usize,
        offset: usize,
    ) -> Result<Vec<Vec<Vec<u8>>>, String> {
        split(n, mailboxes, |q, i| {
            let msg = self.message(payload, offset + i)?;
            self.providers[q].send_mail_body(&msg).map_err(|e| e.to_string())
        })
        .into_iter()
        .map(|q| q.into_iter().collect())
        .collect()
    }

    async fn ours(&self, jobs: Vec<Vec<OutgoingMessage>>, workers: usize) -> Pass {
        let providers = self.providers.clone();
        drive(jobs, workers, move |q, msg: OutgoingMessage| {
            let p = providers[q].clone();
            async move { p.send(&msg).await.map(|_| ()).map_err(|e| e.to_string()) }
        })
        .await
    }

    async fn baseline(&self, jobs: Vec<Vec<Vec<u8>>>, workers: usize) -> Pass {
        let clients = self.clients.clone();
        let urls: Arc<Vec<String>> = Arc::new(
            self.mailboxes
                .iter()
                .map(|m| format!("{}/v1.0/users/{m}/sendMail", self.url))
                .collect(),
        );
        let bearer = self.bearer.clone();
        drive(jobs, workers, move |q, body: Vec<u8>| {
            let request = clients[q]
                .post(urls[q].as_str())
                .timeout(REQUEST_TIMEOUT)
                .header(AUTHORIZATION, bearer.as_str())
                .header(CONTENT_TYPE, "application/json")
                .body(body);
            async move {
                let resp = request.send().await.map_err(|e| e.to_string())?;
                let status = resp.status().as_u16();
                resp.bytes().await.map_err(|e| e.to_string())?;
                if status == 202 { Ok(()) } else { Err(format!("sendMail answered {status}")) }
            }
        })
        .await
    }

    /// Warm-up, then [`ROUNDS`] rounds of baseline and ours in alternating
    /// order (baseline, ours, ours, baseline, baseline, ours, …; each round a
    /// share of `n`), so that drift of the machine's load hits both sides
    /// alike.
    async fn compare(
        &mut self,
        payload: &'static str,
        n: usize,
        mailboxes: usize,
        workers: usize,
    ) -> Result<SendComparison, String> {
        let warm = mailboxes * workers * 2;
        let w = self.baseline_jobs(payload, warm, mailboxes, 0)?;
        self.baseline(w, workers).await;
        let w = self.ours_jobs(payload, warm, mailboxes, 0)?;
        self.ours(w, workers).await;
        self.checkpoint();

        let request_bytes = self.baseline_jobs(payload, 1, 1, 0)?[0][0].len();
        let mut ours = Pass::default();
        let mut baseline = Pass::default();
        let mut max_in_flight = 0;
        let share = n / ROUNDS;
        for round in 0..ROUNDS {
            let first_baseline = round % 2 == 0;
            let offset = round * share;
            let size = if round + 1 == ROUNDS { n - offset } else { share };
            for side_is_baseline in [first_baseline, !first_baseline] {
                if side_is_baseline {
                    let jobs = self.baseline_jobs(payload, size, mailboxes, offset)?;
                    baseline.absorb(self.baseline(jobs, workers).await);
                    self.checkpoint();
                } else {
                    let jobs = self.ours_jobs(payload, size, mailboxes, offset)?;
                    ours.absorb(self.ours(jobs, workers).await);
                    max_in_flight = max_in_flight.max(self.checkpoint());
                }
            }
        }
        let ours = ours.stats(n);
        let baseline = baseline.stats(n);
        Ok(SendComparison {
            payload,
            concurrency: mailboxes * workers,
            mailboxes,
            request_bytes,
            ratio: ratio(ours.per_second, baseline.per_second),
            ours,
            baseline,
            ours_max_in_flight_per_mailbox: max_in_flight,
        })
    }

    /// Cheap GETs from a raw client, as many in flight as the concurrent
    /// send pass, to show the emulator's own ceiling.
    async fn capacity_probe(&mut self, n: usize) -> (Pass, usize) {
        let clients = self.clients.clone();
        let urls: Arc<Vec<String>> = Arc::new(
            self.mailboxes
                .iter()
                .map(|m| format!("{}/v1.0/users/{m}/mailFolders/inbox?$select=id", self.url))
                .collect(),
        );
        let bearer = self.bearer.clone();
        let jobs = split(n, MAILBOXES, |_, _| ());
        let get = move |q: usize, (): ()| {
            let request = clients[q]
                .get(urls[q].as_str())
                .timeout(REQUEST_TIMEOUT)
                .header(AUTHORIZATION, bearer.as_str());
            async move {
                let resp = request.send().await.map_err(|e| e.to_string())?;
                let status = resp.status().as_u16();
                resp.bytes().await.map_err(|e| e.to_string())?;
                if status == 200 { Ok(()) } else { Err(format!("GET answered {status}")) }
            }
        };
        let warm = split(64, MAILBOXES, |_, _| ());
        let per_mailbox = GRAPH_MAILBOX_CONCURRENCY as usize;
        let get = Arc::new(get);
        let g = get.clone();
        drive(warm, per_mailbox, move |q, j| g(q, j)).await;
        let pass = drive(jobs, per_mailbox, move |q, j| get(q, j)).await;
        self.checkpoint();
        (pass, n)
    }
}
