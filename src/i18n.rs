//! Interface language and the user-facing strings in English and Simplified Chinese.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    En,
    Zh,
}

impl Language {
    /// Chooses the language of an answer: Chinese if the text contains CJK characters.
    pub fn of_text(text: &str) -> Self {
        if crate::rag::text::contains_cjk(text) {
            Self::Zh
        } else {
            Self::En
        }
    }

    /// Parses `en`/`zh` (also `zh-CN`, `zh_CN.UTF-8`, ...).
    pub fn parse(value: &str) -> Option<Self> {
        let lower = value.trim().to_ascii_lowercase();
        if lower.starts_with("zh") {
            Some(Self::Zh)
        } else if lower.starts_with("en") || lower == "c" || lower == "posix" {
            Some(Self::En)
        } else {
            None
        }
    }

    /// Reads the interface language from `DOCENT_LANG`, then the POSIX locale variables
    /// in their order of precedence (`LC_ALL`, `LC_MESSAGES`, `LANG`); English by default.
    pub fn from_env() -> Self {
        for key in ["DOCENT_LANG", "LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Ok(value) = std::env::var(key) {
                if !value.is_empty() {
                    return Self::parse(&value).unwrap_or(Self::En);
                }
            }
        }
        Self::En
    }

    pub fn strings(self) -> &'static Strings {
        match self {
            Self::En => &EN,
            Self::Zh => &ZH,
        }
    }
}

/// Every string the terminal chat and the ingest report show.
pub struct Strings {
    pub chat_title: &'static str,
    pub input_title: &'static str,
    pub input_hint_idle: &'static str,
    pub input_hint_busy: &'static str,
    /// Hint line while images are attached and no answer streams.
    pub input_hint_images: &'static str,
    /// Follows the input title, before the names of the attached images.
    pub input_with_images: &'static str,
    pub you: &'static str,
    pub assistant: &'static str,
    pub sources: &'static str,
    pub no_sources: &'static str,
    /// Printed before an answer that no passage supports, so that the reader sees it first.
    pub answering_without_sources: &'static str,
    pub no_retrieval: &'static str,
    pub searching: &'static str,
    pub reading_sources: &'static str,
    pub stopped: &'static str,
    pub answer_cut: &'static str,
    pub error: &'static str,
    /// Text around the knowledge base name in the chat's welcome line.
    pub welcome: (&'static str, &'static str),
    /// Second welcome line with the image commands, shown when the model takes images.
    pub welcome_images: &'static str,
    /// Precedes the file name of an image sent with a question.
    pub sent_image: &'static str,
    /// Notice for `/image` without a file.
    pub image_usage: &'static str,
    /// Precedes the reason an image could not be attached.
    pub image_not_attached: &'static str,
    /// Text around the model name when a text-only model gets `/image`.
    pub text_only_model: (&'static str, &'static str),
    /// Text around the count of images that `/image clear` removed.
    pub images_cleared: (&'static str, &'static str),
    /// Notice for `/image clear` with nothing attached.
    pub no_images_attached: &'static str,
    /// Text around an unknown `/word`, followed by `commands_help`.
    pub unknown_command: (&'static str, &'static str),
    pub commands_help: &'static str,
    /// Colon after a label, ASCII or full-width as the language writes it.
    pub colon: &'static str,
    /// A colon followed by text on the same line: ": " in English, "：" in Chinese.
    pub colon_inline: &'static str,
    pub ingested: &'static str,
    pub ingested_no_text: &'static str,
    pub ingested_empty: &'static str,
    pub unchanged: &'static str,
    pub failed: &'static str,
    pub removed: &'static str,
    pub removed_missing: &'static str,
    /// Note after an ingest that stored images without an image encoder; `{images}` is the
    /// number of images this ingest stored.
    pub images_by_text_only: &'static str,
    /// Note after an ingest without `--prune`; `{count}` is the number of documents whose file is gone.
    pub files_missing: &'static str,
    /// Note when ingest creates a knowledge base whose name is close to an existing one;
    /// `{name}` is the new name and `{similar}` the existing one.
    pub creating_similar_kb: &'static str,
    /// Note when the paths given to an existing knowledge base hold no supported file.
    pub no_supported_files: &'static str,
    /// Note on files a folder walk skipped; `{count}` files, `{kinds}` such as `.docx 2, .xlsx 1`.
    pub skipped_unsupported: &'static str,
    /// Shown in `{kinds}` for files without an extension.
    pub no_extension: &'static str,
    /// Final error when every file failed; `{count}` is the number of failed files.
    pub all_failed: &'static str,
    /// Final error when some files failed; `{count}` is the number of failed files.
    pub some_failed: &'static str,
    /// Ingest progress beside the bar; `{done}` and `{total}` count files, `{rate}` is pages per
    /// second.
    pub progress_files: &'static str,
    /// Follows indicatif's estimate of the time left, such as `12s`.
    pub progress_left: &'static str,
    /// Step of the file being ingested, shown before its name: `{pages}` is the pages read.
    pub progress_read: &'static str,
    /// Step while encoding: `{done}` of the file's `{total}` passages have vectors.
    pub progress_vectors: &'static str,
    /// Step while encoding images: `{done}` images have vectors.
    pub progress_image_vectors: &'static str,
    /// Said after sources that include images, which a text-only model reads as captions.
    pub images_as_text: &'static str,
    /// Followed by the old path of a renamed file.
    pub renamed_from: &'static str,
    pub pages: Counted,
    pub chunks: Counted,
    pub images: Counted,
    /// Pages without a text layer, kept as images.
    pub scanned_pages: Counted,
}

/// A unit with its singular and plural forms (the same word in Chinese).
pub struct Counted {
    pub one: &'static str,
    pub other: &'static str,
}

impl Counted {
    /// Formats a count with its unit: `1 page`, `3 pages`.
    pub fn format(&self, count: u64) -> String {
        let unit = if count == 1 { self.one } else { self.other };
        format!("{count} {unit}")
    }
}

static EN: Strings = Strings {
    chat_title: "docent",
    input_title: "Question",
    input_hint_idle: "Enter: send · Esc/Ctrl+C: quit · ↑↓ PgUp PgDn: scroll",
    input_hint_busy: "Esc: stop answer · Ctrl+C: quit",
    input_hint_images: "Enter: send with images · /image clear: remove · Esc: quit",
    input_with_images: "with",
    you: "You",
    assistant: "docent",
    sources: "Sources",
    no_sources: "No matching passage in the knowledge base.",
    answering_without_sources: "No passage in the knowledge base matches this question; the model answers without sources.",
    no_retrieval: "Answered without the knowledge base (--top-k 0).",
    searching: "searching…",
    reading_sources: "reading the sources…",
    stopped: "[stopped]",
    answer_cut: "[answer cut off at --max-tokens]",
    error: "Error",
    welcome: ("Ask a question about the documents in knowledge base `", "`."),
    welcome_images: "To ask about an image of your own, type /image FILE, then the question. /image clear removes the attached images.",
    sent_image: "image: ",
    image_usage: "/image needs a file. Type /image FILE to attach a PNG, JPEG, WebP or GIF image to the next question, or /image clear to remove the attached images.",
    image_not_attached: "Image not attached: ",
    text_only_model: (
        "The model `",
        "` reads text only and cannot take images. To ask about images, start the chat with a multimodal model (--model) or with a server that serves one (--remote-url).",
    ),
    images_cleared: ("Removed ", "."),
    no_images_attached: "No images are attached.",
    unknown_command: ("Unknown command `", "`. "),
    commands_help: "Commands: /image FILE attaches an image to the next question, and /image clear removes the attached images.",
    colon: ":",
    colon_inline: ": ",
    ingested: "ingested",
    ingested_no_text: "ingested, but no page has text (scanned?)",
    ingested_empty: "ingested, but the file has no text",
    unchanged: "unchanged",
    failed: "failed",
    removed: "removed",
    removed_missing: "removed (the file no longer exists)",
    creating_similar_kb: "note: creating a new knowledge base `{name}`; an existing one is named `{similar}` (check --kb for a typo)",
    no_supported_files: "note: no supported file was found in the given paths, so nothing was added",
    files_missing: "note: the files of {count} document(s) no longer exist; `docent ingest --prune` removes them from the knowledge base",
    skipped_unsupported: "note: skipped {count} file(s) of unsupported types in the folders ({kinds})",
    no_extension: "no extension",
    all_failed: "{count} file(s) failed and none was ingested",
    some_failed: "{count} file(s) failed; the other files were ingested or are unchanged",
    progress_files: "{done}/{total} files, {rate} pages/s",
    progress_left: "left",
    progress_read: "{pages} pages read",
    progress_vectors: "vectors {done}/{total}",
    progress_image_vectors: "image vectors {done}",
    images_by_text_only: "note: no image encoder is configured, so the images this ingest stored ({images}) are found by their text only (captions, surrounding text or file names); `--image-encoder` adds CLIP image vectors",
    renamed_from: "renamed from",
    images_as_text: "The model read the images among the sources as their captions; it did not see the images.",
    pages: Counted { one: "page", other: "pages" },
    chunks: Counted { one: "chunk", other: "chunks" },
    images: Counted { one: "image", other: "images" },
    scanned_pages: Counted { one: "page without text", other: "pages without text" },
};

static ZH: Strings = Strings {
    chat_title: "docent",
    input_title: "问题",
    input_hint_idle: "Enter：发送 · Esc/Ctrl+C：退出 · ↑↓ PgUp PgDn：滚动",
    input_hint_busy: "Esc：停止回答 · Ctrl+C：退出",
    input_hint_images: "Enter：连同图片发送 · /image clear：移除图片 · Esc：退出",
    input_with_images: "附带",
    you: "你",
    assistant: "docent",
    sources: "来源",
    no_sources: "知识库中没有匹配的段落。",
    answering_without_sources: "知识库中没有与这个问题匹配的段落，以下回答没有来源依据。",
    no_retrieval: "未使用知识库作答（--top-k 0）。",
    searching: "检索中…",
    reading_sources: "正在阅读资料…",
    stopped: "[已停止]",
    answer_cut: "[回答达到 --max-tokens 上限，已截断]",
    error: "错误",
    welcome: ("请就知识库“", "”中的文档提问。"),
    welcome_images: "要就自己的图片提问，先输入 /image 文件路径，再输入问题。/image clear 移除已附加的图片。",
    sent_image: "图片：",
    image_usage: "/image 需要文件路径。输入 /image 文件路径，把 PNG、JPEG、WebP 或 GIF 图片附加到下一个问题；输入 /image clear 移除已附加的图片。",
    image_not_attached: "图片未附加：",
    text_only_model: (
        "模型 `",
        "` 只能读取文字，无法接收图片。要就图片提问，请用多模态模型（--model）或提供多模态模型的服务器（--remote-url）启动聊天。",
    ),
    images_cleared: ("已移除 ", "。"),
    no_images_attached: "当前没有附加图片。",
    unknown_command: ("未知命令 `", "`。"),
    commands_help: "可用命令：/image 文件路径（把图片附加到下一个问题），/image clear（移除已附加的图片）。",
    colon: "：",
    colon_inline: "：",
    ingested: "已导入",
    ingested_no_text: "已导入，但没有可提取文字的页面（扫描件？）",
    ingested_empty: "已导入，但文件中没有文字",
    unchanged: "未变化",
    failed: "失败",
    removed: "已移除",
    removed_missing: "已移除（文件已不存在）",
    creating_similar_kb: "提示：正在新建知识库 `{name}`；已有一个名为 `{similar}` 的知识库（请检查 --kb 是否拼写有误）",
    no_supported_files: "提示：给出的路径中没有找到支持的文件，因此没有添加任何内容",
    files_missing: "提示：有 {count} 个文档的文件已不存在；`docent ingest --prune` 会把它们从知识库中移除",
    skipped_unsupported: "提示：跳过了文件夹中 {count} 个不支持类型的文件（{kinds}）",
    no_extension: "无扩展名",
    all_failed: "{count} 个文件导入失败，没有任何文件被导入",
    some_failed: "{count} 个文件导入失败；其他文件已导入或未变化",
    progress_files: "{done}/{total} 个文件，每秒 {rate} 页",
    progress_left: "后完成",
    progress_read: "已读 {pages} 页",
    progress_vectors: "向量 {done}/{total}",
    progress_image_vectors: "图像向量 {done}",
    images_by_text_only: "提示：未配置图像编码器，本次保存的 {images} 张图片只能通过文字检索（图注、周围文字或文件名）；使用 `--image-encoder` 可加入 CLIP 图像向量",
    renamed_from: "已重命名，原路径",
    images_as_text: "来源中的图片只以其说明文字提供给模型，模型没有看到图片本身。",
    pages: Counted { one: "页", other: "页" },
    chunks: Counted { one: "段", other: "段" },
    images: Counted { one: "张图片", other: "张图片" },
    scanned_pages: Counted { one: "页无文字", other: "页无文字" },
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_locale_values() {
        assert_eq!(Language::parse("zh_CN.UTF-8"), Some(Language::Zh));
        assert_eq!(Language::parse("zh"), Some(Language::Zh));
        assert_eq!(Language::parse("en_US.UTF-8"), Some(Language::En));
        assert_eq!(Language::parse("C"), Some(Language::En));
        assert_eq!(Language::parse("fr_FR"), None);
    }
}
