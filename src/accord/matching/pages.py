"""The lookup page: one value in any written form, and who holds it at the level the reader may see it.

The same answer as ``POST /api/v1/lookup`` for one value (``MatchingService.lookup``): reports the reader may open
in full, the others only as "who holds it, and whom to ask" (hit/no-hit), warninglists marked and never hidden.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from accord.audit.service import Disclosure
from accord.identity.vocabulary import Permission
from accord.intel.models import MAX_VALUE_LENGTH
from accord.intel.normalise import IdentifierKind
from accord.web.auth import PageActor, node_of
from accord.web.rendering import pages_of

router = APIRouter(include_in_schema=False)
DETECT = "detect"  # the type field's default: let Accord detect the kind
# A fixed purpose, as on the intelligence pages: one taken from the query string could be planted by a link from
# another site. The audit entry says the lookup was made by hand, in the web interface.
UI_PURPOSE = Disclosure(purpose="identifier lookup in the web interface")


@router.get("/lookup")
def lookup(
    request: Request,
    actor: PageActor,
    value: Annotated[str, Query(max_length=MAX_VALUE_LENGTH)] = "",
    chosen: Annotated[str, Query(alias="type", max_length=40)] = DETECT,
) -> Response:
    node = node_of(request)
    node.identity.authorize(actor, Permission.READ_INTEL)
    kind = None if chosen in ("", DETECT) else chosen
    context: dict[str, Any] = {
        "value": value,
        "kind": chosen or DETECT,
        "kinds": [str(k) for k in IdentifierKind],
        "result": None,
        "lists": {},
        "holders": [],
    }
    if value.strip():
        # InvalidInput (an unknown type typed into the address bar) becomes the standard error page.
        (result,) = node.matching.lookup(actor, [value], [kind], UI_PURPOSE)
        context["result"] = result
        context["lists"] = {wl.name: wl for wl in node.matching.warninglists if wl.name in result.warninglists}
        context["holders"] = _holders(result, actor) if actor.holds(Permission.DRAFT_COOPERATION) else []
    status = 422 if context["result"] is not None and context["result"].error else 200
    return pages_of(request).render(request, "matching/lookup.html", context, status_code=status)


def _holders(result: Any, actor: Any) -> list[tuple[str, str]]:
    """The parties a cooperation request can go to: every holder the reader may see or is told of, not its own."""
    found: dict[str, str] = {}
    for hit in result.hits.visible:
        found.setdefault(hit.party_id, hit.party)
    if result.hits.restricted is not None:
        for contact in result.hits.restricted.contacts:
            found.setdefault(contact.party_id, contact.party)
    return sorted(((pid, name) for pid, name in found.items() if pid != actor.party_id), key=lambda x: x[1])


@router.post("/lookup/cooperation")
def request_cooperation(
    request: Request,
    actor: PageActor,
    value: Annotated[str, Form(max_length=MAX_VALUE_LENGTH)],
    holder: Annotated[str, Form(max_length=200)],
    chosen: Annotated[str, Form(alias="type", max_length=40)] = DETECT,
) -> Response:
    """ "Request cooperation" from a hit: a draft to the holder, pre-filled with the value and only what the reader
    may see (issue 4, part 6); the cooperation form then asks for the request type and its elements."""
    kind = None if chosen in ("", DETECT) else chosen
    draft = node_of(request).cooperation.draft_from_hit(actor, value, kind, holder, UI_PURPOSE)
    return RedirectResponse(f"/cooperation/requests/{quote(draft.id)}/edit", status_code=303)
