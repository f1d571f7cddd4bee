//! Dispatch images from Salesforce into Avni media (contracts/goonj.md §3, Dispatch, Images).
//!
//! Each `ImagesLink` entry `{ImageId, Link}` becomes the Avni file `{uuid}.{ext}`, `uuid` being
//! the UUIDv5-style hash of the `ImageId` (SHA-1 over its UTF-8 bytes, no namespace: what the
//! original's `Generators.nameBasedGenerator().generate(id)` gives), so a re-run finds the URL
//! it stored before and neither downloads nor uploads that image again.

use super::GoonjRun;
use serde_json::{Map, Value};
use sha1::{Digest, Sha1};
use uuid::{Builder, Uuid};

/// The Salesforce field listing a Dispatch's images.
pub const IMAGES_LINK: &str = "ImagesLink";
/// The Avni concept holding the uploaded images' URLs.
pub const LOADING_AND_TRUCK_IMAGES: &str = "Loading And Truck Images";
/// The Avni concept flagging that some new image could not be stored (`"true"`/`"false"`).
pub const INVALID_PHOTOGRAPH_URLS_RECEIVED: &str = "InvalidPhotographURLsReceived";

/// The media UUID of a Salesforce `ImageId`: SHA-1 of its UTF-8 bytes (no namespace), the first
/// 16 bytes with the version 5 and RFC 4122 variant bits set.
pub fn media_uuid(image_id: &str) -> Uuid {
    let digest = Sha1::digest(image_id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Builder::from_sha1_bytes(bytes).into_uuid()
}

/// One `ImagesLink` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesforceImage {
    pub image_id: String,
    pub link: String,
    pub uuid: String,
}

/// The images of a record, in order; entries without `ImageId` or `Link` are skipped (as the
/// original did) and a repeated `ImageId` counts once.
pub fn images_of(record: &Map<String, Value>) -> Vec<SalesforceImage> {
    let Some(entries) = record.get(IMAGES_LINK).and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut images: Vec<SalesforceImage> = Vec::new();
    for entry in entries {
        let field = |key: &str| {
            entry
                .get(key)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let (Some(image_id), Some(link)) = (field("ImageId"), field("Link")) else {
            tracing::warn!(%entry, "image entry without ImageId or Link; skipped");
            continue;
        };
        let uuid = media_uuid(image_id).to_string();
        if images.iter().all(|i| i.uuid != uuid) {
            images.push(SalesforceImage {
                image_id: image_id.to_owned(),
                link: link.to_owned(),
                uuid,
            });
        }
    }
    images
}

/// The URLs an Avni observation holds: a list of strings, or a single string.
pub fn stored_urls(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(url)) if !url.trim().is_empty() => vec![url.clone()],
        _ => Vec::new(),
    }
}

/// An acceptable image content type: (`ext` = the subtype, the MIME type to upload with).
/// Only `image/png`, `image/jpeg` and `image/jpg` are accepted; parameters are ignored.
pub fn accepted_image(content_type: &str) -> Option<(&'static str, &'static str)> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "image/png" => Some(("png", "image/png")),
        "image/jpeg" => Some(("jpeg", "image/jpeg")),
        "image/jpg" => Some(("jpg", "image/jpeg")),
        _ => None,
    }
}

/// What the images of one record came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImagesOutcome {
    /// `Loading And Truck Images`: the kept URLs, then the uploaded ones.
    pub urls: Vec<String>,
    /// Some new image could not be downloaded, was not an accepted image, or its upload failed.
    pub any_failed: bool,
}

/// Keeps the images already stored (a URL in `stored` containing the image's uuid) and copies
/// the others from Salesforce to Avni. Download and upload (PUT) failures only set
/// `any_failed`; a failing `GET /media/uploadUrl` is the record's failure (its message).
pub async fn sync_images(
    run: &GoonjRun,
    images: &[SalesforceImage],
    stored: &[String],
) -> Result<ImagesOutcome, String> {
    let mut kept = Vec::new();
    let mut uploaded = Vec::new();
    let mut any_failed = false;
    for image in images {
        if let Some(url) = stored.iter().find(|url| url.contains(&image.uuid)) {
            kept.push(url.clone());
            continue;
        }
        match copy_image(run, image).await? {
            Some(url) => uploaded.push(url),
            None => any_failed = true,
        }
    }
    kept.extend(uploaded);
    Ok(ImagesOutcome {
        urls: kept,
        any_failed,
    })
}

/// Downloads one image and uploads it to Avni: its Avni URL, `None` when the download or the
/// PUT failed, or the message of a failing upload-URL request.
async fn copy_image(run: &GoonjRun, image: &SalesforceImage) -> Result<Option<String>, String> {
    let (content_type, bytes) = match run.salesforce.download(&image.link).await {
        Ok(downloaded) => downloaded,
        Err(error) => {
            tracing::warn!(image = %image.image_id, link = %image.link, %error,
                "downloading a Salesforce image failed");
            return Ok(None);
        }
    };
    let Some((ext, mime)) = accepted_image(&content_type) else {
        tracing::warn!(image = %image.image_id, link = %image.link, %content_type,
            "a Salesforce image link answered something other than a png or jpeg image");
        return Ok(None);
    };
    let file_name = format!("{}.{ext}", image.uuid);
    let upload_url = run
        .avni
        .media_upload_url(&file_name)
        .await
        .map_err(|error| error.to_string())?;
    if let Err(error) = run.avni.put_media(&upload_url, bytes, mime).await {
        tracing::warn!(image = %image.image_id, %file_name, %error,
            "uploading a Salesforce image to Avni failed");
        return Ok(None);
    }
    Ok(Some(format!("{}{file_name}", run.config.s3_url_prefix)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_media_uuid_is_sha1_of_the_id_without_namespace_with_v5_bits() {
        // sha1("") = da39a3ee5e6b4b0d3255bfef95601890…: version nibble 5, variant 10xx.
        assert_eq!(
            media_uuid("").to_string(),
            "da39a3ee-5e6b-5b0d-b255-bfef95601890"
        );
        assert_eq!(
            media_uuid("0695j00000AbCdEAAZ").to_string(),
            "8962bda2-e305-5787-a18d-a8c147755e80"
        );
        assert_eq!(media_uuid("x").get_version_num(), 5);
        assert_eq!(media_uuid("x"), media_uuid("x"));
        assert_ne!(media_uuid("x"), media_uuid("y"));
    }

    #[test]
    fn image_entries_need_an_id_and_a_link_and_count_once() {
        let record = json!({"ImagesLink": [
            {"ImageId": "A", "Link": " https://sf/a "},
            {"ImageId": "B"},
            {"Link": "https://sf/c"},
            {"ImageId": "A", "Link": "https://sf/a-again"},
            "not an object",
        ]});
        let images = images_of(record.as_object().unwrap());
        assert_eq!(
            images,
            [SalesforceImage {
                image_id: "A".into(),
                link: "https://sf/a".into(),
                uuid: media_uuid("A").to_string(),
            }]
        );
        assert!(images_of(json!({"ImagesLink": null}).as_object().unwrap()).is_empty());
        assert!(images_of(&Map::new()).is_empty());
    }

    #[test]
    fn only_png_and_jpeg_are_accepted_and_the_extension_is_the_subtype() {
        assert_eq!(accepted_image("image/png"), Some(("png", "image/png")));
        assert_eq!(
            accepted_image("IMAGE/JPEG; charset=binary"),
            Some(("jpeg", "image/jpeg"))
        );
        assert_eq!(accepted_image("image/jpg"), Some(("jpg", "image/jpeg")));
        for refused in ["text/html", "image/gif", "application/octet-stream", ""] {
            assert_eq!(accepted_image(refused), None, "{refused}");
        }
    }

    #[test]
    fn stored_urls_read_lists_and_single_strings() {
        assert_eq!(
            stored_urls(Some(&json!(["a", 1, "b"]))),
            ["a".to_owned(), "b".to_owned()]
        );
        assert_eq!(stored_urls(Some(&json!("a"))), ["a".to_owned()]);
        assert!(stored_urls(Some(&json!(""))).is_empty());
        assert!(stored_urls(None).is_empty());
    }
}
