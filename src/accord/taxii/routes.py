"""TAXII 2.1 endpoints (OASIS TAXII 2.1, sections 4 and 5) at ``/taxii2/``, one API root ``accord``.

Collections are the TLP levels; what a reader sees in each is decided by the intelligence service's
markings rule. Authentication: HTTP Basic with user name and API token, or a Bearer token.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from accord import __version__
from accord.audit.service import Disclosure
from accord.errors import InvalidInput, NotFound
from accord.identity.actor import Actor, peer_actor
from accord.identity.errors import AuthenticationFailed
from accord.identity.vocabulary import Permission
from accord.intel.collections import COLLECTIONS, MAX_PAGE, ObjectFilter, StoredVersion, collection_id
from accord.intel.markings import visible_tlps
from accord.intel.routes import status_resource
from accord.intel.service import parse_versions
from accord.intel.validate import parse_timestamp
from accord.intel.vocabulary import Tlp
from accord.taxii.negotiation import TAXII_MEDIA, accepts_taxii, sends_taxii
from accord.web.auth import node_of

API_ROOT = "accord"
router = APIRouter(prefix="/taxii2", tags=["taxii"], dependencies=[Depends(accepts_taxii)])
FEED_PURPOSE = "TAXII collection synchronisation"
T = TypeVar("T")
MAX_ENVELOPE_OBJECTS = 10_000


async def taxii_actor(request: Request) -> Actor:
    """A peer node by its signed call (RFC 9421, federation.signing), else a user: Basic (user name + API token as
    password) or Bearer; TAXII clients such as taxii2-client send Basic."""
    return await as_taxii_actor(request, lambda actor: actor)


async def as_taxii_actor(request: Request, work: Callable[[Actor], T]) -> T:
    """``work(actor)`` for the caller ``taxii_actor`` names, authentication and work in one worker-thread hop
    (each hop costs about as much as a small query; get-by-id is answered hundreds of times a second)."""
    node = node_of(request)
    if "signature-input" in request.headers:
        body = await request.body()

        def as_peer() -> T:
            peer = node.federation.authenticate(request.method, str(request.url), request.headers, body)
            return work(peer_actor(peer.node_id, peer.name, peer.country, peer.party_id))

        return await run_in_threadpool(as_peer)
    return await run_in_threadpool(lambda: work(_user_actor(request)))


def _user_actor(request: Request) -> Actor:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    node = node_of(request)
    if scheme.lower() == "bearer" and value.strip():
        return node.identity.authenticate_token(value.strip())
    if scheme.lower() == "basic" and value.strip():
        try:
            username, _, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthenticationFailed("malformed basic credentials") from None
        actor = node.identity.authenticate_token(secret)
        if actor.username != username.strip().lower():
            raise AuthenticationFailed("token belongs to another user")
        return actor
    raise AuthenticationFailed("no credentials")


def peer_node_id(actor: Actor) -> str | None:
    return actor.username.removeprefix("peer:") if actor.via == "peer" else None


TaxiiActor = Annotated[Actor, Depends(taxii_actor)]


def taxii_json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=TAXII_MEDIA, headers=headers)


def timestamp(value: Any) -> str:
    return str(value.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def _api_root(name: str) -> None:
    if name != API_ROOT:
        raise NotFound("api root", name[:80])


def _collection(request: Request, actor: Actor, collection: str) -> tuple[Tlp, dict[str, Any]]:
    tlp = COLLECTIONS.get(collection)
    if tlp is None:
        raise NotFound("collection", collection[:80])
    node = node_of(request)
    readable = actor.holds(Permission.READ_INTEL)
    writable = actor.holds(Permission.SUBMIT_INTEL)
    everyone = tlp in visible_tlps(actor, actor.party_kind, node.intel.amber_audience)
    info = {
        "id": collection,
        "title": f"TLP:{str(tlp).upper()}",
        "description": (
            f"Intelligence marked TLP:{str(tlp).upper()}"
            + ("" if everyone else " — you see only your own party's objects here")
        ),
        "can_read": readable,
        "can_write": writable,
        "media_types": ["application/stix+json;version=2.1"],
    }
    return tlp, info


def _readable(request: Request, actor: Actor, api_root: str, collection: str) -> Tlp:
    """The TLP level behind a collection the actor may read (404 for an unknown root or collection, else 403)."""
    _api_root(api_root)
    tlp, info = _collection(request, actor, collection)
    if not info["can_read"]:
        raise HTTPException(403, detail="you may not read this collection")
    return tlp


@router.get("/")
def discovery(request: Request, _actor: TaxiiActor) -> JSONResponse:
    node = node_of(request)
    return taxii_json(
        {
            "title": f"Accord node {node.settings.node_name}",
            "description": "TAXII 2.1 over this node's STIX store; collections are TLP levels.",
            "default": f"/taxii2/{API_ROOT}/",
            "api_roots": [f"/taxii2/{API_ROOT}/"],
        }
    )


@router.get("/{api_root}/")
def api_root(request: Request, _actor: TaxiiActor, api_root: str) -> JSONResponse:
    _api_root(api_root)
    node = node_of(request)
    return taxii_json(
        {
            "title": f"Accord {__version__}",
            "versions": [TAXII_MEDIA],
            "max_content_length": node.settings.intel_max_bundle_bytes,
        }
    )


@router.get("/{api_root}/collections/")
def collections(request: Request, actor: TaxiiActor, api_root: str) -> JSONResponse:
    _api_root(api_root)
    return taxii_json({"collections": [_collection(request, actor, collection_id(tlp))[1] for tlp in Tlp]})


@router.get("/{api_root}/collections/{collection}/")
def collection(request: Request, actor: TaxiiActor, api_root: str, collection: str) -> JSONResponse:
    _api_root(api_root)
    return taxii_json(_collection(request, actor, collection)[1])


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()


def _filter(
    tlp: Tlp,
    limit: int | None,
    next_token: str | None,
    added_after: str | None,
    match_id: str | None,
    match_type: str | None,
    match_version: str | None,
    match_spec_version: str | None,
    default_version: str = "last",
) -> ObjectFilter:
    after_seq = None
    if next_token:
        try:
            after_seq = int(base64.urlsafe_b64decode(next_token.encode()).decode())
        except (ValueError, binascii.Error):
            raise InvalidInput("next", "not a token this server issued") from None
    return ObjectFilter(
        tlp=tlp,
        ids=_split(match_id),
        types=_split(match_type),
        versions=_split(match_version) or (default_version,),
        spec_versions=_split(match_spec_version),
        added_after=parse_timestamp("added_after", "added_after", added_after) if added_after else None,
        after_seq=after_seq,
        limit=min(limit or MAX_PAGE, MAX_PAGE),
    )


def _page_headers(page: list[StoredVersion]) -> dict[str, str]:
    if not page:
        return {}
    return {
        "X-TAXII-Date-Added-First": timestamp(page[0].added_at),
        "X-TAXII-Date-Added-Last": timestamp(page[-1].added_at),
    }


def _next_token(page: list[StoredVersion]) -> str:
    """Names the last object's place in the store, so it never expires (the reverse of ``_filter``'s decode)."""
    return base64.urlsafe_b64encode(str(page[-1].seq).encode()).decode()


def _envelope(page: list[StoredVersion], more: bool, headers: dict[str, str]) -> Response:
    """The envelope (section 3.7) written around the stored canonical JSON: objects are never parsed and
    re-serialised on the way out, which is most of the cost of a page of 1,000."""
    head: dict[str, Any] = {"more": more}
    if more:
        head["next"] = _next_token(page)
    text = json.dumps(head)
    if page:
        text = text[:-1] + ', "objects": [' + ",".join(v.content for v in page) + "]}"
    return Response(text.encode(), media_type=TAXII_MEDIA, headers=headers)


Limit = Annotated[int | None, Query(ge=1)]
Text = Annotated[str | None, Query(max_length=4096)]


@router.get("/{api_root}/collections/{collection}/objects/")
def get_objects(
    request: Request,
    actor: TaxiiActor,
    api_root: str,
    collection: str,
    limit: Limit = None,
    next: Text = None,
    added_after: Text = None,
    match_id: Annotated[str | None, Query(alias="match[id]", max_length=4096)] = None,
    match_type: Annotated[str | None, Query(alias="match[type]", max_length=4096)] = None,
    match_version: Annotated[str | None, Query(alias="match[version]", max_length=4096)] = None,
    match_spec_version: Annotated[str | None, Query(alias="match[spec_version]", max_length=100)] = None,
) -> Response:
    tlp = _readable(request, actor, api_root, collection)
    peer = peer_node_id(actor)
    if peer is not None:
        return _peer_feed(request, peer, tlp, limit, next, (added_after, match_id, match_type, match_version))
    flt = _filter(tlp, limit, next, added_after, match_id, match_type, match_version, match_spec_version)
    page, more = node_of(request).intel.collection_page(actor, flt, Disclosure(purpose=FEED_PURPOSE))
    return _envelope(page, more, _page_headers(page))


def _peer_feed(
    request: Request, node_id: str, tlp: Tlp, limit: int | None, token: str | None, filters: tuple[str | None, ...]
) -> Response:
    """A peer node reads what its sharing policy gives it (federation.sharing), every version, in store order.
    Its ``next`` is a position that never expires and is returned even on the last page, so the peer can
    store it and ask "anything after this?" later; filters other than versions are not offered to peers."""
    if any(f for f in filters[:3]) or filters[3] not in (None, "all"):
        raise InvalidInput("match", "a peer's feed takes limit and next only (every version, in store order)")
    page = node_of(request).sharing.feed_page(node_id, tlp, token, min(limit or MAX_PAGE, MAX_PAGE))
    headers = {**_page_headers(page.objects), "X-Accord-Behind": str(page.behind)}
    head: dict[str, Any] = {"more": page.more}
    if page.next_token:
        head["next"] = page.next_token
    text = json.dumps(head)
    if page.objects:
        text = text[:-1] + ', "objects": [' + ",".join(v.content for v in page.objects) + "]}"
    return Response(text.encode(), media_type=TAXII_MEDIA, headers=headers)


@router.get("/{api_root}/collections/{collection}/objects/{object_id}/")
async def get_object(
    request: Request,
    api_root: str,
    collection: str,
    object_id: str,
    limit: Limit = None,
    next: Text = None,
    added_after: Text = None,
    match_version: Annotated[str | None, Query(alias="match[version]", max_length=4096)] = None,
    match_spec_version: Annotated[str | None, Query(alias="match[spec_version]", max_length=100)] = None,
) -> Response:
    def answer(actor: Actor) -> Response:
        tlp = _readable(request, actor, api_root, collection)
        flt = _filter(tlp, limit, next, added_after, object_id, None, match_version, match_spec_version)
        page, more = node_of(request).intel.collection_page(actor, flt, Disclosure(purpose=FEED_PURPOSE))
        if not page and not next:
            raise NotFound("object", object_id[:80])
        return _envelope(page, more, _page_headers(page))

    return await as_taxii_actor(request, answer)


@router.delete("/{api_root}/collections/{collection}/objects/{object_id}/")
def delete_object(
    request: Request,
    actor: TaxiiActor,
    api_root: str,
    collection: str,
    object_id: str,
    match_version: Annotated[str | None, Query(alias="match[version]", max_length=4096)] = None,
    match_spec_version: Annotated[str | None, Query(alias="match[spec_version]", max_length=100)] = None,
) -> Response:
    """Delete An Object (section 5.7): the versions in this collection that match[version] picks. Without it,
    the latest only: 5.7 filters as section 3.4 does, whose default is ``last`` (medallion reads it the same way).
    200 with an empty body; 404 when nothing the caller may see matches; 403 for another party's object."""
    _api_root(api_root)
    tlp, info = _collection(request, actor, collection)
    if not (info["can_read"] and info["can_write"]):  # 5.7: no delete on a collection the caller cannot read
        raise HTTPException(403, detail="you may not delete from this collection")
    versions = parse_versions("match[version]", _split(match_version) or ("last",))
    node_of(request).intel.delete_object(
        actor, object_id, versions, tlp=tlp, spec_versions=_split(match_spec_version), source="taxii"
    )
    return Response(status_code=200, media_type=TAXII_MEDIA)


@router.get("/{api_root}/collections/{collection}/objects/{object_id}/versions/")
def object_versions(
    request: Request, actor: TaxiiActor, api_root: str, collection: str, object_id: str, limit: Limit = None
) -> JSONResponse:
    tlp = _readable(request, actor, api_root, collection)
    flt = _filter(tlp, limit, None, None, object_id, None, "all", None)
    page, more = node_of(request).intel.collection_page(actor, flt, Disclosure(purpose=FEED_PURPOSE))
    if not page:
        raise NotFound("object", object_id[:80])
    return taxii_json({"more": more, "versions": [v.modified for v in page]}, headers=_page_headers(page))


@router.get("/{api_root}/collections/{collection}/manifest/")
def manifest(
    request: Request,
    actor: TaxiiActor,
    api_root: str,
    collection: str,
    limit: Limit = None,
    next: Text = None,
    added_after: Text = None,
    match_id: Annotated[str | None, Query(alias="match[id]", max_length=4096)] = None,
    match_type: Annotated[str | None, Query(alias="match[type]", max_length=4096)] = None,
    match_version: Annotated[str | None, Query(alias="match[version]", max_length=4096)] = None,
) -> JSONResponse:
    tlp = _readable(request, actor, api_root, collection)
    flt = _filter(tlp, limit, next, added_after, match_id, match_type, match_version, None)
    page, more = node_of(request).intel.collection_page(actor, flt, Disclosure(purpose=FEED_PURPOSE))
    body: dict[str, Any] = {"more": more}
    if more:
        body["next"] = _next_token(page)
    if page:
        body["objects"] = [
            {
                "id": v.stix_id,
                "date_added": timestamp(v.added_at),
                "version": v.modified or timestamp(v.added_at),
                "media_type": "application/stix+json;version=2.1",
            }
            for v in page
        ]
    return taxii_json(body, headers=_page_headers(page))


@router.post("/{api_root}/collections/{collection}/objects/", status_code=202, dependencies=[Depends(sends_taxii)])
async def add_objects(request: Request, actor: TaxiiActor, api_root: str, collection: str) -> JSONResponse:
    _api_root(api_root)
    tlp, info = _collection(request, actor, collection)
    if not info["can_write"]:
        raise HTTPException(403, detail="you may not write to this collection")
    try:
        envelope = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("body", "not JSON") from None
    objects = envelope.get("objects") if isinstance(envelope, dict) else None
    if not isinstance(objects, list) or len(objects) > MAX_ENVELOPE_OBJECTS:
        raise InvalidInput("objects", f"an envelope holds a list of at most {MAX_ENVELOPE_OBJECTS} objects")
    node = node_of(request)
    status_id = node.ids.new_id("status").removeprefix("status--")
    peer = peer_node_id(actor)
    if peer is not None:
        # A peer pushing to us: stored as its party's, with the sending node recorded (federation.sync).
        report = await run_in_threadpool(lambda: node.intel_sync.receive(peer, tlp, objects, pushed=True))
    else:
        report = await run_in_threadpool(lambda: node.intel.import_objects(actor, objects, tlp=tlp, source="taxii"))
    body = {"id": status_id, "request_timestamp": timestamp(node.clock.now()), **status_resource(report)}
    body.pop("duplicate_count", None)
    body["successes"] = [
        {"id": s["id"], "version": s["version"] or body["request_timestamp"]} for s in report.successes
    ]
    body["failures"] = [{"id": f["id"], "message": f["message"]} for f in report.failures]
    await run_in_threadpool(lambda: node.intel.save_status(actor, status_id, body))
    return taxii_json(body, status=202)


@router.get("/{api_root}/status/{status_id}/")
def status(request: Request, actor: TaxiiActor, api_root: str, status_id: str) -> JSONResponse:
    _api_root(api_root)
    return taxii_json(node_of(request).intel.get_status(actor, status_id))
