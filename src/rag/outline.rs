//! A PDF's outline (its bookmarks) turned into the heading path of each passage.
//!
//! Manuals made by TeX, Texinfo or DocBook carry an outline with one bookmark per section.
//! A bookmark names its page but not its line, so the line is found by its text: the page line
//! that reads as the bookmark's title, perhaps after a section number ("7.3", "Appendix A",
//! "第 4 章").

use pdfium_render::prelude::*;

use super::text::normalize;

/// At most this many bookmarks are read; a larger outline is cut there.
const MAX_ENTRIES: usize = 10_000;

/// Bookmarks nested deeper than this count as being at this depth.
const MAX_LEVEL: usize = 16;

/// A section number in front of a title has at most this many letters and digits.
const MAX_LABEL_CHARS: usize = 12;

/// One bookmark: its depth (0 for the top level), its title and the 1-based page it leads to.
#[derive(Debug, Clone, PartialEq)]
pub struct OutlineEntry {
    pub level: usize,
    pub title: String,
    pub page: u32,
}

/// Reads a document's bookmarks in outline order. Bookmarks without a title or without a
/// page in this document are skipped.
pub fn read_outline(document: &PdfDocument) -> Vec<OutlineEntry> {
    let mut entries = Vec::new();
    for bookmark in document.bookmarks().iter().take(MAX_ENTRIES) {
        let Some(title) = bookmark.title() else { continue };
        let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
        let Some(page) = bookmark.destination().and_then(|destination| destination.page_index().ok()) else {
            continue;
        };
        if title.is_empty() || page < 0 {
            continue;
        }
        let level = std::iter::successors(bookmark.parent(), |parent| parent.parent()).take(MAX_LEVEL).count();
        entries.push(OutlineEntry { level, title, page: page as u32 + 1 });
    }
    entries
}

/// Walks an outline page by page and finds where each page's sections begin.
pub struct HeadingWalk<'a> {
    /// Entries in page order; entries for the same page keep their outline order.
    entries: Vec<&'a OutlineEntry>,
    next: usize,
    path: Vec<(usize, &'a str)>,
}

impl<'a> HeadingWalk<'a> {
    pub fn new(entries: &'a [OutlineEntry]) -> Self {
        let mut entries: Vec<&OutlineEntry> = entries.iter().collect();
        entries.sort_by_key(|entry| entry.page);
        Self { entries, next: 0, path: Vec::new() }
    }

    /// Returns the sections of a page: the line each starts at and its heading path, joined
    /// with " > ". The first starts at line 0 under the path carried over from earlier pages.
    /// A bookmark whose title is on none of the page's lines takes effect where the previous
    /// one did. Pages must come in increasing order.
    pub fn page_sections(&mut self, page: u32, lines: &[&str]) -> Vec<(usize, String)> {
        while let Some(&entry) = self.entries.get(self.next).filter(|entry| entry.page < page) {
            self.enter(entry);
            self.next += 1;
        }
        let mut sections = vec![(0, self.heading())];
        while let Some(&entry) = self.entries.get(self.next).filter(|entry| entry.page == page) {
            self.next += 1;
            self.enter(entry);
            let cursor = sections.last().map_or(0, |(line, _)| *line);
            let heading = self.heading();
            match find_heading_line(lines, cursor, &entry.title) {
                Some(line) if line > cursor => sections.push((line, heading)),
                _ => sections.last_mut().expect("sections start with one").1 = heading,
            }
        }
        sections
    }

    fn enter(&mut self, entry: &'a OutlineEntry) {
        self.path.retain(|(level, _)| *level < entry.level);
        self.path.push((entry.level, &entry.title));
    }

    fn heading(&self) -> String {
        self.path.iter().map(|(_, title)| *title).collect::<Vec<_>>().join(" > ")
    }
}

/// Returns the first line from `from` on that reads as the title, alone or joined with the
/// line after it (a title wrapped over two lines).
fn find_heading_line(lines: &[&str], from: usize, title: &str) -> Option<usize> {
    let title = squeeze(title);
    if title.is_empty() {
        return None;
    }
    (from..lines.len()).find(|&index| {
        let line = squeeze(lines[index]);
        if line.is_empty() {
            return false;
        }
        let wrapped = || lines.get(index + 1).map(|next| line.clone() + &squeeze(next));
        is_titled(&line, &title)
            || line.len() < title.len() && wrapped().is_some_and(|joined| is_titled(&joined, &title))
    })
}

/// Tells whether a squeezed line is the squeezed title, perhaps after a section number.
fn is_titled(line: &str, title: &str) -> bool {
    line.strip_suffix(title).is_some_and(is_section_label)
}

/// Folds a text for comparison: NFKC, lower case, letters and digits only.
fn squeeze(text: &str) -> String {
    normalize(text).chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// Tells whether a squeezed text is a section number such as "73" (from "7.3"), "a1",
/// "chapter7", "appendixb", "partii" or "第4章", or nothing.
fn is_section_label(label: &str) -> bool {
    if label.is_empty() {
        return true;
    }
    if label.chars().count() > MAX_LABEL_CHARS {
        return false;
    }
    let label = ["chapter", "appendix", "part", "section", "第"]
        .iter()
        .find_map(|word| label.strip_prefix(word))
        .unwrap_or(label);
    let label = ["章", "节", "部分"].iter().find_map(|word| label.strip_suffix(word)).unwrap_or(label);
    let mut chars = label.chars();
    let Some(first) = chars.next() else { return false };
    let rest = chars.as_str();
    let digits = |text: &str| text.chars().all(|c| c.is_ascii_digit());
    let roman = |text: &str| text.chars().all(|c| "ivxlc".contains(c));
    (first.is_ascii_digit() && digits(rest)) || (first.is_ascii_lowercase() && digits(rest)) || roman(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(level: usize, title: &str, page: u32) -> OutlineEntry {
        OutlineEntry { level, title: title.into(), page }
    }

    #[test]
    fn heading_line_after_section_number() {
        let lines = ["intro text", "7.3 Accessing builtin datasets", "Around 100 datasets", "第 4 章 认证和访问控制"];
        assert_eq!(find_heading_line(&lines, 0, "Accessing builtin datasets"), Some(1));
        assert_eq!(find_heading_line(&lines, 0, "认证和访问控制"), Some(3));
        assert_eq!(find_heading_line(&lines, 2, "Accessing builtin datasets"), None);
    }

    #[test]
    fn heading_line_skips_mentions_in_text() {
        let lines = ["see Section 7.3 [Accessing builtin datasets], page 33", "if x > 0 then", "If"];
        assert_eq!(find_heading_line(&lines, 0, "Accessing builtin datasets"), None);
        assert_eq!(find_heading_line(&lines, 0, "If"), Some(2));
    }

    #[test]
    fn heading_line_joins_wrapped_title() {
        let lines = ["A Essential and useful other programs", "under a Unix-alike", "body"];
        assert_eq!(find_heading_line(&lines, 0, "A Essential and useful other programs under a Unix-alike"), Some(0));
    }

    #[test]
    fn page_sections_carry_path_across_pages() {
        let outline = [
            entry(0, "Reading data from files", 3),
            entry(1, "The scan() function", 3),
            entry(1, "Accessing builtin datasets", 4),
            entry(0, "Probability distributions", 4),
        ];
        let mut walk = HeadingWalk::new(&outline);
        assert_eq!(walk.page_sections(2, &["preface"]), vec![(0, String::new())]);
        let page_3 = ["7 Reading data from files", "text", "7.2 The scan() function", "more"];
        assert_eq!(
            walk.page_sections(3, &page_3),
            vec![(0, "Reading data from files".into()), (2, "Reading data from files > The scan() function".into())]
        );
        let page_4 = ["end of scan", "7.3 Accessing builtin datasets", "text", "8 Probability distributions"];
        assert_eq!(
            walk.page_sections(4, &page_4),
            vec![
                (0, "Reading data from files > The scan() function".into()),
                (1, "Reading data from files > Accessing builtin datasets".into()),
                (3, "Probability distributions".into()),
            ]
        );
        // A page the outline does not name keeps the last path.
        assert_eq!(walk.page_sections(5, &["tables"]), vec![(0, "Probability distributions".into())]);
    }

    #[test]
    fn missing_title_applies_at_last_start() {
        let outline = [entry(0, "Part One", 1), entry(1, "Not printed anywhere", 1), entry(1, "Second", 1)];
        let mut walk = HeadingWalk::new(&outline);
        let sections = walk.page_sections(1, &["Part One", "text", "Second", "text"]);
        assert_eq!(sections, vec![(0, "Part One > Not printed anywhere".into()), (2, "Part One > Second".into())]);
    }
}
