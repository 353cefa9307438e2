# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEB_PACKAGES := fonts-noto-cjk fonts-arphic-ukai fonts-dejavu-core libharfbuzz-subset0 chromium poppler-utils
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
HOST ?= 127.0.0.1:8000
PYTEST_ARGS ?=

.PHONY: run test bench lint format sysdeps venv migrate demo clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

sysdeps:
	@missing=""; for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo --if-empty

# The embedded default has no Celery beat: the reminders due today are queued (and their e-mail
# printed) before the server starts, and again at a login at most hourly (orgs/embedded.py). A
# failing sweep is reported and does not keep the server from starting.
run: sysdeps demo
	-DEBUG=1 $(PY) manage.py reminders_sweep
	DEBUG=1 $(PY) manage.py runserver $(HOST)

# A model change without its migration fails the target before the tests run.
test: sysdeps $(STAMP)
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest -n 2 $(PYTEST_ARGS); rc=$$?; [ $$rc -eq 5 ] && exit 1 || exit $$rc

bench: sysdeps $(STAMP)
	$(PY) bench/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache
