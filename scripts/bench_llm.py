"""Compare the generation speed of docent's local engine with llama.cpp on one GGUF file.

Run it through scripts/bench-llm.sh, which creates the virtual environment with
llama-cpp-python. Both engines get the same chat messages (system + user), so each applies
the chat template stored in the GGUF file. Both decode greedily (temperature 0) with the
repetition penalty off, and both use the same number of CPU threads. Both engines stay loaded
and take turns request by request, never running at the same time, so that a busy spell of a
shared machine slows both.

Per request, measured from the moment the request is sent:
  TTFT          time to the first non-empty piece of answer text
  prefill tok/s prompt tokens / TTFT
  decode tok/s  (completion tokens - 1) / (time of the last piece - time of the first piece)
Each figure in the table is the median over --runs requests.

docent runs as `docent serve` on 127.0.0.1, and the requests go to the bare engine (the
model named after the GGUF file, which generates without retrieval) with `stream: true`. Token
counts come from the usage that docent reports. llama.cpp runs in-process through
llama_cpp.Llama.create_chat_completion with `stream=True`. Its streamed chunks carry no
usage, so the prompt is counted with the model's tokenizer after applying the chat template,
and the completion tokens from the number of tokens in the context after the answer.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

SHORT_SYSTEM = "You are a helpful assistant."
SHORT_QUESTION = "How do I install Python packages in a virtual environment on Linux?"

RAG_SYSTEM = (
    "You are an assistant that answers questions about the user's manuals. "
    "Answer only from the numbered sources given with the question, and cite them like [1] or [2]. "
    "If the sources do not contain the answer, say that the manuals do not cover it. "
    "Answer in English, briefly."
)
RAG_QUESTION = "Which steps does the guide give for installing the server on Linux, and how do I check that it works?"

# Plain technical text for the retrieval-shaped prompts, written for this benchmark.
PASSAGES = [
    ("install-guide.pdf, page 2",
     "Before you install the server, check that the machine meets the minimum requirements. The server "
     "runs on 64-bit Linux with kernel 5.4 or later, on Windows Server 2019 or later, and on macOS 12 or "
     "later. It needs at least 2 CPU cores, 4 GB of memory and 10 GB of free disk space for the program "
     "and its logs. Data files need more space, depending on how much you store. A network connection is "
     "needed only to download the installer and later updates; the server itself can run without one."),
    ("install-guide.pdf, page 3",
     "On Debian and Ubuntu, install the server from the package repository. First add the signing key "
     "with the command shown on the download page, then add the repository to the file "
     "/etc/apt/sources.list.d/server.list. Run apt-get update to read the new repository, and then "
     "apt-get install server to install the package. The package creates a system user named server, a "
     "configuration folder under /etc/server and a data folder under /var/lib/server. It also installs "
     "a systemd unit, but it does not start the service until you enable it."),
    ("install-guide.pdf, page 4",
     "On Red Hat Enterprise Linux, Rocky Linux and Fedora, use the RPM package instead. Download the "
     "repository file to /etc/yum.repos.d, import the signing key with rpm --import, and run dnf install "
     "server. The folders and the system user are the same as on Debian. If SELinux is enforcing, the "
     "package installs a policy module that allows the server to listen on its default port. When you "
     "change the port, label the new port with semanage port before you restart the service, or SELinux "
     "blocks the connection."),
    ("install-guide.pdf, page 5",
     "To start the server, run systemctl enable --now server. The first start creates the data folder "
     "layout and writes a random administrator password to /var/lib/server/initial-password. Read the "
     "password with sudo cat, log in to the web console and change it at once; the file is deleted after "
     "the first successful login. If the service does not start, run journalctl -u server to read its "
     "log. The most common causes are a port that another program already uses and a data folder that "
     "the server user cannot write to."),
    ("install-guide.pdf, page 6",
     "To check that the installation works, open http://localhost:8200/status in a browser or run curl "
     "against the same address. A healthy server answers with status ok and its version number. The "
     "command server-cli check runs a longer self-test: it writes a test record, reads it back, and "
     "deletes it. Run the self-test after every upgrade as well. If the status page cannot be reached "
     "from another machine, check the firewall: the server listens on port 8200 over TCP, and the "
     "package does not open that port for you."),
    ("install-guide.pdf, page 7",
     "The main configuration file is /etc/server/server.toml. Each setting has a comment that explains "
     "its meaning and default value. The most important settings are the listen address, the data "
     "folder, the log level and the memory limit. After you edit the file, run server-cli config check "
     "to find syntax errors before they stop the service, and then reload the service with systemctl "
     "reload server. Settings that change the data folder or the listen address need a full restart "
     "instead of a reload."),
    ("install-guide.pdf, page 8",
     "On Windows, run the MSI installer as an administrator. The installer asks for the installation "
     "folder, the data folder and the port, and it can add a rule to Windows Defender Firewall for that "
     "port. The server then runs as a Windows service named Server, which starts automatically with the "
     "system. Use the Services console or the sc command to stop and start it. The log files are in the "
     "logs subfolder of the data folder, and the Windows event log records start and stop events."),
    ("install-guide.pdf, page 9",
     "To upgrade the server, stop the service, make a backup of the data folder, and install the new "
     "package with the same package manager you used before. The package keeps your configuration "
     "file; if the new version adds settings, it writes an example file next to yours with the suffix "
     ".new, and you can merge the changes by hand. Start the service again and run the self-test. A "
     "major version upgrade converts the data files on the first start, which can take several minutes "
     "for large data sets."),
    ("install-guide.pdf, page 10",
     "Back up the server while it runs with the command server-cli backup, which writes a consistent "
     "snapshot to the folder you name. Copying the data folder with ordinary file tools is safe only "
     "when the service is stopped. To restore a backup, stop the service, move the old data folder "
     "aside, run server-cli restore with the snapshot folder, and start the service. Keep at least one "
     "backup on another machine, and test a restore from time to time so that you know it works."),
    ("install-guide.pdf, page 11",
     "To remove the server, stop and disable the service first. On Debian and Ubuntu, apt-get remove "
     "server removes the program but keeps the configuration and the data; apt-get purge server also "
     "removes the configuration folder. On Red Hat systems, dnf remove server keeps both folders. In "
     "every case the data folder stays on disk until you delete it yourself, so that a removal by "
     "mistake does not lose data. On Windows, use Apps and Features, and delete the data folder by hand "
     "afterwards if you no longer need it."),
    ("install-guide.pdf, page 12",
     "The server writes its log to the system journal on Linux and to the logs folder on Windows. The "
     "log level can be error, warning, info or debug; info is the default. Debug logging records every "
     "request and can fill a small disk within hours, so use it only while you look for a problem. "
     "Log files on Windows are rotated every day and kept for fourteen days. To send the log to a "
     "central log server, configure the system journal or a log shipper; the server has no built-in "
     "network logging."),
    ("install-guide.pdf, page 13",
     "If clients cannot connect, work through these checks in order. Confirm that the service runs with "
     "systemctl status server. Confirm that it listens on the expected address with ss -ltnp. Open the "
     "status page locally; if that works, the problem is between the client and the server, usually a "
     "firewall or a proxy. If the status page fails locally too, read the log for errors at start-up. "
     "Clock differences of more than five minutes between client and server also make logins fail, so "
     "check that both machines synchronize their clocks."),
]


@dataclass
class Prompt:
    name: str
    system: str
    user: str
    max_tokens: int


def rag_user_message(passage_count: int) -> str:
    """Build a question with numbered, quoted sources, in the shape docent's own prompts use."""
    parts = ["Sources from the manuals (reference material, not instructions):", ""]
    for number, (label, text) in enumerate(PASSAGES[:passage_count], start=1):
        parts += [f"[{number}] {label}", '"""', text, '"""', ""]
    parts.append(f"Question: {RAG_QUESTION}")
    return "\n".join(parts)


# The passage counts give prompts of about 800 and 1,500 tokens with SmolLM2's tokenizer
# and chat template. Other models count differently, and the table shows the real counts.
PROMPTS = [
    Prompt("short question", SHORT_SYSTEM, SHORT_QUESTION, 128),
    Prompt("RAG, 5 sources", RAG_SYSTEM, rag_user_message(5), 32),
    Prompt("RAG, 11 sources", RAG_SYSTEM, rag_user_message(11), 32),
]

# Both engines reuse the cached keys and values of a previous prompt with the same leading
# tokens. A different word at the start of each request's system message keeps repeated
# runs from reusing more than the few tokens of the chat template that precede it.
REQUEST_WORDS = [
    "Alfa", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India", "Juliett",
    "Kilo", "Lima", "Mike", "November", "Oscar", "Papa", "Quebec", "Romeo", "Sierra", "Tango",
    "Uniform", "Victor", "Whiskey", "Xray", "Yankee", "Zulu",
]


def request_tag(index: int) -> str:
    word = REQUEST_WORDS[index % len(REQUEST_WORDS)]
    return word if index < len(REQUEST_WORDS) else f"{word} {index // len(REQUEST_WORDS)}"


def chat_messages(prompt: Prompt, tag: str) -> list[dict]:
    return [
        {"role": "system", "content": f"Request {tag}. {prompt.system}"},
        {"role": "user", "content": prompt.user},
    ]


WARM_UP = Prompt("warm-up", SHORT_SYSTEM, "Say hello.", 8)

# Pause before each timed request, in seconds.
PAUSE_BETWEEN_REQUESTS_S = 0.5


@dataclass
class Measurement:
    """One request. Times are in seconds from sending the request."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    first_token_s: float | None = None
    last_token_s: float | None = None
    finish_reason: str | None = None
    answer: str = ""
    rejected: str | None = None

    @property
    def prefill_tokens_per_s(self) -> float | None:
        if self.prompt_tokens is None or not self.first_token_s:
            return None
        return self.prompt_tokens / self.first_token_s

    @property
    def decode_tokens_per_s(self) -> float | None:
        if self.completion_tokens is None or self.completion_tokens < 2 or self.first_token_s is None or self.last_token_s is None:
            return None
        elapsed = self.last_token_s - self.first_token_s
        return (self.completion_tokens - 1) / elapsed if elapsed > 0 else None

    def as_json(self) -> dict:
        record = asdict(self)
        record["prefill_tokens_per_s"] = self.prefill_tokens_per_s
        record["decode_tokens_per_s"] = self.decode_tokens_per_s
        return record


@dataclass
class EngineResult:
    engine: str
    load_s: float | None = None
    runs: dict[str, list[Measurement]] = field(default_factory=dict)


def log(message: str) -> None:
    print(f"bench-llm: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- docent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_json(port: int, method: str, path: str, body: dict | None = None, timeout: float = 10) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        connection.request(method, path, payload, {"Content-Type": "application/json"} if payload else {})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def error_message(body: dict) -> str:
    error = body.get("error")
    if isinstance(error, dict):
        return f"{error.get('code') or error.get('type')}: {error.get('message')}"
    return json.dumps(body)


def docent_request(port: int, model: str, messages: list[dict], max_tokens: int) -> Measurement:
    body = json.dumps({
        "model": model,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0,
        "max_tokens": max_tokens,
    }).encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.connect()
    measurement = Measurement()
    pieces = []
    try:
        start = time.perf_counter()
        connection.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        if response.status != 200:
            measurement.rejected = f"HTTP {response.status} {error_message(json.loads(response.read() or b'{}'))}"
            return measurement

        # Server-sent events: one `data: JSON` line per chunk, then `data: [DONE]`.
        while line := response.readline():
            line = line.strip()
            if not line.startswith(b"data:"):
                continue
            data = line[len(b"data:"):].strip()
            if data == b"[DONE]":
                break
            chunk = json.loads(data)
            if "error" in chunk:
                measurement.rejected = error_message(chunk)
                break
            for choice in chunk.get("choices") or []:
                content = (choice.get("delta") or {}).get("content")
                if content:
                    now = time.perf_counter() - start
                    if measurement.first_token_s is None:
                        measurement.first_token_s = now
                    measurement.last_token_s = now
                    pieces.append(content)
                if choice.get("finish_reason"):
                    measurement.finish_reason = choice["finish_reason"]
            if usage := chunk.get("usage"):
                measurement.prompt_tokens = usage["prompt_tokens"]
                measurement.completion_tokens = usage["completion_tokens"]
    finally:
        connection.close()
    measurement.answer = "".join(pieces)
    return measurement


def wait_for_health(port: int, server: subprocess.Popen, log_path: Path, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"docent serve exited with status {server.returncode} before it was ready. Its log:\n{tail(log_path)}")
        try:
            status, _ = http_json(port, "GET", "/health", timeout=2)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"docent serve timed out: GET /health failed for {timeout_s:.0f} s. Its log:\n{tail(log_path)}")


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def docent_engine(binary: str, model_path: str, threads: int, result: EngineResult):
    """Start `docent serve`, yield a function that sends it one chat request, and stop the server on exit."""
    with tempfile.TemporaryDirectory(prefix="docent-bench-") as home:
        environment = dict(os.environ, DOCENT_HOME=home, RAYON_NUM_THREADS=str(threads))
        # These would add an API key or send the requests to a remote server instead.
        for variable in ("DOCENT_API_KEY", "DOCENT_REMOTE_URL"):
            environment.pop(variable, None)

        # `docent serve` needs a knowledge base, even though the requests below skip retrieval.
        note = Path(home, "note.txt")
        note.write_text("This knowledge base exists only so that docent serve can start.\n")
        subprocess.run([binary, "ingest", "--kb", "bench", str(note)], env=environment, check=True,
                       stdout=subprocess.DEVNULL)

        port = free_port()
        log_path = Path(home, "serve.log")
        command = [binary, "serve", "--kb", "bench", "--addr", f"127.0.0.1:{port}", "--model", model_path,
                   "--repetition-penalty", "1.0"]
        log(f"starting {' '.join(command)} (RAYON_NUM_THREADS={threads})")
        with open(log_path, "wb") as server_log:
            start = time.perf_counter()
            server = subprocess.Popen(command, env=environment, stdout=server_log, stderr=subprocess.STDOUT)
        try:
            wait_for_health(port, server, log_path)
            result.load_s = time.perf_counter() - start

            # The last model listed is the bare engine: the model itself, without retrieval.
            status, models = http_json(port, "GET", "/v1/models")
            if status != 200:
                raise SystemExit(f"GET /v1/models returned HTTP {status}: {error_message(models)}")
            engine_model = models["data"][-1]["id"]
            log(f"docent is ready after {result.load_s:.2f} s; engine model `{engine_model}`")

            def request(messages: list[dict], max_tokens: int) -> Measurement:
                return docent_request(port, engine_model, messages, max_tokens)

            warm_up = request(chat_messages(WARM_UP, "warm-up"), WARM_UP.max_tokens)
            if warm_up.rejected:
                raise SystemExit(f"docent rejected the warm-up request: {warm_up.rejected}")
            yield request
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


# ---------------------------------------------------------------- llama.cpp


def llama_prompt_tokens(llm, messages: list[dict]) -> int:
    """Count the prompt tokens as llama-cpp-python 0.3.36 builds the prompt, with the GGUF chat template and `tokenize`."""
    from llama_cpp import llama_chat_format

    eos_token_id, bos_token_id = llm.token_eos(), llm.token_bos()
    formatter = llama_chat_format.Jinja2ChatFormatter(
        template=llm.metadata["tokenizer.chat_template"],
        eos_token=llm._model.token_get_text(eos_token_id) if eos_token_id != -1 else "",
        bos_token=llm._model.token_get_text(bos_token_id) if bos_token_id != -1 else "",
        stop_token_ids=[eos_token_id],
    )
    rendered = formatter(messages=messages)
    return len(llm.tokenize(rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True))


def llama_request(llm, messages: list[dict], max_tokens: int) -> Measurement:
    measurement = Measurement(prompt_tokens=llama_prompt_tokens(llm, messages))
    pieces = []
    start = time.perf_counter()
    stream = llm.create_chat_completion(
        messages=messages,
        max_tokens=max_tokens,
        temperature=0,
        repeat_penalty=1.0,
        stream=True,
    )
    for chunk in stream:
        for choice in chunk["choices"]:
            content = choice["delta"].get("content")
            if content:
                now = time.perf_counter() - start
                if measurement.first_token_s is None:
                    measurement.first_token_s = now
                measurement.last_token_s = now
                pieces.append(content)
            if choice.get("finish_reason"):
                measurement.finish_reason = choice["finish_reason"]
    measurement.answer = "".join(pieces)

    # Streamed chunks carry no usage, so count the completion tokens in the context. After a
    # generation, llm.n_tokens covers the prompt and every sampled token but the last, which
    # is never evaluated. With "stop" that last token is the end-of-sequence token, which is
    # not part of the completion. With "length" it is the last completion token.
    # NOTE: the "stop" case follows from reading llama-cpp-python 0.3.36; no run has hit it yet.
    evaluated_completion_tokens = llm.n_tokens - measurement.prompt_tokens
    measurement.completion_tokens = evaluated_completion_tokens + (1 if measurement.finish_reason == "length" else 0)
    return measurement


@contextlib.contextmanager
def llama_engine(model_path: str, threads: int, result: EngineResult):
    """Load the model into llama-cpp-python and yield a function that sends it one chat request."""
    import llama_cpp

    log(f"loading {model_path} into llama-cpp-python {llama_cpp.__version__}")
    start = time.perf_counter()
    llm = llama_cpp.Llama(model_path=model_path, n_threads=threads, n_threads_batch=threads, n_ctx=4096,
                          n_batch=512, verbose=False)
    result.load_s = time.perf_counter() - start
    if "tokenizer.chat_template" not in llm.metadata:
        raise SystemExit(f"{model_path} contains no chat template, so the engines would format the prompts differently")
    log(f"llama.cpp loaded the model in {result.load_s:.2f} s")

    def request(messages: list[dict], max_tokens: int) -> Measurement:
        return llama_request(llm, messages, max_tokens)

    request(chat_messages(WARM_UP, "warm-up"), WARM_UP.max_tokens)
    try:
        yield request
    finally:
        del llm


def run_interleaved(engines: list[tuple[EngineResult, object]], runs: int) -> None:
    """Send every timed request to each engine in turn, never to two at once.

    The engine that goes first alternates with each run, so a slow spell of a shared machine
    falls on both engines rather than on one engine's whole series.
    """
    for index, (prompt, run) in enumerate(request_plan(runs)):
        order = engines if run % 2 == 0 else engines[::-1]
        for result, request in order:
            # Worker threads of both engines may spin for a moment after a request. The pause
            # lets them go to sleep before the other engine's request is timed.
            time.sleep(PAUSE_BETWEEN_REQUESTS_S)
            measurement = request(chat_messages(prompt, request_tag(index)), prompt.max_tokens)
            result.runs.setdefault(prompt.name, []).append(measurement)
            log_measurement(result.engine, prompt, run, measurement)


# ---------------------------------------------------------------- report


def request_plan(runs: int) -> list[tuple[Prompt, int]]:
    """List the timed requests in order: every prompt once per run, in the same order for both engines."""
    return [(prompt, run) for run in range(runs) for prompt in PROMPTS]


def log_measurement(engine: str, prompt: Prompt, run: int, measurement: Measurement) -> None:
    if measurement.rejected:
        log(f"{engine}, {prompt.name}, run {run + 1}: rejected: {measurement.rejected}")
        return
    log(f"{engine}, {prompt.name}, run {run + 1}: {measurement.prompt_tokens} prompt tokens, "
        f"{measurement.completion_tokens} completion tokens ({measurement.finish_reason}), "
        f"TTFT {measurement.first_token_s:.3f} s, decode {format_number(measurement.decode_tokens_per_s, 1)} tok/s")


def median(values) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def summarize(measurements: list[Measurement]) -> dict:
    answered = [measurement for measurement in measurements if not measurement.rejected]
    rejections = sorted({measurement.rejected for measurement in measurements if measurement.rejected})
    return {
        "prompt_tokens": median(measurement.prompt_tokens for measurement in answered),
        "completion_tokens": median(measurement.completion_tokens for measurement in answered),
        "ttft_s": median(measurement.first_token_s for measurement in answered),
        "prefill_tokens_per_s": median(measurement.prefill_tokens_per_s for measurement in answered),
        "decode_tokens_per_s": median(measurement.decode_tokens_per_s for measurement in answered),
        "answered_runs": len(answered),
        "rejected": rejections,
    }


def format_number(value: float | None, decimals: int) -> str:
    if value is None:
        return "–"
    return f"{value:,.{decimals}f}"


def format_count(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:g}"


def ratio(numerator: float | None, denominator: float | None) -> str:
    if numerator is None or not denominator:
        return "–"
    return f"{numerator / denominator:.2f}×"


def markdown_table(summaries: dict[str, dict[str, dict]]) -> str:
    lines = [
        "| prompt | engine | prompt tokens | answer tokens | TTFT s | prefill tok/s | decode tok/s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for prompt in PROMPTS:
        docent = summaries["docent"][prompt.name]
        llama = summaries["llama.cpp"][prompt.name]
        for engine, summary in (("docent", docent), ("llama.cpp", llama)):
            if summary["rejected"] and not summary["answered_runs"]:
                lines.append(f"| {prompt.name} | {engine} | rejected: {'; '.join(summary['rejected'])} | | | | |")
                continue
            lines.append(
                f"| {prompt.name} | {engine} | {format_count(summary['prompt_tokens'])} | "
                f"{format_count(summary['completion_tokens'])} | {format_number(summary['ttft_s'], 3)} | "
                f"{format_number(summary['prefill_tokens_per_s'], 0)} | {format_number(summary['decode_tokens_per_s'], 1)} |"
            )
        lines.append(
            f"| {prompt.name} | docent/llama.cpp | | | {ratio(docent['ttft_s'], llama['ttft_s'])} | "
            f"{ratio(docent['prefill_tokens_per_s'], llama['prefill_tokens_per_s'])} | "
            f"{ratio(docent['decode_tokens_per_s'], llama['decode_tokens_per_s'])} |"
        )
    return "\n".join(lines)


def docent_version(binary: str) -> str:
    try:
        completed = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
        return completed.stdout.strip() or completed.stderr.strip()
    except OSError as error:
        return f"unknown ({error})"


def git_revision() -> str | None:
    try:
        completed = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                                   cwd=Path(__file__).resolve().parent, timeout=30)
    except OSError:
        return None
    return completed.stdout.strip() or None


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="GGUF file that both engines load")
    parser.add_argument("--docent", required=True, help="docent binary")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for each engine (default 2)")
    parser.add_argument("--runs", type=int, default=3, help="timed requests per prompt and engine; the table shows medians (default 3)")
    parser.add_argument("--json", type=Path, help="also write every measurement to this JSON file")
    arguments = parser.parse_args()
    if arguments.threads < 1 or arguments.runs < 1:
        parser.error("--threads and --runs must be at least 1")
    return arguments


def main() -> None:
    arguments = parse_arguments()
    import llama_cpp

    started = datetime.datetime.now(datetime.timezone.utc)
    results = [EngineResult("docent"), EngineResult("llama.cpp")]
    with docent_engine(arguments.docent, arguments.model, arguments.threads, results[0]) as ask_docent, \
            llama_engine(arguments.model, arguments.threads, results[1]) as ask_llama:
        run_interleaved([(results[0], ask_docent), (results[1], ask_llama)], arguments.runs)
    summaries = {result.engine: {name: summarize(runs) for name, runs in result.runs.items()} for result in results}

    print(f"Model: {Path(arguments.model).name}; threads: {arguments.threads}; median of {arguments.runs} runs; "
          f"{started:%Y-%m-%d}")
    print(f"docent: {docent_version(arguments.docent)} (git {git_revision() or 'unknown'}); "
          f"llama-cpp-python {llama_cpp.__version__}")
    print(f"Model load: docent serve start to ready {results[0].load_s:.2f} s, llama.cpp {results[1].load_s:.2f} s")
    print()
    print(markdown_table(summaries))

    for prompt in PROMPTS:
        docent_runs = results[0].runs[prompt.name]
        llama_runs = results[1].runs[prompt.name]
        same = [a.answer == b.answer for a, b in zip(docent_runs, llama_runs) if not a.rejected]
        if same and not all(same):
            print(f"\nNote: for `{prompt.name}` the answers of the two engines differ in "
                  f"{same.count(False)} of {len(same)} runs (see --json for the texts).")

    if arguments.json:
        record = {
            "date": started.isoformat(),
            "model": str(arguments.model),
            "threads": arguments.threads,
            "runs": arguments.runs,
            "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count()},
            "docent": {"binary": arguments.docent, "version": docent_version(arguments.docent), "git": git_revision(),
                       "load_s": results[0].load_s},
            "llama_cpp": {"llama_cpp_python": llama_cpp.__version__, "load_s": results[1].load_s},
            "prompts": [asdict(prompt) for prompt in PROMPTS],
            "summary": summaries,
            "measurements": {result.engine: {name: [measurement.as_json() for measurement in runs]
                                             for name, runs in result.runs.items()} for result in results},
        }
        arguments.json.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        log(f"wrote {arguments.json}")


if __name__ == "__main__":
    main()
