"""A real HTTP server on 127.0.0.1 that replays Energi Data Service `dataset` responses.

`ReplayServer` serves `GET /dataset/<name>` from real records the way the modern Energi Data
Service API does: `start` (inclusive) and `end` (exclusive) as `YYYY-MM-DDTHH:MM` on the
dataset's UTC time field with `timezone=utc`, `offset`, `limit` (absent: 100, `0`: all), `sort`
(`<time field> ASC|DESC`, stable; absent: the stored order, which for the real records is
HourUTC DESC), `columns` and `filter` (JSON equality lists), answering
`{"total", "limit", ["filters",] ["sort",] "dataset", "records"}`.
Records keep the real key order and JSON types. Parameters it does not understand get a 400.

A fault plan (`inject`) replaces the normal answer to the next requests, one fault per request:
HTTP errors with headers, raw or JSON bodies, edited envelopes, a dropped connection, a stall,
a truncated body. Every request is recorded (path, query, headers, monotonic time, fault) so
that tests can assert what the client sent and when. A dataset name can instead be bound to a
fixed body (for example a recorded response file), which is served whatever the query.

Only 127.0.0.1 is bound; stalls are bounded and cut short by `stop()`.
"""

from __future__ import annotations

import copy
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

API_TIME_FORMAT = "%Y-%m-%dT%H:%M"
#: page size of the real API when no `limit` is sent
DEFAULT_LIMIT = 100
#: upper bound of any stall, whatever a test asks for
MAX_STALL_SECONDS = 10.0
HOST = "127.0.0.1"

Envelope = dict[str, Any]
_DELETE = object()


@dataclass(frozen=True)
class Fault:
    """What the server does instead of its normal answer to one request.

    The default `Fault()` changes nothing; use it to let a request through in a plan.
    """

    #: HTTP status of the answer; anything but 200 is sent with `body` (or a short JSON error)
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    #: raw body sent instead of the replayed envelope
    body: bytes | None = None
    content_type: str = "application/json"
    #: gets a deep copy of the normal envelope and returns the JSON value to send instead
    edit: Callable[[Envelope], Any] | None = None
    #: close the connection without sending anything
    drop: bool = False
    #: seconds to wait before answering (bounded by MAX_STALL_SECONDS)
    delay: float = 0.0
    #: send the full Content-Length but only half of the body, then close
    truncate: bool = False

    @classmethod
    def http_status(cls, status: int, *, retry_after: int | None = None) -> Fault:
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        body = json.dumps({"error": f"replayed HTTP {status}"}).encode()
        return cls(status=status, headers=headers, body=body)

    @classmethod
    def raw(cls, body: bytes, content_type: str = "text/plain") -> Fault:
        return cls(body=body, content_type=content_type)

    @classmethod
    def json_body(cls, value: Any) -> Fault:
        return cls(body=json.dumps(value).encode())

    @classmethod
    def edit_envelope(cls, edit: Callable[[Envelope], Any]) -> Fault:
        return cls(edit=edit)

    @classmethod
    def edit_record(cls, index: int, key: str, value: Any = _DELETE) -> Fault:
        """Set `records[index][key]` to `value` in the answer, or delete the key if no value."""

        def edit(envelope: Envelope) -> Envelope:
            record = envelope["records"][index]
            if value is _DELETE:
                del record[key]
            else:
                record[key] = value
            return envelope

        return cls(edit=edit)

    @classmethod
    def close(cls) -> Fault:
        return cls(drop=True)

    @classmethod
    def stall(cls, seconds: float) -> Fault:
        """Answer normally, but only after `seconds` (make it longer than the client timeout)."""
        return cls(delay=seconds)

    @classmethod
    def truncated(cls) -> Fault:
        return cls(truncate=True)


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    #: query parameters, the last value of each
    query: dict[str, str]
    raw_query: str
    headers: dict[str, str]
    #: time.monotonic() when the request line had been read
    time: float
    fault: Fault | None


class ReplayDataset:
    """Real records of one dataset, served in the stored order unless a sort is asked for."""

    def __init__(
        self, name: str, records: list[dict[str, Any]], time_field: str = "HourUTC"
    ) -> None:
        self.name = name
        self.records = records
        self.time_field = time_field
        self.times = [datetime.fromisoformat(r[time_field]) for r in records]

    def renamed(self, name: str, fields: Mapping[str, str]) -> ReplayDataset:
        """The same records under another dataset name with fields renamed, key order kept."""
        records = [{fields.get(k, k): v for k, v in r.items()} for r in self.records]
        return ReplayDataset(name, records, fields.get(self.time_field, self.time_field))


class _BadRequest(Exception):
    pass


def _filter(raw: str | None) -> dict[str, set[str]]:
    """`filter={"Field": ["value", ...]}`: equality on each field, values compared as text."""
    if raw is None:
        return {}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        raise _BadRequest(f"filter={raw!r} is not JSON") from None
    if not isinstance(parsed, dict) or not all(isinstance(v, list) for v in parsed.values()):
        raise _BadRequest(f"filter={raw!r} is not an object of lists")
    return {k: {str(v) for v in values} for k, values in parsed.items()}


def _sorted(
    rows: list[tuple[datetime, dict[str, Any]]],
    sort: str,
    dataset: ReplayDataset,
    tie_order: random.Random | None,
) -> list[tuple[datetime, dict[str, Any]]]:
    """`sort=Field ASC|DESC[,Field ASC|DESC ...]`, applied last field first (a stable sort)."""
    terms = [term.split() for term in sort.split(",")]
    fields = set(dataset.records[0]) if dataset.records else {dataset.time_field}
    for term in terms:
        if len(term) != 2 or term[0] not in fields or term[1] not in {"ASC", "DESC"}:
            raise _BadRequest(f"sort={sort!r}: expected 'Field ASC|DESC[,Field ASC|DESC]'")
    out = list(rows)
    if tie_order is not None:
        tie_order.shuffle(out)
    for name, direction in reversed(terms):

        def key(row: tuple[datetime, dict[str, Any]], name: str = name) -> Any:
            return row[0] if name == dataset.time_field else str(row[1][name])

        out.sort(key=key, reverse=direction == "DESC")
    return out


def _known_fields_only(query: Mapping[str, str], dataset: ReplayDataset) -> dict[str, str]:
    """The query with the `sort` terms and `columns` the dataset's records lack left out."""
    fields = set(dataset.records[0]) if dataset.records else {dataset.time_field}
    out = dict(query)
    for key, separator in (("sort", ","), ("columns", ",")):
        if key in out:
            kept = [t for t in out[key].split(separator) if t.split()[0] in fields]
            if kept:
                out[key] = separator.join(kept)
            else:
                del out[key]
    return out


class _HTTPServer(ThreadingHTTPServer):
    # Handler threads are joined on close; every handler ends promptly (Connection: close,
    # bounded stalls that stop() interrupts, socket timeout on idle reads).
    daemon_threads = False
    block_on_close = True
    replay: ReplayServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out or hung up is part of the tests; anything else is shown.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "EnergiDataServiceReplay/1"
    timeout = 5.0
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        replay = self.server.replay
        received = time.monotonic()
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        fault = replay._next_fault()
        replay._record(
            RecordedRequest(
                path=split.path,
                query=query,
                raw_query=split.query,
                headers=dict(self.headers.items()),
                time=received,
                fault=fault,
            )
        )
        self.close_connection = True
        fault = fault or Fault()
        if fault.delay > 0 and replay._stopping.wait(min(fault.delay, MAX_STALL_SECONDS)):
            return
        if fault.drop:
            return
        if fault.body is not None:
            status, body, content_type = fault.status, fault.body, fault.content_type
        else:
            status, value = replay._answer(split.path, query)
            if fault.edit is not None and status == 200:
                value = fault.edit(copy.deepcopy(value))
            body, content_type = json.dumps(value).encode(), "application/json"
        self._send(status, body, content_type, fault)

    def _send(self, status: int, body: bytes, content_type: str, fault: Fault) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            for key, value in fault.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body[: len(body) // 2] if fault.truncate else body)
            self.wfile.flush()
        except (ConnectionError, TimeoutError):
            pass  # the client gave up (read timeout) before the answer


class ReplayServer:
    """Threaded HTTP server on 127.0.0.1:<free port>; use as a context manager."""

    def __init__(self, datasets: Iterable[ReplayDataset] = ()) -> None:
        self.datasets: dict[str, ReplayDataset] = {d.name: d for d in datasets}
        self.fixed_bodies: dict[str, bytes] = {}
        #: when set, rows equal on the requested sort come in a new random order per request,
        #: as a database may give them
        self.shuffled_ties: random.Random | None = None
        #: a server that honours only the first field of `sort`
        self.sort_on_first_field_only = False
        #: a server that answers 200 whatever fields `sort` and `columns` name, leaving out the
        #: ones its records lack (as a dataset switched in place might)
        self.ignore_unknown_fields = False
        self.requests: list[RecordedRequest] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _HTTPServer((HOST, 0), _Handler)
        self._httpd.replay = self
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def dataset_url(self, name: str) -> str:
        return f"{self.url}/dataset/{name}"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"replay-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- configuration -----------------------------------------------------------------------

    def add_dataset(self, dataset: ReplayDataset) -> None:
        self.datasets[dataset.name] = dataset

    def serve_body(self, name: str, body: bytes) -> None:
        """Answer every request for dataset `name` with `body` (HTTP 200, JSON)."""
        self.fixed_bodies[name] = body

    def serve_file(self, name: str, path: Path) -> None:
        self.serve_body(name, path.read_bytes())

    def inject(self, *faults: Fault) -> None:
        """Queue faults; each of the next requests takes one, in order."""
        with self._lock:
            self._faults.extend(faults)

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    def sent(self, key: str) -> list[str | None]:
        """The value of query parameter `key` in each request so far."""
        with self._lock:
            return [r.query.get(key) for r in self.requests]

    # -- request handling --------------------------------------------------------------------

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _answer(self, path: str, query: Mapping[str, str]) -> tuple[int, Any]:
        prefix = "/dataset/"
        name = path[len(prefix) :] if path.startswith(prefix) else None
        if name in self.fixed_bodies:
            return 200, json.loads(self.fixed_bodies[name])
        if name is None or name not in self.datasets:
            return 404, {"error": f"no dataset at {path!r}"}
        try:
            if self.sort_on_first_field_only and "sort" in query:
                query = {**query, "sort": query["sort"].split(",")[0]}
            if self.ignore_unknown_fields:
                query = _known_fields_only(query, self.datasets[name])
            return 200, self._select(self.datasets[name], query, self.shuffled_ties)
        except _BadRequest as exc:
            return 400, {"error": str(exc)}

    @staticmethod
    def _select(
        dataset: ReplayDataset, query: Mapping[str, str], tie_order: random.Random | None = None
    ) -> Envelope:
        known = {"start", "end", "timezone", "offset", "limit", "sort", "columns", "filter"}
        unknown = sorted(set(query) - known)
        if unknown:
            raise _BadRequest(f"unsupported parameters {unknown}")
        if query.get("timezone", "").lower() != "utc":
            raise _BadRequest("this replay only serves timezone=utc")

        def when(key: str) -> datetime | None:
            if key not in query:
                return None
            try:
                return datetime.strptime(query[key], API_TIME_FORMAT)
            except ValueError:
                raise _BadRequest(f"{key}={query[key]!r} is not YYYY-MM-DDTHH:MM") from None

        def count(key: str, default: int) -> int:
            raw = query.get(key, str(default))
            if not raw.isdigit():
                raise _BadRequest(f"{key}={raw!r} is not a non-negative integer")
            return int(raw)

        start, end = when("start"), when("end")
        offset, limit = count("offset", 0), count("limit", DEFAULT_LIMIT)
        matching = _filter(query.get("filter"))
        rows = [
            (t, r)
            for t, r in zip(dataset.times, dataset.records, strict=True)
            if (start is None or t >= start)
            and (end is None or t < end)
            and all(str(r.get(k)) in values for k, values in matching.items())
        ]
        sort = query.get("sort")
        if sort is not None:
            rows = _sorted(rows, sort, dataset, tie_order)
        records = [r for _, r in rows]
        if "columns" in query:
            wanted = query["columns"].split(",")
            fields = set(dataset.records[0]) if dataset.records else set(wanted)
            if missing := [c for c in wanted if c not in fields]:
                raise _BadRequest(f"unknown columns {missing}")
            records = [{k: v for k, v in r.items() if k in wanted} for r in records]
        page = records[offset:] if limit == 0 else records[offset : offset + limit]
        envelope: Envelope = {"total": len(records), "limit": limit}
        if matching:
            envelope["filters"] = query["filter"]
        if sort is not None:
            envelope["sort"] = sort
        envelope["dataset"] = dataset.name
        envelope["records"] = page
        return envelope
