"""The site's calendar: turning workflow instants (UTC) into the site's dates and back."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from domain.protocol import ScheduleRules


def _offset(rules: ScheduleRules) -> timedelta:
    return timedelta(minutes=rules.site_utc_offset_minutes)


def require_aware(instant: datetime, what: str) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{what} must carry a time zone")


def site_date(instant: datetime, rules: ScheduleRules) -> date:
    """The site's calendar date at `instant`."""
    require_aware(instant, "the time")
    return (instant.astimezone(UTC) + _offset(rules)).date()


def site_moment(day: date, local_hour: int, rules: ScheduleRules) -> datetime:
    """`local_hour`:00 site time on `day`, as a UTC instant."""
    return datetime.combine(day, time(hour=local_hour), tzinfo=UTC) - _offset(rules)


def end_of_site_day(day: date, rules: ScheduleRules) -> datetime:
    """The first instant after `day` is over at the site."""
    return site_moment(day + timedelta(days=1), 0, rules)
