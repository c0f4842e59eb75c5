"""False-positive lists in the MISP warninglist format, and Accord's own lists for the fraud domain.

A hit never removes anything: :meth:`Warninglists.matching` returns the lists that contain a value, and the caller
marks the identifier with their names (and categories). Nothing is dropped silently.

Format (https://github.com/MISP/misp-warninglists, ``schema.json`` and the ``lists/*/list.json`` files; loading
as MISP's ``app/Model/Warninglist.php`` ``update()`` and ``__updateList()`` do): ``name`` and ``description`` are
required; ``version`` defaults to 1 and ``type`` to ``"string"`` (a list of types means its first one);
``list`` is an array of strings (or, as MISP imports it, an object whose keys are the entries and whose values are
comments); empty entries are skipped. ``matching_attributes`` names MISP attribute types; when it is missing or
empty the list applies to every attribute type (MISP stores it as ``ALL``). ``category`` is not in the
repository's files but is MISP's field for custom lists, ``false_positive`` or ``known``; it is written
``false-positive`` here, both spellings are read, and it defaults to false-positive.

Matching, per ``type`` (MISP ``Warninglist::checkValue`` and ``CidrTool``):

- ``hostname``: the value or any of its parent domains is an entry (``sub.bit.ly`` hits ``bit.ly``, ``notbit.ly``
  does not). Entries are lower-cased and lose leading and trailing dots, as in MISP's ``getFilteredEntries``
  (``.bank.com`` is ``bank.com``); beyond MISP, a trailing ``/`` is dropped and a Unicode name becomes its IDNA
  A-label, so entries compare with Accord's canonical domains. As MISP does for ``url`` attributes, a URL is
  judged by its host; unlike MISP, an e-mail address is judged by its domain (MISP would test the whole address as
  a host name, which never hits).
- ``cidr``: IPv4 and IPv6 networks; an entry without a prefix is one address. A value that is itself a network
  hits only an entry at least as wide (as ``CidrTool::contains``). Host bits in an entry are cleared
  (``10.1.2.3/8`` is ``10.0.0.0/8``; MISP would never match it). Beyond MISP, a URL whose host is an IP address is
  judged by that address.
- ``string``: the canonical value equals an entry exactly (no case folding, as MISP). Entries must therefore be in
  Accord's canonical form: E.164 for phone numbers, lower-case hex for hashes.
- ``substring``: an entry occurs in the canonical value.
- ``regex``: MISP entries are PCRE patterns with delimiters and modifiers (``/^foo$/i``), given to ``preg_match``;
  here they run under Python's ``re.search``, compiled once, with the modifiers i, m, s and x (u is implied,
  and g, which MISP's phone_numbers list writes, means nothing more than a search).

Which Accord kinds a list applies to comes from ``matching_attributes`` (:data:`ATTRIBUTE_KINDS`); with none, a
``hostname`` list applies to domain names, URLs and e-mail addresses, a ``cidr`` list to IP addresses and URLs,
and the other types to every kind.

Accord's own lists (``lists/*.json`` next to this module, same format) are URL shorteners, shared hosting, big
platforms where a key must be path-level, and payment processors. Official bank and helpline numbers are national
and change, so none is shipped: a node loads its own file, a list of ``"type": "string"`` with
``"matching_attributes": ["phone-number"]`` and the numbers in E.164 form.
"""

from __future__ import annotations

import bisect
import importlib
import ipaddress
import itertools
import json
import re
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import ahocorasick  # type: ignore[import-not-found]  # pyahocorasick ships no type information
import idna

from accord.errors import InvalidInput
from accord.intel.normalise.models import IdentifierKind

MAX_ENTRIES = 1_000_000  # the largest MISP list (cloudflare-top500k) has 500,000 entries; bounds memory, not use
MAX_ENTRY = 4096  # the longest canonical value Accord keeps (a URL, intel/normalise/url.py MAX_RAW)
MAX_PATTERN = 1024  # regular expressions run without a time limit: keep them short and the list operator's own
MAX_FILE_BYTES = 64 * 1024 * 1024  # cloudflare-top500k is 11 MB of JSON
TYPES = ("cidr", "hostname", "regex", "string", "substring")
CATEGORIES = {"false-positive": "false-positive", "false_positive": "false-positive", "known": "known"}
BUILTIN_SOURCE = "accord"

_K = IdentifierKind
_IP = frozenset({_K.IPV4, _K.IPV6})
_EMAIL = frozenset({_K.EMAIL})
# MISP attribute type (MISP's attribute type definitions, describeTypes) -> the Accord kinds it covers. Composite types
# ("domain|ip", "filename|md5") cover both halves, as MISP's checkValue tests each half. Types without an Accord
# kind (AS, sha224, filename...) cover nothing.
ATTRIBUTE_KINDS: dict[str, frozenset[str]] = {
    **dict.fromkeys(["ip-src", "ip-dst", "ip-src|port", "ip-dst|port"], _IP),
    **dict.fromkeys(["domain", "hostname", "hostname|port"], frozenset({_K.DOMAIN})),
    "domain|ip": frozenset({_K.DOMAIN}) | _IP,
    **dict.fromkeys(["url", "uri", "link"], frozenset({_K.URL})),
    **dict.fromkeys(
        ["email", "email-src", "email-dst", "email-reply-to", "target-email", "whois-registrant-email"], _EMAIL
    ),
    **dict.fromkeys(["md5", "filename|md5", "malware-sample"], frozenset({_K.MD5})),
    **dict.fromkeys(["sha1", "filename|sha1"], frozenset({_K.SHA1})),
    **dict.fromkeys(["sha256", "filename|sha256"], frozenset({_K.SHA256})),
    **dict.fromkeys(["sha512", "filename|sha512"], frozenset({_K.SHA512})),
    **dict.fromkeys(["phone-number", "whois-registrant-phone", "prtn"], frozenset({_K.PHONE})),
    **dict.fromkeys(["iban", "bank-account-nr"], frozenset({_K.BANK_ACCOUNT})),
    **dict.fromkeys(["btc", "xmr", "dash"], frozenset({_K.WALLET})),
}
# The kinds a list with no matching_attributes applies to: those its type can say something about.
_ALL_KINDS = frozenset(str(kind) for kind in IdentifierKind)
_DEFAULT_KINDS = {
    "hostname": frozenset({_K.DOMAIN, _K.URL, _K.EMAIL}),
    "cidr": _IP | {_K.URL},
    "string": _ALL_KINDS,
    "substring": _ALL_KINDS,
    "regex": _ALL_KINDS,
}
# "g" is not a PCRE modifier (PHP's preg_match rejects it), but MISP's own phone_numbers list uses it, meaning
# "find anywhere", which a search does anyway: accepted as nothing, so that list loads and matches as meant.
_PCRE_MODIFIERS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE, "u": 0, "g": 0}
_PCRE_BRACKETS = {"(": ")", "[": "]", "{": "}", "<": ">"}
_Key = TypeVar("_Key", bound=Hashable)


class _Entries(Protocol):
    def matches(self, kind: str, value: str) -> bool: ...

    def index_into(self, index: _Index, bit: int) -> None:
        """Add these entries, as those of the list whose bit is ``bit``, to the index across all lists."""


@dataclass(frozen=True)
class Warninglist:
    """One list. ``kinds`` are the Accord identifier kinds it applies to; build it with :func:`parse_warninglist`."""

    name: str
    version: int
    description: str
    list_type: str
    matching_attributes: tuple[str, ...]
    category: str
    source: str
    kinds: frozenset[str]
    _entries: _Entries = field(repr=False, compare=False)

    def contains(self, kind: str, canonical: str) -> bool:
        """Whether the canonical value of an identifier of ``kind`` is on this list."""
        return kind in self.kinds and self._entries.matches(kind, canonical)


def parse_warninglist(document: Any, source: str) -> Warninglist:
    """The list described by a decoded MISP warninglist JSON ``document``; ``source`` says where it came from.

    Raises InvalidInput naming the field (``name``, ``description``, ``version``, ``type``, ``category``,
    ``matching_attributes``, ``list``) when the document is not a valid warninglist or exceeds the limits above.
    """
    if not isinstance(document, dict):
        raise InvalidInput("document", "a warninglist is a JSON object")
    name = _text(document, "name")
    description = _text(document, "description")
    version = document.get("version", 1)  # MISP's update() defaults a missing version to 1
    if isinstance(version, str) and version.isdigit():
        version = int(version)
    if not isinstance(version, int) or isinstance(version, bool):
        raise InvalidInput("version", "must be an integer")
    list_type = document.get("type", "string")  # MISP: no type means "string", a list of types its first one
    if isinstance(list_type, list) and list_type:
        list_type = list_type[0]
    if list_type not in TYPES:
        raise InvalidInput("type", f"must be one of {', '.join(TYPES)}")
    category = document.get("category", "false-positive")
    if not isinstance(category, str) or category not in CATEGORIES:
        raise InvalidInput("category", "must be false-positive or known")
    attributes = document.get("matching_attributes") or []
    if not isinstance(attributes, list) or not all(isinstance(a, str) for a in attributes):
        raise InvalidInput("matching_attributes", "must be a list of MISP attribute types")
    if attributes and "ALL" not in attributes:  # MISP stores "no matching_attributes" as ["ALL"]
        kinds = frozenset(str(kind) for a in attributes for kind in ATTRIBUTE_KINDS.get(a, ()))
    else:
        kinds = frozenset(str(kind) for kind in _DEFAULT_KINDS[list_type])
    return Warninglist(
        name=name,
        version=version,
        description=description,
        list_type=list_type,
        matching_attributes=tuple(attributes),
        category=CATEGORIES[category],
        source=source,
        kinds=kinds,
        _entries=_ENTRY_TYPES[list_type](_raw_entries(document)),
    )


class Warninglists:
    """A set of lists, looked up by identifier kind and canonical value."""

    def __init__(self, lists: Sequence[Warninglist]) -> None:
        """Raises InvalidInput("name") when two lists have the same name (MISP keeps names unique too)."""
        self._lists = sorted(lists, key=lambda wl: wl.name)
        for before, after in zip(self._lists, self._lists[1:], strict=False):
            if before.name == after.name:
                raise InvalidInput("name", f"two lists named {after.name!r} ({before.source} and {after.source})")
        self._index = _Index(self._lists)

    @classmethod
    def load(cls, paths: Sequence[Path], include_builtin: bool = True) -> Warninglists:
        """Accord's own lists (unless ``include_builtin`` is false) and those in ``paths``.

        A path is a list file, or a directory holding ``*.json`` lists or MISP's layout (``*/list.json``, or
        ``lists/*/list.json`` for a checkout of MISP/misp-warninglists). Raises InvalidInput whose field is the
        offending file or directory, and whose reason says what is wrong with it, in one line.
        """
        builtin = sorted(Path(__file__).with_name("lists").glob("*.json")) if include_builtin else []
        files = [(path, BUILTIN_SOURCE) for path in builtin]
        for path in paths:
            files.extend(_list_files(path))
        return cls([_read(path, source) for path, source in files])

    def matching(self, kind: str, canonical: str) -> list[Warninglist]:
        """The lists that contain the canonical value of an identifier of ``kind``, in name order.

        The same lists as ``[wl for wl in self if wl.contains(kind, canonical)]``, found through one index per entry
        type across all lists (:class:`_Index`), so a lookup costs about the same however many lists are loaded.
        """
        found = self._index.lookup(kind, canonical)
        lists = self._lists
        matched = []
        while found:  # the lowest bit first: bit i is the i-th list in name order
            low = found & -found
            matched.append(lists[low.bit_length() - 1])
            found ^= low
        return matched

    def __len__(self) -> int:
        return len(self._lists)

    def __iter__(self) -> Iterator[Warninglist]:
        return iter(self._lists)


# --- entries of each type -----------------------------------------------------------------------------------------


class _Hostnames:
    def __init__(self, entries: list[str]) -> None:
        self._names = frozenset(name for name in map(_hostname_entry, entries) if name)

    def matches(self, kind: str, value: str) -> bool:
        # One set lookup per label of the value instead of a loop over the (up to a million) entries.
        name = _host_of(kind, value).rstrip(".").lower()
        while True:
            if name in self._names:
                return True
            dot = name.find(".")
            if dot < 0:
                return False
            name = name[dot + 1 :]

    def index_into(self, index: _Index, bit: int) -> None:
        index.add(index.hostnames, self._names, bit)


class _Networks:
    def __init__(self, entries: list[str]) -> None:
        # Per IP version and prefix length, the set of network prefixes (the address's top bits as an integer):
        # a lookup tries each prefix length in use (a handful) instead of every network (AWS lists have 10,000).
        by_length: dict[tuple[int, int], set[int]] = {}
        for entry in entries:
            try:
                network = ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError as exc:
                raise InvalidInput("list", f"{entry!r} is not an IP address or CIDR network") from exc
            key = (network.version, network.prefixlen)
            by_length.setdefault(key, set()).add(int(network.network_address) >> (network.max_prefixlen - key[1]))
        self._prefixes = sorted((key, frozenset(prefixes)) for key, prefixes in by_length.items())

    def matches(self, kind: str, value: str) -> bool:
        try:
            network = ipaddress.ip_network(_host_of(kind, value), strict=False)
        except ValueError:
            return False
        address = int(network.network_address)
        for (version, length), prefixes in self._prefixes:
            if version == network.version and length <= network.prefixlen:
                if address >> (network.max_prefixlen - length) in prefixes:
                    return True
        return False

    def index_into(self, index: _Index, bit: int) -> None:
        for key, prefixes in self._prefixes:
            index.add(index.networks.setdefault(key, {}), prefixes, bit)


class _Strings:
    def __init__(self, entries: list[str]) -> None:
        self._values = frozenset(entries)

    def matches(self, kind: str, value: str) -> bool:
        return value in self._values

    def index_into(self, index: _Index, bit: int) -> None:
        index.add(index.strings, self._values, bit)


class _Substrings:
    def __init__(self, entries: list[str]) -> None:
        self._parts = tuple(entries)

    def matches(self, kind: str, value: str) -> bool:
        # A loop over this list's parts; Warninglists.matching finds those of all lists in one pass (_Index).
        return any(part in value for part in self._parts)

    def index_into(self, index: _Index, bit: int) -> None:
        index.add(index.parts, self._parts, bit)


class _Patterns:
    def __init__(self, entries: list[str]) -> None:
        self._patterns = tuple(_compile_pcre(entry) for entry in entries)

    def matches(self, kind: str, value: str) -> bool:
        return any(pattern.search(value) for pattern in self._patterns)

    def index_into(self, index: _Index, bit: int) -> None:
        index.patterns[bit] = self._patterns


_ENTRY_TYPES: dict[str, Callable[[list[str]], _Entries]] = {
    "hostname": _Hostnames,
    "cidr": _Networks,
    "string": _Strings,
    "substring": _Substrings,
    "regex": _Patterns,
}


# --- one index across all lists -----------------------------------------------------------------------------------


class _Automaton(Protocol):
    """The part of ``ahocorasick.Automaton`` used here (pyahocorasick ships no type information)."""

    def iter(self, string: str) -> Iterator[tuple[int, int]]: ...


def _automaton(words: dict[str, int]) -> _Automaton | None:
    """An Aho-Corasick automaton reporting, for each word found in a string, its value; None without words."""
    if not words:
        return None  # pyahocorasick refuses to search with an empty automaton
    automaton = ahocorasick.Automaton()
    for word, value in words.items():
        automaton.add_word(word, value)
    automaton.make_automaton()
    return cast(_Automaton, automaton)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a lookup of one kind probes: ``lists`` holds the bits of the lists that apply to the kind, ``patterns``
    the regex lists among them, each as its bit and its patterns (with each pattern's own bit, see _Index)."""

    lists: int
    strings: bool
    hostnames: bool
    networks: bool
    parts: bool
    patterns: tuple[tuple[int, tuple[tuple[int, re.Pattern[str]], ...]], ...]


class _Index:
    """The entries of all lists, one structure per entry type across the lists, built once when the lists load.

    List i (in name order) is bit ``1 << i``; each structure maps an entry to the bits of the lists that hold it (an
    int used as a set), so a lookup probes each structure once, whatever the number of lists, and ORs what it
    finds; the bits of the lists that do not apply to the value's kind are then cleared. The semantics are those of
    the per-list classes above (:meth:`Warninglist.contains`), whose entries the index takes:

    - ``string``: one dict, value -> bits.
    - ``hostname``: one dict, normalised name -> bits; the value's host and each of its parent domains are looked
      up once each.
    - ``cidr``: the value is parsed once. An address (the usual value) is found by bisection in the boundaries of
      the ranges covered by the same lists (:func:`_ranges`); a network value is looked up per prefix length in use
      (at most 33 + 129, a few dozen in practice) in a dict from the network prefix (the top bits) to bits, for
      each length no longer than its own.
    - ``substring``: one Aho-Corasick automaton (pyahocorasick) over the entries of all substring lists: one pass
      over the value finds every entry in it.
    - ``regex``: patterns cannot share an index, so each applicable list still tries its patterns in turn, but only
      those that can match: a pattern for which :func:`_required_text` finds strings one of which every match must
      contain is tried only when a second automaton, over those strings, finds one in the value.
    """

    def __init__(self, lists: Sequence[Warninglist]) -> None:
        self.strings: dict[str, int] = {}
        self.hostnames: dict[str, int] = {}
        self.networks: dict[tuple[int, int], dict[int, int]] = {}  # (version, prefix length) -> prefix -> bits
        self.parts: dict[str, int] = {}
        self.patterns: dict[int, tuple[re.Pattern[str], ...]] = {}
        self._unions: dict[int, int] = {}  # one int object per union of bits (most entries are on a single list)
        by_type = dict.fromkeys(TYPES, 0)
        by_kind = dict.fromkeys(_ALL_KINDS, 0)
        for position, wl in enumerate(lists):
            bit = 1 << position
            wl._entries.index_into(self, bit)
            by_type[wl.list_type] |= bit
            for kind in wl.kinds & by_kind.keys():  # as before, a kind that is not Accord's matches nothing
                by_kind[kind] |= bit
        # Per IP version, ascending prefix length: (length, shift of a number to its prefix, prefix -> bits).
        self._prefixes: dict[int, tuple[tuple[int, int, dict[int, int]], ...]] = {}
        self._ranges: dict[int, tuple[list[int], list[int]]] = {}
        for version, width in ((4, 32), (6, 128)):
            tables = sorted((length, table) for (each, length), table in self.networks.items() if each == version)
            self._prefixes[version] = tuple((length, width - length, table) for length, table in tables)
            self._ranges[version] = _ranges(self._prefixes[version], width, self._unions)
        self._unions.clear()
        self._parts = _automaton(self.parts)
        # Pattern n (over all regex lists) is bit 1 << n of the automaton's values; _always those with no such text.
        required: dict[str, int] = {}
        self._always = 0
        numbered: dict[int, tuple[tuple[int, re.Pattern[str]], ...]] = {}
        count = 0
        for bit, patterns in sorted(self.patterns.items()):
            entries = []
            for pattern in patterns:
                own = 1 << count
                count += 1
                entries.append((own, pattern))
                texts = _required_text(pattern)
                if texts is None:
                    self._always |= own
                for text in texts or ():
                    required[text] = required.get(text, 0) | own
            numbered[bit] = tuple(entries)
        self._required = _automaton(required)
        self._plans = {
            kind: _Plan(
                lists=applies,
                strings=bool(applies & by_type["string"]),
                hostnames=bool(applies & by_type["hostname"]),
                networks=bool(applies & by_type["cidr"]),
                parts=bool(applies & by_type["substring"]) and self._parts is not None,
                patterns=tuple((bit, entries) for bit, entries in numbered.items() if bit & applies),
            )
            for kind, applies in by_kind.items()
            if applies
        }

    def add(self, table: dict[_Key, int], entries: Iterable[_Key], bit: int) -> None:
        """Record that the list whose bit is ``bit`` holds ``entries`` (as :meth:`_Entries.index_into` calls it)."""
        unions = self._unions
        for entry in entries:
            before = table.get(entry)
            if before is None:
                table[entry] = bit
            elif not before & bit:
                union = before | bit
                table[entry] = unions.setdefault(union, union)

    def lookup(self, kind: str, value: str) -> int:
        """The bits of the lists of :meth:`Warninglists.matching`."""
        plan = self._plans.get(kind)
        if plan is None:
            return 0
        found = self.strings.get(value, 0) if plan.strings else 0
        if plan.hostnames or plan.networks:
            host = _host_of(kind, value)
            if plan.hostnames:
                found |= self._hostname(host)
            if plan.networks:
                found |= self._network(host)
        if plan.parts and self._parts is not None:
            for _end, bits in self._parts.iter(value):
                found |= bits
        if plan.patterns:
            found |= self._pattern(plan.patterns, value, found)
        return found & plan.lists

    def _hostname(self, host: str) -> int:
        # The name and each parent domain (a.b.c, b.c, c), as _Hostnames.matches walks them for one list.
        table = self.hostnames
        name = host.rstrip(".").lower()
        found = table.get(name, 0)
        dot = name.find(".")
        while dot >= 0:
            name = name[dot + 1 :]
            found |= table.get(name, 0)
            dot = name.find(".")
        return found

    def _network(self, host: str) -> int:
        # An IPv4 address starts with an ASCII digit and an IPv6 one holds a colon: anything else (a host name in a
        # URL, say) is not parsed at all, which saves raising and catching a ValueError.
        if ":" not in host and not host[:1].isdigit():
            return 0
        try:
            if "/" not in host:
                # ip_address is quicker and, for a value without "/", accepts what ip_network (which _Networks
                # uses) does, as a network of full length: an address, found in the ranges.
                address = ipaddress.ip_address(host)
                starts, bits = self._ranges[address.version]
                return bits[bisect.bisect_right(starts, int(address)) - 1]
            network = ipaddress.ip_network(host, strict=False)
        except ValueError:
            return 0
        number, width, found = int(network.network_address), network.prefixlen, 0
        for length, shift, table in self._prefixes[network.version]:
            if length > width:
                break
            found |= table.get(number >> shift, 0)
        return found

    def _pattern(
        self, lists: tuple[tuple[int, tuple[tuple[int, re.Pattern[str]], ...]], ...], value: str, found: int
    ) -> int:
        candidates = self._always
        if self._required is not None:
            for _end, bits in self._required.iter(value):
                candidates |= bits
        for bit, patterns in lists:
            if not found & bit and any(own & candidates and p.search(value) for own, p in patterns):
                found |= bit
        return found


def _ranges(
    prefixes: tuple[tuple[int, int, dict[int, int]], ...], width: int, unions: dict[int, int]
) -> tuple[list[int], list[int]]:
    """The networks as sorted boundaries: the numbers from ``starts[i]`` up to ``starts[i + 1]`` (excluded) are in a
    network of each list in ``bits[i]``, and in none of the others; ``starts[0]`` is 0."""
    events: list[tuple[int, int, int]] = []  # (number, +1 where a network starts or -1 after its end, bits)
    for _length, shift, table in prefixes:
        for prefix, bits in table.items():
            start = prefix << shift
            events += ((start, 1, bits), (start + (1 << shift), -1, bits))
    events.sort(key=lambda event: event[0])
    held: dict[int, int] = {}  # bit -> how many networks of that list hold the numbers from here on
    starts, ranges, current = [0], [0], 0
    for number, group in itertools.groupby(events, key=lambda event: event[0]):
        for _number, step, bits in group:
            while bits:
                low = bits & -bits
                bits ^= low
                held[low] = held.get(low, 0) + step
                current = current | low if held[low] else current & ~low
        if number == starts[-1]:
            ranges[-1] = unions.setdefault(current, current)
        elif current != ranges[-1]:
            starts.append(number)
            ranges.append(unions.setdefault(current, current))
    return starts, ranges


# The parser behind re.compile: private, so anything in its tree that _required_text does not know means "no text
# known", and the pattern is simply always tried.
_PARSER: Any = importlib.import_module("re._parser")


def _required_text(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Strings one of which every match of ``pattern`` contains, or None if none are known.

    Read from the parsed pattern: a run of literal characters must appear as it is, an alternation needs one of
    its branches, a repetition at least once its item, a group its content; of a sequence's candidates the one
    with the longest shortest string is taken. Case-insensitive patterns and groups give none (their literals
    match other characters), nor do character classes, look-arounds, back-references and conditions.
    """
    if pattern.flags & re.IGNORECASE:
        return None
    try:
        return _sequence_text(_PARSER.parse(pattern.pattern, pattern.flags))
    except Exception:  # a tree of another shape: no text known, which is always right
        return None


def _sequence_text(items: Iterable[tuple[Any, Any]]) -> frozenset[str] | None:
    candidates: list[frozenset[str]] = []
    run: list[str] = []
    for op, av in items:
        if op is _PARSER.LITERAL:
            run.append(chr(av))
            continue
        if run:
            candidates.append(frozenset(["".join(run)]))
            run = []
        if op is _PARSER.SUBPATTERN:
            _group, add_flags, _del_flags, content = av
            texts = None if add_flags & re.IGNORECASE else _sequence_text(content)
        elif op is _PARSER.ATOMIC_GROUP:
            texts = _sequence_text(av)
        elif op is _PARSER.BRANCH:
            texts = frozenset()
            for branch in av[1]:
                known = _sequence_text(branch)
                if known is None:
                    texts = None
                    break
                texts |= known
        elif op in (_PARSER.MAX_REPEAT, _PARSER.MIN_REPEAT, _PARSER.POSSESSIVE_REPEAT):
            least, _most, item = av
            texts = _sequence_text(item) if least >= 1 else None
        else:  # anything else matches text not known here, or none (anchors, look-arounds): it ends a run
            texts = None
        if texts is not None:
            candidates.append(texts)
    if run:
        candidates.append(frozenset(["".join(run)]))
    if not candidates:
        return None
    return max(candidates, key=lambda texts: (min(map(len, texts)), -len(texts)))


# --- helpers ------------------------------------------------------------------------------------------------------


def _text(document: dict[str, Any], key: str) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(key, "required, a non-empty string")
    return value


def _raw_entries(document: dict[str, Any]) -> list[str]:
    raw = document.get("list")
    if isinstance(raw, dict):
        raw = list(raw)  # MISP's import format with comments: {"entry": "comment", ...}
    if not isinstance(raw, list):
        raise InvalidInput("list", "required, an array of strings")
    if len(raw) > MAX_ENTRIES:
        raise InvalidInput("list", f"more than {MAX_ENTRIES} entries")
    entries = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, str):
            raise InvalidInput("list", f"entry {index} is not a string")
        if len(entry) > MAX_ENTRY:
            raise InvalidInput("list", f"entry {index} is longer than {MAX_ENTRY} characters")
        if entry:  # MISP skips empty entries
            entries.append(entry)
    return entries


def _hostname_entry(entry: str) -> str:
    name = entry.strip().removesuffix("/").strip(".").lower()
    if name.isascii():
        return name
    try:
        return idna.encode(name, uts46=True).decode("ascii")  # as intel/normalise/domain.py, for the same key
    except UnicodeError as exc:
        raise InvalidInput("list", f"{entry!r} is not a valid host name") from exc


def _host_of(kind: str, value: str) -> str:
    """The part of a value that hostname and cidr lists judge: a URL's host, an e-mail address's domain."""
    if kind == IdentifierKind.URL:
        authority = value.partition("://")[2].split("/", 1)[0].split("?", 1)[0].rpartition("@")[2]
        if authority.startswith("["):  # an IPv6 literal (RFC 3986 section 3.2.2)
            return authority[1:].partition("]")[0]
        return authority.partition(":")[0]
    if kind == IdentifierKind.EMAIL:
        return value.rpartition("@")[2]
    return value


def _compile_pcre(entry: str) -> re.Pattern[str]:
    """A Python pattern for a PCRE ``<delimiter>pattern<delimiter>modifiers`` entry, as preg_match takes it."""
    if len(entry) > MAX_PATTERN:
        raise InvalidInput("list", f"a regular expression is longer than {MAX_PATTERN} characters")
    opener = entry[0]
    if opener.isalnum() or opener.isspace() or opener == "\\":
        raise InvalidInput("list", f"{entry!r} has no delimiter (MISP regex entries are written /pattern/flags)")
    end = entry.rfind(_PCRE_BRACKETS.get(opener, opener))
    if end <= 0:
        raise InvalidInput("list", f"{entry!r} has no closing delimiter")
    flags = 0
    for modifier in entry[end + 1 :]:
        if modifier not in _PCRE_MODIFIERS:
            raise InvalidInput("list", f"{entry!r}: modifier {modifier!r} is not supported")
        flags |= _PCRE_MODIFIERS[modifier]
    try:
        return re.compile(entry[1:end], flags)
    except re.error as exc:
        raise InvalidInput("list", f"{entry!r} is not a valid regular expression: {exc}") from exc


def _list_files(path: Path) -> list[tuple[Path, str]]:
    if path.is_file():
        return [(path, str(path))]
    if not path.is_dir():
        raise InvalidInput(str(path), "no such file or directory")
    folder = path / "lists" if (path / "lists").is_dir() else path  # the root of a misp-warninglists checkout
    found = sorted(folder.glob("*.json")) + sorted(folder.glob("*/list.json"))
    if not found:
        raise InvalidInput(str(path), "no warninglist in this directory (*.json or */list.json)")
    return [(file, str(file)) for file in found]


def _read(path: Path, source: str) -> Warninglist:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidInput(str(path), f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(str(path), f"cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(str(path), "not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise InvalidInput(str(path), f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from exc
    try:
        return parse_warninglist(document, source)
    except InvalidInput as exc:
        raise InvalidInput(str(path), str(exc)) from exc
