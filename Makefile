# openmem: every target bootstraps what it needs (uv, then the locked workspace).
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
RUN := $(UV) run --no-sync
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: bootstrap serve demo test lint typecheck pytest interop bench bench-quick reference-env clean

bootstrap:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --all-packages --all-extras --locked --quiet
	@$(RUN) python -m openmem.embedders.model_files >/dev/null  # the default embedder's ONNX export, cached once

## serve: the OMP server on the embedded PostgreSQL default, loopback only, no auth
serve: bootstrap
	$(RUN) openmem serve --host $(HOST) --port $(PORT) --no-auth

## demo: the quickstart examples (async and sync) on the in-memory provider
demo: bootstrap
	$(RUN) python examples/quickstart.py
	$(RUN) python examples/quickstart_sync.py

## test: lint, types, every test (tests/interop included: it needs .venv-reference)
test: bootstrap reference-env lint typecheck pytest

lint: bootstrap
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck: bootstrap
	$(RUN) mypy openmem
	$(RUN) mypy providers/postgres/openmem_postgres providers/mem0/openmem_mem0 providers/powermem/openmem_powermem providers/letta/openmem_letta providers/supermemory/openmem_supermemory conformance/openmem_conformance

## pytest: every test; PostgreSQL tests fail (never skip) when no PostgreSQL can be started.
## OPENMEM_REQUIRE_PG=0 make pytest lets them skip, each saying why and how to fix it.
pytest: bootstrap
	OPENMEM_REQUIRE_PG=$${OPENMEM_REQUIRE_PG:-1} $(RUN) pytest

## interop: the reference OMP SDK 0.5.0 against openmem (its server graded by our suite and
## passthrough, its client against `openmem serve`); also part of `make test`
interop: bootstrap reference-env
	OPENMEM_REQUIRE_PG=$${OPENMEM_REQUIRE_PG:-1} $(RUN) pytest tests/interop

## bench: every benchmark in full; bench-quick: each in its --quick mode
## bench, bench-quick: every benchmark (peers.py and postgres_cancel.py drive the reference SDK
## in .venv-reference; *_worker.py are their per-SDK subprocesses, not benchmarks)
bench: bootstrap reference-env
	@for b in benchmarks/*.py; do case $$b in *_worker.py) continue;; esac; \
		echo "== $$b"; $(RUN) python $$b || exit 1; done

bench-quick: bootstrap reference-env
	@for b in benchmarks/*.py; do case $$b in *_worker.py) continue;; esac; \
		echo "== $$b"; $(RUN) python $$b --quick || exit 1; done

## reference-env: the reference OMP SDK 0.5.0 (../shared/reference) in its own virtual environment,
## .venv-reference, for interop tests and side-by-side benchmarks. Its distribution is also named
## "openmem", so it never enters the project's environment. Its pyproject force-includes a
## datasets folder the stored copy lacks; the build copies the tree and adds that empty folder.
# From /work/main the copy is ../shared; from a worktree under /work/wt, ../../shared; from a
# clone elsewhere on this machine (CI), /work/shared.
REFERENCE_SRC ?= $(firstword $(wildcard ../shared/reference/omp-sdk-0.5.0 \
	../../shared/reference/omp-sdk-0.5.0 /work/shared/reference/omp-sdk-0.5.0) \
	../shared/reference/omp-sdk-0.5.0)
reference-env: .venv-reference/.built

.venv-reference/.built: $(REFERENCE_SRC)/pyproject.toml
	rm -rf .venv-reference
	python3 -m venv .venv-reference
	cp -r $(REFERENCE_SRC) .venv-reference/src
	chmod -R u+w .venv-reference/src
	mkdir -p .venv-reference/src/openmem/eval/datasets
	.venv-reference/bin/pip install --quiet --disable-pip-version-check ".venv-reference/src[server]"
	touch $@

clean:
	rm -rf .venv-reference .venv .mypy_cache .ruff_cache .pytest_cache .hypothesis
