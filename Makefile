# fala-clip — the two commands a newcomer runs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
REQS := requirements.txt requirements-nodeps.txt requirements-dev.txt

.PHONY: demo test serve lint bench eval system-deps venv services-stop clean

system-deps:
	@scripts/system-deps.sh $(if $(filter test,$(MAKECMDGOALS)),--test,)

$(VENV)/.installed: $(REQS) scripts/venv.sh
	PYTHON="$(PYTHON)" VENV="$(VENV)" scripts/venv.sh
	touch $@

venv: $(VENV)/.installed

## make demo [VIDEO=path MUSIC=path OUT=dir]: the whole pipeline in-process (SQLite, filesystem)
demo: system-deps venv
	@echo "demo: applying the database migrations (SQLite in var/ unless DATABASE_URL is set)"
	@$(VENV)/bin/python manage.py migrate --noinput -v 0
	$(VENV)/bin/python manage.py clip $(if $(VIDEO),"$(VIDEO)",--generate-sample) \
		$(if $(MUSIC),--music "$(MUSIC)",$(if $(VIDEO),,--with-music)) --out "$(or $(OUT),demo-out)"

## make test: ruff + mypy + pytest against real PostgreSQL and Redis
test: system-deps venv
	scripts/test.sh

## make serve: web + one heavy worker + default worker + scheduler
serve: system-deps venv
	scripts/serve.sh

lint: venv
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && \
	$(VENV)/bin/lint-imports --no-cache && $(VENV)/bin/mypy

## make bench: speed figures of DESIGN §10 (not a test)
bench: system-deps venv
	$(VENV)/bin/python bench/run_all.py

## make eval: music analysis against the GTZAN dev set's annotations (also run by make bench)
eval: system-deps venv
	$(VENV)/bin/python bench/bench_gtzan.py

services-stop:
	scripts/services.sh stop
