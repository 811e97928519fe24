//! Chat state and its transitions; no terminal I/O here, so it is testable directly.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::command::{Command, ImageCommand};
use crate::answer::{Source, Turn};
use crate::models::InputImage;

/// How an exchange's answer ended, or that it is still coming.
#[derive(Debug, Clone, PartialEq)]
pub enum AnswerState {
    Retrieving,
    Streaming,
    Done,
    Stopped,
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct Exchange {
    pub question: String,
    /// File names of the images sent with the question.
    pub images: Vec<String>,
    pub answer: String,
    pub sources: Vec<Source>,
    pub state: AnswerState,
    /// The answer stopped at the token limit rather than where the model ended it.
    pub cut_off: bool,
}

/// Messages from the background answer task.
#[derive(Debug)]
pub enum AnswerEvent {
    Sources(Vec<Source>),
    Delta(String),
    Finished { cut_off: bool },
    Failed(String),
}

/// Whether the chat model takes images with a question.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageSupport {
    Accepted,
    /// The model reads text only. Its name goes into the notice that rejects `/image`.
    TextOnly { model: String },
}

/// An image attached with `/image`, read and checked when it was attached.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachedImage {
    /// File name shown in the chat.
    pub name: String,
    pub image: InputImage,
}

/// A message from the chat itself, not from the model, about the outcome of a command.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// `/image` without a file.
    ImageUsage,
    /// The file could not be attached. The message names the file and the cause.
    AttachFailed(String),
    TextOnlyModel { model: String },
    /// `/image clear` removed this many images.
    ImagesCleared(usize),
    /// The input started with this `/word`, which is no command.
    UnknownCommand(String),
}

/// Next step for the event loop after a key press.
#[derive(Debug, PartialEq)]
pub enum Action {
    None,
    /// Answer the question, with the images attached to it.
    Ask { question: String, images: Vec<AttachedImage> },
    StopAnswer,
    Quit,
}

pub struct App {
    pub kb_name: String,
    pub image_support: ImageSupport,
    pub exchanges: Vec<Exchange>,
    pub input: String,
    /// Images that go with the next question.
    pub attached: Vec<AttachedImage>,
    /// Shown after the conversation until the next command or question.
    pub notice: Option<Notice>,
    /// Lines scrolled up from the bottom of the conversation; 0 follows new text.
    pub scroll_back: u16,
}

impl App {
    pub fn new(kb_name: impl Into<String>, image_support: ImageSupport) -> Self {
        Self {
            kb_name: kb_name.into(),
            image_support,
            exchanges: Vec::new(),
            input: String::new(),
            attached: Vec::new(),
            notice: None,
            scroll_back: 0,
        }
    }

    pub fn is_answering(&self) -> bool {
        self.exchanges
            .last()
            .is_some_and(|exchange| matches!(exchange.state, AnswerState::Retrieving | AnswerState::Streaming))
    }

    /// Returns the finished exchanges as conversation history for the next question.
    pub fn history(&self) -> Vec<Turn> {
        self.exchanges
            .iter()
            .filter(|exchange| exchange.state == AnswerState::Done)
            .map(|exchange| Turn { question: exchange.question.clone(), answer: exchange.answer.clone() })
            .collect()
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> Action {
        if key.kind == KeyEventKind::Release {
            return Action::None;
        }
        let control = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') | KeyCode::Char('d') if control => Action::Quit,
            KeyCode::Esc if self.is_answering() => Action::StopAnswer,
            KeyCode::Esc => Action::Quit,
            KeyCode::Enter => self.submit(),
            KeyCode::Backspace => {
                self.input.pop();
                Action::None
            }
            KeyCode::Char('u') if control => {
                self.input.clear();
                Action::None
            }
            KeyCode::Char(c) if !control => {
                self.input.push(c);
                Action::None
            }
            KeyCode::Up => self.scroll(1),
            KeyCode::Down => self.scroll(-1),
            KeyCode::PageUp => self.scroll(10),
            KeyCode::PageDown => self.scroll(-10),
            _ => Action::None,
        }
    }

    /// Runs the input as a command, or sends it as a question with the attached images.
    fn submit(&mut self) -> Action {
        let input = self.input.trim();
        if input.is_empty() {
            return Action::None;
        }
        if let Some(command) = Command::parse(input) {
            self.run_command(command);
            return Action::None;
        }
        if self.is_answering() {
            return Action::None;
        }

        let question = input.to_string();
        let images = std::mem::take(&mut self.attached);
        self.input.clear();
        self.notice = None;
        self.scroll_back = 0;
        self.exchanges.push(Exchange {
            question: question.clone(),
            images: images.iter().map(|attached| attached.name.clone()).collect(),
            answer: String::new(),
            sources: Vec::new(),
            state: AnswerState::Retrieving,
            cut_off: false,
        });
        Action::Ask { question, images }
    }

    /// Runs a command, also while an answer streams. The input stays when the command failed
    /// or lacks its argument, so that the user can correct it.
    fn run_command(&mut self, command: Command) {
        self.scroll_back = 0;
        match command {
            Command::Unknown(word) => self.notice = Some(Notice::UnknownCommand(word)),
            Command::Image(command) => self.run_image_command(command),
        }
    }

    fn run_image_command(&mut self, command: ImageCommand) {
        if let ImageSupport::TextOnly { model } = &self.image_support {
            self.notice = Some(Notice::TextOnlyModel { model: model.clone() });
            self.input.clear();
            return;
        }

        match command {
            ImageCommand::Usage => self.notice = Some(Notice::ImageUsage),
            ImageCommand::Clear => {
                self.notice = Some(Notice::ImagesCleared(self.attached.len()));
                self.attached.clear();
                self.input.clear();
            }
            // Reading at once reports a wrong path while the user still has it in mind.
            ImageCommand::Attach(path) => match InputImage::read_file(&path) {
                Ok(image) => {
                    let name = path.file_name().unwrap_or(path.as_os_str()).to_string_lossy().into_owned();
                    self.attached.push(AttachedImage { name, image });
                    self.notice = None;
                    self.input.clear();
                }
                Err(error) => self.notice = Some(Notice::AttachFailed(format!("{error:#}"))),
            },
        }
    }

    fn scroll(&mut self, lines: i32) -> Action {
        self.scroll_back = (i32::from(self.scroll_back) + lines).clamp(0, i32::from(u16::MAX)) as u16;
        Action::None
    }

    pub fn apply(&mut self, event: AnswerEvent) {
        let Some(exchange) = self.exchanges.last_mut() else {
            return;
        };
        if !matches!(exchange.state, AnswerState::Retrieving | AnswerState::Streaming) {
            return;
        }
        match event {
            AnswerEvent::Sources(sources) => {
                exchange.sources = sources;
                exchange.state = AnswerState::Streaming;
            }
            AnswerEvent::Delta(text) => {
                exchange.answer.push_str(&text);
                exchange.state = AnswerState::Streaming;
            }
            AnswerEvent::Finished { cut_off } => {
                exchange.answer = exchange.answer.trim().to_string();
                exchange.cut_off = cut_off;
                exchange.state = AnswerState::Done;
            }
            AnswerEvent::Failed(message) => exchange.state = AnswerState::Failed(message),
        }
    }

    pub fn stop_answer(&mut self) {
        if let Some(exchange) = self.exchanges.last_mut() {
            if matches!(exchange.state, AnswerState::Retrieving | AnswerState::Streaming) {
                exchange.state = AnswerState::Stopped;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn type_text(app: &mut App, text: &str) {
        for c in text.chars() {
            app.handle_key(key(KeyCode::Char(c)));
        }
    }

    fn enter_line(app: &mut App, text: &str) -> Action {
        type_text(app, text);
        app.handle_key(key(KeyCode::Enter))
    }

    /// Writes a small real PNG file and returns its path.
    fn write_png(dir: &tempfile::TempDir, name: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        image::RgbImage::from_pixel(4, 3, image::Rgb([200, 30, 30])).save(&path).unwrap();
        path
    }

    fn attached_names(app: &App) -> Vec<&str> {
        app.attached.iter().map(|attached| attached.name.as_str()).collect()
    }

    #[test]
    fn enter_asks_and_clears_input() {
        let mut app = App::new("default", ImageSupport::Accepted);
        type_text(&mut app, "如何安装?");
        assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::Ask { question: "如何安装?".into(), images: Vec::new() });
        assert!(app.input.is_empty());
        assert!(app.is_answering());
        type_text(&mut app, "next");
        assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::None, "no second question while answering");
    }

    #[test]
    fn escape_stops_then_quits() {
        let mut app = App::new("default", ImageSupport::Accepted);
        type_text(&mut app, "q");
        app.handle_key(key(KeyCode::Enter));
        assert_eq!(app.handle_key(key(KeyCode::Esc)), Action::StopAnswer);
        app.stop_answer();
        assert_eq!(app.exchanges[0].state, AnswerState::Stopped);
        assert_eq!(app.handle_key(key(KeyCode::Esc)), Action::Quit);
    }

    #[test]
    fn events_build_answer_and_history() {
        let mut app = App::new("default", ImageSupport::Accepted);
        type_text(&mut app, "q1");
        app.handle_key(key(KeyCode::Enter));
        app.apply(AnswerEvent::Sources(Vec::new()));
        app.apply(AnswerEvent::Delta("Hello ".into()));
        app.apply(AnswerEvent::Delta("world ".into()));
        app.apply(AnswerEvent::Finished { cut_off: false });
        app.apply(AnswerEvent::Delta("late".into()));
        assert_eq!(app.exchanges[0].answer, "Hello world");
        let history = app.history();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].answer, "Hello world");
    }

    #[test]
    fn attached_images_go_with_next_question() {
        let dir = tempfile::tempdir().unwrap();
        let pump = write_png(&dir, "pump.png");
        let valve = write_png(&dir, "valve.png");
        let mut app = App::new("default", ImageSupport::Accepted);

        assert_eq!(enter_line(&mut app, &format!("/image {}", pump.display())), Action::None);
        assert_eq!(enter_line(&mut app, &format!("/image {}", valve.display())), Action::None);
        assert_eq!(attached_names(&app), ["pump.png", "valve.png"]);
        assert_eq!(app.notice, None);
        assert!(app.input.is_empty());
        assert!(app.exchanges.is_empty(), "a command is not a question");

        let Action::Ask { question, images } = enter_line(&mut app, "What is this part?") else {
            panic!("Enter on a question should ask it");
        };
        assert_eq!(question, "What is this part?");
        let names: Vec<&str> = images.iter().map(|attached| attached.name.as_str()).collect();
        assert_eq!(names, ["pump.png", "valve.png"]);
        assert_eq!(images[0].image.media_type, "image/png");
        assert_eq!(images[0].image.bytes, std::fs::read(&pump).unwrap());
        assert_eq!(app.exchanges[0].images, ["pump.png", "valve.png"]);
        assert!(app.attached.is_empty(), "sent images are not attached again");

        app.apply(AnswerEvent::Finished { cut_off: false });
        assert_eq!(enter_line(&mut app, "And this?"), Action::Ask { question: "And this?".into(), images: Vec::new() });
        assert!(app.exchanges[1].images.is_empty());
    }

    #[test]
    fn attach_path_with_spaces_and_quotes() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_png(&dir, "pump front view.png");
        let mut app = App::new("default", ImageSupport::Accepted);

        enter_line(&mut app, &format!("/image \"{}\"", path.display()));
        enter_line(&mut app, &format!("/image {}", path.display()));
        assert_eq!(app.notice, None);
        assert_eq!(attached_names(&app), ["pump front view.png", "pump front view.png"]);
    }

    #[test]
    fn attach_bad_file_gives_notice() {
        let dir = tempfile::tempdir().unwrap();
        let text_file = dir.path().join("notes.png");
        std::fs::write(&text_file, "not an image").unwrap();
        let missing = dir.path().join("missing.png");
        let mut app = App::new("default", ImageSupport::Accepted);

        for path in [&missing, &text_file] {
            let line = format!("/image {}", path.display());
            assert_eq!(enter_line(&mut app, &line), Action::None);
            let Some(Notice::AttachFailed(message)) = &app.notice else {
                panic!("expected a failure notice for {}, got {:?}", path.display(), app.notice);
            };
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert!(app.attached.is_empty());
            assert!(app.exchanges.is_empty());
            assert_eq!(app.input, line, "the input stays for correction");
            app.input.clear();
        }
    }

    #[test]
    fn text_only_model_rejects_image() {
        let dir = tempfile::tempdir().unwrap();
        let pump = write_png(&dir, "pump.png");
        let mut app = App::new("default", ImageSupport::TextOnly { model: "SmolLM2-135M".into() });

        assert_eq!(enter_line(&mut app, &format!("/image {}", pump.display())), Action::None);
        assert_eq!(app.notice, Some(Notice::TextOnlyModel { model: "SmolLM2-135M".into() }));
        assert!(app.attached.is_empty());
        assert!(app.input.is_empty());

        app.notice = None;
        enter_line(&mut app, "/image");
        assert_eq!(app.notice, Some(Notice::TextOnlyModel { model: "SmolLM2-135M".into() }));
    }

    #[test]
    fn image_clear_drops_attached() {
        let dir = tempfile::tempdir().unwrap();
        let pump = write_png(&dir, "pump.png");
        let mut app = App::new("default", ImageSupport::Accepted);
        enter_line(&mut app, &format!("/image {}", pump.display()));
        enter_line(&mut app, &format!("/image {}", pump.display()));

        assert_eq!(enter_line(&mut app, "/image clear"), Action::None);
        assert_eq!(app.notice, Some(Notice::ImagesCleared(2)));
        assert!(app.attached.is_empty());
        assert!(app.input.is_empty());

        enter_line(&mut app, "/image clear");
        assert_eq!(app.notice, Some(Notice::ImagesCleared(0)));
        assert_eq!(enter_line(&mut app, "q"), Action::Ask { question: "q".into(), images: Vec::new() });
    }

    #[test]
    fn image_without_file_shows_usage() {
        let mut app = App::new("default", ImageSupport::Accepted);
        assert_eq!(enter_line(&mut app, "/image"), Action::None);
        assert_eq!(app.notice, Some(Notice::ImageUsage));
        assert_eq!(app.input, "/image");
        assert!(app.exchanges.is_empty());
    }

    #[test]
    fn unknown_command_is_not_asked() {
        let mut app = App::new("default", ImageSupport::Accepted);
        assert_eq!(enter_line(&mut app, "/help me"), Action::None);
        assert_eq!(app.notice, Some(Notice::UnknownCommand("/help".into())));
        assert!(app.exchanges.is_empty());

        app.input.clear();
        assert_eq!(enter_line(&mut app, "next question"), Action::Ask { question: "next question".into(), images: Vec::new() });
        assert_eq!(app.notice, None, "a question clears the notice");
    }

    #[test]
    fn attach_while_answering() {
        let dir = tempfile::tempdir().unwrap();
        let pump = write_png(&dir, "pump.png");
        let mut app = App::new("default", ImageSupport::Accepted);
        enter_line(&mut app, "first");
        assert!(app.is_answering());

        enter_line(&mut app, &format!("/image {}", pump.display()));
        assert_eq!(attached_names(&app), ["pump.png"]);
        assert!(app.exchanges[0].images.is_empty(), "the running question does not get the image");
    }
}
