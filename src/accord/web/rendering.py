"""Server-rendered pages: one Jinja2 environment per language, the same templates for all."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from accord import __version__
from accord.web.i18n import LOCALE_NAMES, LOCALES, translations

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
LOCALE_COOKIE = "accord_locale"


def _format_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


class Pages:
    def __init__(self, default_locale: str, node_info: Mapping[str, str]) -> None:
        self.default_locale = default_locale
        self.node_info = dict(node_info)
        self._envs: dict[str, Environment] = {}
        for locale in LOCALES:
            env = Environment(
                loader=FileSystemLoader(TEMPLATE_DIR),
                autoescape=select_autoescape(["html"]),
                extensions=["jinja2.ext.i18n"],
                trim_blocks=True,
                lstrip_blocks=True,
            )
            env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
            env.filters["utc"] = _format_time
            self._envs[locale] = env

    def render(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        locale = getattr(request.state, "locale", self.default_locale)
        env = self._envs.get(locale, self._envs[self.default_locale])
        state = getattr(request.state, "session", None)
        values = {
            "request": request,
            "locale": locale,
            "locales": LOCALE_NAMES,
            "actor": state.actor if state else None,
            "csrf_token": state.csrf_token if state else getattr(request.state, "login_csrf", ""),
            "node": self.node_info,
            "version": __version__,
            **(context or {}),
        }
        html = env.get_template(template).render(values)
        return HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))


def pages_of(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages
