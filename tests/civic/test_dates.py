"""Dates typed by officers and admins, and shown to residents, are Hà Nội dates whatever the server's zone."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.dates import format_local, local_today, parse_local_date, parse_local_datetime, to_local
from bot.services.errors import InvalidInputError
from bot.telegram.polls.parse import parse_closes

ZONES = ["America/New_York", "UTC", "Asia/Ho_Chi_Minh"]


@pytest.fixture(params=ZONES)
def server_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with the process's local time zone set to another zone (TZ + tzset)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    yield request.param
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_the_fixture_really_moves_the_server_clock() -> None:
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        assert datetime(2026, 1, 15, 12).astimezone().utcoffset() == timedelta(hours=-5)
    finally:
        os.environ.pop("TZ", None)
        time.tzset()


@pytest.mark.parametrize(
    "typed", ["2026-03-01", "01/03/2026", "1/3/2026", "01-03-2026", "01.03.2026", " 01/03/2026 "]
)
def test_typed_dates_are_calendar_days(server_zone: str, typed: str) -> None:
    assert parse_local_date(typed) == date(2026, 3, 1)


def test_an_iso_moment_is_read_as_its_ha_noi_day(server_zone: str) -> None:
    assert parse_local_date("2026-03-01T20:30+00:00") == date(2026, 3, 2)  # 03:30 on 2 March in Hà Nội
    assert parse_local_date("2026-03-01T20:30") == date(2026, 3, 1)  # naive: already Hà Nội time


@pytest.mark.parametrize(
    ("typed", "utc"),
    [
        ("31/12/2026 17:00", datetime(2026, 12, 31, 10, 0, tzinfo=UTC)),
        ("31/12/2026 17h30", datetime(2026, 12, 31, 10, 30, tzinfo=UTC)),
        ("2026-12-31T17:00", datetime(2026, 12, 31, 10, 0, tzinfo=UTC)),
        ("2026-12-31", datetime(2026, 12, 30, 17, 0, tzinfo=UTC)),  # Hà Nội midnight
    ],
)
def test_typed_times_are_ha_noi_wall_clock(server_zone: str, typed: str, utc: datetime) -> None:
    assert parse_local_datetime(typed) == utc


def test_a_bare_closing_date_means_the_end_of_that_ha_noi_day(server_zone: str) -> None:
    assert parse_local_datetime("31/12/2026", end_of_day=True) == datetime(2026, 12, 31, 16, 59, tzinfo=UTC)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert parse_closes("31/12/2026", now) == datetime(2026, 12, 31, 16, 59, tzinfo=UTC)
    assert parse_closes("31/12/2026 17:00", now) == datetime(2026, 12, 31, 10, 0, tzinfo=UTC)
    assert parse_closes("7", now) == now + timedelta(days=7)
    assert parse_closes("ngày mai", now) is None


def test_stored_moments_are_shown_in_ha_noi_time(server_zone: str) -> None:
    naive_utc = datetime(2026, 3, 1, 20, 0)  # SQLite gives naive UTC values back
    assert format_local(naive_utc) == "02/03/2026 03:00"
    assert format_local(naive_utc.replace(tzinfo=UTC), "%d/%m/%Y") == "02/03/2026"
    assert to_local(naive_utc).utcoffset() == timedelta(hours=7)
    assert format_local(None) == "—"


def test_today_is_the_ha_noi_day(server_zone: str) -> None:
    assert local_today(datetime(2026, 3, 1, 20, 0, tzinfo=UTC)) == date(2026, 3, 2)
    assert local_today(datetime(2026, 3, 1, 16, 59, tzinfo=UTC)) == date(2026, 3, 1)


@pytest.mark.parametrize("typed", ["", "hôm qua", "31/02/2026", "2026-13-01", "31/12/2026 25:00", "🎉"])
def test_bad_input_gets_a_vietnamese_message(typed: str) -> None:
    with pytest.raises(InvalidInputError, match="không hợp lệ"):
        parse_local_datetime(typed)
    with pytest.raises(InvalidInputError, match="Ngày nhập dạng"):
        parse_local_date(typed)
