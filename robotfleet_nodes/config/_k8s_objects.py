"""Building blocks of the Kubernetes manifests ``rfos fleet gen-k8s`` writes (plain dicts).

Labels, security contexts, probes, ConfigMaps, Secrets (split below the 1 MiB object
limit), projected volumes, the Namespace, NetworkPolicies and the YAML dumper that writes
config files as literal blocks.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

__all__ = [
    "PART_OF",
    "Manifest",
    "config_map",
    "container_security",
    "dump_documents",
    "http_probe",
    "labels",
    "metadata",
    "namespace_object",
    "network_policies",
    "pod_security",
    "projected_volume",
    "secret",
    "split_secret_data",
    "spread",
]

#: One Kubernetes object as it is written (``apiVersion``, ``kind``, ``metadata``, ...).
Manifest = dict[str, Any]

#: ``app.kubernetes.io/part-of`` of every object.
PART_OF = "robotfleet"
#: The image's user (Dockerfile ``USER 10001:10001``).
_UID = 10001
#: Decoded bytes per Secret: half the 1 MiB object limit, so base64 (4/3) and metadata fit.
_SECRET_BUDGET = 512 * 1024


def labels(name: str, instance: str | None = None) -> dict[str, str]:
    """The labels selecting one component (``instance``: one zone or area of several)."""
    out = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF}
    if instance is not None:
        out["app.kubernetes.io/instance"] = instance
    return out


def metadata(name: str, namespace: str, component: str, instance: str | None = None) -> dict[str, Any]:
    """``metadata`` of a namespaced object."""
    return {"name": name, "namespace": namespace, "labels": labels(component, instance)}


def pod_security() -> dict[str, Any]:
    """Pod ``securityContext``: the image's non-root user, the runtime's seccomp profile."""
    return {
        "runAsNonRoot": True,
        "runAsUser": _UID,
        "runAsGroup": _UID,
        "fsGroup": _UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security() -> dict[str, Any]:
    """Container ``securityContext`` meeting the ``restricted`` Pod Security Standard."""
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def config_map(name: str, namespace: str, component: str, data: Mapping[str, str]) -> Manifest:
    """A ConfigMap holding ``data`` (file name -> text)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(name, namespace, component),
        "data": dict(data),
    }


def secret(name: str, namespace: str, component: str, data: Mapping[str, bytes]) -> Manifest:
    """An Opaque Secret holding ``data`` (file name -> content), base64-encoded."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(name, namespace, component),
        "type": "Opaque",
        "data": {key: base64.b64encode(value).decode("ascii") for key, value in data.items()},
    }


def split_secret_data(data: Mapping[str, bytes], budget: int = _SECRET_BUDGET) -> list[dict[str, bytes]]:
    """``data`` in order, cut into parts of at most ``budget`` bytes each (at least one part)."""
    parts: list[dict[str, bytes]] = [{}]
    size = 0
    for key, value in data.items():
        if parts[-1] and size + len(value) > budget:
            parts.append({})
            size = 0
        parts[-1][key] = value
        size += len(value)
    return parts


def projected_volume(
    name: str,
    *,
    config_maps: Iterable[tuple[str, Sequence[tuple[str, str]] | None]] = (),
    secrets: Iterable[tuple[str, Sequence[tuple[str, str]] | None]] = (),
) -> dict[str, Any]:
    """A projected volume: per source ``(object name, [(key, path), ...] or None for all keys)``."""
    sources: list[dict[str, Any]] = []
    for kind, entries in (("configMap", config_maps), ("secret", secrets)):
        for object_name, items in entries:
            source: dict[str, Any] = {"name": object_name}
            if items is not None:
                source["items"] = [{"key": key, "path": path} for key, path in items]
            sources.append({kind: source})
    return {"name": name, "projected": {"defaultMode": 0o440, "sources": sources}}


def http_probe(*, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": "/healthz", "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def spread(selector: Mapping[str, str]) -> dict[str, Any]:
    """Replicas on different nodes when there are several (not required)."""
    return {
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": dict(selector)},
    }


def namespace_object(name: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {
                "app.kubernetes.io/part-of": "robotfleet",
                "pod-security.kubernetes.io/enforce": "restricted",
            },
        },
    }


def network_policies(ns: str, http_port: int) -> list[Manifest]:
    """Deny ingress to every pod but NATS (from this namespace's pods) and the fleet's :8080."""

    def policy(name: str, selector: dict[str, Any], ingress: list[dict[str, Any]]) -> Manifest:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata(name, ns, "robotfleet"),
            "spec": {"podSelector": selector, "policyTypes": ["Ingress"], "ingress": ingress},
        }

    nats = {"matchLabels": labels("nats")}
    return [
        policy("default-deny-ingress", {}, []),
        policy(
            "nats",
            nats,
            [
                {
                    "from": [{"podSelector": {}}],
                    "ports": [{"protocol": "TCP", "port": 4222}, {"protocol": "TCP", "port": 8222}],
                },
                {"from": [{"podSelector": nats}], "ports": [{"protocol": "TCP", "port": 6222}]},
            ],
        ),
        policy(
            "fleet",
            {"matchLabels": labels("fleet")},
            [{"ports": [{"protocol": "TCP", "port": http_port}]}],
        ),
    ]


try:  # libyaml's emitter when PyYAML has it: 10000 robots' Secrets are ~27 MB of YAML
    from yaml import CSafeDumper as _SafeDumper
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeDumper as _SafeDumper  # type: ignore[assignment]


class _Dumper(_SafeDumper):
    """Block style; multi-line strings (config files) as literal blocks; no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: _SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def dump_documents(documents: Sequence[Manifest], header: str) -> str:
    """``documents`` as one multi-document YAML text, each starting with ``---``."""
    body = yaml.dump_all(
        documents, Dumper=_Dumper, sort_keys=False, explicit_start=True, width=100, allow_unicode=True
    )
    return header + body
