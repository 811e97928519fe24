//! Images in chat requests: `image_url` parts carrying `data:` URLs, or `http(s)` URLs on
//! hosts the operator allowed, checked before they reach an engine.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;

use super::types::{MessageContent, RequestMessage};
use super::ApiError;
use crate::models::InputImage;
use crate::rag::extract::{inspect_image, ExtractError};

/// Media types an engine can be given. SVG is left out: it is a program, not a picture.
const ACCEPTED_MEDIA_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/webp", "image/gif"];

/// Redirects followed when fetching a remote image; each must stay on an allowed host.
const MAX_REDIRECTS: usize = 3;

/// Images one request may carry, inline and remote together. Remote ones are downloaded one
/// after the other, so this also bounds how long a request spends downloading.
const MAX_IMAGES_PER_REQUEST: usize = 16;

/// Time allowed for fetching one remote image, connection included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(15);

/// A host whose remote images are fetched: `host` allows any port, `host:port` one port.
/// IPv6 addresses are written in brackets (`[::1]:8080`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    host: String,
    port: Option<u16>,
}

impl std::str::FromStr for AllowedHost {
    type Err = String;

    fn from_str(entry: &str) -> Result<Self, Self::Err> {
        let entry = entry.trim();
        if entry.contains("://") {
            return Err(format!("`{entry}` is a URL: write only the host, as in images.example.com or images.example.com:8443"));
        }
        let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
            let (address, after) = rest.split_once(']').ok_or(format!("`{entry}` has `[` without `]`"))?;
            (format!("[{address}]"), after.strip_prefix(':'))
        } else if entry.matches(':').count() > 1 {
            return Err(format!("write the IPv6 address `{entry}` in brackets, as in [::1]:8080"));
        } else {
            match entry.split_once(':') {
                Some((host, port)) => (host.to_string(), Some(port)),
                None => (entry.to_string(), None),
            }
        };
        if host.is_empty() || host.contains('/') {
            return Err(format!("`{entry}` is not a host name: write HOST or HOST:PORT, without a scheme or path"));
        }
        let port = port
            .map(|port| port.parse::<u16>().map_err(|_| format!("`{port}` in `{entry}` is not a port number")))
            .transpose()?;
        Ok(Self { host: host.to_ascii_lowercase(), port })
    }
}

impl AllowedHost {
    fn matches(&self, url: &reqwest::Url) -> bool {
        let host_matches = url.host_str().is_some_and(|host| host.eq_ignore_ascii_case(&self.host));
        host_matches && self.port.is_none_or(|port| url.port_or_known_default() == Some(port))
    }
}

/// Limits on the images a request may carry, and the hosts remote ones may come from.
#[derive(Debug, Clone)]
pub struct ImagePolicy {
    /// Largest image, in bytes after base64 decoding or as downloaded.
    pub max_bytes: usize,
    /// Largest image, in pixels (width times height), read from the header before decoding.
    pub max_pixels: u64,
    /// Hosts whose `http(s)` image URLs are fetched; empty means remote URLs are rejected.
    pub allowed_hosts: Vec<AllowedHost>,
}

impl Default for ImagePolicy {
    fn default() -> Self {
        Self { max_bytes: 20 * 1024 * 1024, max_pixels: 64 * 1024 * 1024, allowed_hosts: Vec::new() }
    }
}

impl ImagePolicy {
    fn allows(&self, url: &reqwest::Url) -> bool {
        self.allowed_hosts.iter().any(|allowed| allowed.matches(url))
    }

    /// Checks image bytes against the limits and reads their media type from the header,
    /// so that a decompression bomb is rejected before decoding.
    /// `kind` names the expected image in the message for unreadable data.
    fn check_bytes(&self, bytes: Vec<u8>, kind: &str, invalid: impl Fn(String) -> ApiError) -> Result<InputImage, ApiError> {
        if bytes.len() > self.max_bytes {
            return Err(invalid(format!("The image is {} bytes, more than the limit of {} bytes.", bytes.len(), self.max_bytes)));
        }
        let format = match inspect_image(&bytes) {
            Ok((_, width, height)) if u64::from(width) * u64::from(height) > self.max_pixels => {
                return Err(invalid(format!(
                    "The image is {width}x{height} pixels, more than the limit of {} pixels.",
                    self.max_pixels
                )))
            }
            Ok((format, _, _)) => format,
            Err(ExtractError::ImageTooLarge { width, height }) => {
                return Err(invalid(format!(
                    "The image is {width}x{height} pixels, more than the limit of {} pixels.",
                    self.max_pixels
                )))
            }
            Err(error) => return Err(invalid(format!("The data is not a readable {kind}: {error}."))),
        };
        let media_type = format.to_mime_type();
        if !ACCEPTED_MEDIA_TYPES.contains(&media_type) {
            return Err(invalid(format!("Unsupported image type `{media_type}`: send PNG, JPEG, WebP or GIF.")));
        }
        Ok(InputImage { media_type: media_type.to_string(), bytes })
    }
}

/// Fetches allowed remote images with limits on time, redirects and size.
pub struct ImageFetcher {
    policy: Arc<ImagePolicy>,
    client: reqwest::Client,
}

impl ImageFetcher {
    pub fn new(policy: ImagePolicy) -> anyhow::Result<Self> {
        let policy = Arc::new(policy);
        let redirect_policy = Arc::clone(&policy);
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > MAX_REDIRECTS {
                    attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
                } else if redirect_policy.allows(attempt.url()) {
                    attempt.follow()
                } else {
                    let target = attempt.url().host_str().unwrap_or_default().to_string();
                    attempt.error(format!("redirected to `{target}`, which is not an allowed image host"))
                }
            }))
            .build()?;
        Ok(Self { policy, client })
    }

    pub fn policy(&self) -> &ImagePolicy {
        &self.policy
    }

    /// Downloads every remote image URL in the messages, keyed by URL. Rejects a request with
    /// more than [`MAX_IMAGES_PER_REQUEST`] images, and a URL whose host is not allowed, before
    /// any connection is made.
    pub async fn fetch_remote_images(&self, messages: &[RequestMessage]) -> Result<HashMap<String, InputImage>, ApiError> {
        let image_parts = messages
            .iter()
            .filter_map(|message| match &message.content {
                Some(MessageContent::Parts(parts)) => Some(parts.iter().filter(|part| part.kind == "image_url").count()),
                _ => None,
            })
            .sum::<usize>();
        if image_parts > MAX_IMAGES_PER_REQUEST {
            return Err(ApiError::invalid_request(
                format!("The request has {image_parts} images, more than the limit of {MAX_IMAGES_PER_REQUEST}."),
                Some("messages"),
            ));
        }
        let mut fetched = HashMap::new();
        for (url, param) in remote_image_urls(messages) {
            if fetched.contains_key(url) {
                continue;
            }
            let image = self.fetch(url, &param).await?;
            fetched.insert(url.to_string(), image);
        }
        Ok(fetched)
    }

    async fn fetch(&self, url: &str, param: &str) -> Result<InputImage, ApiError> {
        let invalid = |message: String| ApiError::invalid_request(message, Some(param));
        let parsed = reqwest::Url::parse(url).map_err(|error| invalid(format!("The image URL is not valid: {error}.")))?;
        if self.policy.allowed_hosts.is_empty() {
            return Err(invalid(
                "Remote image URLs are not fetched: send the image inline as a data: URL \
                 (data:image/png;base64,...), or ask the operator to allow the host with --image-host."
                    .into(),
            ));
        }
        if !self.policy.allows(&parsed) {
            let host = parsed.host_str().unwrap_or_default();
            let address = match parsed.port_or_known_default() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            };
            return Err(invalid(format!(
                "The image host `{address}` is not allowed: use a data: URL or a host from the server's --image-host list."
            )));
        }

        let mut response = self.client.get(parsed).send().await.map_err(|error| {
            tracing::warn!(%url, error = %error, "image download failed");
            invalid(format!("Could not download the image: {}.", download_error(error)))
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(invalid(format!("Could not download the image: the server answered {status}.")));
        }
        if response.content_length().is_some_and(|length| length > self.policy.max_bytes as u64) {
            return Err(invalid(format!("The image is larger than the limit of {} bytes.", self.policy.max_bytes)));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| invalid(format!("Could not download the image: {}.", download_error(error))))?
        {
            if bytes.len() + chunk.len() > self.policy.max_bytes {
                return Err(invalid(format!("The image is larger than the limit of {} bytes.", self.policy.max_bytes)));
            }
            bytes.extend_from_slice(&chunk);
        }
        self.policy.check_bytes(bytes, "image", invalid)
    }
}

/// Names the failure of a download without the URL that reqwest puts in its messages.
fn download_error(error: reqwest::Error) -> String {
    let source = std::error::Error::source(&error).map(ToString::to_string);
    let message = error.without_url().to_string();
    match source {
        Some(source) => format!("{message}: {source}"),
        None => message,
    }
}

/// Returns each `http(s)` image URL in the messages with the `param` of its part.
fn remote_image_urls(messages: &[RequestMessage]) -> Vec<(&str, String)> {
    let mut urls = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        let Some(MessageContent::Parts(parts)) = &message.content else { continue };
        for (part_index, part) in parts.iter().enumerate() {
            let Some(image_url) = part.image_url.as_ref().filter(|_| part.kind == "image_url") else { continue };
            if is_remote(&image_url.url) {
                urls.push((image_url.url.as_str(), format!("messages[{index}].content[{part_index}].image_url.url")));
            }
        }
    }
    urls
}

fn is_remote(url: &str) -> bool {
    let scheme = url.split_once(':').map(|(scheme, _)| scheme.to_ascii_lowercase());
    matches!(scheme.as_deref(), Some("http" | "https"))
}

/// Returns the image of an `image_url` part: a `data:` URL decoded and checked, or a remote
/// image already downloaded by [`ImageFetcher::fetch_remote_images`].
pub fn resolve_image_url(
    url: &str,
    param: &str,
    policy: &ImagePolicy,
    fetched: &HashMap<String, InputImage>,
) -> Result<InputImage, ApiError> {
    let invalid = |message: String| ApiError::invalid_request(message, Some(param));
    if is_remote(url) {
        return fetched.get(url).cloned().ok_or_else(|| invalid("The remote image was not downloaded.".into()));
    }
    let Some(rest) = url.strip_prefix("data:") else {
        let accepted = if policy.allowed_hosts.is_empty() {
            "The image URL must be a data: URL (data:image/png;base64,...)."
        } else {
            "The image URL must be a data: URL (data:image/png;base64,...) or an http(s) URL on an allowed host."
        };
        return Err(invalid(accepted.into()));
    };
    let Some((header, data)) = rest.split_once(',') else {
        return Err(invalid("The data: URL has no comma before its data.".into()));
    };
    let Some(media_type) = header.strip_suffix(";base64") else {
        return Err(invalid("The data: URL must be base64-encoded (data:image/png;base64,...).".into()));
    };
    let media_type = media_type.to_ascii_lowercase();
    if media_type == "image/svg+xml" {
        return Err(invalid("SVG images are not accepted: send PNG, JPEG, WebP or GIF.".into()));
    }
    if !ACCEPTED_MEDIA_TYPES.contains(&media_type.as_str()) {
        return Err(invalid(format!("Unsupported image type `{media_type}`: send PNG, JPEG, WebP or GIF.")));
    }
    if data.len() / 4 * 3 > policy.max_bytes {
        return Err(invalid(format!("The image is larger than the limit of {} bytes.", policy.max_bytes)));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|error| invalid(format!("The image data is not valid base64: {}.", error.to_string().trim_end_matches('.'))))?;
    policy.check_bytes(bytes, &format!("{media_type} image"), invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(hosts: &[&str]) -> ImagePolicy {
        ImagePolicy { allowed_hosts: hosts.iter().map(|host| host.parse().unwrap()).collect(), ..ImagePolicy::default() }
    }

    fn url(text: &str) -> reqwest::Url {
        reqwest::Url::parse(text).unwrap()
    }

    #[test]
    fn host_entries_match_host_and_port() {
        let any_port = policy(&["images.example.com"]);
        assert!(any_port.allows(&url("https://images.example.com/a.png")));
        assert!(any_port.allows(&url("http://IMAGES.example.com:8080/a.png")));
        assert!(!any_port.allows(&url("https://example.com/a.png")));
        assert!(!any_port.allows(&url("https://images.example.com.evil.test/a.png")));

        let one_port = policy(&["127.0.0.1:9000"]);
        assert!(one_port.allows(&url("http://127.0.0.1:9000/a.png")));
        assert!(!one_port.allows(&url("http://127.0.0.1:9001/a.png")));
        assert!(!one_port.allows(&url("http://127.0.0.1/a.png")));

        let https_default = policy(&["cdn.example.com:443"]);
        assert!(https_default.allows(&url("https://cdn.example.com/a.png")));
        assert!(!https_default.allows(&url("http://cdn.example.com/a.png")));

        let ipv6 = policy(&["[::1]:9000", "[::2]"]);
        assert!(ipv6.allows(&url("http://[::1]:9000/a.png")));
        assert!(ipv6.allows(&url("http://[::2]:80/a.png")));
        assert!(!ipv6.allows(&url("http://[::1]:9001/a.png")));
    }

    #[test]
    fn host_entries_parsed() {
        assert_eq!("Images.Example.com".parse(), Ok(AllowedHost { host: "images.example.com".into(), port: None }));
        assert_eq!("[::1]:8080".parse(), Ok(AllowedHost { host: "[::1]".into(), port: Some(8080) }));
        for bad in ["", "https://example.com", "example.com:http", "::1", "[::1", "example.com:70000"] {
            assert!(bad.parse::<AllowedHost>().is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn remote_urls_detected_by_scheme() {
        assert!(is_remote("https://example.com/a.png"));
        assert!(is_remote("HTTP://example.com/a.png"));
        assert!(!is_remote("data:image/png;base64,AAAA"));
        assert!(!is_remote("file:///etc/passwd"));
    }
}
