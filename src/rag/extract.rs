//! Text extraction: PDF pages through pdfium, Markdown and plain text as one page-less body.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pdfium_render::prelude::*;

use super::text::clean;

/// File format, which decides how the text is read and split into chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Pdf,
    Markdown,
    Text,
}

impl DocumentKind {
    /// Chooses the kind from the file extension, or `None` for unsupported files.
    pub fn from_path(path: &Path) -> Option<Self> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "pdf" => Some(Self::Pdf),
            "md" | "markdown" => Some(Self::Markdown),
            "txt" | "text" => Some(Self::Text),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Markdown => "markdown",
            Self::Text => "text",
        }
    }
}

/// Text of one page; `number` is the 1-based physical page, `None` for formats without pages.
#[derive(Debug, Clone)]
pub struct PageText {
    pub number: Option<u32>,
    pub text: String,
}

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

/// Reads the pages of a file of the given kind.
pub fn extract(path: &Path, kind: DocumentKind, pdfium_path: &Path) -> Result<Vec<PageText>, ExtractError> {
    match kind {
        DocumentKind::Pdf => extract_pdf(path, pdfium_path),
        DocumentKind::Markdown | DocumentKind::Text => {
            let bytes = std::fs::read(path)?;
            let text = String::from_utf8(bytes).map_err(|_| ExtractError::NotUtf8)?;
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            Ok(vec![PageText { number: None, text: clean(text) }])
        }
    }
}

fn extract_pdf(path: &Path, pdfium_path: &Path) -> Result<Vec<PageText>, ExtractError> {
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

    let mut pages = Vec::with_capacity(page_count as usize);
    for (index, page) in document.pages().iter().enumerate() {
        let text = page
            .text()
            .map_err(|error| ExtractError::Pdfium(format!("page {}: {error}", index + 1)))?
            .all();
        pages.push(PageText { number: Some(index as u32 + 1), text: clean(&text) });
    }
    Ok(pages)
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
