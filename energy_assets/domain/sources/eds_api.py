"""The Energi Data Service HTTP API: `GET <base>/dataset/<name>?start=&end=&offset=&limit=`,
paged and retried, for every dataset the pipeline reads (consumption and prices).

Pages are requested until one comes back shorter than the limit; `total` is not trusted (real
bodies have disagreed with their own records). 429, 5xx, timeouts and connection errors are
retried with exponential backoff, honouring `Retry-After`; a body broken off midway is asked for
again with the same backoff.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pandas as pd
import requests

from energy_assets.domain.http import retrying_session
from energy_assets.domain.sources.base import SourceError
from energy_assets.settings import redact_url

log = logging.getLogger(__name__)

RETRY_STATUSES = (429, 500, 502, 503, 504)
BODY_ERRORS = (
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
MAX_PAGES = 10_000
API_TIME_FORMAT = "%Y-%m-%dT%H:%M"


class ApiResponseError(SourceError):
    """The API answered, but not with a body this client understands."""


class FormRejected(SourceError):
    """The API refused the request (HTTP 400), e.g. for a time column the dataset lacks."""


def api_time(at: pd.Timestamp) -> str:
    return at.tz_convert("UTC").strftime(API_TIME_FORMAT)


class EnergiDataServiceClient:
    def __init__(
        self,
        base_url: str,
        page_size: int = 10_000,
        timeout_seconds: float = 30.0,
        max_retries: int = 5,
        backoff_seconds: float = 1.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.timeout = timeout_seconds
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.session = retrying_session(
            max_retries,
            backoff_seconds,
            methods={"GET"},
            statuses=RETRY_STATUSES,
            raise_on_status=True,
        )
        self.session.headers["Accept"] = "application/json"

    def url(self, dataset: str) -> str:
        return f"{self.base_url}/dataset/{dataset}"

    def shown_url(self, dataset: str) -> str:
        """The URL as errors and logs show it: a login in it is redacted."""
        return redact_url(self.url(dataset))

    def records(self, dataset: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every record the query selects, page after page; `params` must sort on a total
        order, or pages could overlap."""
        params = {**params, "limit": self.page_size}
        records: list[dict[str, Any]] = []
        previous: list[dict[str, Any]] | None = None
        shown = self.shown_url(dataset)
        for _ in range(MAX_PAGES):
            offset = len(records)
            page = self._get_page(dataset, {**params, "offset": offset})
            if page and page == previous:
                raise ApiResponseError(
                    f"{shown}: the page at offset {offset} repeats the previous one; "
                    "the server ignores 'offset'"
                )
            records.extend(page)
            log.info("%s: %d records at offset %d", shown, len(page), offset)
            if len(page) < self.page_size:
                return records
            previous = page
        raise ApiResponseError(f"{shown}: more than {MAX_PAGES} pages; refusing to go on")

    def first_record(self, dataset: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """The first record the query selects (ask for it sorted), None where it selects none."""
        page = self._get_page(dataset, {**params, "limit": 1, "offset": 0})
        if page and not isinstance(page[0], dict):
            raise ApiResponseError(
                f"{self.shown_url(dataset)}: record 0 is not an object: {page[0]!r}"
            )
        return page[0] if page else None

    def _get_page(self, dataset: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        url = self.url(dataset)
        where = f"{self.shown_url(dataset)} (offset {params['offset']})"
        # urllib3 retries failures up to the response headers; a body cut off midway surfaces
        # here, so those are retried with the same backoff.
        for attempt in range(self.max_retries + 1):
            try:
                response = self.session.get(url, params=params, timeout=self.timeout)
                break
            except BODY_ERRORS as exc:
                if attempt == self.max_retries:
                    raise SourceError(
                        f"{where}: response body broken off {attempt + 1} times: {exc}"
                    ) from exc
                time.sleep(min(self.backoff_seconds * 2**attempt, 60.0))
            except requests.exceptions.RetryError as exc:
                raise SourceError(
                    f"{where}: gave up after {self.max_retries} retries: {exc.args[0]}"
                ) from exc
            except requests.exceptions.RequestException as exc:
                raise SourceError(
                    f"{where}: request failed (retries: {self.max_retries}): {exc}"
                ) from exc
        if response.status_code != 200:
            error = FormRejected if response.status_code == 400 else SourceError
            raise error(f"{where}: HTTP {response.status_code}: {response.text[:300]!r}")
        try:
            body = response.json()
        except ValueError:
            raise ApiResponseError(
                f"{where}: body is not JSON "
                f"(content-type {response.headers.get('content-type')!r}): {response.text[:200]!r}"
            ) from None
        if not isinstance(body, dict):
            raise ApiResponseError(f"{where}: body is a JSON {type(body).__name__}, not an object")
        if "records" not in body:
            raise ApiResponseError(f"{where}: body has no 'records' (keys: {sorted(body)})")
        records = body["records"]
        if not isinstance(records, list):
            raise ApiResponseError(f"{where}: 'records' is a {type(records).__name__}, not a list")
        return records
