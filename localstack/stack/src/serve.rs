//! How the stack's HTTP servers (the gateway, the IAM gate, the metrics and
//! the flags) take connections: HTTP/1 on a bound listener, each connection
//! served on a task of its own, until the stack's stop signal.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Where a request came from and in on.
#[derive(Debug, Clone, Copy)]
pub struct Connection {
    pub peer: SocketAddr,
    /// The local port it arrived at.
    pub port: u16,
}

/// Answers every request on `listener` with `answer` until `shutdown` turns true.
pub async fn serve<A, F>(listener: TcpListener, mut shutdown: watch::Receiver<bool>, answer: A)
where
    A: Fn(Request<Incoming>, Connection) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let connection = Connection {
            peer,
            port: stream.local_addr().map(|a| a.port()).unwrap_or_default(),
        };
        let answer = answer.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let response = answer(request, connection);
                async move { Ok::<_, Infallible>(response.await) }
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "connection closed");
            }
        });
    }
}
