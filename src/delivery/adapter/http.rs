//! What the two HTTP adapters share: the `POST` of a package with its token and signature,
//! and the reading of the answer's status and `Retry-After`.

use super::PushFailure;
use crate::clock::Clock;
use crate::delivery::Destination;
use crate::delivery::package::{PackageError, signature};
use crate::http_client::RetryPolicy;
use crate::secret::SecretSource;

pub(super) struct Post {
    client: reqwest::Client,
    url: reqwest::Url,
    token: Option<SecretSource>,
    signing_secret: Option<SecretSource>,
    retry: RetryPolicy,
    /// `Retry-After` dates are read against it.
    clock: Clock,
}

impl Post {
    pub(super) fn new(d: &Destination, clock: Clock) -> Post {
        let client = crate::http_client::builder(d.timeout)
            .pool_max_idle_per_host(4)
            .build()
            .expect("a TLS client with the ring provider builds");
        Post {
            client,
            url: d.url.clone().expect("http adapters have a url (checked at load)"),
            token: d.token.clone(),
            signing_secret: d.signing_secret.clone(),
            retry: d.retry,
            clock,
        }
    }

    /// Posts `body`; what `read` makes of the answer when its status is a success.
    pub(super) async fn send<T>(
        &self,
        content_type: &str,
        body: Vec<u8>,
        read: impl FnOnce(&[u8]) -> Result<T, PackageError>,
    ) -> Result<T, PushFailure> {
        let mut request = self.client.post(self.url.clone()).header(reqwest::header::CONTENT_TYPE, content_type);
        if let Some(token) = &self.token {
            let token = token.read().map_err(|e| PushFailure::new(e.to_string()))?;
            request = request.bearer_auth(token.expose());
        }
        if let Some(secret) = &self.signing_secret {
            let secret = secret.read().map_err(|e| PushFailure::new(e.to_string()))?;
            request = request.header("X-Signature", signature(secret.expose(), &body));
        }
        let response = request.body(body).send().await.map_err(|e| {
            PushFailure::new(if e.is_timeout() { "timed out".to_string() } else { format!("request failed: {e}") })
        })?;
        let status = response.status();
        let retry_after = self.retry.retry_after(response.headers(), self.clock.now());
        let bytes = response.bytes().await.map_err(|e| PushFailure::new(format!("reading the answer: {e}")))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
            return Err(PushFailure { error: format!("HTTP {status}: {text}"), retry_after });
        }
        read(&bytes).map_err(|e| PushFailure::new(e.to_string()))
    }
}
