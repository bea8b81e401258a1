//! Fetching an external issuer's keys: OpenID discovery (`<issuer>/.well-known/
//! openid-configuration`, whose `issuer` must be the configured one exactly) then the
//! `jwks_uri` it names — each one HTTP/1.1 GET over TCP or TLS (rustls, the system's roots),
//! with a time limit and a size limit, no redirects. The verifier calls it at most once a
//! minute per issuer for unknown key ids, so a caller cannot make Rampart a request amplifier.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use rampart_identity::tokens::JwkSet;
use rampart_identity::verifier::{FetchError, JwksFetcher};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

/// The discovery document's path under an issuer.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// Bytes a discovery document or a JWKS may have.
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

/// Time one GET may take, connection included.
const GET_TIMEOUT: Duration = Duration::from_secs(10);

/// Where distributions keep the system's trusted roots.
const ROOT_BUNDLES: [&str; 3] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// The discovery URL of `issuer`: what a remote verifier's `jwks_uri` is set to, so that
/// [`DiscoveryFetcher`] starts from it.
pub fn discovery_url(issuer: &str) -> String {
    format!("{}{DISCOVERY_PATH}", issuer.trim_end_matches('/'))
}

/// Fetches JWKS by OpenID discovery.
pub struct DiscoveryFetcher {
    tls: Arc<rustls::ClientConfig>,
}

impl DiscoveryFetcher {
    /// A fetcher trusting the system's roots (none found: only `http://` issuers work).
    pub fn new() -> Self {
        let mut roots = rustls::RootCertStore::empty();
        for path in ROOT_BUNDLES {
            if let Ok(pem) = std::fs::read(path) {
                for cert in CertificateDer::pem_slice_iter(&pem).flatten() {
                    let _ = roots.add(cert);
                }
                break;
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the default provider supports the default versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        DiscoveryFetcher { tls: Arc::new(tls) }
    }

    async fn get(&self, url: &str) -> Result<Bytes, FetchError> {
        tokio::time::timeout(GET_TIMEOUT, self.get_now(url))
            .await
            .map_err(|_| FetchError(format!("{url} did not answer in time")))?
    }

    async fn get_now(&self, url: &str) -> Result<Bytes, FetchError> {
        let fail = |what: &str| FetchError(format!("{url}: {what}"));
        let uri: http::Uri = url.parse().map_err(|_| fail("not a URL"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(fail("only http and https are fetched")),
        };
        let authority = uri.authority().ok_or_else(|| fail("no host"))?.clone();
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(|e| fail(&format!("cannot connect: {e}")))?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let request = http::Request::get(path)
            .header(http::header::HOST, authority.as_str())
            .header(http::header::USER_AGENT, "rampart-gateway")
            .header(http::header::ACCEPT, "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|_| fail("cannot build the request"))?;
        if https {
            let name = ServerName::try_from(host.to_owned()).map_err(|_| fail("bad host name"))?;
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| fail(&format!("TLS failed: {e}")))?;
            send(TokioIo::new(tls), request, url).await
        } else {
            send(TokioIo::new(tcp), request, url).await
        }
    }
}

impl Default for DiscoveryFetcher {
    fn default() -> Self {
        Self::new()
    }
}

async fn send<T>(
    io: T,
    request: http::Request<Empty<Bytes>>,
    url: &str,
) -> Result<Bytes, FetchError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let fail = |what: String| FetchError(format!("{url}: {what}"));
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| fail(e.to_string()))?;
    tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| fail(e.to_string()))?;
    if response.status() != http::StatusCode::OK {
        return Err(fail(format!("answered {}", response.status())));
    }
    Limited::new(response.into_body(), MAX_DOCUMENT_BYTES)
        .collect()
        .await
        .map(|body| body.to_bytes())
        .map_err(|_| fail("the document is too large or cut short".into()))
}

#[async_trait]
impl JwksFetcher for DiscoveryFetcher {
    /// `discovery` is the issuer's discovery URL ([`discovery_url`]).
    async fn fetch(&self, discovery: &str) -> Result<JwkSet, FetchError> {
        let issuer = discovery
            .strip_suffix(DISCOVERY_PATH)
            .ok_or_else(|| FetchError(format!("{discovery} is not a discovery URL")))?;
        let document: serde_json::Value = serde_json::from_slice(&self.get(discovery).await?)
            .map_err(|_| FetchError(format!("{discovery} is not JSON")))?;
        // The document must be the issuer's own, or its keys could stand for another issuer.
        let named = document.get("issuer").and_then(|v| v.as_str());
        if named.map(|n| n.trim_end_matches('/')) != Some(issuer) {
            return Err(FetchError(format!("{discovery} names another issuer")));
        }
        let jwks_uri = document
            .get("jwks_uri")
            .and_then(|v| v.as_str())
            .ok_or_else(|| FetchError(format!("{discovery} has no jwks_uri")))?;
        serde_json::from_slice(&self.get(jwks_uri).await?)
            .map_err(|_| FetchError(format!("{jwks_uri} is not a JWKS")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Serves `documents` (path → body) over plain HTTP until the test ends; counts requests.
    async fn serve(
        documents: Vec<(String, String)>,
    ) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = count.clone();
        let documents: Vec<(String, String)> = documents
            .into_iter()
            .map(|(p, b)| (p, b.replace("{base}", &base)))
            .collect();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buf = vec![0u8; 4096];
                let n = s.read(&mut buf).await.unwrap();
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                let answer = match documents.iter().find(|(p, _)| *p == path) {
                    Some((_, body)) => format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                    None => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into(),
                };
                let _ = s.write_all(answer.as_bytes()).await;
            }
        });
        (base, count)
    }

    #[tokio::test]
    async fn discovers_the_jwks() {
        let (base, _) = serve(vec![
            (
                DISCOVERY_PATH.into(),
                r#"{"issuer":"{base}","jwks_uri":"{base}/keys"}"#.into(),
            ),
            (
                "/keys".into(),
                r#"{"keys":[{"kid":"k1","kty":"RSA","alg":"RS256","use":"sig","n":"AQAB","e":"AQAB"}]}"#.into(),
            ),
        ])
        .await;
        let jwks = DiscoveryFetcher::new()
            .fetch(&discovery_url(&base))
            .await
            .unwrap();
        assert_eq!(jwks.keys.len(), 1);
        assert_eq!(jwks.keys[0].kid, "k1");
    }

    #[tokio::test]
    async fn refuses_a_document_of_another_issuer() {
        let (base, _) = serve(vec![(
            DISCOVERY_PATH.into(),
            r#"{"issuer":"https://elsewhere","jwks_uri":"{base}/keys"}"#.into(),
        )])
        .await;
        let err = DiscoveryFetcher::new()
            .fetch(&discovery_url(&base))
            .await
            .unwrap_err();
        assert!(err.0.contains("another issuer"), "{err}");
    }

    #[tokio::test]
    async fn refuses_what_is_not_there_or_not_http() {
        let (base, _) = serve(vec![]).await;
        assert!(DiscoveryFetcher::new()
            .fetch(&discovery_url(&base))
            .await
            .is_err());
        assert!(DiscoveryFetcher::new()
            .fetch(&discovery_url("file:///etc"))
            .await
            .is_err());
    }
}
