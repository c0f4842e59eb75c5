# Everything people and CI run. `make demo` and `make test` set themselves up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSTEM_STAMP := $(VENV)/.system-deps

.PHONY: demo test test-sqlite lint bench bench-full bench-million bench-evidence bench-federation-evidence format i18n clean system-deps postgres

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Debian's Chromium and its driver drive the browser tests (never a downloaded browser).
$(SYSTEM_STAMP):
	@bash scripts/install-system-deps.sh
	@mkdir -p $(VENV) && touch $(SYSTEM_STAMP)

system-deps: $(SYSTEM_STAMP)

postgres:
	@bash scripts/ensure-postgres.sh

demo: $(STAMP) $(SYSTEM_STAMP)
	$(BIN)/accord demo

test: $(STAMP) $(SYSTEM_STAMP) postgres
	$(BIN)/python -m pytest -q

test-sqlite: $(STAMP)
	ACCORD_TEST_DATABASES=sqlite $(BIN)/python -m pytest -q -m "not browser"

lint: $(STAMP)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src/accord

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(STAMP) postgres
	$(BIN)/python bench/audit_chain.py
	$(BIN)/python bench/intel_import.py
	$(BIN)/python bench/taxii_pull.py

# The TAXII pull on the 24,771-object ATT&CK Enterprise collection (about 5 more minutes, medallion is slow).
bench-full: bench
	$(BIN)/python bench/taxii_pull.py --data enterprise

# Evidence: ingest and verification of a 2 GiB file against openssl speed (bagit as peer), and a custody log of
# a million events on both backends (pymerkle as peer). About 10 minutes and 10 GB of free temporary space.
bench-evidence: $(STAMP) postgres
	$(BIN)/python bench/evidence.py --package-gib 2 --events 1000000

# Federation: a 1 GiB evidence package between two nodes on loopback, the receiver killed at 40% and the send
# resumed, beside a plain streamed HTTP PUT and cp of the same file. About 2 minutes, 4 GB of temporary space.
bench-federation-evidence: $(STAMP)
	$(BIN)/python bench/federation_evidence.py --gib 1

# One million synthetic scam indicators: import on both backends, then a TAXII pull of them (about 15 minutes,
# 3 GB of free temporary space).
MILLION := $(or $(TMPDIR),/tmp)/accord-synthetic-1000000.json
bench-million: $(STAMP) postgres
	$(BIN)/python bench/intel_import.py --synthetic 1000000 --skip-attack
	$(BIN)/python -c 'import sys; sys.path.insert(0, "bench"); from pathlib import Path; from intel_import import write_synthetic_bundle; write_synthetic_bundle(Path("$(MILLION)"), 1_000_000)'
	$(BIN)/python bench/taxii_pull.py --data $(MILLION) --skip-medallion --backends sqlite --profile 0; status=$$?; rm -f $(MILLION); exit $$status

# Single-value HTTP lookup: a node of one million synthetic indicators served by `accord serve`, 16 clients on
# loopback for 30 s, beside the same load on /healthz (about 5 minutes with the import; --reuse PATH skips it).
.PHONY: bench-lookup-http
bench-lookup-http: $(STAMP)
	$(BIN)/python bench/lookup_http.py --indexed 1000000

# Re-extract translatable strings and merge them into every catalogue.
i18n: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext -k ngettext:1,2 --no-location --sort-output --project Accord --version 0.1.0 --copyright-holder "Accord contributors" -o src/accord/web/locale/messages.pot src/accord
	$(BIN)/pybabel update -i src/accord/web/locale/messages.pot -d src/accord/web/locale --no-fuzzy-matching

clean:
	rm -rf $(VENV) .venv-peers var .pytest_cache .mypy_cache .ruff_cache
