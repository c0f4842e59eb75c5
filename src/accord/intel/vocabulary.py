"""TLP 2.0 markings as STIX 2.1 marking definitions, and the permissions of the intelligence store."""

from __future__ import annotations

from enum import StrEnum


class Tlp(StrEnum):
    """FIRST TLP 2.0 labels, least to most restrictive."""

    CLEAR = "clear"
    GREEN = "green"
    AMBER = "amber"
    AMBER_STRICT = "amber+strict"
    RED = "red"


TLP_ORDER = [Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED]

# The TLP 2.0 marking-definition objects published by OASIS (cti-stix-common-objects,
# extension-definition-specifications/tlp-2.0, extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d).
TLP2_MARKING_IDS: dict[str, Tlp] = {
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": Tlp.CLEAR,
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": Tlp.GREEN,
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": Tlp.AMBER,
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": Tlp.AMBER_STRICT,
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": Tlp.RED,
}
# TLP 1.0 marking definitions built into STIX 2.1 (section 7.2.1.4); TLP:WHITE became TLP:CLEAR.
TLP1_MARKING_IDS: dict[str, Tlp] = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": Tlp.CLEAR,
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": Tlp.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": Tlp.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": Tlp.RED,
}
TLP_MARKING_IDS = {**TLP2_MARKING_IDS, **TLP1_MARKING_IDS}
MARKING_ID_FOR = {tlp: marking for marking, tlp in TLP2_MARKING_IDS.items()}


def parse_tlp(value: str) -> Tlp:
    """``green``, ``TLP:AMBER+STRICT``, ``white`` (TLP 1.0) -> Tlp. Raises ValueError."""
    text = value.strip().lower().removeprefix("tlp:")
    if text == "white":
        return Tlp.CLEAR
    return Tlp(text)


def strictest(labels: list[Tlp]) -> Tlp | None:
    return max(labels, key=TLP_ORDER.index) if labels else None
