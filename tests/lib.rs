//! Workspace-level integration tests live in `it/`.
