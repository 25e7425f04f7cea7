//! [`classify`]: action, status code and diagnostic text to a [`BounceKind`].

use crate::report::{Action, BounceKind, StatusCode};

/// The kind of a recipient's result: `None` for the successful actions,
/// [`BounceKind::Delayed`] for a delay, else from the status code when it is
/// specific, then from words of the diagnostic, then from the status subject.
pub(crate) fn classify(
    action: Action,
    status: Option<StatusCode>,
    diagnostic: Option<&str>,
) -> Option<BounceKind> {
    match action {
        Action::Delivered | Action::Relayed | Action::Expanded => return None,
        Action::Delayed => return Some(BounceKind::Delayed),
        Action::Failed => {}
    }
    if let Some(kind) = status.and_then(specific) {
        return Some(kind);
    }
    if let Some(kind) = diagnostic.and_then(from_words) {
        return Some(kind);
    }
    Some(match status.map(StatusCode::subject) {
        Some(1) => BounceKind::UnknownRecipient,
        Some(7) => BounceKind::Rejected,
        _ => BounceKind::Other,
    })
}

/// Status codes whose meaning is clear on their own (RFC 3463, and the
/// details Exchange Online gives them). Generic ones (`X.0.0`, `X.1.0`,
/// `X.4.x`, `X.5.x`) are left to the diagnostic's words.
fn specific(status: StatusCode) -> Option<BounceKind> {
    Some(match (status.subject(), status.detail()) {
        // Bad mailbox, bad system, bad syntax, moved, Exchange's "not found" (5.1.10).
        (1, 1 | 2 | 3 | 6 | 10) => BounceKind::UnknownRecipient,
        // Bad sender address: a policy refusal of us, not of the recipient.
        (1, 7 | 8) => BounceKind::Rejected,
        // Mailbox disabled: the address cannot receive mail.
        (2, 1) => BounceKind::UnknownRecipient,
        (2, 2) => BounceKind::MailboxFull,
        (2, 3) | (3, 4) => BounceKind::TooLarge,
        (7, 0) => return None,
        (7, _) => BounceKind::Rejected,
        _ => return None,
    })
}

/// Words servers use in their answers, checked in this order; lower case.
const WORDS: &[(BounceKind, &[&str])] = &[
    (
        BounceKind::TooLarge,
        &["too large", "too big", "size limit", "exceeds the maximum", "message size exceeds"],
    ),
    (
        BounceKind::MailboxFull,
        &[
            "mailbox full",
            "mailbox is full",
            "over quota",
            "quota exceeded",
            "exceeded storage",
            "insufficient storage",
            "not enough disk space",
        ],
    ),
    (
        BounceKind::UnknownRecipient,
        &[
            "user unknown",
            "unknown user",
            "no such user",
            "no such mailbox",
            "unknown recipient",
            "recipient unknown",
            "invalid recipient",
            "recipnotfound",
            "recipientnotfound",
            "recipient not found",
            "mailbox not found",
            "mailbox unavailable",
            "does not exist",
            "doesn't exist",
            "address not found",
            "no mailbox",
        ],
    ),
    (
        BounceKind::Rejected,
        &[
            "spam",
            "blocked",
            "blacklist",
            "blocklist",
            "policy",
            "spf",
            "dmarc",
            "dkim",
            "reputation",
            "access denied",
            "not allowed",
            "not authorized",
            "rejected",
        ],
    ),
];

fn from_words(diagnostic: &str) -> Option<BounceKind> {
    let text = diagnostic.to_lowercase();
    WORDS.iter().find(|(_, words)| words.iter().any(|w| text.contains(w))).map(|(kind, _)| *kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(action: Action, status: &str, diagnostic: &str) -> Option<BounceKind> {
        let status = (!status.is_empty()).then(|| status.parse().unwrap());
        classify(action, status, (!diagnostic.is_empty()).then_some(diagnostic))
    }

    #[test]
    fn specific_codes_decide_alone() {
        use BounceKind::*;
        let f = Action::Failed;
        assert_eq!(kind(f, "5.1.1", "mailbox full"), Some(UnknownRecipient));
        assert_eq!(kind(f, "5.1.10", ""), Some(UnknownRecipient));
        assert_eq!(kind(f, "5.2.2", ""), Some(MailboxFull));
        assert_eq!(kind(f, "4.2.2", ""), Some(MailboxFull));
        assert_eq!(kind(f, "5.2.3", ""), Some(TooLarge));
        assert_eq!(kind(f, "5.3.4", ""), Some(TooLarge));
        assert_eq!(kind(f, "5.7.1", "user unknown"), Some(Rejected));
        assert_eq!(kind(f, "5.7.606", ""), Some(Rejected));
        assert_eq!(kind(f, "5.1.8", ""), Some(Rejected));
    }

    #[test]
    fn generic_codes_look_at_the_words() {
        use BounceKind::*;
        let f = Action::Failed;
        assert_eq!(
            kind(f, "5.0.0", "550 Unknown user kijitora@example.net"),
            Some(UnknownRecipient)
        );
        assert_eq!(kind(f, "5.0.0", "554 rejected for policy reasons"), Some(Rejected));
        assert_eq!(
            kind(f, "5.1.0", "550 5.1.0 not allowed to send per its SPF Record"),
            Some(Rejected)
        );
        assert_eq!(kind(f, "5.1.0", "550 5.1.0 address rejected"), Some(Rejected));
        assert_eq!(kind(f, "5.1.0", "550 5.1.0 whatever"), Some(UnknownRecipient));
        assert_eq!(kind(f, "5.7.0", "Please use the smtp server of your ISP"), Some(Rejected));
        assert_eq!(kind(f, "5.4.4", "unrouteable address"), Some(Other));
        assert_eq!(kind(f, "", "552 message size exceeds fixed limit"), Some(TooLarge));
        assert_eq!(kind(f, "", ""), Some(Other));
    }

    #[test]
    fn delays_and_successes() {
        assert_eq!(kind(Action::Delayed, "4.4.7", ""), Some(BounceKind::Delayed));
        // A server that gave up after a temporary error reports a failure.
        assert_eq!(kind(Action::Failed, "4.4.7", "expired"), Some(BounceKind::Other));
        assert_eq!(kind(Action::Delivered, "2.0.0", ""), None);
        assert_eq!(kind(Action::Relayed, "", ""), None);
        assert_eq!(kind(Action::Expanded, "2.0.0", ""), None);
    }
}
