//! `verify`: configuration, tenant, token, permissions, mailbox and an
//! optional test mail, each check with its remedy.

use g360_mail_core::{Check, EmailAddress, OutgoingMessage, Result, VerifyOptions, VerifyReport};
use jiff::Timestamp;
use reqwest::Method;

use crate::O365_PROVIDER_TYPE;
use crate::auth::AccessToken;
use crate::client::{Call, ErrorShape, MAX_JSON_BYTES, encode_query};
use crate::config::Cloud;
use crate::credential::{Credential, CredentialUsed};
use crate::error;
use crate::graph_model::OpenIdConfiguration;
use crate::provider::O365Provider;

impl O365Provider {
    /// Every check of the account, in order; a failed check skips the rest.
    pub(crate) async fn verify_all(&self, options: &VerifyOptions) -> Result<VerifyReport> {
        const NAMES: [&str; 6] =
            ["configuration", "tenant", "token", "permissions", "mailbox", "test-mail"];
        let mut report = VerifyReport::new(O365_PROVIDER_TYPE);
        report.push(self.check_configuration());
        if !failed_of(&report) {
            report.push(self.check_tenant().await);
        }
        let mut token = None;
        if !failed_of(&report) {
            match self.client.tokens().fresh_token().await {
                Ok(t) => {
                    let app = t
                        .claims()
                        .and_then(|c| c.appid.clone().or_else(|| c.azp.clone()))
                        .unwrap_or_else(|| self.settings.client_id.clone());
                    let detail = format!(
                        "the token endpoint issued an app-only token for app {app} with {}",
                        t.credential_used().describe()
                    );
                    report.push(match t.credential_used() {
                        CredentialUsed::SecretAfterNextRefused(_) => Check::warn(
                            "token",
                            "o365.secret-next-refused",
                            detail,
                            "check secret_next: paste the Value (not the Secret ID) of the new secret from Entra ID > App registrations > the app > Certificates & secrets > Client secrets; the old secret keeps mail going until it expires",
                        ),
                        _ => Check::pass("token", detail),
                    });
                    token = Some(t);
                }
                Err(e) => {
                    report.push(Check::fail("token", &e));
                }
            }
        }
        if let Some(t) = &token
            && !failed_of(&report)
        {
            report.push(self.check_permissions(t));
        }
        if !failed_of(&report) {
            report.push(self.check_mailbox().await);
        }
        if !failed_of(&report) {
            match &options.send_test_to {
                Some(to) => {
                    report.push(self.check_test_mail(to).await);
                }
                None => {
                    let mut c = Check::skipped("test-mail");
                    c.detail = "not requested".into();
                    report.push(c);
                }
            }
        }
        for name in NAMES {
            if !report.checks.iter().any(|c| c.name == name) {
                report.push(Check::skipped(name));
            }
        }
        Ok(report)
    }

    fn check_configuration(&self) -> Check {
        let mut problems: Vec<(&'static str, g360_mail_core::ConfigProblem)> =
            self.settings.identity_problems();
        problems.extend(self.secret_shape.problems());
        if !problems.is_empty() {
            return Check::fail("configuration", &error::identity_problems(&problems));
        }
        let credential = self.client.tokens().credential();
        let what = match credential {
            Credential::Certificate(c) => format!(
                "the certificate (x5t#S256 {}, valid until {})",
                c.thumbprint(),
                c.not_after().strftime("%Y-%m-%d")
            ),
            Credential::Secret { next: Some(_), .. } => "secret and secret_next".to_owned(),
            Credential::Secret { next: None, .. } => "secret".to_owned(),
        };
        match self.expiry("configuration", Timestamp::now()) {
            Expiry::Passed(e) => return Check::fail("configuration", &e),
            Expiry::Soon(w) => return w,
            Expiry::Far => {}
        }
        Check::pass(
            "configuration",
            format!(
                "client_id, tenant_id and {what} are well formed (cloud {})",
                self.settings.cloud
            ),
        )
    }

    /// Where the credential stands against its expiry at `now`: the
    /// certificate's notAfter, or `secret_expires` (not during a rotation:
    /// then it is the date of the secret being replaced, and the token check
    /// says which one works). A warning is a check named `name`.
    pub(crate) fn expiry(&self, name: &str, now: Timestamp) -> Expiry {
        let (key, when, certificate) = match self.client.tokens().credential() {
            Credential::Certificate(c) => {
                if let Err(p) = c.check_validity(now) {
                    return Expiry::Passed(error::certificate(&p, c.source()));
                }
                (c.source().key(), c.not_after(), Some(c.source()))
            }
            Credential::Secret { next: Some(_), .. } => return Expiry::Far,
            Credential::Secret { next: None, .. } => match self.settings.secret_expiry() {
                Some(t) => ("secret_expires", t, None),
                None => return Expiry::Far,
            },
        };
        if when <= now {
            return Expiry::Passed(match certificate {
                Some(source) => error::expired_certificate(when, source),
                None => error::expired_secret(key, when),
            });
        }
        let left = (when.as_second() - now.as_second()) / 86_400;
        if left >= i64::from(self.settings.expiry_warning_days) {
            return Expiry::Far;
        }
        let (code, thing) = if certificate.is_some() {
            ("o365.certificate-expiring", "the certificate")
        } else {
            ("o365.secret-expiring", "the client secret")
        };
        Expiry::Soon(
            Check::warn(
                name,
                code,
                format!("{thing} expires on {} ({key}), in {left} days", when.strftime("%Y-%m-%d")),
                error::expiring_remedy(certificate),
            )
            .with_key(key),
        )
    }

    async fn check_tenant(&self) -> Check {
        let mut url = self.authority.clone();
        if let Ok(mut p) = url.path_segments_mut() {
            p.pop_if_empty().extend([
                self.settings.tenant_id.trim(),
                "v2.0",
                ".well-known",
                "openid-configuration",
            ]);
        }
        let call = Call {
            method: Method::GET,
            url,
            body: None,
            prefer: None,
            auth: false,
            idempotent: true,
            max_body: MAX_JSON_BYTES,
            errors: ErrorShape::Identity,
            what: "the tenant discovery",
        };
        let answer = match self.client.run(&call).await {
            Ok(a) => a,
            Err(e) => return Check::fail("tenant", &e),
        };
        let doc: OpenIdConfiguration = serde_json::from_slice(&answer.body).unwrap_or_default();
        let instance = doc.cloud_instance_name.clone().unwrap_or_default();
        let graph_host = doc.msgraph_host.clone().unwrap_or_default();
        let cloud = self.settings.cloud;
        let wrong_instance = !instance.is_empty()
            && !cloud.instance_names().iter().any(|n| n.eq_ignore_ascii_case(&instance));
        let wrong_graph = !graph_host.is_empty()
            && !cloud.graph_hosts().iter().any(|h| h.eq_ignore_ascii_case(&graph_host));
        if wrong_instance || wrong_graph {
            let (seen, actual) = if wrong_instance {
                (instance.clone(), Cloud::from_instance_name(&instance))
            } else {
                (graph_host.clone(), Cloud::from_graph_host(&graph_host))
            };
            let remedy = match actual {
                Some(c) => format!(
                    "set the integration's cloud to {c} (the tenant lives in the {seen} cloud) and register the app in that cloud"
                ),
                None => {
                    format!("set the integration's cloud to the tenant's national cloud ({seen})")
                }
            };
            return Check::fail("tenant", &error::wrong_cloud(cloud, &seen, remedy));
        }
        let region = doc.tenant_region_scope.map(|r| format!(", region {r}")).unwrap_or_default();
        Check::pass(
            "tenant",
            format!(
                "tenant {} found in the {} cloud{region}",
                self.settings.tenant_id.trim(),
                if instance.is_empty() { self.settings.cloud.as_str() } else { &instance }
            ),
        )
    }

    fn check_permissions(&self, token: &AccessToken) -> Check {
        let rbac = self.settings.rbac_for_applications;
        let Some(claims) = token.claims() else {
            return Check::warn(
                "permissions",
                "o365.token-opaque",
                "the access token cannot be read, so its roles are unknown",
                "nothing to do if the mailbox check passes; otherwise check Mail.Send and Mail.Read in Entra ID > API permissions",
            );
        };
        let roles = claims.roles.clone().unwrap_or_default();
        let missing: Vec<&str> = ["Mail.Send", "Mail.Read"]
            .into_iter()
            .filter(|r| {
                !roles.iter().any(|x| {
                    x.eq_ignore_ascii_case(r)
                        || (*r == "Mail.Read" && x.eq_ignore_ascii_case("Mail.ReadWrite"))
                })
            })
            .collect();
        if missing.is_empty() {
            return Check::pass(
                "permissions",
                format!("the token carries the application roles {}", roles.join(", ")),
            );
        }
        let (code, detail) = if claims.roles.as_ref().is_none_or(Vec::is_empty) {
            (
                "o365.no-roles",
                "the token carries no application roles: Mail.Send and Mail.Read were added as Delegated permissions, or admin consent was not granted".to_owned(),
            )
        } else {
            (
                "o365.missing-role",
                format!("the token lacks the application role(s) {}", missing.join(", ")),
            )
        };
        let remedy = "in Entra ID > App registrations > the app > API permissions, add Microsoft Graph > Application permissions > Mail.Send and Mail.Read, then press Grant admin consent (Type: Application, Status: Granted)";
        if rbac {
            return Check::warn(
                "permissions",
                code,
                format!(
                    "{detail}; accepted because the integration uses Exchange RBAC for Applications, whose grants do not appear in the token"
                ),
                "nothing to do if the mailbox check passes; otherwise assign the Application Mail.Send and Mail.Read roles to the app in Exchange",
            );
        }
        Check::fail("permissions", &error::missing_roles(code, detail, remedy))
    }

    async fn check_mailbox(&self) -> Check {
        let mut url = self.client.user_url(&["mailFolders", "inbox"]);
        url.set_query(Some(&encode_query(&[("$select", "id".into())])));
        match self.client.run(&Call::get(url, "the mailbox check")).await {
            Ok(_) => Check::pass(
                "mailbox",
                format!("the mailbox {} is reachable through Graph", self.mailbox.addr()),
            ),
            Err(e) => Check::fail("mailbox", &e.with_context("mailbox", self.mailbox.addr())),
        }
    }

    async fn check_test_mail(&self, to: &EmailAddress) -> Check {
        let msg = OutgoingMessage::builder()
            .to_all([to.clone()])
            .subject("G360 ERP: mensaje de prueba / test message")
            .text("Este es un mensaje de prueba de G360 ERP (verificación de la cuenta de Office 365).\r\n\r\nThis is a test message from G360 ERP (Office 365 account verification).")
            .header("X-G360-Verify", "1")
            .build();
        let msg = match msg {
            Ok(m) => m,
            Err(e) => return Check::fail("test-mail", &e),
        };
        let receipt = match self.send_message(&msg).await {
            Ok(r) => r,
            Err(e) => return Check::fail("test-mail", &e),
        };
        let imid = receipt.internet_message_id.clone();
        match self.await_in_sent(msg.uid(), &imid, self.client.retry.settle.saturating_mul(3)).await
        {
            Ok(Some(_)) => {
                return Check::pass(
                    "test-mail",
                    format!("test mail sent to {} and found in Sent Items as {imid}", to.addr()),
                );
            }
            Ok(None) => {}
            Err(e) => {
                return Check::warn(
                    "test-mail",
                    e.code().unwrap_or("o365.sent-lookup-failed").to_owned(),
                    format!(
                        "test mail sent to {}, but Sent Items could not be searched: {e}",
                        to.addr()
                    ),
                    "grant Mail.Read (Application) so duplicate sends can be prevented after ambiguous answers",
                );
            }
        }
        Check::warn(
            "test-mail",
            "o365.test-mail-not-in-sent",
            format!(
                "test mail sent to {}, but not found in Sent Items by its id {imid}",
                to.addr()
            ),
            "check that the mail arrived and that Sent Items keeps a copy; look for a non-delivery report in the mailbox's Inbox",
        )
    }
}

/// Where a credential stands against its expiry.
pub(crate) enum Expiry {
    /// Not within `expiry_warning_days`, or no date is known.
    Far,
    /// Within `expiry_warning_days`: the warning.
    Soon(Check),
    /// Expired: the error.
    Passed(g360_mail_core::Error),
}

fn failed_of(report: &VerifyReport) -> bool {
    !report.passed()
}
