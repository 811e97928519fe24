//! Text clean-up applied alike to indexed text and to queries.

use unicode_normalization::UnicodeNormalization;

/// Turns `\r\n` and `\r` into `\n` and drops NUL and other control characters except
/// newlines and tabs. Extracted text is stored like this, so results show it as written.
pub fn clean(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

/// Cleans the text and folds compatibility forms (ligatures, full-width letters, digits
/// and punctuation) with NFKC. Indexed text and queries both go through this, so `ＵＳＢ`
/// finds `USB`. Spaces and line breaks between two Chinese or Japanese characters are
/// dropped too (see [`join_unspaced_script`]).
pub fn normalize(text: &str) -> String {
    let folded: String = clean(text).nfkc().collect();
    join_unspaced_script(&folded, true)
}

/// Drops spaces, and with `line_breaks` line breaks, between two characters of a script
/// written without spaces: Chinese ideographs, kana and their punctuation. Justified Chinese
/// lines in PDFs often read with a space after every character (`对 于 一 个`), which would make
/// the word segmenter see single characters. Korean is left alone because it spaces its words.
pub fn join_unspaced_script(text: &str, line_breaks: bool) -> String {
    // Most text, English included, has no such characters and is returned as it is.
    if !text.chars().any(is_unspaced_script) {
        return text.to_string();
    }
    let is_gap = |c: char| c == ' ' || c == '\t' || (line_breaks && c == '\n');
    let chars: Vec<char> = text.chars().collect();
    let mut joined = String::with_capacity(text.len());
    let mut start = 0;
    while start < chars.len() {
        if !is_gap(chars[start]) {
            joined.push(chars[start]);
            start += 1;
            continue;
        }
        let end = chars[start..].iter().position(|c| !is_gap(*c)).map_or(chars.len(), |offset| start + offset);
        let between_unspaced = start > 0
            && is_unspaced_script(chars[start - 1])
            && chars.get(end).is_some_and(|c| is_unspaced_script(*c));
        if !between_unspaced {
            joined.extend(&chars[start..end]);
        }
        start = end;
    }
    joined
}

/// Reports whether the character belongs to a script written without spaces between words:
/// CJK ideographs, kana, CJK punctuation (`。`, `「`) and full-width forms (`，`, `：`).
fn is_unspaced_script(c: char) -> bool {
    is_cjk(c) && !matches!(c as u32, 0xAC00..=0xD7AF) || matches!(c as u32, 0x3001..=0x303F | 0xFF01..=0xFF65)
}

/// Reports whether the text contains a CJK ideograph, kana or hangul.
pub fn contains_cjk(text: &str) -> bool {
    text.chars().any(is_cjk)
}

/// Reports whether the character is a CJK ideograph, kana or hangul.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // hiragana, katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xAC00..=0xD7AF    // hangul syllables
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0x20000..=0x2FA1F) // CJK extensions B-F and supplement
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_ligatures_and_full_width() {
        assert_eq!(normalize("ﬁle"), "file");
        assert_eq!(normalize("ＵＳＢ－Ｃ　２２０Ｖ"), "USB-C 220V");
    }

    #[test]
    fn clean_keeps_full_width_punctuation() {
        assert_eq!(clean("在这一步，请\u{0}选择。"), "在这一步，请选择。");
    }

    #[test]
    fn normalize_drops_controls_keeps_lines() {
        assert_eq!(normalize("a\u{0}b\r\nc\rd\u{7}\te"), "ab\nc\nd\te");
    }

    #[test]
    fn chinese_gaps_dropped() {
        assert_eq!(normalize("对 于 一 个 物 理 设 备"), "对于一个物理设备");
        // NFKC makes the full-width comma an ASCII one, which keeps its space.
        assert_eq!(normalize("为 foo 的 目 录， 也 就\n是"), "为 foo 的目录, 也就是");
        assert_eq!(join_unspaced_script("的 目 录， 也 就", false), "的目录，也就");
        assert_eq!(join_unspaced_script("也 就\n是", false), "也就\n是");
        // Spaces next to Latin words, digits or Korean stay.
        assert_eq!(normalize("Debian 系统 12 个 字符"), "Debian 系统 12 个字符");
        assert_eq!(normalize("한국어 문장"), "한국어 문장");
        assert_eq!(normalize("第 4 章 安装 "), "第 4 章安装 ");
    }

    #[test]
    fn cjk_detection() {
        assert!(contains_cjk("如何安装"));
        assert!(contains_cjk("install 软件"));
        assert!(!contains_cjk("How do I install?"));
        assert!(!contains_cjk("ＡＢＣ"));
    }
}
