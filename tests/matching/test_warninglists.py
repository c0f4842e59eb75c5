"""False-positive lists: the MISP warninglist format, its matching semantics, loading, and Accord's own lists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.errors import InvalidInput
from accord.intel.normalise.domain import normalise_domain
from accord.intel.normalise.models import IdentifierKind as K
from accord.matching.warninglists import MAX_ENTRIES, MAX_ENTRY, MAX_PATTERN, Warninglists, parse_warninglist

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
