"""Process-wide memory settings, applied as Django starts (web processes and Huey consumers)."""

import contextlib
import ctypes
import os

_M_ARENA_MAX = -8  # glibc's mallopt() parameter number


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas (what MALLOC_ARENA_MAX=2 in the environment does).

    glibc gives each thread that allocates concurrently an arena of its own, up to eight per
    core: a consumer's eight worker threads decoding images and running onnxruntime held
    ~35 MB more for it (bench/memory.py). Call before the worker threads start. An explicit
    MALLOC_ARENA_MAX wins; elsewhere than glibc this does nothing.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    with contextlib.suppress(OSError, AttributeError):
        return bool(ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, arenas))
    return False
