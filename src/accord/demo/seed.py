"""Seed parties and users for the demo node (Viet Nam, with partners in the Philippines and Ghana).

Government bodies are named as they really are, so the roles read true; companies are fictional ("Demo ...").
Passwords are generated on every run and printed once: the demo has no default password either.
"""

from __future__ import annotations

from dataclasses import dataclass

from accord.identity.actor import Actor
from accord.identity.service import IdentityService

DEMO_NODE_NAME = "Viet Nam — A05 cybercrime unit (demo)"
DEMO_NODE_COUNTRY = "VN"

PARTIES: list[tuple[str, str, str]] = [
    (
        "Ministry of Public Security — Dept. of Cybersecurity and High-Tech Crime Prevention (A05)",
        "law_enforcement",
        "VN",
    ),
    ("Viet Nam 24/7 point of contact (Art. 41)", "point_of_contact", "VN"),
    ("Supreme People's Procuracy — International Cooperation and MLA Department", "central_authority", "VN"),
    ("VNCERT/CC — Viet Nam Cybersecurity Emergency Response Teams", "cert", "VN"),
    ("Demo Commercial Bank (Viet Nam)", "bank", "VN"),
    ("Demo Mobile Telecom (Viet Nam)", "telecom", "VN"),
    ("Philippine National Police — Anti-Cybercrime Group", "law_enforcement", "PH"),
    ("Department of Justice — Office of Cybercrime (Philippines)", "central_authority", "PH"),
    ("Demo Digital Asset Exchange (Philippines)", "virtual_asset_provider", "PH"),
    ("Ghana Police Service — Cybercrime Unit", "law_enforcement", "GH"),
    ("Cyber Security Authority (Ghana)", "cert", "GH"),
    ("INTERPOL — Cybercrime Directorate", "international_org", "SG"),
]

# (user name, full name, party index in PARTIES, roles)
USERS: list[tuple[str, str, int, list[str]]] = [
    ("admin", "Node administrator", 0, ["admin"]),
    ("lan.nguyen", "Nguyễn Thị Lan", 0, ["analyst"]),
    ("minh.tran", "Trần Văn Minh", 1, ["point_of_contact", "analyst"]),
    ("hoa.pham", "Phạm Thu Hoa", 2, ["central_authority"]),
    ("fraud.desk", "Fraud desk, Demo Commercial Bank", 4, ["partner"]),
    ("dpo", "Data-protection officer", 0, ["auditor"]),
    ("jose.reyes", "José Reyes", 6, ["analyst", "point_of_contact"]),
]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    party: str
    roles: list[str]


def seed_identity(identity: IdentityService, operator: Actor) -> tuple[list[DemoLogin], dict[str, str]]:
    """Create the parties and users; returns the logins and the party ids by name."""
    parties = [identity.add_party(operator, name, kind, country) for name, kind, country in PARTIES]
    logins = []
    for username, full_name, party_index, roles in USERS:
        user, password = identity.add_user(operator, username, parties[party_index].id, roles, display_name=full_name)
        if password is None:  # pragma: no cover - add_user generates one when none is given
            raise RuntimeError("expected a generated password")
        logins.append(DemoLogin(user.username, password, parties[party_index].name, roles))
    return logins, {party.name: party.id for party in parties}
