"""``create_app(settings)``: builds one node's web application. No global app, no work at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from accord import __version__
from accord.audit import pages as audit_pages
from accord.audit import routes as audit_routes
from accord.clock import Clock
from accord.config import Settings
from accord.cooperation import pages as cooperation_pages
from accord.cooperation import routes as cooperation_routes
from accord.evidence import pages as evidence_pages
from accord.evidence import routes as evidence_routes
from accord.federation import envelope_routes
from accord.federation import pages as federation_pages
from accord.federation import routes as federation_routes
from accord.federation import transfer_routes as federation_transfer_routes
from accord.federation.evidence_receive import MAX_CHUNK_BYTES
from accord.federation.evidence_transfer import TRANSFERS_PATH
from accord.identity import pages as identity_pages
from accord.identity import routes as identity_routes
from accord.ids import IdSource
from accord.intel import pages as intel_pages
from accord.intel import routes as intel_routes
from accord.matching import pages as matching_pages
from accord.matching import routes as matching_routes
from accord.node import Node, open_node
from accord.taxii import routes as taxii_routes
from accord.web import pages as shell_pages
from accord.web import problems
from accord.web.i18n import choose_locale
from accord.web.rendering import LOCALE_COOKIE, STATIC_DIR, Pages
from accord.web.security import BodyLimit, SecurityHeaders

REQUEST_THREADS = 4


class ChooseLocale:
    """Puts the request's language on ``request.state.locale`` before any route or error page runs."""

    def __init__(self, app: ASGIApp, default: str) -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers", []))
            cookie_header = headers.get(b"cookie", b"").decode("latin-1")
            cookie = next(
                (
                    c.split("=", 1)[1].strip()
                    for c in cookie_header.split(";")
                    if c.strip().startswith(f"{LOCALE_COOKIE}=")
                ),
                None,
            )
            accept = headers.get(b"accept-language", b"").decode("latin-1")
            scope.setdefault("state", {})["locale"] = choose_locale(cookie, accept, self.default)
        await self.app(scope, receive, send)


def create_app(settings: Settings, *, clock: Clock | None = None, ids: IdSource | None = None) -> FastAPI:
    """A FastAPI app serving one node. Raises NodeNotInitialised or NodeKeyProblem if the node was never set up."""
    node: Node = open_node(settings, clock=clock, ids=ids)
    node.db.tune_for_serving()
    keys = node.keys  # fail at start-up, not at the first request, if the key is missing or exposed
    _ = node.matching  # likewise for a warninglist that cannot be loaded

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Database work runs in these threads; fewer than the connection pool holds (store.engine), so a request
        # never waits for a connection to be opened. anyio's default is 40.
        to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        yield
        node.close()

    app = FastAPI(
        title="Accord node API",
        version=__version__,
        description="Cross-border cooperation against cybercrime. Errors are RFC 9457 problem+json.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # Swagger UI needs inline script and a CDN; the OpenAPI document is what clients use
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.node = node
    app.state.pages = Pages(
        settings.default_locale,
        {"name": settings.node_name, "country": settings.node_country, "id": keys.node_id},
    )
    problems.install(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # FastAPI tries the routers in this order, every route of one before the next (a tenth of a millisecond per
    # router passed): the calls machines make most often come first.
    app.include_router(shell_pages.health)
    app.include_router(matching_routes.router, prefix="/api/v1")
    app.include_router(taxii_routes.router)
    app.include_router(federation_routes.router)
    app.include_router(intel_routes.router, prefix="/api/v1")
    app.include_router(identity_routes.router, prefix="/api/v1")
    app.include_router(audit_routes.router, prefix="/api/v1")
    app.include_router(cooperation_routes.router, prefix="/api/v1")
    app.include_router(evidence_routes.router, prefix="/api/v1")
    app.include_router(federation_transfer_routes.router)
    app.include_router(envelope_routes.router)
    app.include_router(shell_pages.router)
    app.include_router(identity_pages.router)
    app.include_router(audit_pages.router)
    app.include_router(intel_pages.router)
    app.include_router(matching_pages.router)
    app.include_router(evidence_pages.router)
    app.include_router(cooperation_pages.router)
    app.include_router(federation_pages.router)
    app.add_middleware(ChooseLocale, default=settings.default_locale)
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        larger={
            intel_routes.BUNDLES_PATH: settings.intel_max_bundle_bytes,
            intel_pages.IMPORT_PATH: settings.intel_max_bundle_bytes,
            matching_routes.LOOKUP_PATH: matching_routes.LOOKUP_MAX_BODY,
            evidence_routes.ITEMS_PATH: settings.evidence_max_item_bytes,
            **{path: settings.evidence_package_max_bytes for path in evidence_routes.PACKAGE_UPLOAD_PATHS},
            evidence_pages.UPLOAD_PATH: settings.evidence_max_item_bytes,
            **{path: settings.evidence_package_max_bytes for path in evidence_pages.PACKAGE_UPLOAD_PATHS},
        },
        larger_under={f"{TRANSFERS_PATH}/": MAX_CHUNK_BYTES},
    )
    app.add_middleware(SecurityHeaders)
    return app
