"""Energi Data Service consumption datasets, read through the paged API client (eds_api.py).

Times are sent with `timezone=utc`, so `start` (inclusive) and `end` (exclusive) select UTC
hours. Pages are sorted on the hour and every key field (a total order, so pages cannot
overlap).

The dataset's profile names its fields. A dataset may publish hourly (`HourUTC`) or 15-minute
(`TimeUTC`) records, and may switch in place: a request the server refuses for one time form
(HTTP 400) or answers with records that lack its time field, is asked again in the other
form, and 15-minute records are summed to hours.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from energy_assets.domain.datasets import (
    LIVE,
    PROFILES,
    DatasetProfile,
    TimeForm,
    custom_profile,
    profile_of,
)
from energy_assets.domain.schema import KEY_COLUMNS, TIME, VALUE, DataFormatError, empty_frame
from energy_assets.domain.sources.base import ConsumptionSource, Selection, SourceError
from energy_assets.domain.sources.eds_api import (
    ApiResponseError,
    EnergiDataServiceClient,
    FormRejected,
    api_time,
)
from energy_assets.domain.sources.records import field_map, to_hourly_canonical

__all__ = ["ApiResponseError", "EnergiDataServiceSource", "FormRejected"]


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
        self.client = EnergiDataServiceClient(
            base_url, page_size, timeout_seconds, max_retries, backoff_seconds
        )
        self.selection = selection or Selection()
        self._form = self._profile.forms[0]  # the form that last worked

    @property
    def profile(self) -> DatasetProfile:
        return self._profile

    @property
    def dataset(self) -> str:
        return self._profile.name

    @property
    def url(self) -> str:
        return self.client.url(self.dataset)

    @property
    def shown_url(self) -> str:
        """The URL as errors and logs show it: a login in it is redacted."""
        return self.client.shown_url(self.dataset)

    def describe(self) -> str:
        return f"Energi Data Service {self.shown_url}"

    def _fetch(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        if problem := self._profile.retirement_problem(start, end):
            raise SourceError(f"{self.shown_url}: {problem}")
        forms = [self._form, *(f for f in self._profile.forms if f != self._form)]
        first_error: SourceError | None = None
        while forms:
            form = forms.pop(0)
            try:
                records = self.client.records(self.dataset, self._params(start, end, form))
            except FormRejected as exc:
                # The dataset may have moved to another time form in place: try the next.
                first_error = first_error or exc
                continue
            if forms and records and isinstance(records[0], dict) and form.utc not in records[0]:
                # Answered, but not in the form asked for (a server may ignore fields it lacks):
                # asked again in the next form, first the one the records carry, so the pages
                # are sorted on a field that exists.
                first_error = first_error or ApiResponseError(
                    f"{self.shown_url}: record 0 lacks [{form.utc!r}]: "
                    f"{json.dumps(records[0])[:200]}"
                )
                forms.sort(key=lambda f: f.utc not in records[0])
                continue
            self._form = form
            return self._to_frame(records, form, start, end)
        assert first_error is not None
        raise first_error

    def newest_hour(self) -> pd.Timestamp | None:
        """The newest published hour of the selected series: one record, sorted by time,
        descending; in whichever time form the dataset answers."""
        forms = [self._form, *(f for f in self._profile.forms if f != self._form)]
        first_error: SourceError | None = None
        for form in forms:
            params: dict[str, Any] = {"timezone": "utc", "sort": f"{form.utc} DESC"}
            if server_filter := self._server_filter():
                params["filter"] = json.dumps(server_filter, separators=(",", ":"))
            try:
                record = self.client.first_record(self.dataset, params)
            except FormRejected as exc:
                first_error = first_error or exc
                continue
            if record is None:
                return None
            if form.utc not in record:
                first_error = first_error or ApiResponseError(
                    f"{self.shown_url}: the newest record lacks {form.utc!r}"
                )
                continue
            self._form = form
            try:
                at = pd.Timestamp(record[form.utc])
            except (TypeError, ValueError):
                raise ApiResponseError(
                    f"{self.shown_url}: the newest record's {form.utc} is not a time: "
                    f"{record[form.utc]!r}"
                ) from None
            # A quarter-hour record names its quarter: the hour it belongs to.
            return (at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")).floor("h")
        assert first_error is not None
        raise first_error

    def _params(self, start: pd.Timestamp, end: pd.Timestamp, form: TimeForm) -> dict[str, Any]:
        params: dict[str, Any] = {
            "start": api_time(start),
            "end": api_time(end),
            "timezone": "utc",
            "sort": self._sort(form),
            "columns": ",".join(field_map(self._profile, form)),
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
