//! Office 365's SMTP submission (`smtp.office365.com`) as a script for the
//! [`FakeSmtpServer`](crate::smtp::FakeSmtpServer): its greeting and EHLO
//! replies, STARTTLS, and `AUTH LOGIN` up to the password, whose answer the
//! test chooses (SMTP AUTH disabled for the tenant, Basic authentication
//! retired, wrong credentials...).
//!
//! ```no_run
//! # async fn demo(certs: &g360_mail_testkit::smtp::Certs) {
//! use g360_mail_testkit::smtp::{FakeSmtpServer, office365};
//!
//! let server = FakeSmtpServer::start_tls(
//!     certs,
//!     office365::script("535 5.7.139 Authentication unsuccessful, the user credentials were incorrect."),
//! )
//! .await;
//! # let _ = server;
//! # }
//! ```

use std::sync::Mutex;

use crate::smtp::Reply;

/// The greeting.
pub const GREETING: &str =
    "220 AM0PR10CA0001.outlook.office365.com Microsoft ESMTP MAIL Service ready";

/// The EHLO reply before STARTTLS: no `AUTH` yet.
pub const EHLO_PLAIN: &[&str] = &[
    "250-AM0PR10CA0001.outlook.office365.com Hello [127.0.0.1]",
    "250-SIZE 157286400",
    "250-STARTTLS",
    "250-8BITMIME",
    "250 SMTPUTF8",
];

/// The EHLO reply after STARTTLS.
pub const EHLO: &[&str] = &[
    "250-AM0PR10CA0001.outlook.office365.com Hello [127.0.0.1]",
    "250-SIZE 157286400",
    "250-AUTH LOGIN XOAUTH2",
    "250-8BITMIME",
    "250 SMTPUTF8",
];

/// Where a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Plain,
    Tls,
    User,
    Password,
}

/// Office 365 up to the password of `AUTH LOGIN`, answered with
/// `after_password`; so is every later command but `QUIT`. Each connection
/// starts without TLS (the script is for
/// [`FakeSmtpServer::start_tls`](crate::smtp::FakeSmtpServer::start_tls)).
pub fn script(after_password: &str) -> impl Fn(&str) -> Reply + Send + Sync + 'static {
    let after_password = after_password.to_owned();
    let step = Mutex::new(Step::Plain);
    move |line: &str| {
        let mut step = step.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let upper = line.to_ascii_uppercase();
        if line == "<connect>" {
            *step = Step::Plain;
            return Reply::line(GREETING);
        }
        if upper.starts_with("QUIT") {
            return Reply::Last("221 2.0.0 Service closing transmission channel".into());
        }
        match *step {
            Step::Plain if upper.starts_with("EHLO") => Reply::lines(EHLO_PLAIN),
            Step::Plain if upper == "STARTTLS" => {
                *step = Step::Tls;
                Reply::StartTls(vec!["220 2.0.0 SMTP server ready".into()])
            }
            Step::Plain => Reply::line("530 5.7.57 Client not authenticated to send mail"),
            Step::Tls if upper.starts_with("EHLO") => Reply::lines(EHLO),
            Step::Tls if upper == "AUTH LOGIN" => {
                *step = Step::User;
                Reply::line("334 VXNlcm5hbWU6")
            }
            Step::User => {
                *step = Step::Password;
                Reply::line("334 UGFzc3dvcmQ6")
            }
            Step::Tls | Step::Password => Reply::line(&after_password),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_like_office_365_up_to_the_password() {
        let s = script("535 no");
        let lines = |r: Reply| match r {
            Reply::Lines(l) | Reply::StartTls(l) => l,
            Reply::Last(l) => vec![l],
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(lines(s("<connect>")), [GREETING]);
        assert_eq!(lines(s("EHLO erp")), EHLO_PLAIN);
        assert_eq!(lines(s("STARTTLS")), ["220 2.0.0 SMTP server ready"]);
        assert_eq!(lines(s("EHLO erp")), EHLO);
        assert_eq!(lines(s("AUTH LOGIN")), ["334 VXNlcm5hbWU6"]);
        assert_eq!(lines(s("ZmFjdHVyYXNAY29udG9zby5jb20=")), ["334 UGFzc3dvcmQ6"]);
        assert_eq!(lines(s("cGFzcw==")), ["535 no"]);
        assert_eq!(lines(s("QUIT")), ["221 2.0.0 Service closing transmission channel"]);
        // A new connection starts over, without TLS.
        assert_eq!(lines(s("<connect>")), [GREETING]);
        assert_eq!(lines(s("EHLO erp")), EHLO_PLAIN);
    }
}
