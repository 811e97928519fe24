use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;

use docent::answer::Assistant;
use docent::cli::{self, Cli, Command, ModelArgs};
use docent::config::Paths;
use docent::i18n::Language;
use docent::models::{ChatEngine, LocalEngine, ModelSpec, RemoteConfig, RemoteEngine};
use docent::rag::KnowledgeBase;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(matches!(cli.command, Command::Serve(_)));
    if !matches!(cli.command, Command::Serve(_) | Command::Chat(_)) {
        exit_quietly_on_closed_pipe();
    }

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: could not start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Restores the default action of SIGPIPE, so that `docent search ... | head` ends quietly
/// instead of panicking on a failed print. Rust ignores SIGPIPE by default, which the server
/// needs: there, a client that hangs up must fail one write, not stop the process.
fn exit_quietly_on_closed_pipe() {
    // SAFETY: called at start-up before any other thread exists; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

async fn run(cli: Cli) -> Result<()> {
    let paths = Paths::from_env()?;
    let language = match cli.global.lang.as_deref().and_then(Language::parse) {
        Some(language) => language,
        None => Language::from_env(),
    };
    let strings = language.strings();
    let kb_name = cli.global.kb.as_str();

    match &cli.command {
        Command::Ingest(args) => tokio::task::block_in_place(|| cli::ingest::run(&paths, kb_name, args, strings)),
        Command::Search(args) => tokio::task::block_in_place(|| cli::search::run(&paths, kb_name, args)),
        Command::Eval(args) => tokio::task::block_in_place(|| cli::eval::run(&paths, kb_name, args)),
        Command::Kb(command) => tokio::task::block_in_place(|| cli::kb::run(&paths, kb_name, command)),
        Command::Bench(command) => tokio::task::block_in_place(|| cli::bench::run(&paths, kb_name, command)),
        Command::Models(command) => cli::models::run(&paths, command).await,
        Command::Ask(args) => {
            // A broken schema file fails before the model loads.
            let json_schema = args.json_schema()?;
            let images = args.images()?;
            // `--top-k 0` skips retrieval, so it needs no knowledge base.
            let assistant = if args.generation.top_k == 0 && !KnowledgeBase::exists(&paths, kb_name)? {
                Assistant::without_knowledge_base(load_engine(&paths, &args.model).await?)
            } else {
                open_assistant(&paths, kb_name, &args.model).await?
            };
            if !images.is_empty() && !assistant.engine().accepts_images() {
                anyhow::bail!(
                    "the model `{}` reads text only and cannot take --image: use a multimodal model \
                     with --model, or a server that serves one with --remote-url",
                    assistant.engine().model_name()
                );
            }
            cli::ask::run(&assistant, args, json_schema, images, strings).await
        }
        Command::Chat(args) => {
            let assistant = open_assistant(&paths, kb_name, &args.model).await?;
            docent::tui::run(assistant, args.generation.answer_options(), language).await
        }
        Command::Serve(args) => {
            // Bind and open the knowledge base before the slow model load, so that a port in
            // use or a wrong --kb fails at once.
            let config = args.serve_config()?;
            let listener = docent::api::bind(&args.addr).await?;
            let knowledge_base = KnowledgeBase::open(&paths, kb_name)?;
            let engine = load_engine(&paths, &args.model).await?;
            let options = args.generation.answer_options();
            let state = docent::api::AppState::new(config, paths.clone(), Arc::new(knowledge_base), engine, options)?;
            docent::api::serve(listener, state).await
        }
    }
}

async fn open_assistant(paths: &Paths, kb_name: &str, model: &ModelArgs) -> Result<Assistant> {
    let knowledge_base = Arc::new(KnowledgeBase::open(paths, kb_name)?);
    let engine = load_engine(paths, model).await?;
    Ok(Assistant::new(knowledge_base, engine))
}

/// Connects to the remote server given by `--remote-url`, or loads the local model.
async fn load_engine(paths: &Paths, model_args: &ModelArgs) -> Result<Arc<dyn ChatEngine>> {
    if let Some(base_url) = &model_args.remote_url {
        let model = model_args
            .model
            .clone()
            .context("--remote-url needs --model (or DOCENT_MODEL) to name the server's model")?;
        let api_key = std::env::var("DOCENT_REMOTE_API_KEY").ok().filter(|key| !key.is_empty());
        return Ok(Arc::new(RemoteEngine::new(RemoteConfig { base_url: base_url.clone(), api_key, model })));
    }
    let spec = match model_args.model.as_deref() {
        Some(value) => ModelSpec::parse(value),
        None => ModelSpec::GgufFile(paths.default_model()),
    };
    if model_args.isq.is_some() && matches!(spec, ModelSpec::GgufFile(_)) {
        tracing::warn!("--isq (DOCENT_ISQ) is ignored: GGUF files are already quantized");
    }
    let defaults = docent::models::local::LoadOptions::default();
    let options = docent::models::local::LoadOptions {
        quantization: model_args.isq.unwrap_or(defaults.quantization),
        chat_template: model_args.chat_template.clone(),
    };
    Ok(Arc::new(LocalEngine::load(&spec, &options).await?))
}

/// Logs go to standard error. `RUST_LOG` overrides the defaults: warnings only, plus
/// docent's own start-up and request logs for `serve`. mistral.rs 0.8.1's GGUF loader warns
/// about "a mix of GPU and CPU" whenever the CPU is used, even alone, so its warnings are
/// left out by default.
fn init_tracing(serving: bool) {
    let default_filter = if serving {
        "warn,mistralrs_core::pipeline::gguf=error,docent=info"
    } else {
        "warn,mistralrs_core::pipeline::gguf=error"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let colored = std::io::stderr().is_terminal();
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colored).init();
}
