"""A fake OpenAI-compatible chat endpoint (`POST /v1/chat/completions`) on 127.0.0.1.

It stands in for the team's Ollama, vLLM or hosted model behind the prompt enhancer: it records
every body it receives (the system prompt the portal sent included) and answers with
`reply(user_prompt, system_prompt)`. It can be slow (`delay`), fail (`status`), or answer
garbage (`raw`). It stops by itself after `max_lifetime` seconds on daemon threads.

    with FakeChat(reply=lambda prompt, system: prompt + ", golden hour") as chat:
        settings.PROMPT_ENHANCER_BASE_URL = chat.url
        ...
        assert chat.requests[0]["messages"][0]["role"] == "system"
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def expand(prompt: str, system: str) -> str:
    """A well-behaved rewrite: the prompt kept whole (its quoted text too), detail added."""
    return f"{prompt}, warm golden-hour light, shallow depth of field, 35mm photograph"


class FakeChat:
    def __init__(
        self,
        *,
        reply: Callable[[str, str], str] = expand,
        delay: float = 0.0,
        status: int = 200,
        raw: bytes | None = None,
        max_lifetime: float = 120.0,
    ) -> None:
        self.reply = reply
        self.delay = delay
        self.status = status
        self.raw = raw
        self.max_lifetime = max_lifetime
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FakeChat:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(body)
                fake.headers.append(dict(self.headers))
                if fake.delay:
                    time.sleep(fake.delay)
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "no such path"}})
                if fake.status != 200:
                    return self._send(fake.status, {"error": {"message": "down"}})
                if fake.raw is not None:
                    return self._send(200, None, raw=fake.raw)
                messages = body.get("messages", [])
                system = next((m["content"] for m in messages if m["role"] == "system"), "")
                user = next((m["content"] for m in messages if m["role"] == "user"), "")
                content = fake.reply(user, system)
                self._send(
                    200,
                    {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion",
                        "model": body.get("model", ""),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                    },
                )

            def _send(self, status: int, payload, raw: bytes | None = None):
                data = raw if raw is not None else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        timer = threading.Timer(self.max_lifetime, self.close)
        timer.daemon = True
        timer.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __exit__(self, *exc) -> None:
        self.close()

    def system_prompts(self) -> list[str]:
        return [
            next((m["content"] for m in r.get("messages", []) if m["role"] == "system"), "")
            for r in self.requests
        ]
