//! [`O365Settings`]: the keys of an `office365` integration, and their checks.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use g360_mail_core::{ConfigProblem, Error};
use serde::{Deserialize, Serialize};
use url::Url;

/// The Microsoft cloud a tenant lives in; it selects the login host, the Graph
/// host and the `.default` scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Cloud {
    /// The global cloud, including Microsoft 365 GCC ("moderate").
    #[default]
    #[serde(rename = "global")]
    Global,
    /// US Government L4 (GCC High).
    #[serde(rename = "usgov")]
    UsGov,
    /// US Government L5 (DoD).
    #[serde(rename = "usgov-dod")]
    UsGovDod,
    /// China, operated by 21Vianet.
    #[serde(rename = "china")]
    China,
}

impl Cloud {
    /// The configuration value (`global`, `usgov`, `usgov-dod`, `china`).
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Global => "global",
            Cloud::UsGov => "usgov",
            Cloud::UsGovDod => "usgov-dod",
            Cloud::China => "china",
        }
    }

    /// The login (authority) host, e.g. `https://login.microsoftonline.com`.
    pub fn authority_url(self) -> &'static str {
        match self {
            Cloud::Global => "https://login.microsoftonline.com",
            Cloud::UsGov | Cloud::UsGovDod => "https://login.microsoftonline.us",
            Cloud::China => "https://login.partner.microsoftonline.cn",
        }
    }

    /// The Graph host, e.g. `https://graph.microsoft.com`.
    pub fn graph_url(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com",
            Cloud::UsGov => "https://graph.microsoft.us",
            Cloud::UsGovDod => "https://dod-graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// The scope of the client-credentials request: the Graph host of the
    /// cloud followed by `/.default`.
    pub fn scope(self) -> String {
        format!("{}/.default", self.graph_url())
    }

    /// The `cloud_instance_name` values the tenant's discovery document shows
    /// for a tenant of this cloud.
    pub(crate) fn instance_names(self) -> &'static [&'static str] {
        match self {
            Cloud::Global => &["microsoftonline.com"],
            Cloud::UsGov | Cloud::UsGovDod => &["microsoftonline.us"],
            Cloud::China => &["partner.microsoftonline.cn", "chinacloudapi.cn"],
        }
    }

    /// The `msgraph_host` values the tenant's discovery document shows for a
    /// tenant of this cloud.
    pub(crate) fn graph_hosts(self) -> &'static [&'static str] {
        match self {
            Cloud::Global => &["graph.microsoft.com"],
            Cloud::UsGov | Cloud::UsGovDod => &["graph.microsoft.us", "dod-graph.microsoft.us"],
            Cloud::China => &["microsoftgraph.chinacloudapi.cn"],
        }
    }

    /// The cloud whose discovery documents name `host` as Graph host.
    pub(crate) fn from_graph_host(host: &str) -> Option<Cloud> {
        [Cloud::Global, Cloud::UsGov, Cloud::China]
            .into_iter()
            .find(|c| c.graph_hosts().iter().any(|h| h.eq_ignore_ascii_case(host)))
    }

    /// The cloud whose discovery documents name `instance`.
    pub(crate) fn from_instance_name(instance: &str) -> Option<Cloud> {
        [Cloud::Global, Cloud::UsGov, Cloud::China]
            .into_iter()
            .find(|c| c.instance_names().iter().any(|n| n.eq_ignore_ascii_case(instance)))
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The settings of an `office365` integration: every key of its
/// `[[integrations]]` entry except `id`, `description` and `provider`.
///
/// The client secret *value* is not here: it is each account's `secret`
/// (and `secret_next` during a rotation). A certificate credential is
/// (`certificate_file`, `private_key_file`): the builder reads the files.
/// Times are in milliseconds so that tests can shorten them.
///
/// ```
/// use g360_mail_o365::{Cloud, O365Settings};
///
/// let s: O365Settings = serde_json::from_value(serde_json::json!({
///     "client_id": "11111111-2222-3333-4444-555555555555",
///     "tenant_id": "contoso.onmicrosoft.com",
///     "cloud": "usgov",
/// }))?;
/// assert_eq!(s.cloud, Cloud::UsGov);
/// assert_eq!(s.authority_url(), "https://login.microsoftonline.us");
/// assert_eq!(s.max_attempts, 4);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct O365Settings {
    /// Application (client) ID of the app registration (a GUID).
    pub client_id: String,
    /// Directory (tenant) ID: a GUID or a verified domain such as
    /// `contoso.onmicrosoft.com`.
    pub tenant_id: String,
    /// The Microsoft cloud of the tenant.
    pub cloud: Cloud,
    /// Overrides the login host of the cloud (e.g. `https://login.microsoftonline.com`).
    pub authority_url: Option<String>,
    /// Overrides the Graph host of the cloud (e.g. `https://graph.microsoft.com`);
    /// the provider adds `/v1.0`.
    pub graph_url: Option<String>,
    /// Allows plain `http://` endpoints, and then only on loopback hosts (tests).
    pub allow_insecure_http: bool,
    /// The tenant grants mailbox rights through Exchange RBAC for Applications,
    /// so missing `roles` in the token are a warning, not a failure.
    pub rbac_for_applications: bool,
    /// Timeout of one HTTP request, in milliseconds.
    pub request_timeout_ms: u64,
    /// Timeout of establishing a connection, in milliseconds.
    pub connect_timeout_ms: u64,
    /// The overall deadline of one send, in milliseconds: its attempts,
    /// waits and the Sent Items lookup after an ambiguous answer included.
    /// A send still in flight at the deadline is an outcome unknown, never
    /// resent; one that never started is not delivered.
    pub send_timeout_ms: u64,
    /// Most attempts of one operation (first try included).
    pub max_attempts: u32,
    /// First backoff delay when the server gives no `Retry-After`, in milliseconds.
    pub initial_backoff_ms: u64,
    /// Longest single backoff delay, in milliseconds.
    pub max_backoff_ms: u64,
    /// Longest total waiting of one operation across its retries, in milliseconds.
    pub max_total_delay_ms: u64,
    /// How long to let an ambiguous send settle before looking it up in Sent
    /// Items, in milliseconds.
    pub sent_lookup_delay_ms: u64,
    /// How long before its expiry a token is renewed, in milliseconds (when the
    /// token endpoint gives no `refresh_in`).
    pub token_refresh_margin_ms: u64,
    /// Most requests in flight per mailbox in this process (Graph allows 4).
    pub max_concurrent_requests: u32,
    /// Path of the app's certificate (PEM), used with `private_key_file`
    /// instead of a client secret.
    pub certificate_file: Option<String>,
    /// Path of the certificate's RSA private key (PEM, PKCS#8 or PKCS#1, not
    /// encrypted).
    pub private_key_file: Option<String>,
    /// When the client secret expires (`2027-06-30`, the portal's "Expires"
    /// column); `verify` warns before and fails after.
    pub secret_expires: Option<String>,
    /// How many days before a secret or certificate expires `verify` starts
    /// warning.
    pub expiry_warning_days: u32,
    /// Path of a PEM file of CA certificates to trust besides the system's,
    /// for a proxy that inspects TLS with the company's own CA. Used by the
    /// token and Graph clients and by the SMTP OAuth token source.
    pub tls_ca_file: Option<String>,
}

impl Default for O365Settings {
    fn default() -> Self {
        O365Settings {
            client_id: String::new(),
            tenant_id: String::new(),
            cloud: Cloud::Global,
            authority_url: None,
            graph_url: None,
            allow_insecure_http: false,
            rbac_for_applications: false,
            request_timeout_ms: 30_000,
            connect_timeout_ms: 10_000,
            send_timeout_ms: 300_000,
            max_attempts: 4,
            initial_backoff_ms: 2_000,
            max_backoff_ms: 60_000,
            max_total_delay_ms: 180_000,
            sent_lookup_delay_ms: 10_000,
            token_refresh_margin_ms: 300_000,
            max_concurrent_requests: 4,
            certificate_file: None,
            private_key_file: None,
            secret_expires: None,
            expiry_warning_days: 30,
            tls_ca_file: None,
        }
    }
}

impl fmt::Debug for O365Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("O365Settings")
            .field("client_id", &self.client_id)
            .field("tenant_id", &self.tenant_id)
            .field("cloud", &self.cloud)
            .field("authority_url", &self.authority_url)
            .field("graph_url", &self.graph_url)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("rbac_for_applications", &self.rbac_for_applications)
            .field("certificate_file", &self.certificate_file)
            .field("private_key_file", &self.private_key_file)
            .field("secret_expires", &self.secret_expires)
            .field("tls_ca_file", &self.tls_ca_file)
            .finish_non_exhaustive()
    }
}

/// Largest number of requests in flight per mailbox Graph tolerates.
pub const GRAPH_MAILBOX_CONCURRENCY: u32 = 4;

impl O365Settings {
    /// Settings for `client_id` in `tenant_id`, everything else by default.
    pub fn new(client_id: impl Into<String>, tenant_id: impl Into<String>) -> Self {
        O365Settings {
            client_id: client_id.into(),
            tenant_id: tenant_id.into(),
            ..O365Settings::default()
        }
    }

    /// The login host in use: the override or the cloud's.
    pub fn authority_url(&self) -> &str {
        self.authority_url.as_deref().unwrap_or(self.cloud.authority_url())
    }

    /// The Graph host in use: the override or the cloud's (without `/v1.0`).
    pub fn graph_url(&self) -> &str {
        self.graph_url.as_deref().unwrap_or(self.cloud.graph_url())
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// A reqwest client builder for these settings: no redirects (a 3xx is an
    /// error naming the host, so the client secret and mail never go to
    /// another origin), the connect timeout, our user agent, HTTPS only
    /// unless `allow_insecure_http`, and the CAs of `tls_ca_file` trusted
    /// besides the system's.
    pub(crate) fn http_client_builder(&self) -> Result<reqwest::ClientBuilder, Error> {
        // The rustls crypto provider is ours to install; another one already
        // installed by the application is fine too.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.connect_timeout())
            .user_agent(concat!("g360-mail-o365/", env!("CARGO_PKG_VERSION")));
        if !self.allow_insecure_http {
            http = http.https_only(true);
        }
        if let Some(path) = self.tls_ca_file.as_deref() {
            http = http.tls_certs_merge(read_ca_file(path)?);
        }
        Ok(http)
    }

    pub(crate) fn token_refresh_margin(&self) -> Duration {
        Duration::from_millis(self.token_refresh_margin_ms)
    }

    /// Every problem of these settings, each with its key. Problems of the
    /// endpoints (scheme, loopback rule) make the provider unbuildable; the
    /// others are reported by `verify` and by the token endpoint too.
    pub fn problems(&self) -> Vec<ConfigProblem> {
        let mut out: Vec<ConfigProblem> = self
            .identity_problems()
            .into_iter()
            .map(|(code, p)| p.with_code(code).as_setup())
            .collect();
        out.extend(self.endpoint_problems());
        out.extend(self.limit_problems());
        out.extend(self.credential_problems());
        out
    }

    /// Whether the integration signs in with a certificate instead of a
    /// client secret.
    pub fn uses_certificate(&self) -> bool {
        self.certificate_file.is_some() || self.private_key_file.is_some()
    }

    /// When the secret expires: the start (UTC) of the day `secret_expires`
    /// names, when it is set and well formed.
    pub(crate) fn secret_expiry(&self) -> Option<jiff::Timestamp> {
        let day: jiff::civil::Date = self.secret_expires.as_deref()?.trim().parse().ok()?;
        jiff::tz::TimeZone::UTC.to_timestamp(day.to_datetime(jiff::civil::Time::midnight())).ok()
    }

    /// Problems of the credential keys: a certificate without its key (or the
    /// reverse) and a malformed `secret_expires`.
    pub(crate) fn credential_problems(&self) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        match (&self.certificate_file, &self.private_key_file) {
            (Some(_), None) => out.push(
                ConfigProblem::new("private_key_file", "missing: certificate_file needs the certificate's private key")
                    .with_remedy("set private_key_file to the PEM file of the key made with the certificate (openssl req -keyout)"),
            ),
            (None, Some(_)) => out.push(
                ConfigProblem::new("certificate_file", "missing: private_key_file needs its certificate")
                    .with_remedy("set certificate_file to the PEM certificate uploaded to Entra ID > App registrations > the app > Certificates & secrets > Certificates"),
            ),
            _ => {}
        }
        if let Some(d) = &self.secret_expires
            && d.trim().parse::<jiff::civil::Date>().is_err()
        {
            out.push(bad_expiry_date(d));
        }
        if !(1..=365).contains(&self.expiry_warning_days) {
            out.push(ConfigProblem::new("expiry_warning_days", "must be between 1 and 365"));
        }
        out
    }

    /// Problems of the client and tenant ids, each with its stable code.
    pub(crate) fn identity_problems(&self) -> Vec<(&'static str, ConfigProblem)> {
        let mut out = Vec::new();
        out.extend(check_client_id(&self.client_id));
        out.extend(check_tenant_id(&self.tenant_id));
        out
    }

    pub(crate) fn endpoint_problems(&self) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        for (key, value) in [("authority_url", &self.authority_url), ("graph_url", &self.graph_url)]
        {
            if let Some(v) = value
                && let Err(p) = parse_endpoint(key, v, self.allow_insecure_http)
            {
                out.push(p);
            }
        }
        out
    }

    pub(crate) fn limit_problems(&self) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        if !(1..=GRAPH_MAILBOX_CONCURRENCY).contains(&self.max_concurrent_requests) {
            out.push(
                ConfigProblem::new(
                    "max_concurrent_requests",
                    format!("must be between 1 and {GRAPH_MAILBOX_CONCURRENCY}"),
                )
                .with_remedy(
                    "Graph throttles more than 4 concurrent requests per mailbox; use 4 or less",
                ),
            );
        }
        if !(1..=20).contains(&self.max_attempts) {
            out.push(ConfigProblem::new("max_attempts", "must be between 1 and 20"));
        }
        for (key, v) in [
            ("request_timeout_ms", self.request_timeout_ms),
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("send_timeout_ms", self.send_timeout_ms),
        ] {
            if v == 0 {
                out.push(ConfigProblem::new(key, "must be more than 0"));
            }
        }
        if self.max_backoff_ms < self.initial_backoff_ms {
            out.push(ConfigProblem::new(
                "max_backoff_ms",
                "must not be less than initial_backoff_ms",
            ));
        }
        out
    }
}

/// A `secret_expires` that is not a date.
pub(crate) fn bad_expiry_date(d: &str) -> ConfigProblem {
    ConfigProblem::new("secret_expires", format!("{d:?} is not a date"))
        .with_remedy("write the Expires date of the secret (Entra ID > Certificates & secrets) as YYYY-MM-DD, e.g. 2027-06-30")
}

/// Whether `s` is a GUID in its usual 8-4-4-4-12 form (braces allowed).
pub(crate) fn is_guid(s: &str) -> bool {
    let s = s.strip_prefix('{').and_then(|s| s.strip_suffix('}')).unwrap_or(s);
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) { c == '-' } else { c.is_ascii_hexdigit() }
        })
}

/// Whether `s` looks like a DNS name (at least two labels of letters, digits
/// and hyphens).
pub(crate) fn is_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    labels.len() >= 2
        && s.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels.last().is_some_and(|tld| tld.chars().any(|c| c.is_ascii_alphabetic()))
}

pub(crate) fn whitespace_problem(key: &str, value: &str) -> Option<(&'static str, ConfigProblem)> {
    (value.trim() != value).then(|| {
        ("o365.whitespace", ConfigProblem::new(key, "the value has white space around it")
            .with_remedy(format!("remove the spaces or line breaks around {key}; copy the value again from the Entra ID portal")))
    })
}

pub(crate) fn check_client_id(v: &str) -> Option<(&'static str, ConfigProblem)> {
    if v.trim().is_empty() {
        return Some(("o365.client-id-missing", ConfigProblem::new("client_id", "the application (client) ID is missing").with_remedy(
            "copy the Application (client) ID from Entra ID > App registrations > the app > Overview into the integration's client_id",
        )));
    }
    if let Some(p) = whitespace_problem("client_id", v) {
        return Some(p);
    }
    (!is_guid(v)).then(|| {
        ("o365.client-id-invalid", ConfigProblem::new("client_id", "the application (client) ID is not a GUID").with_remedy(
            "copy the Application (client) ID (a GUID like 11111111-2222-3333-4444-555555555555) from Entra ID > App registrations > the app > Overview",
        ))
    })
}

pub(crate) fn check_tenant_id(v: &str) -> Option<(&'static str, ConfigProblem)> {
    if v.trim().is_empty() {
        return Some(("o365.tenant-id-missing", ConfigProblem::new("tenant_id", "the directory (tenant) ID is missing").with_remedy(
            "copy the Directory (tenant) ID from Entra ID > App registrations > the app > Overview into the integration's tenant_id",
        )));
    }
    if let Some(p) = whitespace_problem("tenant_id", v) {
        return Some(p);
    }
    if ["common", "organizations", "consumers"].contains(&v.to_ascii_lowercase().as_str()) {
        return Some((
            "o365.tenant-id-invalid",
            ConfigProblem::new(
                "tenant_id",
                format!("{v:?} is not a tenant; client credentials need the tenant's own ID"),
            )
            .with_remedy("use the Directory (tenant) ID GUID of the customer's tenant"),
        ));
    }
    (!is_guid(v) && !is_domain(v)).then(|| {
        ("o365.tenant-id-invalid", ConfigProblem::new("tenant_id", "the directory (tenant) ID is neither a GUID nor a domain").with_remedy(
            "copy the Directory (tenant) ID (a GUID) from Entra ID > App registrations > the app > Overview, or use a verified domain such as contoso.onmicrosoft.com",
        ))
    })
}

/// Whether the host of `url` is a loopback host.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Parses an endpoint override: https, or http on a loopback host when
/// allowed; no credentials, query or fragment.
pub(crate) fn parse_endpoint(
    key: &str,
    value: &str,
    allow_http: bool,
) -> Result<Url, ConfigProblem> {
    let url = Url::parse(value.trim()).map_err(|e| {
        ConfigProblem::new(key, format!("not a URL: {e}")).with_remedy(format!(
            "write {key} as https://host, or remove it to use the cloud's host"
        ))
    })?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http && is_loopback(&url) => {}
        "http" if allow_http => {
            return Err(ConfigProblem::new(key, "plain http is allowed only for loopback hosts")
                .with_remedy(format!("use https:// for {key}")));
        }
        "http" => {
            return Err(ConfigProblem::new(key, "plain http is not allowed")
                .with_remedy(format!("use https:// for {key}")));
        }
        other => {
            return Err(ConfigProblem::new(key, format!("unsupported scheme {other:?}"))
                .with_remedy(format!("use https:// for {key}")));
        }
    }
    if url.host().is_none() {
        return Err(ConfigProblem::new(key, "the URL has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigProblem::new(key, "the URL must not contain credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigProblem::new(key, "the URL must not have a query or fragment"));
    }
    let path = url.path().trim_end_matches('/');
    if key == "graph_url" && (path.ends_with("/v1.0") || path.ends_with("/beta")) {
        return Err(ConfigProblem::new(key, "give the Graph host without a version")
            .with_remedy("remove /v1.0 from graph_url; the provider adds it"));
    }
    Ok(url)
}

/// The CA certificates of `tls_ca_file`: a readable PEM file with at least
/// one certificate, each of them parseable.
fn read_ca_file(path: &str) -> Result<Vec<reqwest::Certificate>, Error> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let pem = std::fs::read(path).map_err(|e| crate::error::ca_file_unreadable(path, e))?;
    let ders = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| crate::error::ca_file_invalid(path, e.to_string()))?;
    if ders.is_empty() {
        return Err(crate::error::ca_file_invalid(path, "no PEM certificate in it".to_owned()));
    }
    let mut certs = Vec::with_capacity(ders.len());
    let mut store = rustls::RootCertStore::empty();
    for der in ders {
        // Parse each one as a trust anchor now, so a broken certificate is
        // reported here rather than as a failed connection later.
        store.add(der.clone()).map_err(|e| {
            crate::error::ca_file_invalid(path, format!("a certificate in it: {e}"))
        })?;
        certs.push(
            reqwest::Certificate::from_der(&der)
                .map_err(|e| crate::error::ca_file_invalid(path, e.to_string()))?,
        );
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_guids_and_domains() {
        assert!(is_guid("11111111-2222-3333-4444-555555555555"));
        assert!(is_guid("{11111111-2222-3333-4444-55555555555A}"));
        assert!(!is_guid("11111111-2222-3333-4444-55555555555"));
        assert!(!is_guid("11111111x2222-3333-4444-555555555555"));
        assert!(is_domain("contoso.onmicrosoft.com"));
        assert!(!is_domain("contoso"));
        assert!(!is_domain("contoso.com/oauth2"));
        assert!(!is_domain("<tenant>"));
    }

    #[test]
    fn reports_every_problem_with_its_key() {
        let s = O365Settings {
            client_id: " 1111 ".into(),
            tenant_id: "common".into(),
            graph_url: Some("http://graph.example.com".into()),
            authority_url: Some("ftp://x".into()),
            max_concurrent_requests: 9,
            ..O365Settings::default()
        };
        let keys: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(
            keys,
            ["client_id", "tenant_id", "authority_url", "graph_url", "max_concurrent_requests"]
        );
    }

    #[test]
    fn http_only_on_loopback_and_only_when_allowed() {
        assert!(parse_endpoint("graph_url", "http://127.0.0.1:8080", true).is_ok());
        assert!(parse_endpoint("graph_url", "http://localhost:8080", true).is_ok());
        assert!(parse_endpoint("graph_url", "http://[::1]:8080", true).is_ok());
        assert!(parse_endpoint("graph_url", "http://127.0.0.1:8080", false).is_err());
        assert!(parse_endpoint("graph_url", "http://10.0.0.1", true).is_err());
        assert!(parse_endpoint("graph_url", "https://graph.microsoft.com/v1.0", false).is_err());
        assert!(parse_endpoint("graph_url", "https://u:p@graph.microsoft.com", false).is_err());
        assert!(parse_endpoint("graph_url", "https://graph.microsoft.com", false).is_ok());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = serde_json::from_value::<O365Settings>(serde_json::json!({"client_secret": "x"}))
            .unwrap_err();
        assert!(err.to_string().contains("unknown field"));
    }

    #[test]
    fn clouds_select_hosts_and_scope() {
        let s: O365Settings =
            serde_json::from_value(serde_json::json!({"cloud": "usgov-dod"})).unwrap();
        assert_eq!(s.graph_url(), "https://dod-graph.microsoft.us");
        assert_eq!(s.cloud.scope(), "https://dod-graph.microsoft.us/.default");
        assert_eq!(Cloud::China.authority_url(), "https://login.partner.microsoftonline.cn");
        assert_eq!(Cloud::from_instance_name("microsoftonline.us"), Some(Cloud::UsGov));
    }
}
