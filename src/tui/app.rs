//! Chat state and its transitions; no terminal I/O here, so it is testable directly.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::answer::{Source, Turn};

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

/// Next step for the event loop after a key press.
#[derive(Debug, PartialEq)]
pub enum Action {
    None,
    Ask(String),
    StopAnswer,
    Quit,
}

pub struct App {
    pub kb_name: String,
    pub exchanges: Vec<Exchange>,
    pub input: String,
    /// Lines scrolled up from the bottom of the conversation; 0 follows new text.
    pub scroll_back: u16,
}

impl App {
    pub fn new(kb_name: impl Into<String>) -> Self {
        Self { kb_name: kb_name.into(), exchanges: Vec::new(), input: String::new(), scroll_back: 0 }
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
            KeyCode::Enter => {
                let question = self.input.trim().to_string();
                if question.is_empty() || self.is_answering() {
                    return Action::None;
                }
                self.input.clear();
                self.scroll_back = 0;
                self.exchanges.push(Exchange {
                    question: question.clone(),
                    answer: String::new(),
                    sources: Vec::new(),
                    state: AnswerState::Retrieving,
                    cut_off: false,
                });
                Action::Ask(question)
            }
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

    #[test]
    fn enter_asks_and_clears_input() {
        let mut app = App::new("default");
        type_text(&mut app, "如何安装?");
        assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::Ask("如何安装?".into()));
        assert!(app.input.is_empty());
        assert!(app.is_answering());
        type_text(&mut app, "next");
        assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::None, "no second question while answering");
    }

    #[test]
    fn escape_stops_then_quits() {
        let mut app = App::new("default");
        type_text(&mut app, "q");
        app.handle_key(key(KeyCode::Enter));
        assert_eq!(app.handle_key(key(KeyCode::Esc)), Action::StopAnswer);
        app.stop_answer();
        assert_eq!(app.exchanges[0].state, AnswerState::Stopped);
        assert_eq!(app.handle_key(key(KeyCode::Esc)), Action::Quit);
    }

    #[test]
    fn events_build_answer_and_history() {
        let mut app = App::new("default");
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
}
