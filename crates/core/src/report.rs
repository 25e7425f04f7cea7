//! Delivery reports in a mailbox: [`ReportQuery`] in, [`ReportPage`] of
//! [`ReportRef`]s out ([`MailProvider::list_delivery_reports`](crate::MailProvider::list_delivery_reports)).

use std::fmt;

use jiff::Timestamp;

use crate::error::{Error, Result};
use crate::mailbox::MAX_PAGE_SIZE;

/// Where a listing of delivery reports stopped: a string the provider writes
/// and reads back (a watermark, a file position). Core never interprets it;
/// a caller stores it and hands it back verbatim.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ReportCursor(String);

impl ReportCursor {
    /// A cursor from the text a provider wrote (or a caller stored).
    pub fn new(text: impl Into<String>) -> Self {
        ReportCursor(text.into())
    }

    /// The text to store.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ReportCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReportCursor({:?})", self.0)
    }
}

impl fmt::Display for ReportCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which delivery reports to list: those after `after` (all when `None`),
/// oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReportQuery {
    /// The cursor of the last report fully processed, from an earlier listing.
    pub after: Option<ReportCursor>,
    /// How many references per page (1 to [`MAX_PAGE_SIZE`]).
    pub page_size: u32,
    /// The continuation of the previous page of this listing, verbatim.
    pub continuation: Option<String>,
}

impl Default for ReportQuery {
    fn default() -> Self {
        ReportQuery { after: None, page_size: 50, continuation: None }
    }
}

impl ReportQuery {
    /// The first page of the reports after `after`.
    pub fn after(after: Option<ReportCursor>) -> Self {
        ReportQuery { after, ..ReportQuery::default() }
    }

    /// Refuses a page size out of range.
    pub fn validate(&self) -> Result<()> {
        if self.page_size == 0 || self.page_size > MAX_PAGE_SIZE {
            return Err(Error::invalid_input("page size out of range")
                .with_code("query.page-size")
                .with_context("page_size", self.page_size)
                .with_remedy(format!("ask for 1 to {MAX_PAGE_SIZE} reports per page")));
        }
        Ok(())
    }
}

/// One delivery report in the mailbox; its bytes come from
/// [`MailProvider::raw_message`](crate::MailProvider::raw_message)`(id)`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReportRef {
    /// The provider's id of the report message.
    pub id: String,
    /// When the mailbox received it.
    pub received_at: Option<Timestamp>,
    /// The report's own Internet Message-ID, when known.
    pub internet_message_id: Option<String>,
    /// The cursor to store once this report is processed: a later listing
    /// after it does not return it again (except for a provider's overlap,
    /// which the caller recognises by `id`).
    pub cursor: ReportCursor,
}

impl ReportRef {
    /// A reference to report `id`, to be resumed after with `cursor`.
    pub fn new(id: impl Into<String>, cursor: ReportCursor) -> Self {
        ReportRef { id: id.into(), received_at: None, internet_message_id: None, cursor }
    }
}

/// One page of delivery reports, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ReportPage {
    /// The reports of the page.
    pub reports: Vec<ReportRef>,
    /// Set when more reports follow: pass it as [`ReportQuery::continuation`].
    pub continuation: Option<String>,
}

impl ReportPage {
    /// A page of `reports`, followed by more when `continuation` is set.
    pub fn new(reports: Vec<ReportRef>, continuation: Option<String>) -> Self {
        ReportPage { reports, continuation }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_is_checked() {
        assert!(ReportQuery::default().validate().is_ok());
        let q = ReportQuery { page_size: 0, ..ReportQuery::default() };
        assert_eq!(q.validate().unwrap_err().code(), Some("query.page-size"));
        let q = ReportQuery { page_size: MAX_PAGE_SIZE + 1, ..ReportQuery::default() };
        assert!(q.validate().is_err());
        assert_eq!(ReportCursor::new("w:1").as_str(), "w:1");
    }
}
