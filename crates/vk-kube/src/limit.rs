//! A client-side limit on Kubernetes API requests (QPS with a burst), and
//! per-verb request counts, as a tower layer on the kube client
//! ([`LimitLayer`]). Throttling is counted in `vk_kube_throttled_total`.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Method, Request};
use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

use crate::RequestMetrics;

/// A token bucket: `burst` tokens, refilled at `qps` per second.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    burst: f64,
    qps: f64,
    last: Instant,
}

impl Bucket {
    /// Takes a token, or says how long until one is available.
    fn take(&mut self) -> Result<(), Duration> {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.qps).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.qps))
        }
    }
}

/// A tower layer that limits the requests of a kube client to `qps` per second with a burst,
/// and counts them by verb in [`RequestMetrics`]. One bucket is shared by all clones of the
/// layer and of the services it makes.
///
/// [`ClientConfig::client`](crate::ClientConfig::client) puts it on the clients it builds; on a
/// client of your own:
///
/// ```
/// # fn demo(config: kube::Config) -> Result<kube::Client, kube::Error> {
/// let requests = vk_kube::RequestMetrics::default();
/// let layer = vk_kube::LimitLayer::new(50.0, 100, requests.clone());
/// let client = kube::client::ClientBuilder::try_from(config)?
///     .with_layer(&layer)
///     .build();
/// # Ok(client)
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct LimitLayer {
    bucket: Arc<Mutex<Bucket>>,
    metrics: RequestMetrics,
}

impl LimitLayer {
    /// `burst` requests at once (at least 1), refilled at `qps` per second (at least 0.001).
    pub fn new(qps: f64, burst: u32, metrics: RequestMetrics) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            bucket: Arc::new(Mutex::new(Bucket {
                tokens: burst,
                burst,
                qps: qps.max(0.001),
                last: Instant::now(),
            })),
            metrics,
        }
    }
}

impl<S> Layer<S> for LimitLayer {
    type Service = LimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LimitService {
            inner,
            bucket: Arc::clone(&self.bucket),
            metrics: self.metrics.clone(),
            sleep: None,
            has_token: false,
        }
    }
}

/// The service of a [`LimitLayer`]: waits for a token in `poll_ready`, counts the verb in
/// `call`.
#[derive(Debug)]
pub struct LimitService<S> {
    inner: S,
    bucket: Arc<Mutex<Bucket>>,
    metrics: RequestMetrics,
    sleep: Option<Pin<Box<Sleep>>>,
    has_token: bool,
}

/// The Kubernetes verb of a request, as the API server's audit log names it.
fn verb<B>(req: &Request<B>) -> &'static str {
    let query = req.uri().query().unwrap_or("");
    match *req.method() {
        Method::GET if query.contains("watch=true") || query.contains("watch=1") => "watch",
        Method::GET => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "other",
    }
}

impl<S, B> Service<Request<B>> for LimitService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        while !self.has_token {
            if let Some(sleep) = self.sleep.as_mut() {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.sleep = None;
            }
            let taken = self
                .bucket
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            match taken {
                Ok(()) => self.has_token = true,
                Err(wait) => {
                    self.metrics.throttle();
                    self.sleep = Some(Box::pin(tokio::time::sleep(wait)));
                }
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.has_token = false;
        self.metrics.request(verb(&req));
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bucket_allows_burst_then_qps() {
        let mut b = Bucket {
            tokens: 2.0,
            burst: 2.0,
            qps: 10.0,
            last: Instant::now(),
        };
        assert!(b.take().is_ok());
        assert!(b.take().is_ok());
        let wait = b.take().unwrap_err();
        assert!(
            wait > Duration::from_millis(90) && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(b.take().is_ok());
    }

    #[test]
    fn verbs() {
        let r = |m: Method, q: &str| {
            Request::builder()
                .method(m)
                .uri(format!("/api/v1/pods{q}"))
                .body(())
                .unwrap()
        };
        assert_eq!(
            verb(&r(Method::GET, "?watch=true&fieldSelector=x")),
            "watch"
        );
        assert_eq!(verb(&r(Method::GET, "")), "get");
        assert_eq!(verb(&r(Method::PATCH, "")), "patch");
        assert_eq!(verb(&r(Method::DELETE, "")), "delete");
    }

    /// A service that is always ready and answers at once.
    struct Ready;

    impl Service<Request<()>> for Ready {
        type Response = ();
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<(), Self::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<()>) -> Self::Future {
            std::future::ready(Ok(()))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn clones_share_the_bucket_and_count_waits_and_verbs() {
        let metrics = RequestMetrics::default();
        let layer = LimitLayer::new(10.0, 2, metrics.clone());
        let mut a = layer.layer(Ready);
        let mut b = layer.layer(Ready);
        let get = || Request::get("/api/v1/pods").body(()).unwrap();
        let start = Instant::now();
        for first in [true, false, true] {
            let svc = if first { &mut a } else { &mut b };
            std::future::poll_fn(|cx| svc.poll_ready(cx)).await.unwrap();
            svc.call(get()).await.unwrap();
        }
        // The burst of 2 is spent by a and b together; the third waits for a token.
        assert!(
            start.elapsed() >= Duration::from_millis(90),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(metrics.requests("get"), 3);
        assert_eq!(metrics.throttled(), 1);
    }
}
