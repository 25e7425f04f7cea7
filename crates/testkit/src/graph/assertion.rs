//! Certificate credentials: certificates uploaded to an app
//! ([`AppCertificate`]) and the check of a client assertion (reference §1,
//! <https://learn.microsoft.com/entra/identity-platform/certificate-credentials>).
//!
//! The assertion's signature is verified with `ring` (PS256 and RS256)
//! against the public key of the uploaded certificate its `x5t#S256` (or
//! `x5t`) header names; then `aud` (the token endpoint), `iss` = `sub` = the
//! client id, `nbf`/`exp` within [`ALLOWED_SKEW_SECS`] of the clock, and a
//! `jti` not seen before. Failures answer with Entra's codes: AADSTS700027
//! (unknown certificate, bad signature, expired certificate), AADSTS700024
//! (time range), AADSTS700021 (iss/sub not the client id), AADSTS50027
//! (malformed token, wrong audience, reused jti).

use std::fmt;

use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jiff::Timestamp;
use serde_json::Value;

use super::Shared;
use super::identity::token_error;
use super::model::{App, Tenant};

/// How far `nbf` and `exp` may be off the emulator's clock, as Entra allows
/// a few minutes of clock skew.
pub const ALLOWED_SKEW_SECS: i64 = 300;

/// The `client_assertion_type` of a JWT client assertion.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A certificate uploaded to an app ("Certificates & secrets > Certificates").
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppCertificate {
    /// Base64url SHA-256 thumbprint of the DER (`x5t#S256`).
    pub thumbprint_s256: String,
    /// Base64url SHA-1 thumbprint of the DER (`x5t`).
    pub thumbprint_sha1: String,
    /// The DER `RSAPublicKey` of the certificate.
    pub rsa_public_key: Vec<u8>,
    /// The certificate's notAfter: assertions signed with it fail after.
    pub expires_at: Timestamp,
}

impl fmt::Debug for AppCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppCertificate")
            .field("x5t#S256", &self.thumbprint_s256)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl AppCertificate {
    /// The certificate of a PEM text (the first `CERTIFICATE` block), as the
    /// portal takes a `.crt`/`.pem` upload. Only RSA keys are accepted.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let begin = "-----BEGIN CERTIFICATE-----";
        let start = pem.find(begin).ok_or("no CERTIFICATE block")? + begin.len();
        let end = pem[start..].find("-----END CERTIFICATE-----").ok_or("no END line")? + start;
        let b64: String = pem[start..end].chars().filter(|c| !c.is_whitespace()).collect();
        let der = STANDARD.decode(b64).map_err(|e| format!("bad base64: {e}"))?;
        let (rsa_public_key, expires_at) =
            parse_certificate(&der).ok_or("not an RSA certificate")?;
        let s256 = ring::digest::digest(&ring::digest::SHA256, &der);
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
        Ok(AppCertificate {
            thumbprint_s256: URL_SAFE_NO_PAD.encode(s256.as_ref()),
            thumbprint_sha1: URL_SAFE_NO_PAD.encode(sha1.as_ref()),
            rsa_public_key,
            expires_at,
        })
    }
}

/// One DER element: tag, contents, rest.
fn read(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        (rest[..n].iter().fold(0usize, |a, b| (a << 8) | usize::from(*b)), &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The RSA public key and notAfter of a DER certificate.
fn parse_certificate(der: &[u8]) -> Option<(Vec<u8>, Timestamp)> {
    let (0x30, cert, _) = read(der)? else { return None };
    let (0x30, tbs, _) = read(cert)? else { return None };
    let mut rest = tbs;
    let (tag, _, r) = read(rest)?;
    if tag == 0xa0 {
        rest = r; // version
    }
    let (_, _, r) = read(rest)?; // serial
    let (_, _, r) = read(r)?; // signature algorithm
    let (_, _, r) = read(r)?; // issuer
    let (0x30, validity, r) = read(r)? else { return None };
    let (_, _, r) = read(r)?; // subject
    let (0x30, spki, _) = read(r)? else { return None };
    let (_, _, after_nb) = read(validity)?;
    let (tag, not_after, _) = read(after_nb)?;
    let (0x30, _alg, bits) = read(spki)? else { return None };
    let (0x03, bits, _) = read(bits)? else { return None };
    let key = bits.split_first()?.1.to_vec();
    Some((key, der_time(tag, not_after)?))
}

fn der_time(tag: u8, v: &[u8]) -> Option<Timestamp> {
    let s = std::str::from_utf8(v).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let y: i16 = s.get(..2)?.parse().ok()?;
            (if y >= 50 { 1900 + y } else { 2000 + y }, s.get(2..)?)
        }
        0x18 => (s.get(..4)?.parse().ok()?, s.get(4..)?),
        _ => return None,
    };
    let n = |i: usize| rest.get(i..i + 2).and_then(|x| x.parse::<i8>().ok());
    let dt = jiff::civil::DateTime::new(year, n(0)?, n(2)?, n(4)?, n(6)?, n(8)?, 0).ok()?;
    jiff::tz::TimeZone::UTC.to_timestamp(dt).ok()
}

fn invalid_client(base: &str, code: u32, description: &str) -> Box<Response> {
    Box::new(token_error(
        base,
        axum::http::StatusCode::UNAUTHORIZED,
        "invalid_client",
        code,
        description,
    ))
}

fn invalid_request(base: &str, code: u32, description: &str) -> Box<Response> {
    Box::new(token_error(
        base,
        axum::http::StatusCode::BAD_REQUEST,
        "invalid_request",
        code,
        description,
    ))
}

/// Checks the client assertion of a token request for `app`; `Err` is the
/// answer to give.
pub(crate) fn verify(
    shared: &Shared,
    app: &App,
    tenant: &Tenant,
    assertion_type: &str,
    assertion: Option<&str>,
    now: Timestamp,
) -> Result<(), Box<Response>> {
    let base = shared.base_url.as_str();
    if assertion_type != JWT_BEARER {
        return Err(invalid_request(
            base,
            50027,
            &format!("Invalid client_assertion_type '{assertion_type}'."),
        ));
    }
    let malformed = || invalid_request(base, 50027, "JWT token is invalid or malformed.");
    let jwt = assertion.ok_or_else(malformed)?;
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h, c, sig] = parts.as_slice() else { return Err(malformed()) };
    let decode = |p: &str| -> Option<Value> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()
    };
    let (Some(header), Some(claims), Ok(sig)) = (decode(h), decode(c), URL_SAFE_NO_PAD.decode(sig))
    else {
        return Err(malformed());
    };
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let alg: &dyn ring::signature::VerificationAlgorithm = match text(&header, "alg").as_deref() {
        Some("PS256") => &ring::signature::RSA_PSS_2048_8192_SHA256,
        Some("RS256") => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        _ => return Err(invalid_request(base, 50027, "JWT token has an unsupported alg.")),
    };
    let x5t_s256 = text(&header, "x5t#S256");
    let x5t = text(&header, "x5t");
    let cert = app.certificates.iter().find(|k| {
        x5t_s256.as_deref() == Some(k.thumbprint_s256.as_str())
            || x5t.as_deref() == Some(k.thumbprint_sha1.as_str())
    });
    let Some(cert) = cert else {
        return Err(invalid_client(
            base,
            700027,
            &format!(
                "Client assertion failed signature validation. Trace: The key was not found. Thumbprint of key used by client: '{}'. Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'.",
                x5t_s256.or(x5t).unwrap_or_default(),
                app.client_id
            ),
        ));
    };
    let signed = &jwt[..h.len() + 1 + c.len()];
    let key = ring::signature::UnparsedPublicKey::new(alg, &cert.rsa_public_key);
    if key.verify(signed.as_bytes(), &sig).is_err() {
        return Err(invalid_client(
            base,
            700027,
            "Client assertion failed signature validation. Trace: The signature is invalid.",
        ));
    }
    if cert.expires_at <= now {
        return Err(invalid_client(
            base,
            700027,
            &format!(
                "Client assertion failed signature validation. Trace: The certificate with identifier used to sign the client assertion is expired on application '{}'.",
                app.client_id
            ),
        ));
    }
    let aud = text(&claims, "aud").unwrap_or_default();
    let aud_ok = std::iter::once(&tenant.id).chain(&tenant.domains).any(|t| {
        [format!("{base}/{t}/oauth2/v2.0/token"), format!("{base}/{t}/oauth2/token")]
            .iter()
            .any(|u| u.eq_ignore_ascii_case(aud.trim_end_matches('/')))
    });
    if !aud_ok {
        return Err(invalid_client(
            base,
            50027,
            &format!("Invalid JWT token. The audience '{aud}' is not the token endpoint."),
        ));
    }
    let (iss, sub) = (text(&claims, "iss"), text(&claims, "sub"));
    let is_client =
        |v: &Option<String>| v.as_deref().is_some_and(|v| v.eq_ignore_ascii_case(&app.client_id));
    if !is_client(&iss) || !is_client(&sub) {
        return Err(invalid_client(
            base,
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        ));
    }
    let number = |k: &str| claims.get(k).and_then(Value::as_i64);
    let offset = shared.lock().options.clock_offset_secs;
    let now_s = now.as_second().saturating_add(offset);
    let now = Timestamp::from_second(now_s).unwrap_or(now);
    let (Some(exp), nbf) = (number("exp"), number("nbf")) else {
        return Err(invalid_request(base, 50027, "JWT token is missing the exp claim."));
    };
    if exp + ALLOWED_SKEW_SECS < now_s || nbf.is_some_and(|n| n - ALLOWED_SKEW_SECS > now_s) {
        return Err(invalid_client(
            base,
            700024,
            &format!(
                "Client assertion is not within its valid time range. Current time: {now}, assertion valid from {}, expiry time of assertion {}.",
                nbf.and_then(|n| Timestamp::from_second(n).ok())
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
                Timestamp::from_second(exp).map(|t| t.to_string()).unwrap_or_default()
            ),
        ));
    }
    let Some(jti) = text(&claims, "jti").filter(|j| !j.is_empty()) else {
        return Err(invalid_request(base, 50027, "JWT token is missing the jti claim."));
    };
    if !shared.lock().assertion_ids.insert(format!("{}\u{0}{jti}", app.client_id)) {
        return Err(invalid_client(
            base,
            50027,
            "Invalid JWT token. The jti of the client assertion was already used (replay).",
        ));
    }
    Ok(())
}
