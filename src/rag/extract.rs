//! Extraction: PDF pages and their images through pdfium, Markdown and plain text as one
//! page-less body, and image files as one image each.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pdfium_render::prelude::*;

use super::layout::{self, Bounds};
use super::outline::{read_outline, OutlineEntry};
use super::running_lines;
use super::text::{clean, join_unspaced_script};

/// File format, which decides how the text is read and split into chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Pdf,
    Markdown,
    Text,
    Image,
}

impl DocumentKind {
    /// Chooses the kind from the file extension, or `None` for unsupported files.
    pub fn from_path(path: &Path) -> Option<Self> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "pdf" => Some(Self::Pdf),
            "md" | "markdown" => Some(Self::Markdown),
            "txt" | "text" => Some(Self::Text),
            "png" | "jpg" | "jpeg" | "webp" => Some(Self::Image),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Markdown => "markdown",
            Self::Text => "text",
            Self::Image => "image",
        }
    }
}

/// Text of one page; `number` is the 1-based physical page, `None` for formats without pages.
#[derive(Debug, Clone)]
pub struct PageText {
    pub number: Option<u32>,
    pub text: String,
}

/// An image found in a document, downscaled to at most [`MAX_IMAGE_SIDE`] pixels a side.
#[derive(Debug, Clone)]
pub struct ExtractedImage {
    /// 1-based page, `None` for an image file.
    pub page: Option<u32>,
    pub image: image::RgbImage,
    /// Text that describes the image: its caption or the text around it, or for an image
    /// file the words of its file name.
    pub caption: String,
    /// The image is the rendering of a page without a text layer (a scan).
    pub scanned_page: bool,
}

/// Contents of a file: the text of each page, its images and, for a PDF, its outline.
#[derive(Debug, Clone, Default)]
pub struct Extracted {
    pub pages: Vec<PageText>,
    pub images: Vec<ExtractedImage>,
    pub outline: Vec<OutlineEntry>,
}

/// Maximum side of a kept image, in pixels. It bounds memory and disk per image and leaves
/// room above the input size of common vision encoders (336 pixels for LLaVA 1.5).
pub const MAX_IMAGE_SIDE: u32 = 1024;

/// Images smaller than this on either side are bullets, rules or spacers.
const MIN_IMAGE_SIDE: u32 = 32;

/// Most images kept from one page; more are usually tiles of a single picture.
const MAX_IMAGES_PER_PAGE: usize = 16;

/// Largest image file decoded, in pixels; a decompression bomb is rejected before decoding.
pub const MAX_IMAGE_FILE_PIXELS: u64 = 64 * 1024 * 1024;

/// Reason a file could not be read. The message is shown to the user next to the file.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("file is empty")]
    Empty,
    #[error("PDF is encrypted (a password is required)")]
    Encrypted,
    #[error("not a valid PDF, or the file is damaged or truncated")]
    InvalidPdf,
    #[error("PDF is truncated: it has no end-of-file marker")]
    Truncated,
    #[error("PDF has no pages")]
    NoPages,
    #[error("file is not valid UTF-8 text")]
    NotUtf8,
    #[error("image could not be decoded: {0}")]
    InvalidImage(String),
    #[error("image is {width}x{height} pixels, more than the limit of {MAX_IMAGE_FILE_PIXELS} pixels")]
    ImageTooLarge { width: u32, height: u32 },
    #[error("could not read the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("PDF engine failed: {0}")]
    Pdfium(String),
    #[error(
        "PDF engine could not be loaded from `{}`: run `make setup`, or set DOCENT_PDFIUM to a libpdfium.so ({reason})",
        path.display()
    )]
    PdfiumMissing { path: PathBuf, reason: String },
}

/// Reads the pages and images of a file of the given kind.
pub fn extract(path: &Path, kind: DocumentKind, pdfium_path: &Path) -> Result<Extracted, ExtractError> {
    match kind {
        DocumentKind::Pdf => extract_pdf(path, pdfium_path),
        DocumentKind::Markdown | DocumentKind::Text => {
            let bytes = std::fs::read(path)?;
            let text = String::from_utf8(bytes).map_err(|_| ExtractError::NotUtf8)?;
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            Ok(Extracted { pages: vec![PageText { number: None, text: clean(text) }], ..Default::default() })
        }
        DocumentKind::Image => {
            let image = read_image_file(path)?;
            let caption = file_name_words(path);
            Ok(Extracted {
                pages: Vec::new(),
                images: vec![ExtractedImage { page: None, image, caption, scanned_page: false }],
                outline: Vec::new(),
            })
        }
    }
}

/// Decodes an image file into RGB within [`MAX_IMAGE_FILE_PIXELS`], downscaled.
fn read_image_file(path: &Path) -> Result<image::RgbImage, ExtractError> {
    if std::fs::metadata(path)?.len() == 0 {
        return Err(ExtractError::Empty);
    }
    // The header gives the size, so a decompression bomb is rejected before any decoding.
    let (width, height) = image_reader(path)?
        .into_dimensions()
        .map_err(|error| ExtractError::InvalidImage(error.to_string()))?;
    if u64::from(width) * u64::from(height) > MAX_IMAGE_FILE_PIXELS {
        return Err(ExtractError::ImageTooLarge { width, height });
    }
    let decoded = image_reader(path)?.decode().map_err(|error| ExtractError::InvalidImage(error.to_string()))?;
    Ok(downscale(decoded).to_rgb8())
}

/// Reads the format and size of encoded image bytes from their header, without decoding the
/// pixels, and rejects images over [`MAX_IMAGE_FILE_PIXELS`].
pub fn inspect_image(bytes: &[u8]) -> Result<(image::ImageFormat, u32, u32), ExtractError> {
    let format = image::guess_format(bytes).map_err(|error| ExtractError::InvalidImage(error.to_string()))?;
    let (width, height) = image::ImageReader::with_format(std::io::Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|error| ExtractError::InvalidImage(error.to_string()))?;
    if u64::from(width) * u64::from(height) > MAX_IMAGE_FILE_PIXELS {
        return Err(ExtractError::ImageTooLarge { width, height });
    }
    Ok((format, width, height))
}

fn image_reader(path: &Path) -> Result<image::ImageReader<std::io::BufReader<std::fs::File>>, ExtractError> {
    let mut reader = image::ImageReader::open(path)?
        .with_guessed_format()
        .map_err(|error| ExtractError::InvalidImage(error.to_string()))?;
    let mut limits = image::Limits::default();
    // RGBA at 4 bytes a pixel is the largest buffer a decoder allocates for these formats.
    limits.max_alloc = Some(MAX_IMAGE_FILE_PIXELS * 4);
    reader.limits(limits);
    Ok(reader)
}

/// Shrinks an image so that its longer side is at most [`MAX_IMAGE_SIDE`].
fn downscale(image: image::DynamicImage) -> image::DynamicImage {
    if image.width().max(image.height()) <= MAX_IMAGE_SIDE {
        return image;
    }
    image.resize(MAX_IMAGE_SIDE, MAX_IMAGE_SIDE, image::imageops::FilterType::Triangle)
}

/// Turns `pump-exploded_view.png` into "pump exploded view".
fn file_name_words(path: &Path) -> String {
    let stem = path.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default();
    stem.split(|c: char| c == '-' || c == '_' || c == '.' || c.is_whitespace())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Tells a blank or single-colour image (a spacer or background) from a picture.
fn is_blank(image: &image::RgbImage) -> bool {
    let mut min = [u8::MAX; 3];
    let mut max = [u8::MIN; 3];
    for pixel in image.pixels() {
        for channel in 0..3 {
            min[channel] = min[channel].min(pixel[channel]);
            max[channel] = max[channel].max(pixel[channel]);
        }
    }
    (0..3).all(|channel| max[channel].saturating_sub(min[channel]) < 8)
}

fn extract_pdf(path: &Path, pdfium_path: &Path) -> Result<Extracted, ExtractError> {
    if std::fs::metadata(path)?.len() == 0 {
        return Err(ExtractError::Empty);
    }
    let pdfium = pdfium(pdfium_path)?;
    let document = pdfium.load_pdf_from_file(path, None).map_err(map_load_error)?;
    // pdfium rebuilds a file whose end is missing from the objects it can find. Indexing that
    // would keep a partial document without a word, so such a file is reported instead.
    if !has_end_marker(path)? {
        return Err(ExtractError::Truncated);
    }

    let page_count = document.pages().len();
    if page_count == 0 {
        return Err(ExtractError::NoPages);
    }

    let set_in_columns = has_two_column_pages(&document);
    let mut extracted = Extracted {
        pages: Vec::with_capacity(page_count as usize),
        images: Vec::new(),
        outline: read_outline(&document),
    };
    for (index, page) in document.pages().iter().enumerate() {
        let number = index as u32 + 1;
        let page_text = page.text().map_err(|error| ExtractError::Pdfium(format!("page {number}: {error}")))?;
        // pdfium returns side-by-side columns line by line across the page; such a page is
        // read column by column instead.
        // Segments are listed once for both layouts and the pictures' captions.
        let segment_bounds = segment_bounds(&page_text);
        let columns =
            if set_in_columns { two_column_text(&page_text, &segment_bounds, page.width().value) } else { None };
        if columns.is_some() {
            tracing::debug!(page = number, "reading the page as two columns");
        }
        // A page with a table is read from its segments' positions, which show the cells.
        let laid_out = columns.or_else(|| text_with_tables(&page_text, &segment_bounds, page.width().value));
        // pdfium puts spaces between the characters of justified Chinese lines.
        let text = join_unspaced_script(&clean(&laid_out.unwrap_or_else(|| all_text(&page, &page_text))), false);
        let has_text = !text.trim().is_empty();

        let (mut page_images, largest_coverage) = page_images(&document, &page, &page_text, &segment_bounds, number);
        // A page without text whose only picture covers most of it is a scan. A page with
        // a smaller picture (a screenshot whose caption is on another page) keeps it.
        let is_scan = page_images.is_empty() || page_images.len() == 1 && largest_coverage >= SCAN_COVERAGE;
        if !has_text && is_scan {
            // A page without a text layer is kept whole as an image, for image retrieval and
            // for OCR, in place of the one scan image it usually carries.
            page_images.clear();
            // A blank page (left empty on purpose) has nothing to keep.
            if let Some(image) = render_page(&page).filter(|image| !is_blank(image)) {
                page_images.push(ExtractedImage { page: Some(number), image, caption: String::new(), scanned_page: true });
            }
        }
        extracted.images.extend(page_images);
        extracted.pages.push(PageText { number: Some(number), text });
    }
    running_lines::strip_running_lines(&mut extracted.pages);
    Ok(extracted)
}

/// Collects a page's pictures with the text around them. Images pdfium cannot decode are
/// taken from a rendering of the page region they cover.
/// Share of a page's area from which a lone picture on a page without text counts as a scan.
const SCAN_COVERAGE: f32 = 0.8;

/// Returns the page's pictures and the largest share of the page area one of them covers.
fn page_images(
    document: &PdfDocument,
    page: &PdfPage,
    page_text: &PdfPageText,
    segment_bounds: &[PdfRect],
    number: u32,
) -> (Vec<ExtractedImage>, f32) {
    let mut images = Vec::new();
    let mut largest_coverage = 0f32;
    let page_area = (page.width().value * page.height().value).max(1.0);
    // The page's segments with their texts, read at the first picture and shared by the others.
    let mut segments: Option<Vec<(PdfRect, String)>> = None;
    for object in page.objects().iter() {
        if images.len() == MAX_IMAGES_PER_PAGE {
            break;
        }
        let Some(image_object) = object.as_image_object() else {
            continue;
        };
        let (Ok(width), Ok(height)) = (image_object.width(), image_object.height()) else {
            continue;
        };
        let (width, height) = (width.max(0) as u32, height.max(0) as u32);
        if width < MIN_IMAGE_SIDE || height < MIN_IMAGE_SIDE {
            continue;
        }
        let (target_width, target_height) = fit_within(width, height, MAX_IMAGE_SIDE);
        let decoded = image_object
            .get_processed_image_with_size(document, target_width as Pixels, target_height as Pixels)
            .map(|image| downscale(image).to_rgb8());
        let Ok(bounds) = object.bounds().map(|quad| quad.to_rect()) else {
            continue;
        };
        let image = match decoded {
            Ok(image) => image,
            Err(error) => {
                tracing::debug!(page = number, %error, "rendering the region of an image pdfium could not decode");
                match render_region(page, &bounds) {
                    Some(image) => image,
                    None => continue,
                }
            }
        };
        if is_blank(&image) {
            continue;
        }
        let segments = segments.get_or_insert_with(|| {
            let texts = segment_texts(page_text, segment_bounds);
            segment_bounds.iter().copied().zip(texts).collect()
        });
        let caption = caption_near(segments, &bounds);
        largest_coverage = largest_coverage.max(bounds.width().value * bounds.height().value / page_area);
        images.push(ExtractedImage { page: Some(number), image, caption, scanned_page: false });
    }
    (images, largest_coverage)
}

/// Returns the size of `width` x `height` scaled down to fit in a square of `side`.
fn fit_within(width: u32, height: u32, side: u32) -> (u32, u32) {
    let longer = width.max(height);
    if longer <= side {
        return (width, height);
    }
    let scale = f64::from(side) / f64::from(longer);
    (((f64::from(width) * scale).round() as u32).max(1), ((f64::from(height) * scale).round() as u32).max(1))
}

/// Points of page height searched below an image for its caption, and above it.
const CAPTION_BELOW: f32 = 48.0;
const CAPTION_ABOVE: f32 = 24.0;
/// Points around the image searched when no caption sits right below or above it.
const SURROUNDING: f32 = 120.0;

/// Returns all the text of a page in pdfium's order. pdfium-render's `PdfPageText::all` requests
/// the text inside the page's displayed size, which for a page with `/Rotate 90` is the
/// media box turned sideways and misses text in unrotated coordinates. The media box itself
/// is asked for instead.
fn all_text(page: &PdfPage, page_text: &PdfPageText) -> String {
    match page.boundaries().media() {
        Ok(media) => page_text.inside_rect(media.bounds),
        Err(_) => page_text.all(),
    }
}

/// Lists the bounds of a page's text segments (runs of text on one line), whose texts
/// [`segment_texts`] reads. pdfium-render counts all the segments of a range again
/// for each one it returns, so listing a long page in one range takes time that grows with
/// the square of its length. The segments are listed line by line instead, as no segment
/// crosses a line break.
fn segment_bounds(page_text: &PdfPageText) -> Vec<PdfRect> {
    let list = |start: usize, count: usize| -> Vec<PdfRect> {
        let line = page_text.segments_subset(start as PdfPageTextCharIndex, count as PdfPageTextCharIndex);
        line.iter().map(|segment| segment.bounds()).collect()
    };
    let chars = page_text.chars();
    let mut bounds = Vec::new();
    let mut start = 0;
    for char in chars.iter() {
        let end = char.index() as usize + 1;
        if char.unicode_char() == Some('\n') {
            bounds.extend(list(start, end - start));
            start = end;
        }
    }
    let count = chars.len() as usize;
    if start < count {
        bounds.extend(list(start, count - start));
    }
    bounds
}

/// Returns the text of each segment: the page's characters whose box centre lies inside it, in
/// the page's order. pdfium's text inside a rectangle also takes the characters of a
/// neighbouring segment that overlaps it by a fraction of a point, which doubled the first
/// letters of kerned words ("Va Validating").
fn segment_texts(page_text: &PdfPageText, bounds: &[PdfRect]) -> Vec<String> {
    let contains = |index: usize, (x, y): (f32, f32)| {
        let rect = &bounds[index];
        x >= rect.left().value && x <= rect.right().value && y >= rect.bottom().value && y <= rect.top().value
    };
    let mut texts = vec![String::new(); bounds.len()];
    let mut last: Option<usize> = None;
    for char in page_text.chars().iter() {
        let Some(character) = char.unicode_char() else { continue };
        if character == '\n' || character == '\r' {
            last = None;
            continue;
        }
        let centre = char.tight_bounds().ok().map(|rect| {
            ((rect.left().value + rect.right().value) / 2.0, (rect.bottom().value + rect.top().value) / 2.0)
        });
        // Characters mostly come in the order of the segments, so the search starts at the
        // segment of the character before.
        let start = last.unwrap_or(0);
        let found = centre.and_then(|centre| (start..bounds.len()).chain(0..start).find(|index| contains(*index, centre)));
        match found {
            Some(index) => {
                texts[index].push(character);
                last = Some(index);
            }
            // Some spaces pdfium generates between words lie in no segment.
            None if character.is_whitespace() => {
                if let Some(index) = last {
                    texts[index].push(' ');
                }
            }
            None => {}
        }
    }
    texts
}

/// Pages of a document sampled to tell whether it is set in columns.
const COLUMN_SAMPLE_PAGES: i64 = 12;

/// Tells whether a document is set in two columns: at least a third of up to
/// [`COLUMN_SAMPLE_PAGES`] pages spread over it are. Looking for columns on every page would
/// halve the ingest speed of a one-column manual (from 367 to 178 pages/s on octave.pdf),
/// because pdfium's text segments are slow to list.
fn has_two_column_pages(document: &PdfDocument) -> bool {
    let pages = document.pages();
    let page_count = i64::from(pages.len());
    let samples = page_count.min(COLUMN_SAMPLE_PAGES);
    let mut two_column = 0;
    for sample in 0..samples {
        let Ok(index) = (sample * page_count / samples).try_into() else { continue };
        let Ok(page) = pages.get(index) else { continue };
        let Ok(page_text) = page.text() else { continue };
        let bounds = segment_bounds(&page_text);
        if bounds.len() >= 2 * MIN_COLUMN_SEGMENTS && find_gutter(&bounds, page.width().value).is_some() {
            two_column += 1;
        }
    }
    two_column * 3 >= samples.max(1)
}

/// Text segments a column needs before a page counts as two columns.
const MIN_COLUMN_SEGMENTS: usize = 3;

/// Returns a page's text column by column when it has two columns of text side by side:
/// a vertical gutter in the middle third of the page that no segment crosses, with text on
/// both sides at the same heights. Segments that cross the gutter above both columns, such as
/// a title, come first. Returns `None` for a page of one column.
fn two_column_text(page_text: &PdfPageText, bounds: &[PdfRect], page_width: f32) -> Option<String> {
    // Reading a segment's text costs a pdfium call each, so the gutter is looked for on the
    // segments' bounds alone, and the text is read only for a page of two columns.
    if bounds.len() < 2 * MIN_COLUMN_SEGMENTS {
        return None;
    }
    let gutter = find_gutter(bounds, page_width)?;
    let segments: Vec<(PdfRect, String)> = bounds
        .iter()
        .copied()
        .zip(segment_texts(page_text, bounds))
        .filter(|(_, text)| !text.trim().is_empty())
        .collect();
    let (mut title, mut left, mut right) = (Vec::new(), Vec::new(), Vec::new());
    for segment in &segments {
        let rect = &segment.0;
        if rect.right().value <= gutter {
            left.push(segment);
        } else if rect.left().value >= gutter {
            right.push(segment);
        } else {
            title.push(segment);
        }
    }
    let parts: Vec<String> = [title, left, right].into_iter().filter(|part| !part.is_empty()).map(join_lines).collect();
    Some(parts.join("\n"))
}

/// Returns a page's text with its tables written as Markdown tables, or `None` for a page
/// without a table. Segment texts are read only for a page with a table, because each costs a
/// pdfium call.
fn text_with_tables(page_text: &PdfPageText, bounds: &[PdfRect], page_width: f32) -> Option<String> {
    let boxes: Vec<Bounds> = bounds.iter().map(bounds_of).collect();
    let lines = layout::group_lines(&boxes);
    let tables = layout::find_tables(&boxes, &lines, PROSE_COLUMN_SHARE * page_width);
    if tables.is_empty() {
        return None;
    }
    let texts = segment_texts(page_text, bounds);
    Some(layout::write_lines_with_tables(&boxes, &lines, &tables, &texts))
}

/// Share of the page width from which a column is a column of prose rather than of a table.
const PROSE_COLUMN_SHARE: f32 = 0.3;

/// Finds an x position, in points, that splits the segments into two columns of prose, or
/// `None`. The gutter must be a clear band at least [`GUTTER_POINTS`] wide, wider than the
/// space between words. Both columns must be at least 30% of the page wide, at most 10% of
/// it apart, and their lines must mostly fill them. That separates columns of prose from a
/// table's columns.
fn find_gutter(segments: &[PdfRect], page_width: f32) -> Option<f32> {
    const STEP_POINTS: f32 = 2.0;
    let mut x = page_width / 3.0;
    while x <= page_width * 2.0 / 3.0 {
        let half = GUTTER_POINTS / 2.0;
        let left: Vec<&PdfRect> = segments.iter().filter(|rect| rect.right().value <= x - half).collect();
        let right: Vec<&PdfRect> = segments.iter().filter(|rect| rect.left().value >= x + half).collect();
        let crossing: Vec<&PdfRect> = segments
            .iter()
            .filter(|rect| rect.left().value < x + half && rect.right().value > x - half)
            .collect();
        if left.len() >= MIN_COLUMN_SEGMENTS && right.len() >= MIN_COLUMN_SEGMENTS {
            let top_of = |rects: &[&PdfRect]| rects.iter().map(|rect| rect.top().value).fold(f32::MIN, f32::max);
            let bottom_of = |rects: &[&PdfRect]| rects.iter().map(|rect| rect.bottom().value).fold(f32::MAX, f32::min);
            let columns_top = top_of(&left).min(top_of(&right));
            let side_by_side = bottom_of(&left) < top_of(&right) && bottom_of(&right) < top_of(&left);
            let crossing_above = crossing.iter().all(|rect| rect.bottom().value >= columns_top);
            // Columns of a page layout are wide and close together; a table's first column of
            // short codes is narrow and far from the next.
            let extent = |rects: &[&PdfRect]| {
                let left_edge = rects.iter().map(|rect| rect.left().value).fold(f32::MAX, f32::min);
                let right_edge = rects.iter().map(|rect| rect.right().value).fold(f32::MIN, f32::max);
                (left_edge, right_edge)
            };
            let ((left_start, left_end), (right_start, right_end)) = (extent(&left), extent(&right));
            let wide = left_end - left_start >= PROSE_COLUMN_SHARE * page_width
                && right_end - right_start >= PROSE_COLUMN_SHARE * page_width;
            let close = right_start - left_end <= 0.1 * page_width;
            if side_by_side && crossing_above && wide && close && fills_column(&left) && fills_column(&right) {
                return Some(x);
            }
        }
        x += STEP_POINTS;
    }
    None
}

/// Width of the clear band between two columns, in points.
const GUTTER_POINTS: f32 = 12.0;

/// Tells whether a column reads as prose. The median line must be at least 60% as wide as the
/// column, and at most a third of the lines may have a gap wider than a gutter between their
/// segments, as a table row has between its cells.
fn fills_column(rects: &[&PdfRect]) -> bool {
    let column_left = rects.iter().map(|rect| rect.left().value).fold(f32::MAX, f32::min);
    let column_right = rects.iter().map(|rect| rect.right().value).fold(f32::MIN, f32::max);
    let mut lines: std::collections::BTreeMap<i64, Vec<(f32, f32)>> = std::collections::BTreeMap::new();
    for rect in rects {
        let line = (-(rect.bottom().value + rect.top().value) / 8.0).round() as i64;
        lines.entry(line).or_default().push((rect.left().value, rect.right().value));
    }
    let mut widths = Vec::with_capacity(lines.len());
    let mut gapped_lines = 0;
    for spans in lines.values_mut() {
        spans.sort_by(|a, b| a.0.total_cmp(&b.0));
        let left = spans[0].0;
        let right = spans.iter().map(|span| span.1).fold(f32::MIN, f32::max);
        widths.push(right - left);
        let mut reached = spans[0].1;
        for span in &spans[1..] {
            if span.0 - reached > GUTTER_POINTS {
                gapped_lines += 1;
                break;
            }
            reached = reached.max(span.1);
        }
    }
    widths.sort_by(f32::total_cmp);
    let median = widths[widths.len() / 2];
    median >= 0.6 * (column_right - column_left) && gapped_lines * 3 <= lines.len()
}

/// Returns the text of segments, line by line from the top of the page.
fn join_lines(segments: Vec<&(PdfRect, String)>) -> String {
    let boxes: Vec<Bounds> = segments.iter().map(|(rect, _)| bounds_of(rect)).collect();
    let texts: Vec<String> = segments.into_iter().map(|(_, text)| text.clone()).collect();
    layout::write_lines(&boxes, &layout::group_lines(&boxes), &texts)
}

fn bounds_of(rect: &PdfRect) -> Bounds {
    Bounds { left: rect.left().value, right: rect.right().value, bottom: rect.bottom().value, top: rect.top().value }
}

/// Finds the text that describes an image: the lines right below or above it (where
/// captions sit), else the text around it. Whole text segments are taken when their middle
/// lies in the band, because cutting the band through a line would keep only the letters
/// that reach into it (ascenders such as `b`, `d`, `h`, `l`).
fn caption_near(segments: &[(PdfRect, String)], bounds: &PdfRect) -> String {
    let band = |bottom: f32, top: f32, margin: f32| {
        let (left, right) = (bounds.left().value - margin, bounds.right().value + margin);
        let inside: Vec<&(PdfRect, String)> = segments
            .iter()
            .filter(|(rect, _)| {
                let middle = (rect.bottom().value + rect.top().value) / 2.0;
                middle >= bottom && middle <= top && rect.right().value >= left && rect.left().value <= right
            })
            .collect();
        // Lines are grouped as on a table page, so that Chinese and Latin segments of one line,
        // which sit at different heights, stay in order, and segments that touch join without
        // a space.
        let mut joined = String::new();
        for line in join_lines(inside).lines() {
            layout::push_word(&mut joined, line.trim());
        }
        join_unspaced_script(&clean(&joined), false).trim().to_string()
    };
    let below = band(bounds.bottom().value - CAPTION_BELOW, bounds.bottom().value, 24.0);
    if !below.is_empty() {
        return below;
    }
    let above = band(bounds.top().value, bounds.top().value + CAPTION_ABOVE, 24.0);
    if !above.is_empty() {
        return above;
    }
    band(bounds.bottom().value - SURROUNDING, bounds.top().value + SURROUNDING, SURROUNDING)
}

/// Renders a whole page with its longer side at [`MAX_IMAGE_SIDE`] pixels (about 130 dpi
/// for US Letter), enough for text in scans to stay legible for OCR.
fn render_page(page: &PdfPage) -> Option<image::RgbImage> {
    let config = if page.height().value >= page.width().value {
        PdfRenderConfig::new().set_target_height(MAX_IMAGE_SIDE as Pixels)
    } else {
        PdfRenderConfig::new().set_target_width(MAX_IMAGE_SIDE as Pixels)
    };
    let bitmap = page.render_with_config(&config).ok()?;
    Some(bitmap.as_image().ok()?.to_rgb8())
}

/// Renders the page and crops the region of `bounds` (PDF points, origin bottom-left).
fn render_region(page: &PdfPage, bounds: &PdfRect) -> Option<image::RgbImage> {
    let rendered = render_page(page)?;
    let scale_x = rendered.width() as f32 / page.width().value;
    let scale_y = rendered.height() as f32 / page.height().value;
    let left = (bounds.left().value * scale_x).max(0.0) as u32;
    let top = ((page.height().value - bounds.top().value) * scale_y).max(0.0) as u32;
    let width = ((bounds.width().value * scale_x) as u32).min(rendered.width().saturating_sub(left));
    let height = ((bounds.height().value * scale_y) as u32).min(rendered.height().saturating_sub(top));
    if width < MIN_IMAGE_SIDE || height < MIN_IMAGE_SIDE {
        return None;
    }
    Some(image::imageops::crop_imm(&rendered, left, top, width, height).to_image())
}

/// Looks for `%%EOF` in the last KiB of the file, where PDF writers put it (trailing
/// whitespace or a few bytes of garbage after it are common and accepted).
fn has_end_marker(path: &Path) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};

    const TAIL_BYTES: u64 = 1024;
    let mut file = std::fs::File::open(path)?;
    let length = file.metadata()?.len();
    file.seek(SeekFrom::Start(length.saturating_sub(TAIL_BYTES)))?;
    let mut tail = Vec::with_capacity(TAIL_BYTES as usize);
    file.read_to_end(&mut tail)?;
    Ok(tail.windows(5).any(|window| window == b"%%EOF"))
}

fn map_load_error(error: PdfiumError) -> ExtractError {
    match error {
        PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::PasswordError)
        | PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::SecurityError) => {
            ExtractError::Encrypted
        }
        PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::FormatError) => {
            ExtractError::InvalidPdf
        }
        other => ExtractError::Pdfium(format!("{other:?}")),
    }
}

/// Binds libpdfium once per process: pdfium-render keeps its bindings in a global,
/// so a second bind would fail even for the same library.
pub fn pdfium(library_path: &Path) -> Result<&'static Pdfium, ExtractError> {
    static PDFIUM: OnceLock<Result<Pdfium, (PathBuf, String)>> = OnceLock::new();

    let bound = PDFIUM.get_or_init(|| {
        Pdfium::bind_to_library(library_path).map(Pdfium::new).map_err(|error| {
            // pdfium-render's Display prints its Debug form; the loader's own message is clearer.
            let reason = match error {
                PdfiumError::LoadLibraryError(load_error) => load_error.to_string(),
                other => format!("{other:?}"),
            };
            (library_path.to_path_buf(), reason)
        })
    });
    match bound {
        Ok(pdfium) => Ok(pdfium),
        Err((path, reason)) => {
            Err(ExtractError::PdfiumMissing { path: path.clone(), reason: reason.clone() })
        }
    }
}

/// Reports whether libpdfium can be loaded from the given path.
pub fn check_pdfium(library_path: &Path) -> Result<(), ExtractError> {
    pdfium(library_path).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CRC-32 of a PNG chunk (ISO 3309, reflected, polynomial 0xEDB88320).
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = u32::MAX;
        for byte in bytes {
            crc ^= u32::from(*byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    /// A valid PNG header for an image of the given size, with a token IDAT chunk.
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut header = b"IHDR".to_vec();
        header.extend(width.to_be_bytes());
        header.extend(height.to_be_bytes());
        header.extend([8, 2, 0, 0, 0]);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        for chunk in [header, b"IDAT\x78\x9c\x03\x00\x00\x00\x00\x01".to_vec(), b"IEND".to_vec()] {
            png.extend((chunk.len() as u32 - 4).to_be_bytes());
            png.extend(&chunk);
            png.extend(crc32(&chunk).to_be_bytes());
        }
        png
    }

    #[test]
    fn inspect_image_reads_header_size() {
        let (format, width, height) = inspect_image(&png_header(640, 480)).unwrap();
        assert_eq!(format, image::ImageFormat::Png);
        assert_eq!((width, height), (640, 480));
    }

    #[test]
    fn inspect_image_rejects_bombs_and_junk() {
        let bomb = inspect_image(&png_header(100_000, 100_000));
        assert!(matches!(bomb, Err(ExtractError::ImageTooLarge { width: 100_000, height: 100_000 })), "{bomb:?}");
        let junk = inspect_image(b"plain text, not an image");
        assert!(matches!(junk, Err(ExtractError::InvalidImage(_))), "{junk:?}");
    }
}
