//! A PDF's outline (its bookmarks) turned into the heading path of each passage.
//!
//! Manuals made with LaTeX, Texinfo or DocBook usually carry an outline with one bookmark per
//! section. A bookmark names its page but not its line, so the line is found by its text: the
//! page line that reads as the bookmark's title, perhaps after a section number ("7.3",
//! "Appendix A", "第 4 章").

use pdfium_render::prelude::*;

use super::text::normalize;

/// At most this many bookmarks are visited; a larger outline is cut there.
const MAX_ENTRIES: usize = 10_000;

/// Bookmarks nested deeper than this are not read.
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
/// page in this document are skipped, and their children keep their own depth.
pub fn read_outline(document: &PdfDocument) -> Vec<OutlineEntry> {
    let bookmarks = document.bookmarks();
    let mut entries = Vec::new();
    // Depth-first, children before the next sibling. pdfium-render's own iterator does not
    // give depths, and a bookmark's `parent()` does not know its own parent. Counting visits
    // bounds the walk even in an outline whose links loop.
    let mut pending: Vec<(PdfBookmark, usize)> = bookmarks.root().into_iter().map(|root| (root, 0)).collect();
    let mut visits = 0;
    while let Some((bookmark, level)) = pending.pop() {
        visits += 1;
        if visits > MAX_ENTRIES {
            break;
        }
        if let Some(sibling) = bookmark.next_sibling() {
            pending.push((sibling, level));
        }
        if let Some(child) = bookmark.first_child().filter(|_| level + 1 < MAX_LEVEL) {
            pending.push((child, level + 1));
        }
        let title = bookmark.title().map(|title| title.split_whitespace().collect::<Vec<_>>().join(" "));
        let page = bookmark.destination().and_then(|destination| destination.page_index().ok());
        if let (Some(title), Some(page)) = (title, page) {
            if !title.is_empty() && page >= 0 {
                entries.push(OutlineEntry { level, title, page: page as u32 + 1 });
            }
        }
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

    /// Returns the line where each section of a page starts, with its heading path joined by
    /// " > ". Pages must come in increasing order.
    ///
    /// The first section starts at line 0 under the path carried over from earlier pages. A
    /// bookmark whose title is not found on the page takes effect at the next section start,
    /// so that it labels no text above its unknown line.
    pub fn page_sections(&mut self, page: u32, lines: &[&str]) -> Vec<(usize, String)> {
        while let Some(&entry) = self.entries.get(self.next).filter(|entry| entry.page < page) {
            self.enter(entry);
            self.next += 1;
        }
        // Each start with the title found there, none for the path carried over.
        let mut starts: Vec<(usize, String, Option<&str>)> = vec![(0, self.heading(), None)];
        while let Some(&entry) = self.entries.get(self.next).filter(|entry| entry.page == page) {
            self.next += 1;
            self.enter(entry);
            let cursor = starts.last().map_or(0, |(line, ..)| *line);
            match find_heading_line(lines, cursor, &entry.title) {
                Some(line) if line > cursor => starts.push((line, self.heading(), Some(&entry.title))),
                Some(_) => {
                    *starts.last_mut().expect("starts begin with one") = (cursor, self.heading(), Some(&entry.title))
                }
                None => {}
            }
        }
        join_one_line_sections(starts, lines)
    }

    fn enter(&mut self, entry: &'a OutlineEntry) {
        self.path.retain(|(level, _)| *level < entry.level);
        self.path.push((entry.level, &entry.title));
    }

    fn heading(&self) -> String {
        self.path.iter().map(|(_, title)| *title).collect::<Vec<_>>().join(" > ")
    }
}

/// Joins a section of at most one line to the section after it, because such a line would be
/// a passage of its own that ranks first for its few words. This applies when the line is a
/// title with nothing under it, a page number, or a running header that names a title of the
/// next section's path, such as "Chapter 4: Installing R 21" above "4.1 Running R".
fn join_one_line_sections(starts: Vec<(usize, String, Option<&str>)>, lines: &[&str]) -> Vec<(usize, String)> {
    let mut joined: Vec<(usize, String)> = Vec::with_capacity(starts.len());
    let mut carried_start = None;
    for (index, (own_start, heading, title)) in starts.iter().enumerate() {
        let start = carried_start.take().unwrap_or(*own_start);
        // Only a section that starts at a found title can take the line.
        if let Some((next_start, next_path, Some(_))) = starts.get(index + 1) {
            let filled: Vec<&str> =
                lines[*own_start..*next_start].iter().copied().filter(|line| !line.trim().is_empty()).collect();
            let joins = filled.first().is_none_or(|line| {
                let line = squeeze(line);
                !line.chars().any(char::is_alphabetic)
                    || next_path.split(" > ").map(squeeze).any(|title| {
                        // A title of punctuation alone squeezes to nothing, which every line contains.
                        !title.is_empty() && line.contains(&title)
                    })
            });
            if filled.len() <= 1 && (title.is_some() || joins) {
                carried_start = Some(start);
                continue;
            }
        }
        joined.push((start, heading.clone()));
    }
    joined
}

/// Returns the first line from `from` on that reads as the title, alone or joined with the
/// line after it (a title wrapped over two lines). Failing that, returns the first line that
/// begins with the title and goes on with a capitalized word, as a run-in title does
/// ("Cnormal The smooth cnormal option ...").
fn find_heading_line(lines: &[&str], from: usize, title: &str) -> Option<usize> {
    let squeezed_title = squeeze(title);
    if squeezed_title.is_empty() {
        return None;
    }
    let whole_line = (from..lines.len()).find(|&index| {
        let line = squeeze(lines[index]);
        if line.is_empty() {
            return false;
        }
        // Only a line with letters can hold the start of a wrapped title; a page number above
        // the title must not count as one.
        let wrapped = || {
            let has_letters = line.chars().any(char::is_alphabetic);
            lines.get(index + 1).filter(|_| has_letters).map(|next| line.clone() + &squeeze(next))
        };
        is_titled(&line, &squeezed_title)
            || line.len() < squeezed_title.len() && wrapped().is_some_and(|joined| is_titled(&joined, &squeezed_title))
    });
    whole_line.or_else(|| (from..lines.len()).find(|&index| is_run_in(lines[index], title)))
}

/// Tells whether a line starts with the title, then a space and a capital letter.
fn is_run_in(line: &str, title: &str) -> bool {
    let line = normalize(line);
    let title = normalize(title);
    let Some(rest) = line.trim_start().strip_prefix(title.trim()) else { return false };
    let mut rest = rest.chars();
    rest.next().is_some_and(char::is_whitespace) && rest.next().is_some_and(char::is_uppercase)
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
    fn missing_title_waits_for_next_start() {
        let outline = [entry(0, "Part One", 1), entry(1, "Not printed anywhere", 1), entry(2, "Second", 1)];
        let mut walk = HeadingWalk::new(&outline);
        let sections = walk.page_sections(1, &["Part One", "text", "Second", "text"]);
        assert_eq!(sections, vec![(0, "Part One".into()), (2, "Part One > Not printed anywhere > Second".into())]);
    }

    #[test]
    fn one_line_sections_join_next() {
        let outline = [entry(0, "Reading data", 1), entry(1, "The scan() function", 1), entry(1, "Printing", 2)];
        let mut walk = HeadingWalk::new(&outline);
        let page_1 = ["29", "7 Reading data", "7.1 The scan() function", "text"];
        assert_eq!(walk.page_sections(1, &page_1), vec![(0, "Reading data > The scan() function".into())]);
        // The rest of a section from the page before stays under it, even as a single line.
        let page_2 = ["Chapter 7: Reading data 30", "7.2 Printing", "text"];
        assert_eq!(walk.page_sections(2, &page_2), vec![(0, "Reading data > Printing".into())]);
        let mut walk = HeadingWalk::new(&outline);
        walk.page_sections(1, &page_1);
        let page_2 = ["end of the scan() section.", "7.2 Printing", "text"];
        assert_eq!(
            walk.page_sections(2, &page_2),
            vec![(0, "Reading data > The scan() function".into()), (1, "Reading data > Printing".into())]
        );
    }

    #[test]
    fn heading_line_finds_run_in_title() {
        let lines = ["Data files hold the points.", "Cnormal The smooth cnormal option normalizes.", "Data The data"];
        assert_eq!(find_heading_line(&lines, 0, "Cnormal"), Some(1));
        assert_eq!(find_heading_line(&lines, 0, "Data"), Some(2));
        assert_eq!(find_heading_line(&lines, 0, "Kdensity"), None);
    }
}
