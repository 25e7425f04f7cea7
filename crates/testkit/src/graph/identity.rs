//! Token endpoint and OpenID discovery.
