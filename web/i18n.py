"""The pages' languages: English (the messages' own text) and Simplified Chinese from a Babel message catalog
(web/locale/zh_Hans/LC_MESSAGES/messages.po), compiled in memory when first used, so the .po file is the only copy;
the user's choice is kept in a cookie. Dates and times are shown in the site's time zone."""

from __future__ import annotations

import gettext
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Final

from babel import Locale, dates, negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from domain.protocol import CURRENT_PROTOCOL

LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"
DOMAIN: Final = "messages"
LANGUAGE_COOKIE: Final = "trialflow_lang"
# The languages offered, by their Babel names; the first is the site's own (a children's hospital in China).
LANGUAGES: Final = ("zh_Hans", "en")
DEFAULT_LANGUAGE: Final = LANGUAGES[0]
# Each language named in itself, for the switch.
LANGUAGE_NAMES: Final = {"zh_Hans": "简体中文", "en": "English"}
# Accept-Language tags a browser sends, mapped to the offered languages.
_ACCEPTED: Final = {"zh": "zh_Hans", "zh_cn": "zh_Hans", "zh_hans": "zh_Hans", "zh_sg": "zh_Hans", "en": "en"}


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalog of `language`; English is the messages themselves."""
    if language == "en":
        return gettext.NullTranslations()
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def chosen_language(cookie: str | None, accept_language: str | None) -> str:
    """The cookie's language if it is offered, else the browser's preference, else the site's own."""
    if cookie in LANGUAGES:
        return cookie
    if accept_language:
        preferred = [part.split(";")[0].strip().replace("-", "_").lower() for part in accept_language.split(",")]
        for tag in preferred:
            if tag in _ACCEPTED:
                return _ACCEPTED[tag]
        found = negotiate_locale(preferred, list(_ACCEPTED), sep="_")
        if found:
            return _ACCEPTED[found]
    return DEFAULT_LANGUAGE


def html_lang(language: str) -> str:
    """The page's `lang` attribute (BCP 47): zh-Hans, en."""
    return language.replace("_", "-")


def site_zone() -> timezone:
    """The site's time zone, a fixed offset from UTC (the protocol's schedule; China has no daylight saving)."""
    return timezone(timedelta(minutes=CURRENT_PROTOCOL.schedule.site_utc_offset_minutes))


class SiteFormat:
    """Dates and times for one page: in the site's time zone, in the page's language."""

    def __init__(self, language: str) -> None:
        self._locale = Locale.parse(language)
        self._zone = site_zone()

    def moment(self, instant: datetime) -> str:
        """`instant` at the site, with its UTC offset: 2026年12月6日 15:30 (UTC+08:00)."""
        local = (instant if instant.tzinfo else instant.replace(tzinfo=UTC)).astimezone(self._zone)
        shown = dates.format_datetime(local, "medium", tzinfo=self._zone, locale=self._locale)
        return f"{shown} ({self.offset()})"

    def day(self, value: date | datetime) -> str:
        if isinstance(value, datetime):
            return self.moment(value)
        return dates.format_date(value, "medium", locale=self._locale)

    def offset(self) -> str:
        minutes = CURRENT_PROTOCOL.schedule.site_utc_offset_minutes
        sign = "+" if minutes >= 0 else "-"
        return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
