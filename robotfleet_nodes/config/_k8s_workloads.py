"""The pods of ``rfos fleet gen-k8s`` but NATS's: fleet, areas, zones and the robot StatefulSet.

Each tier's pod mounts one projected volume at ``/etc/rfos``: its YAML from the ConfigMap
``rfos-config`` and its Secrets under ``secrets/``, so the generated files' relative paths
(``secrets/zone-1.creds``) resolve unchanged. Robot pods share one template: the edge
template, the zone map mounted as a directory and every robot's ``.creds``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from robotfleet_nodes.config._k8s_objects import (
    Manifest,
    container_security,
    http_probe,
    labels,
    metadata,
    pod_security,
    projected_volume,
    spread,
)
from robotfleet_nodes.config.generate import DeploymentSummary

__all__ = ["HTTP_PORT", "ZONE_MAP_DIR", "Workloads"]

#: The fleet's HTTP API, dashboard and ``/healthz``.
HTTP_PORT = 8080
#: Where robot pods mount the ConfigMap ``robot-zone-map`` (``EDGE_ZONE_MAP``).
ZONE_MAP_DIR = "/etc/robot-zone-map"
_CONFIG_DIR = "/etc/rfos"
_ROBOT_SECRETS_DIR = "/secrets"
_JOURNAL_DIR = "/var/lib/rfos/journal"

# Resource requests from measured figures (docs/fleet.md "Scale" and "What security costs",
# this project's 2-core benchmark VM): every process pays the interpreter and the imports,
# ~50 MB; 1000 robots at 1 Hz cost 0.13-0.15 of a core in total, composed (0.15 m-core per
# robot; a pod per robot runs its own event loop and timers: 10m requested); the fleet
# process used 0.37 / 0.97 of a core at 50 / 200 orders/s. No CPU limits: throttling a tier
# delays heartbeats and leases; memory limits at twice the request.
_FLEET_RESOURCES = {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}
_AREA_RESOURCES = {"requests": {"cpu": "50m", "memory": "96Mi"}, "limits": {"memory": "192Mi"}}
_ZONE_RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
_EDGE_RESOURCES = {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}


def _container(
    name: str, image: str, command: list[str], env: list[dict[str, Any]], resources: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": command,
        "env": env,
        "resources": dict(resources),
        "securityContext": container_security(),
    }


def _pod_spec(containers: list[dict[str, Any]], volumes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "automountServiceAccountToken": False,
        "securityContext": pod_security(),
        "containers": containers,
        "volumes": volumes,
    }


def _env(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value}


def _pod_name_env(name: str) -> dict[str, Any]:
    """``name`` from the pod's own name (downward API)."""
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}


def _deployment(
    name: str, namespace: str, component: str, *, instance: str | None, replicas: int, pod: dict[str, Any]
) -> Manifest:
    pod_labels = labels(component, instance)
    strategy = {"type": "Recreate"} if replicas == 1 else {"type": "RollingUpdate"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(name, namespace, component, instance),
        "spec": {
            "replicas": replicas,
            # One area or zone at a time: two instances of one zone would assign twice.
            "strategy": strategy,
            "selector": {"matchLabels": pod_labels},
            "template": {"metadata": {"labels": pod_labels}, "spec": pod},
        },
    }


@dataclass(frozen=True)
class Workloads:
    """Builds the tiers' Services, Deployments and the robot StatefulSet."""

    namespace: str
    image: str
    urls: str
    """``MESSAGING_URL`` of every tier."""
    jetstream_replicas: int
    """``MESSAGING_JETSTREAM_REPLICAS`` of every tier: the NATS StatefulSet's size (3)."""

    def _messaging(self) -> list[dict[str, Any]]:
        """The servers, and the replicas of the streams and buckets a tier creates: stated,
        since this StatefulSet fixes the cluster's size (rather than inferred at connect time)."""
        return [
            _env("MESSAGING_URL", self.urls),
            _env("MESSAGING_JETSTREAM_REPLICAS", str(self.jetstream_replicas)),
        ]

    def tiers(
        self, summary: DeploymentSummary, area_file: Mapping[str, str], creds_of: Mapping[str, str]
    ) -> list[Manifest]:
        """Service and Deployment ``fleet``, Deployments ``area-N`` and ``zone-N``.

        ``area_file``: area id -> its YAML in ``rfos-config``; ``creds_of``: ``<id>.creds`` ->
        the Secret holding it.
        """
        ns, image = self.namespace, self.image

        def tier_volume(
            config_key: str, creds_secret: str, creds_key: str, extra: Sequence[tuple[str, str]] = ()
        ) -> dict[str, Any]:
            return projected_volume(
                "config",
                config_maps=[("rfos-config", [(config_key, config_key)])],
                secrets=[
                    ("rfos-ca", [("ca.pem", "secrets/ca.pem")]),
                    (creds_secret, [(creds_key, f"secrets/{creds_key}"), *extra]),
                ],
            )

        mount = [{"name": "config", "mountPath": _CONFIG_DIR, "readOnly": True}]
        fleet = _container(
            "fleet",
            image,
            ["fleet"],
            [
                _env("FLEET_CONFIG", f"{_CONFIG_DIR}/fleet.yaml"),
                _pod_name_env("FLEET_INSTANCE_ID"),
                *self._messaging(),
            ],
            _FLEET_RESOURCES,
        )
        fleet["ports"] = [{"name": "http", "containerPort": HTTP_PORT}]
        fleet["volumeMounts"] = mount
        # /healthz is 503 while the broker is unreachable: not ready at once, but restarted only
        # after 2 minutes of it (the fleet reconnects by itself; a restart does not help).
        fleet["readinessProbe"] = http_probe(period=5, failures=2)
        fleet["livenessProbe"] = http_probe(period=10, failures=12)
        fleet_pod = _pod_spec(
            [fleet],
            [
                tier_volume(
                    "fleet.yaml",
                    "fleet-secrets",
                    "fleet.creds",
                    [("api-tokens.json", "secrets/api-tokens.json")],
                )
            ],
        )
        fleet_pod["topologySpreadConstraints"] = [spread(labels("fleet"))]
        tiers: list[Manifest] = [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": metadata("fleet", ns, "fleet"),
                "spec": {
                    "selector": labels("fleet"),
                    "ports": [{"name": "http", "port": HTTP_PORT, "targetPort": "http"}],
                },
            },
            _deployment("fleet", ns, "fleet", instance=None, replicas=2, pod=fleet_pod),
        ]
        # Area, zone and edge have no HTTP endpoint, so no probes: a process that fails exits and
        # Kubernetes restarts it; an exec probe would start a Python interpreter (~0.5 s of CPU)
        # per probe and pod. A broker outage is ridden out by reconnecting, not by a restart.
        for tier, names, file_of, resources in (
            ("area", list(summary.areas), area_file, _AREA_RESOURCES),
            ("zone", list(summary.zones), {z: f"{z}.yaml" for z in summary.zones}, _ZONE_RESOURCES),
        ):
            for name in names:
                container = _container(
                    tier,
                    image,
                    [tier],
                    [
                        _env(f"{tier.upper()}_CONFIG", f"{_CONFIG_DIR}/{file_of[name]}"),
                        *self._messaging(),
                    ],
                    resources,
                )
                container["volumeMounts"] = mount
                pod = _pod_spec(
                    [container], [tier_volume(file_of[name], creds_of[f"{name}.creds"], f"{name}.creds")]
                )
                tiers.append(_deployment(name, ns, tier, instance=name, replicas=1, pod=pod))
        return tiers

    def robots(self, count: int, robot_creds: Sequence[str]) -> list[Manifest]:
        """The headless Service and StatefulSet ``robot``: pods ``robot-1`` ... ``robot-<count>``;
        ``robot_creds``: the Secrets holding the robots' ``.creds``, all projected into each pod."""
        ns, image = self.namespace, self.image
        mount = [{"name": "config", "mountPath": _CONFIG_DIR, "readOnly": True}]
        # -- robots ---------------------------------------------------------------------------
        edge = _container(
            "edge",
            image,
            ["edge"],
            [
                _pod_name_env("EDGE_ROBOT_ID"),  # robot-1 ... robot-N: the StatefulSet's pod names
                _env("EDGE_CONFIG", f"{_CONFIG_DIR}/edge.yaml"),
                _env("EDGE_ZONE_MAP", ZONE_MAP_DIR),
                *self._messaging(),
                _env("MESSAGING_CREDS", f"{_ROBOT_SECRETS_DIR}/$(EDGE_ROBOT_ID).creds"),
                _env("EDGE_JOURNAL_DIR", _JOURNAL_DIR),
            ],
            _EDGE_RESOURCES,
        )
        edge["volumeMounts"] = [
            *mount,
            {"name": "zone-map", "mountPath": ZONE_MAP_DIR, "readOnly": True},
            {"name": "creds", "mountPath": _ROBOT_SECRETS_DIR, "readOnly": True},
            {"name": "journal", "mountPath": _JOURNAL_DIR},
        ]
        robot_pod = _pod_spec(
            [edge],
            [
                projected_volume(
                    "config",
                    config_maps=[("rfos-edge", None)],
                    secrets=[("rfos-ca", [("ca.pem", "secrets/ca.pem")])],
                ),
                {"name": "zone-map", "configMap": {"name": "robot-zone-map", "defaultMode": 0o444}},
                projected_volume("creds", secrets=[(name, None) for name in robot_creds]),
                # The execution journal survives container restarts, not a pod's deletion.
                {"name": "journal", "emptyDir": {}},
            ],
        )
        robot_labels = labels("robot")
        robot_objects: list[Manifest] = [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": metadata("robot", ns, "robot"),
                "spec": {"clusterIP": "None", "selector": robot_labels},
            },
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": metadata("robot", ns, "robot"),
                "spec": {
                    "serviceName": "robot",
                    "replicas": count,
                    "ordinals": {"start": 1},
                    "podManagementPolicy": "Parallel",
                    "selector": {"matchLabels": robot_labels},
                    "template": {"metadata": {"labels": robot_labels}, "spec": robot_pod},
                },
            },
        ]
        return robot_objects
