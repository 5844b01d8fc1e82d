# Freewheel: two commands for a newcomer. `make run` serves the platform, `make test` checks it.
# Both create .venv and install from constraints.txt, and node_modules from package-lock.json, when needed.
# Without DATABASE_URL / REDIS_URL they start an embedded PostgreSQL and Valkey under .services/ (see README
# "Services") and stop them on exit.

PYTHON ?= $(shell command -v python3.12 2>/dev/null || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp
WITH_SERVICES := $(PY) -m config.devservices --

.PHONY: run test lint typecheck pytest schema install lock messages clean-services

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; v=sys.version_info; sys.exit(0 if v >= (3, 12) else "Freewheel needs Python 3.12+; found %s at %s. Install 3.12 or run make PYTHON=/path/to/python3.12" % (sys.version.split()[0], sys.executable))'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $@

# The admin's browser libraries (Leaflet, Geoman) from the npm registry, exactly as package-lock.json pins them.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

install: $(STAMP) $(NODE_STAMP)

run: $(STAMP) $(NODE_STAMP)
	$(WITH_SERVICES) $(PY) manage.py devrun

# Lint, types, OpenAPI schema, then the suite: the output ends with pytest's summary line.
test: lint typecheck schema pytest

# ruff, then the app layers and other import contracts of pyproject.toml ([tool.importlinter]).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# django-stubs imports config.settings, which needs the two URLs to parse (it never connects) and, like
# every command here, DEBUG=1 unless told otherwise (a development SECRET_KEY).
typecheck: $(STAMP)
	DEBUG="$${DEBUG:-1}" DATABASE_URL="$${DATABASE_URL:-postgres://localhost/typecheck}" \
		REDIS_URL="$${REDIS_URL:-redis://localhost}" $(VENV)/bin/mypy .

schema: $(STAMP) $(NODE_STAMP)
	$(WITH_SERVICES) $(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

pytest: $(STAMP) $(NODE_STAMP)
	$(WITH_SERVICES) $(PY) -m pytest $(PYTEST_ARGS)

# The German texts (locale/de): collect new strings into django.po, translate them there, then compile the .mo
# (both committed: running the app needs no gettext). Needs GNU gettext (Debian: apt-get install gettext).
messages: $(STAMP)
	$(PY) manage.py makemessages -l de --no-location --ignore=node_modules --ignore=staticfiles --ignore=tests \
		--ignore=bench
	$(PY) manage.py compilemessages -l de --ignore=.venv --ignore=node_modules

# Re-resolve the pinned versions (after changing dependencies in pyproject.toml).
lock: $(STAMP)
	$(PY) -m pip freeze --exclude-editable | grep -v '^freewheel' > constraints.txt

# Stops servers left by killed runs, then deletes .services/ (the embedded database); refuses while in use.
clean-services: $(STAMP)
	$(PY) -m config.devservices --clean
