"""Errors of the web layer itself."""

from __future__ import annotations

from accord.errors import AccordError


class CsrfFailed(AccordError):
    """A form or htmx request came without the session's anti-forgery token, or with a wrong one."""

    def __init__(self) -> None:
        super().__init__("missing or wrong anti-forgery token; reload the page and try again")


class LoginRequired(AccordError):
    """A page needs a logged-in browser session; the user is sent to the login page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path
        super().__init__("log in to see this page")
