//! [`SmtpSettings`]: the keys of an `smtp` integration, and their checks.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use g360_mail_core::ConfigProblem;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};

/// How the connection to the server is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain connection upgraded with `STARTTLS` before anything else is sent;
    /// a server that does not offer `STARTTLS` is an error. Port 587 by default.
    #[default]
    Starttls,
    /// TLS from the first byte ("implicit TLS", SMTPS). Port 465 by default.
    Tls,
    /// No encryption at all; allowed only for a relay on this machine: the
    /// host must be named so (`localhost`, a loopback address) and only the
    /// loopback addresses it resolves to are used, unless
    /// [`SmtpSettings::allow_insecure_dangerous`] is set. Never with a login.
    /// Port 25 by default.
    None,
}

impl Security {
    /// The configuration value (`starttls`, `tls`, `none`).
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Starttls => "starttls",
            Security::Tls => "tls",
            Security::None => "none",
        }
    }

    /// The usual port of this mode: 587, 465 or 25.
    pub fn default_port(self) -> u16 {
        match self {
            Security::Starttls => 587,
            Security::Tls => 465,
            Security::None => 25,
        }
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the provider authenticates, and so what the account's `secret` is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpAuth {
    /// The secret is a password, sent with `AUTH PLAIN`, or `AUTH LOGIN` when
    /// the server offers only that (Office 365 does).
    #[default]
    Password,
    /// The secret is a password, sent with `AUTH PLAIN` only.
    Plain,
    /// The secret is a password, sent with `AUTH LOGIN` only.
    Login,
    /// The secret is an OAuth 2.0 bearer token, sent with `AUTH XOAUTH2`.
    Xoauth2,
    /// `AUTH XOAUTH2` with app-only tokens of the Entra app of the
    /// `office365` integration named in
    /// [`SmtpSettings::oauth_integration`], fetched and renewed as needed;
    /// the account's `secret` is that app's client secret.
    #[serde(rename = "oauth2")]
    OAuth2,
    /// No authentication: a relay that accepts mail by client address; the
    /// account needs no `secret`.
    None,
}

impl SmtpAuth {
    /// The configuration value (`password`, `plain`, `login`, `xoauth2`,
    /// `oauth2`, `none`).
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpAuth::Password => "password",
            SmtpAuth::Plain => "plain",
            SmtpAuth::Login => "login",
            SmtpAuth::Xoauth2 => "xoauth2",
            SmtpAuth::OAuth2 => "oauth2",
            SmtpAuth::None => "none",
        }
    }
}

impl fmt::Display for SmtpAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The settings of an `smtp` integration: every key of its `[[integrations]]`
/// entry except `id`, `description` and `provider`.
///
/// The password (or, with `auth = "xoauth2"`, the bearer token) is not here:
/// it is each account's `secret`. Times are in milliseconds.
///
/// ```
/// use g360_mail_smtp::{Security, SmtpAuth, SmtpSettings};
///
/// let s: SmtpSettings = serde_json::from_value(serde_json::json!({
///     "host": "smtp.office365.com",
///     "username": "facturas@contoso.com",
/// }))?;
/// assert_eq!(s.security, Security::Starttls);
/// assert_eq!(s.port(), 587);
/// assert_eq!(s.auth, SmtpAuth::Password);
/// assert!(s.problems().is_empty());
///
/// let typo = serde_json::from_value::<SmtpSettings>(serde_json::json!({ "hots": "x" }));
/// assert!(typo.unwrap_err().to_string().contains("unknown field `hots`"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SmtpSettings {
    /// Host name or IP address of the SMTP server (`smtp.office365.com`).
    pub host: String,
    /// TCP port; by default 587 (`starttls`), 465 (`tls`) or 25 (`none`).
    pub port: Option<u16>,
    /// How the connection is protected: `starttls` (default), `tls` or `none`.
    pub security: Security,
    /// A PEM file of extra CA certificates to trust besides the system's,
    /// for relays whose certificate comes from a private CA.
    pub tls_ca_file: Option<PathBuf>,
    /// How to authenticate: `password` (default), `plain`, `login`,
    /// `xoauth2`, `oauth2` or `none`.
    pub auth: SmtpAuth,
    /// With `auth = "oauth2"`: the id of the `office365` integration whose
    /// Entra app (client id, tenant, authority) issues the tokens.
    pub oauth_integration: Option<String>,
    /// The login name; the account's address when absent.
    pub username: Option<String>,
    /// The name this client gives in `EHLO`; the machine's host name when absent.
    pub hello_name: Option<String>,
    /// Timeout of resolving the host and of opening the TCP connection, in
    /// milliseconds.
    pub connect_timeout_ms: u64,
    /// Timeout of the TLS handshake, the greeting and each SMTP command's
    /// reply, in milliseconds.
    pub command_timeout_ms: u64,
    /// Timeout of transmitting the message and getting the server's final
    /// reply, in milliseconds (RFC 5321 suggests 10 minutes).
    pub data_timeout_ms: u64,
    /// Deadline of a whole send (or verify), in milliseconds: waiting for a
    /// free connection, every attempt and pause, the message and the final
    /// reply. Hit before the end of the message went out, the mail was not
    /// delivered; after, the outcome is unknown.
    pub send_timeout_ms: u64,
    /// Allows `security = "none"` to a host that is not this machine. The
    /// mail then crosses the network unencrypted, readable and changeable
    /// by anyone on the path; a login is refused all the same.
    pub allow_insecure_dangerous: bool,
    /// Most connections open at once per account (pooled and reused).
    pub pool_max_size: u32,
    /// How long an unused pooled connection is kept, in milliseconds.
    pub pool_idle_timeout_ms: u64,
    /// Most attempts of one send when the connection fails before the message
    /// was transmitted (first try included).
    pub max_attempts: u32,
    /// Delay before the second attempt, doubled for each further one, in
    /// milliseconds.
    pub retry_delay_ms: u64,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        SmtpSettings {
            host: String::new(),
            port: None,
            security: Security::Starttls,
            tls_ca_file: None,
            auth: SmtpAuth::Password,
            oauth_integration: None,
            username: None,
            hello_name: None,
            connect_timeout_ms: 15_000,
            command_timeout_ms: 60_000,
            data_timeout_ms: 600_000,
            send_timeout_ms: 900_000,
            allow_insecure_dangerous: false,
            pool_max_size: 4,
            pool_idle_timeout_ms: 60_000,
            max_attempts: 3,
            retry_delay_ms: 1_000,
        }
    }
}

impl SmtpSettings {
    /// Settings for `host`, everything else by default.
    pub fn new(host: impl Into<String>) -> Self {
        SmtpSettings { host: host.into(), ..SmtpSettings::default() }
    }

    /// The port in use: the configured one or the security mode's default.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(self.security.default_port())
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub(crate) fn command_timeout(&self) -> Duration {
        Duration::from_millis(self.command_timeout_ms)
    }

    pub(crate) fn data_timeout(&self) -> Duration {
        Duration::from_millis(self.data_timeout_ms)
    }

    pub(crate) fn send_timeout(&self) -> Duration {
        Duration::from_millis(self.send_timeout_ms)
    }

    /// Every problem of these settings, each with its key.
    pub fn problems(&self) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        let host = self.host.trim();
        if host.is_empty() {
            out.push(
                ConfigProblem::new("host", "the SMTP server's host name is missing")
                    .with_remedy("set host to the server's name, e.g. smtp.office365.com"),
            );
        } else if let Some(p) = host_problem(&self.host) {
            out.push(p);
        }
        if self.port == Some(0) {
            out.push(ConfigProblem::new("port", "must be between 1 and 65535").with_remedy(
                "use the server's submission port (587 for starttls, 465 for tls), or remove port",
            ));
        }
        match (self.security, self.port) {
            (Security::Starttls, Some(465)) => out.push(
                ConfigProblem::new("security", "port 465 expects implicit TLS, not STARTTLS")
                    .with_remedy("set security = \"tls\" for port 465, or use port 587"),
            ),
            (Security::Tls, Some(port @ (25 | 587))) => out.push(
                ConfigProblem::new(
                    "security",
                    format!("port {port} expects STARTTLS, not implicit TLS"),
                )
                .with_remedy(format!(
                    "set security = \"starttls\" for port {port}, or use port 465"
                )),
            ),
            _ => {}
        }
        if self.security == Security::None
            && !self.allow_insecure_dangerous
            && !host.is_empty()
            && !is_loopback_host(host)
        {
            out.push(
                ConfigProblem::new(
                    "security",
                    "security = \"none\" is allowed only for a relay on this machine (localhost, 127.0.0.1, ::1)",
                )
                .with_remedy("use security = \"starttls\" (port 587) or \"tls\" (port 465); only on a trusted network path, set allow_insecure_dangerous = true"),
            );
        }
        if self.security == Security::None && self.auth != SmtpAuth::None {
            out.push(
                ConfigProblem::new(
                    "auth",
                    format!("auth = \"{}\" would send the login without TLS (security = \"none\")", self.auth),
                )
                .with_remedy("use security = \"starttls\" (port 587) or \"tls\" (port 465), or auth = \"none\" for a relay that needs no login"),
            );
        }
        match (self.auth, self.oauth_integration.as_deref().map(str::trim)) {
            (SmtpAuth::OAuth2, None | Some("")) => out.push(
                ConfigProblem::new(
                    "oauth_integration",
                    "auth = \"oauth2\" needs the office365 integration whose app issues the tokens",
                )
                .with_remedy("set oauth_integration to the id of the office365 integration of the same tenant"),
            ),
            (SmtpAuth::OAuth2, _) | (_, None) => {}
            (auth, Some(_)) => out.push(
                ConfigProblem::new(
                    "oauth_integration",
                    format!("oauth_integration is used only with auth = \"oauth2\", not \"{auth}\""),
                )
                .with_remedy("set auth = \"oauth2\", or remove oauth_integration"),
            ),
        }
        if let Some(path) = &self.tls_ca_file
            && let Err(p) = load_ca_file(path)
        {
            out.push(p);
        }
        if let Some(user) = &self.username
            && (user.trim().is_empty() || user.trim() != user || user.chars().any(char::is_control))
        {
            out.push(
                ConfigProblem::new(
                    "username",
                    "the user name is empty or has spaces or control characters around it",
                )
                .with_remedy("write the login name exactly, or remove username to log in with the account's address"),
            );
        }
        if let Some(name) = &self.hello_name
            && (name.is_empty()
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-._[]:".contains(c)))
        {
            out.push(
                ConfigProblem::new("hello_name", "not a host name")
                    .with_remedy("use this machine's fully qualified name, e.g. erp.contoso.com, or remove hello_name"),
            );
        }
        for (key, value) in [
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("command_timeout_ms", self.command_timeout_ms),
            ("data_timeout_ms", self.data_timeout_ms),
            ("send_timeout_ms", self.send_timeout_ms),
        ] {
            if value == 0 {
                out.push(ConfigProblem::new(key, "must be more than 0"));
            }
        }
        if !(1..=100).contains(&self.pool_max_size) {
            out.push(ConfigProblem::new("pool_max_size", "must be between 1 and 100"));
        }
        if !(1..=10).contains(&self.max_attempts) {
            out.push(ConfigProblem::new("max_attempts", "must be between 1 and 10"));
        }
        out
    }
}

/// The problem with a host that is not a bare name or address, if any.
fn host_problem(host: &str) -> Option<ConfigProblem> {
    let bare = host.trim();
    if bare != host {
        return Some(
            ConfigProblem::new("host", "the host name has white space around it")
                .with_remedy("remove the spaces around host"),
        );
    }
    if bare.contains("://") {
        return Some(
            ConfigProblem::new("host", "write the host name only, without a scheme").with_remedy(
                "e.g. host = \"smtp.office365.com\"; the port goes in port and TLS in security",
            ),
        );
    }
    let unbracketed = bare.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    if unbracketed.is_none() && bare.parse::<IpAddr>().is_err() && bare.contains(':') {
        return Some(
            ConfigProblem::new("host", "write the host name only, without a port")
                .with_remedy("move the port to the port key"),
        );
    }
    let valid = |c: char| c.is_alphanumeric() || "-._:[]".contains(c);
    (!bare.chars().all(valid)).then(|| {
        ConfigProblem::new("host", "not a host name or IP address")
            .with_remedy("set host to the server's name, e.g. smtp.office365.com")
    })
}

/// Whether `host` is named as this machine: `localhost` (or a name under
/// `.localhost`, RFC 6761) or a loopback address. A name is checked again
/// when connecting: only the loopback addresses it resolves to are used, and
/// resolving to none is an error.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let host = host.trim().trim_end_matches('.');
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Reads the certificates of a `tls_ca_file`; the problem names the key.
pub(crate) fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigProblem> {
    let remedy = "point tls_ca_file at a PEM file with the relay's CA certificate (-----BEGIN CERTIFICATE-----), or remove it to trust only the system's CAs";
    let bytes = std::fs::read(path).map_err(|e| {
        ConfigProblem::new("tls_ca_file", format!("cannot read {}: {e}", path.display()))
            .with_remedy(remedy)
    })?;
    let certs =
        CertificateDer::pem_slice_iter(&bytes).collect::<Result<Vec<_>, _>>().map_err(|e| {
            ConfigProblem::new("tls_ca_file", format!("{} is not valid PEM: {e}", path.display()))
                .with_remedy(remedy)
        })?;
    if certs.is_empty() {
        return Err(ConfigProblem::new(
            "tls_ca_file",
            format!("{} contains no PEM certificate", path.display()),
        )
        .with_remedy(remedy));
    }
    let mut store = rustls::RootCertStore::empty();
    for cert in &certs {
        store.add(cert.clone()).map_err(|e| {
            ConfigProblem::new(
                "tls_ca_file",
                format!("{} holds a certificate that cannot be used: {e}", path.display()),
            )
            .with_remedy(remedy)
        })?;
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(s: &SmtpSettings) -> Vec<String> {
        s.problems().into_iter().map(|p| p.path).collect()
    }

    #[test]
    fn defaults_are_valid_once_a_host_is_set() {
        assert_eq!(keys(&SmtpSettings::default()), ["host"]);
        assert!(keys(&SmtpSettings::new("smtp.example.com")).is_empty());
        let tls = SmtpSettings { security: Security::Tls, ..SmtpSettings::new("h.example.com") };
        assert_eq!(tls.port(), 465);
    }

    #[test]
    fn reports_every_problem_with_its_key() {
        let s = SmtpSettings {
            host: "smtp://mail.example.com".into(),
            port: Some(0),
            security: Security::None,
            tls_ca_file: Some("/nonexistent/ca.pem".into()),
            auth: SmtpAuth::None,
            username: Some(" ".into()),
            hello_name: Some("bad name".into()),
            connect_timeout_ms: 0,
            pool_max_size: 0,
            max_attempts: 0,
            ..SmtpSettings::default()
        };
        assert_eq!(
            keys(&s),
            [
                "host",
                "port",
                "security",
                "tls_ca_file",
                "username",
                "hello_name",
                "connect_timeout_ms",
                "pool_max_size",
                "max_attempts"
            ]
        );
    }

    #[test]
    fn none_only_on_loopback() {
        let none = |host: &str| SmtpSettings {
            security: Security::None,
            auth: SmtpAuth::None,
            ..SmtpSettings::new(host)
        };
        for host in ["localhost", "127.0.0.1", "::1", "[::1]", "LOCALHOST."] {
            assert!(none(host).problems().is_empty(), "{host}: {:?}", none(host).problems());
        }
        for host in ["10.0.0.1", "relay.example.com", "localhost.example.com"] {
            assert_eq!(keys(&none(host)), ["security"], "{host}");
            let opted_in = SmtpSettings { allow_insecure_dangerous: true, ..none(host) };
            assert!(opted_in.problems().is_empty(), "{host}: {:?}", opted_in.problems());
        }
    }

    #[test]
    fn never_a_login_without_tls() {
        for auth in [SmtpAuth::Password, SmtpAuth::Plain, SmtpAuth::Login, SmtpAuth::Xoauth2] {
            for allow_insecure_dangerous in [false, true] {
                let s = SmtpSettings {
                    security: Security::None,
                    auth,
                    allow_insecure_dangerous,
                    ..SmtpSettings::new("127.0.0.1")
                };
                let problems = s.problems();
                assert_eq!(keys(&s), ["auth"], "{auth}");
                assert!(problems[0].message.contains("without TLS"), "{:?}", problems[0]);
            }
        }
        let s = SmtpSettings { auth: SmtpAuth::Password, ..SmtpSettings::new("127.0.0.1") };
        assert!(s.problems().is_empty(), "starttls with a login is fine");
    }

    #[test]
    fn oauth2_names_the_integration_of_its_app() {
        let oauth = |id: Option<&str>| SmtpSettings {
            auth: SmtpAuth::OAuth2,
            oauth_integration: id.map(str::to_owned),
            ..SmtpSettings::new("smtp.office365.com")
        };
        assert!(oauth(Some("o365")).problems().is_empty());
        assert_eq!(keys(&oauth(None)), ["oauth_integration"]);
        assert_eq!(keys(&oauth(Some(" "))), ["oauth_integration"]);
        let stray = SmtpSettings {
            oauth_integration: Some("o365".into()),
            ..SmtpSettings::new("smtp.office365.com")
        };
        assert_eq!(keys(&stray), ["oauth_integration"]);
        let parsed: SmtpSettings = serde_json::from_value(serde_json::json!({
            "host": "smtp.office365.com", "auth": "oauth2", "oauth_integration": "o365",
        }))
        .unwrap();
        assert_eq!(parsed.auth, SmtpAuth::OAuth2);
        let none = SmtpSettings { security: Security::None, ..oauth(Some("o365")) };
        assert_eq!(keys(&none), ["security", "auth"], "never a token in clear either");
    }

    #[test]
    fn host_must_be_bare() {
        for host in ["mail.example.com:587", " mail.example.com", "mail example.com"] {
            assert_eq!(keys(&SmtpSettings::new(host)), ["host"], "{host}");
        }
        for host in ["mail.example.com", "192.0.2.1", "2001:db8::1", "[2001:db8::1]"] {
            assert!(keys(&SmtpSettings::new(host)).is_empty(), "{host}");
        }
    }

    #[test]
    fn port_and_security_must_match() {
        let s = SmtpSettings { port: Some(465), ..SmtpSettings::new("h.example.com") };
        assert_eq!(keys(&s), ["security"]);
        let s = SmtpSettings {
            port: Some(587),
            security: Security::Tls,
            ..SmtpSettings::new("h.example.com")
        };
        assert_eq!(keys(&s), ["security"]);
    }

    #[test]
    fn ca_file_must_hold_pem_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let not_pem = dir.path().join("ca.der");
        std::fs::write(&not_pem, b"\x30\x82 binary").unwrap();
        let err = load_ca_file(&not_pem).unwrap_err();
        assert_eq!(err.path, "tls_ca_file");
        assert!(err.message.contains("no PEM certificate"), "{}", err.message);
        assert!(err.remedy.unwrap().contains("BEGIN CERTIFICATE"));

        let garbage = dir.path().join("bad.pem");
        std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .unwrap();
        assert_eq!(load_ca_file(&garbage).unwrap_err().path, "tls_ca_file");

        let missing = load_ca_file(&dir.path().join("missing.pem")).unwrap_err();
        assert!(missing.message.contains("cannot read"), "{}", missing.message);
    }

    #[test]
    fn parses_the_documented_values() {
        let s: SmtpSettings = serde_json::from_value(serde_json::json!({
            "host": "relay.example.com",
            "port": 2525,
            "security": "tls",
            "auth": "xoauth2",
            "tls_ca_file": "/etc/g360/ca.pem",
            "pool_max_size": 2,
        }))
        .unwrap();
        assert_eq!((s.port(), s.security, s.auth), (2525, Security::Tls, SmtpAuth::Xoauth2));
        let bad = serde_json::from_value::<SmtpSettings>(serde_json::json!({"security": "ssl"}));
        assert!(bad.unwrap_err().to_string().contains("unknown variant `ssl`"));
    }
}
