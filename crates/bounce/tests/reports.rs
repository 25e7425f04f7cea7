//! The parser on real delivery reports (`tests/data/`, BSD-licensed, see
//! `tests/data/LICENSE`) and on hostile input.
//!
//! Each expected result was written from what the report itself says; the
//! snapshots are `expect-test` (`UPDATE_EXPECT=1` rewrites them, review the diff).

use expect_test::{Expect, expect};
use g360_mail_bounce::{
    Action, BounceKind, DeliveryReport, MessageIdSource, NOT_A_REPORT, ReportFormat, parse,
};
use g360_mail_core::ErrorKind;

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A report as a few stable lines, one block per recipient.
fn render(report: &DeliveryReport) -> String {
    let mut out = format!(
        "format: {}\nmessage-id: {} ({})\nsubject: {}\nreporting-mta: {}\n",
        report.format,
        report.original_message_id.as_deref().unwrap_or("-"),
        report.message_id_source.map_or("-", |s| s.as_str()),
        report.original_subject.as_deref().unwrap_or("-"),
        report.reporting_mta.as_deref().unwrap_or("-"),
    );
    for r in &report.recipients {
        out.push_str(&format!(
            "recipient: {}{}\n  action: {}  status: {}  kind: {}\n  remote-mta: {}\n  diagnostic: {}\n",
            r.final_recipient,
            r.original_recipient.as_deref().map(|o| format!(" (original {o})")).unwrap_or_default(),
            r.action,
            r.status.map_or("-".to_owned(), |s| s.to_string()),
            r.kind.map_or("-", |k| k.as_str()),
            r.remote_mta.as_deref().unwrap_or("-"),
            r.diagnostic.as_deref().unwrap_or("-"),
        ));
    }
    out
}

fn check(name: &str, expect: Expect) {
    let report = parse(&data(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    expect.assert_eq(&render(&report));
}

#[test]
fn office365_text_only_in_a_multipart_report() {
    check(
        "lhost-office365-01.eml",
        expect![[r#"
            format: exchange
            message-id: <FFFFFFFF.EEEEEEEE@example.ed.jp> (quoted-text)
            subject: Nyaan
            reporting-mta: FFFFFFFFFFFF.e0.prod.outlook.com
            recipient: kijitora@example.com
              action: failed  status: 5.1.10  kind: unknown-recipient
              remote-mta: -
              diagnostic: 550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup
        "#]],
    );
}

#[test]
fn office365_without_mime_behind_an_mbox_line() {
    check(
        "lhost-office365-02.eml",
        expect![[r#"
            format: exchange
            message-id: <c302b7e8-9b97-40ef-90eb-313cc6c25133@NYAAAAN.example.org> (quoted-text)
            subject: -
            reporting-mta: NEKOCHAN.example.prod.outlook.com
            recipient: kijitora@example.onmicrosoft.com
              action: failed  status: 5.1.1  kind: unknown-recipient
              remote-mta: -
              diagnostic: 550 5.1.1 RESOLVER.ADR.RecipNotFound; not found
        "#]],
    );
}

#[test]
fn office365_with_a_delivery_status_part() {
    check(
        "lhost-office365-03.eml",
        expect![[r#"
            format: rfc3464
            message-id: <000000000000.2222.22222222222200000000@NEKO-NYAAN> (quoted-text)
            subject: Nyaan
            reporting-mta: NEKONYAAN22.sotoneko.prod.outlook.com
            recipient: kijitora@example.com
              action: failed  status: 5.1.0  kind: rejected
              remote-mta: neko-smtp-02-22.prod.cats.secureserver.net
              diagnostic: 550 5.1.0 192.0.2.222 is not allowed to send from <example.net> per it's SPF Record. Please inspect your SPF settings, and try again. IB508 <http://x.co/srbounce>
        "#]],
    );
}

#[test]
fn exchange_2007_unknown_recipient() {
    check(
        "lhost-exchange2007-01.eml",
        expect![[r#"
            format: rfc3464
            message-id: - (-)
            subject: Nyaan
            reporting-mta: mx4.example.org
            recipient: mikeneko@example.co.jp
              action: failed  status: 5.1.1  kind: unknown-recipient
              remote-mta: -
              diagnostic: 550 5.1.1 RESOLVER.ADR.RecipNotFound; not found
        "#]],
    );
}

#[test]
fn exchange_2007_mailbox_full_truncated_mid_attachment() {
    check(
        "lhost-exchange2007-02.eml",
        expect![[r#"
            format: rfc3464
            message-id: <20110429233445.FFFFFFFFEEE@neko.example.com> (returned-message)
            subject: Nyaan
            reporting-mta: qs.example.edu
            recipient: kijitora@example.edu (original kijitora@example.edu)
              action: failed  status: 5.2.2  kind: mailbox-full
              remote-mta: -
              diagnostic: 550 5.2.2 STOREDRV.Deliver: mailbox full. The following information should help identify the cause: "MapiExceptionShutoffQuotaExceeded:00.00000:FF000000, 00.00000:0000000094000000000000000000000000000000, 000.00000:00000000, 000.00000:FF000000, 000.00000:DD040000, 0.00000:00000000, 0.00002:FF000000, 000.00000:EEE00000, 000.0000:00000000, 000.00000:EE000000, 0.0000:FF000000, 0.0000:FFFFF000, 0.0000:00000000, 0.0000:00000000, 0.0000:00000000, 0.0000:00000000, 0.0000:00000000, 0.00000:FFFF0000, 0.0000:00000000, 000.0000:FF000000, 0.00000:FFFFFFFF, 000.00000:EEEE0000, 0.00000:00000000, 0.00000:00000000, 0.00000:00000000, 0.0000:00000000, 0.00000:00000000, 0.00000:00000000, 0.00000:EEEE0000, 0.00000:EEEE0000".
        "#]],
    );
}

#[test]
fn exchange_2007_too_large_with_a_broken_closing_boundary() {
    check(
        "lhost-exchange2007-03.eml",
        expect![[r#"
            format: rfc3464
            message-id: <20100429233445.FF00FFEE0000@r2.example.org> (returned-message)
            subject: Nyaan
            reporting-mta: neko.example.com
            recipient: kijitora@neko.example.com
              action: failed  status: 5.2.3  kind: too-large
              remote-mta: -
              diagnostic: 550 5.2.3 RESOLVER.RST.RecipSizeLimit; message too large for this recipient
        "#]],
    );
}

#[test]
fn gmail_plain_text() {
    check(
        "lhost-gmail-01.eml",
        expect![[r#"
            format: gmail
            message-id: <D992C2C3-F175-4C4D-97E2-53A90E4E5BF5@gmail.com> (quoted-text)
            subject: TEST FROM GMAIL.COM
            reporting-mta: -
            recipient: userunknown@example.jp
              action: failed  status: 5.1.1  kind: unknown-recipient
              remote-mta: mx.example.jp
              diagnostic: 550 5.1.1 <userunknown@example.jp>... User Unknown
        "#]],
    );
}

#[test]
fn postfix_expanded_alias_and_empty_returned_message() {
    check(
        "lhost-postfix-01.eml",
        expect![[r#"
            format: rfc3464
            message-id: - (-)
            subject: -
            reporting-mta: p351355.pool.example.ne.jp
            recipient: r@p351355.pool.example.ne.jp (original kijitora@example.org)
              action: failed  status: 5.1.1  kind: unknown-recipient
              remote-mta: -
              diagnostic: procmail: Couldn't create "/var/spool/mail/neko" id: r.example.org: No such user
        "#]],
    );
}

#[test]
fn postfix_two_recipients() {
    check(
        "lhost-postfix-02.eml",
        expect![[r#"
            format: rfc3464
            message-id: - (-)
            subject: test
            reporting-mta: smtp.example.com
            recipient: filtered@example.co.jp (original filtered@example.co.jp)
              action: failed  status: 5.2.1  kind: unknown-recipient
              remote-mta: mx.example.co.jp
              diagnostic: 550 5.2.1 <filtered@example.co.jp>... User Unknown
            recipient: userunknown@example.co.jp (original userunknown@example.co.jp)
              action: failed  status: 5.1.1  kind: unknown-recipient
              remote-mta: mx.example.co.jp
              diagnostic: 550 5.1.1 <userunknown@example.co.jp>... User Unknown
        "#]],
    );
}

#[test]
fn postfix_generic_status_read_from_the_answer() {
    check(
        "lhost-postfix-03.eml",
        expect![[r#"
            format: rfc3464
            message-id: <20140701000000.000000000000@e1.example.ne.jp> (returned-message)
            subject: Message
            reporting-mta: e1.example.ne.jp
            recipient: kijitora@example.net (original kijitora@example.net)
              action: failed  status: 5.0.0  kind: unknown-recipient
              remote-mta: mail.example.net
              diagnostic: 550 Unknown user kijitora@example.net
        "#]],
    );
}

#[test]
fn exim_plain_text() {
    check(
        "lhost-exim-01.eml",
        expect![[r#"
            format: exim
            message-id: <E1P1ce6-000Egt-GZ@e1.example.org> (quoted-text)
            subject: -
            reporting-mta: -
            recipient: kijitora@example.ed.jp
              action: failed  status: 5.7.0  kind: rejected
              remote-mta: mx.example.jp
              diagnostic: 550 5.7.0 <shironeko@example.jp>... Please use the smtp server of your ISP.
        "#]],
    );
}

#[test]
fn exim_two_recipients() {
    check(
        "lhost-exim-02.eml",
        expect![[r#"
            format: exim
            message-id: <E1X58pB-0004bW-2s@marutamachi.example.org> (quoted-text)
            subject: test from Exim 1
            reporting-mta: -
            recipient: kijitora@example.jp
              action: failed  status: 5.1.1  kind: unknown-recipient
              remote-mta: mx.example.jp
              diagnostic: 550 5.1.1 <kijitora@example.jp>... User Unknown
            recipient: sabatora@example.jp
              action: failed  status: 5.2.1  kind: unknown-recipient
              remote-mta: mx.example.jp
              diagnostic: 550 5.2.1 <sabatora@example.jp>... User Unknown
        "#]],
    );
}

#[test]
fn rfc3464_sendmail() {
    check(
        "rfc3464-01.eml",
        expect![[r#"
            format: rfc3464
            message-id: <E1C50F1B-1C83-4820-BC36-AC6FBFBE8568@example.org> (returned-message)
            subject: バウンスメールのテスト(日本語)
            reporting-mta: smtpgw.example.jp
            recipient: userunknown@bouncehammer.jp
              action: failed  status: 5.1.1  kind: unknown-recipient
              remote-mta: mx.bouncehammer.jp
              diagnostic: 550 5.1.1 <userunknown@bouncehammer.jp>... User Unknown
        "#]],
    );
}

#[test]
fn rfc3464_policy_rejection() {
    check(
        "rfc3464-03.eml",
        expect![[r#"
            format: rfc3464
            message-id: <220000000022.0000.0000000000000000222@NEKO.NYAAN> (returned-message)
            subject: Nyaan
            reporting-mta: smtpd-02.example.org
            recipient: kijitora@example.com (original kijitora@example.com)
              action: failed  status: 5.0.0  kind: rejected
              remote-mta: 192.0.2.2
              diagnostic: 554 Mail from nekonyaan@example.net rejected for policy reasons.
        "#]],
    );
}

// ---------------------------------------------------------------------------
// Beyond the samples: the variants real servers write.

/// A `multipart/report` with the given extra top-level headers and parts
/// (each part: its headers, a blank line, its body).
fn report(headers: &str, parts: &[&str]) -> Vec<u8> {
    let mut out = format!(
        "From: MAILER-DAEMON@mx.example.com\r\nSubject: Delivery Status Notification\r\n\
         Message-ID: <dsn-1@mx.example.com>\r\n{headers}MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"BB\"\r\n\r\n"
    );
    for part in parts {
        out.push_str("--BB\r\n");
        out.push_str(part);
        out.push_str("\r\n");
    }
    out.push_str("--BB--\r\n");
    out.into_bytes()
}

const NOTICE: &str = "Content-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n";

#[test]
fn delays_and_successes_are_reports_too() {
    let raw = report(
        "In-Reply-To: <factura-7@contoso.com>\r\n",
        &[
            NOTICE,
            "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n\
             Final-Recipient: rfc822; slow@example.org\r\nAction: delayed\r\nStatus: 4.4.7\r\n\
             Diagnostic-Code: smtp; 421 4.4.7 try again later\r\n\r\n\
             Final-Recipient: rfc822; fine@example.org\r\nAction: delivered (to mailbox)\r\nStatus: 2.0.0\r\n\r\n\
             Final-Recipient: rfc822; list@example.org\r\nAction: expanded\r\nStatus: 2.0.0\r\n\r\n\
             Final-Recipient: rfc822; gw@example.org\r\nAction: relayed\r\nStatus: 2.0.0\r\n",
        ],
    );
    let r = parse(&raw).unwrap();
    expect![[r#"
        format: rfc3464
        message-id: <factura-7@contoso.com> (reply-header)
        subject: -
        reporting-mta: mx.example.com
        recipient: slow@example.org
          action: delayed  status: 4.4.7  kind: delayed
          remote-mta: -
          diagnostic: 421 4.4.7 try again later
        recipient: fine@example.org
          action: delivered  status: 2.0.0  kind: -
          remote-mta: -
          diagnostic: -
        recipient: list@example.org
          action: expanded  status: 2.0.0  kind: -
          remote-mta: -
          diagnostic: -
        recipient: gw@example.org
          action: relayed  status: 2.0.0  kind: -
          remote-mta: -
          diagnostic: -
    "#]]
    .assert_eq(&render(&r));
}

#[test]
fn sloppy_delivery_status_fields_are_still_read() {
    // Lower-case names, no blank line between recipients, a continuation
    // line that lost its indentation, an Action missing (the status class
    // says), a Status missing (the answer's code says), an Original-Recipient
    // that starts the next recipient, a comment after the status, base64.
    let body = "reporting-mta: dns;mx.example.com\r\n\r\n\
                final-recipient: RFC822;<One@Example.org>\r\nACTION: Failed\r\nstatus: 5.1.1 (bad mailbox)\r\n\
                diagnostic-code: smtp; 550 5.1.1 the mailbox\r\ndoes not exist here\r\n\
                Final-Recipient: rfc822;two@example.org\r\nStatus: 5.2.2\r\n\r\n\
                Final-Recipient: rfc822;three@example.org\r\nAction: bounced\r\n\r\n\
                Final-Recipient: rfc822;four@example.org\r\nAction: failed\r\n\
                Diagnostic-Code: smtp; 552 5.3.4 message too big for system\r\n\
                Original-Recipient: rfc822;Five@example.org\r\n\
                Final-Recipient: rfc822;five@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n";
    let encoded = base64(body.as_bytes());
    let part = format!(
        "Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}"
    );
    let raw = report("", &[NOTICE, &part]);
    expect![[r#"
        format: rfc3464
        message-id: - (-)
        subject: -
        reporting-mta: mx.example.com
        recipient: One@Example.org
          action: failed  status: 5.1.1  kind: unknown-recipient
          remote-mta: -
          diagnostic: 550 5.1.1 the mailbox does not exist here
        recipient: two@example.org
          action: failed  status: 5.2.2  kind: mailbox-full
          remote-mta: -
          diagnostic: -
        recipient: four@example.org
          action: failed  status: 5.3.4  kind: too-large
          remote-mta: -
          diagnostic: 552 5.3.4 message too big for system
        recipient: five@example.org (original Five@example.org)
          action: failed  status: 5.1.1  kind: unknown-recipient
          remote-mta: -
          diagnostic: -
    "#]]
    .assert_eq(&render(&parse(&raw).unwrap()));
}

#[test]
fn global_forms_and_returned_headers() {
    let raw = report(
        "",
        &[
            NOTICE,
            "Content-Type: message/global-delivery-status\r\n\r\n\
             Final-Recipient: utf-8; josé@ejemplo.es\r\nAction: failed\r\nStatus: 5.1.1\r\n",
            "Content-Type: text/rfc822-headers\r\n\r\nSubject: Factura\r\n\
             Message-ID: <factura-9@contoso.com>\r\n",
        ],
    );
    let r = parse(&raw).unwrap();
    assert_eq!(r.recipients[0].final_recipient, "josé@ejemplo.es");
    assert_eq!(r.original_message_id.as_deref(), Some("<factura-9@contoso.com>"));
    assert_eq!(r.message_id_source, Some(MessageIdSource::ReturnedMessage));

    let raw = report(
        "",
        &[
            NOTICE,
            "Content-Type: message/delivery-status\r\n\r\n\
             Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n",
            "Content-Type: message/global-headers\r\n\r\nMessage-ID: <g@contoso.com>\r\n",
        ],
    );
    assert_eq!(parse(&raw).unwrap().original_message_id.as_deref(), Some("<g@contoso.com>"));
}

#[test]
fn a_report_about_a_g360_mail_names_its_uid() {
    let uid = g360_mail_core::MessageUid::new_random();
    let id = uid.internet_message_id("contoso.com");
    let returned = format!("Content-Type: text/rfc822-headers\r\n\r\nMessage-ID: {id}\r\n");
    let raw = report(
        "",
        &[
            NOTICE,
            "Content-Type: message/delivery-status\r\n\r\n\
             Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n",
            &returned,
        ],
    );
    let r = parse(&raw).unwrap();
    assert_eq!(r.original_message_id.as_deref(), Some(id.as_str()));
    assert_eq!(r.original_uid(), Some(uid));
    // Another sender's Message-ID names no uid, even when it is a UUID (Apple Mail's).
    assert_eq!(parse(&data("rfc3464-01.eml")).unwrap().original_uid(), None);
}

#[test]
fn the_reports_own_message_id_is_never_taken_for_the_original() {
    // Only the report's own id in the returned headers and in References.
    let raw = report(
        "References: <dsn-1@mx.example.com>\r\n",
        &[
            NOTICE,
            "Content-Type: message/delivery-status\r\n\r\n\
             Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n",
            "Content-Type: text/rfc822-headers\r\n\r\nMessage-ID: <dsn-1@mx.example.com>\r\n",
        ],
    );
    let r = parse(&raw).unwrap();
    assert_eq!(r.original_message_id, None);
    assert_eq!(r.message_id_source, None);

    // The returned message wins over the reply headers.
    let raw = report(
        "In-Reply-To: <reply@contoso.com>\r\nReferences: <first@contoso.com> <reply@contoso.com>\r\n",
        &[
            NOTICE,
            "Content-Type: message/delivery-status\r\n\r\n\
             Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n",
            "Content-Type: message/rfc822\r\n\r\nMessage-ID: <returned@contoso.com>\r\nSubject: x\r\n\r\nbody\r\n",
        ],
    );
    let r = parse(&raw).unwrap();
    assert_eq!(r.original_message_id.as_deref(), Some("<returned@contoso.com>"));
    // References alone: its last id is the mail answered.
    let raw = report(
        "References: <first@contoso.com>\r\n <last@contoso.com>\r\n",
        &[
            NOTICE,
            "Content-Type: message/delivery-status\r\n\r\n\
             Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n",
        ],
    );
    let r = parse(&raw).unwrap();
    assert_eq!(r.original_message_id.as_deref(), Some("<last@contoso.com>"));
    assert_eq!(r.message_id_source, Some(MessageIdSource::ReplyHeader));
}

#[test]
fn exchange_2010_answers_and_delays_in_text() {
    let raw = "From: postmaster@contoso.com\r\nSubject: Undeliverable: Factura\r\n\
               Message-ID: <ndr@contoso.com>\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
               Delivery has failed to these recipients or groups:\r\n\r\n\
               Cliente<mailto:cliente@example.org>\r\nThe e-mail address you entered couldn't be found.\r\n\r\n\
               Diagnostic information for administrators:\r\n\r\n\
               Generating server: EX1.contoso.com\r\n\r\n\
               cliente@example.org\r\n\
               #< #5.1.1 smtp;550 5.1.1 RESOLVER.ADR.RecipNotFound; not found> #SMTP#\r\n\
               otro@example.org\r\n\
               #< #5.7.1 smtp;550 5.7.1 RESOLVER.RST.NotAuthorized; not authorized> #SMTP#\r\n\r\n\
               Original message headers:\r\n\r\nMessage-ID: <factura@contoso.com>\r\nSubject: Factura\r\n";
    expect![[r#"
        format: exchange
        message-id: <factura@contoso.com> (quoted-text)
        subject: Factura
        reporting-mta: EX1.contoso.com
        recipient: cliente@example.org
          action: failed  status: 5.1.1  kind: unknown-recipient
          remote-mta: -
          diagnostic: 550 5.1.1 RESOLVER.ADR.RecipNotFound; not found
        recipient: otro@example.org
          action: failed  status: 5.7.1  kind: rejected
          remote-mta: -
          diagnostic: 550 5.7.1 RESOLVER.RST.NotAuthorized; not authorized
    "#]]
    .assert_eq(&render(&parse(raw.as_bytes()).unwrap()));

    let delayed = "From: postmaster@contoso.com\r\nSubject: Delivery delayed: Factura\r\n\
                   Content-Type: text/plain\r\n\r\n\
                   Delivery is delayed to these recipients or groups:\r\n\r\n\
                   cliente@example.org\r\n\r\nThis message hasn't been delivered yet. \
                   Delivery will continue to be attempted. 4.4.7\r\n";
    let r = parse(delayed.as_bytes()).unwrap();
    assert_eq!(r.format, ReportFormat::Exchange);
    assert_eq!(r.recipients[0].action, Action::Delayed);
    assert_eq!(r.recipients[0].kind, Some(BounceKind::Delayed));
    assert_eq!(r.recipients[0].status.map(|s| s.to_string()).as_deref(), Some("4.4.7"));
}

#[test]
fn text_fills_what_the_delivery_status_part_left_out() {
    let raw = report(
        "",
        &[
            "Content-Type: text/plain\r\n\r\nDiagnostic information for administrators:\r\n\r\n\
             Generating server: EX1.contoso.com\r\n\r\nA@example.org\r\nmx.example.org\r\n\
             Remote Server returned '550 5.2.2 mailbox is over\r\nquota'\r\n",
            "Content-Type: message/delivery-status\r\n\r\n\
             Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\n",
        ],
    );
    expect![[r#"
        format: rfc3464
        message-id: - (-)
        subject: -
        reporting-mta: EX1.contoso.com
        recipient: a@example.org
          action: failed  status: 5.2.2  kind: mailbox-full
          remote-mta: mx.example.org
          diagnostic: 550 5.2.2 mailbox is over quota
    "#]]
    .assert_eq(&render(&parse(&raw).unwrap()));
}

#[test]
fn gmail_delays_and_exim_without_an_address_list() {
    let gmail = "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\n\
                 Subject: Delivery Status Notification (Delay)\r\n\r\n\
                 This is an automatically generated Delivery Status Notification\r\n\r\n\
                 THIS IS A WARNING MESSAGE ONLY.\r\n\r\n\
                 Delivery to the following recipient has been delayed:\r\n\r\n     slow@example.org\r\n\r\n\
                 Message will be retried for 2 more day(s)\r\n";
    let r = parse(gmail.as_bytes()).unwrap();
    assert_eq!(r.format, ReportFormat::Gmail);
    assert_eq!(r.recipients[0].final_recipient, "slow@example.org");
    assert_eq!(r.recipients[0].kind, Some(BounceKind::Delayed));

    let exim = "From: Mail Delivery System <Mailer-Daemon@mx.example.org>\r\n\
                X-Failed-Recipients: a@example.org,\r\n  <b@example.org>\r\n\
                Subject: Mail delivery failed\r\n\r\n\
                The following address(es) failed:\r\n\r\n    (the list was lost) 550 5.1.1 unknown\r\n";
    let r = parse(exim.as_bytes()).unwrap();
    let got: Vec<_> = r.recipients.iter().map(|r| r.final_recipient.as_str()).collect();
    assert_eq!(got, ["a@example.org", "b@example.org"]);
    assert_eq!(r.recipients[0].status.map(|s| s.to_string()).as_deref(), Some("5.1.1"));
}

// ---------------------------------------------------------------------------
// Hostile input: never a panic, a clear "not a delivery report".

fn assert_not_a_report(raw: &[u8], reason: &str) {
    let err = parse(raw).expect_err("not a report");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.code(), Some(NOT_A_REPORT));
    assert_eq!(err.context_value("reason"), Some(reason), "{err}");
    assert!(err.to_string().starts_with("not a delivery report"), "{err}");
}

#[test]
fn ordinary_mail_and_garbage_are_not_reports() {
    assert_not_a_report(b"", "not-a-message");
    assert_not_a_report(b"\r\n\r\n", "not-a-message");
    assert_not_a_report(&[0xff, 0x00, 0xfe, 0x80, b'\n'], "not-a-message");
    assert_not_a_report(
        b"Subject: hola\r\nFrom: a@example.org\r\n\r\nUna factura.\r\n",
        "no-report-part",
    );
    // A read receipt is a report, but not about delivery.
    let mdn = "From: a@example.org\r\nSubject: Read: Factura\r\nMIME-Version: 1.0\r\n\
               Content-Type: multipart/report; report-type=disposition-notification; boundary=B\r\n\r\n\
               --B\r\nContent-Type: text/plain\r\n\r\nYour message was read.\r\n\
               --B\r\nContent-Type: message/disposition-notification\r\n\r\n\
               Final-Recipient: rfc822; a@example.org\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n\
               --B--\r\n";
    assert_not_a_report(mdn.as_bytes(), "no-report-part");
    // A delivery-status part that names nobody.
    let raw = report(
        "",
        &[NOTICE, "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n"],
    );
    assert_not_a_report(&raw, "no-recipient");
    // The report's wording, but no address anywhere.
    let raw = "Subject: Undeliverable\r\n\r\nDiagnostic information for administrators:\r\n\r\nnothing here\r\n";
    assert_not_a_report(raw.as_bytes(), "no-report-part");
}

#[test]
fn wrong_charsets_do_not_break_the_report() {
    // Latin-1 bytes declared as UTF-8, an unknown charset, and ISO-2022-JP
    // (not decoded by this build) with 8-bit garbage.
    let raw: Vec<u8> = [
        b"From: MAILER-DAEMON@mx.example.com\r\nMIME-Version: 1.0\r\n\
          Content-Type: multipart/report; report-type=delivery-status; boundary=BB\r\n\r\n"
            .as_slice(),
        b"--BB\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nEl mensaje no se entreg\xf3.\r\n",
        b"--BB\r\nContent-Type: message/delivery-status; charset=x-klingon\r\n\r\n\
          Final-Recipient: rfc822; jos\xe9@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\
          Diagnostic-Code: smtp; 550 5.1.1 usuario desconocido \xff\xfe\r\n",
        b"--BB\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: text/plain; charset=iso-2022-jp\r\n\
          Message-ID: <jp@example.jp>\r\nSubject: \x1b$B\xff\xff\x1b(B\r\n\r\n\x80\x81\r\n--BB--\r\n",
    ]
    .concat();
    let r = parse(&raw).unwrap();
    assert_eq!(r.recipients[0].final_recipient, "jos\u{fffd}@example.org");
    assert_eq!(r.recipients[0].kind, Some(BounceKind::UnknownRecipient));
    assert_eq!(
        r.recipients[0].diagnostic.as_deref(),
        Some("550 5.1.1 usuario desconocido \u{fffd}\u{fffd}")
    );
    assert_eq!(r.original_message_id.as_deref(), Some("<jp@example.jp>"));
}

#[test]
fn truncated_reports_never_panic() {
    for name in SAMPLES {
        let raw = data(name);
        let step = (raw.len() / 150).max(1);
        for end in (0..raw.len()).step_by(step) {
            if let Err(e) = parse(&raw[..end]) {
                assert_eq!(e.code(), Some(NOT_A_REPORT), "{name} cut at {end}: {e}");
            }
        }
    }
}

#[test]
fn mangled_reports_never_panic() {
    // Deterministic byte mutations (xorshift), favouring the bytes MIME cares
    // about and multi-byte characters.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    const NASTY: &[u8] = b"-\r\n:;<>\"=\t @.#'";
    for name in SAMPLES {
        let original = data(name);
        for _ in 0..100 {
            let mut raw = original.clone();
            for _ in 0..(next() % 12 + 1) {
                let at = (next() % raw.len() as u64) as usize;
                match next() % 5 {
                    0 => raw[at] = NASTY[(next() % NASTY.len() as u64) as usize],
                    4 => {
                        // Multi-byte characters, where byte offsets and char boundaries part.
                        let wide = ["ñ", "€", "😀", "  ñ ", "\u{feff}"][(next() % 5) as usize];
                        raw.splice(at..at, wide.bytes());
                    }
                    1 => raw[at] = next() as u8,
                    2 => {
                        raw.remove(at);
                    }
                    _ => {
                        let len = (next() % 64) as usize;
                        let from = (next() % raw.len() as u64) as usize;
                        let chunk: Vec<u8> = raw[from..(from + len).min(raw.len())].to_vec();
                        raw.splice(at..at, chunk);
                    }
                }
            }
            if let Err(e) = parse(&raw) {
                assert_eq!(e.code(), Some(NOT_A_REPORT), "{name}: {e}");
            }
        }
    }
}

#[test]
fn multi_byte_text_where_the_parser_cuts_never_panics() {
    // Each of the text families' cuts (after "host ", around quotes, before
    // "##") with multi-byte characters and odd spacing at the cut.
    let exim = String::from_utf8(data("lhost-exim-02.eml")).unwrap();
    for (from, to) in [
        ("host mx.example.jp [192.0.2.153]", "host  ñ [192.0.2.153]"),
        ("host mx.example.jp [192.0.2.153]", "host \u{a0}mx.example.jp ñ[1]:"),
        ("kijitora@example.jp\n", "kijitora@example.jp\n    host  😀\n"),
        ("User Unknown", "User Unknown ñ##€"),
    ] {
        let raw = exim.replace(from, to);
        assert!(parse(raw.as_bytes()).is_ok(), "{to}");
    }
    let exchange = String::from_utf8(data("lhost-office365-02.eml")).unwrap();
    for (from, to) in [
        ("Remote Server returned '", "Remote Server returned 'ñ"),
        (
            "Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'",
            "Remote Server returnedñ",
        ),
        ("Generating server: ", "Generating server:😀"),
        ("kijitora@example.onmicrosoft.com\nRemote", "#< #ñ smtp;€> #SMTP#\nRemote"),
    ] {
        let raw = exchange.replace(from, to);
        let _ = parse(raw.as_bytes());
    }
}

#[test]
fn huge_input_is_read_up_to_the_limit() {
    // A real report returning a 40 MiB attachment: the report comes first and is read.
    let mut raw = data("rfc3464-01.eml");
    let cut = raw.windows(4).rposition(|w| w == b"--r9").unwrap();
    raw.truncate(cut);
    raw.extend_from_slice(
        b"--r9G5FZh9018575.1381900535/smtpgw.example.jp\r\nContent-Type: application/octet-stream\r\n\
          Content-Transfer-Encoding: base64\r\n\r\n",
    );
    let line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
    while raw.len() < 40 << 20 {
        raw.extend_from_slice(line);
    }
    let r = parse(&raw).unwrap();
    assert_eq!(r.recipients[0].final_recipient, "userunknown@bouncehammer.jp");
    assert_eq!(
        r.original_message_id.as_deref(),
        Some("<E1C50F1B-1C83-4820-BC36-AC6FBFBE8568@example.org>")
    );

    // 40 MiB of one header line, of blank lines, of recipients' worth of text.
    let long_header = [b"X-Long: ".as_slice(), &vec![b'a'; 40 << 20]].concat();
    assert_not_a_report(&long_header, "no-report-part");
    assert_not_a_report(&vec![b'\n'; 40 << 20], "not-a-message");
    let mut many =
        b"Subject: Undeliverable\r\n\r\nDiagnostic information for administrators:\r\n".to_vec();
    while many.len() < 20 << 20 {
        many.extend_from_slice(b"a@example.org\r\n#550 5.1.1 no ##\r\n");
    }
    let r = parse(&many).unwrap();
    assert!(r.recipients.len() > 1000, "{}", r.recipients.len());
}

const SAMPLES: &[&str] = &[
    "lhost-exchange2007-01.eml",
    "lhost-exchange2007-02.eml",
    "lhost-exchange2007-03.eml",
    "lhost-exim-01.eml",
    "lhost-exim-02.eml",
    "lhost-gmail-01.eml",
    "lhost-office365-01.eml",
    "lhost-office365-02.eml",
    "lhost-office365-03.eml",
    "lhost-postfix-01.eml",
    "lhost-postfix-02.eml",
    "lhost-postfix-03.eml",
    "rfc3464-01.eml",
    "rfc3464-03.eml",
];

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
