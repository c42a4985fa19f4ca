//! [`MetricsServer`]: the HTTP side of the endpoint.
//!
//! hyper 1 (HTTP/1.1) on a current-thread tokio runtime that lives on a thread of its own, so
//! the appliance's threads stay synchronous and the packet path never meets an executor. The
//! listener is bound on the caller's thread, so a bad or busy address fails
//! [`MetricsServer::spawn`] itself. Routes: `GET /metrics` (exposition text), `GET /` (a short
//! page naming it), `405` for other methods on those paths, `404` elsewhere. `HEAD` is answered
//! like `GET`, without the body.

use super::{render, MetricsSource, CONTENT_TYPE};
use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE as CONTENT_TYPE_HEADER};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, Semaphore};
use tracing::{debug, info, warn};

/// Connections served at once; more wait in the listen backlog. Prometheus keeps one per
/// target, so this only bounds what a misbehaving client can hold.
const MAX_CONNECTIONS: usize = 64;
/// Time a client has to send its request headers before the connection is closed.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

const INDEX: &str =
    "tstat-dpdk metrics endpoint\n\nGET /metrics: Prometheus text exposition (format 0.0.4)\n";

/// A running endpoint. [`shutdown`](Self::shutdown), or dropping it, stops the server and joins
/// its thread; open connections are closed.
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MetricsServer {
    /// Binds `addr` (port 0 picks a free port: see [`local_addr`](Self::local_addr)) and serves
    /// `source`'s snapshots from a new thread named `metrics`.
    pub fn spawn(
        addr: SocketAddr,
        source: Arc<dyn MetricsSource>,
    ) -> anyhow::Result<MetricsServer> {
        let listener = std::net::TcpListener::bind(addr)
            .with_context(|| format!("binding the metrics endpoint to {addr}"))?;
        let local = listener.local_addr().with_context(|| {
            format!("reading the address of the metrics endpoint bound to {addr}")
        })?;
        listener
            .set_nonblocking(true)
            .with_context(|| format!("setting the metrics endpoint {local} non-blocking"))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .context("building the metrics endpoint's runtime")?;
        let listener = {
            let _ctx = rt.enter();
            tokio::net::TcpListener::from_std(listener)
                .with_context(|| format!("registering the metrics endpoint {local}"))?
        };
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || rt.block_on(serve(listener, source, stopped)))
            .context("spawning the metrics endpoint's thread")?;
        info!(addr = %local, "metrics endpoint listening");
        Ok(MetricsServer {
            addr: local,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address actually bound (the real port when `spawn` was given port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and joins the thread.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            // The server may be gone already (its thread panicked): nothing to tell then.
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                warn!(addr = %self.addr, "the metrics endpoint's thread panicked");
            }
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// The accept loop: one task per connection, at most `MAX_CONNECTIONS` at once, until `stopped`
/// fires (or its sender is dropped). Returning drops the runtime, which cancels the connections.
async fn serve(
    listener: tokio::net::TcpListener,
    source: Arc<dyn MetricsSource>,
    mut stopped: oneshot::Receiver<()>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            _ = &mut stopped => break,
            p = Arc::clone(&permits).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break, // never closed
            },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut stopped => break,
            r = listener.accept() => match r {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of descriptors and the like: wait instead of spinning on the error.
                    warn!(cause = %e, "metrics endpoint: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let source = Arc::clone(&source);
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |req| {
                let source = Arc::clone(&source);
                async move { Ok::<_, Infallible>(respond(&req, source.as_ref())) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                debug!(peer = %peer, cause = %e, "metrics connection ended with an error");
            }
        });
    }
    debug!("metrics endpoint stopped");
}

/// The response to one request. The body is built even for `HEAD`; hyper sends only its length.
fn respond(req: &Request<Incoming>, source: &dyn MetricsSource) -> Response<Full<Bytes>> {
    let readable = matches!(*req.method(), Method::GET | Method::HEAD);
    match req.uri().path() {
        "/metrics" if readable => match render(&source.snapshot()) {
            Ok(text) => reply(StatusCode::OK, CONTENT_TYPE, text),
            Err(e) => {
                warn!(cause = %e, "metrics endpoint: rendering failed");
                reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain; charset=utf-8",
                    format!("rendering the metrics failed: {e}\n"),
                )
            }
        },
        "/" if readable => reply(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            INDEX.to_string(),
        ),
        "/metrics" | "/" => {
            let mut r = reply(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain; charset=utf-8",
                "only GET and HEAD\n".to_string(),
            );
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            r
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: the metrics are at /metrics\n".to_string(),
        ),
    }
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE_HEADER, HeaderValue::from_static(content_type));
    r
}
