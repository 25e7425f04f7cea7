//! Certificate credentials: a PEM certificate and its RSA private key sign
//! the client assertion that Microsoft Entra ID accepts in place of a client
//! secret (`client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`).
//!
//! The assertion follows "Microsoft identity platform application
//! authentication certificate credentials"
//! (<https://learn.microsoft.com/entra/identity-platform/certificate-credentials>):
//! header `alg` PS256 (or RS256), `typ` JWT and `x5t#S256`, the base64url
//! SHA-256 thumbprint of the certificate's DER; claims `aud` (the token
//! endpoint), `iss` and `sub` (the client id), `jti` (unique), `nbf`/`iat`
//! (now) and a short `exp`.
//!
//! Only three fields of the certificate are read — validity, and the public
//! key to check that the private key belongs to it — by a small DER walk;
//! the key never leaves [`CertificateCredential`], whose `Debug` shows the
//! thumbprint and dates only.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use ring::rand::SystemRandom;
use ring::signature::{self, RsaKeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// How long a signed assertion is valid: Microsoft asks for a short `exp`,
/// "5-10 minutes after nbf".
pub(crate) const ASSERTION_LIFETIME_SECS: i64 = 600;

/// The signature algorithm of the assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum AssertionAlgorithm {
    /// RSASSA-PSS with SHA-256, what Microsoft's page recommends.
    #[default]
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    #[cfg_attr(
        not(test),
        allow(dead_code, reason = "the provider signs PS256; the tests sign both")
    )]
    Rs256,
}

impl AssertionAlgorithm {
    fn name(self) -> &'static str {
        match self {
            AssertionAlgorithm::Ps256 => "PS256",
            AssertionAlgorithm::Rs256 => "RS256",
        }
    }
}

/// Why a certificate credential cannot be used. Each maps to a diagnosis with
/// its own code (see `error.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CertificateProblem {
    /// No `CERTIFICATE` block, or one that is not an X.509 certificate.
    BadCertificate(String),
    /// No usable private key: missing, encrypted, not RSA, or malformed.
    BadKey(String),
    /// The private key is not the one of the certificate's public key.
    KeyDoesNotMatch,
    /// The certificate's validity ended (`not_after` is in the past).
    Expired { not_after: Timestamp },
    /// The certificate's validity has not begun.
    NotYetValid { not_before: Timestamp },
}

impl fmt::Display for CertificateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertificateProblem::BadCertificate(why) => {
                write!(f, "the certificate file holds no usable X.509 certificate: {why}")
            }
            CertificateProblem::BadKey(why) => {
                write!(f, "the private key file holds no usable RSA private key: {why}")
            }
            CertificateProblem::KeyDoesNotMatch => {
                f.write_str("the private key does not belong to the certificate")
            }
            CertificateProblem::Expired { not_after } => {
                write!(f, "the certificate expired on {}", not_after.strftime("%Y-%m-%d"))
            }
            CertificateProblem::NotYetValid { not_before } => {
                write!(f, "the certificate is valid only from {}", not_before.strftime("%Y-%m-%d"))
            }
        }
    }
}

/// Where a certificate credential came from: the texts that tell how to
/// replace it (an expired or expiring certificate) name this place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CertificateSource {
    /// The integration's `certificate_file` and `private_key_file`.
    Files,
    /// PEM texts from the environment variables of `certificate_env` and
    /// `private_key_env`.
    Env { certificate: String, private_key: String },
    /// PEM texts the application gave (the ERP's certificate store).
    Given,
}

impl CertificateSource {
    /// The configuration key of the certificate: `certificate_file`,
    /// `certificate_env` or `certificate` (given by the application).
    pub(crate) fn key(&self) -> &'static str {
        match self {
            CertificateSource::Files => "certificate_file",
            CertificateSource::Env { .. } => "certificate_env",
            CertificateSource::Given => "certificate",
        }
    }

    /// The last step of a renewal: where the new certificate and key go.
    pub(crate) fn replace_step(&self) -> String {
        match self {
            CertificateSource::Files => {
                "point certificate_file and private_key_file at the new files".to_owned()
            }
            CertificateSource::Env { certificate, private_key } => format!(
                "put the new PEM certificate in {certificate} and its key in {private_key} (the variables of certificate_env and private_key_env) and restart the service"
            ),
            CertificateSource::Given => "replace the integration's certificate and private key in the ERP (the PEM texts it gives) with the new ones".to_owned(),
        }
    }
}

impl fmt::Display for CertificateSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertificateSource::Env { certificate, private_key } => {
                write!(f, "env:{certificate}:{private_key}")
            }
            other => f.write_str(other.key()),
        }
    }
}

/// A certificate and its private key, ready to sign client assertions.
pub(crate) struct CertificateCredential {
    source: CertificateSource,
    key: RsaKeyPair,
    thumbprint: String,
    not_before: Timestamp,
    not_after: Timestamp,
    rng: SystemRandom,
}

impl fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("x5t#S256", &self.thumbprint)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl CertificateCredential {
    /// Reads a PEM certificate (the first `CERTIFICATE` block) and a PEM RSA
    /// private key (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`, not
    /// encrypted), and checks that the key belongs to the certificate.
    pub(crate) fn from_pem(
        certificate_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<Self, CertificateProblem> {
        let cert = CertificateDer::from_pem_slice(certificate_pem).map_err(|e| {
            CertificateProblem::BadCertificate(match e {
                rustls::pki_types::pem::Error::NoItemsFound => {
                    "no -----BEGIN CERTIFICATE----- block".to_owned()
                }
                _ => "the PEM text is malformed".to_owned(),
            })
        })?;
        let fields = CertificateFields::parse(cert.as_ref())
            .map_err(|why| CertificateProblem::BadCertificate(why.to_owned()))?;
        if key_pem.windows(9).any(|w| w == b"ENCRYPTED") {
            return Err(CertificateProblem::BadKey(
                "the key is encrypted; export it without a passphrase (openssl pkey -in KEY -out PLAIN)"
                    .to_owned(),
            ));
        }
        let key = match PrivateKeyDer::from_pem_slice(key_pem) {
            Ok(PrivateKeyDer::Pkcs8(der)) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
            Ok(PrivateKeyDer::Pkcs1(der)) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
            Ok(_) => {
                return Err(CertificateProblem::BadKey("the key is not an RSA key".to_owned()));
            }
            Err(rustls::pki_types::pem::Error::NoItemsFound) => {
                return Err(CertificateProblem::BadKey(
                    "no -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY----- block"
                        .to_owned(),
                ));
            }
            Err(_) => {
                return Err(CertificateProblem::BadKey("the PEM text is malformed".to_owned()));
            }
        }
        .map_err(|e| CertificateProblem::BadKey(format!("the key is rejected ({e})")))?;
        if key.public().as_ref() != fields.rsa_public_key {
            return Err(CertificateProblem::KeyDoesNotMatch);
        }
        let digest = ring::digest::digest(&ring::digest::SHA256, cert.as_ref());
        Ok(CertificateCredential {
            source: CertificateSource::Files,
            key,
            thumbprint: URL_SAFE_NO_PAD.encode(digest.as_ref()),
            not_before: fields.not_before,
            not_after: fields.not_after,
            rng: SystemRandom::new(),
        })
    }

    /// The credential as coming from `source` (files by default).
    pub(crate) fn with_source(mut self, source: CertificateSource) -> Self {
        self.source = source;
        self
    }

    /// Where the certificate came from.
    pub(crate) fn source(&self) -> &CertificateSource {
        &self.source
    }

    /// The base64url SHA-256 thumbprint of the certificate (`x5t#S256`).
    pub(crate) fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// When the certificate's validity ends.
    pub(crate) fn not_after(&self) -> Timestamp {
        self.not_after
    }

    /// When the certificate's validity begins.
    #[cfg_attr(not(test), allow(dead_code, reason = "check_validity reads the field itself"))]
    pub(crate) fn not_before(&self) -> Timestamp {
        self.not_before
    }

    /// Whether the certificate is valid at `now`.
    pub(crate) fn check_validity(&self, now: Timestamp) -> Result<(), CertificateProblem> {
        if now > self.not_after {
            return Err(CertificateProblem::Expired { not_after: self.not_after });
        }
        if now < self.not_before {
            return Err(CertificateProblem::NotYetValid { not_before: self.not_before });
        }
        Ok(())
    }

    /// A signed client assertion for `client_id` at the token endpoint
    /// `audience`, valid from `now` for [`ASSERTION_LIFETIME_SECS`].
    pub(crate) fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        now: Timestamp,
        jti: &str,
        algorithm: AssertionAlgorithm,
    ) -> String {
        let header = serde_json::json!({
            "alg": algorithm.name(),
            "typ": "JWT",
            "x5t#S256": self.thumbprint,
        });
        let now = now.as_second();
        let claims = serde_json::json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": jti,
            "nbf": now,
            "iat": now,
            "exp": now.saturating_add(ASSERTION_LIFETIME_SECS),
        });
        let mut signing_input = URL_SAFE_NO_PAD.encode(header.to_string());
        signing_input.push('.');
        signing_input.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let padding: &'static dyn signature::RsaEncoding = match algorithm {
            AssertionAlgorithm::Ps256 => &signature::RSA_PSS_SHA256,
            AssertionAlgorithm::Rs256 => &signature::RSA_PKCS1_SHA256,
        };
        let mut sig = vec![0; self.key.public().modulus_len()];
        // Signing with a valid key into a buffer of the modulus' length fails
        // only if the system's random source does, which ring treats as fatal.
        if self.key.sign(padding, &self.rng, signing_input.as_bytes(), &mut sig).is_err() {
            sig.clear();
        }
        signing_input.push('.');
        signing_input.push_str(&URL_SAFE_NO_PAD.encode(&sig));
        signing_input
    }
}

/// The fields of an X.509 certificate this module needs.
struct CertificateFields<'a> {
    not_before: Timestamp,
    not_after: Timestamp,
    /// The DER `RSAPublicKey` inside the subject public key info.
    rsa_public_key: &'a [u8],
}

impl<'a> CertificateFields<'a> {
    /// Walks `Certificate ::= SEQUENCE { tbsCertificate, … }` and
    /// `TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber,
    /// signature, issuer, validity, subject, subjectPublicKeyInfo, … }`
    /// (RFC 5280 §4.1).
    fn parse(der: &'a [u8]) -> Result<Self, &'static str> {
        const NOT_X509: &str = "the DER is not an X.509 certificate";
        let (cert, _) = Der::expect(der, 0x30).ok_or(NOT_X509)?;
        let (tbs, _) = Der::expect(cert, 0x30).ok_or(NOT_X509)?;
        let mut rest = tbs;
        if rest.first() == Some(&0xA0) {
            rest = Der::read(rest).ok_or(NOT_X509)?.2;
        }
        let (_, rest) = Der::expect(rest, 0x02).ok_or(NOT_X509)?; // serialNumber
        let (_, rest) = Der::expect(rest, 0x30).ok_or(NOT_X509)?; // signature
        let (_, rest) = Der::expect(rest, 0x30).ok_or(NOT_X509)?; // issuer
        let (validity, rest) = Der::expect(rest, 0x30).ok_or(NOT_X509)?;
        let (_, rest) = Der::expect(rest, 0x30).ok_or(NOT_X509)?; // subject
        let (spki, _) = Der::expect(rest, 0x30).ok_or(NOT_X509)?;

        let (tag, value, after) = Der::read(validity).ok_or(NOT_X509)?;
        let not_before = time(tag, value).ok_or("the certificate's notBefore is unreadable")?;
        let (tag, value, _) = Der::read(after).ok_or(NOT_X509)?;
        let not_after = time(tag, value).ok_or("the certificate's notAfter is unreadable")?;

        let (algorithm, after) = Der::expect(spki, 0x30).ok_or(NOT_X509)?;
        let (oid, _) = Der::expect(algorithm, 0x06).ok_or(NOT_X509)?;
        // 1.2.840.113549.1.1.1, rsaEncryption.
        if oid != [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01] {
            return Err("the certificate's key is not an RSA key");
        }
        let (bits, _) = Der::expect(after, 0x03).ok_or(NOT_X509)?;
        let rsa_public_key = match bits.split_first() {
            Some((0, key)) => key,
            _ => return Err(NOT_X509),
        };
        Ok(CertificateFields { not_before, not_after, rsa_public_key })
    }
}

/// A minimal DER reader: tag, length (short or long form, at most 4 bytes),
/// value.
struct Der;

impl Der {
    /// `(tag, value, rest)` of the first element of `input`.
    fn read(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, input) = input.split_first()?;
        let (&first, mut input) = input.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 || n > 4 || input.len() < n {
                return None;
            }
            let (bytes, rest) = input.split_at(n);
            input = rest;
            bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        if input.len() < len {
            return None;
        }
        let (value, rest) = input.split_at(len);
        Some((tag, value, rest))
    }

    /// The value and rest of the first element, which must have tag `tag`.
    fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
        match Der::read(input)? {
            (t, value, rest) if t == tag => Some((value, rest)),
            _ => None,
        }
    }
}

/// `UTCTime` (tag 0x17, `YYMMDDHHMMSSZ`, years 1950–2049) or
/// `GeneralizedTime` (tag 0x18, `YYYYMMDDHHMMSSZ`).
fn time(tag: u8, value: &[u8]) -> Option<Timestamp> {
    let text = std::str::from_utf8(value).ok()?.strip_suffix('Z')?;
    let (year, rest) = match (tag, text.len()) {
        (0x17, 12) => {
            let yy: i16 = text[..2].parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &text[2..])
        }
        (0x18, 14) => (text[..4].parse().ok()?, &text[4..]),
        _ => return None,
    };
    if !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |i: usize| rest[i..i + 2].parse::<i8>().ok();
    let dt = jiff::civil::DateTime::new(year, n(0)?, n(2)?, n(4)?, n(6)?, n(8)?, 0).ok()?;
    jiff::tz::TimeZone::UTC.to_timestamp(dt).ok()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// `openssl ARGS` in `dir` (an independent implementation of X.509 and
    /// RSA), its output as text.
    fn openssl(dir: &Path, args: &[&str]) -> String {
        String::from_utf8_lossy(&g360_mail_testkit::certs::openssl(dir, args)).into_owned()
    }

    /// `NAME.crt` and `NAME.key`, made with the guide's command.
    fn make(dir: &Path, name: &str) {
        g360_mail_testkit::certs::self_signed(dir, name, 365);
    }

    fn read(dir: &Path, file: &str) -> Vec<u8> {
        std::fs::read(dir.join(file)).unwrap()
    }

    /// A fresh `app.crt` / `app.key` pair in a temporary directory, read.
    fn made_credential() -> (tempfile::TempDir, CertificateCredential) {
        let dir = tempfile::tempdir().unwrap();
        make(dir.path(), "app");
        let cred = CertificateCredential::from_pem(
            &read(dir.path(), "app.crt"),
            &read(dir.path(), "app.key"),
        )
        .unwrap();
        (dir, cred)
    }

    #[test]
    fn reads_the_certificate_as_openssl_does() {
        let (dir, cred) = made_credential();

        // The thumbprint: SHA-256 of the DER, base64url without padding.
        let fp =
            openssl(dir.path(), &["x509", "-in", "app.crt", "-noout", "-fingerprint", "-sha256"]);
        let hex = fp.trim().rsplit('=').next().unwrap().replace(':', "");
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(cred.thumbprint(), URL_SAFE_NO_PAD.encode(bytes));

        // The end of validity, to the second.
        let end = openssl(
            dir.path(),
            &["x509", "-in", "app.crt", "-noout", "-enddate", "-dateopt", "iso_8601"],
        );
        let end = end.trim().trim_start_matches("notAfter=").replace(' ', "T");
        assert_eq!(cred.not_after(), end.parse::<Timestamp>().unwrap(), "{end}");
        assert!(cred.check_validity(Timestamp::now()).is_ok());
        assert!(!format!("{cred:?}").contains("BEGIN"), "{cred:?}");
    }

    #[test]
    fn the_assertion_verifies_with_openssl_in_both_algorithms() {
        let (dir, cred) = made_credential();
        openssl(dir.path(), &["x509", "-in", "app.crt", "-pubkey", "-noout", "-out", "pub.pem"]);
        let aud = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token";
        let now: Timestamp = "2026-12-06T10:00:00Z".parse().unwrap();
        for (alg, sigopts) in [
            (
                AssertionAlgorithm::Ps256,
                &["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"][..],
            ),
            (AssertionAlgorithm::Rs256, &[][..]),
        ] {
            let jwt =
                cred.assertion("11111111-2222-3333-4444-555555555555", aud, now, "jti-1", alg);
            let parts: Vec<&str> = jwt.split('.').collect();
            assert_eq!(parts.len(), 3);
            let header: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
            assert_eq!(header["alg"], alg.name());
            assert_eq!(header["typ"], "JWT");
            assert_eq!(header["x5t#S256"], cred.thumbprint());
            let claims: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
            assert_eq!(claims["aud"], aud);
            assert_eq!(claims["iss"], "11111111-2222-3333-4444-555555555555");
            assert_eq!(claims["sub"], claims["iss"]);
            assert_eq!(claims["jti"], "jti-1");
            assert_eq!(claims["nbf"], now.as_second());
            assert_eq!(claims["exp"], now.as_second() + ASSERTION_LIFETIME_SECS);

            std::fs::write(dir.path().join("input"), format!("{}.{}", parts[0], parts[1])).unwrap();
            std::fs::write(dir.path().join("sig"), URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
                .unwrap();
            let mut args = vec!["dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig"];
            args.extend_from_slice(sigopts);
            args.push("input");
            assert!(openssl(dir.path(), &args).contains("Verified OK"), "{alg:?}");
        }
    }

    #[test]
    fn a_pkcs1_key_works_too() {
        let dir = tempfile::tempdir().unwrap();
        make(dir.path(), "app");
        openssl(dir.path(), &["rsa", "-in", "app.key", "-traditional", "-out", "app.rsa.key"]);
        assert!(
            String::from_utf8(read(dir.path(), "app.rsa.key"))
                .unwrap()
                .contains("BEGIN RSA PRIVATE KEY")
        );
        CertificateCredential::from_pem(
            &read(dir.path(), "app.crt"),
            &read(dir.path(), "app.rsa.key"),
        )
        .unwrap();
    }

    #[test]
    fn says_which_file_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        make(dir.path(), "a");
        make(dir.path(), "b");
        let crt = read(dir.path(), "a.crt");
        let err = CertificateCredential::from_pem(&crt, &read(dir.path(), "b.key")).unwrap_err();
        assert_eq!(err, CertificateProblem::KeyDoesNotMatch);

        let err =
            CertificateCredential::from_pem(&read(dir.path(), "a.key"), &read(dir.path(), "a.key"))
                .unwrap_err();
        assert!(matches!(err, CertificateProblem::BadCertificate(_)), "{err:?}");
        let err = CertificateCredential::from_pem(&crt, &crt).unwrap_err();
        assert!(matches!(err, CertificateProblem::BadKey(_)), "{err:?}");

        openssl(
            dir.path(),
            &[
                "pkcs8",
                "-topk8",
                "-in",
                "a.key",
                "-out",
                "a.enc.key",
                "-passout",
                "pass:x",
                "-v2",
                "aes-256-cbc",
            ],
        );
        let err =
            CertificateCredential::from_pem(&crt, &read(dir.path(), "a.enc.key")).unwrap_err();
        assert!(err.to_string().contains("encrypted"), "{err}");

        openssl(
            dir.path(),
            &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec.key"],
        );
        openssl(
            dir.path(),
            &["req", "-x509", "-key", "ec.key", "-subj", "/CN=ec", "-days", "1", "-out", "ec.crt"],
        );
        let err = CertificateCredential::from_pem(
            &read(dir.path(), "ec.crt"),
            &read(dir.path(), "a.key"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("not an RSA key"), "{err}");
    }

    #[test]
    fn validity_is_checked_against_the_clock() {
        let (_dir, cred) = made_credential();
        let later = cred.not_after().checked_add(jiff::SignedDuration::from_secs(1)).unwrap();
        assert_eq!(
            cred.check_validity(later),
            Err(CertificateProblem::Expired { not_after: cred.not_after() })
        );
        let earlier = cred.not_before().checked_sub(jiff::SignedDuration::from_secs(1)).unwrap();
        assert!(matches!(
            cred.check_validity(earlier),
            Err(CertificateProblem::NotYetValid { .. })
        ));
    }

    #[test]
    fn der_times_and_lengths() {
        assert_eq!(time(0x17, b"491231235959Z"), "2049-12-31T23:59:59Z".parse().ok());
        assert_eq!(time(0x17, b"500101000000Z"), "1950-01-01T00:00:00Z".parse().ok());
        assert_eq!(time(0x18, b"20991231235959Z"), "2099-12-31T23:59:59Z".parse().ok());
        assert_eq!(time(0x17, b"4912312359Z"), None);
        assert_eq!(time(0x17, b"49123123595+Z"), None);
        assert_eq!(Der::read(&[0x30, 0x82, 0x00]), None, "a long length cut short");
        assert_eq!(Der::read(&[0x30, 0x85, 1, 1, 1, 1, 1]), None, "a length over 4 bytes");
        assert_eq!(Der::read(&[0x30, 0x03, 1]), None, "a value cut short");
        assert!(CertificateFields::parse(&[]).is_err());
    }
}
