"""The fast bulk lookup answers exactly as the plain one did (issue 4): a seeded store with every case a lookup
meets — visible and restricted hits, a sharing group, revoked and re-marked objects, a value with more reports
than are listed, feedback that pushes a score past either bound, warninglist hits, values that do not
normalise, duplicates, cross-border values, given and detected types, more distinct values of one kind than one
statement takes — looked up by readers of every kind, and the full JSON of every result compared byte for byte
with ``reference_lookup`` (the code as it was, one value at a time), as is the audit entry's count."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

import pytest
import schwifty
from sqlalchemy import select

from accord.audit.models import AuditEntry
from accord.clock import FrozenClock
from accord.identity.actor import Actor
from accord.intel.vocabulary import Tlp
from accord.matching.correlation import CHUNK, MAX_REPORTS_PER_VALUE
from accord.matching.service import documents
from accord.node import Node
from tests.conftest import World
from tests.intel.conftest import TLP_AMBER, TLP_AMBER_STRICT, TLP_CLEAR, TLP_GREEN, TLP_RED, indicator
from tests.matching.conftest import WHY, Scam
from tests.matching.reference_lookup import reference_lookup

SEED = 4
MARKINGS = [TLP_CLEAR, TLP_GREEN, TLP_AMBER, TLP_AMBER_STRICT, TLP_RED]
PHONES = CHUNK + 150  # more distinct phone numbers than one statement takes
NOISY = "+84911111111"  # reported more often than a result lists
AT_LIMIT, OVER_LIMIT = "+84922222222", "+84933333333"  # reported as often as a result lists, and once more


def _iban(account: int) -> str:
    return str(schwifty.IBAN.generate("DE", bank_code="37040044", account_code=str(account)).compact)


def _phone_variant(canonical: str, rng: random.Random) -> str:
    national = canonical[3:]
    spaced = f"{national[:2]} {national[2:5]} {national[5:]}"
    return rng.choice(
        [canonical, f"+84 {spaced}", f"0084{national}", f"0{spaced}", f"(+84) {national[:2]}-{national[2:]}"]
    )


def _iban_variant(canonical: str, rng: random.Random) -> str:
    spaced = " ".join(canonical[i : i + 4] for i in range(0, len(canonical), 4))
    return rng.choice([canonical, spaced, canonical.lower(), f"IBAN {spaced.lower()}"])


class Store:
    """The seeded store: who reported what, and the values to look up."""

    def __init__(self, node: Node, world: World, scam: Scam, operator: Actor, clock: FrozenClock) -> None:
        rng = random.Random(SEED)  # noqa: S311 (a fixed store, not a secret)
        identity = node.identity
        self.ghana = identity.add_party(operator, "Ghana Police Cybercrime Unit", "law_enforcement", "GH")
        identity.set_party_contact(operator, self.ghana.id, "24/7 desk, +233 30 277 3906")
        identity.add_user(operator, "ghana", self.ghana.id, ["analyst"], password="a long enough password")
        token = identity.create_token(operator, "ghana", "t", ["read", "write"], 5)[1]
        self.ghana_analyst = identity.authenticate_token(token)
        node.intel.create_sharing_group(operator, "West Africa desk", [self.ghana.id, world.police.id])
        owners = [world.police.id, world.bank.id, world.pnp.id, self.ghana.id]

        phones = [f"+8491{n * 7919 % 10_000_000:07d}" for n in range(PHONES)]
        ibans = [_iban(n) for n in range(60)]
        hosts = [f"11.0.{n // 250}.{n % 250 + 1}" for n in range(80)]
        urls = [f"https://bit.ly/scam{n}" for n in range(10)] + [
            f"https://pay-{n}.example.net/login" for n in range(10)
        ]
        domains = ["momo.vn", "gcash.com"] + [f"shop-{n}.trade-vn.com" for n in range(10)]
        emails = [f"support{n}@gmail.com" for n in range(10)]
        kinds = {
            "phone-number": phones,
            "bank-account": ibans,
            "ipv4-addr": hosts,
            "url": urls,
            "domain-name": domains,
            "email-addr": emails,
        }
        path = {"bank-account": "bank-account:iban"}
        serial = 1000
        reported: list[tuple[str, str]] = []
        imported: list[tuple[dict[str, Any], str, str | None]] = []
        # Five rounds of reports, days apart, so that recency differs; the clock ends where the lookups run.
        for days in (0, 3, 40, 200, 1):
            clock.advance(timedelta(days=days))
            for kind, pool in kinds.items():
                for value in rng.sample(pool, k=max(1, len(pool) // 6)):
                    owner = rng.choice(owners)
                    marking = rng.choice(MARKINGS)
                    group = (
                        "West Africa desk" if owner in (self.ghana.id, world.police.id) and rng.random() < 0.2 else None
                    )
                    if group and marking in (TLP_AMBER_STRICT, TLP_RED):
                        marking = TLP_AMBER
                    serial += 1
                    pattern = f"[{path.get(kind, kind + ':value')} = '{value}']"
                    report = indicator(serial, pattern, markings=[marking])
                    node.intel.import_objects(
                        operator, [report], owner=owner, sharing_group=group, source="differential"
                    )
                    reported.append((kind, value))
                    imported.append((report, owner, group))
        # Later versions: some reports revoked, some re-marked.
        for n, (report, owner, group) in enumerate(rng.sample(imported, k=8)):
            if n % 2:
                later = {**report, "modified": "2026-11-20T08:00:00.000Z", "revoked": True}
            else:
                marking = TLP_AMBER if group else rng.choice([TLP_GREEN, TLP_RED])
                later = {**report, "modified": "2026-11-20T08:00:00.000Z", "object_marking_refs": [marking]}
            node.intel.import_objects(operator, [later], owner=owner, sharing_group=group, source="differential")
        # Around the number of reports a result lists: exactly that many, and one more of which one is revoked.
        for base, (number, count) in enumerate(
            [(AT_LIMIT, MAX_REPORTS_PER_VALUE), (OVER_LIMIT, MAX_REPORTS_PER_VALUE + 1)]
        ):
            many = [
                indicator(7000 + 100 * base + n, f"[phone-number:value = '{number}']", markings=[TLP_AMBER])
                for n in range(count)
            ]
            node.intel.import_objects(operator, many, owner=world.pnp.id, source="differential")
            if count > MAX_REPORTS_PER_VALUE:
                revoked = {**many[-1], "modified": "2026-11-20T08:00:00.000Z", "revoked": True}
                node.intel.import_objects(operator, [revoked], owner=world.pnp.id, source="differential")
        # One number in more reports than a result lists; then one report revoked, one re-marked GREEN -> RED.
        noisy = [indicator(5000 + n, f"[phone-number:value = '{NOISY}']", markings=[TLP_GREEN]) for n in range(55)]
        node.intel.import_objects(operator, noisy, owner=world.police.id, source="differential")
        node.intel.import_objects(
            operator,
            [{**noisy[0], "modified": "2026-11-05T08:00:00.000Z", "revoked": True}],
            owner=world.police.id,
            source="differential",
        )
        node.intel.import_objects(
            operator,
            [{**noisy[1], "modified": "2026-11-05T08:00:00.000Z", "object_marking_refs": [TLP_RED]}],
            owner=world.police.id,
            source="differential",
        )
        # Feedback: outcomes on reported values, enough false positives to go below 0, enough outcomes to go
        # above 100, and on values nobody reported.
        unreported_phone, unreported_iban = "+84919999001", _iban(777)
        feedback = [
            (scam.partner, NOISY, "blocked"),
            (scam.partner, NOISY, "victim_payment"),
            (scam.analyst, NOISY, "confirmed_by_police"),
            (scam.analyst, NOISY, "confirmed_by_police"),
            (scam.analyst, NOISY, "confirmed_by_police"),
            (scam.partner, unreported_phone, "seen"),
            (scam.partner, unreported_iban, "false_positive"),
            (scam.partner, unreported_iban, "false_positive"),
            (scam.partner, unreported_iban, "false_positive"),
        ]
        for _kind, value in rng.sample(reported, k=12):
            outcome = rng.choice(["seen", "blocked", "taken_down", "false_positive", "victim_payment"])
            feedback.append((rng.choice([scam.partner, scam.analyst, scam.pnp]), value, outcome))
        for n, (actor, value, outcome) in enumerate(feedback):
            observed = clock.now() - timedelta(days=n % 9, hours=n)
            node.matching.record_feedback(actor, value, None, outcome, observed, None, WHY)

        # The values: reported ones in variant forms (many twice or more), unreported ones, and ones that fail.
        queries: list[tuple[str, str | None]] = []
        extra = [("phone-number", NOISY)] * 3 + [("phone-number", AT_LIMIT), ("phone-number", OVER_LIMIT)] * 2
        for kind, value in reported + extra:
            for _ in range(rng.choice([1, 1, 2, 3])):
                raw = value
                if kind == "phone-number":
                    raw = _phone_variant(value, rng)
                elif kind == "bank-account":
                    raw = _iban_variant(value, rng)
                elif kind == "ipv4-addr" and rng.random() < 0.5:
                    raw = f" {value} "
                queries.append((raw, kind if rng.random() < 0.7 else None))
        for kind, pool in kinds.items():  # every value once, reported or not
            queries.extend((value, kind if rng.random() < 0.5 else None) for value in pool)
        queries += [
            (unreported_phone, None),
            (unreported_iban, "bank-account"),
            ("", None),
            ("   ", "phone-number"),
            ("no such thing ###", None),
            ("DE00 3704 0044 0532 0130 00", None),  # checksum
            ("DE00 3704 0044 0532 0130 00", "bank-account"),
            ("+84 12", "phone-number"),
            ("0917 123 4567", None),  # a Philippine national number: only a Philippine reader can place it
            ("0912345678", "bank-account"),  # a type that does not fit
            ("momo.vn", None),
            ("8.8.8.8", "ipv4-addr"),
            ("2001:db8::1", None),
            ("0x52908400098527886E0F7030069857D2E4169EE7", None),
            ("https://bit.ly/scam1", "domain-name"),
        ]
        rng.shuffle(queries)
        self.values = [raw for raw, _kind in queries]
        self.types: list[str | None] = [kind for _raw, kind in queries]
        # Fresh API tokens: the ones the world made have expired on the way (the clock moved 244 days).
        self.tokens = {
            who: identity.create_token(operator, who, "differential", ["read"])[1] for who in ("analyst", "partner")
        }
        self.readers = {
            "VN police analyst": scam.analyst,
            "VN bank partner": scam.partner,
            "PH police analyst": scam.pnp,
            "GH police analyst (sharing group)": self.ghana_analyst,
            "local operator": operator,
        }


@pytest.fixture
def store(node: Node, world: World, scam: Scam, operator: Actor, clock: FrozenClock) -> Store:
    return Store(node, world, scam, operator, clock)


def _last_lookup_details(node: Node) -> dict[str, Any]:
    with node.db.reading() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "matching.lookup").order_by(AuditEntry.seq.desc()).limit(1)
        ).one()
    details: dict[str, Any] = json.loads(entry.details)
    return details


def test_the_fast_lookup_answers_byte_for_byte_as_the_plain_one(node: Node, store: Store) -> None:
    assert len(store.values) > 2 * CHUNK and len(set(store.values)) < len(store.values)
    covered: dict[str, int] = {}
    for who, reader in store.readers.items():
        for types in (store.types, None):
            expected, details = reference_lookup(node, reader, store.values, types)
            results = node.matching.lookup(reader, store.values, types, WHY)
            got = [result.document() for result in results]
            assert len(got) == len(expected)
            for index, (mine, theirs) in enumerate(zip(got, expected, strict=True)):
                assert json.dumps(mine) == json.dumps(theirs), (who, index)
            assert json.dumps(got) == json.dumps(expected)
            assert json.dumps(documents(results)) == json.dumps(expected)  # what the API renders
            assert _last_lookup_details(node) == details, who
            for document in expected:
                hits, score = document["hits"], document["score"]
                covered["visible"] = covered.get("visible", 0) + bool(hits["visible"])
                covered["restricted"] = covered.get("restricted", 0) + (hits["restricted"] is not None)
                covered["error"] = covered.get("error", 0) + (document["error"] is not None)
                covered["warninglist"] = covered.get("warninglist", 0) + bool(document["warninglists"])
                covered["cross_border"] = covered.get("cross_border", 0) + document["cross_border"]
                covered["listed_max"] = covered.get("listed_max", 0) + (len(hits["visible"]) == MAX_REPORTS_PER_VALUE)
                names = {part["name"] for part in score["parts"]} if score else set()
                covered["feedback"] = covered.get("feedback", 0) + any(n.startswith("feedback:") for n in names)
                covered["bounds"] = covered.get("bounds", 0) + ("bounds" in names)
                covered["score_without_hits"] = covered.get("score_without_hits", 0) + bool(score and not hits["found"])
                covered["sharing_group"] = covered.get("sharing_group", 0) + any(
                    hit["tlp"] == str(Tlp.AMBER) and hit["country"] == "GH" for hit in hits["visible"]
                )
    # The store exercises what it claims to: every case came up in the answers.
    assert all(
        covered.get(case, 0) > 0
        for case in (
            "visible",
            "restricted",
            "error",
            "warninglist",
            "cross_border",
            "listed_max",
            "feedback",
            "bounds",
            "score_without_hits",
            "sharing_group",
        )
    ), covered


def test_the_api_answers_byte_for_byte_as_the_plain_lookup(client: Any, node: Node, world: World, store: Store) -> None:
    for who, reader in [("analyst", store.readers["VN police analyst"]), ("partner", store.readers["VN bank partner"])]:
        expected, details = reference_lookup(node, reader, store.values, store.types)
        headers = {"Authorization": f"Bearer {store.tokens[who]}", "Accord-Purpose": "fraud investigation 2026/117"}
        answer = client.post("/api/v1/lookup", json={"values": store.values, "types": store.types}, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.content == json.dumps(
            {"results": expected}, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode("utf-8")
        # The API's entry also names the token (the lookup route records no separate token.use).
        token_id = node.identity.authenticate_token(store.tokens[who]).token_id
        assert _last_lookup_details(node) == {**details, "token": token_id}
