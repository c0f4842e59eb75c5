"""Every UI string is ready for translation, and the Vietnamese catalogue covers them all."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from jinja2 import Environment

ROOT = Path(__file__).parents[2]
TEMPLATES = ROOT / "src" / "accord" / "web" / "templates"
LOCALE = ROOT / "src" / "accord" / "web" / "locale"
# Text that needs no translation: punctuation, symbols and numbers between tags.
NEUTRAL = re.compile(r"^[\s#·—:().,/|&;0-9-]*$")
MARK = " "  # a space keeps tags that hold Jinja expressions parseable as HTML


class _TextNodes(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []

    def handle_data(self, data: str) -> None:
        self.chunks.append(data.strip())


def _untranslated_text(source: str) -> list[str]:
    """Literal text nodes that are not produced by _(): Jinja expressions are masked, the rest parsed as HTML."""
    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)  # only lexed, never rendered
    masked = "".join(value if kind == "data" else MARK for _line, kind, value in env.lex(source))
    parser = _TextNodes()
    parser.feed(masked)
    return [c for c in parser.chunks if c and not NEUTRAL.match(c)]


@pytest.mark.parametrize("template", sorted(p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html")))
def test_template_text_is_all_marked_for_translation(template: str) -> None:
    source = (TEMPLATES / template).read_text()
    assert _untranslated_text(source) == []
    for attribute in re.findall(r'\s(?:title|placeholder|aria-label|alt)="([^"{]+)"', source):
        # Attribute values that people read must come from _() too (login.*, ISO codes and the like are data).
        assert re.fullmatch(r"[A-Za-z]{0,2}|[a-z_.]+\.", attribute), attribute


def test_catalogue_template_is_up_to_date(tmp_path: Path) -> None:
    """`make i18n` has been run: the .pot matches what the code and templates say."""
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "_",
            "-k",
            "gettext",
            "-k",
            "ngettext:1,2",
            "--no-location",
            "--sort-output",
            "-o",
            str(fresh),
            str(ROOT / "src/accord"),
        ],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    with fresh.open("rb") as handle:
        expected = {m.id for m in read_po(handle) if m.id}
    with (LOCALE / "messages.pot").open("rb") as handle:
        committed = {m.id for m in read_po(handle) if m.id}
    assert expected == committed, "run `make i18n` and translate the new strings"


def test_vietnamese_catalogue_is_complete_and_keeps_placeholders() -> None:
    with (LOCALE / "messages.pot").open("rb") as handle:
        wanted = {m.id for m in read_po(handle) if m.id}
    with (LOCALE / "vi" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = read_po(handle, locale="vi")
    translated = {m.id: m.string for m in catalogue if m.id and m.string and not m.fuzzy}
    assert wanted - set(translated) == set()
    for msgid, msgstr in translated.items():
        assert set(re.findall(r"%\(\w+\)s", str(msgid))) == set(re.findall(r"%\(\w+\)s", str(msgstr))), msgid
