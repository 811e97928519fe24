//! Writes small PDFs byte by byte, so that tests control exactly which text is on which
//! page. Latin text uses the standard Helvetica font. Other text uses a Type0 font whose
//! character ids are Unicode code points, mapped to themselves by its ToUnicode map. A text
//! extractor needs nothing more. No glyphs are embedded, so such text renders blank.

use std::collections::BTreeSet;
use std::fmt::Write as _;

/// A line of text at a position in points from the bottom-left corner of a US Letter page.
pub struct TextRun<'a> {
    pub text: &'a str,
    pub x: u32,
    pub y: u32,
}

/// Options for unusual files.
#[derive(Default)]
pub struct PdfOptions {
    /// Adds a Standard security handler whose user password is not empty.
    pub encrypted: bool,
    /// RGB images drawn on pages.
    pub images: Vec<PdfImage>,
    /// Pages (0-based) shown turned by 90 degrees clockwise, with `/Rotate 90`, as a landscape
    /// page is stored. Their text is drawn turned the other way, so that it reads upright on
    /// screen. The runs' `x` and `y` are positions on the displayed 792 x 612 page.
    pub rotated_pages: Vec<usize>,
    /// Bookmarks in outline order: depth (0 for the top level), title and 0-based page.
    pub outline: Vec<(usize, &'static str, usize)>,
    /// Space after each character of non-Latin runs, in thousandths of an em (a `TJ`
    /// adjustment), as typesetters spread the characters of justified Chinese lines.
    pub char_gap: u32,
}

/// An RGB image of `width` x `height` pixels, drawn on page `page` (0-based) in the
/// rectangle at (`x`, `y`) of `display_width` x `display_height` points.
pub struct PdfImage {
    pub page: usize,
    pub width: u32,
    pub height: u32,
    /// `width * height * 3` bytes, rows top to bottom.
    pub rgb: Vec<u8>,
    pub x: u32,
    pub y: u32,
    pub display_width: u32,
    pub display_height: u32,
}

impl PdfImage {
    /// A picture with a colour gradient, so that it is neither blank nor a spacer.
    pub fn gradient(page: usize, width: u32, height: u32, x: u32, y: u32) -> Self {
        let mut rgb = Vec::with_capacity((width * height * 3) as usize);
        for row in 0..height {
            for column in 0..width {
                rgb.extend([(column * 255 / width) as u8, (row * 255 / height) as u8, 128]);
            }
        }
        Self { page, width, height, rgb, x, y, display_width: width, display_height: height }
    }
}

/// Builds a PDF with one page per entry, each listing its lines top to bottom.
pub fn pdf_from_lines(pages: &[&[&str]]) -> Vec<u8> {
    let pages: Vec<Vec<TextRun>> = pages
        .iter()
        .map(|lines| {
            lines.iter().enumerate().map(|(index, text)| TextRun { text, x: 72, y: 720 - 18 * index as u32 }).collect()
        })
        .collect();
    build_pdf(&pages, &PdfOptions::default())
}

pub fn build_pdf(pages: &[Vec<TextRun>], options: &PdfOptions) -> Vec<u8> {
    let cjk_chars: BTreeSet<u16> = pages
        .iter()
        .flatten()
        .filter(|run| !run.text.is_ascii())
        .flat_map(|run| run.text.encode_utf16())
        .collect();

    // Object numbers: 1 catalog, 2 pages, 3 Helvetica, 4 Type0 font, 5 CID font,
    // 6 ToUnicode, 7 font descriptor, then a page and a content stream per page.
    let mut objects: Vec<String> = vec![String::new(); 7];
    let first_page_object = 8;
    let kids: Vec<String> = (0..pages.len()).map(|index| format!("{} 0 R", first_page_object + 2 * index)).collect();
    objects[0] = "<< /Type /Catalog /Pages 2 0 R >>".into();
    objects[1] = format!("<< /Type /Pages /Kids [{}] /Count {} >>", kids.join(" "), pages.len());
    objects[2] = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".into();
    objects[3] = "<< /Type /Font /Subtype /Type0 /BaseFont /DocentTestCJK /Encoding /Identity-H \
                  /DescendantFonts [5 0 R] /ToUnicode 6 0 R >>"
        .into();
    objects[4] = "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /DocentTestCJK \
                  /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> \
                  /FontDescriptor 7 0 R /DW 1000 /CIDToGIDMap /Identity >>"
        .into();
    objects[5] = stream_object(&to_unicode_cmap(&cjk_chars));
    objects[6] = "<< /Type /FontDescriptor /FontName /DocentTestCJK /Flags 4 /FontBBox [0 -200 1000 900] \
                  /ItalicAngle 0 /Ascent 900 /Descent -200 /CapHeight 700 /StemV 80 >>"
        .into();

    let first_image_object = first_page_object + 2 * pages.len();
    for (index, runs) in pages.iter().enumerate() {
        let content_object = first_page_object + 2 * index + 1;
        let page_images: Vec<(usize, &PdfImage)> =
            options.images.iter().enumerate().filter(|(_, image)| image.page == index).collect();
        let x_objects: String =
            page_images.iter().map(|(number, _)| format!("/Im{number} {} 0 R ", first_image_object + number)).collect();
        let rotate = if options.rotated_pages.contains(&index) { "/Rotate 90 " } else { "" };
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] {rotate}\
             /Resources << /Font << /F1 3 0 R /F2 4 0 R >> /XObject << {x_objects}>> >> /Contents {content_object} 0 R >>"
        ));
        let mut content = content_stream(runs, options.rotated_pages.contains(&index), options.char_gap);
        for (number, image) in &page_images {
            let _ = writeln!(
                content,
                "q {} 0 0 {} {} {} cm /Im{number} Do Q",
                image.display_width, image.display_height, image.x, image.y
            );
        }
        objects.push(stream_object(&content));
    }
    for image in &options.images {
        let hex: String = image.rgb.iter().map(|byte| format!("{byte:02X}")).collect::<String>() + ">";
        objects.push(format!(
            "<< /Type /XObject /Subtype /Image /Width {} /Height {} /ColorSpace /DeviceRGB \
             /BitsPerComponent 8 /Filter /ASCIIHexDecode /Length {} >>\nstream\n{hex}\nendstream",
            image.width,
            image.height,
            hex.len()
        ));
    }

    if !options.outline.is_empty() {
        let root = objects.len() + 1;
        objects.extend(outline_objects(&options.outline, root, first_page_object));
        objects[0] = format!("<< /Type /Catalog /Pages 2 0 R /Outlines {root} 0 R >>");
    }

    let encrypt_object = options.encrypted.then(|| {
        objects.push(format!(
            "<< /Filter /Standard /V 1 /R 2 /O <{}> /U <{}> /P -44 >>",
            "ab".repeat(32),
            "cd".repeat(32)
        ));
        objects.len()
    });

    let mut out = String::from("%PDF-1.7\n");
    let mut offsets = Vec::with_capacity(objects.len());
    for (index, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        let _ = write!(out, "{} 0 obj\n{body}\nendobj\n", index + 1);
    }
    let xref_offset = out.len();
    let _ = write!(out, "xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        let _ = write!(out, "{offset:010} 00000 n \n");
    }
    let encrypt = encrypt_object
        .map(|number| format!(" /Encrypt {number} 0 R /ID [<{0}> <{0}>]", "0123456789abcdef".repeat(2)))
        .unwrap_or_default();
    let _ = write!(out, "trailer\n<< /Size {} /Root 1 0 R{encrypt} >>\nstartxref\n{xref_offset}\n%%EOF\n", objects.len() + 1);
    out.into_bytes()
}

/// Writes an outline's root, numbered `root`, and its items, numbered from `root + 1` on.
/// Each item leads to the top of its page.
fn outline_objects(items: &[(usize, &str, usize)], root: usize, first_page_object: usize) -> Vec<String> {
    let number = |item: usize| root + 1 + item;
    // An item's parent is the nearest item before it at a smaller depth.
    let parents: Vec<Option<usize>> =
        (0..items.len()).map(|item| (0..item).rev().find(|&before| items[before].0 < items[item].0)).collect();
    let children = |parent: Option<usize>| -> Vec<usize> { (0..items.len()).filter(|&item| parents[item] == parent).collect() };
    let top = children(None);
    let mut objects = vec![format!(
        "<< /Type /Outlines /First {} 0 R /Last {} 0 R /Count {} >>",
        number(top[0]),
        number(top[top.len() - 1]),
        items.len()
    )];
    for (item, (_, title, page)) in items.iter().enumerate() {
        let title: String = title.encode_utf16().map(|unit| format!("{unit:04X}")).collect();
        let mut object = format!(
            "<< /Title <FEFF{title}> /Parent {} 0 R /Dest [{} 0 R /XYZ 0 792 0]",
            parents[item].map_or(root, number),
            first_page_object + 2 * page
        );
        let siblings = children(parents[item]);
        let position = siblings.iter().position(|&sibling| sibling == item).expect("an item is its parent's child");
        if position > 0 {
            let _ = write!(object, " /Prev {} 0 R", number(siblings[position - 1]));
        }
        if let Some(next) = siblings.get(position + 1) {
            let _ = write!(object, " /Next {} 0 R", number(*next));
        }
        let kids = children(Some(item));
        if let (Some(first), Some(last)) = (kids.first(), kids.last()) {
            let _ = write!(object, " /First {} 0 R /Last {} 0 R /Count {}", number(*first), number(*last), kids.len());
        }
        object.push_str(" >>");
        objects.push(object);
    }
    objects
}

fn stream_object(data: &str) -> String {
    format!("<< /Length {} >>\nstream\n{data}\nendstream", data.len())
}

fn content_stream(runs: &[TextRun], rotated: bool, char_gap: u32) -> String {
    let mut content = String::new();
    for run in runs {
        // A turned page shows the media box's left edge at the top: the displayed point (x, y)
        // is (612 - y, x) in page space, and the text runs up the page.
        let placement = if rotated {
            format!("0 1 -1 0 {} {} Tm", 612 - run.y as i64, run.x)
        } else {
            format!("{} {} Td", run.x, run.y)
        };
        if run.text.is_ascii() {
            let escaped = run.text.replace('\\', "\\\\").replace('(', "\\(").replace(')', "\\)");
            let _ = writeln!(content, "BT /F1 12 Tf {placement} ({escaped}) Tj ET");
        } else {
            let glyphs: Vec<String> = run.text.encode_utf16().map(|unit| format!("<{unit:04X}>")).collect();
            let _ = writeln!(content, "BT /F2 12 Tf {placement} [{}] TJ ET", glyphs.join(&format!(" -{char_gap} ")));
        }
    }
    content
}

fn to_unicode_cmap(chars: &BTreeSet<u16>) -> String {
    let mut cmap = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let chars: Vec<u16> = chars.iter().copied().collect();
    for block in chars.chunks(100) {
        let _ = writeln!(cmap, "{} beginbfchar", block.len());
        for unit in block {
            let _ = writeln!(cmap, "<{unit:04X}> <{unit:04X}>");
        }
        cmap.push_str("endbfchar\n");
    }
    cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend");
    cmap
}
