//! Reading order and tables out of positioned text: a PDF page's text segments, each a box in
//! PDF points (origin bottom-left) with its text, grouped into lines, and tables found where
//! consecutive lines break into the same columns.

use super::text::is_cjk;

/// A text segment's bounding box in PDF points, origin at the bottom left of the page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub left: f32,
    pub right: f32,
    pub bottom: f32,
    pub top: f32,
}

/// Horizontal space between two segments of a line, in points, from which they belong to two
/// table cells: wider than the space between words, as narrow as a compact table's gap.
pub const CELL_GAP_POINTS: f32 = 12.0;

/// Distance in points within which a segment's left edge counts as starting a column.
const ALIGNMENT_POINTS: f32 = 2.0;

/// Rows a table needs, its header included. Two lines that break at the same place are often a
/// label and a value, or a page header, so a table takes three.
const MIN_TABLE_ROWS: usize = 3;

/// Groups segments into lines, top to bottom, each with its segments' indices left to right. A
/// segment joins a line when their heights overlap by at least half the smaller one, so that
/// leader dots and page numbers, which sit lower than the words, stay on their entry's line.
pub fn group_lines(boxes: &[Bounds]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by(|&a, &b| boxes[b].top.total_cmp(&boxes[a].top));

    // Each line: its vertical span and its segments.
    let mut lines: Vec<(f32, f32, Vec<usize>)> = Vec::new();
    for index in order {
        let Bounds { bottom, top, .. } = boxes[index];
        let overlapping = lines.iter_mut().find(|(line_bottom, line_top, _)| {
            let overlap = top.min(*line_top) - bottom.max(*line_bottom);
            overlap >= 0.5 * (top - bottom).min(*line_top - *line_bottom)
        });
        match overlapping {
            Some(line) => {
                line.0 = line.0.min(bottom);
                line.1 = line.1.max(top);
                line.2.push(index);
            }
            None => lines.push((bottom, top, vec![index])),
        }
    }
    lines.sort_by(|a, b| b.1.total_cmp(&a.1));

    lines
        .into_iter()
        .map(|(_, _, mut segments)| {
            segments.sort_by(|&a, &b| boxes[a].left.total_cmp(&boxes[b].left));
            segments
        })
        .collect()
}

/// Writes lines of segments as text, one line a row. Segments of a line are separated by a
/// space unless they touch (a word set in two fonts, such as `fdisk(8)`), meet between two
/// CJK characters, or nearly touch with no space between them in the page's text. Each text
/// keeps the whitespace that follows it in the page's text.
pub fn write_lines(boxes: &[Bounds], lines: &[Vec<usize>], texts: &[String]) -> String {
    let mut text = String::new();
    for line in lines {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&line_text(boxes, line, texts));
    }
    text
}

/// Horizontal gap between two segments, as a share of their height, below which they touch.
const TOUCHING_GAP_SHARE: f32 = 0.1;

/// Horizontal gap, as a share of the height, below which two segments with no space between
/// them in the page's text still join without one. Monospaced text drawn glyph by glyph
/// leaves such gaps between tight glyph boxes, as in `chown -R foo:bar`.
const UNSPACED_GAP_SHARE: f32 = 0.5;

fn line_text(boxes: &[Bounds], segments: &[usize], texts: &[String]) -> String {
    let mut line = String::new();
    let mut previous: Option<(Bounds, bool)> = None;
    for &segment in segments {
        let bounds = boxes[segment];
        let raw = texts[segment].as_str();
        let text = raw.trim();
        // A wrapped cell's segments come from two lines, which never touch.
        let touching = previous.is_some_and(|(previous, spaced_after)| {
            let height = (previous.top - previous.bottom).max(bounds.top - bounds.bottom);
            let same_line = previous.bottom < bounds.top && bounds.bottom < previous.top;
            let gap = bounds.left - previous.right;
            let unspaced = !spaced_after && !raw.starts_with(char::is_whitespace);
            let limit = if unspaced { UNSPACED_GAP_SHARE } else { TOUCHING_GAP_SHARE };
            same_line && gap > -TOUCHING_GAP_SHARE * height && gap < limit * height
        });
        if touching {
            line.push_str(text);
        } else {
            push_word(&mut line, text);
        }
        if !text.is_empty() {
            previous = Some((bounds, raw.ends_with(char::is_whitespace)));
        }
    }
    line
}

/// Appends a text segment after a space, except between two CJK characters: Chinese text
/// comes as one segment per character, written without spaces.
pub fn push_word(text: &mut String, segment: &str) {
    if segment.is_empty() {
        return;
    }
    let cjk_pair = text.chars().last().is_some_and(is_cjk) && segment.chars().next().is_some_and(is_cjk);
    if !text.is_empty() && !cjk_pair {
        text.push(' ');
    }
    text.push_str(segment);
}

/// A table found on a page: the lines it spans and its rows, each a list of cells (one per
/// column, possibly empty) holding segment indices.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub lines: std::ops::Range<usize>,
    pub rows: Vec<Vec<Vec<usize>>>,
}

/// Finds the tables among a page's lines. A table is a run of at least three lines that break
/// into cells at gaps wider than [`CELL_GAP_POINTS`], where each cell lies under exactly one
/// column of the first such line. A line whose cells all lie under columns after the first
/// continues the row above (a cell that wraps). Runs whose columns are all wider than
/// `max_column_points` are side-by-side columns of prose, not a table.
///
/// NOTE: a page set in three or more narrow columns of short entries, such as a reference card,
/// reads as one table across its columns, because the entries of neighbouring columns share lines.
pub fn find_tables(boxes: &[Bounds], lines: &[Vec<usize>], max_column_points: f32) -> Vec<Table> {
    let mut tables = Vec::new();
    let mut building: Option<TableBuilder> = None;

    for (line_index, line) in lines.iter().enumerate() {
        let cells = split_cells(boxes, line);
        if let Some(table) = &mut building {
            if table.add_line(boxes, line_index, line, &cells) {
                continue;
            }
            tables.extend(building.take().and_then(|table| table.finish(max_column_points)));
        }
        if cells.len() >= 2 {
            building = Some(TableBuilder::new(boxes, line_index, line, cells));
        }
    }
    tables.extend(building.and_then(|table| table.finish(max_column_points)));
    tables
}

/// Writes a page's lines as text with each table as a Markdown table: its first row as the
/// header, a delimiter row, then the other rows. A blank line before and after the table makes
/// it a block of its own for chunking.
pub fn write_lines_with_tables(boxes: &[Bounds], lines: &[Vec<usize>], tables: &[Table], texts: &[String]) -> String {
    let mut text = String::new();
    let mut line_index = 0;
    let mut tables = tables.iter().peekable();
    while line_index < lines.len() {
        if let Some(table) = tables.next_if(|table| table.lines.start == line_index) {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(&markdown_table(boxes, table, texts));
            text.push_str("\n\n");
            line_index = table.lines.end;
            continue;
        }
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&line_text(boxes, &lines[line_index], texts));
        line_index += 1;
    }
    text.trim_end().to_string()
}

fn markdown_table(boxes: &[Bounds], table: &Table, texts: &[String]) -> String {
    let row_text = |row: &Vec<Vec<usize>>| {
        let cells: Vec<String> = row.iter().map(|cell| line_text(boxes, cell, texts).replace('|', "\\|")).collect();
        format!("| {} |", cells.join(" | "))
    };
    let columns = table.rows[0].len();
    let mut lines = vec![row_text(&table.rows[0]), format!("|{}", "---|".repeat(columns))];
    lines.extend(table.rows[1..].iter().map(row_text));
    lines.join("\n")
}

/// A run of segments of one line with no gap wider than [`CELL_GAP_POINTS`] inside it.
#[derive(Debug, Clone)]
struct Cell {
    left: f32,
    right: f32,
    segments: Vec<usize>,
}

fn split_cells(boxes: &[Bounds], line: &[usize]) -> Vec<Cell> {
    let mut cells: Vec<Cell> = Vec::new();
    for &segment in line {
        let bounds = boxes[segment];
        match cells.last_mut() {
            Some(cell) if bounds.left - cell.right <= CELL_GAP_POINTS => {
                cell.right = cell.right.max(bounds.right);
                cell.segments.push(segment);
            }
            _ => cells.push(Cell { left: bounds.left, right: bounds.right, segments: vec![segment] }),
        }
    }
    cells
}

struct TableBuilder {
    first_line: usize,
    last_line: usize,
    /// Horizontal extent of each column: its cells so far, widened while it stays clear of
    /// its neighbours.
    columns: Vec<(f32, f32)>,
    rows: Vec<Vec<Vec<usize>>>,
    /// Bottom of the last line taken, and the tallest line height so far.
    bottom: f32,
    line_height: f32,
}

impl TableBuilder {
    fn new(boxes: &[Bounds], line_index: usize, line: &[usize], cells: Vec<Cell>) -> Self {
        let (bottom, height) = vertical_extent(boxes, line);
        Self {
            first_line: line_index,
            last_line: line_index,
            columns: cells.iter().map(|cell| (cell.left, cell.right)).collect(),
            rows: vec![cells.into_iter().map(|cell| cell.segments).collect()],
            bottom,
            line_height: height,
        }
    }

    /// Takes the line as a row or as the continuation of the last row, and returns whether it
    /// did. A line further below the last than two line heights starts a new block.
    fn add_line(&mut self, boxes: &[Bounds], line_index: usize, line: &[usize], cells: &[Cell]) -> bool {
        let (bottom, height) = vertical_extent(boxes, line);
        let top = bottom + height;
        if self.bottom - top > 2.0 * self.line_height.max(height) {
            return false;
        }
        let split;
        let (cells, columns) = match self.assign(cells) {
            Some(columns) => (cells, columns),
            None => {
                split = self.split_at_columns(boxes, cells);
                match self.assign(&split) {
                    Some(columns) => (split.as_slice(), columns),
                    None => return false,
                }
            }
        };
        if cells.len() >= 2 {
            let mut row = vec![Vec::new(); self.columns.len()];
            for (cell, &column) in cells.iter().zip(&columns) {
                row[column] = cell.segments.clone();
            }
            self.rows.push(row);
        } else if columns[0] > 0 {
            let last = self.rows.last_mut().expect("a table starts with a row");
            last[columns[0]].extend(cells[0].segments.iter().copied());
        } else {
            return false;
        }
        for (cell, &column) in cells.iter().zip(&columns) {
            self.widen(column, cell);
        }
        self.last_line = line_index;
        self.bottom = bottom;
        self.line_height = self.line_height.max(height);
        true
    }

    /// Returns the column of each cell, left to right, or `None` when a cell lies under no
    /// column or under two, or two cells share one.
    fn assign(&self, cells: &[Cell]) -> Option<Vec<usize>> {
        let mut assigned = Vec::with_capacity(cells.len());
        for cell in cells {
            let mut under = self
                .columns
                .iter()
                .enumerate()
                .filter(|(_, (left, right))| cell.left < *right && cell.right > *left)
                .map(|(column, _)| column);
            let column = under.next()?;
            if under.next().is_some() || assigned.last().is_some_and(|&previous| previous >= column) {
                return None;
            }
            assigned.push(column);
        }
        Some(assigned)
    }

    /// Splits cells before each segment that starts at a later column's left edge. A cell that
    /// nearly fills its column leaves less than [`CELL_GAP_POINTS`] before the next one, so the
    /// two came out as one cell.
    fn split_at_columns(&self, boxes: &[Bounds], cells: &[Cell]) -> Vec<Cell> {
        let column_at = |left: f32| self.columns.iter().position(|column| (column.0 - left).abs() <= ALIGNMENT_POINTS);
        let mut split = Vec::new();
        for cell in cells {
            let mut current: Option<(usize, Cell)> = None;
            for &segment in &cell.segments {
                let bounds = boxes[segment];
                if let Some((column, part)) = &mut current {
                    let starts_column = column_at(bounds.left).filter(|next| next > column && bounds.left > part.right);
                    if starts_column.is_none() {
                        part.right = part.right.max(bounds.right);
                        part.segments.push(segment);
                        continue;
                    }
                }
                split.extend(current.take().map(|(_, part)| part));
                let column = column_at(bounds.left).unwrap_or(0);
                current = Some((column, Cell { left: bounds.left, right: bounds.right, segments: vec![segment] }));
            }
            split.extend(current.map(|(_, part)| part));
        }
        split
    }

    fn widen(&mut self, column: usize, cell: &Cell) {
        let (left, right) = self.columns[column];
        let widened = (left.min(cell.left), right.max(cell.right));
        let clear_of_previous = column == 0 || self.columns[column - 1].1 < widened.0;
        let clear_of_next = column + 1 == self.columns.len() || widened.1 < self.columns[column + 1].0;
        if clear_of_previous && clear_of_next {
            self.columns[column] = widened;
        }
    }

    fn finish(self, max_column_points: f32) -> Option<Table> {
        let prose_columns = self.columns.iter().all(|(left, right)| right - left > max_column_points);
        if self.rows.len() < MIN_TABLE_ROWS || prose_columns {
            return None;
        }
        Some(Table { lines: self.first_line..self.last_line + 1, rows: self.rows })
    }
}

/// Returns the bottom of a line and its height.
fn vertical_extent(boxes: &[Bounds], line: &[usize]) -> (f32, f32) {
    let bottom = line.iter().map(|&segment| boxes[segment].bottom).fold(f32::MAX, f32::min);
    let top = line.iter().map(|&segment| boxes[segment].top).fold(f32::MIN, f32::max);
    (bottom, top - bottom)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lays out rows of (x, text) cells from the top of a page, 14 points apart, each
    /// character 5 points wide and 10 high.
    fn page(rows: &[&[(f32, &str)]]) -> (Vec<Bounds>, Vec<String>) {
        let mut boxes = Vec::new();
        let mut texts = Vec::new();
        for (index, row) in rows.iter().enumerate() {
            let bottom = 700.0 - 14.0 * index as f32;
            for (x, text) in row.iter() {
                let right = x + 5.0 * text.chars().count() as f32;
                boxes.push(Bounds { left: *x, right, bottom, top: bottom + 10.0 });
                texts.push(text.to_string());
            }
        }
        (boxes, texts)
    }

    fn tables_text(rows: &[&[(f32, &str)]]) -> String {
        let (boxes, texts) = page(rows);
        let lines = group_lines(&boxes);
        let tables = find_tables(&boxes, &lines, 250.0);
        write_lines_with_tables(&boxes, &lines, &tables, &texts)
    }

    #[test]
    fn table_rows_become_markdown() {
        let text = tables_text(&[
            &[(72.0, "Error codes of the pump.")],
            &[(72.0, "Code"), (150.0, "Meaning"), (300.0, "Action")],
            &[(72.0, "E-101"), (150.0, "Low pressure"), (300.0, "Open the valve")],
            &[(72.0, "E-102"), (150.0, "Filter blocked"), (300.0, "Clean it")],
            &[(72.0, "Call service for other codes.")],
        ]);
        let expected = "Error codes of the pump.\n\n\
            | Code | Meaning | Action |\n|---|---|---|\n\
            | E-101 | Low pressure | Open the valve |\n| E-102 | Filter blocked | Clean it |\n\n\
            Call service for other codes.";
        assert_eq!(text, expected);
    }

    #[test]
    fn wrapped_cell_joins_its_row() {
        let text = tables_text(&[
            &[(72.0, "Code"), (150.0, "Meaning")],
            &[(72.0, "E-101"), (150.0, "Low pressure at the")],
            &[(150.0, "intake side")],
            &[(72.0, "E-102"), (150.0, "Filter blocked")],
        ]);
        assert_eq!(text, "| Code | Meaning |\n|---|---|\n| E-101 | Low pressure at the intake side |\n| E-102 | Filter blocked |");
    }

    #[test]
    fn full_cell_splits_at_next_column() {
        // "Supply voltage out of" ends 5 points before the Action column: closer than a cell gap.
        let text = tables_text(&[
            &[(72.0, "Code"), (110.0, "Meaning"), (220.0, "Action")],
            &[(72.0, "E-1"), (110.0, "Low"), (220.0, "Open the valve")],
            &[(72.0, "E-5"), (110.0, "Supply voltage out of"), (220.0, "Measure it")],
        ]);
        assert_eq!(
            text,
            "| Code | Meaning | Action |\n|---|---|---|\n| E-1 | Low | Open the valve |\n| E-5 | Supply voltage out of | Measure it |"
        );
    }

    #[test]
    fn empty_and_right_aligned_cells() {
        let text = tables_text(&[
            &[(72.0, "Part"), (200.0, "Size"), (300.0, "Note")],
            &[(72.0, "P-1"), (205.0, "12"), (300.0, "spare")],
            &[(72.0, "P-2"), (200.0, "140")],
        ]);
        assert_eq!(text, "| Part | Size | Note |\n|---|---|---|\n| P-1 | 12 | spare |\n| P-2 | 140 |  |");
    }

    #[test]
    fn cell_text_keeps_pipes_escaped() {
        let text = tables_text(&[
            &[(72.0, "Key"), (150.0, "Effect")],
            &[(72.0, "a|b"), (150.0, "either")],
            &[(72.0, "c"), (150.0, "see")],
        ]);
        assert!(text.contains("| a\\|b | either |"), "{text}");
    }

    #[test]
    fn prose_and_pairs_are_not_tables() {
        let prose = [(72.0, "The pump starts when the intake valve opens and the")].as_slice();
        let two_lines = tables_text(&[&[(72.0, "Model"), (200.0, "XR-2000")], &[(72.0, "Voltage"), (200.0, "220V")], prose]);
        assert_eq!(two_lines, "Model XR-2000\nVoltage 220V\nThe pump starts when the intake valve opens and the");

        let columns: Vec<[(f32, &str); 2]> = (0..4)
            .map(|_| [(72.0, "left column prose that runs wide across the page"), (330.0, "right column prose that is wide too")])
            .collect();
        let rows: Vec<&[(f32, &str)]> = columns.iter().map(|row| row.as_slice()).collect();
        let (boxes, _) = page(&rows);
        assert!(find_tables(&boxes, &group_lines(&boxes), 150.0).is_empty());
    }

    #[test]
    fn touching_segments_join_without_space() {
        let boxes = [
            Bounds { left: 72.0, right: 97.0, bottom: 700.0, top: 710.0 },
            Bounds { left: 97.2, right: 112.0, bottom: 700.0, top: 710.0 },
            Bounds { left: 115.0, right: 140.0, bottom: 700.0, top: 710.0 },
        ];
        // Texts keep the space that follows them in the page's text.
        let texts = ["fdisk", "(8) ", "manual"].map(String::from);
        assert_eq!(write_lines(&boxes, &group_lines(&boxes), &texts), "fdisk(8) manual");

        // Monospaced glyphs drawn one by one leave gaps between their boxes; without a space
        // in the page's text they still join.
        let lefts = [68.0, 101.2, 105.8, 116.5, 134.2, 138.2, 161.1];
        let rights = [93.6, 103.6, 110.3, 131.4, 135.2, 152.7, 162.1];
        let boxes: Vec<Bounds> =
            lefts.iter().zip(rights).map(|(left, right)| Bounds { left: *left, right, bottom: 250.0, top: 257.0 }).collect();
        let texts = ["chown ", "-", "R ", "foo", ":", "bar ", "."].map(String::from);
        assert_eq!(write_lines(&boxes, &group_lines(&boxes), &texts), "chown -R foo:bar .");
    }

    #[test]
    fn distant_line_ends_the_table() {
        let (mut boxes, mut texts) = page(&[
            &[(72.0, "Code"), (150.0, "Meaning")],
            &[(72.0, "E-1"), (150.0, "one")],
            &[(72.0, "E-2"), (150.0, "two")],
        ]);
        boxes.push(Bounds { left: 150.0, right: 200.0, bottom: 500.0, top: 510.0 });
        texts.push("footnote".to_string());
        let lines = group_lines(&boxes);
        let tables = find_tables(&boxes, &lines, 250.0);
        assert_eq!(tables.len(), 1);
        assert_eq!(tables[0].lines, 0..3);
    }
}
