"""FileSource / read_consumption_file on the real `;` CSV(.gz) and parquet, and on broken files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from energy_assets.domain.schema import (
    AREA,
    CONSUMER_TYPE,
    TIME,
    VALUE,
    DataFormatError,
    canonical_columns,
    canonical_dtypes,
)
from energy_assets.domain.sources.base import SourceError
from energy_assets.domain.sources.files import FileSource, read_consumption_file

COLUMNS = canonical_columns([AREA, CONSUMER_TYPE])  # the DE35 layout
DTYPES = canonical_dtypes([AREA, CONSUMER_TYPE])
HEADER = "HourUTC;HourDK;PriceArea;ConsumerType_DE35;TotalCon"
FIRST_HOUR = pd.Timestamp("2022-12-21 16:00", tz="UTC")
LAST_HOUR = pd.Timestamp("2023-01-24 22:00", tz="UTC")
DAY = pd.Timestamp("2023-01-23", tz="UTC")
NEXT_DAY = DAY + pd.Timedelta(days=1)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def assert_canonical(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == COLUMNS
    assert {c: str(t) for c, t in frame.dtypes.items()} == DTYPES


def write_csv(path: Path, *rows: str, header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def from_csv(de35_csv: Path) -> pd.DataFrame:
    return read_consumption_file(de35_csv)


@pytest.fixture(scope="module")
def real_lines(de35_csv: Path) -> list[str]:
    """The real CSV's lines, header first."""
    with gzip.open(de35_csv, "rt", encoding="utf-8") as fh:
        return fh.read().splitlines()


# -- the real files -----------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_csv_gz_and_parquet_give_identical_canonical_frames(
    from_csv: pd.DataFrame, de35_parquet: Path
) -> None:
    from_parquet = read_consumption_file(de35_parquet)

    for frame in (from_csv, from_parquet):
        assert_canonical(frame)
        assert len(frame) == 62_548
        assert len(frame.groupby([AREA, CONSUMER_TYPE])) == 76
        assert frame[TIME].min() == FIRST_HOUR
        assert frame[TIME].max() == LAST_HOUR
        assert frame[TIME].nunique() == 823
        assert not frame.isna().any().any()
        assert frame[TIME].is_monotonic_increasing
    pd.testing.assert_frame_equal(from_csv, from_parquet)


@pytest.mark.realdata
def test_real_csv_values_match_the_raw_api_records(from_csv: pd.DataFrame, de35_dir: Path) -> None:
    with gzip.open(de35_dir / "api_records_all.json.gz", "rt", encoding="utf-8") as fh:
        records = json.load(fh)
    by_key = {
        (r["HourUTC"], r["PriceArea"], int(r["ConsumerType_DE35"])): r["TotalCon"] for r in records
    }

    keys = zip(
        from_csv[TIME].dt.strftime("%Y-%m-%dT%H:%M:%S"),
        from_csv[AREA],
        from_csv[CONSUMER_TYPE],
        strict=True,
    )
    assert [by_key[k] for k in keys] == from_csv[VALUE].tolist()


@pytest.mark.realdata
@pytest.mark.parametrize("which", ["csv", "parquet"])
def test_fetch_windows_are_half_open(
    which: str, de35_csv: Path, de35_parquet: Path, from_csv: pd.DataFrame
) -> None:
    source = FileSource(de35_csv if which == "csv" else de35_parquet)
    assert str(source.path) in source.describe()

    day = source.fetch(DAY, NEXT_DAY)
    assert_canonical(day)
    assert len(day) == 24 * 76
    assert (day[TIME].min(), day[TIME].max()) == (DAY, utc("2023-01-23 23:00"))
    assert day.index.equals(pd.RangeIndex(len(day)))
    expected = from_csv[(from_csv[TIME] >= DAY) & (from_csv[TIME] < NEXT_DAY)]
    pd.testing.assert_frame_equal(day, expected.reset_index(drop=True))

    one_hour = source.fetch(utc("2023-01-23 05:00"), utc("2023-01-23 06:00"))
    assert len(one_hour) == 76
    assert set(one_hour[TIME]) == {utc("2023-01-23 05:00")}

    assert source.fetch(DAY, DAY).empty
    assert len(source.fetch(LAST_HOUR, LAST_HOUR + pd.Timedelta(hours=1))) == 76
    assert source.fetch(LAST_HOUR + pd.Timedelta(hours=1), utc("2023-02-01")).empty
    assert len(source.fetch(utc("2022-12-21"), utc("2022-12-22"))) == 8 * 76

    copenhagen = source.fetch(
        pd.Timestamp("2023-01-23 01:00", tz="Europe/Copenhagen"),
        pd.Timestamp("2023-01-24 01:00", tz="Europe/Copenhagen"),
    )
    pd.testing.assert_frame_equal(copenhagen, day)


@pytest.mark.realdata
def test_plain_csv_reads_like_the_gzipped_one(
    tmp_path: Path, real_lines: list[str], from_csv: pd.DataFrame
) -> None:
    plain = tmp_path / "consumption.csv"
    plain.write_text("\n".join(real_lines) + "\n", encoding="utf-8")
    assert not plain.read_bytes().startswith(b"\x1f\x8b")

    pd.testing.assert_frame_equal(read_consumption_file(plain), from_csv)


@pytest.mark.realdata
def test_iso_t_timestamps_read_like_the_download_format(
    tmp_path: Path, real_lines: list[str], from_csv: pd.DataFrame
) -> None:
    header, *rows = real_lines
    day_rows = [r for r in rows if r.startswith("2023-01-23")]
    iso_rows = []
    for row in day_rows:
        hour_utc, hour_dk, rest = row.split(";", 2)
        iso_rows.append(f"{hour_utc.replace(' ', 'T')}:00;{hour_dk.replace(' ', 'T')}:00;{rest}")
    assert iso_rows[0].startswith("2023-01-23T00:00:00;2023-01-23T01:00:00;DK1;111;")
    path = write_csv(tmp_path / "iso.csv", *iso_rows, header=header)

    frame = read_consumption_file(path)

    expected = from_csv[(from_csv[TIME] >= DAY) & (from_csv[TIME] < NEXT_DAY)]
    pd.testing.assert_frame_equal(frame, expected.reset_index(drop=True))


def test_timestamps_with_offsets_are_converted_to_utc(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "offsets.csv",
        "2023-01-23T02:00:00+01:00;x;DK1;111;3",
        "2023-01-23T00:00:00Z;x;DK1;111;1",
        "2023-01-23 02:00;x;DK1;111;2",
    )

    frame = read_consumption_file(path)

    assert_canonical(frame)
    hours = ["2023-01-23 00:00", "2023-01-23 01:00", "2023-01-23 02:00"]
    assert frame[TIME].tolist() == [utc(h) for h in hours]
    assert frame[VALUE].tolist() == [1.0, 3.0, 2.0]


def test_extra_columns_are_ignored_and_header_only_is_empty(tmp_path: Path) -> None:
    extra = write_csv(
        tmp_path / "extra.csv",
        "DK2;2023-01-23 00:00;x;446;12.5;note",
        header="PriceArea;HourUTC;HourDK;ConsumerType_DE35;TotalCon;Comment",
    )
    frame = read_consumption_file(extra)
    assert_canonical(frame)
    assert frame.iloc[0].tolist() == [DAY, "DK2", 446, 12.5]

    empty = read_consumption_file(write_csv(tmp_path / "header_only.csv"))
    assert empty.empty
    assert_canonical(empty)


# -- broken files -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["nope.csv", "nope.csv.gz", "nope.parquet"])
def test_missing_file_is_a_source_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / name

    with pytest.raises(SourceError, match="does not exist") as info:
        read_consumption_file(path)
    assert str(path) in str(info.value)

    with pytest.raises(SourceError, match="does not exist"):
        FileSource(path).fetch(DAY, NEXT_DAY)


def test_a_directory_is_a_source_error(tmp_path: Path) -> None:
    folder = tmp_path / "data.csv"
    folder.mkdir()

    with pytest.raises(SourceError, match="not a file"):
        read_consumption_file(folder)


def test_missing_column_names_the_file_and_the_column(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "no_total.csv",
        "2023-01-23 00:00;2023-01-23 01:00;DK1;111",
        header="HourUTC;HourDK;PriceArea;ConsumerType_DE35",
    )

    with pytest.raises(DataFormatError) as info:
        read_consumption_file(path)

    message = str(info.value)
    assert str(path) in message
    assert "missing columns ['TotalCon']" in message


def test_comma_separated_file_is_missing_every_column(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "commas.csv",
        "2023-01-23 00:00,2023-01-23 01:00,DK1,111,5",
        header=HEADER.replace(";", ","),
    )

    with pytest.raises(DataFormatError, match="missing columns") as info:
        read_consumption_file(path)

    for column in ("HourUTC", "PriceArea", "ConsumerType_DE35", "TotalCon"):
        assert column in str(info.value)


def test_unreadable_time_names_the_file_and_row(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "bad_time.csv",
        "2023-01-23 00:00;2023-01-23 01:00;DK1;111;5",
        "2023-01-23 01:00;2023-01-23 02:00;DK1;111;6",
        "2023-13-23 02:00;2023-01-23 03:00;DK1;111;7",
    )

    with pytest.raises(DataFormatError) as info:
        read_consumption_file(path)

    message = str(info.value)
    assert str(path) in message
    assert "row 2: missing or unreadable time '2023-13-23 02:00'" in message


def test_empty_time_cell_names_the_row(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "empty_time.csv",
        "2023-01-23 00:00;2023-01-23 01:00;DK1;111;5",
        ";2023-01-23 02:00;DK1;111;6",
    )

    with pytest.raises(DataFormatError, match="row 1: missing or unreadable time"):
        read_consumption_file(path)


def test_non_numeric_total_names_the_file_row_and_column(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "bad_total.csv",
        "2023-01-23 00:00;2023-01-23 01:00;DK1;111;5",
        "2023-01-23 00:00;2023-01-23 01:00;DK1;112;12a",
    )

    with pytest.raises(DataFormatError) as info:
        read_consumption_file(path)

    message = str(info.value)
    assert str(path) in message
    assert "row 1: consumption_kwh is not a number: '12a'" in message


def test_non_numeric_consumer_type_names_the_row(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "bad_code.csv",
        "2023-01-23 00:00;2023-01-23 01:00;DK1;111;5",
        "2023-01-23 00:00;2023-01-23 01:00;DK1;112;6",
        "2023-01-23 00:00;2023-01-23 01:00;DK1;one;7",
    )

    with pytest.raises(DataFormatError, match=r"row 2: consumer_type is not a number: 'one'"):
        read_consumption_file(path)


@pytest.mark.parametrize("name", ["garbage.csv", "garbage.csv.gz", "garbage.parquet"])
def test_garbage_bytes_are_a_data_format_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(bytes(range(256)) * 8)

    with pytest.raises(DataFormatError, match="not a readable") as info:
        read_consumption_file(path)
    assert str(path) in str(info.value)


def test_empty_file_is_a_data_format_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")

    with pytest.raises(DataFormatError, match="not a readable ';' CSV") as info:
        read_consumption_file(path)
    assert str(path) in str(info.value)


@pytest.mark.realdata
def test_truncated_gzip_is_a_data_format_error(tmp_path: Path, de35_csv: Path) -> None:
    data = de35_csv.read_bytes()
    path = tmp_path / "truncated.csv.gz"
    path.write_bytes(data[: len(data) // 2])

    with pytest.raises(DataFormatError, match="not a readable ';' CSV") as info:
        read_consumption_file(path)
    assert str(path) in str(info.value)


@pytest.mark.realdata
def test_parquet_missing_a_column(tmp_path: Path, de35_parquet: Path) -> None:
    path = tmp_path / "no_value.parquet"
    pd.read_parquet(de35_parquet).drop(columns=["consumption_kwh"]).to_parquet(path)

    with pytest.raises(DataFormatError) as info:
        read_consumption_file(path)

    message = str(info.value)
    assert str(path) in message
    assert "missing columns ['consumption_kwh']" in message


def test_parquet_with_unreadable_values_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "bad_value.parquet"
    pd.DataFrame(
        {
            TIME: pd.to_datetime(["2023-01-23 00:00", "2023-01-23 01:00"], utc=True),
            AREA: ["DK1", "DK1"],
            CONSUMER_TYPE: [111, 111],
            VALUE: ["5", "five"],
        }
    ).to_parquet(path)

    with pytest.raises(DataFormatError, match=r"row 1: consumption_kwh is not a number: 'five'"):
        read_consumption_file(path)
