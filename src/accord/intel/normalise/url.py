"""URLs, canonicalised as Google Safe Browsing does ("URL canonicalization" in
https://developers.google.com/safe-browsing/v4/urls-hashing), so that the many spellings of one phishing link
share one key.

The steps, in the order the spec gives them:

1. trim surrounding space, remove tab, CR and LF (not their escapes), drop the fragment;
2. percent-unescape repeatedly until no escape is left, then percent-escape the bytes <= 0x20, >= 0x7F, '#' and
   '%' (upper-case hex); the structure (scheme, host, port, path, query) is read after this step, as Google's own
   Go client does, so ``%2F`` counts as a '/';
3. host: remove leading and trailing dots, collapse runs of dots, lower-case, IDNA A-labels for Unicode labels
   (labels IDNA refuses stay percent-escaped, as the spec's ``http://\\x01\\x80.com/`` example shows), any legal
   IPv4 spelling (decimal, octal, hex, fewer than four parts) to a dotted quad, IPv6 compressed and IPv4-mapped
   or NAT64 (64:ff9b::/96) IPv6 addresses to IPv4;
4. path: resolve ``/./`` and ``/../``, collapse runs of '/'; the query is kept as it is.

Beyond the spec: no scheme means ``http``; the scheme is lower-cased; user information (``user:pass@``) is dropped,
as it is not part of the host; a port is kept unless it is the scheme's default. Text is encoded as UTF-8
(RFC 3987 section 3.1) before escaping. A host must be an IP address or contain a dot.
"""

from __future__ import annotations

import ipaddress
import re

import idna

from accord.intel.normalise.domain import normalise_domain
from accord.intel.normalise.errors import InvalidIdentifier
from accord.intel.normalise.models import Canonical, IdentifierKind

MAX_RAW = 4096  # longer is a data blob, not a link; the usual limit of URL-handling software (and of our index)
KIND = IdentifierKind.URL

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")  # RFC 3986 section 3.1
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")
_PORT = re.compile(r"[0-9]{1,5}")
_DOTS = re.compile(rb"\.{2,}")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix


def normalise_url(raw: str) -> Canonical:
    """Safe Browsing canonical form of ``raw``, with ``host``, ``scheme`` and (for a named host)
    ``registered_domain`` details.

    Raises InvalidIdentifier when ``raw`` is too long, or its host is empty, malformed or has no dot.
    """
    if len(raw) > MAX_RAW:
        raise InvalidIdentifier(KIND, raw, f"longer than {MAX_RAW} characters")
    text = raw.strip().replace("\t", "").replace("\r", "").replace("\n", "")
    text = text.split("#", 1)[0]
    escaped = _escape(_unescape_fully(text.encode("utf-8", "surrogatepass")))

    scheme_match = _SCHEME.match(escaped)
    scheme = scheme_match[1].lower() if scheme_match else "http"
    rest = escaped[scheme_match.end() :] if scheme_match else escaped.removeprefix("//")
    rest, has_query, query = rest.partition("?")
    authority, slash, path = rest.partition("/")
    host_text, port = _split_port(raw, authority.rpartition("@")[2])
    host, is_ip = _canonical_host(raw, host_text)
    if not host:
        raise InvalidIdentifier(KIND, raw, "empty host")
    if not is_ip and "." not in host:
        raise InvalidIdentifier(KIND, raw, "host has no dot (not a public host name)")

    port_text = f":{port}" if port is not None and port != _DEFAULT_PORTS.get(scheme) else ""
    value = f"{scheme}://{host}{port_text}{_canonical_path(slash + path)}{has_query}{query}"
    details = {"scheme": scheme, "host": host}
    if not is_ip:
        try:
            details["registered_domain"] = normalise_domain(host).details["registered_domain"]
        except InvalidIdentifier:
            pass  # a host Safe Browsing keeps (escaped bytes, '_') but that is not a valid DNS name
    return Canonical(KIND, value, raw, details)


def _unescape_once(data: bytes) -> bytes:
    return _ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), data)


def _unescape_fully(data: bytes) -> bytes:
    # Each pass that changes something makes the data shorter, so this ends.
    while (unescaped := _unescape_once(data)) != data:
        data = unescaped
    return data


def _escape(data: bytes) -> str:
    return "".join(f"%{b:02X}" if b <= 0x20 or b >= 0x7F or b in b"#%" else chr(b) for b in data)


def _split_port(raw: str, authority: str) -> tuple[str, int | None]:
    if authority.startswith("["):
        end = authority.find("]")
        if end == -1:
            raise InvalidIdentifier(KIND, raw, "unclosed '[' in host")
        host, after = authority[: end + 1], authority[end + 1 :]
        if after and not after.startswith(":"):
            raise InvalidIdentifier(KIND, raw, "characters after an IPv6 host")
        port_text = after[1:]
    else:
        host, colon, port_text = authority.rpartition(":")
        if not colon:
            host, port_text = authority, ""
        if ":" in host:
            raise InvalidIdentifier(KIND, raw, "':' in host (an IPv6 host needs brackets)")
        if "[" in host or "]" in host:  # RFC 3986 section 3.2.2: brackets only enclose an IP literal
            raise InvalidIdentifier(KIND, raw, "'[' or ']' in a host that is not a bracketed IPv6 address")
    if not port_text:
        return host, None
    if not _PORT.fullmatch(port_text) or int(port_text) > 65535:
        raise InvalidIdentifier(KIND, raw, "port is not a number from 0 to 65535")
    return host, int(port_text)


def _canonical_host(raw: str, host: str) -> tuple[str, bool]:
    """(canonical host, whether it is an IP address) for the escaped host text."""
    if host.startswith("["):
        return _ipv6_host(raw, host[1:-1]), True
    name = _DOTS.sub(b".", _unescape_once(host.encode("ascii")).strip(b".")).lower()
    if not name.isascii():
        name = _DOTS.sub(b".", b".".join(_idna_label(label) for label in name.split(b".")).strip(b"."))
    ipv4 = _ipv4(name)
    if ipv4 is not None:
        return ipv4, True
    return _escape(name), False


def _idna_label(label: bytes) -> bytes:
    if label.isascii():
        return label
    try:
        return idna.encode(label.decode("utf-8"), uts46=True)
    except UnicodeError:  # not UTF-8, or not a valid IDNA label: Safe Browsing keeps the bytes (escaped)
        return label


def _ipv4(name: bytes) -> str | None:
    """Dotted quad for any spelling inet_aton(3) accepts: 1 to 4 parts, each decimal, 0-octal or 0x-hex, the last
    part filling the remaining bytes ("3279880203" is 195.127.0.11, "0x7f.1" is 127.0.0.1)."""
    parts = name.split(b".")
    if len(parts) > 4:
        return None
    values = []
    for part in parts:
        if len(part) > 32:
            return None
        if part[:2].lower() == b"0x" and all(c in b"0123456789abcdefABCDEF" for c in part[2:]):
            values.append(int(part[2:] or b"0", 16))
        elif part.isdigit():  # bytes.isdigit is ASCII-only
            if len(part) > 1 and part.startswith(b"0"):
                if any(c in b"89" for c in part):
                    return None
                values.append(int(part, 8))
            else:
                values.append(int(part))
        else:
            return None
    last_limit = 256 ** (5 - len(values))
    if any(v > 255 for v in values[:-1]) or values[-1] >= last_limit:
        return None
    number = values[-1]
    for i, v in enumerate(values[:-1]):
        number += v << (8 * (3 - i))
    return str(ipaddress.IPv4Address(number))


def _ipv6_host(raw: str, inner: str) -> str:
    try:
        address = ipaddress.IPv6Address(_unescape_once(inner.encode("ascii")).decode("ascii"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidIdentifier(KIND, raw, "bracketed host is not an IPv6 address") from exc
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    if address in _NAT64:
        return str(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return f"[{address.compressed}]"


def _canonical_path(path: str) -> str:
    """Resolve "." and ".." segments and drop empty ones (runs of '/'); keep a trailing '/'."""
    segments = path.split("/")[1:]
    kept: list[str] = []
    for segment in segments:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment not in ("", "."):
            kept.append(segment)
    trailing = bool(segments) and segments[-1] in ("", ".", "..")
    return "/" + "/".join(kept) + ("/" if kept and trailing else "")
