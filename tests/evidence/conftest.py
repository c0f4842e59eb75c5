"""Evidence fixtures: a party holding evidence, files to register, and a second node (another country)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from accord.evidence.service import ItemMetadata, ItemView
from accord.identity.actor import Actor
from accord.node import Node

PHONE_DUMP = b"SQLite format 3\x00" + bytes(range(256)) * 64  # a small seized-phone extraction
PRODUCTION = b"subscriber,msisdn,registered\nNguyen Van A,+84912345678,2024-03-01\n"


def acting_for(operator: Actor, party_id: str) -> Actor:
    return replace(operator, party_id=party_id)


@pytest.fixture
def police(node: Node, operator: Actor) -> Actor:
    party = node.identity.add_party(operator, "A05 Cybercrime Unit", "law_enforcement", "VN")
    return acting_for(operator, party.id)


def metadata(file_name: str = "phone.db", case: str = "VN-2026-0042", **extra: object) -> ItemMetadata:
    values: dict[str, object] = {
        "case_reference": case,
        "description": "Full file-system extraction of the suspect's phone",
        "source_kind": "seized-device",
        "collector": "Sgt. Tran Thi B",
        "collected_at": datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
        "file_name": file_name,
        "media_type": "application/vnd.sqlite3",
        "place": "Ha Noi",
        "legal_basis": "Search warrant 17/2026/QD",
    }
    values.update(extra)
    return ItemMetadata(**values)  # type: ignore[arg-type]


def add(node: Node, actor: Actor, data: bytes = PHONE_DUMP, **meta: object) -> ItemView:
    return node.evidence.add_item(actor, [data[i : i + 1000] for i in range(0, len(data), 1000)], metadata(**meta))
