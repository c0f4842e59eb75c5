"""Demo evidence: a small seized-phone extraction and a telecom's production, with their custody and a package.

The phone extraction is a real SQLite database (the format phone messaging apps keep), holding the scam text
messages that point at the demo's scam hotline and deposit wallet; the production is the subscriber record the
telecom returned under a production order. Both are fictional, built here on every run.
"""

from __future__ import annotations

import sqlite3
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from accord.audit.service import Disclosure
from accord.demo.intel import SHARED_WALLET
from accord.evidence.service import ItemMetadata
from accord.identity.actor import Actor
from accord.node import Node

CASE = "VN-A05-2026-0117"
POLICE = "Ministry of Public Security — Dept. of Cybersecurity and High-Tech Crime Prevention (A05)"
MESSAGES = [
    ("+84912345678", "2026-10-02T08:14:00+07:00", "Vietcombank: your account is locked. Call 091 234 5678 now."),
    ("+84912345678", "2026-10-02T08:31:00+07:00", f"Deposit the fee to {SHARED_WALLET} to unlock your account."),
    ("+639171234567", "2026-10-05T21:02:00+08:00", "Hi dear, my uncle's trading app doubled my money again!"),
]
PRODUCTION = (
    "msisdn,subscriber,id_document,activated,cell_at_first_use\n"
    "+84912345678,TRAN VAN X (prepaid),CCCD 0010xxxxxxx,2026-09-28,HN-CAUGIAY-0412\n"
)


@dataclass(frozen=True)
class DemoEvidence:
    items: list[str]
    package: Path


def _phone_extraction(folder: Path) -> Path:
    path = folder / "sms.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE message (id INTEGER PRIMARY KEY, handle TEXT, date TEXT, text TEXT)")
        db.executemany("INSERT INTO message (handle, date, text) VALUES (?, ?, ?)", MESSAGES)
    db.close()
    return path


def _add(node: Node, actor: Actor, path: Path, meta: ItemMetadata) -> str:
    with path.open("rb") as handle:
        return node.evidence.add_file(actor, handle, meta).id


def seed_evidence(node: Node, operator: Actor, party_ids: dict[str, str]) -> DemoEvidence:
    """Register the two items, record their custody (seal, working copy, analysis), export a package."""
    police = replace(operator, party_id=party_ids[POLICE], username="operator:lan.nguyen")
    collected = datetime(2026, 10, 6, 10, 15, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="accord-demo-") as folder:
        phone = _add(
            node,
            police,
            _phone_extraction(Path(folder)),
            ItemMetadata(
                case_reference=CASE,
                description="Messages database from the victim's phone (logical extraction)",
                source_kind="seized-device",
                collector="Capt. Nguyen Thi Lan, A05 digital forensics",
                collected_at=collected,
                file_name="sms.db",
                media_type="application/vnd.sqlite3",
                place="A05 forensic laboratory, Ha Noi",
                legal_basis="Victim's written consent, 6 Oct 2026; investigation decision 117/QD-A05",
            ),
        )
        production_path = Path(folder) / "subscriber-production.csv"
        production_path.write_text(PRODUCTION, encoding="utf-8")
        production = _add(
            node,
            police,
            production_path,
            ItemMetadata(
                case_reference=CASE,
                description="Subscriber record of +84912345678 produced by Demo Mobile Telecom",
                source_kind="provider-production",
                collector="Demo Mobile Telecom, law-enforcement liaison desk",
                collected_at=datetime(2026, 10, 9, 3, 0, tzinfo=UTC),
                file_name="subscriber-production.csv",
                media_type="text/csv",
                legal_basis="Production order 31/2026/LCA (Convention Art. 27)",
            ),
        )
    node.evidence.record_event(police, phone, "sealed", "original sealed after imaging")
    copy = node.evidence.copy_item(police, phone, "working copy for message analysis")
    node.evidence.record_event(police, copy.id, "analysed", "scam messages and wallet extracted", {"tool": "sqlite3"})
    package = node.settings.home / f"{CASE}.zip"
    node.evidence_packages.export(
        police,
        package,
        Disclosure(purpose="spontaneous information to the Philippine National Police (Art. 40(4))"),
        case_reference=CASE,
        recipient="Philippine National Police — Anti-Cybercrime Group",
    )
    return DemoEvidence([phone, copy.id, production], package)
