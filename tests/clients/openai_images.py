"""Sends a question with and without an image through the official openai package and prints
the usage of each answer as JSON.

Usage: openai_images.py BASE_URL MODEL. The Rust test `python_openai_client_sends_images` runs
it against a multimodal model and checks the output, so this script only records.
"""

import base64
import json
import struct
import sys
import zlib

from openai import OpenAI


def png(width, height):
    """Encodes a small RGB gradient as PNG with the standard library alone."""
    pixel = lambda x, y: bytes(((x * 6) % 256, (y * 8) % 256, 128))
    # Each row starts with filter type 0 (none).
    rows = b"".join(b"\x00" + b"".join(pixel(x, y) for x in range(width)) for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


base_url, model = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=base_url, api_key="unused", timeout=300, max_retries=0)
image_url = "data:image/png;base64," + base64.b64encode(png(40, 30)).decode()
text_part = {"type": "text", "text": "What does this photo show?"}
image_part = {"type": "image_url", "image_url": {"url": image_url}}

report = {}
for name, content in [("text_only", [text_part]), ("with_image", [text_part, image_part])]:
    completion = client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}], max_tokens=3)
    report[name] = {"usage": completion.usage.model_dump(), "finish_reason": completion.choices[0].finish_reason}
print(json.dumps(report))
