//! Splitting extracted text into passages that keep their page numbers and heading path.

use super::extract::{DocumentKind, PageText};
use super::outline::{HeadingWalk, OutlineEntry};

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
/// `heading` is the path of Markdown headings or PDF outline entries above it, joined with " > ".
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub pages: Vec<u32>,
    pub heading: String,
    pub text: String,
    /// For an image's chunk, the image's id (its file in the knowledge base is
    /// `images/ID.png`); the text is then the image's caption.
    pub image: Option<String>,
    /// The characters of the page's extracted text (the whole file's text for formats
    /// without pages) that the chunk covers, counted in Unicode scalar values. A table piece
    /// covers its rows; the header rows it repeats lie before the range. `None` for images.
    pub chars: Option<std::ops::Range<usize>>,
}

/// Splits a document's pages into chunks. PDF chunks never cross a page boundary, so each
/// cites exactly one page, and take their heading path from the PDF's outline; Markdown
/// chunks never cross a heading.
pub fn chunk_document(
    kind: DocumentKind,
    pages: &[PageText],
    outline: &[OutlineEntry],
    options: ChunkingOptions,
) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut headings = HeadingWalk::new(outline);
    for page in pages {
        let page_numbers: Vec<u32> = page.number.into_iter().collect();
        let sections = match kind {
            DocumentKind::Markdown => markdown_sections(&page.text),
            // A table of contents or an index matches the words of many questions but answers
            // none, so its pages are not indexed as passages. The outline entries of a skipped
            // page still reach the heading path at the next page.
            DocumentKind::Pdf if is_navigation_page(&page.text) => Vec::new(),
            DocumentKind::Pdf => outline_sections(&page.text, page.number.unwrap_or_default(), &mut headings),
            DocumentKind::Text => vec![Section { heading: String::new(), blocks: paragraphs(&page.text) }],
            // An image file has no text pages; its image becomes a chunk at ingest.
            DocumentKind::Image => Vec::new(),
        };
        for section in sections {
            for piece in pack_blocks(&section.blocks, options) {
                chunks.push(Chunk {
                    pages: page_numbers.clone(),
                    heading: section.heading.clone(),
                    text: piece.text,
                    image: None,
                    chars: Some(piece.chars),
                });
            }
        }
    }
    chunks
}

struct Section {
    heading: String,
    blocks: Vec<Block>,
}

/// A run of text and the characters of the page text it was taken from.
#[derive(Debug)]
struct Block {
    text: String,
    chars: std::ops::Range<usize>,
}

/// Builds blocks out of a page's lines, remembering where each starts and ends.
struct BlockBuilder {
    chars: Vec<char>,
    blocks: Vec<Block>,
    /// Characters of the block being built: from its first line's start to its last line's end.
    open: Option<std::ops::Range<usize>>,
}

impl BlockBuilder {
    fn new(text: &str) -> Self {
        Self { chars: text.chars().collect(), blocks: Vec::new(), open: None }
    }

    fn add_line(&mut self, line: &std::ops::Range<usize>) {
        self.open = Some(match self.open.take() {
            Some(open) => open.start..line.end,
            None => line.clone(),
        });
    }

    /// Ends the open block; its text is the page text it covers, without surrounding
    /// whitespace.
    fn close(&mut self) {
        let Some(range) = self.open.take() else { return };
        if let Some(block) = block_of(&self.chars, range) {
            self.blocks.push(block);
        }
    }

    fn take_blocks(&mut self) -> Vec<Block> {
        self.close();
        std::mem::take(&mut self.blocks)
    }
}

/// Returns the text of `chars[range]` without surrounding whitespace, with its range
/// narrowed to match, or `None` when only whitespace is left.
fn block_of(chars: &[char], range: std::ops::Range<usize>) -> Option<Block> {
    let slice = &chars[range.clone()];
    let leading = slice.iter().take_while(|c| c.is_whitespace()).count();
    let trailing = slice.iter().rev().take_while(|c| c.is_whitespace()).count();
    if leading == slice.len() {
        return None;
    }
    let chars_range = range.start + leading..range.end - trailing;
    Some(Block { text: chars[chars_range.clone()].iter().collect(), chars: chars_range })
}

/// Returns each line of a text with the range of characters it spans, newline excluded.
fn lines_with_ranges(text: &str) -> Vec<(&str, std::ops::Range<usize>)> {
    let mut lines = Vec::new();
    let mut start = 0;
    for line in text.split('\n') {
        let end = start + line.chars().count();
        lines.push((line, start..end));
        start = end + 1;
    }
    lines
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
    // An entry read as a table row ends in the row's closing `|`.
    let line = line.trim_end_matches(|c: char| c == '|' || c.is_whitespace());
    let ends_in_number = line.chars().last().is_some_and(|c| c.is_ascii_digit());
    let has_leader = ["....", ". . . .", "····", "…"].iter().any(|leader| line.contains(leader));
    ends_in_number && has_leader
}

/// Splits plain text into paragraphs at blank lines. PDF text from pdfium has one line per
/// text line and few blank lines, so a paragraph may be long; `pack_blocks` splits it further.
fn paragraphs(text: &str) -> Vec<Block> {
    let mut builder = BlockBuilder::new(text);
    add_paragraph_lines(&mut builder, &lines_with_ranges(text));
    builder.take_blocks()
}

fn add_paragraph_lines(builder: &mut BlockBuilder, lines: &[(&str, std::ops::Range<usize>)]) {
    for (line, range) in lines {
        if line.trim().is_empty() {
            builder.close();
        } else {
            builder.add_line(range);
        }
    }
}

/// Splits a PDF page into sections where its outline's sections begin, and each section into
/// paragraphs. A heading line stays in its section's text.
fn outline_sections(text: &str, page: u32, headings: &mut HeadingWalk) -> Vec<Section> {
    let lines = lines_with_ranges(text);
    let line_texts: Vec<&str> = lines.iter().map(|(line, _)| *line).collect();
    let starts = headings.page_sections(page, &line_texts);
    let ends: Vec<usize> = starts.iter().skip(1).map(|(line, _)| *line).chain([lines.len()]).collect();

    let mut builder = BlockBuilder::new(text);
    let mut sections = Vec::new();
    for ((start, heading), end) in starts.into_iter().zip(ends) {
        add_paragraph_lines(&mut builder, &lines[start..end]);
        let blocks = builder.take_blocks();
        if !blocks.is_empty() {
            sections.push(Section { heading, blocks });
        }
    }
    sections
}

/// Splits Markdown into sections at headings; fenced code blocks stay whole blocks and
/// a `#` inside them is not a heading.
fn markdown_sections(text: &str) -> Vec<Section> {
    let mut sections = Vec::new();
    let mut heading_path: Vec<(usize, String)> = Vec::new();
    let mut builder = BlockBuilder::new(text);
    let mut fence: Option<&str> = None;

    for (line, range) in lines_with_ranges(text) {
        let trimmed = line.trim_start();
        if let Some(marker) = fence {
            builder.add_line(&range);
            if trimmed.starts_with(marker) {
                fence = None;
                builder.close();
            }
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            builder.close();
            fence = Some(&trimmed[..3]);
            builder.add_line(&range);
            continue;
        }
        if let Some((level, title)) = parse_heading(trimmed) {
            let blocks = builder.take_blocks();
            if !blocks.is_empty() {
                sections.push(Section { heading: join_heading(&heading_path), blocks });
            }
            heading_path.retain(|(existing, _)| *existing < level);
            heading_path.push((level, title.to_string()));
            continue;
        }
        if trimmed.is_empty() {
            builder.close();
        } else {
            builder.add_line(&range);
        }
    }
    let blocks = builder.take_blocks();
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
fn pack_blocks(blocks: &[Block], options: ChunkingOptions) -> Vec<Block> {
    let max_chars = options.max_chars.max(16);
    let overlap_chars = options.overlap_chars.min(max_chars / 2);
    let mut chunks = Vec::new();
    let mut current: Option<Block> = None;

    for block in blocks {
        let block_chars = block.text.chars().count();
        let current_chars = current.as_ref().map_or(0, |current| current.text.chars().count());
        if current_chars > 0 && current_chars + 2 + block_chars > max_chars {
            chunks.extend(current.take());
        }
        if block_chars > max_chars {
            match split_table(block, max_chars) {
                Some(pieces) => chunks.extend(pieces),
                None => chunks.extend(split_long(block, max_chars, overlap_chars)),
            }
            continue;
        }
        match &mut current {
            Some(current) => {
                current.text.push_str("\n\n");
                current.text.push_str(&block.text);
                current.chars.end = block.chars.end;
            }
            None => current = Some(Block { text: block.text.clone(), chars: block.chars.clone() }),
        }
    }
    chunks.extend(current);
    chunks
}

/// Splits a Markdown table (a header row, a delimiter row such as `|---|:--:|`, then rows)
/// between rows, repeating the header and delimiter rows at the top of every piece, so that
/// each piece reads as a table of its own. Returns `None` for a block that is not a table. A
/// single row longer than `max_chars` stays whole.
fn split_table(block: &Block, max_chars: usize) -> Option<Vec<Block>> {
    let lines = lines_with_ranges(&block.text);
    if lines.len() < 3 || !lines[0].0.contains('|') || !is_table_delimiter(lines[1].0) {
        return None;
    }
    if !lines[2..].iter().all(|(line, _)| line.contains('|')) {
        return None;
    }
    let header = format!("{}\n{}", lines[0].0, lines[1].0);
    let header_chars = header.chars().count();
    let mut pieces = Vec::new();
    let mut current: Option<Block> = None;
    for (row, range) in &lines[2..] {
        let row_chars = row.chars().count();
        let rows = block.chars.start + range.start..block.chars.start + range.end;
        let current_chars = current.as_ref().map_or(header_chars, |current| current.text.chars().count());
        if current.is_some() && current_chars + 1 + row_chars > max_chars {
            pieces.extend(current.take());
        }
        let piece = current.get_or_insert_with(|| Block { text: header.clone(), chars: rows.start..rows.start });
        piece.text.push('\n');
        piece.text.push_str(row);
        piece.chars.end = rows.end;
    }
    pieces.extend(current);
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

fn split_long(block: &Block, max_chars: usize, overlap_chars: usize) -> Vec<Block> {
    let chars: Vec<char> = block.text.chars().collect();
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        let mut end = (start + max_chars).min(chars.len());
        let mut ends_at_sentence = false;
        if end < chars.len() {
            // Cut after the last sentence end in the second half of the window, or else after
            // its last whitespace, so that a sentence is cut only where none ends there.
            let second_half = start + max_chars / 2..end;
            if let Some(last) = second_half.clone().rev().find(|&i| ends_sentence(&chars, i)) {
                end = last + 1;
                ends_at_sentence = true;
            } else if let Some(offset) = chars[second_half].iter().rposition(|c| c.is_whitespace()) {
                end = start + max_chars / 2 + offset + 1;
            }
        }
        if let Some(mut piece) = block_of(&chars, start..end) {
            piece.chars = block.chars.start + piece.chars.start..block.chars.start + piece.chars.end;
            pieces.push(piece);
        }
        if end == chars.len() {
            break;
        }
        start = overlap_start(&chars, (end - overlap_chars).max(start + 1), end, ends_at_sentence);
    }
    pieces
}

/// Tells whether `chars[i]` ends a sentence. A Chinese or Japanese full stop, question or
/// exclamation mark or semicolon always does, and its Latin form does when whitespace follows,
/// except the full stop of a section number that starts a line, such as `4.2.1.`.
fn ends_sentence(chars: &[char], i: usize) -> bool {
    match chars[i] {
        '。' | '！' | '？' | '；' | '｡' => true,
        '.' => chars.get(i + 1).is_some_and(|c| c.is_whitespace()) && !ends_section_number(chars, i),
        '!' | '?' | ';' => chars.get(i + 1).is_some_and(|c| c.is_whitespace()),
        _ => false,
    }
}

/// Tells whether the line up to `chars[i]` contains only digits and full stops, as a section
/// number before its title does. It reads back only over digits and full stops.
fn ends_section_number(chars: &[char], i: usize) -> bool {
    let length = chars[..=i].iter().rev().take_while(|c| c.is_ascii_digit() || **c == '.').count();
    let start = i + 1 - length;
    let starts_line = start == 0 || chars[start - 1] == '\n';
    starts_line && chars[start..=i].iter().any(char::is_ascii_digit)
}

/// Moves the start of an overlap to the first sentence that begins in it, or else, where it
/// falls inside a word, to the next word, so that no piece begins in the middle of a sentence
/// or a word. Text without either in the overlap keeps the start as it is. After a piece that
/// ends with a whole sentence, an overlap without a sentence start would only repeat part of
/// that sentence, so the next piece starts at `end` instead.
fn overlap_start(chars: &[char], start: usize, end: usize, after_sentence: bool) -> usize {
    if let Some(sentence) = (start.max(1)..end).find(|&i| ends_sentence(chars, i - 1)) {
        return sentence;
    }
    if after_sentence {
        return end;
    }
    let inside_word = start > 0 && !chars[start - 1].is_whitespace() && !chars[start].is_whitespace();
    if !inside_word {
        return start;
    }
    match chars[start..end].iter().position(|c| c.is_whitespace()) {
        Some(offset) => start + offset + 1,
        None => start,
    }
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
        let chunks = chunk_document(DocumentKind::Markdown, &[page(None, text)], &[], ChunkingOptions::default());
        let headings: Vec<&str> = chunks.iter().map(|chunk| chunk.heading.as_str()).collect();
        assert_eq!(headings, ["Guide", "Guide > Install", "Other"]);
        assert!(chunks[1].text.contains("# not a heading"));
        assert!(chunks[1].text.contains("make demo"));
        assert!(chunks.iter().all(|chunk| chunk.pages.is_empty()));
    }

    #[test]
    fn pdf_chunks_stay_on_their_page() {
        let pages = [page(Some(1), "first page text"), page(Some(2), "second page text")];
        let chunks = chunk_document(DocumentKind::Pdf, &pages, &[], ChunkingOptions::default());
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].pages, [1]);
        assert_eq!(chunks[1].pages, [2]);
        assert_eq!(chunks[1].text, "second page text");
    }

    #[test]
    fn long_text_is_split_with_overlap() {
        let word_text = "alpha ".repeat(400);
        let options = ChunkingOptions { max_chars: 200, overlap_chars: 20 };
        let chunks = chunk_document(DocumentKind::Text, &[page(None, &word_text)], &[], options);
        assert!(chunks.len() > 10);
        assert!(chunks.iter().all(|chunk| chunk.text.chars().count() <= 200));
        assert!(chunks.iter().all(|chunk| !chunk.text.contains("alph a")));
    }

    #[test]
    fn overlap_starts_at_a_word() {
        let words = ["configure", "the", "library", "directory", "before", "installing", "R", "packages", "into", "it"];
        let text: String = (0..400).map(|i| format!("{} ", words[i * 7 % words.len()].repeat(1 + i % 3))).collect();
        let options = ChunkingOptions { max_chars: 200, overlap_chars: 50 };
        let chunks = chunk_document(DocumentKind::Text, &[page(None, &text)], &[], options);
        let chars: Vec<char> = text.chars().collect();
        assert!(chunks.len() > 10);
        for chunk in &chunks[1..] {
            let start = chunk.chars.as_ref().expect("text chunks have ranges").start as usize;
            assert!(chars[start - 1].is_whitespace(), "piece starts inside a word: {:?}", chunk.text);
            assert!(chunk.text.starts_with(chars[start]), "range and text agree: {:?}", chunk.text);
        }
    }

    #[test]
    fn pieces_end_at_sentence_ends() {
        let sentences = [
            "请使用 12 个以上的字符设置密码。",
            "如果想不出好密码，可以用密码生成器 pwgen！",
            "Set the root password before the first reboot. ",
            "Is the network configured? ",
            "The clock is set from a time server; ",
        ];
        let text: String = (0..60).map(|i| sentences[i * 3 % sentences.len()]).collect();
        // Every overlap is longer than the longest sentence, so it contains a sentence start.
        let options = ChunkingOptions { max_chars: 150, overlap_chars: 60 };
        let chunks = chunk_document(DocumentKind::Text, &[page(None, &text)], &[], options);
        let chars: Vec<char> = text.chars().collect();
        assert!(chunks.len() > 10);
        for (index, chunk) in chunks.iter().enumerate() {
            let range = chunk.chars.clone().expect("text chunks have ranges");
            assert!(ends_sentence(&chars, range.end - 1), "piece {index} ends inside a sentence: {:?}", chunk.text);
            if index > 0 {
                let before = chars[..range.start].iter().rev().find(|c| !c.is_whitespace());
                assert!(
                    before.is_some_and(|c| "。！.?;".contains(*c)),
                    "piece {index} starts inside a sentence: {:?}",
                    chunk.text
                );
            }
        }
    }

    #[test]
    fn whole_sentences_are_not_repeated() {
        // Each sentence is longer than the overlap, so no sentence starts inside it: the next
        // piece starts after the whole sentence that ends the piece before.
        let sentence = "The pump must be switched off and the intake valve closed before the filter cover is opened. ";
        let text = sentence.repeat(20);
        let options = ChunkingOptions { max_chars: 300, overlap_chars: 60 };
        let chunks = chunk_document(DocumentKind::Text, &[page(None, &text)], &[], options);
        assert!(chunks.len() > 5);
        for pair in chunks.windows(2) {
            let (before, after) = (pair[0].chars.clone().unwrap(), pair[1].chars.clone().unwrap());
            assert!(after.start >= before.end, "pieces overlap: {:?} and {:?}", pair[0].text, pair[1].text);
            assert!(pair[1].text.starts_with("The pump"), "{:?}", pair[1].text);
        }
    }

    #[test]
    fn section_numbers_end_no_sentence() {
        let text = "Read this first.\n4.2.1.\nBooting the installer. Version 5. Done";
        let chars: Vec<char> = text.chars().collect();
        let ends: Vec<usize> = (0..chars.len()).filter(|&i| ends_sentence(&chars, i)).collect();
        // The text is ASCII, so byte offsets are character offsets.
        let expected = ["first.", "installer.", "5."].map(|word| text.find(word).unwrap() + word.len() - 1);
        assert_eq!(ends, expected);
    }

    #[test]
    fn odd_punctuation_is_split() {
        let texts =
            [".".to_string(), "1.\n2.\n".repeat(500), "。".repeat(2000), "a. ".repeat(500), "4.2.1. ".repeat(300)];
        let options = ChunkingOptions { max_chars: 100, overlap_chars: 30 };
        for text in texts {
            let chunks = chunk_document(DocumentKind::Text, &[page(None, &text)], &[], options);
            assert!(!chunks.is_empty(), "{text:?}");
            for chunk in &chunks {
                assert!(!chunk.text.is_empty(), "{text:?}");
                assert!(chunk.text.chars().count() <= 100, "{:?}", chunk.text);
            }
        }
    }

    #[test]
    fn chinese_without_spaces_is_split() {
        let text = "安装步骤说明".repeat(100);
        let options = ChunkingOptions { max_chars: 100, overlap_chars: 10 };
        let chunks = chunk_document(DocumentKind::Text, &[page(None, &text)], &[], options);
        assert!(chunks.len() >= 6);
        assert!(chunks.iter().all(|chunk| chunk.text.chars().count() <= 100));
    }

    #[test]
    fn long_table_split_between_rows() {
        let mut table = String::from("| code | meaning |\n|---|:---|\n");
        for number in 100..140 {
            table.push_str(&format!("| E-{number} | pump fault number {number}, call service |\n"));
        }
        let text = format!("# Error codes\n\nThe display shows these codes.\n\n{table}");
        let options = ChunkingOptions { max_chars: 400, overlap_chars: 50 };
        let chunks = chunk_document(DocumentKind::Markdown, &[page(None, &text)], &[], options);
        let table_chunks: Vec<&Chunk> = chunks.iter().filter(|chunk| chunk.text.contains("| E-")).collect();
        assert!(table_chunks.len() >= 3, "{chunks:?}");
        let mut rows_seen = 0;
        for chunk in &table_chunks {
            assert!(chunk.text.starts_with("| code | meaning |\n|---|:---|\n"), "{}", chunk.text);
            assert!(chunk.text.chars().count() <= 400, "{}", chunk.text);
            for line in chunk.text.lines().skip(2) {
                assert!(line.starts_with("| E-"), "row cut at its start: {line}");
                assert!(line.ends_with("call service |"), "row cut at its end: {line}");
                rows_seen += 1;
            }
        }
        assert_eq!(rows_seen, 40, "every row once");
    }

    /// Returns the page text a chunk's range covers.
    fn covered(text: &str, chunk: &Chunk) -> String {
        let range = chunk.chars.clone().expect("text chunks have a range");
        text.chars().skip(range.start).take(range.end - range.start).collect()
    }

    #[test]
    fn chunk_ranges_point_into_the_page_text() {
        let text = "  First paragraph of the page.\n\n\nSecond paragraph,\nover two lines.  \n";
        let chunks = chunk_document(DocumentKind::Pdf, &[page(Some(3), text)], &[], ChunkingOptions::default());
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].chars, Some(2..66));
        assert_eq!(covered(text, &chunks[0]), "First paragraph of the page.\n\n\nSecond paragraph,\nover two lines.");

        // Pieces of a long paragraph, overlaps included, are exact slices of the page text.
        let long = "水泵维护说明：".repeat(10) + &" pump service note".repeat(60);
        let options = ChunkingOptions { max_chars: 200, overlap_chars: 40 };
        let chunks = chunk_document(DocumentKind::Text, &[page(None, &long)], &[], options);
        assert!(chunks.len() > 3, "{chunks:?}");
        for chunk in &chunks {
            assert_eq!(covered(&long, chunk), chunk.text);
        }
        let ranges: Vec<_> = chunks.iter().map(|chunk| chunk.chars.clone().unwrap()).collect();
        assert!(ranges.windows(2).all(|pair| pair[1].start < pair[0].end), "pieces overlap: {ranges:?}");
    }

    #[test]
    fn markdown_and_table_ranges() {
        let mut table = String::from("| code | meaning |\n|---|---|\n");
        for number in 100..130 {
            table.push_str(&format!("| E-{number} | fault {number} |\n"));
        }
        let text = format!("# Codes\n\nSee the table.\n\n{table}\n## Notes\n\nCall service.\n");
        let chunks = chunk_document(DocumentKind::Markdown, &[page(None, &text)], &[], ChunkingOptions { max_chars: 200, overlap_chars: 20 });
        let notes = chunks.iter().find(|chunk| chunk.heading == "Codes > Notes").unwrap();
        assert_eq!(covered(&text, notes), "Call service.");
        for piece in chunks.iter().filter(|chunk| chunk.text.contains("| E-")) {
            let rows = piece.text.split_once("|---|---|\n").unwrap().1;
            assert_eq!(covered(&text, piece), rows, "a table piece covers its rows");
        }
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
        let chunks = chunk_document(DocumentKind::Pdf, &pages, &[], ChunkingOptions::default());
        assert_eq!(chunks.len(), 1, "{chunks:?}");
        assert_eq!(chunks[0].pages, [4]);
    }

    #[test]
    fn blank_document_has_no_chunks() {
        let chunks = chunk_document(DocumentKind::Pdf, &[page(Some(1), "  \n\n ")], &[], ChunkingOptions::default());
        assert!(chunks.is_empty());
    }
}
