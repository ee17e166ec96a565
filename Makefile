# The two commands a newcomer needs: `make run` and `make test`. Each sets up what is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
VENDOR := static/vendor

.PHONY: run test setup assets translations lint format e2e clean worker beat

run: setup ## A demo portal on SQLite with seeded data at http://127.0.0.1:5000
	DEMO_MODE=1 $(FLASK) setup --demo
	@echo "Back office: http://127.0.0.1:5000/admin/  Portal: http://127.0.0.1:5000/"
	@trap 'kill 0' INT TERM EXIT; \
	  DEMO_MODE=1 $(FLASK) scheduler & \
	  DEMO_MODE=1 $(FLASK) run --host 127.0.0.1 --port 5000

test: setup ## Everything this machine can run: unit, integration and browser tests
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

setup: $(VENV)/.installed $(VENDOR)/.installed translations

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(VENDOR)/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)/htmx $(VENDOR)/bootstrap $(VENDOR)/chartjs $(VENDOR)/axe
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx/
	cp node_modules/bootstrap/dist/css/bootstrap.min.css node_modules/bootstrap/dist/css/bootstrap.min.css.map $(VENDOR)/bootstrap/
	cp node_modules/bootstrap/dist/js/bootstrap.bundle.min.js node_modules/bootstrap/dist/js/bootstrap.bundle.min.js.map $(VENDOR)/bootstrap/
	cp node_modules/chart.js/dist/chart.umd.min.js $(VENDOR)/chartjs/
	cp node_modules/axe-core/axe.min.js $(VENDOR)/axe/
	touch $@

translations: $(VENV)/.installed
	$(BIN)/pybabel compile -d portal/translations --statistics

messages: ## Extract new strings and merge them into the catalogs
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o portal/translations/messages.pot .
	$(BIN)/pybabel update -i portal/translations/messages.pot -d portal/translations --no-fuzzy-matching

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

worker: setup ## A Celery worker (production: REDIS_URL must be set)
	$(BIN)/celery -A portal.tasks worker --loglevel=info

beat: setup ## Celery beat: plans and dispatches reminders on schedule
	$(BIN)/celery -A portal.tasks beat --loglevel=info

clean:
	rm -rf $(VENV) node_modules $(VENDOR) instance .pytest_cache
