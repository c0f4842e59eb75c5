"""TAXII 2.1 media types (section 1.6.8) and the checks on Accept and Content-Type."""

from __future__ import annotations

from fastapi import Request
from starlette.exceptions import HTTPException

TAXII_MEDIA = "application/taxii+json;version=2.1"
STIX_MEDIA = "application/stix+json;version=2.1"


def _parts(value: str) -> tuple[str, dict[str, str]]:
    main, *params = [p.strip() for p in value.split(";")]
    parsed = {}
    for param in params:
        key, _, val = param.partition("=")
        parsed[key.strip().lower()] = val.strip().strip('"')
    return main.lower(), parsed


async def accepts_taxii(request: Request) -> None:
    # async: header parsing needs no worker thread (FastAPI runs a plain function dependency in one).
    """406 unless the client accepts TAXII 2.1 JSON (a missing or */* Accept is read as yes)."""
    accept = request.headers.get("accept", "")
    if not accept.strip():
        return
    for item in accept.split(","):
        media, params = _parts(item)
        if media in {"*/*", "application/*"}:
            return
        if media == "application/taxii+json" and params.get("version", "2.1") == "2.1":
            return
    raise HTTPException(406, detail=f"this server speaks {TAXII_MEDIA}")


async def sends_taxii(request: Request) -> None:
    media, params = _parts(request.headers.get("content-type", ""))
    if media != "application/taxii+json" or params.get("version", "2.1") != "2.1":
        raise HTTPException(415, detail=f"send {TAXII_MEDIA}")
