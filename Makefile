# RobotFleetOS: `make test` sets everything up and runs lint, types and tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test lint typecheck pytest bench chaos clean broker browser run stubs ros2-oracle

# `make run`: the whole fleet on this machine (embedded NATS, dashboard on :8080).
ROBOTS ?= 1000
ZONES ?= 5
# Edge container processes and zone container processes (0: a process per zone). gen-config
# issues one NATS identity per container, so both commands get the same counts.
CONTAINERS ?= 4
ZONE_CONTAINERS ?= 0
# VDA 5050 vehicles besides the robots (gen-config --vda5050 N, vehicle simulator, MQTT on :1883).
VDA5050 ?= 0
RUN_ARGS ?=

# `pip install -e` installs none of setup.py's data_files: the script makes the venv an ament
# prefix (share/ament_index, share/robotfleet_nodes, lib/robotfleet_nodes/<exec>), so
# `pkg: robotfleet_nodes exec: talker` resolves like `ros2 run`. Idempotent, runs every time.
setup: $(STAMP)
	@$(PY) scripts/install_ament_package.py

# The venv is rebuilt only when the dependency files change.
$(STAMP): setup.py constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

# The ROS 2 oracle: real rclpy (Fast DDS) and the standard interface packages from the package
# registry's `ros-*` wheels, pinned in constraints-ros2.txt, in their own venv (never the project's).
# Tests compare against it (tests/ros2_oracle.py); built once, rebuilt when the pins change.
ROS2_VENV ?= .venv-ros2
ROS2_STAMP := $(ROS2_VENV)/.installed
ROS2_PACKAGES := ros-rclpy ros-rmw-fastrtps-cpp ros-std-msgs ros-geometry-msgs ros-sensor-msgs \
  ros-nav-msgs ros-std-srvs ros-test-msgs ros-rcl-interfaces ros-lifecycle-msgs ros-action-msgs \
  ros-service-msgs ros-type-description-interfaces

ros2-oracle: $(ROS2_STAMP)

$(ROS2_STAMP): constraints-ros2.txt
	@test -x $(ROS2_VENV)/bin/python || $(PYTHON) -m venv $(ROS2_VENV)
	$(ROS2_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints-ros2.txt $(ROS2_PACKAGES)
	@touch $(ROS2_STAMP)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

# Type stubs (.pyi) of this package's interfaces, and of the standard ones it uses, for mypy.
# tests/idl/test_stubs.py fails when the committed stubs differ from what this writes.
STUB_STANDARD := builtin_interfaces geometry_msgs sensor_msgs rcl_interfaces example_interfaces
stubs: setup
	$(VENV)/bin/rfos interface stubs robotfleet_nodes --out .
	$(VENV)/bin/rfos interface stubs $(STUB_STANDARD) --with-deps --out robotfleet_nodes/typings

pytest: setup browser ros2-oracle
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# benchmarks/http_api.py loads the HTTP API with wrk (Debian's `wrk`; a cheap client on 2 cores).
bench: setup
	@if ! command -v wrk > /dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update >&2 && apt-get install -y --no-install-recommends wrk >&2; \
	  else echo "bench: wrk missing; run: sudo apt-get update && sudo apt-get install -y wrk" >&2; fi; \
	fi
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,bench]'
	@for b in benchmarks/[!_]*.py; do [ "$$b" = benchmarks/chaos.py ] && continue; echo "== $$b" >&2; $(PY) $$b || exit 1; done

# benchmarks/chaos.py (~10 min, so not part of `make bench`): the tiers as processes, kill -9 /
# SIGSTOP one at a time, executions counted from the robots' journals. CHAOS_ARGS=--quick: ~2 min
# per scenario; CHAOS_ARGS="--scenario B": one scenario. Stdout has only the JSON document.
CHAOS_ARGS ?=
chaos: setup
	@echo "$(PY) benchmarks/chaos.py $(CHAOS_ARGS)" >&2
	@$(PY) benchmarks/chaos.py $(CHAOS_ARGS)

# Headless Chromium for the dashboard test (tests/fleet/test_dashboard.py): Debian's
# chromium (never `playwright install`; the test launches /usr/bin/chromium) + playwright.
# Fails when chromium cannot be installed (not root, no password-less sudo): the browser
# test must run, not be skipped, wherever `make test` passes.
browser: setup
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; \
	  elif sudo -n true 2>/dev/null; then SUDO=sudo; \
	  else echo "browser: /usr/bin/chromium is missing and cannot be installed without root; run: sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium" >&2; exit 1; fi; \
	  $$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends chromium || exit 1; \
	  test -x /usr/bin/chromium || { echo "browser: chromium installed but /usr/bin/chromium is missing" >&2; exit 1; }; \
	fi
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt playwright

# Secured by default: gen-config keeps (or first creates) the identities, TLS material and the
# admin API token in deploy/$(ROBOTS)/secrets/; RUN_ARGS="secure:=false" runs open (development).
run: setup
	@$(VENV)/bin/rfos fleet gen-config --robots $(ROBOTS) --zones $(ZONES) --containers $(CONTAINERS) --zone-containers $(ZONE_CONTAINERS) --vda5050 $(VDA5050) --out deploy/$(ROBOTS) > /dev/null && echo "configs for $(ROBOTS) robots and $(VDA5050) VDA 5050 vehicles in $(ZONES) zones: deploy/$(ROBOTS)"
	@echo "dashboard: http://localhost:8080/ ; sign in with the admin API token in deploy/$(ROBOTS)/secrets/api-admin.token"
	$(VENV)/bin/rfos launch launch/fleet_1000.launch.yaml robots:=$(ROBOTS) zones:=$(ZONES) containers:=$(CONTAINERS) zone_containers:=$(ZONE_CONTAINERS) vda5050:=$(VDA5050) config_dir:=deploy/$(ROBOTS) $(RUN_ARGS)

broker: setup
	$(VENV)/bin/rfos broker

clean:
	rm -rf $(VENV) $(ROS2_VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
