"""Cooperation pages: inbox and outbox, the guided request form, the request page with its history, clocks and
decisions, the overdue dashboard and the 24/7 directory.

The guided form is the legal catalogue made visible. For the chosen request type and instrument it shows one input
per element the instrument requires, in the catalogue's order, each beside the article requiring it and that
article's text, then the optional elements useful to any request (confidentiality, conditions on use,
identifiers, a time range, a linked preservation). The inputs are turned here into the JSON the service checks
(``parse_fields``); what is missing or malformed is decided by the service alone and shown next to the field it
names, with its article.

Every read is audited under a fixed purpose (``UI_PURPOSE``), as on the other pages: a purpose taken from the
query string could be planted by a link from another site. The module is longer than most because the parsing of
each catalogue field type belongs with the form that sends it.
"""

from __future__ import annotations

from datetime import datetime
from itertools import groupby
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from accord.audit.service import Disclosure
from accord.cooperation import routes as api
from accord.cooperation import states
from accord.cooperation.catalogue import Catalogue, RequestType
from accord.cooperation.directory import CHANNELS, ROLES, EntryView
from accord.cooperation.form_fields import (
    FieldRow,
    form_rows,
    form_text,
    identifier_lines,
    parse_fields,
)
from accord.cooperation.legal import Decision
from accord.cooperation.requests import MESSAGE_SIDES, URGENCIES
from accord.cooperation.validation import RequestIncomplete
from accord.errors import AccordError, InvalidInput, NotFound
from accord.identity.actor import Actor
from accord.identity.vocabulary import Permission
from accord.node import Node
from accord.web.auth import PageActor, node_of
from accord.web.problems import problem_kind
from accord.web.rendering import pages_of

router = APIRouter(include_in_schema=False)
UI_PURPOSE = Disclosure(purpose="cooperation request handling in the web interface")
DOCUMENT_PURPOSE = Disclosure(purpose="cooperation request document downloaded from the web interface")
# Not required by every instrument, but asked for by providers and foreign authorities alike (UN 42(3)(g), BC 28(2)).
ENVELOPE_FIELDS = ("case_reference", "language")  # catalogue fields stored on the request's envelope
MIN_DATA_ROWS = 3
NOTIFICATIONS_SHOWN = 20
FORM_ERRORS = (RequestIncomplete, states.IllegalTransition, InvalidInput)
# Moves that carry a decision or a note, and so open a form rather than being a single button.
FORM_ACTIONS = frozenset({states.REFUSED, states.POSTPONED, states.NEEDS_MORE_INFORMATION})
INFORMATION_GIVEN = (states.UNDER_REVIEW, states.NEEDS_MORE_INFORMATION)  # the requesting side's answer
SIDE_PERMISSION = {"requesting": Permission.DRAFT_COOPERATION, "requested": Permission.RESPOND_COOPERATION}
ON_DUTY_ROLE = "point_of_contact_24_7"
# Identifier kinds, longest first, so "file:sha-256:…" is not read as kind "file".


async def _form(request: Request) -> FormData:
    return await request.form()  # cached by Starlette: the CSRF check has read it already


FormBody = Annotated[FormData, Depends(_form)]


def as_time(value: str | None) -> datetime | None:
    """An ISO 8601 time from a request document, for the templates' ``utc`` filter."""
    return datetime.fromisoformat(value) if value else None


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    values = {"as_time": as_time, **context}
    return pages_of(request).render(request, template, values, status_code=status_code)


def _to_request(request_id: str, anchor: str = "") -> Response:
    return RedirectResponse(f"/cooperation/requests/{quote(request_id)}{anchor}", status_code=303)


def echo(form: FormData, *lists: str) -> dict[str, Any]:
    """What the user typed, to fill a refused form in again (``lists`` name the fields sent several times)."""
    return {key: form.getlist(key) if key in lists else form.get(key) for key in form}


def _problems(exc: AccordError) -> dict[str, list[dict[str, str]]]:
    """Problems by the field they name (``identifiers[2]`` and ``dual_criminality.conduct`` by their field)."""
    if isinstance(exc, RequestIncomplete):
        return by_field([p.as_json() for p in exc.problems])
    if isinstance(exc, InvalidInput):
        return {exc.field: [{"field": exc.field, "reason": exc.reason}]}
    return {}


def by_field(problems: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for problem in problems:
        name = problem["field"].split("[")[0].split(".")[0]
        out.setdefault(name, []).append(problem)
    return out


def _error(which: str, exc: AccordError) -> dict[str, Any]:
    message = exc.reason if isinstance(exc, states.IllegalTransition) else str(exc)
    return {"form": which, "message": message, "problems": _problems(exc), "status": problem_kind(exc).status}


# -- clocks ----------------------------------------------------------------------------------------------------


def clock_rows(doc: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """The request's clocks with their due time, whether the step is done, and by how many minutes it was late."""
    done_at = {"acknowledge": as_time(doc["acknowledged_at"]), "answer": as_time(doc["decided_at"])}
    rows = []
    for clock in doc["clocks"]:
        due = as_time(clock["due_at"])
        done = done_at.get(clock["name"])
        late = None
        if clock["status"] == "overdue" and due is not None:
            late = int(((done or now) - due).total_seconds() // 60)
        rows.append({**clock, "due": due, "done": done is not None, "late_minutes": late})
    return rows


def pressing_clock(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The clock to look at first: one overdue and still open, else the next one due."""
    open_rows = [
        r for r in rows if r["due"] is not None and not r["done"] and r["status"] in ("overdue", "due", "running")
    ]
    if not open_rows:
        return None
    return min(open_rows, key=lambda r: (r["status"] != "overdue", r["due"]))


def _other_party(doc: dict[str, Any], actor: Actor) -> dict[str, str]:
    mine = actor.party_id == doc["requesting_party"]["id"]
    other: dict[str, str] = doc["requested_party"] if mine else doc["requesting_party"]
    return other


def _summary(doc: dict[str, Any], actor: Actor, catalogue: Catalogue, now: datetime) -> dict[str, Any]:
    rtype = catalogue.request_types.get(doc["type"] or "")
    return {
        "doc": doc,
        "type_title": rtype.title if rtype else None,
        "other": _other_party(doc, actor),
        "clock": pressing_clock(clock_rows(doc, now)),
    }


# -- inbox, outbox, notifications ------------------------------------------------------------------------------


@router.get("/cooperation")
def inbox_page(request: Request, actor: PageActor) -> Response:
    node = node_of(request)
    requests = node.cooperation_requests
    now = node.clock.now()
    boxes = {box: requests.listing(actor, box, UI_PURPOSE) for box in ("inbox", "outbox")}
    context = {
        "inbox": [_summary(v.document(), actor, requests.catalogue, now) for v in boxes["inbox"]],
        "outbox": [_summary(v.document(), actor, requests.catalogue, now) for v in boxes["outbox"]],
        "notifications": requests.notifications(actor, NOTIFICATIONS_SHOWN),
        "can_draft": actor.holds(Permission.DRAFT_COOPERATION),
        "shown": NOTIFICATIONS_SHOWN,
    }
    return _render(request, "cooperation/index.html", context)


# -- step 1: a new request -------------------------------------------------------------------------------------


def _languages(catalogue: Catalogue) -> list[str]:
    return sorted({code for party in catalogue.parties.values() for code in party.get("languages", [])})


def _new_page(
    request: Request, actor: Actor, form: dict[str, Any], error: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    node = node_of(request)
    catalogue = node.cooperation_requests.catalogue
    context = {
        "types": list(catalogue.request_types.values()),
        "instruments": catalogue.document["instruments"],
        "parties": [p for p in node.identity.list_parties(actor) if p.id != actor.party_id],
        "urgencies": URGENCIES,
        "languages": _languages(catalogue),
        "form": form,
        "error": error,
    }
    return _render(request, "cooperation/new.html", context, status_code)


@router.get("/cooperation/new")
def new_page(
    request: Request, actor: PageActor, chosen: Annotated[str, Query(alias="type", max_length=64)] = ""
) -> Response:
    node_of(request).identity.authorize(actor, Permission.DRAFT_COOPERATION)
    return _new_page(request, actor, {"type": chosen, "urgency": "routine", "language": "en"})


@router.post("/cooperation/new")
def create_request(
    request: Request,
    actor: PageActor,
    typed: FormBody,
    request_type: Annotated[str, Form(alias="type", max_length=64)] = "",
    instrument: Annotated[str, Form(max_length=16)] = "",
    requested_party: Annotated[str, Form(max_length=200)] = "",
    urgency: Annotated[str, Form(max_length=16)] = "routine",
    language: Annotated[str, Form(max_length=8)] = "",
    case_reference: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    form = echo(typed)
    try:
        if not requested_party:
            raise InvalidInput("requested_party", "choose the party the request goes to")
        view = node_of(request).cooperation_requests.create(
            actor,
            request_type=request_type,
            instrument=instrument,
            requested_party=requested_party,
            fields={},
            urgency=urgency,
            language=language.strip() or None,
            case_reference=case_reference.strip() or None,
        )
    except NotFound:
        error = _error("new", InvalidInput("requested_party", "not a party known to this node"))
        return _new_page(request, actor, form, error, 422)
    except FORM_ERRORS as exc:
        return _new_page(request, actor, form, _error("new", exc), problem_kind(exc).status)
    return RedirectResponse(f"/cooperation/requests/{quote(view.row.id)}/edit", status_code=303)


# -- step 2: the request's elements ----------------------------------------------------------------------------


def _stored_values(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc["fields"], **{code: doc[code] for code in (*ENVELOPE_FIELDS, "urgency")}}


def _offence_groups(catalogue: Catalogue, countries: list[str]) -> list[dict[str, Any]]:
    """Convention offences, then the national offences of the two parties' countries (catalogue data)."""
    groups: list[dict[str, Any]] = [
        {
            "country": None,
            "offences": [(code, f"{o['title']} ({o['article']})") for code, o in catalogue.offences.items()],
        }
    ]
    for country in dict.fromkeys(countries):
        party = catalogue.party(country) or {}
        offences = [(o["code"], o["title"]) for o in party.get("national_offences", [])]
        if offences:
            groups.append({"country": party.get("name", country), "offences": offences})
    return groups


def _edit_page(
    request: Request,
    actor: Actor,
    request_id: str,
    *,
    values: dict[str, Any] | None = None,
    problems: dict[str, list[dict[str, str]]] | None = None,
    status_code: int = 200,
    saved: bool = False,
) -> Response:
    node = node_of(request)
    requests = node.cooperation_requests
    doc = requests.get(actor, request_id, UI_PURPOSE).document()
    if doc["state"] != states.DRAFT:
        return _to_request(request_id)
    catalogue = requests.catalogue
    rtype = catalogue.request_types.get(doc["type"] or "")
    required: list[FieldRow] = []
    optional: list[FieldRow] = []
    if rtype is not None and doc["instrument"] in rtype.instruments:
        required, optional = form_rows(catalogue, rtype, doc["instrument"])
    names = {row.code for row in required}
    parties = node.identity.parties_by_id({doc["requesting_party"]["id"], doc["requested_party"]["id"]})
    countries = [parties[doc[side]["id"]].country for side in ("requesting_party", "requested_party")]
    requested_country = catalogue.party(countries[1]) or {}
    context = {
        "doc": doc,
        "rtype": rtype,
        "types": list(catalogue.request_types.values()),
        "instruments": catalogue.document["instruments"],
        "required": required,
        "optional": optional,
        "envelope": [FieldRow(c, catalogue.fields[c], None) for c in ENVELOPE_FIELDS if c not in names],
        "article": instrument_label(catalogue, rtype, doc["instrument"]) if rtype and required else None,
        "values": values if values is not None else _stored_values(doc),
        "problems": problems or {},
        "blocking": by_field(doc["blocking"]),
        "lint": by_field([{**f, "reason": f["message"]} for f in doc["lint"]]),
        "offence_groups": _offence_groups(catalogue, countries),
        "categories": {
            c: catalogue.document["data_categories"][c]["title"] for c in (rtype.data_categories if rtype else ())
        },
        "authorities": {
            "requesting_authority": [a["name"] for a in (catalogue.party(countries[0]) or {}).get("authorities", [])],
            "requested_authority": [a["name"] for a in requested_country.get("authorities", [])],
        },
        "accepted_languages": requested_country.get("languages", []),
        "languages": _languages(catalogue),
        "urgencies": URGENCIES,
        "identifier_lines": identifier_lines,
        "min_rows": MIN_DATA_ROWS,
        "saved": saved,
    }
    return _render(request, "cooperation/edit.html", context, status_code)


@router.get("/cooperation/requests/{request_id}/edit")
def edit_page(request: Request, actor: PageActor, request_id: str, saved: Annotated[bool, Query()] = False) -> Response:
    return _edit_page(request, actor, request_id, saved=saved)


@router.post("/cooperation/requests/{request_id}/edit")
def save_request(request: Request, actor: PageActor, request_id: str, form: FormBody) -> Response:
    requests = node_of(request).cooperation_requests
    doc = requests.get(actor, request_id, UI_PURPOSE).document()
    catalogue = requests.catalogue
    changes: dict[str, Any] = {}
    chosen = {"type": form_text(form, "type"), "instrument": form_text(form, "instrument")}
    if chosen["type"] or chosen["instrument"]:
        changes.update({k: v for k, v in chosen.items() if v})  # a draft opened from a hit gets its type here
    rtype = catalogue.request_types.get(doc["type"] or "")
    values = _stored_values(doc)
    problems: dict[str, list[dict[str, str]]] = {}
    if rtype is not None and doc["instrument"] in rtype.instruments and not changes:
        required, optional = form_rows(catalogue, rtype, doc["instrument"])
        names = {row.code for row in required}
        envelope = [FieldRow(c, catalogue.fields[c], None) for c in ENVELOPE_FIELDS if c not in names]
        values, problems = parse_fields(form, [*required, *optional, *envelope], doc["fields"])
        values["urgency"] = form_text(form, "urgency") or doc["urgency"]
        changes = {
            "fields": {k: v for k, v in values.items() if k not in (*ENVELOPE_FIELDS, "urgency")},
            **{code: values.get(code) for code in ENVELOPE_FIELDS},
            "urgency": values["urgency"],
        }
    if not problems:
        try:
            requests.update(actor, request_id, changes)
        except FORM_ERRORS as exc:
            problems, status = _problems(exc), problem_kind(exc).status
            if not problems:
                problems = {"state": [{"field": "state", "reason": str(exc)}]}
            return _edit_page(request, actor, request_id, values=values, problems=problems, status_code=status)
        if form.get("then") == "review":
            return _to_request(request_id)
        return RedirectResponse(f"/cooperation/requests/{quote(request_id)}/edit?saved=true", status_code=303)
    return _edit_page(request, actor, request_id, values=values, problems=problems, status_code=422)


# -- the request page ------------------------------------------------------------------------------------------


def instrument_label(catalogue: Catalogue, rtype: RequestType, instrument: str) -> str:
    """``UN 42``, or ``Bilateral · applicable bilateral MLA treaty`` when the article does not name its instrument."""
    short = str(catalogue.document["instruments"][instrument]["short"])
    article = rtype.rules(instrument).article
    return article if article.startswith(short) else f"{short} · {article}"


def _acting_sides(actor: Actor, doc: dict[str, Any]) -> set[str]:
    """The sides of the request the viewer may act for: their party's side, if their roles allow it."""
    sides = set()
    for side, party in (("requesting", "requesting_party"), ("requested", "requested_party")):
        if (actor.via == "operator" or actor.party_id == doc[party]["id"]) and actor.holds(SIDE_PERMISSION[side]):
            sides.add(side)
    return sides


def grounds_for(catalogue: Catalogue, rtype: RequestType, instrument: str, to: str) -> list[dict[str, Any]]:
    """The grounds this type allows under this instrument for a refusal or postponement, never a forbidden one."""
    rules = rtype.rules(instrument)
    allowed = rules.refusal_grounds if to == states.REFUSED else rules.postponement_grounds | rules.refusal_grounds
    return [{"code": g, **catalogue.grounds[g]} for g in sorted(allowed - rules.forbidden_grounds)]


def _display_rows(catalogue: Catalogue, doc: dict[str, Any], rtype: RequestType | None) -> list[dict[str, Any]]:
    """Every element: the required ones first (with their article), then the others the request carries."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    if rtype is not None and doc["instrument"] in rtype.instruments:
        for req in rtype.rules(doc["instrument"]).required:
            value = doc["fields"].get(req.field, doc.get(req.field) if req.field in ENVELOPE_FIELDS else None)
            rows.append(
                {"code": req.field, "spec": catalogue.fields[req.field], "article": req.article, "value": value}
            )
            seen.add(req.field)
    order = [c for c in catalogue.fields if c in doc["fields"]] + sorted(set(doc["fields"]) - set(catalogue.fields))
    for code in order:
        if code not in seen:
            rows.append(
                {"code": code, "spec": catalogue.fields.get(code), "article": None, "value": doc["fields"][code]}
            )
    return rows


def _request_page(
    request: Request,
    actor: Actor,
    request_id: str,
    *,
    error: dict[str, Any] | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    node = node_of(request)
    requests = node.cooperation_requests
    catalogue = requests.catalogue
    doc = requests.get(actor, request_id, UI_PURPOSE).document()
    rtype = catalogue.request_types.get(doc["type"] or "")
    instrument = doc["instrument"] if rtype is not None and doc["instrument"] in rtype.instruments else None
    sides = _acting_sides(actor, doc)
    table = states.TRANSITIONS.get(doc["state"], {})
    actions = [to for to in doc["next_states"] if to in table and table[to].value in sides]
    hold = doc["hold"]
    hold_table = states.HOLD_TRANSITIONS.get(hold["state"], {}) if hold else {}
    open_request = doc["sent_at"] is not None and doc["state"] not in states.FINAL
    field_problems = by_field(doc["blocking"])
    if error and error["form"] in (states.SENT, states.PENDING_APPROVAL):
        field_problems = {**field_problems, **error["problems"]}
    asked = [h for h in doc["history"] if h["machine"] == "request" and h["to"] == states.NEEDS_MORE_INFORMATION]
    context = {
        "doc": doc,
        "rtype": rtype,
        "article": instrument_label(catalogue, rtype, instrument) if rtype and instrument else None,
        "rows": _display_rows(catalogue, doc, rtype),
        "field_problems": field_problems,
        "lint": doc["lint"],
        "clocks": clock_rows(doc, node.clock.now()),
        "actions": actions,
        "form_actions": [to for to in actions if to in FORM_ACTIONS or (to, doc["state"]) == INFORMATION_GIVEN],
        "grounds": {
            to: grounds_for(catalogue, rtype, instrument, to)
            for to in (states.REFUSED, states.POSTPONED)
            if to in actions and rtype and instrument
        },
        "offence_check": bool(rtype and rtype.requires_offence_class),
        "hold_actions": [to for to, side in hold_table.items() if side.value in sides],
        "message_kinds": [k for k, side in MESSAGE_SIDES.items() if side.value in sides] if open_request else [],
        "asked": asked[-1] if asked else None,
        "can_edit": doc["state"] == states.DRAFT and "requesting" in sides,
        "categories": {c: v["title"] for c, v in catalogue.document["data_categories"].items()},
        "offence_titles": _offence_titles(catalogue),
        "grounds_titles": {g: v["title"] for g, v in catalogue.grounds.items()},
        "error": error,
        "form": form or {},
    }
    status_code = error["status"] if error else 200
    return _render(request, "cooperation/request.html", context, status_code)


def _offence_titles(catalogue: Catalogue) -> dict[str, str]:
    titles = {code: o["title"] for code, o in catalogue.offences.items()}
    for party in catalogue.parties.values():
        titles.update({o["code"]: o["title"] for o in party.get("national_offences", [])})
    return titles


@router.get("/cooperation/requests/{request_id}")
def request_page(request: Request, actor: PageActor, request_id: str) -> Response:
    return _request_page(request, actor, request_id)


@router.post("/cooperation/requests/{request_id}/transitions")
def transition(
    request: Request,
    actor: PageActor,
    request_id: str,
    typed: FormBody,
    to: Annotated[str, Form(max_length=32)],
    grounds: Annotated[list[str] | None, Form(max_length=20)] = None,
    reasons: Annotated[str, Form(max_length=4000)] = "",
    approved_by: Annotated[str, Form(max_length=200)] = "",
    partial_considered: Annotated[bool, Form()] = False,
    note: Annotated[str, Form(max_length=4000)] = "",
    override_reasons: Annotated[str, Form(max_length=4000)] = "",
    conduct: Annotated[str, Form(max_length=4000)] = "",
    domestic_offence: Annotated[str, Form(max_length=500)] = "",
    fulfilled: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    assessment = None
    if conduct.strip() or domestic_offence.strip() or fulfilled:
        # Dual criminality is assessed on the conduct (UN 35(2), BC 25(5)); "fulfilled" stays unset unless chosen.
        verdict = {"yes": True, "no": False}.get(fulfilled)
        assessment = {
            "conduct": conduct.strip(),
            "domestic_offence": domestic_offence.strip() or None,
            "fulfilled": verdict,
        }
    decision = Decision(
        grounds=tuple(g for g in grounds or [] if g),
        reasons=reasons.strip() or None,
        approved_by=approved_by.strip() or None,
        partial_considered=True if partial_considered else None,
        note=note.strip() or None,
        dual_criminality=assessment,
        override_reasons=override_reasons.strip() or None,
    )
    try:
        node_of(request).cooperation_requests.transition(actor, request_id, to, decision)
    except FORM_ERRORS as exc:
        return _request_page(request, actor, request_id, error=_error(to, exc), form=echo(typed, "grounds"))
    return _to_request(request_id, "#history")


def until_time(local: str, offset: str) -> datetime:
    """The new expiry of a hold from a datetime-local input and its UTC offset (never assumed)."""
    try:
        moment = datetime.fromisoformat(local.strip())
    except ValueError:
        raise InvalidInput("until", "a date and time such as 2027-03-01T17:00") from None
    if moment.tzinfo is not None:
        return moment
    try:
        return datetime.fromisoformat(f"{local.strip()}{offset.strip().replace('Z', '+00:00')}")
    except ValueError:
        raise InvalidInput("until", "the UTC offset of that time, such as +07:00") from None


@router.post("/cooperation/requests/{request_id}/hold")
def hold_transition(
    request: Request,
    actor: PageActor,
    request_id: str,
    typed: FormBody,
    to: Annotated[str, Form(max_length=32)],
    until: Annotated[str, Form(max_length=40)] = "",
    until_offset: Annotated[str, Form(max_length=6)] = "",
    justification: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    try:
        moment = until_time(until, until_offset) if to == states.HOLD_EXTENDED else None
        node_of(request).cooperation_requests.hold_transition(
            actor, request_id, to, until=moment, justification=justification.strip() or None
        )
    except FORM_ERRORS as exc:
        form = {**echo(typed), "hold_to": to}
        return _request_page(request, actor, request_id, error=_error(f"hold-{to}", exc), form=form)
    return _to_request(request_id, "#hold")


@router.post("/cooperation/requests/{request_id}/messages")
def send_message(
    request: Request,
    actor: PageActor,
    request_id: str,
    typed: FormBody,
    kind: Annotated[str, Form(max_length=40)],
    text: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    try:
        node_of(request).cooperation_requests.message(actor, request_id, kind, text)
    except FORM_ERRORS as exc:
        return _request_page(request, actor, request_id, error=_error("message", exc), form=echo(typed))
    return _to_request(request_id, "#history")


@router.get("/cooperation/requests/{request_id}/document.json")
def document_json(request: Request, actor: PageActor, request_id: str) -> Response:
    response = api.request_json(request, request_id, actor, DOCUMENT_PURPOSE)
    response.headers["Content-Disposition"] = f'attachment; filename="{request_id}.json"'
    return response


@router.get("/cooperation/requests/{request_id}/document.pdf")
def document_pdf(request: Request, actor: PageActor, request_id: str) -> Response:
    return api.request_pdf(request, request_id, actor, DOCUMENT_PURPOSE)


# -- overdue dashboard -----------------------------------------------------------------------------------------


def on_duty_contact(node: Node, actor: Actor, party_id: str) -> EntryView | None:
    """The party's 24/7 point of contact on duty now, first in escalation order (directory data)."""
    if not actor.holds(Permission.VIEW_DIRECTORY):
        return None
    entries = node.directory.entries(actor, party_id)
    return next((e for e in entries if e.role == ON_DUTY_ROLE and e.on_duty_now), None)


@router.get("/cooperation/overdue")
def overdue_page(request: Request, actor: PageActor) -> Response:
    node = node_of(request)
    requests = node.cooperation_requests
    now = node.clock.now()
    contacts: dict[str, EntryView | None] = {}
    rows = []
    for view in requests.listing(actor, "overdue", UI_PURPOSE):
        doc = view.document()
        summary = _summary(doc, actor, requests.catalogue, now)
        other = summary["other"]["id"]
        if other not in contacts:
            contacts[other] = on_duty_contact(node, actor, other)
        for clock in clock_rows(doc, now):
            if clock["status"] == "overdue" and clock["late_minutes"] is not None:
                rows.append({**summary, "clock": clock, "contact": contacts[other]})
    rows.sort(key=lambda r: -int(r["clock"]["late_minutes"]))
    return _render(request, "cooperation/overdue.html", {"rows": rows, "now": now})


# -- the 24/7 directory ----------------------------------------------------------------------------------------


def _directory_page(
    request: Request,
    actor: Actor,
    *,
    error: dict[str, Any] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    node = node_of(request)
    entries = sorted(node.directory.entries(actor), key=lambda e: (e.country, e.party_name))
    can_manage = actor.holds(Permission.MANAGE_PARTIES)
    context = {
        "groups": [(party, list(group)) for party, group in groupby(entries, key=lambda e: (e.party_name, e.country))],
        "can_manage": can_manage,
        "parties": node.identity.list_parties(actor) if can_manage else [],
        "roles": ROLES,
        "channels": CHANNELS,
        "error": error,
        "form": form or {"escalation_order": "1", "hours": "24/7"},
    }
    return _render(request, "cooperation/directory.html", context, status_code)


@router.get("/cooperation/directory")
def directory_page(request: Request, actor: PageActor) -> Response:
    return _directory_page(request, actor)


@router.post("/cooperation/directory")
def add_directory_entry(
    request: Request,
    actor: PageActor,
    typed: FormBody,
    party: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=40)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    hours: Annotated[str, Form(max_length=300)] = "",
    time_zone: Annotated[str, Form(max_length=64)] = "",
    languages: Annotated[str, Form(max_length=200)] = "",
    channels: Annotated[list[str] | None, Form(max_length=10)] = None,
    phone: Annotated[str, Form(max_length=40)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    escalation_order: Annotated[str, Form(max_length=4)] = "1",
) -> Response:
    form = echo(typed, "channels")
    try:
        if not escalation_order.strip().isdigit():
            raise InvalidInput("escalation_order", "a whole number from 1 to 99")
        entry = node_of(request).directory.add(
            actor,
            party=party,
            role=role,
            name=name,
            hours=hours,
            time_zone=time_zone.strip(),
            languages=[code for code in languages.replace(",", " ").split() if code],
            channels=channels or [],
            phone=phone.strip() or None,
            email=email.strip() or None,
            escalation_order=int(escalation_order),
        )
    except NotFound:
        error = _error("directory", InvalidInput("party", "not a party known to this node"))
        return _directory_page(request, actor, error=error, form=form, status_code=422)
    except InvalidInput as exc:
        return _directory_page(request, actor, error=_error("directory", exc), form=form, status_code=422)
    return RedirectResponse(f"/cooperation/directory#entry-{quote(entry.id)}", status_code=303)


@router.post("/cooperation/directory/{entry_id}/verification")
def verify_directory_entry(request: Request, actor: PageActor, entry_id: str) -> Response:
    entry = node_of(request).directory.verify(actor, entry_id)
    return RedirectResponse(f"/cooperation/directory#entry-{quote(entry.id)}", status_code=303)
