"""A node: one country's (or organisation's) Accord installation, wired from its settings.

``open_node`` builds the services for a settings object; nothing is global, so a test can run several
nodes side by side (federation tests will).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError

from accord.audit.service import AuditLog
from accord.clock import Clock, SystemClock
from accord.config import InvalidSetting, Settings, write_config_file
from accord.cooperation.catalogue import Catalogue, CatalogueInvalid, load_catalogue
from accord.cooperation.directory import Directory
from accord.cooperation.notify import Mailer, SmtpSettings
from accord.cooperation.requests import CooperationRequests
from accord.cooperation.service import CooperationService
from accord.errors import AccordError, InvalidInput
from accord.evidence.blobstore import LocalBlobStore
from accord.evidence.custody import CustodyLog
from accord.evidence.safezip import ZipLimits
from accord.evidence.service import EvidenceService
from accord.evidence.transfer import EvidencePackages
from accord.federation.cooperation_link import CooperationLink
from accord.federation.outbox import EnvelopeExchange
from accord.federation.service import FederationService
from accord.federation.sharing import SharingService
from accord.federation.sync import IntelSync
from accord.identity import validation
from accord.identity.epoch import track_identity_changes
from accord.identity.login import LoginPolicy, LoginService
from accord.identity.models import ApiToken, Party, User, UserRole
from accord.identity.node_keys import PRIVATE_KEY_FILE, NodeKeys, generate_node_keys, load_node_keys
from accord.identity.service import IdentityService, TokenPolicy
from accord.ids import IdSource, RandomIds
from accord.intel.markings import parse_audience
from accord.intel.models import SharingGroup, SharingGroupMember
from accord.intel.service import IntelPolicy, IntelService
from accord.intel.vocabulary import parse_tlp
from accord.matching.normalising import NormalisingPool, worker_count
from accord.matching.scoring import parse_half_lives
from accord.matching.service import MatchingPolicy, MatchingService
from accord.matching.sightings import record_sightings
from accord.matching.warninglists import Warninglists
from accord.store import migrate
from accord.store.engine import Database, DatabaseUnavailable, make_engine

# Rows whose change moves the identity epoch, with the attributes whose change alone does not (identity.epoch).
IDENTITY_ROWS: dict[type[Any], frozenset[str]] = {
    Party: frozenset(),
    User: frozenset(),
    UserRole: frozenset(),
    ApiToken: frozenset({"last_used_at"}),
    SharingGroup: frozenset(),
    SharingGroupMember: frozenset(),
}


class NodeNotInitialised(AccordError):
    """The node's home has no database schema or no key; ``accord init`` has not run there."""

    def __init__(self, home: str, missing: str) -> None:
        self.home = home
        self.missing = missing
        super().__init__(f"no Accord node in {home} ({missing}); run: accord init --name NAME --country CC")


@dataclass
class Node:
    settings: Settings
    db: Database
    clock: Clock
    ids: IdSource
    audit: AuditLog
    identity: IdentityService
    login: LoginService
    intel: IntelService
    _keys: NodeKeys | None = field(default=None, repr=False)
    _matching: MatchingService | None = field(default=None, repr=False)
    _cooperation: CooperationService | None = field(default=None, repr=False)
    _requests: CooperationRequests | None = field(default=None, repr=False)
    _directory: Directory | None = field(default=None, repr=False)
    _evidence: EvidenceService | None = field(default=None, repr=False)
    _federation: FederationService | None = field(default=None, repr=False)
    _sharing: SharingService | None = field(default=None, repr=False)
    _intel_sync: IntelSync | None = field(default=None, repr=False)
    _evidence_packages: EvidencePackages | None = field(default=None, repr=False)
    _envelopes: EnvelopeExchange | None = field(default=None, repr=False)

    @property
    def keys(self) -> NodeKeys:
        if self._keys is None:
            self._keys = load_node_keys(self.settings.home)
        return self._keys

    @property
    def matching(self) -> MatchingService:
        """Built on first use: loading large warninglists is work most CLI commands never need. Raises
        InvalidSetting when a list in ``matching_warninglists`` cannot be read or is not a warninglist."""
        if self._matching is None:
            self._matching = MatchingService(
                self.db,
                self.clock,
                self.audit,
                self.identity,
                self.intel,
                load_warninglists(self.settings),
                MatchingPolicy(
                    node_country=self.settings.node_country or None, half_lives=load_half_lives(self.settings)
                ),
                NormalisingPool(worker_count(self.settings.matching_lookup_workers)),
            )
        return self._matching

    @property
    def cooperation(self) -> CooperationService:
        if self._cooperation is None:
            self._cooperation = CooperationService(
                self.db, self.clock, self.ids, self.audit, self.identity, self.matching
            )
        return self._cooperation

    @property
    def cooperation_requests(self) -> CooperationRequests:
        """Built on first use. Raises InvalidSetting when ``cooperation_catalogue`` does not load."""
        if self._requests is None:
            self._requests, self._envelopes = self._wire_cooperation()
        return self._requests

    @property
    def envelopes(self) -> EnvelopeExchange:
        """Signed envelopes to and from peers: the outbox (``deliver_due``) and the inbox. Raises InvalidSetting as
        ``cooperation_requests`` does (cooperation envelopes are applied by the request service)."""
        if self._envelopes is None:
            self._requests, self._envelopes = self._wire_cooperation()
        return self._envelopes

    def _wire_cooperation(self) -> tuple[CooperationRequests, EnvelopeExchange]:
        # Built together: requests to a peer's party travel as envelopes, and envelopes from peers are applied by
        # the request service; neither works without the other.
        smtp = SmtpSettings(self.settings.smtp_host, self.settings.smtp_port, self.settings.smtp_sender)
        catalogue = load_legal_catalogue(self.settings)
        requests = CooperationRequests(
            self.db,
            self.clock,
            self.ids,
            self.audit,
            self.identity,
            catalogue,
            Mailer(smtp),
            self._directory_for(catalogue),
        )
        envelopes = EnvelopeExchange(self.db, self.clock, self.ids, self.audit, self.identity, lambda: self.keys)
        CooperationLink(requests, envelopes, self.identity)
        return requests, envelopes

    def _directory_for(self, catalogue: Catalogue) -> Directory:
        if self._directory is None:
            months = catalogue.timers["directory_reverify_months"]
            self._directory = Directory(self.db, self.clock, self.ids, self.audit, self.identity, months)
        return self._directory

    @property
    def directory(self) -> Directory:
        return self._directory_for(self.cooperation_requests.catalogue)

    @property
    def federation(self) -> FederationService:
        if self._federation is None:
            self._federation = FederationService(
                self.db,
                self.clock,
                self.audit,
                self.identity,
                self.keys,
                self.settings.node_name,
                self.settings.node_country,
            )
        return self._federation

    @property
    def sharing(self) -> SharingService:
        """What this node gives each peer (policies, preview, the feed peers pull)."""
        if self._sharing is None:
            self._sharing = SharingService(self.db, self.clock, self.audit, self.identity)
        return self._sharing

    @property
    def intel_sync(self) -> IntelSync:
        """Pulling (and pushing) intelligence from and to peers over TAXII 2.1."""
        if self._intel_sync is None:
            self._intel_sync = IntelSync(
                self.db,
                self.clock,
                self.federation,
                self.sharing,
                self.intel,
                self.keys,
                self.identity,
                interval=timedelta(seconds=self.settings.federation_sync_seconds),
            )
        return self._intel_sync

    @property
    def evidence(self) -> EvidenceService:
        if self._evidence is None:
            blob_dir = Path(self.settings.evidence_blob_dir).expanduser()
            blobs = LocalBlobStore(blob_dir if blob_dir.is_absolute() else self.settings.home / blob_dir)
            custody = CustodyLog(self.db, self.clock, lambda: self.keys)
            self._evidence = EvidenceService(
                self.db,
                self.clock,
                self.ids,
                self.audit,
                self.identity,
                blobs,
                custody,
                self.settings.evidence_max_item_bytes,
            )
        return self._evidence

    @property
    def evidence_packages(self) -> EvidencePackages:
        if self._evidence_packages is None:
            self._evidence_packages = EvidencePackages(self.evidence, lambda: self.keys, package_limits(self.settings))
        return self._evidence_packages

    def close(self) -> None:
        if self._matching is not None:
            self._matching.close()
        self.intel.close()
        self.audit.close()
        self.db.dispose()


def open_node(
    settings: Settings, *, clock: Clock | None = None, ids: IdSource | None = None, require_schema: bool = True
) -> Node:
    """Wire the services. Raises NodeNotInitialised when ``accord init`` has not run: no key, or an old schema."""
    if require_schema and not (settings.home / PRIVATE_KEY_FILE).exists():
        raise NodeNotInitialised(str(settings.home), "no node key")
    db = Database(make_engine(settings.effective_database_url))
    try:
        current = migrate.is_up_to_date(db.engine) if require_schema else True
    except OperationalError as exc:
        db.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "cannot connect"
        raise DatabaseUnavailable(settings.effective_database_url, reason) from exc
    if not current:
        db.dispose()
        raise NodeNotInitialised(str(settings.home), "database schema missing or out of date; run accord init")
    clock = clock or SystemClock()
    ids = ids or RandomIds()
    audit = AuditLog(db, clock)
    track_identity_changes(db, IDENTITY_ROWS)
    identity = IdentityService(
        db, clock, ids, audit, TokenPolicy(default_days=settings.token_default_days, max_days=settings.token_max_days)
    )
    login = LoginService(
        db,
        clock,
        ids,
        audit,
        LoginPolicy(
            max_failures=settings.login_max_failures,
            window_seconds=settings.login_window_seconds,
            session_max_age_seconds=settings.session_max_age_seconds,
        ),
    )
    intel = IntelService(
        db,
        clock,
        ids,
        audit,
        identity,
        IntelPolicy(
            default_tlp=parse_tlp(settings.intel_default_tlp),
            amber_audience=parse_audience(settings.intel_amber_audience),
            node_country=settings.node_country or None,
        ),
    )
    intel.after_store.append(record_sightings)
    return Node(
        settings=settings, db=db, clock=clock, ids=ids, audit=audit, identity=identity, login=login, intel=intel
    )


def load_warninglists(settings: Settings) -> Warninglists:
    """Accord's own lists and those named by ``matching_warninglists``. Raises InvalidSetting naming the list."""
    # Relative paths are read from the node's home, as everything else of the node is.
    named = [Path(part.strip()).expanduser() for part in settings.matching_warninglists.split(",") if part.strip()]
    paths = [path if path.is_absolute() else settings.home / path for path in named]
    try:
        return Warninglists.load(paths)
    except InvalidInput as exc:
        source = settings.sources.get("matching_warninglists", "default")
        raise InvalidSetting("matching_warninglists", source, str(exc)) from exc


def load_legal_catalogue(settings: Settings) -> Catalogue:
    """The legal catalogue named by ``cooperation_catalogue`` (or the built-in one). Raises InvalidSetting."""
    named = settings.cooperation_catalogue.strip()
    path = None
    if named:
        path = Path(named).expanduser()
        path = path if path.is_absolute() else settings.home / path
    try:
        return load_catalogue(path)
    except CatalogueInvalid as exc:
        source = settings.sources.get("cooperation_catalogue", "default")
        raise InvalidSetting("cooperation_catalogue", source, exc.reason) from exc


def package_limits(settings: Settings) -> ZipLimits:
    """Limits on evidence packages from outside (zip bombs, too many files)."""
    return ZipLimits(
        max_entries=settings.evidence_package_max_entries,
        max_member_bytes=settings.evidence_max_item_bytes,
        max_total_bytes=settings.evidence_package_max_bytes,
    )


def load_half_lives(settings: Settings) -> dict[str, float]:
    """``matching_half_life_days`` parsed. Raises InvalidSetting with the item at fault."""
    try:
        return parse_half_lives(settings.matching_half_life_days)
    except InvalidInput as exc:
        source = settings.sources.get("matching_half_life_days", "default")
        raise InvalidSetting("matching_half_life_days", source, exc.reason) from exc


@dataclass(frozen=True)
class InitResult:
    home: Path
    node_id: str
    created_key: bool
    schema_revision: str | None


def init_node(settings: Settings, name: str, country: str) -> InitResult:
    """Create (or bring up to date) a node in ``settings.home``: folder, config file, key pair, schema.

    Safe to run twice: an existing key is kept, migrations only move forward. Raises InvalidInput.
    """
    clean_name = validation.clean_text("name", name)
    code = validation.country(country)
    home = settings.home
    if home.exists() and not home.is_dir():
        raise InvalidInput("home", f"{home} is not a folder")
    home.mkdir(parents=True, exist_ok=True)
    write_config_file(settings.config_file, {"node_name": clean_name, "node_country": code})
    created = not (home / PRIVATE_KEY_FILE).exists()
    keys = generate_node_keys(home) if created else load_node_keys(home)
    engine = make_engine(settings.effective_database_url)
    try:
        migrate.upgrade(engine)
        revision = migrate.current_revision(engine)
    finally:
        engine.dispose()
    return InitResult(home=home, node_id=keys.node_id, created_key=created, schema_revision=revision)
