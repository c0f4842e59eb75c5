"""``accord demo --nodes 3``: three national nodes on loopback — Viet Nam, the Philippines and Ghana, each with its
own SQLite database, key and port, peered with each other — playing a cross-border scam case end to end:

1. a bank in Viet Nam reports the account a victim paid and the phone number that called her (TLP:AMBER);
2. a crypto exchange in the Philippines reports a wallet whose account holder registered with the same number;
3. the nodes sync by their policies (VN and PH share AMBER scam identifiers under a bilateral arrangement,
   Ghana gets CLEAR and GREEN only), and the number is a cross-border hit in both countries;
4. Viet Nam's 24/7 point of contact sends an expedited preservation request to the Philippines (Art. 42), then
   the central authority an MLA request for the records (Art. 40, 44);
5. the exchange produces the records in the Philippines; the evidence package travels to Viet Nam in chunks,
   is verified and imported there (a "received" custody event), and Viet Nam countersigns the Philippine
   custody log's head.

Everything is fictional and built on every run; passwords are new each time and printed once.
"""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from accord.audit.service import Disclosure
from accord.config import Settings, load_settings
from accord.cooperation.legal import Decision
from accord.demo.intel import SHARED_WALLET
from accord.evidence.service import ItemMetadata
from accord.federation.evidence_transfer import transfers_of
from accord.federation.worker import start_federation_loop
from accord.identity.actor import Actor
from accord.intel.vocabulary import MARKING_ID_FOR, Tlp
from accord.node import Node, init_node, open_node
from accord.web.app import create_app
from accord.web.threaded import served_in_thread

CASE = "VN-A05-2026-0117"
SCAM_PHONE = "+63 917 123 4567"  # as the bank's fraud desk typed it
MULE_ACCOUNT = "0071000123456"
CREATED = "2026-11-20T03:00:00.000Z"
WHY = Disclosure(purpose=f"investigation {CASE}")
SCAM_RULES = {
    "rules": [
        {
            "name": "community",
            "tlp": ["clear", "green"],
            "legal_basis": "Spontaneous information (UN Convention against Cybercrime, Art. 40(4))",
            "purpose": "Prevention and detection of online fraud",
        },
        {
            "name": "scam identifiers under the VN-PH arrangement",
            "tlp": ["amber"],
            "types": ["indicator"],
            "categories": ["personal-data"],
            "legal_basis": "VN-PH memorandum on combating online fraud (demo), art. 3",
            "purpose": "Joint disruption of investment and unlock-fee scam networks",
        },
    ]
}


@dataclass(frozen=True)
class Person:
    username: str
    display_name: str
    party: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class CountrySpec:
    key: str
    code: str
    node_name: str
    speaks_for: str  # the party this node names when peering (its law-enforcement 24/7 desk)
    parties: tuple[tuple[str, str], ...]  # (name, kind)
    people: tuple[Person, ...]


VN_POLICE = "Ministry of Public Security — A05 (Cybersecurity and High-Tech Crime Prevention)"
VN_CA = "Supreme People's Procuracy — International Cooperation and MLA Department"
VN_BANK = "Demo Commercial Bank (Viet Nam)"
PH_POLICE = "Philippine National Police — Anti-Cybercrime Group"
PH_CA = "Department of Justice — Office of Cybercrime (Philippines)"
PH_EXCHANGE = "Demo Digital Asset Exchange (Philippines)"
GH_POLICE = "Ghana Police Service — Cybercrime Unit"

COUNTRIES = (
    CountrySpec(
        "vn",
        "VN",
        "Viet Nam — A05 cybercrime unit (demo)",
        VN_POLICE,
        ((VN_POLICE, "law_enforcement"), (VN_CA, "central_authority"), (VN_BANK, "bank")),
        (
            Person("admin", "Node administrator", VN_POLICE, ("admin",)),
            Person("lan.nguyen", "Nguyễn Thị Lan", VN_POLICE, ("analyst", "point_of_contact")),
            Person("hoa.pham", "Phạm Thu Hoa", VN_CA, ("central_authority",)),
            Person("fraud.desk", "Fraud desk, Demo Commercial Bank", VN_BANK, ("partner",)),
        ),
    ),
    CountrySpec(
        "ph",
        "PH",
        "Philippines — PNP Anti-Cybercrime Group (demo)",
        PH_POLICE,
        ((PH_POLICE, "law_enforcement"), (PH_CA, "central_authority"), (PH_EXCHANGE, "virtual_asset_provider")),
        (
            Person("admin", "Node administrator", PH_POLICE, ("admin",)),
            Person("jose.reyes", "José Reyes", PH_POLICE, ("analyst", "point_of_contact")),
            Person("compliance", "Compliance desk, Demo Digital Asset Exchange", PH_EXCHANGE, ("partner",)),
        ),
    ),
    CountrySpec(
        "gh",
        "GH",
        "Ghana — Police Cybercrime Unit (demo)",
        GH_POLICE,
        ((GH_POLICE, "law_enforcement"),),
        (
            Person("admin", "Node administrator", GH_POLICE, ("admin",)),
            Person("ama.mensah", "Ama Mensah", GH_POLICE, ("analyst", "point_of_contact")),
        ),
    ),
)


@dataclass(eq=False)
class Site:
    """One country's node in the demo: its settings, an open node for the scenario, its address and parties."""

    spec: CountrySpec
    settings: Settings
    node: Node
    url: str
    parties: dict[str, str] = field(default_factory=dict)  # name -> id
    logins: list[tuple[Person, str]] = field(default_factory=list)

    def acting(self, operator: Actor, person: str) -> Actor:
        who = next(p for p in self.spec.people if p.username == person)
        return replace(
            operator, party_id=self.parties[who.party], username=f"operator:{person}", country=self.spec.code
        )


@dataclass
class Outcome:
    sites: list[Site]
    lines: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.lines.append(line)


def build_sites(folder: Path, port: int, operator: Actor) -> list[Site]:
    sites = []
    for offset, spec in enumerate(COUNTRIES):
        home = folder / spec.key
        home.mkdir(parents=True)
        overrides = {"home": home, "database_url": "", "host": "127.0.0.1", "port": port + offset}
        init_node(load_settings(env={}, overrides=overrides), spec.node_name, spec.code)
        settings = load_settings(env={}, overrides=overrides)
        site = Site(spec, settings, open_node(settings), f"http://127.0.0.1:{port + offset}")
        for name, kind in spec.parties:
            site.parties[name] = site.node.identity.add_party(operator, name, kind, spec.code).id
        for person in spec.people:
            _user, password = site.node.identity.add_user(
                operator,
                person.username,
                site.parties[person.party],
                list(person.roles),
                display_name=person.display_name,
            )
            site.logins.append((person, password or ""))
        sites.append(site)
    return sites


@contextmanager
def serving(sites: list[Site]) -> Iterator[None]:
    """Each node's web app on its own loopback port (threads of this process), until the block ends."""
    with ExitStack() as servers:
        for site in sites:
            servers.enter_context(served_in_thread(create_app(site.settings), site.settings.port))
        yield


def peer_all(sites: list[Site], operator: Actor) -> None:
    for index, inviter in enumerate(sites):
        for invitee in sites[index + 1 :]:
            invitation = inviter.node.federation.invite(
                operator, base_url=inviter.url, party=inviter.parties[inviter.spec.speaks_for]
            )
            peer, reply = invitee.node.federation.accept(
                operator, invitation, base_url=invitee.url, party=invitee.parties[invitee.spec.speaks_for]
            )
            if reply is None:  # accepting an invitation always answers it
                raise RuntimeError("no acceptance to deliver")
            invitee.node.federation.deliver_acceptance(reply, peer.base_url)


def _indicator(key: str, name: str, pattern: str, tlp: Tlp) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, f'https://accord.demo/{key}')}",
        "created": CREATED,
        "modified": CREATED,
        "name": name,
        "indicator_types": ["malicious-activity"],
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2026-11-20T03:00:00Z",
        "object_marking_refs": [MARKING_ID_FOR[tlp]],
    }


def report_intelligence(vn: Site, ph: Site, gh: Site, operator: Actor) -> None:
    reports = [
        (
            vn,
            VN_BANK,
            _indicator(
                "vn-bank-mule",
                "Account a victim paid an 'investment fee' into, and the number that called her",
                f"[bank-account:account_number = '{MULE_ACCOUNT}'] AND [phone-number:value = '{SCAM_PHONE}']",
                Tlp.AMBER,
            ),
        ),
        (
            vn,
            VN_POLICE,
            _indicator(
                "vn-phishing",
                "Phishing page imitating a bank",
                "[url:value = 'http://vcb-hotro.blogspot.com/dang-nhap']",
                Tlp.GREEN,
            ),
        ),
        (
            ph,
            PH_EXCHANGE,
            _indicator(
                "ph-exchange-wallet",
                "Deposit wallet; its account holder registered with +63 917 123 4567",
                f"[cryptocurrency-wallet:value = '{SHARED_WALLET}'] AND [phone-number:value = '+639171234567']",
                Tlp.AMBER,
            ),
        ),
        (
            gh,
            GH_POLICE,
            _indicator(
                "gh-iban",
                "Advance-fee fraud, receiving IBAN",
                "[bank-account:iban = 'GB82 WEST 1234 5698 7654 32']",
                Tlp.GREEN,
            ),
        ),
    ]
    for site, party, obj in reports:
        report = site.node.intel.import_objects(operator, [obj], owner=site.parties[party], source="demo")
        if report.failures:
            raise RuntimeError(f"demo data does not validate: {report.failures}")


def set_policies(vn: Site, ph: Site, operator: Actor) -> None:
    vn.node.sharing.set_policy(operator, ph.node.keys.node_id, SCAM_RULES)
    ph.node.sharing.set_policy(operator, vn.node.keys.node_id, SCAM_RULES)


def sync_all(sites: list[Site]) -> dict[Site, int]:
    """Every node pulls from the two others; how many object versions each received."""
    received: dict[Site, int] = {}
    for site in sites:
        received[site] = sum(
            site.node.intel_sync.sync(other.node.keys.node_id, push=False).stored
            for other in sites
            if other is not site
        )
    return received


def lookup_line(site: Site, operator: Actor, person: str) -> str:
    """The scam number looked up by an analyst of the country, as that user (their markings apply)."""
    _view, token = site.node.identity.create_token(operator, person, "demo lookup", ["read"])
    actor = site.node.identity.authenticate_token(token)
    [result] = site.node.matching.lookup(actor, [SCAM_PHONE], ["phone-number"], WHY)
    holders = sorted({f"{hit.party} ({hit.country})" for hit in result.hits.visible})
    if result.hits.restricted is not None:
        holders.append(f"and {result.hits.restricted.parties} more in {', '.join(result.hits.restricted.countries)}")
    border = "cross-border" if result.cross_border else "domestic"
    return f"{site.spec.code}: {SCAM_PHONE} -> {result.canonical}: {border} hit, held by {'; '.join(holders)}"


def cooperate(vn: Site, ph: Site, operator: Actor) -> tuple[str, str]:
    """Preservation, then MLA, from VN to PH; PH acts on both; every step travels as a signed envelope."""
    requests_vn, requests_ph = vn.node.cooperation_requests, ph.node.cooperation_requests
    poc, authority = vn.acting(operator, "lan.nguyen"), vn.acting(operator, "hoa.pham")
    pnp = ph.acting(operator, "jose.reyes")
    to_ph = vn.node.federation.peer(ph.node.keys.node_id).party_id
    common = {
        "requesting_authority": "A05, Ministry of Public Security of Viet Nam, Ha Noi",
        "offences": ["VN-DEMO-FRAUD-NET", "UN-13"],
        "facts_summary": (
            "Since September 2026 victims in Viet Nam were called from +63 917 123 4567 and paid 'investment fees' "
            "into a mule account and a Bitcoin wallet held at a Philippine exchange."
        ),
    }
    number = {"value": "+639171234567", "type": "phone-number"}
    wallet = {"value": SHARED_WALLET, "type": "cryptocurrency-wallet"}
    preservation = requests_vn.create(
        poc,
        request_type="preservation",
        instrument="UN",
        requested_party=to_ph,
        language="en",
        case_reference=CASE,
        fields={
            **common,
            "requested_authority": "PNP Anti-Cybercrime Group (24/7 point of contact)",
            "data_to_preserve": [
                {
                    "description": f"Account and KYC records of the holder of wallet {SHARED_WALLET}",
                    "category": "subscriber_info",
                },
                {
                    "description": "Deposits and withdrawals of that account, 1 Sep - 31 Oct 2026",
                    "category": "traffic_data",
                },
            ],
            "relationship_to_offence": "The wallet received the victims' payments; its holder used the calling number.",
            "custodian": {"name": "Demo Digital Asset Exchange, Inc.", "location": "Taguig City", "retention_days": 90},
            "necessity": "The exchange deletes closed accounts' records after 90 days.",
            "intends_mla": True,
            "identifiers": [number, wallet],
            "date_range": {"from": "2026-09-01", "to": "2026-10-31"},
        },
    ).row.id
    requests_vn.transition(poc, preservation, "sent", Decision())
    vn.node.envelopes.deliver_due()
    requests_ph.transition(pnp, preservation, "acknowledged", Decision())
    requests_ph.transition(pnp, preservation, "executing", Decision(note="Preservation order served on the exchange."))
    ph.node.envelopes.deliver_due()
    mla = requests_vn.create(
        authority,
        request_type="mla_stored_data",
        instrument="UN",
        requested_party=to_ph,
        language="en",
        case_reference=CASE,
        fields={
            **common,
            "requested_authority": "Department of Justice — Office of Cybercrime (central authority)",
            "subject_matter": "Criminal investigation of an investment and unlock-fee scam (A05, Ha Noi).",
            "assistance_sought": (
                f"Disclosure of the preserved account, KYC and transaction records of {SHARED_WALLET}."
            ),
            "persons_concerned": "The holder of the exchange account behind the wallet.",
            "purpose": "To identify the holder and trace the victims' payments.",
            "linked_preservation": preservation,
            "identifiers": [number, wallet],
        },
    ).row.id
    requests_vn.transition(authority, mla, "sent", Decision())
    vn.node.envelopes.deliver_due()
    requests_ph.transition(pnp, mla, "acknowledged", Decision())
    requests_ph.transition(pnp, mla, "executing", Decision(note="Production order served on the exchange."))
    ph.node.envelopes.deliver_due()
    return preservation, mla


PRODUCTION = (
    "account_id,holder,id_document,registered_phone,wallet,opened\n"
    f"EX-448120,DELA CRUZ J. (verified),PhilSys 1234-xxxx,+639171234567,{SHARED_WALLET},2026-08-30\n"
    "\n"
    "time_utc,direction,amount_btc,counterparty_txid\n"
    "2026-09-12T02:14:09Z,deposit,0.0831,4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b\n"
    "2026-09-12T02:57:40Z,withdrawal,0.0825,0e3e2357e806b6cdb1f70b54c3a3a17b6714ee1f0e68bebb44a74b1efd512098\n"
)


def produce_and_send(vn: Site, ph: Site, operator: Actor, mla: str) -> dict[str, Any]:
    """The exchange's production, registered in PH and sent to VN as a package that VN verifies on arrival."""
    pnp = ph.acting(operator, "jose.reyes")
    with tempfile.TemporaryDirectory(prefix="accord-demo-") as folder:
        path = Path(folder) / "exchange-production.csv"
        path.write_text(PRODUCTION, encoding="utf-8")
        with path.open("rb") as handle:
            item = ph.node.evidence.add_file(
                pnp,
                handle,
                ItemMetadata(
                    case_reference=CASE,
                    description=(
                        f"Account, KYC and transaction records of wallet {SHARED_WALLET}, produced by the exchange"
                    ),
                    source_kind="provider-production",
                    collector="Demo Digital Asset Exchange, law-enforcement response team",
                    collected_at=datetime(2026, 11, 21, 6, 0, tzinfo=UTC),
                    file_name="exchange-production.csv",
                    media_type="text/csv",
                    legal_basis="Production order under the Cybercrime Prevention Act; MLA request from Viet Nam",
                    request_id=mla,
                ),
            ).id
    result = transfers_of(ph.node).send_package(
        pnp,
        vn.node.keys.node_id,
        item_ids=[item],
        purpose=f"Execution of MLA request {mla} from Viet Nam",
        legal_basis="UN Convention against Cybercrime, Art. 40 and 44",
    )
    ph.node.cooperation_requests.transition(
        pnp,
        mla,
        "executed",
        Decision(note=f"Records sent as evidence package {result.package_id} (transfer {result.transfer_id})."),
    )
    ph.node.envelopes.deliver_due()
    return {
        "item": item,
        "transfer": result.transfer_id,
        "package": result.package_id,
        "witnessed": result.cosignature_stored,
    }


def play(folder: Path, port: int, operator: Actor, *, serve: bool, echo: Callable[[str], None]) -> Outcome:
    """Build the three nodes under ``folder``, play the scenario with them served, then keep serving them (and
    syncing, by the federation loop) until interrupted, unless ``serve`` is false."""
    sites = build_sites(folder, port, operator)
    outcome = Outcome(sites)
    vn, ph, gh = sites
    try:
        with serving(sites):
            peer_all(sites, operator)
            echo("Three nodes peered: " + ", ".join(f"{s.spec.code} {s.url}" for s in sites))
            set_policies(vn, ph, operator)
            report_intelligence(vn, ph, gh, operator)
            received = sync_all(sites)
            echo(
                "Intelligence synced by policy (VN and PH share AMBER scam identifiers, Ghana gets CLEAR and GREEN): "
                + ", ".join(f"{site.spec.code} received {count}" for site, count in received.items())
            )
            for site, analyst in ((vn, "lan.nguyen"), (ph, "jose.reyes")):
                line = lookup_line(site, operator, analyst)
                outcome.say(line)
                echo("Hit: " + line)
            preservation, mla = cooperate(vn, ph, operator)
            state = vn.node.cooperation_requests.get(vn.acting(operator, "lan.nguyen"), preservation, WHY).document()[
                "state"
            ]
            echo(f"Preservation request {preservation}: {state} in Viet Nam's view; MLA request {mla} sent")
            sent = produce_and_send(vn, ph, operator, mla)
            echo(
                f"Evidence: the exchange's production ({sent['item']}) travelled PH -> VN as package "
                f"{sent['package']} (transfer {sent['transfer']}); verified and imported in Viet Nam"
                + ("; Viet Nam countersigned the Philippine custody head" if sent["witnessed"] else "")
            )
            outcome.say(f"evidence {sent['item']} in VN")
            mla_state = vn.node.cooperation_requests.get(vn.acting(operator, "hoa.pham"), mla, WHY).document()["state"]
            echo(f"MLA request {mla}: {mla_state} in Viet Nam's view (the answer travelled back as an envelope)")
            for site in sites:
                echo(f"{site.spec.node_name}: {site.url}/  (node {site.node.keys.node_id})")
                for person, password in site.logins:
                    echo(f"  {person.username:<12} {password}   {', '.join(person.roles)} — {person.party}")
            if serve:
                with ExitStack() as loops:
                    stop = threading.Event()
                    loops.callback(stop.set)
                    for site in sites:
                        start_federation_loop(site.settings, stop)
                    echo("Serving the three nodes (Ctrl-C to stop); they sync and deliver every few seconds.")
                    try:
                        while True:
                            time.sleep(3600)
                    except KeyboardInterrupt:
                        pass
    finally:
        for site in sites:
            site.node.close()
    return outcome
