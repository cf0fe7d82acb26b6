# telemetry-simulator: the everyday commands.
#
#   make install                          cargo install --path . --locked
#   make run                              mixed workload over every scenario (COUNT, INTERVAL)
#   make run-count COUNT=50               mixed workload of exactly COUNT traces (COUNT required)
#   make run-scenario SCENARIO=tool_retry one scenario (COUNT, INTERVAL default to its own)
#   make list | make validate             the scenarios, and a check of every file
#   make sink                             the built-in OTLP receiver on 127.0.0.1:4318
#   make jaeger-up / make jaeger-down     Jaeger all-in-one (podman or docker), UI on :16686
#   make phoenix                          Arize Phoenix on 127.0.0.1:6006 (installs it first)
#   make test | make test-phoenix         scripts/test: sets up and runs every test | Phoenix only
#   make test-mlflow                      the end-to-end test against MLflow only
#   make bench                            the end-to-end benchmark table (scripts/bench)
#
# Variables (make VAR=value, or the environment):
#   OTLP_ENDPOINT   where to send, e.g. http://localhost:4318 [default: the binary's rules:
#                   OTEL_EXPORTER_OTLP_ENDPOINT, OTLP_HTTP_ENDPOINT, else http://localhost:4318]
#   SCENARIOS_DIR   folder of scenario files [default: the bundled samples]
#   SCHEMA_PATH     semantic-conventions schema file, passed as --schema-path [default:
#                   TELEMETRY_SIMULATOR_SCHEMA_PATH, else the bundled schema]
#   SCENARIO        the scenario of run-scenario
#   COUNT, INTERVAL traces, and milliseconds between them
#   ARGS            anything else to pass, e.g. ARGS="--seed 42 --content --project demo"
#   TENANT_UUID     [default: dev-tenant-1, unless TENANT_UUID or TELEMETRY_TENANT_UUIDS is set]
#   SIMULATOR       how to run the tool [default: cargo run --release; e.g. SIMULATOR=telemetry-simulator
#                   after make install]

SHELL := /bin/bash

SIMULATOR ?= cargo run --release --quiet --
OTLP_ENDPOINT ?=
SCENARIOS_DIR ?=
SCHEMA_PATH ?=
SCENARIO ?= successful_agent_turn
COUNT ?=
INTERVAL ?=
ARGS ?=

# Only when no tenant is set: beside TELEMETRY_TENANT_UUIDS it would only earn a warning.
ifeq ($(TELEMETRY_TENANT_UUIDS),)
export TENANT_UUID ?= dev-tenant-1
endif

endpoint_arg = $(if $(OTLP_ENDPOINT),--endpoint $(OTLP_ENDPOINT))
dir_arg = $(if $(SCENARIOS_DIR),--scenarios-dir $(SCENARIOS_DIR))
# With its own leading space, so that an unset SCHEMA_PATH leaves no gap.
schema_arg = $(if $(SCHEMA_PATH), --schema-path $(SCHEMA_PATH))
count_arg = $(if $(COUNT),--count $(COUNT))
interval_arg = $(if $(INTERVAL),--interval $(INTERVAL))

# Jaeger all-in-one: OTLP gRPC 4317, OTLP HTTP 4318, UI 16686.
JAEGER_IMAGE ?= docker.io/jaegertracing/jaeger:2.15.0
JAEGER_NAME ?= telemetry-simulator-jaeger
CONTAINER_ENGINE ?= $(shell command -v podman 2>/dev/null || command -v docker 2>/dev/null)

# Phoenix: a local server for looking at the traces (see docs/howto/validate-llm-dashboard-phoenix.md).
PHOENIX_PORT ?= 6006
PHOENIX_WORKING_DIR ?= $(CURDIR)/target/phoenix-data

# bench: traces a row and the scenario of scripts/bench.
BENCH_SCENARIO ?= successful_agent_turn
BENCH_COUNT ?= 1000000

.PHONY: help install build run run-fast run-count run-scenario list list-scenarios validate run-validate \
	sink test test-phoenix test-mlflow bench jaeger-up jaeger-down phoenix lint-container man completions

help:
	@sed -n '1,/^$$/s/^# \{0,1\}//p' $(firstword $(MAKEFILE_LIST))

install:
	cargo install --path . --locked

build:
	cargo build --release --locked

run:
	$(SIMULATOR) run --count $(or $(COUNT),100) --interval $(or $(INTERVAL),500) $(endpoint_arg) $(dir_arg)$(schema_arg) $(ARGS)

# As fast as the endpoint takes it.
run-fast:
	$(SIMULATOR) run --count $(or $(COUNT),1000) --interval 0 $(endpoint_arg) $(dir_arg)$(schema_arg) $(ARGS)

# The original's target: the mixed workload with exactly COUNT traces.
run-count:
	@if [ -z "$(COUNT)" ]; then echo "error: run-count needs COUNT, e.g. make run-count COUNT=50" >&2; exit 2; fi
	$(SIMULATOR) run --count $(COUNT) --interval $(or $(INTERVAL),500) $(endpoint_arg) $(dir_arg)$(schema_arg) $(ARGS)

run-scenario:
	$(SIMULATOR) scenario --name $(SCENARIO) $(count_arg) $(interval_arg) $(endpoint_arg) $(dir_arg)$(schema_arg) $(ARGS)

list:
	$(SIMULATOR) list $(dir_arg)

validate:
	$(SIMULATOR) validate $(dir_arg)$(schema_arg) $(ARGS)

# The original tool's names for the same targets.
list-scenarios: list
run-validate: validate

sink:
	$(SIMULATOR) sink --listen $(or $(LISTEN),127.0.0.1:4318) $(ARGS)

# Sets up what the tests need (system packages when root on Debian, Python venvs) and runs them all.
test:
	scripts/test

test-phoenix:
	PHOENIX_PYTHON="$$(scripts/phoenix-venv)" cargo test --test it phoenix -- --ignored

test-mlflow:
	MLFLOW_PYTHON="$$(scripts/mlflow-venv)" cargo test --test it mlflow -- --ignored

# The end-to-end table of docs/performance.md (scripts/bench); `cargo bench` has the micro-benchmarks.
bench:
	scripts/bench $(BENCH_COUNT) $(BENCH_SCENARIO)

jaeger-up:
	@if [ -z "$(CONTAINER_ENGINE)" ]; then \
		echo "error: jaeger-up needs podman or docker on PATH (or CONTAINER_ENGINE=...); see docs/live-trace-visualization.md" >&2; \
		exit 1; fi
	$(CONTAINER_ENGINE) run -d --rm --name $(JAEGER_NAME) \
		-p 16686:16686 -p 4317:4317 -p 4318:4318 $(JAEGER_IMAGE)
	@echo "Jaeger UI: http://localhost:16686  OTLP: http://localhost:4318 (HTTP), localhost:4317 (gRPC)"

jaeger-down:
	@if [ -z "$(CONTAINER_ENGINE)" ]; then \
		echo "error: jaeger-down needs podman or docker on PATH (or CONTAINER_ENGINE=...)" >&2; exit 1; fi
	$(CONTAINER_ENGINE) stop $(JAEGER_NAME)

# Runs in the foreground; Ctrl-C stops it. Traces go to http://127.0.0.1:$(PHOENIX_PORT).
phoenix:
	@py=$$(scripts/phoenix-venv) && mkdir -p $(PHOENIX_WORKING_DIR) && \
	echo "Phoenix UI and OTLP/HTTP: http://127.0.0.1:$(PHOENIX_PORT) (data in $(PHOENIX_WORKING_DIR))" && \
	PHOENIX_WORKING_DIR=$(PHOENIX_WORKING_DIR) PHOENIX_HOST=127.0.0.1 PHOENIX_PORT=$(PHOENIX_PORT) \
	PHOENIX_TELEMETRY_ENABLED=false exec $$py -m phoenix.server.main serve

lint-container:
	$$(dirname "$$(scripts/hadolint-venv)")/hadolint Containerfile

man:
	@mkdir -p target/man
	$(SIMULATOR) man > target/man/telemetry-simulator.1
	@echo "wrote target/man/telemetry-simulator.1 (man -l target/man/telemetry-simulator.1)"

completions:
	@mkdir -p target/completions
	@for shell in bash zsh fish elvish powershell; do \
		$(SIMULATOR) completions $$shell > target/completions/telemetry-simulator.$$shell || exit 1; done
	@echo "wrote target/completions/telemetry-simulator.{bash,zsh,fish,elvish,powershell}"
