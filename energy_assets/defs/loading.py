"""What the domains' definitions are built from during one load of the code location: the
settings and the partitions built once from them. `energy_assets.definitions` sets them around
its load of the `defs` folder; each domain's `@dg.definitions` function reads them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from energy_assets.defs.partitions import Partitions
from energy_assets.settings import Settings

_CURRENT: ContextVar[tuple[Settings, Partitions] | None] = ContextVar(
    "energy_location_load", default=None
)


@contextmanager
def loading(settings: Settings) -> Iterator[Partitions]:
    partitions = Partitions.from_settings(settings)
    token = _CURRENT.set((settings, partitions))
    try:
        yield partitions
    finally:
        _CURRENT.reset(token)


def current() -> tuple[Settings, Partitions]:
    found = _CURRENT.get()
    if found is None:
        raise RuntimeError(
            "energy_assets.defs is loaded by energy_assets.definitions (the dg project's code "
            "location), which supplies its settings; load that module instead"
        )
    return found
