//! RFC 5322 / MIME rendering and parsing (being written).
