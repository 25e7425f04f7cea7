#![doc = include_str!("../README.md")]

mod parse;
mod render;

pub use parse::parse;
pub use render::{RenderOptions, render};

#[cfg(test)]
mod tests {
    use g360_mail_core::{Attachment, EmailAddress, Importance, OutgoingMessage, Timestamp};

    use super::*;

    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n";
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01";

    fn date() -> Timestamp {
        "2026-11-29T10:15:30Z".parse().unwrap()
    }

    fn sender() -> EmailAddress {
        "Facturación Ñandú <facturas@contoso.com>".parse().unwrap()
    }

    fn full() -> OutgoingMessage {
        let pdf = Attachment::new("Factura nº 42.pdf", "application/pdf", PDF.to_vec()).unwrap();
        let logo = Attachment::new("logo.png", "image/png", PNG.to_vec())
            .unwrap()
            .inline("logo@g360")
            .unwrap();
        OutgoingMessage::builder()
            .to("José Müller <jose@example.com>")
            .unwrap()
            .to("plain@example.com")
            .unwrap()
            .cc("\"Pérez, Ana\" <ana@example.org>")
            .unwrap()
            .bcc("Auditoría <audit@example.net>")
            .unwrap()
            .reply_to("Soporte <soporte@contoso.com>")
            .unwrap()
            .subject("Factura 2026-0042 — ¡vencida! 😀")
            .text("Estimado cliente:\n\nAdjuntamos la factura nº 42.\n")
            .html("<p>Estimado cliente:</p><p>Adjuntamos la factura nº 42.</p><img src=\"cid:logo@g360\">")
            .attach(pdf)
            .attach(logo)
            .header("X-G360-Invoice", "2026-0042")
            .importance(Importance::High)
            .build()
            .unwrap()
    }

    fn stored() -> RenderOptions {
        RenderOptions { include_bcc: true, date: Some(date()) }
    }

    /// The top-level header block, unfolded: one `(name, value)` per header.
    fn headers(raw: &[u8]) -> Vec<(String, String)> {
        let text = String::from_utf8(raw.to_vec()).unwrap();
        let block = text.split("\r\n\r\n").next().unwrap();
        let mut out: Vec<(String, String)> = Vec::new();
        for line in block.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                out.last_mut().unwrap().1.push_str(line);
            } else {
                let (name, value) = line.split_once(':').unwrap();
                out.push((name.to_owned(), value.trim().to_owned()));
            }
        }
        out
    }

    fn header<'a>(all: &'a [(String, String)], name: &str) -> Option<&'a str> {
        all.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    #[test]
    fn round_trip_keeps_every_field() {
        let message = full();
        let raw = render(&message, &sender(), &stored()).unwrap();
        let got = parse("m-1", &raw).unwrap();

        assert_eq!(got.id, "m-1");
        assert_eq!(got.from.as_ref(), Some(&sender()));
        assert_eq!(got.to, message.to());
        assert_eq!(got.cc, message.cc());
        assert_eq!(got.bcc, message.bcc());
        assert_eq!(got.reply_to, message.reply_to());
        assert_eq!(got.subject, message.subject());
        assert_eq!(got.sent_at, Some(date()));
        assert_eq!(got.internet_message_id, Some(message.uid().internet_message_id("contoso.com")));
        assert_eq!(got.importance, Importance::High);
        assert_eq!(got.text.as_deref().map(|t| t.replace("\r\n", "\n")).as_deref(), message.text());
        assert_eq!(got.html.as_deref(), message.html());
        assert!(got.preview.as_deref().unwrap().starts_with("Estimado cliente: Adjuntamos"));
        assert!(got.has_attachments);
        assert_eq!(got.attachments.len(), 2);

        let pdf = got.attachments.iter().find(|a| a.content_type == "application/pdf").unwrap();
        assert_eq!(pdf.name, "Factura nº 42.pdf");
        assert_eq!(pdf.bytes.as_deref(), Some(PDF));
        assert_eq!(pdf.size, PDF.len() as u64);
        assert!(!pdf.inline);
        assert_eq!(pdf.content_id, None);

        let logo = got.attachments.iter().find(|a| a.content_type == "image/png").unwrap();
        assert_eq!(logo.name, "logo.png");
        assert_eq!(logo.bytes.as_deref(), Some(PNG));
        assert!(logo.inline);
        assert_eq!(logo.content_id.as_deref(), Some("logo@g360"));

        let all = headers(&raw);
        assert_eq!(header(&all, "X-G360-Invoice"), Some("2026-0042"));
        assert_eq!(header(&all, "Importance"), Some("high"));
        assert_eq!(header(&all, "X-Priority"), Some("1"));
        assert_eq!(header(&all, "MIME-Version"), Some("1.0"));
        assert_eq!(header(&all, "Date"), Some("Sun, 29 Nov 2026 10:15:30 +0000"));
        // Non-ASCII header text travels as encoded words, never raw.
        assert!(header(&all, "Subject").unwrap().contains("=?utf-8?"));
        assert!(all.iter().all(|(n, v)| n.is_ascii() && v.is_ascii()), "{all:?}");
    }

    #[test]
    fn nests_related_in_alternative_in_mixed() {
        let raw = String::from_utf8(render(&full(), &sender(), &stored()).unwrap()).unwrap();
        let mixed = raw.find("multipart/mixed").unwrap();
        let alternative = raw.find("multipart/alternative").unwrap();
        let related = raw.find("multipart/related").unwrap();
        assert!(mixed < alternative && alternative < related, "{raw}");

        let text_only = OutgoingMessage::builder()
            .to("a@example.com")
            .unwrap()
            .subject("x")
            .text("hola")
            .build()
            .unwrap();
        let raw = String::from_utf8(render(&text_only, &sender(), &stored()).unwrap()).unwrap();
        assert!(!raw.contains("multipart/"), "{raw}");
        assert!(raw.contains("Content-Type: text/plain; charset=utf-8"), "{raw}");
    }

    #[test]
    fn keeps_bcc_only_when_asked() {
        let message = full();
        let submission = render(
            &message,
            &sender(),
            &RenderOptions { date: Some(date()), ..RenderOptions::default() },
        )
        .unwrap();
        assert_eq!(header(&headers(&submission), "Bcc"), None);
        assert!(!String::from_utf8_lossy(&submission).contains("audit@example.net"));
        assert!(parse("x", &submission).unwrap().bcc.is_empty());

        let stored = render(&message, &sender(), &stored()).unwrap();
        assert!(header(&headers(&stored), "Bcc").unwrap().contains("audit@example.net"));

        // A message with blind copies only still renders (lettre needs a recipient).
        let bcc_only = OutgoingMessage::builder()
            .bcc("hidden@example.com")
            .unwrap()
            .text("x")
            .build()
            .unwrap();
        let raw = render(&bcc_only, &sender(), &RenderOptions::default()).unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("hidden@example.com"));
    }

    #[test]
    fn writes_crlf_lines_of_at_most_998_octets() {
        let long_word = "x".repeat(MAX_HEADER_VALUE);
        let long_name = format!("{}.pdf", "ñ".repeat(251));
        for subject in ["ñ".repeat(990), "s".repeat(998), format!("a {}", "é".repeat(996))] {
            let message = OutgoingMessage::builder()
                .to("a@example.com")
                .unwrap()
                .subject(subject.clone())
                .text(format!("{}\nbare lf\r\ncrlf\rcr only\n", "a".repeat(2000)))
                .html(format!("<p>{}</p>\n", "b".repeat(3000)))
                .header("X-Long", long_word.clone())
                .header("X-Spaced", "word ".repeat(199).trim_end().to_owned())
                .attach(Attachment::new(&long_name, "application/pdf", vec![0xAB; 5000]).unwrap())
                .build()
                .unwrap();
            let raw = render(&message, &sender(), &stored()).unwrap();
            for (i, line) in raw.split(|&b| b == b'\n').enumerate() {
                assert!(line.len() <= 998 + 1, "line {i} has {} octets", line.len());
            }
            for (i, &b) in raw.iter().enumerate() {
                if b == b'\n' {
                    assert_eq!(raw[i - 1], b'\r', "bare LF at {i}");
                }
                if b == b'\r' {
                    assert_eq!(raw.get(i + 1), Some(&b'\n'), "bare CR at {i}");
                }
            }
            let got = parse("x", &raw).unwrap();
            assert_eq!(got.subject, subject);
            assert!(got.text.unwrap().starts_with(&"a".repeat(2000)));
            assert_eq!(got.attachments[0].name, long_name);
            // Custom headers are unstructured text: a reader decodes their encoded words.
            let parser = mail_parser::MessageParser::default().header_text("X-Long");
            let mail = parser.parse(&raw).unwrap();
            assert_eq!(mail.header("X-Long").and_then(|h| h.as_text()), Some(long_word.as_str()));
        }
    }

    const MAX_HEADER_VALUE: usize = g360_mail_core::MAX_HEADER_VALUE_BYTES;

    #[test]
    fn no_header_can_be_injected() {
        // The core builder refuses line breaks outright ...
        for evil in ["x\r\nBcc: all@evil.test", "x\nX-Injected: 1", "x\rX-Injected: 1"] {
            assert!(
                OutgoingMessage::builder()
                    .to("a@example.com")
                    .unwrap()
                    .subject(evil)
                    .build()
                    .is_err()
            );
            let header =
                OutgoingMessage::builder().to("a@example.com").unwrap().header("X-A", evil);
            assert!(header.build().is_err());
            assert!(EmailAddress::parse(&format!("{evil} <a@example.com>")).is_err());
        }
        // ... and what it lets through stays inside its own header.
        let message = OutgoingMessage::builder()
            .to("\"Evil: X-Injected: 1, \\\"q\\\"\" <a@example.com>")
            .unwrap()
            .subject("Bcc: all@evil.test X-Injected: 1")
            .header("X-Note", "Bcc: all@evil.test\tX-Injected: 1")
            .text("body\r\nX-Injected: 1\r\n\r\nBcc: all@evil.test")
            .build()
            .unwrap();
        let raw = render(&message, &sender(), &RenderOptions::default()).unwrap();
        let names: Vec<String> = headers(&raw).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "From",
                "Subject",
                "Date",
                "Message-ID",
                "To",
                "X-Note",
                "MIME-Version",
                "Content-Type",
                "Content-Transfer-Encoding"
            ]
        );
        let got = parse("x", &raw).unwrap();
        assert!(got.bcc.is_empty());
        assert_eq!(got.subject, message.subject());
        assert_eq!(got.to[0].name(), Some("Evil: X-Injected: 1, \"q\""));
    }

    #[test]
    fn writes_importance_headers() {
        let build = |importance| {
            let m = OutgoingMessage::builder()
                .to("a@example.com")
                .unwrap()
                .text("x")
                .importance(importance)
                .build()
                .unwrap();
            render(&m, &sender(), &RenderOptions::default()).unwrap()
        };
        let low = build(Importance::Low);
        assert_eq!(header(&headers(&low), "Importance"), Some("low"));
        assert_eq!(header(&headers(&low), "X-Priority"), Some("5"));
        assert_eq!(parse("x", &low).unwrap().importance, Importance::Low);
        let normal = build(Importance::Normal);
        assert_eq!(header(&headers(&normal), "Importance"), None);
        assert_eq!(header(&headers(&normal), "X-Priority"), None);
        assert_eq!(parse("x", &normal).unwrap().importance, Importance::Normal);
    }

    #[test]
    fn refuses_addresses_lettre_cannot_write() {
        let m = OutgoingMessage::builder().to("a@example.com").unwrap().text("x").build().unwrap();
        let from = EmailAddress::new("ops@[192.168.0.1]").unwrap();
        let err = render(&m, &from, &RenderOptions::default()).unwrap_err();
        assert_eq!(err.kind(), g360_mail_core::ErrorKind::InvalidInput);
        assert_eq!(err.code(), Some("address.unsupported"));
        assert_eq!(err.context_value("address"), Some("ops@[192.168.0.1]"));
    }
}
