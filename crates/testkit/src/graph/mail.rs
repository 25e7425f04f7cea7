//! Graph mail endpoints.
