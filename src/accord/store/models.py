"""All domains' tables in one MetaData, for Alembic and for the migration-drift test."""

from __future__ import annotations

import accord.audit.models
import accord.cooperation.models
import accord.evidence.models
import accord.federation.envelope_models
import accord.federation.models
import accord.identity.models
import accord.intel.models
import accord.matching.models  # noqa: F401 - imported for their tables
from accord.store.base import Base

metadata = Base.metadata
