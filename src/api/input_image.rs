//! Images in chat requests: `image_url` parts carrying `data:` URLs, checked before they
//! reach an engine.

use base64::Engine as _;

use super::ApiError;
use crate::models::InputImage;
use crate::rag::extract::{inspect_image, ExtractError, MAX_IMAGE_FILE_PIXELS};

/// Largest decoded image a request may carry, in bytes.
pub const MAX_IMAGE_BYTES: usize = 20 * 1024 * 1024;

/// Media types an engine can be given. SVG is left out: it is a program, not a picture.
const ACCEPTED_MEDIA_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/webp", "image/gif"];

/// Decodes and checks a `data:` URL: media type, base64, size in bytes and in pixels.
pub fn parse_image_url(url: &str, param: &str) -> Result<InputImage, ApiError> {
    let invalid = |message: String| ApiError::invalid_request(message, Some(param));
    if url.starts_with("http://") || url.starts_with("https://") {
        return Err(invalid(
            "Remote image URLs are not fetched: send the image inline as a data: URL \
             (data:image/png;base64,...)."
                .into(),
        ));
    }
    let Some(rest) = url.strip_prefix("data:") else {
        return Err(invalid("The image URL must be a data: URL (data:image/png;base64,...).".into()));
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
    if data.len() / 4 * 3 > MAX_IMAGE_BYTES {
        return Err(invalid(format!("The image is larger than the limit of {MAX_IMAGE_BYTES} bytes.")));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|error| invalid(format!("The image data is not valid base64: {error}.")))?;

    // The header gives the size, so a decompression bomb is rejected before decoding.
    match inspect_image(&bytes) {
        Ok(_) => Ok(InputImage { media_type, bytes }),
        Err(ExtractError::ImageTooLarge { width, height }) => Err(invalid(format!(
            "The image is {width}x{height} pixels, more than the limit of {MAX_IMAGE_FILE_PIXELS} pixels."
        ))),
        Err(error) => Err(invalid(format!("The data is not a readable {media_type} image: {error}."))),
    }
}
