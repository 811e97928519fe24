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
/// finds `USB`.
pub fn normalize(text: &str) -> String {
    clean(text).nfkc().collect()
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
    fn cjk_detection() {
        assert!(contains_cjk("如何安装"));
        assert!(contains_cjk("install 软件"));
        assert!(!contains_cjk("How do I install?"));
        assert!(!contains_cjk("ＡＢＣ"));
    }
}
