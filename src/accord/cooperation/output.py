"""A request as a document: JSON and a printable PDF in the form's layout, both carrying one content hash.

The JSON form is the request's content (envelope, every field, the elements its type and instrument require
with their articles, the catalogue version); its SHA-256 over the RFC 8785 canonical bytes is the content hash.
The PDF prints the same content and the same hash, so a paper copy in a court file can be matched to the
electronic request, and two nodes can tell they hold the same request.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from accord.canonical_json import canonical_bytes
from accord.cooperation.catalogue import Catalogue

FORMAT = "accord-cooperation-request/1"
_ENV = Environment(loader=PackageLoader("accord.cooperation", "templates"), autoescape=select_autoescape(["html"]))


def request_document(view: dict[str, Any], catalogue: Catalogue) -> dict[str, Any]:
    """The request's content from its API view (history and clocks are not content: they change)."""
    fields = view["fields"]
    rtype = catalogue.request_types.get(view["type"] or "")
    required = rtype.rules(view["instrument"]).required if rtype and view["instrument"] else ()
    required_names = {r.field for r in required}
    return {
        "format": FORMAT,
        "catalogue_version": view["catalogue_version"],
        "request": {
            "id": view["id"],
            "reference": view["reference"],
            "type": view["type"],
            "instrument": view["instrument"],
            "state": view["state"],
            "urgency": view["urgency"],
            "language": view["language"],
            "case_reference": view["case_reference"],
            "requesting_party": view["requesting_party"]["name"],
            "requested_party": view["requested_party"]["name"],
            "sent_at": view["sent_at"],
            "confidential": bool(fields.get("confidential")),
            "do_not_notify_user": bool(fields.get("do_not_notify_user")),
        },
        "type": {
            "title": rtype.title if rtype else None,
            "article": rtype.rules(view["instrument"]).article if rtype and view["instrument"] else None,
        },
        "required": [
            {
                "field": r.field,
                "title": catalogue.fields[r.field].title,
                "article": r.article,
                "value": _value_of(r.field, fields, view),
            }
            for r in required
        ],
        "other": [
            {"field": name, "title": catalogue.fields[name].title if name in catalogue.fields else name, "value": value}
            for name, value in sorted(fields.items())
            if name not in required_names and name not in ("confidential", "do_not_notify_user")
        ],
    }


def _value_of(name: str, fields: dict[str, Any], view: dict[str, Any]) -> Any:
    if name in fields:
        return fields[name]
    return view.get(name)  # case reference and language live on the envelope


def content_hash(document: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(document)).hexdigest()


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    if isinstance(value, list):
        return "\n".join(_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {_text(v)}" for k, v in value.items())
    return json.dumps(value, ensure_ascii=False)


def render_pdf(document: dict[str, Any]) -> bytes:
    from weasyprint import HTML  # loaded only when a PDF is asked for (Pango takes a second to load)

    printable = {
        **document,
        "required": [{**e, "text": _text(e["value"])} for e in document["required"]],
        "other": [{**e, "text": _text(e["value"])} for e in document["other"]],
    }
    html = _ENV.get_template("request.html").render(doc=printable, content_hash=content_hash(document))
    pdf: bytes = HTML(string=html).write_pdf()
    return pdf
