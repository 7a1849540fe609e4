"""gunicorn's settings for the dashboard, each set on purpose:

    gunicorn -c python:dash_app.gunicorn_config dash_app.app:server

ENERGY_DASHBOARD_BIND overrides the address (tests: 127.0.0.1:<port>); else PORT (Cloud Run
sets it) on all interfaces, else 0.0.0.0:8050. WEB_CONCURRENCY overrides the worker count.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# Where to listen: the container's port on every interface; Cloud Run says which in PORT.
bind = os.environ.get("ENERGY_DASHBOARD_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8050')}"
# Two processes: one busy rendering a figure (pandas, plotly hold the GIL) leaves the other free.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# The app is imported once, before the port opens, and each worker is a fork of it: a new or
# recycled worker answers its first request at once instead of importing Dash, pandas and
# plotly first (seconds, while requests queue), and the workers share those pages of memory.
preload_app = True
# Threads overlap the waits on storage (GCS reads) within a worker and share its cache.
worker_class = "gthread"
threads = 4
# A request over a cold cache reads a week of partitions from GCS; one stuck past this is killed.
timeout = 60
# In-flight requests get this long after SIGTERM, inside Cloud Run's 10 s before SIGKILL.
graceful_timeout = 8
# Keep a browser's burst of requests (scripts, callbacks) on one connection, then free it.
keepalive = 5
# Recycle a worker after this many requests: the memory pandas and plotly fragment returns...
max_requests = 1000
# ...at staggered times, so the workers never restart together.
max_requests_jitter = 100
# The longest legitimate request line is a component script or /api/predictions, far below this.
limit_request_line = 2048
# Browsers send about 20 headers; more is not a browser.
limit_request_field_size = 8190  # room for a session cookie of an OIDC sign-in (4 KB at most)
limit_request_fields = 50
# Access log and errors to stdout/stderr, where the container runtime collects them.
accesslog = "-"
errorlog = "-"
loglevel = "info"
# Workers' heartbeat files on tmpfs: a slow container disk cannot make a healthy worker look dead.
if Path("/dev/shm").is_dir():
    worker_tmp_dir = "/dev/shm"
proc_name = "energy-dashboard"


def on_starting(server: Any) -> None:
    """In the master, with the app preloaded and before the port opens: run the dashboard's
    code once (dash_app/warmup.py), so that every worker is forked warm."""
    from dash_app.warmup import warm_up

    warm_up(server.app.wsgi())


def post_worker_init(worker: Any) -> None:
    """Each worker starts reading its health facts at once, on its own threads (threads do not
    survive the fork from the preloading master, and none is started there)."""
    from dash_app.store import store_of

    store_of(worker.wsgi).start_watching()
