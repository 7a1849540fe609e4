"""Energi Data Service HTTP API: `GET <base>/dataset/<name>?start=&end=&offset=&limit=`.

Times are sent with `timezone=utc`, so `start` (inclusive) and `end` (exclusive) select UTC
hours. Pages are requested, sorted on the hour and every key field (a total order, so pages
cannot overlap), until one comes back shorter than the limit; `total` is not trusted (real
bodies have disagreed with their own records). 429, 5xx, timeouts and connection errors are
retried with exponential backoff, honouring `Retry-After`.

The dataset's profile names its fields. A dataset may publish hourly (`HourUTC`) or 15-minute
(`TimeUTC`) records, and may switch in place: a request the server refuses for one time form is
asked again in the next, and 15-minute records are summed to hours.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import pandas as pd
import requests

from energy_assets.domain.datasets import (
    LIVE,
    PROFILES,
    DatasetProfile,
    TimeForm,
    custom_profile,
    profile_of,
)
from energy_assets.domain.http import retrying_session
from energy_assets.domain.schema import KEY_COLUMNS, TIME, VALUE, DataFormatError, empty_frame
from energy_assets.domain.sources.base import ConsumptionSource, Selection, SourceError
from energy_assets.domain.sources.records import field_map, to_hourly_canonical
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
        dataset: str | DatasetProfile = LIVE,
        page_size: int = 10_000,
        timeout_seconds: float = 30.0,
        max_retries: int = 5,
        backoff_seconds: float = 1.0,
        selection: Selection | None = None,
        columns: Mapping[str, str] | None = None,
    ) -> None:
        """`dataset` is a profile or the name of one; `columns` (source field -> canonical
        column) describes a dataset published under another name or with renamed fields."""
        base = dataset if isinstance(dataset, DatasetProfile) else None
        name = base.name if base else str(dataset)
        if columns is not None:
            base = custom_profile(name, columns, base or PROFILES.get(name, LIVE))
        try:
            self._profile = base or profile_of(name)
        except ValueError as exc:
            raise SourceError(f"{exc}; set ENERGY_API_COLUMNS to map its fields") from None
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.timeout = timeout_seconds
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.selection = selection or Selection()
        self.session = _session(max_retries, backoff_seconds)
        self._form = self._profile.forms[0]  # the form that last worked

    @property
    def profile(self) -> DatasetProfile:
        return self._profile

    @property
    def dataset(self) -> str:
        return self._profile.name

    @property
    def url(self) -> str:
        return f"{self.base_url}/dataset/{self.dataset}"

    @property
    def shown_url(self) -> str:
        """The URL as errors and logs show it: a login in it is redacted."""
        return redact_url(self.url)

    def describe(self) -> str:
        return f"Energi Data Service {self.shown_url}"

    def _fetch(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        if problem := self._profile.retirement_problem(start, end):
            raise SourceError(f"{self.shown_url}: {problem}")
        forms = [self._form, *(f for f in self._profile.forms if f != self._form)]
        first_error: SourceError | None = None
        for form in forms:
            try:
                records = self._records(start, end, form)
            except FormRejected as exc:
                # The dataset may have moved to another time form in place: try the next.
                first_error = first_error or exc
                continue
            self._form = form
            return self._to_frame(records, form, start, end)
        assert first_error is not None
        raise first_error

    def _params(self, start: pd.Timestamp, end: pd.Timestamp, form: TimeForm) -> dict[str, Any]:
        params: dict[str, Any] = {
            "start": start.tz_convert("UTC").strftime(API_TIME_FORMAT),
            "end": end.tz_convert("UTC").strftime(API_TIME_FORMAT),
            "timezone": "utc",
            "sort": self._sort(form),
            "columns": ",".join(field_map(self._profile, form)),
            "limit": self.page_size,
        }
        if server_filter := self._server_filter():
            params["filter"] = json.dumps(server_filter, separators=(",", ":"))
        return params

    def _sort(self, form: TimeForm) -> str:
        """A total order: the hour and every key field. Many rows share each hour, and a server
        free to order ties differently per request would repeat or skip rows across pages."""
        return ",".join(f"{field} ASC" for field in (form.utc, *self._profile.keys))

    def _server_filter(self) -> dict[str, list[str]]:
        """The selection's conditions on fields the dataset has (a derived area is filtered
        here, after the fetch)."""
        out = {}
        for key, values in self.selection.typed_only().items():
            source_field = self._profile.field_of(key)
            if source_field is not None:
                out[source_field] = [str(v) for v in values]
        return out

    def _records(
        self, start: pd.Timestamp, end: pd.Timestamp, form: TimeForm
    ) -> list[dict[str, Any]]:
        params = self._params(start, end, form)
        records: list[dict[str, Any]] = []
        previous: list[dict[str, Any]] | None = None
        for _ in range(MAX_PAGES):
            offset = len(records)
            page = self._get_page({**params, "offset": offset})
            if page and page == previous:
                raise ApiResponseError(
                    f"{self.shown_url}: the page at offset {offset} repeats the previous one; "
                    "the server ignores 'offset'"
                )
            records.extend(page)
            log.info("%s: %d records at offset %d", self.shown_url, len(page), offset)
            if len(page) < self.page_size:
                return records
            previous = page
        raise ApiResponseError(f"{self.shown_url}: more than {MAX_PAGES} pages; refusing to go on")

    def _check_unique(self, records: list[dict[str, Any]], form: TimeForm) -> None:
        """A row twice means the pages overlapped (and so another row was skipped): the server
        did not keep the requested order between requests."""
        fields = (form.utc, *self._profile.keys)
        seen: set[tuple[Any, ...]] = set()
        for record in records:
            identity = tuple(record[f] for f in fields)
            if identity in seen:
                raise ApiResponseError(
                    f"{self.shown_url}: {dict(zip(fields, identity, strict=True))} came twice "
                    f"across pages; the server does not keep the order {self._sort(form)!r} stable"
                )
            seen.add(identity)

    def _get_page(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        where = f"{self.shown_url} (offset {params['offset']})"
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

    def _to_frame(
        self,
        records: list[dict[str, Any]],
        form: TimeForm,
        start: pd.Timestamp,
        end: pd.Timestamp,
    ) -> pd.DataFrame:
        where = f"{self.shown_url} start={start} end={end}"
        fields = field_map(self._profile, form)
        if not records:
            return empty_frame(self._profile.canonical_keys)
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise ApiResponseError(f"{where}: record {index} is not an object: {record!r}")
            missing = [f for f in fields if f not in record]
            if missing:
                raise ApiResponseError(
                    f"{where}: record {index} lacks {missing}: {json.dumps(record)[:200]}"
                )
            self._check_types(record, fields, index, where)
        self._check_unique(records, form)
        frame = pd.DataFrame.from_records(records, columns=list(fields))
        try:
            return to_hourly_canonical(frame, self._profile, form, where=where)
        except DataFormatError as exc:
            raise ApiResponseError(str(exc)) from None

    @staticmethod
    def _check_types(
        record: dict[str, Any], fields: Mapping[str, str], index: int, where: str
    ) -> None:
        for source_field, target in fields.items():
            if target == TIME:
                types: tuple[type, ...] = (str,)
            elif target == VALUE:
                types = (int, float)
            elif KEY_COLUMNS[target].dtype == "int64":
                types = (str, int)  # codes come as "111" or 851
            else:
                types = (str,)
            value = record[source_field]
            # JSON null is allowed for the value (the data checks flag it); bool is no number.
            if target == VALUE and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, types):
                names = " or ".join(t.__name__ for t in types)
                raise ApiResponseError(
                    f"{where}: record {index}: {source_field} should be {names}, "
                    f"got {type(value).__name__} {value!r}"
                )
