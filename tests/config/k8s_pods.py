"""Test helper (not a test module): a kubelet, simulated, for the manifests of ``rfos fleet gen-k8s``.

A pod's environment as Kubernetes resolves it (the downward API's ``metadata.name``,
``$(VAR)`` expansion in values) and its volumes (ConfigMap, Secret, projected, emptyDir,
a StatefulSet's PVCs) written under a temporary root, so the tiers' own loaders can read them.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Objects", "by_kind_and_name", "expand", "load_documents", "pod_env", "start_pod"]

Objects = dict[tuple[str, str], dict[str, Any]]
_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def load_documents(k8s: Path) -> list[dict[str, Any]]:
    """Every document of every ``*.yaml`` in ``k8s``, in file order."""
    return [doc for path in sorted(k8s.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def by_kind_and_name(documents: list[dict[str, Any]]) -> Objects:
    """``(kind, name)`` -> object; a pair given twice fails."""
    found: Objects = {}
    for doc in documents:
        key = (doc["kind"], doc["metadata"]["name"])
        assert key not in found, f"{key} twice"
        found[key] = doc
    return found


def expand(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)``: variables defined earlier in the list; unknown ones stay as written."""
    return _VAR.sub(lambda m: env.get(m[1], m[0]), value)


def pod_env(container: dict[str, Any], pod_name: str) -> dict[str, str]:
    """The container's environment in pod ``pod_name``."""
    env: dict[str, str] = {}
    for var in container["env"]:
        if "value" in var:
            env[var["name"]] = expand(var["value"], env)
        else:
            field = var["valueFrom"]["fieldRef"]["fieldPath"]
            assert field == "metadata.name", f"{var['name']}: only the pod name is simulated"
            env[var["name"]] = pod_name
    return env


def _source_files(kind: str, source: dict[str, Any], objects: Objects) -> Iterator[tuple[str, bytes]]:
    """(path in the volume, content) of one ConfigMap or Secret source; a missing object fails."""
    obj = objects[("ConfigMap" if kind == "configMap" else "Secret", source["name"])]
    data = {
        key: (value.encode() if kind == "configMap" else base64.b64decode(value))
        for key, value in obj["data"].items()
    }
    if "items" in source:
        for item in source["items"]:
            yield item["path"], data[item["key"]]
    else:
        yield from data.items()


def _materialise(workload: dict[str, Any], container: dict[str, Any], objects: Objects, root: Path) -> None:
    """Write each mounted volume's files under ``root`` + its mount path (PVCs: empty)."""
    volumes = {v["name"]: v for v in workload["template"]["spec"]["volumes"]}
    volumes |= {c["metadata"]["name"]: {"emptyDir": {}} for c in workload.get("volumeClaimTemplates", [])}
    for mount in container["volumeMounts"]:
        where = root / mount["mountPath"].lstrip("/")
        where.mkdir(parents=True)
        volume = volumes[mount["name"]]
        if "projected" in volume:
            sources = [(kind, s[kind]) for s in volume["projected"]["sources"] for kind in s]
        elif "configMap" in volume:
            sources = [("configMap", volume["configMap"])]
        else:
            assert "emptyDir" in volume, volume
            sources = []
        for kind, source in sources:
            for path, content in _source_files(kind, source, objects):
                target = where / path
                assert not target.exists(), f"{target} projected twice"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)


def start_pod(
    objects: Objects, workload: tuple[str, str], pod_name: str, root: Path
) -> tuple[dict[str, str], Path]:
    """Simulate starting ``pod_name`` of ``workload``: its env (paths moved under ``root``)."""
    spec = objects[workload]["spec"]
    (container,) = spec["template"]["spec"]["containers"]
    _materialise(spec, container, objects, root)
    env = pod_env(container, pod_name)
    moved = {k: (str(root / v.lstrip("/")) if v.startswith("/") else v) for k, v in env.items()}
    return moved, root
