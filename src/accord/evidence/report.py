"""The chain-of-custody report for the court file: a PDF (WeasyPrint) of items, their custody and the checks.

It is rendered from the same records a package carries (the package statement's items and the custody events'
bodies), so a receiving country can print it from a verified package, and the holding node from its own log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from accord.evidence.verify import PackageReport, Step

_ENV = Environment(loader=PackageLoader("accord.evidence", "templates"), autoescape=select_autoescape(["html"]))


@dataclass(frozen=True)
class ReportCheckpoint:
    origin: str
    tree_size: int
    root_hash: str
    vkey: str


def _event_row(index: int, leaf_hash: str, document: dict[str, Any]) -> dict[str, Any]:
    details = document.get("details") or {}
    return {
        "index": index,
        "at": str(document.get("at", "")).replace("T", " ")[:19],
        "kind": document.get("kind"),
        "actor": document.get("actor"),
        "purpose": document.get("purpose"),
        "details": sorted((str(k), str(v)) for k, v in details.items()),
        "leaf_hash": leaf_hash,
    }


def render_custody_report(
    *,
    title: str,
    subject: Sequence[tuple[str, str]],
    items: Sequence[dict[str, Any]],
    events: Sequence[tuple[int, str, dict[str, Any]]],
    checkpoint: ReportCheckpoint,
    steps: Sequence[Step] = (),
    generated_at: datetime,
) -> bytes:
    """``items`` are package-statement item documents; ``events`` are (log index, leaf hash hex, event body)."""
    from weasyprint import HTML  # imported here: loading Pango costs a second that most commands never need

    rows: dict[str, list[dict[str, Any]]] = {}
    for index, leaf_hash, document in events:
        rows.setdefault(str(document.get("item")), []).append(_event_row(index, leaf_hash, document))
    html = _ENV.get_template("custody_report.html").render(
        title=title,
        subject=list(subject),
        items=[{**item, "events": rows.get(str(item.get("id")), [])} for item in items],
        checkpoint=checkpoint,
        steps=list(steps),
        footer=f"Accord chain-of-custody report, generated {generated_at.strftime('%Y-%m-%d %H:%M UTC')}",
    )
    pdf: bytes = HTML(string=html).write_pdf()
    return pdf


def package_report_pdf(report: PackageReport, vkey: str, generated_at: datetime) -> bytes:
    """The report of a package as verified (every step, passed or failed, is printed)."""
    statement = report.statement or {}
    checkpoint = report.checkpoint
    events = [
        # The leaf hash computed by the verifier, never the one the package claims.
        (int(e["index"]), e["_leaf"].hex(), e["_document"])
        for e in report.custody
        if "_leaf" in e
    ]
    party = statement.get("party") or {}
    return render_custody_report(
        title="Chain-of-custody report: evidence package",
        subject=[
            ("Package", str(statement.get("package_id", "unknown"))),
            ("Package file", report.path),
            ("Made by", f"{party.get('name', '?')} ({party.get('country') or '—'}), node {statement.get('node_id')}"),
            ("Made at", str(statement.get("created_at", ""))),
            ("Purpose", str(statement.get("purpose") or "")),
            ("Recipient", str(statement.get("recipient") or "—")),
            ("Verification", "every step passed" if report.ok else "FAILED — see below"),
        ],
        items=list(statement.get("items") or []),
        events=events,
        checkpoint=ReportCheckpoint(
            origin=checkpoint.origin if checkpoint else "—",
            tree_size=checkpoint.tree_size if checkpoint else 0,
            root_hash=checkpoint.root_hash.hex() if checkpoint else "—",
            vkey=vkey,
        ),
        steps=report.steps,
        generated_at=generated_at,
    )


def item_report_pdf(
    item: dict[str, Any],
    custody: Sequence[dict[str, Any]],
    checkpoint: ReportCheckpoint,
    holder: str,
    generated_at: datetime,
) -> bytes:
    """The report of one item as this node holds it: ``item`` is ``ItemView.document()``; ``custody`` are
    ``CustodyEntry.as_json()`` documents, whose inclusion proofs the report's reader can check in a package."""
    return render_custody_report(
        title="Chain-of-custody report: evidence item",
        subject=[
            ("Item", str(item["id"])),
            ("Held by", holder),
            ("State", str(item["state"])),
            ("Received from node", str(item.get("origin_node_id") or "—")),
        ],
        items=[item],
        events=[(int(e["index"]), str(e["leaf_hash"]), dict(e["event"])) for e in custody],
        checkpoint=checkpoint,
        generated_at=generated_at,
    )
