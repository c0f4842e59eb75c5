"""Demo intelligence: MITRE ATT&CK (enterprise) and synthetic scam reports from Viet Nam, the Philippines and
Ghana — phones, IBANs and Vietnamese bank accounts, wallets, scam URLs on private suffixes — several of them
reported in more than one country, so search shows cross-border hits.

The synthetic reports are invented; their identifiers are well-formed (checksums pass) but belong to nobody
we know of: phone numbers from unassigned-looking ranges, IBANs built from bank test codes, published
address test vectors for wallets.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accord.identity.actor import Actor
from accord.intel.service import IntelService
from accord.intel.vocabulary import MARKING_ID_FOR, Tlp

NAMESPACE = uuid.UUID("1f0c2a9e-3b7d-5e61-9a48-0c6d2b7e5f13")
ATTACK_FILE = "enterprise-attack-18.1-stix21.json"
CREATED = "2026-11-20T03:00:00.000Z"

# (value as a victim or bank reported it, STIX object path) — the first column is raw, on purpose.
SHARED_WALLET = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"  # BIP-173 test vector
REPORTS: dict[str, list[tuple[str, str, str]]] = {
    # party name: [(name, pattern, tlp)]
    "Ministry of Public Security — Dept. of Cybersecurity and High-Tech Crime Prevention (A05)": [
        ("Fake bank hotline (SMS 'account locked')", "[phone-number:value = '091 234 5678']", "green"),
        ("Mule account, investment scam", "[bank-account:account_number = '0071000123456']", "amber"),
        ("Crypto 'pig butchering' deposit wallet", f"[cryptocurrency-wallet:value = '{SHARED_WALLET}']", "green"),
        ("Phishing page imitating a bank", "[url:value = 'http://vcb-hotro.blogspot.com/dang-nhap']", "green"),
        ("Scam call centre VoIP number", "[phone-number:value = '+84 24 3935 1234']", "amber"),
    ],
    "Philippine National Police — Anti-Cybercrime Group": [
        ("Same deposit wallet, romance scam", f"[cryptocurrency-wallet:value = '{SHARED_WALLET}']", "green"),
        ("Recruiter number, forced-labour compound", "[phone-number:value = '0917 555 0142']", "amber"),
        (
            "Payout wallet (Ethereum)",
            "[cryptocurrency-wallet:value = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed']",
            "green",
        ),
    ],
    "Ghana Police Service — Cybercrime Unit": [
        ("Advance-fee fraud, receiving IBAN", "[bank-account:iban = 'GB82 WEST 1234 5698 7654 32']", "green"),
        ("Same Vietnamese hotline seen in Ghana", "[phone-number:value = '+84912345678']", "green"),
    ],
    "Demo Commercial Bank (Viet Nam)": [
        (
            "Account receiving victim transfers (internal)",
            "[bank-account:iban = 'DE89 3704 0044 0532 0130 00']",
            "amber+strict",
        ),
    ],
}


@dataclass(frozen=True)
class DemoIntel:
    attack_objects: int
    scam_reports: int


def scam_bundle_for(party: str) -> list[dict[str, Any]]:
    objects = []
    for index, (name, pattern, tlp) in enumerate(REPORTS[party]):
        object_id = f"indicator--{uuid.uuid5(NAMESPACE, f'{party}/{index}')}"
        objects.append(
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": object_id,
                "created": CREATED,
                "modified": CREATED,
                "name": name,
                "indicator_types": ["malicious-activity"],
                "pattern": pattern,
                "pattern_type": "stix",
                "valid_from": "2026-11-20T03:00:00Z",
                "object_marking_refs": [MARKING_ID_FOR[Tlp(tlp)]],
            }
        )
    return objects


def seed_intel(intel: IntelService, operator: Actor, party_ids: dict[str, str], data_dir: Path | None) -> DemoIntel:
    attack = 0
    attack_path = data_dir / ATTACK_FILE if data_dir else None
    if attack_path is not None and attack_path.exists():
        objects = json.loads(attack_path.read_text(encoding="utf-8"))["objects"]
        report = intel.import_objects(
            operator, objects, tlp=Tlp.CLEAR, owner=party_ids[next(iter(REPORTS))], source=f"demo {ATTACK_FILE}"
        )
        attack = len(report.successes)
    scams = 0
    for party in REPORTS:
        report = intel.import_objects(operator, scam_bundle_for(party), owner=party_ids[party], source="demo scams")
        if report.failures:
            raise RuntimeError(f"demo data does not validate: {report.failures[:3]}")
        scams += len(report.successes)
    return DemoIntel(attack_objects=attack, scam_reports=scams)
