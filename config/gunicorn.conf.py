"""gunicorn settings for the web process: `gunicorn -c config/gunicorn.conf.py`.

Every value comes from the environment (docs/production.md, "Environment of each part").
Threaded workers: the sync image API waits for its job, and a gthread worker keeps answering
its heartbeat meanwhile.
"""

import multiprocessing
import os

wsgi_app = "config.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 9)))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# A worker whose main loop stays silent this long is restarted (a long request in a thread
# does not silence it).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# Recycle workers now and then so a slow leak cannot grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 10
# The TLS proxy in front sets X-Forwarded-Proto; trust it only from these addresses.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# The proxy keeps the access log; ours is off by default because paths can carry share tokens.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# No preload: each worker imports Django itself, so no connection is shared across a fork.
preload_app = False
# gunicorn 27's control socket sits at one path per user (~/.gunicorn/gunicorn.ctl), which two
# servers on one machine would share; nothing here uses it, and with it Ctrl-C left a worker
# to be killed after the graceful timeout.
control_socket_disable = True


# /metrics (core/metrics.py): the processes of this host share counters through files in
# PROMETHEUS_MULTIPROC_DIR (as config/settings.py sets it: the variable, else var/prometheus).
# Start from an empty folder; forget a dead worker's live gauges.
def _metrics_dir() -> str:
    from pathlib import Path

    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        return os.environ["PROMETHEUS_MULTIPROC_DIR"]
    base = Path(__file__).resolve().parent.parent / "var"
    return str(Path(os.environ.get("QWEN_STUDIO_VAR_DIR") or base) / "prometheus")


def on_starting(server):
    import shutil
    from pathlib import Path

    if folder := _metrics_dir():
        shutil.rmtree(folder, ignore_errors=True)
        Path(folder).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    if folder := _metrics_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, folder)
