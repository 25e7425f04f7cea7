//! Request dispatch: recording, faults, concurrency, routing.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::Shared;
use super::server::ConnHandle;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(dispatch).with_state(shared)
}

async fn dispatch(
    State(_shared): State<Arc<Shared>>,
    ConnectInfo(_conn): ConnectInfo<ConnHandle>,
    _req: Request<Body>,
) -> Response {
    StatusCode::NOT_IMPLEMENTED.into_response()
}
