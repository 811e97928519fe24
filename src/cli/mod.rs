//! Command-line arguments and the commands that do not need a server or a terminal UI.

pub mod ask;
pub mod eval;
pub mod ingest;
pub mod kb;
pub mod search;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::DEFAULT_KB;

#[derive(Debug, Parser)]
#[command(name = "docent", version, about = "Ask questions about your manuals: local retrieval and a local model, with citations to file and page.")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Knowledge base to use (a folder under $DOCENT_HOME/kb)
    #[arg(long, global = true, value_name = "NAME", env = "DOCENT_KB", default_value = DEFAULT_KB)]
    pub kb: String,

    /// Interface language: en or zh [default: from the locale]
    #[arg(long, global = true, value_name = "LANG", value_parser = ["en", "zh"])]
    pub lang: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add files and folders (PDF, Markdown, plain text) to a knowledge base
    Ingest(IngestArgs),
    /// Show the passages that best match a query
    Search(SearchArgs),
    /// Answer one question from the knowledge base, streaming to standard output
    Ask(AskArgs),
    /// Open the terminal chat
    Chat(ChatArgs),
    /// Serve an OpenAI-compatible HTTP API
    Serve(ServeArgs),
    /// Measure retrieval quality on a JSONL question set
    Eval(EvalArgs),
    /// Manage knowledge bases
    #[command(subcommand)]
    Kb(KbCommand),
}

#[derive(Debug, Subcommand)]
pub enum KbCommand {
    /// List the knowledge bases
    List,
    /// Show the documents, pages and chunks of a knowledge base (the one given by --kb)
    Stats {
        /// Print one JSON object instead of text
        #[arg(long)]
        json: bool,
    },
    /// Delete a knowledge base and everything ingested into it (the files themselves stay)
    Remove {
        /// Name of the knowledge base to delete (named here, not with --kb, so that a
        /// DOCENT_KB setting can never choose what gets deleted)
        #[arg(value_name = "NAME")]
        name: String,

        /// Delete without asking; needed when standard input is not a terminal
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files and folders to ingest; folders are walked recursively
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Maximum chunk size, in characters
    #[arg(long, default_value_t = 800, value_name = "CHARS")]
    pub chunk_chars: usize,

    /// Characters repeated between consecutive pieces of a long paragraph
    #[arg(long, default_value_t = 100, value_name = "CHARS")]
    pub chunk_overlap: usize,

    /// Also remove documents whose files no longer exist, anywhere in the knowledge base
    #[arg(long)]
    pub prune: bool,

    /// Print one JSON object with the totals and each file's outcome instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The query, in any language; no query syntax
    #[arg(required = true, value_name = "QUERY")]
    pub query: Vec<String>,

    /// Number of results
    #[arg(long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub top_k: u16,

    /// Print one JSON object instead of text
    #[arg(long)]
    pub json: bool,
}

/// The engine that generates answers.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Chat model: a GGUF file, or a model id that mistral.rs resolves [default: the cached SmolLM2 GGUF]
    #[arg(long, value_name = "PATH_OR_ID", env = "DOCENT_MODEL")]
    pub model: Option<String>,

    /// Generate answers on an OpenAI-compatible server at this base URL (e.g. http://host:8000/v1)
    /// instead of locally; --model then names the server's model
    #[arg(long, value_name = "URL", env = "DOCENT_REMOTE_URL")]
    pub remote_url: Option<String>,
}

/// Settings shared by the commands that generate answers.
#[derive(Debug, Clone, Args)]
pub struct GenerationArgs {
    /// Passages retrieved and given to the model (0 answers without the knowledge base)
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u16).range(0..=50))]
    pub top_k: u16,

    /// Maximum answer length, in tokens
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub max_tokens: usize,

    /// Characters of passage text given to the model, all passages together
    #[arg(long, default_value_t = 1800, value_name = "CHARS")]
    pub context_chars: usize,

    /// Tokens the whole prompt may take (counted with the model's tokenizer); lower sources
    /// are dropped to fit. The model reads the prompt before its first word
    #[arg(long, default_value_t = 768, value_name = "TOKENS")]
    pub context_tokens: usize,

    /// Penalty on repeating tokens already in the prompt or answer; 1.0 turns it off
    #[arg(long, default_value_t = 1.1, value_name = "FACTOR")]
    pub repetition_penalty: f32,
}

#[derive(Debug, Args)]
pub struct AskArgs {
    #[command(flatten)]
    pub model: ModelArgs,

    /// The question
    #[arg(required = true, value_name = "QUESTION")]
    pub question: Vec<String>,

    /// Print one JSON object with the answer, sources and token usage
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub generation: GenerationArgs,
}

#[derive(Debug, Args)]
pub struct ChatArgs {
    #[command(flatten)]
    pub model: ModelArgs,

    #[command(flatten)]
    pub generation: GenerationArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub model: ModelArgs,

    /// Address to listen on; HOST may be a name such as localhost
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
    pub addr: String,

    /// Accepted API keys, comma-separated; when set, every endpoint but /health needs
    /// `Authorization: Bearer KEY`
    #[arg(long = "api-key", env = "DOCENT_API_KEY", value_name = "KEYS", hide_env_values = true, value_delimiter = ',')]
    pub api_keys: Vec<String>,

    /// File with accepted API keys, one a line (blank lines and lines starting with # are skipped)
    #[arg(long, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,

    /// Origin allowed to call the API from a browser (repeatable; CORS is off without it)
    #[arg(long = "cors-origin", env = "DOCENT_CORS_ORIGINS", value_name = "ORIGIN", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Largest accepted request body, in bytes
    #[arg(long, default_value_t = 4 * 1024 * 1024, value_name = "BYTES")]
    pub max_body_bytes: usize,

    /// Answers generated at the same time
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub max_concurrent: usize,

    /// Requests that may wait for a free slot; more get 503 with Retry-After
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub max_queue: usize,

    #[command(flatten)]
    pub generation: GenerationArgs,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// JSONL file: one object a line with `question`, `doc` (file name) and `pages`
    #[arg(value_name = "FILE.jsonl")]
    pub file: PathBuf,

    /// MRR counts ranks up to this depth; hit@1, hit@5 and hit@10 always look at the first ten
    /// results (more are fetched when N is larger)
    #[arg(long, default_value_t = 10, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub top_k: u16,

    /// Print one JSON object instead of a table
    #[arg(long)]
    pub json: bool,
}

impl ServeArgs {
    /// Collects the server settings, reading the key file if one is given.
    pub fn serve_config(&self) -> anyhow::Result<crate::api::ServeConfig> {
        use anyhow::Context;

        let mut api_keys: Vec<String> = self.api_keys.iter().map(|key| key.trim().to_string()).filter(|key| !key.is_empty()).collect();
        if let Some(path) = &self.api_key_file {
            let content = std::fs::read_to_string(path).with_context(|| format!("could not read the API key file `{}`", path.display()))?;
            api_keys.extend(
                content.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')).map(str::to_string),
            );
            anyhow::ensure!(!api_keys.is_empty(), "the API key file `{}` contains no key", path.display());
        }
        Ok(crate::api::ServeConfig {
            api_keys,
            cors_origins: self.cors_origins.clone(),
            max_body_bytes: self.max_body_bytes,
            max_running_generations: self.max_concurrent,
            max_waiting_generations: self.max_queue,
        })
    }
}

impl GenerationArgs {
    pub fn answer_options(&self) -> crate::answer::AnswerOptions {
        crate::answer::AnswerOptions {
            top_k: usize::from(self.top_k),
            max_source_chars: self.context_chars,
            max_prompt_tokens: self.context_tokens,
            generation: crate::models::GenerationParams {
                max_tokens: self.max_tokens,
                repetition_penalty: Some(self.repetition_penalty),
                ..Default::default()
            },
            ..Default::default()
        }
    }
}
