"""Plain-language names of the forecasting model's features, for reports and tooltips.

The feature columns are defined in `energy_assets.domain.forecasting.features`: values of a
series relative to its scale (`r_`), the same hour a year before (`ly_`), totals of the series'
price area (`a_`), the calendar and the series' identity. `label` names any of them; a name not
in `FEATURE_LABELS` is described from its pattern (a lag, a rolling statistic) or returned as is.
"""

from __future__ import annotations

import re

from energy_assets.domain.schema import AREA, BRANCH, CONSUMER_TYPE, MUNICIPALITY, SERIES

_RELATIVE = "relative to the series' level"

FEATURE_LABELS: dict[str, str] = {
    # Identity of the series.
    SERIES: "Which series (area and key)",
    AREA: "Price area (DK1/DK2)",
    CONSUMER_TYPE: "Consumer type (DE35 code)",
    MUNICIPALITY: "Municipality",
    BRANCH: "Branch",
    # Lags of the target hour.
    "r_lag24": f"Consumption at the same hour 1 day before, {_RELATIVE}",
    "r_lag48": f"Consumption at the same hour 2 days before, {_RELATIVE}",
    "r_lag72": f"Consumption at the same hour 3 days before, {_RELATIVE}",
    "r_lag168": f"Consumption at the same hour 1 week before, {_RELATIVE}",
    "r_lag336": f"Consumption at the same hour 2 weeks before, {_RELATIVE}",
    "r_same_hour_mean7": f"Mean of the same hour over the last 7 days, {_RELATIVE}",
    "r_same_hour_min7": f"Lowest value of the same hour over the last 7 days, {_RELATIVE}",
    "r_same_hour_max7": f"Highest value of the same hour over the last 7 days, {_RELATIVE}",
    # Statistics of the hours before the forecast is made.
    "r_mean_24h": f"Mean consumption of the last 24 hours, {_RELATIVE}",
    "r_mean_48h": f"Mean consumption of the last 48 hours, {_RELATIVE}",
    "r_max_24h": f"Peak consumption of the last 24 hours, {_RELATIVE}",
    "r_min_24h": f"Lowest consumption of the last 24 hours, {_RELATIVE}",
    "r_last_1h": f"Consumption in the last hour before the forecast, {_RELATIVE}",
    "r_last_6h": f"Mean consumption of the last 6 hours, {_RELATIVE}",
    "r_lag24_of_24h": "Same hour 1 day before, relative to that day's mean (daily shape)",
    "r_lag168_of_24h": "Same hour 1 week before, relative to that day's mean (weekly shape)",
    # A year before.
    "ly_same_hour": "Same hour 52 weeks before, relative to that week's mean (season shape)",
    "ly_level": "Level now against the level 52 weeks before (year-on-year change)",
    # The price area's total.
    "a_lag24": "Area total at the same hour 1 day before, relative to the area's level",
    "a_lag168": "Area total at the same hour 1 week before, relative to the area's level",
    "a_mean_24h": "Area total's mean of the last 24 hours, relative to the area's level",
    "a_last_6h": "Area total's mean of the last 6 hours, relative to the area's level",
    "log_scale": "Size of the series (log10 of its mean over the last week)",
    # The forecast and the calendar.
    "horizon": "Hours ahead of the forecast time",
    "hour_local": "Hour of day (Danish time)",
    "dow_local": "Day of week (Danish time)",
    "is_holiday": "Public holiday",
    "is_rest_day": "Weekend or public holiday",
    "rest_lag24": "Day before was a weekend or holiday",
    "rest_lag168": "Same day a week before was a weekend or holiday",
    "christmas": "Christmas lull (between Christmas and New Year)",
    "week_of_year": "Week of the year",
    "day_of_year": "Day of the year",
    "year_sin": "Time of year (seasonal cycle, sine)",
    "year_cos": "Time of year (seasonal cycle, cosine)",
    # Columns of the feature frame that are not features but show up in frames.
    "scale": "Series level (mean over the last week, kWh)",
    "target_ratio": "Consumption relative to the series' level (the model's target)",
}

_DURATIONS = ((168, "week"), (24, "day"))
_LAG = re.compile(r"^(?P<prefix>[a-z]+_)?lag_?(?P<hours>\d+)(?P<rest>_.*)?$")
_ROLLING = re.compile(
    r"^(?P<prefix>[a-z]+_)?(?P<stat>mean|min|max|sum|std|median|last)_?(?P<hours>\d+)(?P<unit>h|d)?$"
)
_STATS = {
    "mean": "Mean",
    "min": "Lowest value",
    "max": "Highest value",
    "sum": "Total",
    "std": "Variability (standard deviation)",
    "median": "Median",
    "last": "Mean",
}


def _duration(hours: int) -> str:
    """'1 week', '3 days', '6 hours': the largest whole unit."""
    for size, unit in _DURATIONS:
        if hours >= size and hours % size == 0:
            n = hours // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{hours} hour{'s' if hours != 1 else ''}"


def _whose(prefix: str | None) -> str:
    if prefix == "a_":
        return "Area total"
    if prefix in (None, "r_"):
        return "Consumption"
    return prefix.rstrip("_").capitalize()


def _suffix(prefix: str | None) -> str:
    if prefix == "r_":
        return f", {_RELATIVE}"
    if prefix == "a_":
        return ", relative to the area's level"
    return ""


def label(feature: str) -> str:
    """A plain-language name of a model feature; an unknown name is described from its pattern
    (`x_lag48` is "... 2 days before", `x_mean_6h` "Mean ... of the last 6 hours") or returned
    unchanged."""
    known = FEATURE_LABELS.get(feature)
    if known is not None:
        return known
    lag = _LAG.match(feature)
    if lag:
        hours = int(lag["hours"])
        return f"{_whose(lag['prefix'])} at the same hour {_duration(hours)} before" + _suffix(
            lag["prefix"]
        )
    rolling = _ROLLING.match(feature)
    if rolling:
        n = int(rolling["hours"])
        span = _duration(n * 24) if rolling["unit"] == "d" else f"{n} hour{'s' if n != 1 else ''}"
        what = _whose(rolling["prefix"]).lower()
        stat = _STATS[rolling["stat"]]
        return f"{stat} of {what} over the last {span}" + _suffix(rolling["prefix"])
    return feature
