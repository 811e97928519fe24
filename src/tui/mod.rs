//! `docent chat`: the terminal chat. One `select!` loop takes terminal events and the
//! background answer's events; rendering is a pure function of `App`.

mod app;
mod command;
mod ui;

pub use app::{Action, AnswerEvent, AnswerState, App, AttachedImage, ImageSupport, Notice};

use anyhow::{Context, Result};
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use ratatui::DefaultTerminal;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::answer::{AnswerOptions, Assistant};
use crate::i18n::{Language, Strings};
use crate::models::{EngineEvent, FinishReason, InputImage};

/// Runs the chat until the user quits. `ratatui::init` installs a panic hook that restores
/// the terminal; `ratatui::restore` does it on every other exit path.
pub async fn run(assistant: Assistant, options: AnswerOptions, language: Language) -> Result<()> {
    let mut terminal = ratatui::try_init().context("could not set up the terminal (is standard output a terminal?)")?;
    let result = event_loop(&mut terminal, assistant, options, language.strings()).await;
    ratatui::restore();
    result
}

async fn event_loop(terminal: &mut DefaultTerminal, assistant: Assistant, options: AnswerOptions, strings: &Strings) -> Result<()> {
    let engine = assistant.engine();
    let image_support = if engine.accepts_images() {
        ImageSupport::Accepted
    } else {
        ImageSupport::TextOnly { model: engine.model_name().to_string() }
    };
    let kb_name = assistant.knowledge_base().map(|knowledge_base| knowledge_base.name.clone()).unwrap_or_default();
    let mut app = App::new(kb_name, image_support);
    let mut terminal_events = EventStream::new();
    let (answer_sender, mut answer_events) = mpsc::channel::<AnswerEvent>(256);
    let mut answer_task: Option<JoinHandle<()>> = None;

    loop {
        terminal.draw(|frame| ui::render(frame, &app, strings)).context("could not draw the terminal")?;

        tokio::select! {
            event = terminal_events.next() => {
                let Some(event) = event else { break };
                let Event::Key(key) = event.context("could not read terminal input")? else { continue };
                match app.handle_key(key) {
                    Action::None => {}
                    Action::Quit => break,
                    Action::StopAnswer => {
                        if let Some(task) = answer_task.take() {
                            task.abort();
                        }
                        app.stop_answer();
                    }
                    Action::Ask { question, images } => {
                        // History excludes the exchange just added for this question.
                        let history = app.history();
                        let images = images.into_iter().map(|attached| attached.image).collect();
                        let question = Question { history, text: question, images };
                        let task = tokio::spawn(answer(assistant.clone(), question, options.clone(), answer_sender.clone()));
                        answer_task = Some(task);
                    }
                }
            }
            Some(event) = answer_events.recv() => app.apply(event),
        }
    }

    if let Some(task) = answer_task {
        task.abort();
    }
    Ok(())
}

/// A question for the background answer task, with what goes to the model along with it.
struct Question {
    history: Vec<crate::answer::Turn>,
    text: String,
    images: Vec<InputImage>,
}

/// Generates one answer and sends its events; aborting the task drops the engine stream,
/// which cancels the generation.
async fn answer(assistant: Assistant, question: Question, options: AnswerOptions, sender: mpsc::Sender<AnswerEvent>) {
    let pending = match assistant.answer_with_images(&question.history, &question.text, question.images, None, &options).await {
        Ok(pending) => pending,
        Err(error) => {
            let _ = sender.send(AnswerEvent::Failed(error.to_string())).await;
            return;
        }
    };
    let _ = sender.send(AnswerEvent::Sources(pending.sources)).await;
    let mut events = pending.events;
    while let Some(event) = events.next().await {
        let message = match event {
            Ok(EngineEvent::Delta(text)) => AnswerEvent::Delta(text),
            Ok(EngineEvent::Finished { reason, .. }) => AnswerEvent::Finished { cut_off: reason == FinishReason::Length },
            Err(error) => AnswerEvent::Failed(error.to_string()),
        };
        if sender.send(message).await.is_err() {
            return;
        }
    }
}
