"""HTTP sessions that retry with exponential backoff, honouring `Retry-After`."""

from __future__ import annotations

from collections.abc import Iterable

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


def retrying_session(
    max_retries: int,
    backoff_seconds: float,
    *,
    methods: Iterable[str],
    statuses: Iterable[int],
    raise_on_status: bool,
    backoff_max: float = 60.0,
) -> requests.Session:
    """Connection errors, read errors and the given statuses are retried `max_retries` times.

    With `raise_on_status`, a status still failing after the last retry raises; without it, the
    last response is returned for the caller to judge."""
    retry = Retry(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        other=0,
        backoff_factor=backoff_seconds,
        backoff_max=backoff_max,
        status_forcelist=tuple(statuses),
        allowed_methods=frozenset(methods),
        respect_retry_after_header=True,
        raise_on_status=raise_on_status,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
