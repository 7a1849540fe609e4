"""Energi Data Service HTTP API: `GET <base>/dataset/<name>?start=&end=&offset=&limit=`.

Times are sent with `timezone=utc`, so `start` (inclusive) and `end` (exclusive) select UTC
hours. Pages are requested until one comes back shorter than the limit; `total` is not trusted
(real bodies have disagreed with their own records). 429, 5xx, timeouts and connection errors are
retried with exponential backoff, honouring `Retry-After`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import pandas as pd
import requests

from energy_assets.domain.http import retrying_session
from energy_assets.domain.schema import (
    AREA,
    CONSUMER_TYPE,
    TIME,
    VALUE,
    DataFormatError,
    empty_frame,
    to_canonical,
)
from energy_assets.domain.sources.base import ConsumptionSource, SourceError

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


def _session(max_retries: int, backoff_seconds: float) -> requests.Session:
    session = retrying_session(
        max_retries,
        backoff_seconds,
        methods={"GET"},
        statuses=RETRY_STATUSES,
        raise_on_status=True,
    )
    session.headers["Accept"] = "application/json"
    return session


class EnergiDataServiceSource(ConsumptionSource):
    name = "energidataservice"

    def __init__(
        self,
        base_url: str,
        dataset: str = "ConsumptionDE35Hour",
        columns: Mapping[str, str] | None = None,
        page_size: int = 10_000,
        timeout_seconds: float = 30.0,
        max_retries: int = 5,
        backoff_seconds: float = 1.0,
    ) -> None:
        from energy_assets.settings import DEFAULT_API_COLUMNS

        self.base_url = base_url.rstrip("/")
        self.dataset = dataset
        self.columns = dict(columns or DEFAULT_API_COLUMNS)
        self.page_size = page_size
        self.timeout = timeout_seconds
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.session = _session(max_retries, backoff_seconds)
        self._by_target = {target: field for field, target in self.columns.items()}

    @property
    def url(self) -> str:
        return f"{self.base_url}/dataset/{self.dataset}"

    def describe(self) -> str:
        return f"Energi Data Service {self.url}"

    def fetch(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        params: dict[str, Any] = {
            "start": start.tz_convert("UTC").strftime(API_TIME_FORMAT),
            "end": end.tz_convert("UTC").strftime(API_TIME_FORMAT),
            "timezone": "utc",
            "sort": f"{self._by_target[TIME]} ASC",
            "columns": ",".join(self.columns),
            "limit": self.page_size,
        }
        records: list[dict[str, Any]] = []
        previous: list[dict[str, Any]] | None = None
        for _ in range(MAX_PAGES):
            offset = len(records)
            page = self._get_page({**params, "offset": offset})
            if page and page == previous:
                raise ApiResponseError(
                    f"{self.url}: the page at offset {offset} repeats the previous one; "
                    "the server ignores 'offset'"
                )
            records.extend(page)
            log.info("%s: %d records at offset %d", self.url, len(page), offset)
            if len(page) < self.page_size:
                return self._to_frame(records, params)
            previous = page
        raise ApiResponseError(f"{self.url}: more than {MAX_PAGES} pages; refusing to go on")

    def _get_page(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        where = f"{self.url} (offset {params['offset']})"
        # urllib3 retries failures up to the response headers; a body cut off midway surfaces
        # here, so those are retried with the same backoff.
        for attempt in range(self.max_retries + 1):
            try:
                response = self.session.get(self.url, params=params, timeout=self.timeout)
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
            raise SourceError(f"{where}: HTTP {response.status_code}: {response.text[:300]!r}")
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

    def _to_frame(self, records: list[dict[str, Any]], params: dict[str, Any]) -> pd.DataFrame:
        where = f"{self.url} start={params['start']} end={params['end']}"
        if not records:
            return empty_frame()
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise ApiResponseError(f"{where}: record {index} is not an object: {record!r}")
            missing = [f for f in self.columns if f not in record]
            if missing:
                raise ApiResponseError(
                    f"{where}: record {index} lacks {missing}: {json.dumps(record)[:200]}"
                )
            self._check_types(record, index, where)
        frame = pd.DataFrame.from_records(records, columns=list(self.columns))
        frame = frame.rename(columns=self.columns)
        try:
            return to_canonical(frame, where=where)
        except DataFormatError as exc:
            raise ApiResponseError(str(exc)) from None

    def _check_types(self, record: dict[str, Any], index: int, where: str) -> None:
        expect = {
            TIME: (str,),
            AREA: (str,),
            CONSUMER_TYPE: (str, int),
            VALUE: (int, float),
        }
        for target, types in expect.items():
            field = self._by_target[target]
            value = record[field]
            # JSON null is allowed for the value (the data checks flag it); bool is no number.
            if target == VALUE and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, types):
                names = " or ".join(t.__name__ for t in types)
                raise ApiResponseError(
                    f"{where}: record {index}: {field} should be {names}, "
                    f"got {type(value).__name__} {value!r}"
                )
