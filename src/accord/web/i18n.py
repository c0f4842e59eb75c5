"""Translations (gettext catalogues read with Babel) and the choice of language per request.

Catalogues are the ``.po`` files in ``locale/``; they are compiled in memory at start-up, so the repository
holds no binary ``.mo`` files and a translator's edit shows after a restart.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel import Locale, negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
LOCALES = ("en", "vi")  # English is the source language: its catalogue is the msgids themselves
LOCALE_NAMES = {"en": "English", "vi": "Tiếng Việt"}
MAX_ACCEPT_LANGUAGE = 200  # characters of the header we look at


@cache
def translations(locale: str) -> NullTranslations:
    po_path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if locale == "en" or not po_path.exists():
        return NullTranslations()
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def choose_locale(cookie: str | None, accept_language: str | None, default: str) -> str:
    """A stored choice wins; then the browser's Accept-Language; then the node's default."""
    if cookie in LOCALES:
        return cookie
    if accept_language:
        preferred = []
        for part in accept_language[:MAX_ACCEPT_LANGUAGE].split(","):
            tag = part.split(";")[0].strip().replace("-", "_")
            if tag:
                preferred.append(tag)
                preferred.append(tag.split("_")[0])
        found = negotiate_locale(preferred, LOCALES, sep="_")
        if found:
            return str(found)
    return default


def language_name(locale: str) -> str:
    return LOCALE_NAMES.get(locale) or Locale.parse(locale).get_display_name(locale) or locale
