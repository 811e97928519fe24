//! Splitting extracted text into passages that keep their page numbers and heading path.

use super::extract::{DocumentKind, PageText};

/// Chunk size limits, in characters (not bytes, so CJK text is not cut short).
#[derive(Debug, Clone, Copy)]
pub struct ChunkingOptions {
    pub max_chars: usize,
    pub overlap_chars: usize,
}

impl Default for ChunkingOptions {
    fn default() -> Self {
        Self { max_chars: 800, overlap_chars: 100 }
    }
}

/// A passage of a document: `pages` are 1-based physical pages (empty for page-less formats),
/// `heading` is the path of Markdown headings above it, joined with " > ".
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub pages: Vec<u32>,
    pub heading: String,
    pub text: String,
    /// For an image's chunk, the image's id (its file in the knowledge base is
    /// `images/ID.png`); the text is then the image's caption.
    pub image: Option<String>,
}

/// Splits a document's pages into chunks. PDF chunks never cross a page boundary, so each
/// cites exactly one page; Markdown chunks never cross a heading.
pub fn chunk_document(kind: DocumentKind, pages: &[PageText], options: ChunkingOptions) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    for page in pages {
        let page_numbers: Vec<u32> = page.number.into_iter().collect();
        let sections = match kind {
            DocumentKind::Markdown => markdown_sections(&page.text),
            // A table of contents or an index matches the words of many questions but answers
            // none, so its pages are not indexed as passages.
            DocumentKind::Pdf if is_navigation_page(&page.text) => Vec::new(),
            DocumentKind::Pdf | DocumentKind::Text => {
                vec![Section { heading: String::new(), blocks: paragraphs(&page.text) }]
            }
            // An image file has no text pages; its image becomes a chunk at ingest.
            DocumentKind::Image => Vec::new(),
        };
        for section in sections {
            for text in pack_blocks(&section.blocks, options) {
                chunks.push(Chunk { pages: page_numbers.clone(), heading: section.heading.clone(), text, image: None });
            }
        }
    }
    chunks
}

struct Section {
    heading: String,
    blocks: Vec<String>,
}

/// Tells whether a PDF page is mostly lines that end in a page number after dot leaders
/// ("5.1.2 网络接口名称 . . . . 93", "error ids ........ 212"), as tables of contents and
/// back-of-book indexes are: at least 5 such lines, and at least half of the page's lines.
fn is_navigation_page(text: &str) -> bool {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    let leader_lines = lines.iter().filter(|line| is_leader_line(line)).count();
    leader_lines >= 5 && leader_lines * 2 >= lines.len()
}

fn is_leader_line(line: &str) -> bool {
    let ends_in_number = line.chars().last().is_some_and(|c| c.is_ascii_digit());
    let has_leader = ["....", ". . . .", "····", "…"].iter().any(|leader| line.contains(leader));
    ends_in_number && has_leader
}

/// Splits plain text into paragraphs at blank lines. PDF text from pdfium has one line per
/// text line and few blank lines, so a paragraph may be long; `pack_blocks` splits it further.
fn paragraphs(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            push_block(&mut blocks, &mut current);
        } else {
            if !current.is_empty() {
                current.push('\n');
            }
            current.push_str(line.trim_end());
        }
    }
    push_block(&mut blocks, &mut current);
    blocks
}

fn push_block(blocks: &mut Vec<String>, current: &mut String) {
    let block = current.trim();
    if !block.is_empty() {
        blocks.push(block.to_string());
    }
    current.clear();
}

/// Splits Markdown into sections at headings; fenced code blocks stay whole blocks and
/// a `#` inside them is not a heading.
fn markdown_sections(text: &str) -> Vec<Section> {
    let mut sections = Vec::new();
    let mut heading_path: Vec<(usize, String)> = Vec::new();
    let mut blocks = Vec::new();
    let mut current = String::new();
    let mut fence: Option<&str> = None;

    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(marker) = fence {
            current.push('\n');
            current.push_str(line);
            if trimmed.starts_with(marker) {
                fence = None;
                push_block(&mut blocks, &mut current);
            }
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            push_block(&mut blocks, &mut current);
            fence = Some(&trimmed[..3]);
            current.push_str(line);
            continue;
        }
        if let Some((level, title)) = parse_heading(trimmed) {
            push_block(&mut blocks, &mut current);
            if !blocks.is_empty() {
                sections.push(Section { heading: join_heading(&heading_path), blocks: std::mem::take(&mut blocks) });
            }
            heading_path.retain(|(existing, _)| *existing < level);
            heading_path.push((level, title.to_string()));
            continue;
        }
        if trimmed.is_empty() {
            push_block(&mut blocks, &mut current);
        } else {
            if !current.is_empty() {
                current.push('\n');
            }
            current.push_str(line.trim_end());
        }
    }
    push_block(&mut blocks, &mut current);
    if !blocks.is_empty() {
        sections.push(Section { heading: join_heading(&heading_path), blocks });
    }
    sections
}

fn parse_heading(line: &str) -> Option<(usize, &str)> {
    let level = line.chars().take_while(|c| *c == '#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &line[level..];
    if !rest.is_empty() && !rest.starts_with(' ') && !rest.starts_with('\t') {
        return None;
    }
    let title = rest.trim().trim_end_matches('#').trim();
    (!title.is_empty()).then_some((level, title))
}

fn join_heading(path: &[(usize, String)]) -> String {
    path.iter().map(|(_, title)| title.as_str()).collect::<Vec<_>>().join(" > ")
}

/// Packs blocks into chunks of at most `max_chars` characters. A block larger than that is
/// cut at whitespace (or anywhere, for text without spaces such as Chinese), and each cut
/// piece after the first starts with the last `overlap_chars` characters of the piece before.
fn pack_blocks(blocks: &[String], options: ChunkingOptions) -> Vec<String> {
    let max_chars = options.max_chars.max(16);
    let overlap_chars = options.overlap_chars.min(max_chars / 2);
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut current_chars = 0;

    for block in blocks {
        let block_chars = block.chars().count();
        if current_chars > 0 && current_chars + 2 + block_chars > max_chars {
            chunks.push(std::mem::take(&mut current));
            current_chars = 0;
        }
        if block_chars > max_chars {
            match split_table(block, max_chars) {
                Some(pieces) => chunks.extend(pieces),
                None => chunks.extend(split_long(block, max_chars, overlap_chars)),
            }
            continue;
        }
        if current_chars > 0 {
            current.push_str("\n\n");
            current_chars += 2;
        }
        current.push_str(block);
        current_chars += block_chars;
    }
    if current_chars > 0 {
        chunks.push(current);
    }
    chunks
}

/// Splits a Markdown table (a header row, a delimiter row such as `|---|:--:|`, then rows)
/// between rows, repeating the header and delimiter rows at the top of every piece, so that
/// each piece reads as a table of its own. Returns `None` for a block that is not a table. A
/// single row longer than `max_chars` stays whole.
fn split_table(block: &str, max_chars: usize) -> Option<Vec<String>> {
    let lines: Vec<&str> = block.lines().collect();
    if lines.len() < 3 || !lines[0].contains('|') || !is_table_delimiter(lines[1]) {
        return None;
    }
    if !lines[2..].iter().all(|line| line.contains('|')) {
        return None;
    }
    let header = format!("{}\n{}", lines[0], lines[1]);
    let header_chars = header.chars().count();
    let mut pieces = Vec::new();
    let mut current = header.clone();
    let mut current_chars = header_chars;
    for row in &lines[2..] {
        let row_chars = row.chars().count();
        if current_chars > header_chars && current_chars + 1 + row_chars > max_chars {
            pieces.push(std::mem::replace(&mut current, header.clone()));
            current_chars = header_chars;
        }
        current.push('\n');
        current.push_str(row);
        current_chars += 1 + row_chars;
    }
    pieces.push(current);
    Some(pieces)
}

/// Tells whether a line is a Markdown table's delimiter row: cells of dashes with optional
/// colons for alignment, separated by `|`.
fn is_table_delimiter(line: &str) -> bool {
    let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
    !cells.is_empty()
        && cells.iter().all(|cell| {
            let dashes = cell.trim_start_matches(':').trim_end_matches(':');
            dashes.len() >= 3 && dashes.chars().all(|c| c == '-')
        })
}

fn split_long(text: &str, max_chars: usize, overlap_chars: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        let mut end = (start + max_chars).min(chars.len());
        if end < chars.len() {
            // Prefer to cut after the last whitespace in the second half of the window.
            if let Some(offset) = chars[start + max_chars / 2..end].iter().rposition(|c| c.is_whitespace()) {
                end = start + max_chars / 2 + offset + 1;
            }
        }
        let piece: String = chars[start..end].iter().collect();
        pieces.push(piece.trim().to_string());
        if end == chars.len() {
            break;
        }
        start = (end - overlap_chars).max(start + 1);
    }
    pieces.retain(|piece| !piece.is_empty());
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(number: Option<u32>, text: &str) -> PageText {
        PageText { number, text: text.to_string() }
    }

    #[test]
    fn markdown_headings_become_paths() {
        let text = "# Guide\nintro\n\n## Install\nrun make\n\n```sh\n# not a heading\nmake demo\n```\n\n# Other\nend";
        let chunks = chunk_document(DocumentKind::Markdown, &[page(None, text)], ChunkingOptions::default());
        let headings: Vec<&str> = chunks.iter().map(|chunk| chunk.heading.as_str()).collect();
        assert_eq!(headings, ["Guide", "Guide > Install", "Other"]);
        assert!(chunks[1].text.contains("# not a heading"));
        assert!(chunks[1].text.contains("make demo"));
        assert!(chunks.iter().all(|chunk| chunk.pages.is_empty()));
    }

    #[test]
    fn pdf_chunks_stay_on_their_page() {
        let pages = [page(Some(1), "first page text"), page(Some(2), "second page text")];
        let chunks = chunk_document(DocumentKind::Pdf, &pages, ChunkingOptions::default());
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].pages, [1]);
        assert_eq!(chunks[1].pages, [2]);
        assert_eq!(chunks[1].text, "second page text");
    }

    #[test]
    fn long_text_is_split_with_overlap() {
        let word_text = "alpha ".repeat(400);
        let options = ChunkingOptions { max_chars: 200, overlap_chars: 20 };
        let chunks = chunk_document(DocumentKind::Text, &[page(None, &word_text)], options);
        assert!(chunks.len() > 10);
        assert!(chunks.iter().all(|chunk| chunk.text.chars().count() <= 200));
        assert!(chunks.iter().all(|chunk| !chunk.text.contains("alph a")));
    }

    #[test]
    fn chinese_without_spaces_is_split() {
        let text = "安装步骤说明".repeat(100);
        let options = ChunkingOptions { max_chars: 100, overlap_chars: 10 };
        let chunks = chunk_document(DocumentKind::Text, &[page(None, &text)], options);
        assert!(chunks.len() >= 6);
        assert!(chunks.iter().all(|chunk| chunk.text.chars().count() <= 100));
    }

    #[test]
    fn long_table_is_split_between_rows_with_its_header() {
        let mut table = String::from("| code | meaning |\n|---|:---|\n");
        for number in 100..140 {
            table.push_str(&format!("| E-{number} | pump fault number {number}, call service |\n"));
        }
        let text = format!("# Error codes\n\nThe display shows these codes.\n\n{table}");
        let options = ChunkingOptions { max_chars: 400, overlap_chars: 50 };
        let chunks = chunk_document(DocumentKind::Markdown, &[page(None, &text)], options);
        let table_chunks: Vec<&Chunk> = chunks.iter().filter(|chunk| chunk.text.contains("| E-")).collect();
        assert!(table_chunks.len() >= 3, "{chunks:?}");
        let mut rows_seen = 0;
        for chunk in &table_chunks {
            assert!(chunk.text.starts_with("| code | meaning |\n|---|:---|\n"), "{}", chunk.text);
            assert!(chunk.text.chars().count() <= 400, "{}", chunk.text);
            for line in chunk.text.lines().skip(2) {
                assert!(line.starts_with("| E-") && line.ends_with("call service |"), "row cut: {line}");
                rows_seen += 1;
            }
        }
        assert_eq!(rows_seen, 40, "every row once");
    }

    #[test]
    fn table_delimiter_rows() {
        for delimiter in ["|---|---|", "| :--- | ---: |", "---|---", "|:---:|"] {
            assert!(is_table_delimiter(delimiter), "{delimiter}");
        }
        for other in ["| a | b |", "|--|", "- - -", "| --- | text |"] {
            assert!(!is_table_delimiter(other), "{other}");
        }
    }

    #[test]
    fn contents_and_index_pages_are_skipped() {
        let contents = "Contents\n1 Introduction . . . . . . . . . 1\n1.1 Safety . . . . . . . . 2\n\
            1.2 Parts . . . . . . . . 3\n2 Installation . . . . . . . 5\n2.1 Mounting . . . . . . 6\n3 Errors . . . . . . 9";
        let index = "Index\nerror bar series ............ 503\nerror ids ............ 212, 214\n\
            errors, handling ............ 240\nexit ............ 12\nexp ............ 401";
        let chinese = "目录\n5.1.2 网络接口名称 . . . . . . . . 93\n5.1.3 局域网网络地址范围 . . . . . . 93\n\
            5.1.4 网络设备支持 . . . . . . 94\n5.2 现代的桌面网络配置 . . . . . . 94\n5.3 网络配置 . . . . . . 95";
        let prose = "Error E-102 means the intake filter is blocked. See page 12.\nClean it . . . then restart 3";
        let pages = [page(Some(1), contents), page(Some(2), index), page(Some(3), chinese), page(Some(4), prose)];
        let chunks = chunk_document(DocumentKind::Pdf, &pages, ChunkingOptions::default());
        assert_eq!(chunks.len(), 1, "{chunks:?}");
        assert_eq!(chunks[0].pages, [4]);
    }

    #[test]
    fn blank_document_has_no_chunks() {
        let chunks = chunk_document(DocumentKind::Pdf, &[page(Some(1), "  \n\n ")], ChunkingOptions::default());
        assert!(chunks.is_empty());
    }
}
