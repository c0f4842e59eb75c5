"""Demo cooperation: a 24/7 directory for the three countries, and the Viet Nam unit's requests to the Philippines
in the demo scam case: a preservation request, an MLA request that keeps that preservation alive, and an
emergency disclosure request still waiting to be acknowledged. All fictional, built on every run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from accord.cooperation.legal import Decision
from accord.demo.evidence import CASE, POLICE
from accord.demo.intel import SHARED_WALLET
from accord.identity.actor import Actor
from accord.node import Node

PNP = "Philippine National Police — Anti-Cybercrime Group"
PH_DOJ = "Department of Justice — Office of Cybercrime (Philippines)"
VN_POC = "Viet Nam 24/7 point of contact (Art. 41)"
VN_CA = "Supreme People's Procuracy — International Cooperation and MLA Department"
GH_POLICE = "Ghana Police Service — Cybercrime Unit"
# (party, role, name, hours, zone, phone, order)
DIRECTORY = [
    (VN_POC, "point_of_contact_24_7", "A05 24/7 duty desk", "24/7", "Asia/Ho_Chi_Minh", "+84 69 234 0000", 1),
    (VN_CA, "central_authority", "MLA Department registry", "Mon-Fri 07:30-16:30", "Asia/Ho_Chi_Minh", None, 1),
    (PNP, "point_of_contact_24_7", "PNP-ACG operations centre", "24/7", "Asia/Manila", "+63 2 8414 1560", 1),
    (PNP, "point_of_contact_24_7", "PNP-ACG duty officer (escalation)", "24/7", "Asia/Manila", "+63 917 000 0001", 2),
    (PH_DOJ, "central_authority", "DOJ Office of Cybercrime", "Mon-Fri 08:00-17:00", "Asia/Manila", None, 1),
    (GH_POLICE, "point_of_contact_24_7", "CID Cybercrime Unit desk", "24/7", "Africa/Accra", "+233 30 000 0000", 1),
]
FACTS = (
    "Since September 2026 victims in Viet Nam received SMS from a fake bank hotline, were told their accounts were "
    "locked and paid 'unlock fees' into a Bitcoin wallet. The replies came from a Philippine mobile number."
)


@dataclass(frozen=True)
class DemoCooperation:
    preservation: str
    mla: str
    emergency: str
    directory_entries: int


def _common(requested_authority: str) -> dict[str, Any]:
    return {
        "requesting_authority": "A05, Ministry of Public Security of Viet Nam, Ha Noi",
        "requested_authority": requested_authority,
        "offences": ["VN-DEMO-FRAUD-NET", "UN-13"],
        "facts_summary": FACTS,
    }


def seed_cooperation(node: Node, operator: Actor, party_ids: dict[str, str]) -> DemoCooperation:
    for party, role, name, hours, zone, phone, order in DIRECTORY:
        node.directory.add(
            operator,
            party=party_ids[party],
            role=role,
            name=name,
            hours=hours,
            time_zone=zone,
            languages=["vi", "en"] if zone == "Asia/Ho_Chi_Minh" else ["en"],
            channels=["accord", "phone", "email"],
            phone=phone,
            escalation_order=order,
        )
    requests = node.cooperation_requests
    vn = replace(operator, party_id=party_ids[POLICE], username="operator:lan.nguyen", country="VN")
    pnp = replace(operator, party_id=party_ids[PNP], username="operator:jose.reyes", country="PH")
    number = {"value": "+639171234567", "type": "phone-number"}
    preservation = requests.create(
        vn,
        request_type="preservation",
        instrument="UN",
        requested_party=party_ids[PNP],
        language="en",
        case_reference=CASE,
        fields={
            **_common("PNP Anti-Cybercrime Group (24/7 point of contact)"),
            "data_to_preserve": [
                {"description": "Subscriber record of +63 917 123 4567", "category": "subscriber_info"},
                {
                    "description": "Call and SMS records of +63 917 123 4567, 1 Sep - 31 Oct 2026",
                    "category": "traffic_data",
                },
            ],
            "relationship_to_offence": "The number replied to victims and gave them the deposit wallet.",
            "custodian": {"name": "Demo Mobile PH, Inc.", "location": "Makati City", "retention_days": 180},
            "necessity": "The operator keeps traffic records for six months only.",
            "intends_mla": True,
            "identifiers": [number],
            "date_range": {"from": "2026-09-01", "to": "2026-10-31"},
        },
    ).row.id
    requests.transition(vn, preservation, "sent", Decision())
    requests.transition(pnp, preservation, "acknowledged", Decision())
    requests.transition(pnp, preservation, "executing", Decision(note="Preservation order served on the operator."))
    mla = requests.create(
        vn,
        request_type="mla_stored_data",
        instrument="UN",
        requested_party=party_ids[PNP],
        language="en",
        case_reference=CASE,
        fields={
            **_common("Department of Justice — Office of Cybercrime (central authority)"),
            "subject_matter": "Criminal investigation of an SMS phishing and crypto 'unlock fee' scam (A05, Ha Noi).",
            "assistance_sought": "Disclosure of the preserved subscriber and traffic records of +63 917 123 4567.",
            "persons_concerned": "The unknown user of +63 917 123 4567.",
            "purpose": "To identify the user of the number and trace the payments into the wallet.",
            "linked_preservation": preservation,
            "identifiers": [number, {"value": SHARED_WALLET, "type": "cryptocurrency-wallet"}],
        },
    ).row.id
    requests.transition(vn, mla, "sent", Decision())  # the preservation now holds until the MLA is decided
    emergency = requests.create(
        vn,
        request_type="emergency_disclosure",
        instrument="UN",
        requested_party=party_ids[PNP],
        urgency="emergency",
        language="en",
        case_reference=CASE,
        fields={
            **_common("PNP Anti-Cybercrime Group (24/7 point of contact)"),
            "provider": "Demo Mobile PH, Inc., Makati City",
            "emergency_facts": "A victim told the caller she will take her life tonight after losing her savings; "
            "the caller is still in contact with her from +63 917 123 4567.",
            "relation_to_emergency": "The location of the number's current cell leads to the person at risk's contact.",
            "emergency_confirmation": {
                "significant_risk": True,
                "imminent_risk": True,
                "life_or_safety_of_natural_person": True,
            },
            "data_description": "Current cell location and the last 24 hours of call records of +63 917 123 4567.",
            "identifiers": [number],
        },
    ).row.id
    requests.transition(vn, emergency, "sent", Decision())
    return DemoCooperation(preservation, mla, emergency, len(DIRECTORY))
