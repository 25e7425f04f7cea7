//! The TCP side: a listener whose connections can be cut from a handler
//! (for [`Fault::Drop`](super::Fault::Drop)).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A handle on one connection: setting it makes every further read and
/// write fail, so hyper closes the connection without writing an answer.
#[derive(Debug, Clone)]
pub(crate) struct ConnHandle {
    cut: Arc<AtomicBool>,
}

impl ConnHandle {
    pub(crate) fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }
}

impl Connected<IncomingStream<'_, CuttableListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, CuttableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A TCP listener whose streams carry a [`ConnHandle`].
#[derive(Debug)]
pub(crate) struct CuttableListener {
    inner: TcpListener,
}

impl CuttableListener {
    pub(crate) fn new(inner: TcpListener) -> Self {
        CuttableListener { inner }
    }
}

impl Listener for CuttableListener {
    type Io = CuttableStream;
    type Addr = ConnHandle;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let handle = ConnHandle { cut: Arc::new(AtomicBool::new(false)) };
                    return (CuttableStream { inner: stream, handle: handle.clone() }, handle);
                }
                Err(e) => {
                    tracing::debug!("graph emulator accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        // Only used by axum for logging; a fresh handle is harmless.
        self.inner
            .local_addr()
            .map(|_: SocketAddr| ConnHandle { cut: Arc::new(AtomicBool::new(false)) })
    }
}

/// A TCP stream that fails once its [`ConnHandle`] is cut.
#[derive(Debug)]
pub(crate) struct CuttableStream {
    inner: TcpStream,
    handle: ConnHandle,
}

impl CuttableStream {
    fn is_cut(&self) -> bool {
        self.handle.cut.load(Ordering::SeqCst)
    }
}

fn cut_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "connection cut by a scripted fault")
}

impl AsyncRead for CuttableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CuttableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
