//! HTTPS for mPlane: mutual TLS with rustls, an HTTP/1.1 client with keep-alive and timeouts,
//! and a small server that hands each request to a handler together with the peer's mPlane
//! identity (mplane.md §7).
//!
//! - Every peer proves itself with a certificate signed by the domain CA; the server demands
//!   one ([`server_config`]), the client presents its own and verifies the server's against the
//!   CA and the URL's host ([`client_config`]). Without TLS files both sides speak plain HTTP
//!   and every peer is [`UNAUTHENTICATED`], as the RI does.
//! - A peer's identity is its certificate subject's RDN values, in order, joined by dots
//!   ([`identity_of_cert`]): `DC=org, DC=mplane, O=SSB, OU=Components, CN=Tstat-1` is
//!   `org.mplane.SSB.Components.Tstat-1` (§7.2).
//! - PEM files may carry the `openssl x509 -text` preamble the RI needs for its own
//!   certificate (`NAME.crt`): text outside the PEM blocks is skipped.
//! - Bodies are bounded on both sides ([`MAX_BODY`] by default); a request larger than the
//!   server's limit gets 413, a slow one 408, and nothing a peer sends can panic the server.

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls_pki_types::pem::PemObject;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// The identity of every peer when TLS is off (§7.2).
pub const UNAUTHENTICATED: &str = "Identity.Unauthenticated.Default";

/// Default bound on a request or reply body: 16 MiB.
pub const MAX_BODY: usize = 16 << 20;

/// Time allowed for a TCP connect plus the TLS handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The certificate, key and CA of one identity, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TlsFiles {
    /// This side's certificate chain (PEM; a text preamble is allowed).
    pub cert: PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1), unencrypted.
    pub key: PathBuf,
    /// The domain CA that signs every peer (PEM).
    pub ca: PathBuf,
}

fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let data = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("{}: bad PEM certificate: {e:?}", path.display()))?;
    if certs.is_empty() {
        bail!("{}: no PEM certificate in the file", path.display());
    }
    Ok(certs)
}

fn read_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let data = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    PrivateKeyDer::from_pem_slice(&data)
        .map_err(|e| anyhow!("{}: no usable PEM private key: {e:?}", path.display()))
}

fn roots(path: &Path) -> anyhow::Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    for c in read_certs(path)? {
        roots
            .add(c)
            .map_err(|e| anyhow!("{}: not a usable CA certificate: {e}", path.display()))?;
    }
    Ok(roots)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration that presents `files.cert` and trusts only `files.ca`.
pub fn client_config(files: &TlsFiles) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots(&files.ca)?)
        .with_client_auth_cert(read_certs(&files.cert)?, read_key(&files.key)?)
        .with_context(|| {
            format!(
                "{} and {}: the key does not fit the certificate",
                files.cert.display(),
                files.key.display()
            )
        })?;
    Ok(Arc::new(cfg))
}

/// A server configuration that presents `files.cert` and demands a client certificate signed
/// by `files.ca` (the handshake fails without one, §7.2).
pub fn server_config(files: &TlsFiles) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots(&files.ca)?),
        provider(),
    )
    .build()
    .with_context(|| format!("{}: client verifier", files.ca.display()))?;
    let cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_client_cert_verifier(verifier)
        .with_single_cert(read_certs(&files.cert)?, read_key(&files.key)?)
        .with_context(|| {
            format!(
                "{} and {}: the key does not fit the certificate",
                files.cert.display(),
                files.key.display()
            )
        })?;
    Ok(Arc::new(cfg))
}

/// The mPlane identity of a DER certificate: its subject's RDN values joined by dots.
pub fn identity_of_cert(der: &[u8]) -> anyhow::Result<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| anyhow!("not an X.509 certificate: {e}"))?;
    let mut parts = Vec::new();
    for rdn in cert.subject().iter() {
        for atv in rdn.iter() {
            let v = atv
                .as_str()
                .map_err(|e| anyhow!("a subject attribute that is not a string: {e}"))?;
            parts.push(v.to_string());
        }
    }
    Ok(parts.join("."))
}

/// The mPlane identity of the first certificate of a PEM file.
pub fn identity_of_file(path: &Path) -> anyhow::Result<String> {
    let certs = read_certs(path)?;
    identity_of_cert(&certs[0]).with_context(|| path.display().to_string())
}

/// Where a peer listens: `https://host:port` (or `http://`), with an optional path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https` (true) or `http`.
    pub tls: bool,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Path prefix without a trailing `/` (empty for the root).
    pub prefix: String,
}

impl Endpoint {
    /// Parses `https://host[:port][/prefix]`; `host:port` alone means HTTPS.
    pub fn parse(url: &str) -> anyhow::Result<Endpoint> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else if url.contains("://") {
            bail!("{url}: only https:// and http:// URLs are supported");
        } else {
            (true, url)
        };
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| anyhow!("{url}: unclosed '[' in the host"))?;
            match after.strip_prefix(':') {
                Some(p) => (h, p),
                None if after.is_empty() => (h, ""),
                None => bail!("{url}: junk after the IPv6 address"),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, p),
                None => (authority, ""),
            }
        };
        if host.is_empty() {
            bail!("{url}: no host");
        }
        let port = if port.is_empty() {
            default_port
        } else {
            port.parse()
                .map_err(|_| anyhow!("{url}: '{port}' is not a port number"))?
        };
        Ok(Endpoint {
            tls,
            host: host.to_string(),
            port,
            prefix: prefix.to_string(),
        })
    }

    /// The URL of `path` (which starts with `/`) at this endpoint.
    pub fn url(&self, path: &str) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!(
            "{}://{host}:{}{}{path}",
            if self.tls { "https" } else { "http" },
            self.port,
            self.prefix
        )
    }

    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url(""))
    }
}

/// A reply as the client saw it.
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// HTTP status code.
    pub status: u16,
    /// The `Content-Type` header, as sent.
    pub content_type: Option<String>,
    /// The body.
    pub body: Bytes,
}

/// An HTTP/1.1 client of one endpoint, keeping its connection alive between requests and
/// opening a new one when the peer closed it.
pub struct HttpClient {
    endpoint: Endpoint,
    tls: Option<tokio_rustls::TlsConnector>,
    timeout: Duration,
    max_body: usize,
    sender: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
}

impl HttpClient {
    /// A client of `endpoint`; TLS files are needed for an `https` endpoint.
    pub fn new(
        endpoint: Endpoint,
        tls: Option<&TlsFiles>,
        timeout: Duration,
    ) -> anyhow::Result<HttpClient> {
        let cfg = match (endpoint.tls, tls) {
            (true, Some(f)) => Some(client_config(f)?),
            (true, None) => bail!("{endpoint}: an https endpoint needs a certificate, key and CA"),
            (false, _) => None,
        };
        Ok(HttpClient::with_config(endpoint, cfg, timeout))
    }

    /// A client with a ready TLS configuration (`None`: plain HTTP).
    pub fn with_config(
        endpoint: Endpoint,
        tls: Option<Arc<rustls::ClientConfig>>,
        timeout: Duration,
    ) -> HttpClient {
        HttpClient {
            endpoint,
            tls: tls.map(tokio_rustls::TlsConnector::from),
            timeout,
            max_body: MAX_BODY,
            sender: None,
        }
    }

    /// The endpoint it talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    async fn connect(
        &self,
    ) -> anyhow::Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
        let ep = &self.endpoint;
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(ep.authority()))
            .await
            .map_err(|_| anyhow!("{ep}: connect timed out"))?
            .with_context(|| format!("{ep}: cannot connect"))?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            Some(connector) => {
                let name = ServerName::try_from(ep.host.clone())
                    .map_err(|e| anyhow!("{ep}: bad server name: {e}"))?;
                let tls = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp))
                    .await
                    .map_err(|_| anyhow!("{ep}: TLS handshake timed out"))?
                    .with_context(|| format!("{ep}: TLS handshake failed"))?;
                handshake(TokioIo::new(tls), ep).await
            }
            None => handshake(TokioIo::new(tcp), ep).await,
        }
    }

    /// Sends one request and reads the whole reply, within the client's timeout.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> anyhow::Result<HttpReply> {
        let timeout = self.timeout;
        let ep = self.endpoint.clone();
        match tokio::time::timeout(
            timeout,
            self.request_inner(method, path, content_type, body),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => {
                // The connection may be stuck mid-request: never reuse it.
                self.sender = None;
                Err(anyhow!(
                    "{}: no reply within {} s",
                    ep.url(path),
                    timeout.as_secs_f64()
                ))
            }
        }
    }

    async fn request_inner(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> anyhow::Result<HttpReply> {
        let url = self.endpoint.url(path);
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.sender = Some(self.connect().await?);
        }
        let sender = self.sender.as_mut().expect("just connected");
        if sender.ready().await.is_err() {
            // The kept-alive connection went away between requests: open a new one.
            self.sender = Some(self.connect().await?);
        }
        let sender = self.sender.as_mut().expect("just connected");
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.endpoint.prefix))
            .header(hyper::header::HOST, self.endpoint.authority())
            .header(hyper::header::ACCEPT_ENCODING, "identity");
        if let Some(ct) = content_type {
            req = req.header(hyper::header::CONTENT_TYPE, ct);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .with_context(|| format!("{url}: cannot build the request"))?;
        let reply = match sender.send_request(req).await {
            Ok(r) => r,
            Err(e) => {
                self.sender = None;
                return Err(anyhow!("{url}: {method} failed: {e}"));
            }
        };
        let status = reply.status().as_u16();
        let content_type = reply
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = Limited::new(reply.into_body(), self.max_body)
            .collect()
            .await
            .map_err(|e| {
                self.sender = None;
                anyhow!("{url}: cannot read the reply: {e}")
            })?
            .to_bytes();
        Ok(HttpReply {
            status,
            content_type,
            body,
        })
    }
}

async fn handshake<T>(
    io: TokioIo<T>,
    ep: &Endpoint,
) -> anyhow::Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .with_context(|| format!("{ep}: HTTP handshake failed"))?;
    let ep = ep.to_string();
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("{ep}: connection ended: {e}");
        }
    });
    Ok(sender)
}

/// One request as a handler sees it.
#[derive(Debug)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// The request headers.
    pub headers: hyper::HeaderMap,
    /// The body (bounded by the server's limit).
    pub body: Bytes,
    /// Who sent it.
    pub peer: Peer,
}

impl Request {
    /// The `Content-Type` header, as sent.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }
}

/// The peer of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its mPlane identity ([`UNAUTHENTICATED`] without TLS).
    pub identity: String,
    /// Its address.
    pub addr: SocketAddr,
}

/// A handler's answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// `Content-Type` (none: no header).
    pub content_type: Option<String>,
    /// Further headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A reply with a body of the given type.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            content_type: Some(content_type.to_string()),
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A `text/plain` reply.
    pub fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply::new(status, "text/plain", body.into().into_bytes())
    }
}

/// What the server does with a request.
pub type Handler =
    Arc<dyn Fn(Request) -> Pin<Box<dyn Future<Output = Reply> + Send>> + Send + Sync>;

/// Bounds the server puts on its peers.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Largest request body; more gets 413.
    pub max_body: usize,
    /// Time to send a request's headers and body.
    pub request_timeout: Duration,
    /// Connections served at once; more wait in the kernel's backlog.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_body: MAX_BODY,
            request_timeout: Duration::from_secs(30),
            max_connections: 256,
        }
    }
}

/// Serves HTTP/1.1 (over mutual TLS when `tls` is given) on `listener` until `stop` turns
/// true. Each connection gets its own task; a failed handshake or a broken peer ends only its
/// connection.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: ServerLimits,
    handler: Handler,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&slots).acquire_owned() => p.context("connection slots closed")?,
            _ = stop.changed() => return Ok(()),
        };
        let (tcp, addr) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of descriptors and the like: wait instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.changed() => return Ok(()),
        };
        if *stop.borrow() {
            return Ok(());
        }
        let acceptor = acceptor.clone();
        let handler = Arc::clone(&handler);
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tcp.set_nodelay(true);
            match acceptor {
                Some(a) => {
                    let tls = match tokio::time::timeout(CONNECT_TIMEOUT, a.accept(tcp)).await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::info!("{addr}: TLS handshake refused: {e}");
                            return;
                        }
                        Err(_) => {
                            tracing::info!("{addr}: TLS handshake timed out");
                            return;
                        }
                    };
                    let identity = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .map(|c| identity_of_cert(c));
                    let identity = match identity {
                        Some(Ok(i)) => i,
                        Some(Err(e)) => {
                            tracing::info!("{addr}: unusable client certificate: {e}");
                            return;
                        }
                        None => {
                            tracing::info!("{addr}: no client certificate");
                            return;
                        }
                    };
                    let peer = Peer { identity, addr };
                    serve_connection(TokioIo::new(tls), peer, limits, handler).await;
                }
                None => {
                    let peer = Peer {
                        identity: UNAUTHENTICATED.to_string(),
                        addr,
                    };
                    serve_connection(TokioIo::new(tcp), peer, limits, handler).await;
                }
            }
        });
    }
}

async fn serve_connection<T>(io: TokioIo<T>, peer: Peer, limits: ServerLimits, handler: Handler)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc_peer = peer.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let handler = Arc::clone(&handler);
        let peer = svc_peer.clone();
        async move {
            let reply = read_request(req, peer, limits).await;
            let reply = match reply {
                Ok(r) => handler(r).await,
                Err(r) => r,
            };
            Ok::<_, std::convert::Infallible>(to_response(reply))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .header_read_timeout(limits.request_timeout)
        .timer(hyper_util::rt::TokioTimer::new())
        .serve_connection(io, service);
    if let Err(e) = conn.await {
        tracing::debug!("{}: connection ended: {e}", peer.addr);
    }
}

async fn read_request(
    req: hyper::Request<Incoming>,
    peer: Peer,
    limits: ServerLimits,
) -> Result<Request, Reply> {
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body as u64) {
        return Err(Reply::text(413, "body too large"));
    }
    let body = match tokio::time::timeout(
        limits.request_timeout,
        Limited::new(body, limits.max_body).collect(),
    )
    .await
    {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) => {
            return Err(if e.is::<http_body_util::LengthLimitError>() {
                Reply::text(413, "body too large")
            } else {
                Reply::text(400, format!("cannot read the body: {e}"))
            })
        }
        Err(_) => return Err(Reply::text(408, "request body too slow")),
    };
    Ok(Request {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
        peer,
    })
}

fn to_response(reply: Reply) -> hyper::Response<Full<Bytes>> {
    let mut b = hyper::Response::builder().status(reply.status);
    if let Some(ct) = &reply.content_type {
        b = b.header(hyper::header::CONTENT_TYPE, ct);
    }
    for (k, v) in &reply.headers {
        b = b.header(k, v);
    }
    b.body(Full::new(Bytes::from(reply.body)))
        .unwrap_or_else(|_| {
            let mut r = hyper::Response::new(Full::new(Bytes::from_static(b"bad reply")));
            *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("https://127.0.0.1:8889").unwrap();
        assert_eq!((e.tls, e.host.as_str(), e.port), (true, "127.0.0.1", 8889));
        assert_eq!(
            e.url("/show/specification"),
            "https://127.0.0.1:8889/show/specification"
        );
        let e = Endpoint::parse("http://[::1]:80/mplane/").unwrap();
        assert_eq!((e.tls, e.host.as_str(), e.port), (false, "::1", 80));
        assert_eq!(e.url("/x"), "http://[::1]:80/mplane/x");
        let e = Endpoint::parse("probe.example.org:9000").unwrap();
        assert_eq!((e.tls, e.port), (true, 9000));
        assert_eq!(Endpoint::parse("https://h").unwrap().port, 443);
        for bad in [
            "ftp://x",
            "https://:80",
            "https://h:port",
            "https://[::1",
            "https://h:99999",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
