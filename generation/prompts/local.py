"""The local enhancer: a small instruct model on the CPU through transformers (the runtime the
local GPU backend already uses), loaded from a folder the operator filled with
`manage.py enhancer_download`. Nothing is downloaded here.

Loading takes seconds, so it happens on a background thread the first time; a call waits for
it only as long as its budget allows. Generation stops at the budget too (transformers'
`max_time`), and one call runs at a time per process (two would only halve each other's speed
on a small CPU).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from generation.prompts.errors import EnhancerError

# Qwen2.5-0.5B-Instruct (Apache-2.0, 1 GB of bf16 weights, 2 GB in memory as float32): the
# size a 2-core machine can run beside the portal. float32 decoding is memory-bound, a few
# tokens a second on two cores, so it suits enhance-on-submit in the worker (120 s bound) more
# than previews; docs/prompts.md has the numbers and the faster path (a llama.cpp or Ollama
# server on the same machine, through the "chat" enhancer).
DEFAULT_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
WEIGHT_FILES = ["*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken", "LICENSE*"]


class LocalEnhancer:
    name = "local"

    def __init__(self, *, path: str, max_tokens: int = 400, threads: int = 0) -> None:
        self.path = Path(path)
        self.label = self.path.name or "local model"
        self.max_tokens = max_tokens
        self.threads = threads
        self._loaded = threading.Event()
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._loading = False
        self._error: str = ""
        self._model = None
        self._tokenizer = None

    # --- Loading, once, off the caller's thread ----------------------------------------------

    def _start_loading(self) -> None:
        with self._load_lock:
            if self._loading:
                return
            self._loading = True
        threading.Thread(target=self._load, name="enhancer-load", daemon=True).start()

    def _load(self) -> None:
        try:
            if not (self.path / "config.json").exists():
                raise EnhancerError(
                    f"The local prompt model is not downloaded ({self.path}); an operator "
                    "runs `manage.py enhancer_download` once."
                )
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            if self.threads:
                torch.set_num_threads(self.threads)
            self._tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(
                self.path, local_files_only=True, dtype=torch.float32
            )
            model.eval()
            self._model = model
        except EnhancerError as exc:
            self._error = exc.message
        except Exception as exc:
            self._error = f"The local prompt model could not be loaded ({type(exc).__name__})."
        finally:
            self._loaded.set()

    # --- One call -------------------------------------------------------------------------

    def complete(self, *, system: str, prompt: str, budget: float) -> str:
        deadline = time.monotonic() + budget
        self._start_loading()
        if not self._loaded.wait(timeout=max(0.0, budget)):
            raise EnhancerError(
                "The local prompt model is still loading; try again in a minute.", timed_out=True
            )
        if self._error:
            raise EnhancerError(self._error)
        if not self._run_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise EnhancerError("The local prompt model is busy with another prompt.")
        try:
            left = deadline - time.monotonic()
            if left <= 0.05:
                raise EnhancerError(
                    f"The prompt enhancer did not answer within {budget:g} s.", timed_out=True
                )
            return self._generate(system, prompt, left, budget)
        finally:
            self._run_lock.release()

    def _generate(self, system: str, prompt: str, left: float, budget: float) -> str:
        import torch

        tokenizer, model = self._tokenizer, self._model
        messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
        inputs = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        started = time.monotonic()
        with torch.inference_mode():
            output = model.generate(
                **inputs,
                max_new_tokens=self.max_tokens,
                max_time=left,
                do_sample=False,  # the same prompt gets the same revision
                repetition_penalty=1.05,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            )
        new_tokens = output[0][inputs["input_ids"].shape[1] :]
        finished = bool(len(new_tokens)) and int(new_tokens[-1]) == tokenizer.eos_token_id
        if not finished and time.monotonic() - started >= left * 0.98:
            # Cut by max_time mid-sentence: not a prompt to draw.
            raise EnhancerError(
                f"The prompt enhancer did not answer within {budget:g} s.", timed_out=True
            )
        return tokenizer.decode(new_tokens, skip_special_tokens=True)


def default_dir(var_dir: str | os.PathLike, model: str) -> str:
    """Where `enhancer_download` puts a model: var/models/<name>."""
    return str(Path(var_dir) / "models" / model.rsplit("/", 1)[-1])
