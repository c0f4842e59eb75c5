"""Node settings, each declared once: name, type, default and help live on the dataclass field.

Sources, weakest first: the field default, the config file (``<home>/accord.toml`` or ``--config``),
``ACCORD_<NAME>`` environment variables, then CLI flags (``--home``, ``--database-url`` and
``--setting name=value`` for any other). ``docs/configuration.md`` lists every setting; a test keeps
the two in step.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from accord.errors import AccordError

CONFIG_FILE_NAME = "accord.toml"
ENV_PREFIX = "ACCORD_"
# Variables that share our prefix but are not settings (so `accord config check` does not flag them).
NON_SETTING_ENV = frozenset({"ACCORD_CONFIG", "ACCORD_TEST_DATABASES", "ACCORD_TEST_POSTGRES_URL"})


class InvalidSetting(AccordError):
    """A setting from a file, the environment or a flag is unknown or has a value of the wrong form."""

    def __init__(self, name: str, source: str, reason: str) -> None:
        self.name = name
        self.source = source
        self.reason = reason
        super().__init__(f"setting {name!r} from {source}: {reason}")


def _setting(default: Any, help: str, **extra: Any) -> Any:
    return field(default=default, metadata={"help": help, **extra})


@dataclass(frozen=True)
class Settings:
    home: Path = _setting(Path("."), "Folder of this node: config file, keys, SQLite database, blobs.", env_only=True)
    database_url: str = _setting(
        "",
        "SQLAlchemy URL of the database. Empty means the SQLite file accord.db in home. "
        "Production: postgresql+psycopg://user@host/dbname.",
        secret=True,
    )
    node_name: str = _setting("", "Human name of this node, e.g. 'Viet Nam - A05 cybercrime unit'. Set by accord init.")
    node_country: str = _setting("", "ISO 3166-1 alpha-2 country of this node. Set by accord init.")
    host: str = _setting("127.0.0.1", "Address accord serve listens on.")
    port: int = _setting(8000, "TCP port accord serve listens on.", minimum=1, maximum=65535)
    session_max_age_seconds: int = _setting(
        8 * 3600, "How long a browser login lasts (an 8-hour duty shift).", minimum=60, maximum=7 * 86400
    )
    login_max_failures: int = _setting(
        5, "Failed logins per user name or client address before further tries wait.", minimum=1, maximum=1000
    )
    login_window_seconds: int = _setting(
        900, "Window over which failed logins are counted, and the longest wait imposed.", minimum=1, maximum=86400
    )
    token_default_days: int = _setting(90, "Lifetime of an API token when none is asked for.", minimum=1, maximum=3650)
    token_max_days: int = _setting(366, "Longest lifetime an API token may be given.", minimum=1, maximum=3650)
    max_body_bytes: int = _setting(
        1024 * 1024, "Largest request body the API accepts (bulk endpoints declare their own).", minimum=1024
    )
    cookie_secure: str = _setting(
        "auto",
        "Mark cookies Secure: 'auto' (when the request came over HTTPS), 'always' or 'never'.",
        choices=("auto", "always", "never"),
    )
    default_locale: str = _setting(
        "en", "Language of the UI when the browser asks for none we have.", choices=("en", "vi")
    )
    server_workers: int = _setting(
        1,
        "Web server processes accord serve runs; up to one per core. The deadline ticker and federation loop "
        "run once, beside them.",
        minimum=1,
        maximum=64,
    )
    access_log: bool = _setting(
        True, "Log one line per HTTP request to standard error: client address, request line, status, milliseconds."
    )
    trust_proxy_headers: bool = _setting(
        False, "Believe X-Forwarded-For/-Proto from a reverse proxy (only behind one you run)."
    )
    intel_default_tlp: str = _setting(
        "amber",
        "TLP given to imported objects that carry no TLP marking.",
        choices=("clear", "green", "amber", "amber+strict", "red"),
    )
    intel_amber_audience: str = _setting(
        "law_enforcement,central_authority,point_of_contact,cert,international_org",
        "Party kinds, comma-separated, that see other parties' TLP:AMBER intelligence (national policy).",
    )
    intel_max_bundle_bytes: int = _setting(
        50 * 1024 * 1024, "Largest STIX bundle accepted over HTTP (the CLI streams files of any size).", minimum=1024
    )
    intel_import_workers: int = _setting(
        -1,
        "Processes that check objects during a bulk import (accord intel import of a large file): "
        "-1 means one per CPU core (none on a single core), 0 checks in the importing process.",
        minimum=-1,
        maximum=64,
    )
    matching_lookup_workers: int = _setting(
        -1,
        "Processes that help normalise the values of a large lookup (2,000 distinct values or more), started by "
        "the first such lookup of a server or accord lookup and kept while it runs: -1 means one less than the "
        "CPU cores, at most 3 (none on a single core), 0 normalises in the serving process.",
        minimum=-1,
        maximum=64,
    )
    matching_warninglists: str = _setting(
        "",
        "Warninglists that mark lookup hits, comma-separated: MISP warninglist JSON files, folders of them, or a "
        "checkout of MISP/misp-warninglists (relative paths from home). Accord's own lists (URL shorteners, "
        "shared hosting, platforms, payment processors) are always on.",
    )
    matching_half_life_days: str = _setting(
        "phone-number=90,bank-account=180,cryptocurrency-wallet=365,url=30,domain-name=60,ipv4-addr=14,"
        "ipv6-addr=14,email-addr=90,default=90",
        "Days after which a report counts half as recent in a value's score, per identifier kind, comma-separated "
        "kind=days ('default' for kinds not named; 90 when not given). Policy: addresses and URLs go stale fast, "
        "bank accounts and wallets slowly.",
    )
    cooperation_catalogue: str = _setting(
        "",
        "Legal catalogue for cooperation requests (JSON, checked against Accord's schema at start-up; relative paths "
        "from home). Empty: the catalogue Accord ships.",
    )
    smtp_host: str = _setting("", "SMTP server for e-mail notifications (deadlines, new requests); empty: no e-mail.")
    smtp_port: int = _setting(25, "SMTP port.", minimum=1, maximum=65535)
    smtp_sender: str = _setting("", "From address of notification e-mails, e.g. accord@cybercrime.example.")
    federation_sync_seconds: int = _setting(
        60,
        "Seconds between intelligence syncs with each peer inside accord serve (a failing peer backs off, "
        "10 s doubling to an hour).",
        minimum=5,
        maximum=86_400,
    )
    evidence_blob_dir: str = _setting(
        "blobs",
        "Folder of the evidence blob store (content-addressed by SHA-256; relative paths from home).",
    )
    evidence_max_item_bytes: int = _setting(
        64 * 1024**3, "Largest evidence file accepted (upload, CLI or package import).", minimum=1
    )
    evidence_package_max_bytes: int = _setting(
        256 * 1024**3,
        "Largest evidence package (zip) accepted for verification or import; with the entry and ratio limits "
        "it keeps zip bombs out.",
        minimum=1024,
    )
    evidence_package_max_entries: int = _setting(
        100_000, "Most files an evidence package may hold.", minimum=10, maximum=10_000_000
    )
    # Evidence transfers between peers (accord.federation.evidence_transfer). The largest package a peer may
    # declare is evidence_package_max_bytes; a chunk is one request body, so it must fit the receiver's
    # max_body_bytes (1 MiB by default, hence this default).
    federation_transfer_chunk_bytes: int = _setting(
        8 * 1024 * 1024,
        "Size of the chunks this node sends evidence packages to peers in (each hashed and acknowledged once on the "
        "peer's disk; a resumed send repeats at most one). Peers accept up to 16 MiB.",
        minimum=64 * 1024,
        maximum=16 * 1024 * 1024,
    )
    federation_transfer_retries: int = _setting(
        6,
        "Retries of one call to a peer during an evidence transfer or witnessing, with exponential backoff, before "
        "the send stops and keeps its state (accord evidence resume continues it).",
        minimum=0,
        maximum=30,
    )
    federation_transfer_backoff_ms: int = _setting(
        1000,
        "First wait before retrying a call to a peer; doubled at each retry, at most 60 seconds.",
        minimum=1,
        maximum=60_000,
    )
    federation_transfer_stale_hours: int = _setting(
        72,
        "Incoming evidence transfers that received no chunk for this many hours and are not complete are deleted "
        "with their chunks.",
        minimum=1,
        maximum=24 * 365,
    )
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, metadata={"internal": True})

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'accord.db').resolve()}"

    @property
    def config_file(self) -> Path:
        return self.home / CONFIG_FILE_NAME


def declared_settings() -> list[dataclasses.Field[Any]]:
    """Every user-facing setting, in declaration order."""
    return [f for f in dataclasses.fields(Settings) if not f.metadata.get("internal")]


def _parse(spec: dataclasses.Field[Any], raw: Any, source: str) -> Any:
    kind = get_type_hints(Settings)[spec.name]
    value: Any
    if kind is bool:
        if isinstance(raw, bool):
            value = raw
        elif str(raw).strip().lower() in {"1", "true", "yes", "on"}:
            value = True
        elif str(raw).strip().lower() in {"0", "false", "no", "off"}:
            value = False
        else:
            raise InvalidSetting(spec.name, source, f"expected true or false, got {raw!r}")
    elif kind is int:
        if isinstance(raw, bool):
            raise InvalidSetting(spec.name, source, f"expected an integer, got {raw!r}")
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise InvalidSetting(spec.name, source, f"expected an integer, got {raw!r}") from None
        low, high = spec.metadata.get("minimum"), spec.metadata.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            raise InvalidSetting(spec.name, source, f"must be between {low} and {high if high else 'any'}")
    elif kind is Path:
        value = Path(str(raw)).expanduser()
    else:
        if not isinstance(raw, str | int | float):
            raise InvalidSetting(spec.name, source, f"expected text, got {raw!r}")
        value = str(raw)
    choices = spec.metadata.get("choices")
    if choices and value not in choices:
        raise InvalidSetting(spec.name, source, f"must be one of {', '.join(choices)}")
    return value


def load_settings(
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    config_file: Path | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Resolve settings from defaults, file, environment and flags.

    Raises :class:`InvalidSetting` for an unknown key in the file or flags, or a value of the wrong form.
    """
    env = os.environ if env is None else env
    overrides = overrides or {}
    specs = {f.name: f for f in declared_settings()}
    for name in overrides:
        if name not in specs:
            raise InvalidSetting(name, "command line", "no such setting")

    values: dict[str, Any] = {}
    sources: dict[str, str] = {name: "default" for name in specs}

    # home decides where the config file is, so it is read first and never from the file itself.
    if "home" in overrides:
        values["home"], sources["home"] = _parse(specs["home"], overrides["home"], "command line"), "command line"
    elif f"{ENV_PREFIX}HOME" in env:
        values["home"], sources["home"] = _parse(specs["home"], env[f"{ENV_PREFIX}HOME"], "environment"), "environment"
    else:
        values["home"] = cwd or Path.cwd()
    home = Path(values["home"]).resolve()
    values["home"] = home

    file_path = config_file or (Path(env[f"{ENV_PREFIX}CONFIG"]) if f"{ENV_PREFIX}CONFIG" in env else None)
    file_path = file_path or home / CONFIG_FILE_NAME
    if file_path.exists():
        label = f"file {file_path}"
        try:
            data = tomllib.loads(file_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InvalidSetting("config", label, f"cannot read: {exc}") from exc
        for name, raw in data.items():
            if name not in specs or specs[name].metadata.get("env_only"):
                raise InvalidSetting(name, label, "no such setting in a config file")
            values[name], sources[name] = _parse(specs[name], raw, label), label
    elif config_file is not None:
        raise InvalidSetting("config", str(config_file), "file does not exist")

    for name, spec in specs.items():
        key = f"{ENV_PREFIX}{name.upper()}"
        if name != "home" and key in env:
            values[name], sources[name] = _parse(spec, env[key], f"environment {key}"), f"environment {key}"
    for name, raw in overrides.items():
        if name != "home":
            values[name], sources[name] = _parse(specs[name], raw, "command line"), "command line"
    return Settings(**values, sources=sources)


def write_config_file(path: Path, values: Mapping[str, Any]) -> None:
    """Write (or update) the node's config file, keeping keys that are already there."""
    import tomli_w

    current: dict[str, Any] = {}
    if path.exists():
        current = tomllib.loads(path.read_text(encoding="utf-8"))
    current.update({k: (str(v) if isinstance(v, Path) else v) for k, v in values.items()})
    tmp = path.with_suffix(".tmp")
    tmp.write_text(tomli_w.dumps(current), encoding="utf-8")
    tmp.replace(path)  # atomic: a crash never leaves half a config file


def unknown_env_settings(env: Mapping[str, str]) -> list[str]:
    """ACCORD_* variables that name no setting (likely typos)."""
    known = {f"{ENV_PREFIX}{f.name.upper()}" for f in declared_settings()} | NON_SETTING_ENV
    return sorted(k for k in env if k.startswith(ENV_PREFIX) and k not in known)
