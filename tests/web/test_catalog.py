"""The Simplified Chinese catalog is whole: every message the pages and the web app's code mark is translated, none
is left over, and each translation keeps its placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from web.i18n import LOCALE_DIR, translations

WEB = Path(__file__).resolve().parents[2] / "web"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def marked_messages() -> set[str]:
    """What `pybabel extract -F web/babel.cfg -k N_` finds."""
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(WEB), method_map, options, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_marked_message_has_a_chinese_translation_keeping_its_placeholders() -> None:
    with (LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po)
    translated = {message.id: message.string for message in catalog if message.id}
    marked = marked_messages()
    assert len(marked) > 50  # the extraction found the pages' messages
    assert sorted(marked - set(translated)) == [], "messages without a translation"
    assert sorted(set(translated) - marked) == [], "translations of messages no page uses any more"
    for source, chinese in translated.items():
        assert chinese, f"empty translation of {source!r}"
        assert set(PLACEHOLDER.findall(source)) == set(PLACEHOLDER.findall(chinese)), source


def test_the_catalog_is_compiled_from_the_po_file_when_first_used() -> None:
    assert translations("zh_Hans").gettext("Worklist") == "工作清单"
    assert translations("en").gettext("Worklist") == "Worklist"
