//! Text clean-up applied alike to indexed text and to queries.

use unicode_normalization::UnicodeNormalization;

/// Folds compatibility forms (ligatures, full-width letters and digits) with NFKC,
/// turns `\r\n` and `\r` into `\n`, and drops NUL and other control characters
/// except newlines and tabs.
pub fn normalize(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .nfkc()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

/// Reports whether the text contains a CJK ideograph, kana or hangul.
pub fn contains_cjk(text: &str) -> bool {
    text.chars().any(|c| {
        matches!(c as u32,
            0x3040..=0x30FF      // hiragana, katakana
            | 0x3400..=0x4DBF    // CJK extension A
            | 0x4E00..=0x9FFF    // CJK unified ideographs
            | 0xAC00..=0xD7AF    // hangul syllables
            | 0xF900..=0xFAFF    // CJK compatibility ideographs
            | 0x20000..=0x2FA1F) // CJK extensions B-F and supplement
    })
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
