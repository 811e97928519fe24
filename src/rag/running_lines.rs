//! Running headers and footers: the lines a PDF repeats at the top or bottom of its pages,
//! such as the document title and the page number.
//!
//! Left in the text they repeat in every passage of a document (`Debian 参考手册 88 / 223`),
//! where they take room in the model's context and in the sources shown to the user.

use std::collections::{HashMap, HashSet};

use super::extract::PageText;

/// Lines looked at on each end of a page.
const EDGE_LINES: usize = 2;

/// Share of a document's pages on which a line must recur to count as running.
/// A chapter title repeated over one chapter's pages stays, because it shows where the page
/// belongs.
const MIN_PAGE_SHARE: f32 = 0.2;

/// Minimum number of pages a running line recurs on. Shorter documents are left as they are.
const MIN_PAGES: usize = 3;

/// Removes running headers and footers from the pages. A line is running when, with its
/// digits ignored (page numbers), it is among the first or last [`EDGE_LINES`] lines of at
/// least [`MIN_PAGE_SHARE`] of the pages and of at least [`MIN_PAGES`] of them. Only the
/// copies at the edges of pages are removed. Table rows are kept, since a table that goes
/// on over pages repeats its header row on purpose.
pub fn strip_running_lines(pages: &mut [PageText]) {
    let needed = ((pages.len() as f32 * MIN_PAGE_SHARE).ceil() as usize).max(MIN_PAGES);
    if pages.len() < needed {
        return;
    }

    let mut pages_with_line: HashMap<String, usize> = HashMap::new();
    for page in pages.iter() {
        let keys: HashSet<String> = edge_lines(&page.text).into_iter().filter_map(|(_, key)| key).collect();
        for key in keys {
            *pages_with_line.entry(key).or_default() += 1;
        }
    }
    let running: HashSet<&String> =
        pages_with_line.iter().filter(|(_, count)| **count >= needed).map(|(key, _)| key).collect();
    if running.is_empty() {
        return;
    }

    for page in pages.iter_mut() {
        let drop: HashSet<usize> = edge_lines(&page.text)
            .into_iter()
            .filter(|(_, key)| key.as_ref().is_some_and(|key| running.contains(key)))
            .map(|(index, _)| index)
            .collect();
        if drop.is_empty() {
            continue;
        }
        let remaining: Vec<&str> =
            page.text.lines().enumerate().filter(|(index, _)| !drop.contains(index)).map(|(_, line)| line).collect();
        page.text = remaining.join("\n");
    }
}

/// Returns the indexes of the first and last [`EDGE_LINES`] non-blank lines of a page, each
/// with the key it is compared by (`None` for a table row).
fn edge_lines(text: &str) -> Vec<(usize, Option<String>)> {
    let filled: Vec<(usize, &str)> = text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()).collect();
    let head = filled.iter().take(EDGE_LINES);
    let tail = filled.iter().skip(EDGE_LINES).rev().take(EDGE_LINES);
    head.chain(tail).map(|(index, line)| (*index, line_key(line))).collect()
}

/// Returns the key a line is compared by, with digit runs folded to `#` and spaces collapsed
/// so that `12 / 223` and `13 / 223` match, or `None` for a table row.
fn line_key(line: &str) -> Option<String> {
    let line = line.trim();
    if line.starts_with('|') {
        return None;
    }
    let mut key = String::with_capacity(line.len());
    for word in line.split_whitespace() {
        if !key.is_empty() {
            key.push(' ');
        }
        let mut in_digits = false;
        for c in word.chars() {
            if c.is_ascii_digit() {
                if !in_digits {
                    key.push('#');
                }
                in_digits = true;
            } else {
                key.push(c);
                in_digits = false;
            }
        }
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages(texts: &[String]) -> Vec<PageText> {
        texts
            .iter()
            .enumerate()
            .map(|(index, text)| PageText { number: Some(index as u32 + 1), text: text.clone() })
            .collect()
    }

    #[test]
    fn title_and_page_number_removed() {
        let texts: Vec<String> = (1..=6)
            .map(|n| format!("Debian 参考手册 {n} / 223\n{}\n{}\n{n}", "正文".repeat(n), "结尾".repeat(n)))
            .collect();
        let mut pages = pages(&texts);
        strip_running_lines(&mut pages);
        for (index, page) in pages.iter().enumerate() {
            let n = index + 1;
            assert_eq!(page.text, format!("{}\n{}", "正文".repeat(n), "结尾".repeat(n)));
        }
    }

    #[test]
    fn chapter_titles_and_rare_lines_stay() {
        // Each chapter title heads 2 of 12 pages: less than a fifth of the document.
        let words =
            ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu"];
        let texts: Vec<String> = words
            .iter()
            .enumerate()
            .map(|(n, word)| format!("Chapter {}: {}\nAbout {word}.\nSee {word}.", n / 2, words[n / 2]))
            .collect();
        let mut pages = pages(&texts);
        strip_running_lines(&mut pages);
        assert_eq!(pages[5].text, "Chapter 2: gamma\nAbout zeta.\nSee zeta.");
    }

    #[test]
    fn table_rows_and_body_copies_stay() {
        let texts: Vec<String> =
            (1..=5).map(|n| format!("| Code | Meaning |\n| E-{n} | fault {n} |\nManual title\nEnd")).collect();
        let mut pages = pages(&texts);
        pages[0].text = "Manual title\nIntro.\nMore.\nManual title\nMore intro.\nLast.\nEnd".into();
        strip_running_lines(&mut pages);
        assert_eq!(pages[0].text, "Intro.\nMore.\nManual title\nMore intro.\nLast.");
        assert_eq!(pages[2].text, "| Code | Meaning |\n| E-3 | fault 3 |");
    }

    #[test]
    fn short_documents_are_left_alone() {
        let texts: Vec<String> = (1..=2).map(|n| format!("Title\nBody {n}")).collect();
        let mut pages = pages(&texts);
        strip_running_lines(&mut pages);
        assert_eq!(pages[1].text, "Title\nBody 2");
    }
}
