# The test command and its parts. `make test` runs everything from a bare
# Debian machine (as root): virtual environment, Docker engine, base images,
# artifact mirror, then lint, sanity, unit, Molecule and the Galaxy smoke test.
#
#   make test                      everything, the full-stack scenario included, with a timing per stage,
#                                  on the host's controller (ansible-core 2.19, Python 3.11)
#   make test FULL_STACK=0         everything but the full-stack scenario
#   make test MATRIX=full          the controller matrix: everything on ansible-core 2.19, 2.20 and 2.21
#   make test MATRIX=ci            what CI runs: everything on 2.21; sanity, unit and galaxy on 2.19; sanity on 2.20
#   make lint | sanity | unit | galaxy
#   make molecule                  every Molecule scenario, one after another
#   make molecule SCENARIO=exporters   one scenario (molecule test -s exporters)
#   make setup                     only the set-up (venv, Docker, images, mirror)
#   make docs                      regenerate docs/roles/*.md and docs/alerts.md
#   make demo                      the sandbox: the whole stack on local containers
#   make demo-down                 remove the sandbox
#   make benchmark-provision       the provisioning benchmark (docs/performance.md)

SHELL := /bin/bash
HARNESS := tests/harness
# The controller matrix (tests/harness/matrix.sh) points these at another
# release's environment inside the controller image.
VENV := $(or $(DA_VENV),$(CURDIR)/.venv)
export DA_VENV := $(VENV)
export PATH := $(VENV)/bin:$(PATH)
# Run ansible from the checkout itself (see ansible.cfg).
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR := false
export PY_COLORS := 0

SCENARIOS := $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))
SCENARIO ?= $(SCENARIOS)
# `make suite` runs the Molecule scenarios in two lanes side by side (one
# scenario leaves the cores about half idle), balanced by their measured
# times: the full-stack scenario (platform) and two heavy ones in the
# background, every other scenario in the foreground. FULL_STACK=0 leaves the
# full-stack scenario out.
FULL_STACK ?= 1
# Empty: the host's controller only. Otherwise a preset of the controller
# matrix (full, ci) or entries VERSION[:STAGE,STAGE...] (tests/harness/matrix.sh).
MATRIX ?=
# The stages of `make suite`, in this order (the matrix runs them one by one).
SUITE_STAGES ?= lint sanity unit molecule galaxy
MOLECULE_LANE_BACKGROUND := $(filter-out $(if $(filter 0,$(FULL_STACK)),platform),platform monitoring exporters)
MOLECULE_LANE_FOREGROUND := $(filter-out platform $(MOLECULE_LANE_BACKGROUND),$(SCENARIOS))
STAGE := $(HARNESS)/stage.sh

.PHONY: test suite setup venv tools docker images mirror lint sanity unit molecule galaxy docs benchmark benchmark-provision demo demo-down clean

test:
ifneq ($(strip $(MATRIX)),)
	@$(HARNESS)/matrix.sh $(MATRIX)
else
	@$(STAGE) --reset
	@$(STAGE) setup $(MAKE) --no-print-directory setup
	@$(MAKE) --no-print-directory suite
	@$(STAGE) --summary
endif

# Every stage after the set-up, each with its timing; SUITE_STAGES picks some.
suite:
	@for stage in $(SUITE_STAGES); do \
	  if [ "$$stage" != molecule ]; then \
	    $(STAGE) $$stage $(MAKE) --no-print-directory $$stage || exit 1; \
	  else \
	    $(MAKE) --no-print-directory docker images mirror && \
	    $(HARNESS)/molecule-parallel.sh "$(MOLECULE_LANE_BACKGROUND)" "$(MOLECULE_LANE_FOREGROUND)" || exit 1; \
	  fi; \
	done

setup: venv tools docker images mirror

venv:
	@$(HARNESS)/venv.sh

docker:
	@$(HARNESS)/docker-engine.sh

images: docker
	@$(HARNESS)/images.sh 12 13

mirror: images
	@$(HARNESS)/mirror.sh up

lint: venv
	yamllint --strict .
	ansible-lint --nocolor
	python $(HARNESS)/check_argument_specs.py
	python $(HARNESS)/check_counts.py
	python $(HARNESS)/check_internals.py
	python $(HARNESS)/render_role_docs.py --check
	python $(HARNESS)/render_alert_docs.py --check
	python $(HARNESS)/render_dashboard_docs.py --check
	python $(HARNESS)/render_backend_metrics.py --check
	python $(HARNESS)/render_log_source_docs.py --check
	antsibull-changelog lint

docs: venv
	python $(HARNESS)/render_role_docs.py
	python $(HARNESS)/render_alert_docs.py
	python $(HARNESS)/render_dashboard_docs.py
	python $(HARNESS)/render_backend_metrics.py
	python $(HARNESS)/render_log_source_docs.py

sanity: venv
	$(HARNESS)/sanity.sh

tools:
	@$(HARNESS)/tools.sh

# One test file per worker, on every core: a file's fixtures are built once.
# Then the line coverage of plugin_utils by its own unit tests (tracing the
# whole suite would double its time on Python 3.11), failing below 90 % for
# the service planning engine.
unit: venv tools
	pytest -n auto --dist loadfile tests/unit
	pytest -q -p no:cacheprovider -n auto --cov=plugins/plugin_utils --cov-report=term tests/unit/plugins/plugin_utils
	coverage report --include='*/plugin_utils/_service_plan.py' --show-missing --fail-under=90

molecule: venv docker images mirror
	@for s in $(SCENARIO); do \
	  echo "--- molecule test -s $$s"; \
	  molecule test -s $$s || exit 1; \
	done

# Not part of make test: it builds a 1 GiB database and takes minutes.
benchmark: docker images
	benchmarks/run-backup-benchmark.sh

# Not part of make test: fresh containers, a first converge and an idempotent
# re-run for 1, 4 and 8 hosts, then growth (docs/performance.md). Arguments
# in BENCHMARK_ARGS, for example BENCHMARK_ARGS="--hosts 1 --suites six".
benchmark-provision:
	@benchmarks/provision $(BENCHMARK_ARGS)

# The sandbox (sandbox/README.md): set-up, then the stack on four containers.
demo: setup
	@sandbox/sandbox.sh up

demo-down:
	@sandbox/sandbox.sh down

galaxy: venv
	$(HARNESS)/galaxy-smoke.sh

clean:
	-$(HARNESS)/mirror.sh down
	rm -rf .cache build
