"""Drives `docent serve` with the official openai package and prints what it saw as JSON.

Usage: openai_client.py BASE_URL. The Rust test `python_openai_client` runs it and checks
the output, so this script only records and never asserts.
"""

import json
import sys

import openai
from openai import OpenAI

base_url = sys.argv[1]
client = OpenAI(base_url=base_url, api_key="unused", timeout=300, max_retries=0)
question = [{"role": "user", "content": "What does error E-102 mean?"}]
report = {"openai_version": openai.__version__}

completion = client.chat.completions.create(model="docent", messages=question, max_tokens=8)
report["plain"] = {
    "content": completion.choices[0].message.content,
    "finish_reason": completion.choices[0].finish_reason,
    "usage": completion.usage.model_dump(),
    "sources": completion.model_dump().get("sources"),
}

stream = client.chat.completions.create(
    model="docent/default",
    messages=question,
    max_tokens=8,
    stream=True,
    stream_options={"include_usage": True},
)
text, finish_reasons, usage_chunks, sources = "", [], [], None
for chunk in stream:
    extra = chunk.model_dump()
    if extra.get("sources"):
        sources = extra["sources"]
    if chunk.usage is not None:
        usage_chunks.append(chunk.usage.model_dump())
    for choice in chunk.choices:
        text += choice.delta.content or ""
        if choice.finish_reason is not None:
            finish_reasons.append(choice.finish_reason)
report["stream"] = {"content": text, "finish_reasons": finish_reasons, "usage_chunks": usage_chunks, "sources": sources}

try:
    client.chat.completions.create(model="no-such-model", messages=question)
    report["unknown_model"] = None
except openai.NotFoundError as error:
    report["unknown_model"] = {"status": error.status_code, "code": error.code}

embeddings = client.embeddings.create(model="docent", input=["Clean the filter.", "过滤器堵塞"])
report["embeddings"] = {
    "model": embeddings.model,
    "dimensions": [len(item.embedding) for item in embeddings.data],
    "usage": embeddings.usage.model_dump(),
}

report["models"] = [model.id for model in client.models.list()]
print(json.dumps(report))
