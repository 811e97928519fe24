//! Rendering: a pure function of the `App` state.

use ratatui::layout::{Constraint, Layout, Position};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::app::{AnswerState, App, ImageSupport, Notice};
use crate::i18n::Strings;

pub fn render(frame: &mut Frame, app: &App, strings: &Strings) {
    let [conversation_area, input_area, hint_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(3), Constraint::Length(1)]).areas(frame.area());

    let title = format!(" {} · {} ", strings.chat_title, app.kb_name);
    let conversation_block = Block::bordered().title(title);
    let inner = conversation_block.inner(conversation_area);
    let lines = conversation_lines(app, strings, inner.width.max(1) as usize);
    let hidden_above = lines.len().saturating_sub(inner.height as usize);
    let top = hidden_above.saturating_sub(app.scroll_back as usize);
    frame.render_widget(Paragraph::new(lines).block(conversation_block).scroll((top as u16, 0)), conversation_area);

    let input_block = Block::bordered().title(input_title(app, strings, input_area.width.saturating_sub(2) as usize));
    let input_inner = input_block.inner(input_area);
    // Show the end of a long input so the cursor stays visible.
    let visible_input = tail_fitting(&app.input, input_inner.width.saturating_sub(1) as usize);
    let cursor_x = input_inner.x + visible_input.width() as u16;
    frame.render_widget(Paragraph::new(visible_input).block(input_block), input_area);
    frame.set_cursor_position(Position::new(cursor_x, input_inner.y));

    let hint = if app.is_answering() {
        strings.input_hint_busy
    } else if !app.attached.is_empty() {
        strings.input_hint_images
    } else {
        strings.input_hint_idle
    };
    frame.render_widget(Paragraph::new(hint).style(Style::new().dim()), hint_area);
}

fn conversation_lines(app: &App, strings: &Strings, width: usize) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if app.exchanges.is_empty() {
        push_wrapped(&mut lines, &format!("{}{}{}", strings.welcome.0, app.kb_name, strings.welcome.1), width, Style::new().dim());
        if app.image_support == ImageSupport::Accepted {
            push_wrapped(&mut lines, strings.welcome_images, width, Style::new().dim());
        }
    }
    for exchange in &app.exchanges {
        lines.push(Line::from(Span::styled(format!("{}{}", strings.you, strings.colon), Style::new().bold().cyan())));
        push_wrapped(&mut lines, &exchange.question, width, Style::new());
        for name in &exchange.images {
            push_wrapped(&mut lines, &format!("{}{name}", strings.sent_image), width, Style::new().dim());
        }
        lines.push(Line::from(Span::styled(format!("{}{}", strings.assistant, strings.colon), Style::new().bold().green())));

        match &exchange.state {
            AnswerState::Retrieving => push_wrapped(&mut lines, strings.searching, width, Style::new().dim()),
            AnswerState::Failed(message) => {
                push_wrapped(&mut lines, &exchange.answer, width, Style::new());
                push_wrapped(&mut lines, &format!("{}{}{message}", strings.error, strings.colon_inline), width, Style::new().red());
            }
            AnswerState::Stopped => {
                push_wrapped(&mut lines, &exchange.answer, width, Style::new());
                push_wrapped(&mut lines, strings.stopped, width, Style::new().dim());
            }
            // Between the sources and the first word the model reads the prompt, for seconds.
            AnswerState::Streaming if exchange.answer.is_empty() => {
                push_wrapped(&mut lines, strings.reading_sources, width, Style::new().dim());
            }
            AnswerState::Streaming | AnswerState::Done => {
                push_wrapped(&mut lines, &exchange.answer, width, Style::new());
                if exchange.cut_off {
                    push_wrapped(&mut lines, strings.answer_cut, width, Style::new().dim());
                }
            }
        }

        if exchange.state != AnswerState::Retrieving {
            lines.push(Line::default());
            if exchange.sources.is_empty() {
                push_wrapped(&mut lines, strings.no_sources, width, Style::new().dim().italic());
            } else {
                lines.push(Line::from(Span::styled(format!("{}{}", strings.sources, strings.colon), Style::new().dim().bold())));
                for source in &exchange.sources {
                    push_wrapped(&mut lines, &format!("  [{}] {}", source.number, source.label()), width, Style::new().dim());
                }
                if exchange.sources.iter().any(|source| source.hit.image.is_some() && !source.image_seen) {
                    push_wrapped(&mut lines, strings.images_as_text, width, Style::new().dim().italic());
                }
            }
        }
        lines.push(Line::default());
    }
    if let Some(notice) = &app.notice {
        let (text, style) = notice_text(notice, strings);
        push_wrapped(&mut lines, &text, width, style);
    }
    lines
}

/// Builds the title of the input box. Attached images follow by name, or by count when the names do not
/// fit into `width` cells.
fn input_title(app: &App, strings: &Strings, width: usize) -> String {
    if app.attached.is_empty() {
        return format!(" {} ", strings.input_title);
    }

    let names: Vec<&str> = app.attached.iter().map(|attached| attached.name.as_str()).collect();
    let with_names = format!(" {} · {} {} ", strings.input_title, strings.input_with_images, names.join(", "));
    if with_names.width() <= width {
        return with_names;
    }
    let count = strings.images.format(app.attached.len() as u64);
    format!(" {} · {} {count} ", strings.input_title, strings.input_with_images)
}

fn notice_text(notice: &Notice, strings: &Strings) -> (String, Style) {
    let warning = Style::new().yellow();
    match notice {
        Notice::ImageUsage => (strings.image_usage.to_string(), warning),
        Notice::AttachFailed(message) => (format!("{}{message}", strings.image_not_attached), Style::new().red()),
        Notice::TextOnlyModel { model } => (format!("{}{model}{}", strings.text_only_model.0, strings.text_only_model.1), warning),
        Notice::ImagesCleared(0) => (strings.no_images_attached.to_string(), Style::new().dim()),
        Notice::ImagesCleared(count) => {
            let count = strings.images.format(*count as u64);
            (format!("{}{count}{}", strings.images_cleared.0, strings.images_cleared.1), Style::new().dim())
        }
        Notice::UnknownCommand(word) => {
            let text = format!("{}{word}{}{}", strings.unknown_command.0, strings.unknown_command.1, strings.commands_help);
            (text, warning)
        }
    }
}

/// Wraps text to the width in terminal cells; textwrap measures CJK characters as two cells.
fn push_wrapped(lines: &mut Vec<Line<'static>>, text: &str, width: usize, style: Style) {
    for paragraph in text.split('\n') {
        if paragraph.is_empty() {
            lines.push(Line::default());
            continue;
        }
        for piece in textwrap::wrap(paragraph, width) {
            lines.push(Line::from(Span::styled(piece.into_owned(), style)));
        }
    }
}

fn tail_fitting(text: &str, width: usize) -> &str {
    let mut start = text.len();
    let mut used = 0;
    for (index, c) in text.char_indices().rev() {
        let char_width = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + char_width > width {
            break;
        }
        used += char_width;
        start = index;
    }
    &text[start..]
}

#[cfg(test)]
mod tests {
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    use super::*;
    use crate::answer::Source;
    use crate::i18n::Language;
    use crate::rag::{HitKind, SearchHit};
    use crate::models::InputImage;
    use crate::tui::app::{AnswerEvent, AttachedImage, Exchange};

    fn draw(app: &App, language: Language, width: u16, height: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| render(frame, app, language.strings())).unwrap();
        terminal.backend().to_string()
    }

    /// Returns the image support of the default model, which reads text only.
    fn text_only() -> ImageSupport {
        ImageSupport::TextOnly { model: "SmolLM2-135M-Instruct".into() }
    }

    fn answered_app() -> App {
        let mut app = App::new("default", text_only());
        app.exchanges.push(Exchange {
            question: "How do I clear error E-102?".into(),
            images: Vec::new(),
            answer: String::new(),
            sources: Vec::new(),
            state: AnswerState::Retrieving,
            cut_off: false,
        });
        let hit = SearchHit {
            kind: HitKind::Text,
            doc: "manuals/pump.pdf".into(),
            pages: vec![12],
            score: 3.2,
            text: String::new(),
            heading: String::new(),
            image: None,
            retrievers: Vec::new(),
            similarity: None,
            image_similarity: None,
            chars: None,
            counterpart_of: None,
            key: Default::default(),
        };
        app.apply(AnswerEvent::Sources(vec![Source { number: 1, hit, image_seen: false }]));
        app.apply(AnswerEvent::Delta("Clean the intake filter, then restart the pump [1].".into()));
        app.apply(AnswerEvent::Finished { cut_off: true });
        app
    }

    #[test]
    fn empty_chat_shows_welcome() {
        insta::assert_snapshot!(draw(&App::new("default", text_only()), Language::En, 60, 10));
    }

    #[test]
    fn answer_with_sources() {
        insta::assert_snapshot!(draw(&answered_app(), Language::En, 48, 16));
    }

    #[test]
    fn chinese_interface_while_answering() {
        let mut app = App::new("手册", text_only());
        app.input = "第二个问题".into();
        app.exchanges.push(Exchange {
            question: "如何更换滤芯？".into(),
            images: Vec::new(),
            answer: "先关闭电源，".into(),
            sources: Vec::new(),
            state: AnswerState::Streaming,
            cut_off: false,
        });
        insta::assert_snapshot!(draw(&app, Language::Zh, 48, 14));
    }

    #[test]
    fn unseen_source_images_are_noted() {
        let mut app = answered_app();
        let mut image_hit = app.exchanges[0].sources[0].hit.clone();
        image_hit.kind = HitKind::Image;
        image_hit.image = Some("ab".repeat(32));
        app.exchanges[0].sources.push(Source { number: 2, hit: image_hit, image_seen: false });
        let screen = draw(&app, Language::En, 100, 20);
        assert!(screen.contains("it did not see the images"), "{screen}");

        app.exchanges[0].sources[1].image_seen = true;
        let screen = draw(&app, Language::En, 100, 20);
        assert!(!screen.contains("it did not see the images"), "{screen}");
    }

    #[test]
    fn waiting_for_first_word_says_so() {
        let mut app = App::new("default", text_only());
        app.exchanges.push(Exchange {
            question: "q".into(),
            images: Vec::new(),
            answer: String::new(),
            sources: Vec::new(),
            state: AnswerState::Streaming,
            cut_off: false,
        });
        let screen = draw(&app, Language::En, 40, 12);
        assert!(screen.contains("reading the sources…"), "{screen}");
        app.apply(AnswerEvent::Delta("First".into()));
        let screen = draw(&app, Language::En, 40, 12);
        assert!(!screen.contains("reading the sources…"), "{screen}");
        assert!(screen.contains("First"), "{screen}");
    }

    #[test]
    fn long_conversation_follows_the_end() {
        let mut app = answered_app();
        for index in 0..6 {
            app.exchanges.push(Exchange {
            question: format!("question {index}"),
                images: Vec::new(),
                answer: format!("answer {index}"),
                sources: Vec::new(),
                state: AnswerState::Done,
                cut_off: false,
            });
        }
        let screen = draw(&app, Language::En, 40, 12);
        assert!(screen.contains("answer 5"), "{screen}");
        assert!(!screen.contains("E-102"), "{screen}");
        app.scroll_back = 100;
        let scrolled = draw(&app, Language::En, 40, 12);
        assert!(scrolled.contains("E-102"), "{scrolled}");
    }

    /// Builds a finished exchange about `pump.png`, with `valve.jpg` attached to the next question.
    fn app_with_images(question: &str, answer: &str, next_question: &str) -> App {
        let mut app = App::new("default", ImageSupport::Accepted);
        app.exchanges.push(Exchange {
            question: question.into(),
            images: vec!["pump.png".into()],
            answer: answer.into(),
            sources: Vec::new(),
            state: AnswerState::Done,
            cut_off: false,
        });
        let image = InputImage { media_type: "image/png".into(), bytes: Vec::new() };
        app.attached.push(AttachedImage { name: "valve.jpg".into(), image });
        app.input = next_question.into();
        app
    }

    #[test]
    fn attached_image_names() {
        let app = app_with_images("What is this part?", "It is the intake filter of the pump.", "And this one?");
        insta::assert_snapshot!(draw(&app, Language::En, 60, 14));
    }

    #[test]
    fn attached_image_names_in_chinese() {
        let app = app_with_images("这是什么部件？", "这是泵的进水滤网。", "这个呢？");
        insta::assert_snapshot!(draw(&app, Language::Zh, 60, 14));
    }

    #[test]
    fn many_attached_images_are_counted() {
        let mut app = App::new("default", ImageSupport::Accepted);
        for index in 0..5 {
            let image = InputImage { media_type: "image/png".into(), bytes: Vec::new() };
            app.attached.push(AttachedImage { name: format!("pump-front-view-{index}.png"), image });
        }
        let screen = draw(&app, Language::En, 48, 10);
        assert!(screen.contains("┌ Question · with 5 images ─"), "{screen}");
        let screen = draw(&app, Language::Zh, 48, 10);
        assert!(screen.contains("附带 5 张图片"), "{screen}");
    }

    #[test]
    fn welcome_names_image_commands_if_accepted() {
        let screen = draw(&App::new("default", ImageSupport::Accepted), Language::En, 60, 12);
        assert!(screen.contains("type /image FILE"), "{screen}");
        let screen = draw(&App::new("default", text_only()), Language::En, 60, 12);
        assert!(!screen.contains("/image"), "{screen}");
    }

    #[test]
    fn notices_after_conversation() {
        let mut app = answered_app();
        app.image_support = text_only();
        app.notice = Some(Notice::TextOnlyModel { model: "SmolLM2-135M-Instruct".into() });
        insta::assert_snapshot!(draw(&app, Language::En, 60, 20));

        let cases = [
            (Notice::ImageUsage, "/image needs a file. Type /image FILE"),
            (Notice::AttachFailed("could not read the image `a.png`".into()), "Image not attached: could not read the image"),
            (Notice::ImagesCleared(0), "No images are attached."),
            (Notice::ImagesCleared(1), "Removed 1 image."),
            (Notice::ImagesCleared(3), "Removed 3 images."),
            (Notice::UnknownCommand("/help".into()), "Unknown command `/help`. Commands: /image FILE"),
        ];
        for (notice, expected) in cases {
            let mut app = App::new("default", ImageSupport::Accepted);
            app.notice = Some(notice.clone());
            let screen = draw(&app, Language::En, 100, 12);
            assert!(screen.contains(expected), "{notice:?} should show {expected:?}:\n{screen}");
        }
    }
}
