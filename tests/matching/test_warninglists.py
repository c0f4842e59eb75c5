"""False-positive lists: the MISP warninglist format, its matching semantics, loading, and Accord's own lists."""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import random
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from accord.errors import InvalidInput
from accord.intel.normalise.domain import normalise_domain
from accord.intel.normalise.models import IdentifierKind as K
from accord.matching.warninglists import (
    MAX_ENTRIES,
    MAX_ENTRY,
    MAX_PATTERN,
    TYPES,
    Warninglists,
    _compile_pcre,
    _host_of,
    _hostname_entry,
    _raw_entries,
    _required_text,
    parse_warninglist,
)

# Shaped as MISP/misp-warninglists lists/*/list.json files (keys in the repo's sorted order), entries shortened.
BANKS = {
    "description": "Event contains one or more entries of known banking website",
    "list": [".bankofamerica.com", ".chase.com", ".citibank.com.ph"],
    "matching_attributes": ["domain", "hostname", "domain|ip"],
    "name": "List of known bank domains",
    "type": "hostname",
    "version": 3,
}
RFC1918_AND_DOC = {
    "description": "Event contains one or more entries from RFC 1918 and RFC 3849",
    "list": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "2001:db8::/32", "8.8.8.8"],
    "matching_attributes": ["ip-src", "ip-dst", "domain|ip"],
    "name": "List of RFC 1918 and documentation networks",
    "type": "cidr",
    "version": 1,
}
EMPTY_HASHES = {
    "description": "Event contains one or more entries of empty files based on known hashed",
    "list": ["d41d8cd98f00b204e9800998ecf8427e", "da39a3ee5e6b4b0d3255bfef95601890afd80709"],
    "matching_attributes": ["md5", "sha1", "sha256", "filename|md5", "filename|sha1"],
    "name": "List of known hashes for empty files",
    "type": "string",
    "version": 2,
}
ONION = {
    "description": "Event contains one or more Tor onion services",
    "list": [".onion"],
    "matching_attributes": ["url", "domain", "hostname"],
    "name": "Onion services",
    "type": "substring",
    "version": 1,
}
WP_ADMIN = {
    "description": "Event contains one or more WordPress admin URLs",
    "list": ["/^https?:\\/\\/[^\\/]+\\/wp-admin\\//i"],
    "matching_attributes": ["url", "link"],
    "name": "WordPress admin pages",
    "type": "regex",
    "version": 1,
}


def document(**changes: Any) -> dict[str, Any]:
    """A valid hostname list with ``changes`` applied (a value of None removes the key)."""
    base: dict[str, Any] = {
        "description": "test list",
        "list": ["example-bank.com"],
        "name": "Test list",
        "type": "hostname",
        "version": 1,
    }
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def lists_of(*documents: dict[str, Any]) -> Warninglists:
    return Warninglists([parse_warninglist(doc, "test") for doc in documents])


def names(lists: Warninglists, kind: str, value: str) -> list[str]:
    return [wl.name for wl in lists.matching(kind, value)]


# --- parsing ------------------------------------------------------------------------------------------------------


def test_misp_document_of_each_type_is_parsed() -> None:
    parsed = [parse_warninglist(doc, "lists/x/list.json") for doc in (BANKS, RFC1918_AND_DOC, EMPTY_HASHES, ONION)]
    assert [wl.list_type for wl in parsed] == ["hostname", "cidr", "string", "substring"]
    banks = parsed[0]
    assert (banks.name, banks.version, banks.category, banks.source) == (
        "List of known bank domains",
        3,
        "false-positive",
        "lists/x/list.json",
    )
    assert banks.matching_attributes == ("domain", "hostname", "domain|ip")
    assert banks.kinds == {K.DOMAIN, K.IPV4, K.IPV6}
    assert parse_warninglist(WP_ADMIN, "test").kinds == {K.URL}


def test_misp_defaults_apply_when_version_and_type_are_missing() -> None:
    parsed = parse_warninglist(document(version=None, type=None, list=["exact"]), "test")
    assert (parsed.version, parsed.list_type) == (1, "string")
    assert parse_warninglist(document(type=["cidr", "string"], list=["10.0.0.0/8"]), "test").list_type == "cidr"


def test_list_with_comments_reads_its_keys_as_entries() -> None:
    parsed = parse_warninglist(document(list={"bit.ly": "Bitly", "t.co": "Twitter"}), "test")
    assert parsed.contains(K.DOMAIN, "t.co")


def test_empty_entries_are_skipped() -> None:
    parsed = parse_warninglist(document(list=["", "example-bank.com", "."]), "test")
    assert parsed.contains(K.DOMAIN, "example-bank.com")
    assert not parsed.contains(K.URL, "http:///")


def test_category_accepts_misp_spelling() -> None:
    assert parse_warninglist(document(category="false_positive"), "test").category == "false-positive"
    assert parse_warninglist(document(category="known"), "test").category == "known"


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (document(list=None), "list"),
        (document(list="bit.ly"), "list"),
        (document(type="wildcard"), "type"),
        (document(list=["bit.ly", 7]), "list"),
        (document(list=["x" * (MAX_ENTRY + 1)]), "list"),
        (document(list=["a"] * (MAX_ENTRIES + 1)), "list"),
        (document(type="cidr", list=["10.0.0.0/33"]), "list"),
        (document(type="cidr", list=["not-an-ip"]), "list"),
        (document(type="regex", list=["^no-delimiters$"]), "list"),
        (document(type="regex", list=["/unclosed"]), "list"),
        (document(type="regex", list=["/x/e"]), "list"),
        (document(type="regex", list=["/(/"]), "list"),
        (document(type="regex", list=["/" + "a" * MAX_PATTERN + "/"]), "list"),
        (document(type="hostname", list=["\u00e9\u0301\u200d.com"]), "list"),
        (document(name=None), "name"),
        (document(name=""), "name"),
        (document(description=None), "description"),
        (document(version="one"), "version"),
        (document(version=True), "version"),
        (document(category="whitelist"), "category"),
        (document(category=["known"]), "category"),
        (document(matching_attributes="domain"), "matching_attributes"),
        (document(matching_attributes=["domain", 3]), "matching_attributes"),
    ],
)
def test_invalid_document_names_the_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_warninglist(doc, "test")
    assert caught.value.field == field


def test_document_must_be_an_object() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_warninglist(["bit.ly"], "test")
    assert caught.value.field == "document"


# --- matching -----------------------------------------------------------------------------------------------------


def test_hostname_matches_the_name_and_its_subdomains_only() -> None:
    lists = lists_of(document(list=["bit.ly"]))
    assert names(lists, K.DOMAIN, "bit.ly") == ["Test list"]
    assert names(lists, K.DOMAIN, "sub.bit.ly") == ["Test list"]
    assert names(lists, K.DOMAIN, "a.b.bit.ly") == ["Test list"]
    assert names(lists, K.DOMAIN, "notbit.ly") == []
    assert names(lists, K.DOMAIN, "bit.ly.evil.example") == []
    assert names(lists, K.DOMAIN, "ly") == []


def test_hostname_entries_are_normalised_as_misp_does() -> None:
    banks = parse_warninglist(BANKS, "test")  # entries written with a leading dot
    assert banks.contains(K.DOMAIN, "chase.com")
    assert banks.contains(K.DOMAIN, "secure.chase.com")
    assert not banks.contains(K.DOMAIN, "notchase.com")
    mixed = parse_warninglist(document(list=["Example-Bank.COM.", "shop.example/", "b\u00fccher.example"]), "test")
    assert mixed.contains(K.DOMAIN, "www.example-bank.com")
    assert mixed.contains(K.DOMAIN, "shop.example")
    assert mixed.contains(K.DOMAIN, "xn--bcher-kva.example")  # the IDNA A-label, as Accord's canonical domains


def test_hostname_list_judges_the_host_of_a_url_and_the_domain_of_an_email() -> None:
    lists = lists_of(document(list=["example-bank.com"]))  # no matching_attributes: every kind it can judge
    assert names(lists, K.URL, "https://www.example-bank.com/login?next=/") == ["Test list"]
    assert names(lists, K.URL, "http://example-bank.com:8080/") == ["Test list"]
    assert names(lists, K.URL, "http://evil.example/example-bank.com") == []
    assert names(lists, K.EMAIL, "alice@mail.example-bank.com") == ["Test list"]
    assert names(lists, K.EMAIL, "example-bank.com@evil.example") == []
    assert names(lists, K.PHONE, "+442079460123") == []


def test_cidr_matches_ipv4_and_ipv6_addresses_and_networks() -> None:
    lists = lists_of(RFC1918_AND_DOC)
    name = RFC1918_AND_DOC["name"]
    assert names(lists, K.IPV4, "10.1.2.3") == [name]
    assert names(lists, K.IPV4, "172.31.255.255") == [name]
    assert names(lists, K.IPV4, "172.32.0.1") == []
    assert names(lists, K.IPV4, "8.8.8.8") == [name]
    assert names(lists, K.IPV4, "8.8.4.4") == []
    assert names(lists, K.IPV6, "2001:db8::1") == [name]
    assert names(lists, K.IPV6, "2001:db9::1") == []
    assert names(lists, K.IPV4, "10.20.0.0/16") == [name]  # a network inside an entry
    assert names(lists, K.IPV4, "10.0.0.0/7") == []  # wider than every entry
    assert names(lists, K.IPV4, "not an address") == []


def test_cidr_entry_with_host_bits_names_its_network() -> None:
    assert parse_warninglist(document(type="cidr", list=["10.1.2.3/8"]), "test").contains(K.IPV4, "10.200.0.1")


def test_cidr_list_judges_an_ip_host_of_a_url() -> None:
    lists = lists_of(document(type="cidr", list=["192.168.0.0/16", "2001:db8::/32"]))
    assert names(lists, K.URL, "http://192.168.1.1/login") == ["Test list"]
    assert names(lists, K.URL, "http://[2001:db8::5]:8443/") == ["Test list"]
    assert names(lists, K.URL, "http://example.com/192.168.1.1") == []


def test_string_matches_exactly() -> None:
    hashes = parse_warninglist(EMPTY_HASHES, "test")
    assert hashes.contains(K.MD5, "d41d8cd98f00b204e9800998ecf8427e")
    assert hashes.contains(K.SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709")
    assert not hashes.contains(K.MD5, "d41d8cd98f00b204e9800998ecf8427f")
    assert not hashes.contains(K.MD5, "D41D8CD98F00B204E9800998ECF8427E")  # exact, as MISP: canonical is lower-case


def test_substring_matches_a_part_of_the_value() -> None:
    onion = parse_warninglist(ONION, "test")
    assert onion.contains(K.URL, "http://abcdefghijklmnop.onion/market")
    assert onion.contains(K.DOMAIN, "abcdefghijklmnop.onion")
    assert not onion.contains(K.DOMAIN, "onion.example")


def test_regex_entries_are_pcre_patterns_with_delimiters_and_modifiers() -> None:
    wp = parse_warninglist(WP_ADMIN, "test")
    assert wp.contains(K.URL, "https://shop.example/wp-admin/install.php")
    assert wp.contains(K.URL, "HTTPS://shop.example/WP-ADMIN/")  # the i modifier
    # MISP's phone_numbers list writes a "g" modifier (not PCRE): taken as a plain search.
    fictional = parse_warninglist(document(type="regex", list=["/((?:\\+|00)1)?([0-9]{3})55501([0-9]{2})/g"]), "t")
    assert fictional.contains(K.PHONE, "+12025550123")
    assert not wp.contains(K.URL, "https://shop.example/blog/wp-admin/")
    hashes = parse_warninglist(document(type="regex", list=["#^0{32}$#", "{^f+$}"]), "test")
    assert hashes.contains(K.MD5, "0" * 32)
    assert hashes.contains(K.SHA1, "f" * 40)


def test_matching_attributes_restrict_the_kinds() -> None:
    domains_only = parse_warninglist(document(matching_attributes=["domain"]), "test")
    assert domains_only.kinds == {K.DOMAIN}
    assert domains_only.contains(K.DOMAIN, "example-bank.com")
    assert not domains_only.contains(K.URL, "https://example-bank.com/")
    assert not domains_only.contains(K.EMAIL, "alice@example-bank.com")
    assert parse_warninglist(document(matching_attributes=["ALL"]), "test").kinds == {K.DOMAIN, K.URL, K.EMAIL}
    unknown = parse_warninglist(document(matching_attributes=["AS", "sha224"]), "test")
    assert unknown.kinds == frozenset()
    assert not unknown.contains(K.DOMAIN, "example-bank.com")


def test_a_node_loads_its_own_helpline_numbers() -> None:
    # Official numbers are national and change: Accord ships none. These are Ofcom's numbers reserved for drama.
    helplines = lists_of(
        document(
            name="UK: official bank helplines",
            type="string",
            matching_attributes=["phone-number"],
            list=["+442079460123", "+442079460456"],
        )
    )
    assert names(helplines, K.PHONE, "+442079460123") == ["UK: official bank helplines"]
    assert names(helplines, K.PHONE, "+442079460999") == []
    assert names(helplines, K.URL, "+442079460123") == []


def test_matching_returns_every_list_that_contains_the_value_in_name_order() -> None:
    lists = lists_of(document(name="Zeta", list=["bit.ly"]), document(name="Alpha", list=["sub.bit.ly"]))
    assert names(lists, K.DOMAIN, "x.sub.bit.ly") == ["Alpha", "Zeta"]
    assert [wl.name for wl in lists] == ["Alpha", "Zeta"]
    assert len(lists) == 2


def test_two_lists_with_one_name_are_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        lists_of(document(), document())
    assert caught.value.field == "name"


@given(
    hosts=st.lists(st.sampled_from(["a", "b", "ab"]), min_size=1, max_size=4).map(".".join),
    entries=st.lists(
        st.tuples(st.sampled_from(["", "."]), st.lists(st.sampled_from(["a", "b", "AB"]), min_size=1, max_size=3)).map(
            lambda t: t[0] + ".".join(t[1])
        ),
        max_size=6,
    ),
)
def test_hostname_lookup_agrees_with_a_loop_over_entries(hosts: str, entries: list[str]) -> None:
    lists = lists_of(document(list=entries)) if entries else Warninglists([])
    wanted = {entry.strip(".").lower() for entry in entries}
    expected = any(hosts == name or hosts.endswith("." + name) for name in wanted)
    assert bool(lists.matching(K.DOMAIN, hosts)) is expected
    assert bool(lists.matching(K.URL, f"http://{hosts}/path")) is expected


# --- loading ------------------------------------------------------------------------------------------------------


def write(path: Path, content: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def test_load_reads_a_misp_repository_checkout(tmp_path: Path) -> None:
    write(tmp_path / "schema.json", {"title": "Validator for misp-warninglists"})
    write(tmp_path / "lists" / "bank-website" / "list.json", BANKS)
    write(tmp_path / "lists" / "empty-hashes" / "list.json", EMPTY_HASHES)
    lists = Warninglists.load([tmp_path], include_builtin=False)
    assert [wl.name for wl in lists] == [BANKS["name"], EMPTY_HASHES["name"]]
    folder = tmp_path / "lists"
    assert [wl.source for wl in lists] == [str(folder / d / "list.json") for d in ("bank-website", "empty-hashes")]
    assert names(lists, K.DOMAIN, "online.chase.com") == [BANKS["name"]]


def test_load_reads_files_and_flat_directories(tmp_path: Path) -> None:
    single = write(tmp_path / "one.json", document(name="One"))
    write(tmp_path / "flat" / "two.json", document(name="Two"))
    lists = Warninglists.load([single, tmp_path / "flat"], include_builtin=False)
    assert [wl.name for wl in lists] == ["One", "Two"]


def test_load_names_the_bad_file(tmp_path: Path) -> None:
    write(tmp_path / "lists" / "good" / "list.json", BANKS)
    bad = write(tmp_path / "lists" / "bad" / "list.json", document(list=["bit.ly", None]))
    with pytest.raises(InvalidInput) as caught:
        Warninglists.load([tmp_path], include_builtin=False)
    assert caught.value.field == str(bad)
    assert isinstance(caught.value.__cause__, InvalidInput)
    assert caught.value.__cause__.field == "list"
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("content", ["{not json", "\udcff", json.dumps(["bit.ly"])])
def test_load_refuses_a_file_that_is_not_a_warninglist(tmp_path: Path, content: str) -> None:
    path = tmp_path / "list.json"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    with pytest.raises(InvalidInput) as caught:
        Warninglists.load([path], include_builtin=False)
    assert caught.value.field == str(path)
    assert "\n" not in str(caught.value)


def test_load_refuses_a_missing_path_and_an_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as missing:
        Warninglists.load([tmp_path / "nowhere"])
    assert missing.value.field == str(tmp_path / "nowhere")
    with pytest.raises(InvalidInput) as empty:
        Warninglists.load([tmp_path])
    assert empty.value.field == str(tmp_path)


def test_load_refuses_a_list_named_like_a_builtin_one(tmp_path: Path) -> None:
    path = write(tmp_path / "mine.json", document(name="Accord: URL shorteners"))
    with pytest.raises(InvalidInput) as caught:
        Warninglists.load([path])
    assert caught.value.field == "name"


# --- Accord's own lists -------------------------------------------------------------------------------------------

SHORTENERS = "Accord: URL shorteners"
HOSTING = "Accord: shared hosting and free site builders"
PLATFORMS = "Accord: big platforms (a key must be path-level)"
PAYMENTS = "Accord: payment processors"


def test_builtin_lists_load() -> None:
    lists = Warninglists.load([])
    assert {wl.name: wl.source for wl in lists} == dict.fromkeys([PAYMENTS, PLATFORMS, HOSTING, SHORTENERS], "accord")
    assert {wl.name: wl.category for wl in lists}[SHORTENERS] == "known"
    assert len(Warninglists.load([], include_builtin=False)) == 0


def test_builtin_entries_are_canonical_domain_names() -> None:
    folder = Path(__file__).parents[2] / "src" / "accord" / "matching" / "lists"
    for path in sorted(folder.glob("*.json")):
        entries = json.loads(path.read_text(encoding="utf-8"))["list"]
        assert entries == sorted(set(entries)), path.name
        assert [normalise_domain(entry).value for entry in entries] == entries, path.name


def test_builtin_lists_flag_shorteners_platforms_hosting_and_payments() -> None:
    lists = Warninglists.load([])
    assert names(lists, K.URL, "https://bit.ly/3xYzAbC") == [SHORTENERS]
    assert names(lists, K.URL, "https://www.facebook.com/some.page") == [PLATFORMS]
    assert names(lists, K.URL, "https://t.me/+AbCdEf") == [PLATFORMS]
    assert names(lists, K.DOMAIN, "fake-bank-login.github.io") == [HOSTING]
    assert names(lists, K.URL, "https://sites.google.com/view/fake-bank") == [PLATFORMS, HOSTING]
    assert names(lists, K.URL, "https://www.paypal.com/paypalme/someone") == [PAYMENTS]
    assert names(lists, K.DOMAIN, "momo.vn") == [PAYMENTS]


def test_builtin_lists_leave_ordinary_domains_alone() -> None:
    lists = Warninglists.load([])
    assert names(lists, K.DOMAIN, "example-shop.vn") == []
    assert names(lists, K.URL, "https://paypal-secure-login.example/verify") == []
    assert names(lists, K.DOMAIN, "notbit.ly") == []
    assert names(lists, K.EMAIL, "support@facebook.com") == []  # the lists name web attributes, not e-mail


# --- the index across all lists answers as asking each list in turn -----------------------------------------------
#
# Warninglists.matching looks a value up in one index per entry type across all lists (issue 4). The reference is
# the code it replaced, kept here as the specification: every list in name order, each asked with its own entries.

ACCORD_KINDS = frozenset(str(kind) for kind in K)


def reference_test(list_type: str, entries: list[str]) -> Callable[[str, str], bool]:
    """Whether a list of ``list_type`` holding ``entries`` contains (kind, canonical value), as before the index."""
    if list_type == "hostname":
        hostnames = frozenset(name for name in map(_hostname_entry, entries) if name)

        def hostname(kind: str, value: str) -> bool:
            name = _host_of(kind, value).rstrip(".").lower()
            while True:
                if name in hostnames:
                    return True
                dot = name.find(".")
                if dot < 0:
                    return False
                name = name[dot + 1 :]

        return hostname
    if list_type == "cidr":
        by_length: dict[tuple[int, int], set[int]] = {}
        for entry in entries:
            network = ipaddress.ip_network(entry.strip(), strict=False)
            key = (network.version, network.prefixlen)
            by_length.setdefault(key, set()).add(int(network.network_address) >> (network.max_prefixlen - key[1]))

        def cidr(kind: str, value: str) -> bool:
            try:
                network = ipaddress.ip_network(_host_of(kind, value), strict=False)
            except ValueError:
                return False
            address = int(network.network_address)
            return any(
                version == network.version
                and length <= network.prefixlen
                and address >> (network.max_prefixlen - length) in prefixes
                for (version, length), prefixes in by_length.items()
            )

        return cidr
    if list_type == "string":
        strings = frozenset(entries)
        return lambda kind, value: value in strings
    if list_type == "substring":
        return lambda kind, value: any(part in value for part in entries)
    patterns = [_compile_pcre(entry) for entry in entries]
    return lambda kind, value: any(pattern.search(value) for pattern in patterns)


class Reference:
    """The lists of ``documents`` looked up as before the index: a loop over the lists. Their types and kinds are
    those ``lists`` (the same documents, parsed) give them."""

    def __init__(self, documents: list[dict[str, Any]], lists: Warninglists) -> None:
        parsed = {wl.name: wl for wl in lists}
        self.lists = [
            (wl.name, wl.kinds & ACCORD_KINDS, reference_test(wl.list_type, _raw_entries(doc)))
            for wl, doc in sorted(((parsed[doc["name"]], doc) for doc in documents), key=lambda pair: pair[0].name)
        ]

    def matching(self, kind: str, value: str) -> list[str]:
        return [name for name, kinds, contains in self.lists if kind in kinds and contains(kind, value)]


def assert_same_answers(
    lists: Warninglists, reference: Reference, queries: Iterable[tuple[str, str]], each: bool = True
) -> int:
    """Every (kind, value) answered alike by the index, the reference and (``each``) Warninglist.contains; the
    number of values on a list."""
    hits = 0
    for kind, value in queries:
        expected = reference.matching(kind, value)
        assert names(lists, kind, value) == expected, (kind, value)
        if each:
            assert [wl.name for wl in lists if wl.contains(kind, value)] == expected, (kind, value)
        hits += bool(expected)
    return hits


# Small alphabets, so that random entries and values meet often.
LABELS = ["a", "b", "ab", "B", "xn--bcher-kva", "1", "10"]
HOSTS = st.lists(st.sampled_from(LABELS), min_size=1, max_size=4).map(".".join)
IPV4_NEAR = [0, 1, 10 << 24, (10 << 24) + 255, (10 << 24) + 256, (10 << 25) - 1, 1 << 31, (1 << 32) - 1]
IPV6_NEAR = [0, 1, 0x2001_0DB8 << 96, (0x2001_0DB8 << 96) + (1 << 64), (1 << 127), (1 << 128) - 1]


@st.composite
def ip_networks(draw: st.DrawFn) -> str:
    """An IPv4 or IPv6 address or network (host bits set or not) near a few fixed numbers, or a near-miss text."""
    if draw(st.booleans()):
        number = (draw(st.sampled_from(IPV4_NEAR)) + draw(st.integers(-2, 2))) % (1 << 32)
        text, width = str(ipaddress.IPv4Address(number)), 32
    else:
        number = (draw(st.sampled_from(IPV6_NEAR)) + draw(st.integers(-2, 2))) % (1 << 128)
        text, width = str(ipaddress.IPv6Address(number)), 128
    form = draw(st.sampled_from(["address", "network", "network", "odd"]))
    if form == "network":
        return f"{text}/{draw(st.integers(0, width))}"
    if form == "odd":  # what the parser refuses or reads otherwise: each type must agree on it
        return draw(st.sampled_from([f" {text}", f"{text}/", f"{text}%eth0", f"{text}/255.0.0.0", "a" + text]))
    return text


PCRE_ATOMS = [
    "a", "b", "1", "10", "ab", "\\.", ".", "[ab]", "[^a]", "\\d", "\\w", "^", "$", "\\b", "(?=a)", "(?!b)",
    "(?<=a)", "\\Z", " ", "#",
]  # fmt: skip


@st.composite
def regex_sources(draw: st.DrawFn, depth: int = 0) -> str:
    """A random Python regular expression over the alphabet of the values: sequences, groups of every sort,
    alternations and repetitions (greedy, lazy, possessive), which _required_text must read right."""
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        if depth < 2 and draw(st.integers(0, 3)) == 0:
            inner = draw(regex_sources(depth + 1))
            if draw(st.booleans()):
                inner += "|" + draw(regex_sources(depth + 1))
            opener = draw(st.sampled_from(["(", "(?:", "(?i:", "(?s:", "(?>", f"(?P<g{draw(st.integers(0, 99))}>"]))
            part = opener + inner + ")"
        else:
            part = draw(st.sampled_from(PCRE_ATOMS))
        part += draw(st.sampled_from(["", "", "", "?", "*", "+", "{2}", "{0,2}", "{1,3}", "+?", "*?", "++", "?+"]))
        parts.append(part)
    if depth == 0 and draw(st.integers(0, 5)) == 0:
        parts.append("\\1")  # a back-reference: a pattern without a group 1 is refused, and assumed away below
    return "".join(parts) if depth or draw(st.integers(0, 3)) else "|".join(parts)


def compiled(source: str, flags: str) -> re.Pattern[str] | None:
    try:
        return _compile_pcre(f"/{source}/{flags}")
    except InvalidInput:
        return None


VALUE_TEXT = st.text(alphabet="ab1 0.#\nAB", max_size=12)


@given(source=regex_sources(), flags=st.sampled_from(["", "i", "m", "s", "x", "ms", "is"]), value=VALUE_TEXT)
def test_the_text_a_pattern_requires_is_in_every_value_it_matches(source: str, flags: str, value: str) -> None:
    pattern = compiled(source, flags)
    assume(pattern is not None)
    assert pattern is not None
    texts = _required_text(pattern)
    assert texts is None or (texts and "" not in texts)
    if pattern.search(value):
        assert texts is None or any(text in value for text in texts), (pattern, texts)


def test_the_text_a_pattern_requires_is_read_from_literals_alternations_and_repetitions() -> None:
    assert _required_text(re.compile(r"((?:\+|00)1)?([0-9]{3})55501([0-9]{2})")) == {"55501"}
    assert _required_text(re.compile(r"((?:\+|00)61)?1(3|8)00975707|08|09|10|11")) == {
        "00975707", "08", "09", "10", "11"
    }  # fmt: skip
    assert _required_text(re.compile(r"x(abc|de)+y")) == {"abc", "de"}
    assert _required_text(re.compile(r"(abc)?d")) == {"d"}
    assert _required_text(re.compile(r"(ab)\1")) == {"ab"}  # the group must match; what \1 repeats is not read
    for none_known in [r"(abc)?", r"abc|", r"[ab]c?", r"\d+", r"(?i:abc)", r"(?=abc)", r"\b\w\b"]:
        assert _required_text(re.compile(none_known)) is None, none_known
    assert _required_text(re.compile("abc", re.IGNORECASE)) is None


@st.composite
def synthetic_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Up to eight lists of every type, with or without matching_attributes, their names in random order."""
    attributes = ["domain", "hostname", "domain|ip", "url", "email-src", "ip-src", "ip-dst", "phone-number", "md5"]
    documents = []
    for position in range(draw(st.integers(0, 8))):
        list_type = draw(st.sampled_from(TYPES))
        if list_type == "hostname":
            entry = st.tuples(st.sampled_from(["", ".", "www."]), HOSTS, st.sampled_from(["", ".", "/"])).map("".join)
        elif list_type == "cidr":
            entry = ip_networks().filter(lambda text: "%" not in text and " " not in text)
        elif list_type in ("string", "substring"):
            entry = st.one_of(HOSTS, ip_networks(), VALUE_TEXT.filter(bool), st.sampled_from(["+12025550123", "ab"]))
        else:
            entry = st.tuples(regex_sources(), st.sampled_from(["", "i", "m", "s", "x", "g"])).map(
                lambda pair: f"/{pair[0]}/{pair[1]}"
            )
        entries = draw(st.lists(entry, max_size=6))
        if list_type == "cidr":
            entries = [e for e in entries if _parses(ipaddress.ip_network, e.strip())]
        if list_type == "regex":
            entries = [e for e in entries if compiled(e[1 : e.rindex("/")], e[e.rindex("/") + 1 :]) is not None]
        doc: dict[str, Any] = {
            "name": f"{draw(st.sampled_from('MZAQ'))} list {position}",
            "description": "synthetic",
            "type": list_type,
            "list": entries,
        }
        if draw(st.booleans()):
            doc["matching_attributes"] = draw(st.lists(st.sampled_from([*attributes, "ALL", "AS"]), max_size=4))
        documents.append(doc)
    return documents


def _parses(parse: Callable[..., object], text: str) -> bool:
    try:
        parse(text, strict=False)
    except ValueError:
        return False
    return True


@st.composite
def queries(draw: st.DrawFn) -> tuple[str, str]:
    """A (kind, canonical) pair: host names, URLs, e-mail addresses, IP addresses and networks, phone numbers and
    free text, each under any kind, so that every type of list meets values it applies to and values it does not."""
    host = draw(st.one_of(HOSTS, HOSTS.map(str.upper), ip_networks()))
    value = draw(
        st.sampled_from(
            [
                host,
                f"http://{host}/{draw(VALUE_TEXT)}",
                f"https://[{host}]:8443/x",
                f"user@{host}",
                f"http://{host}.:80/a?b=c@d",
                draw(VALUE_TEXT),
                "+12025550123",
                "+4420794601" + draw(st.sampled_from(["08", "23", "99"])),
            ]
        )
    )
    return draw(st.sampled_from(sorted(ACCORD_KINDS | {"not-a-kind"}))), value


@settings(max_examples=300, deadline=None)
@given(documents=synthetic_lists(), values=st.lists(queries(), min_size=1, max_size=12))
def test_index_answers_as_the_loop_over_lists_on_random_lists(
    documents: list[dict[str, Any]], values: list[tuple[str, str]]
) -> None:
    lists = Warninglists([parse_warninglist(doc, "test") for doc in documents])
    reference = Reference(documents, lists)
    for doc in documents:  # every entry is also a value, under each kind
        for entry in _raw_entries(doc)[:3]:
            values += [(kind, entry.strip()) for kind in (K.DOMAIN, K.IPV4, K.IPV6, K.URL, K.PHONE)]
    assert_same_answers(lists, reference, values)


def test_index_keeps_overlapping_networks_of_one_list_and_across_lists() -> None:
    documents = [
        document(name="A", type="cidr", list=["10.0.0.0/8", "10.1.0.0/16", "10.1.2.3", "0.0.0.0/0"]),
        document(name="B", type="cidr", list=["10.1.0.0/16", "10.1.2.0/24", "255.255.255.255", "::/0"]),
        document(name="C", type="cidr", list=["10.1.255.255/32", "2001:db8::/32", "2001:db8::/48"]),
    ]
    lists = lists_of(*documents)
    reference = Reference(documents, lists)
    values = ["0.0.0.0", "9.255.255.255", "10.0.0.0", "10.1.1.255", "10.1.2.3", "10.1.2.255", "10.1.3.0"]  # noqa: S104
    values += ["10.1.255.255", "10.2.0.0", "11.0.0.0", "255.255.255.254", "255.255.255.255", "10.1.0.0/16"]
    values += ["10.1.2.0/23", "10.0.0.0/8", "0.0.0.0/0", "::", "2001:db8::", "2001:db8:1::/48", "2001:db8::/31"]
    queries = [(kind, value) for value in values for kind in (K.IPV4, K.IPV6)]
    assert assert_same_answers(lists, reference, queries) > 20
    assert names(lists, K.IPV4, "10.1.2.3") == ["A", "B"]
    assert names(lists, K.IPV4, "10.1.255.255") == ["A", "B", "C"]
    assert names(lists, K.IPV4, "11.0.0.0") == ["A"]
    assert names(lists, K.IPV6, "2001:db8::1") == ["B", "C"]


# --- the same on MISP's own lists ---------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
MISP_PACKAGE = "pymispwarninglists"


def misp_lists_folder() -> Path | None:
    """The lists of the pymispwarninglists wheel: installed here, or in .venv-peers where bench/lookup.py installs
    it (from bench/peers-requirements.txt). Found on disk, not imported: .venv-peers is another environment."""
    spec = importlib.util.find_spec(MISP_PACKAGE)
    roots = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    roots += sorted(REPO.glob(f".venv-peers/lib/python*/site-packages/{MISP_PACKAGE}"))
    folders = [root / "data" / "misp-warninglists" / "lists" for root in roots]
    return next((folder for folder in folders if folder.is_dir()), None)


def misp_queries(lists: Warninglists, documents: list[dict[str, Any]], rng: random.Random) -> Iterator[tuple[str, str]]:
    """Values on each list and next to its entries, under the kinds it applies to and one it does not; then random
    values of the kinds of bench/lookup.py."""
    kinds_of = {wl.name: wl.kinds for wl in lists}
    for doc in documents:
        entries = _raw_entries(doc)
        kinds = sorted(kinds_of[doc["name"]] | {K.DOMAIN})
        for entry in rng.sample(entries, min(len(entries), 3)):
            entry = entry.strip()
            texts = [entry, f"x{entry}y"]
            if doc.get("type") == "cidr":
                network = ipaddress.ip_network(entry, strict=False)
                last = network.broadcast_address
                texts = [str(network.network_address), str(last), str(network), str(network.supernet())]
                if int(last) < (1 << network.max_prefixlen) - 1:
                    texts.append(str(last + 1))
                texts.append(f"http://[{last}]/" if network.version == 6 else f"http://{last}/")
            else:
                name = entry.strip(".").lower()
                texts += [f"www.{name}", f"https://www.{name}/login", f"support@{name}", f"not{name}"]
            yield from ((kind, text) for text in texts for kind in kinds)
    for n in range(100):
        yield K.PHONE, f"+{rng.choice(['1', '44', '61', '84', '33'])}{rng.randrange(10**8, 10**10)}"
        yield K.IPV4, str(ipaddress.IPv4Address(rng.getrandbits(32)))
        yield K.IPV6, str(ipaddress.IPv6Address(rng.getrandbits(128)))
        yield K.URL, f"https://{rng.getrandbits(32):x}.example.{rng.choice(['com', 'net', 'vn'])}/{n}"
        yield K.EMAIL, f"user{n}@{rng.choice(['gmail.com', 'mailinator.com', 'example.ph'])}"


def test_index_answers_as_the_loop_over_lists_on_all_misp_lists() -> None:
    folder = misp_lists_folder()
    if folder is None:
        pytest.skip(
            f"{MISP_PACKAGE} is not installed here nor in .venv-peers "
            "(`.venv/bin/python bench/lookup.py --warninglists-only` installs it there)"
        )
    paths = sorted(folder.glob("*/list.json"))
    documents = [json.loads(path.read_text(encoding="utf-8")) for path in paths]
    builtin = sorted(Path(__file__).parents[2].glob("src/accord/matching/lists/*.json"))
    documents += [json.loads(path.read_text(encoding="utf-8")) for path in builtin]
    lists = Warninglists.load([folder])
    assert len(lists) == len(documents) > 100
    queries = list(misp_queries(lists, documents, random.Random(4)))  # noqa: S311
    hits = assert_same_answers(lists, Reference(documents, lists), queries, each=False)
    assert len(queries) > 5_000 and hits > 1_000
