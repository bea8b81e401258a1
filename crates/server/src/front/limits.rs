//! What one client may hold of a listener: a bounded number of open connections, and a
//! deadline for each request's headers. Without them a client that opens thousands of idle
//! connections, or sends its headers a byte at a time (slowloris), keeps file descriptors and
//! tasks busy for as long as it likes; axum-server sets neither by default.
//!
//! - [`LimitedAcceptor`]: a connection beyond `--max-connections` is closed as soon as it is
//!   accepted (counted in `rampart_connections_refused_total`), so the kernel's backlog never
//!   fills with clients the server will not serve; the permit lives as long as the connection.
//! - [`apply`]: hyper's HTTP/1 header-read timeout (a request whose head has not fully arrived
//!   `--header-read-timeout` after the connection became ready to read one is dropped) and
//!   axum-server's first-request timeout (a connection that never sends a request). HTTP/2
//!   connections get keep-alive pings, so a dead peer is noticed.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use metrics::{counter, gauge, Gauge};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The limits a listener enforces on its clients.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Open connections at most; more are closed on accept.
    pub max_connections: usize,
    /// How long a request's headers may take to arrive, and a new connection its first
    /// request.
    pub header_read_timeout: Duration,
}

/// Sets the timeouts of `limits` on an axum-server `server`.
pub fn apply<A: axum_server::Address, Acc>(
    mut server: axum_server::Server<A, Acc>,
    limits: ConnectionLimits,
) -> axum_server::Server<A, Acc> {
    server
        .http_builder()
        .http1()
        .header_read_timeout(Some(limits.header_read_timeout));
    server
        .http_builder()
        .http2()
        .keep_alive_interval(Some(limits.header_read_timeout))
        .keep_alive_timeout(limits.header_read_timeout);
    server.first_request_timeout(Some(limits.header_read_timeout))
}

/// An acceptor that admits at most `max_connections` open connections, then hands each to
/// `inner` (plain TCP, or the TLS handshake).
#[derive(Clone)]
pub struct LimitedAcceptor<A> {
    inner: A,
    permits: Arc<Semaphore>,
    open: Gauge,
}

impl<A> LimitedAcceptor<A> {
    pub fn new(inner: A, limits: ConnectionLimits) -> Self {
        LimitedAcceptor {
            inner,
            permits: Arc::new(Semaphore::new(limits.max_connections)),
            open: gauge!("rampart_connections_open"),
        }
    }
}

impl<A, I, S> Accept<I, S> for LimitedAcceptor<A>
where
    A: Accept<Limited<I>, S> + Clone + Send + Sync + 'static,
    A::Future: Send,
    A::Stream: Send,
    A::Service: Send,
    I: Send + 'static,
    S: Send + 'static,
{
    type Stream = A::Stream;
    type Service = A::Service;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            counter!("rampart_connections_refused_total").increment(1);
            // Dropping the stream closes the connection at once.
            drop(stream);
            return Box::pin(std::future::ready(Err(io::Error::other(
                "connection limit reached",
            ))));
        };
        self.open.increment(1.0);
        let limited = Limited {
            inner: stream,
            _permit: permit,
            open: self.open.clone(),
        };
        Box::pin(self.inner.accept(limited, service))
    }
}

/// A connection holding one of its listener's permits until it closes.
pub struct Limited<I> {
    inner: I,
    _permit: OwnedSemaphorePermit,
    open: Gauge,
}

impl<I> Drop for Limited<I> {
    fn drop(&mut self) {
        self.open.decrement(1.0);
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Limited<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Limited<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
