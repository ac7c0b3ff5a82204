"""The Helm chart in deploy/helm/voxie, tested without a cluster: `helm lint` and `helm template`
(Helm from scripts/install-helm), every rendered manifest validated against Kubernetes' own
schemas (kubernetes-validate, offline), and the platform's rules on the rendered YAML, for the
default values (plus the one required value) and for values-production.yaml."""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from shared.naming import WorkerRole
from shared.settings import Component, StoreKind
from tests.deploy.environment import SECRET_VALUES, settings_from, unknown_variables
from tests.support.processes import REPO_ROOT

HELM = REPO_ROOT / ".tools/bin/helm"
CHART = REPO_ROOT / "deploy/helm/voxie"
PRODUCTION = CHART / "values-production.yaml"
KUBERNETES = "1.33.0"  # the oldest Kubernetes the chart is checked against here
REQUIRED = ("--set", "livekit.url=wss://voxie-test.livekit.cloud")
COMPONENTS: dict[str, Component] = {"backend": "backend", "voxie": "voxie", "spawner": "spawner"}
WORKERS = ("voxie", "spawner")

Manifest = dict[str, Any]


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    if not HELM.exists():
        pytest.fail(f"Helm is not at {HELM}: run scripts/install-helm (scripts/test does)")
    return subprocess.run(
        [str(HELM), *args], capture_output=True, text=True, timeout=120, check=False
    )


@functools.cache
def render(*args: str, release: str = "voxie", namespace: str = "voxie-test") -> list[Manifest]:
    result = helm(
        "template", release, str(CHART), "--namespace", namespace, "--kube-version", KUBERNETES,
        *args,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def refusal(*args: str) -> str:
    result = helm("template", "voxie", str(CHART), "--kube-version", KUBERNETES, *args)
    assert result.returncode != 0, "rendered although it should have been refused"
    return result.stderr


VALUES = {"default": REQUIRED, "production": ("-f", str(PRODUCTION))}


@pytest.fixture(params=list(VALUES))
def manifests(request: pytest.FixtureRequest) -> list[Manifest]:
    return render(*VALUES[request.param])


def by_kind(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    """Manifests of one kind by their component label."""
    return {
        m["metadata"]["labels"]["app.kubernetes.io/component"]: m
        for m in manifests
        if m["kind"] == kind
    }


def container(deployment: Manifest) -> dict[str, Any]:
    [only] = deployment["spec"]["template"]["spec"]["containers"]
    return only  # type: ignore[no-any-return]


def env_of(deployment: Manifest) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(deployment)["env"]}


def image_env() -> dict[str, str]:
    """The Dockerfile runtime stage's ENV: what a container starts with before the pod's env."""
    text = (REPO_ROOT / "Dockerfile").read_text()
    runtime = text[text.index("AS runtime") :]
    blocks = re.findall(r"^ENV (.+?)(?<!\\)$", runtime, re.M | re.S)
    return dict(re.findall(r"(\w+)=(\S+)", " ".join(blocks).replace("\\\n", " ")))


def process_env(deployment: Manifest) -> dict[str, str]:
    """Image ENV < the Secret (envFrom, what the operator stores) < the pod's env."""
    return image_env() | SECRET_VALUES | env_of(deployment)


# --- Helm itself and Kubernetes' schemas --------------------------------------------------------


@pytest.mark.parametrize("values", list(VALUES))
def test_helm_lint_is_clean(values: str) -> None:
    result = helm("lint", "--strict", str(CHART), "--kube-version", KUBERNETES, *VALUES[values])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("version", [KUBERNETES, "1.37.0"])
def test_every_rendered_manifest_is_valid_kubernetes(
    manifests: list[Manifest], version: str
) -> None:
    kinds = set()
    for manifest in manifests:
        # strict: an unknown field (a typo, a field at the wrong level) is an error too.
        kubernetes_validate.validate(manifest, version, strict=True)
        kinds.add(manifest["kind"])
    assert kinds == {
        "Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "Job",
        "ServiceAccount",
    }  # fmt: skip


def test_the_validation_can_fail() -> None:
    deployment = dict(by_kind(render(*REQUIRED), "Deployment")["spawner"])
    deployment["spec"] = {**deployment["spec"], "replica": 3}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)


# --- what the chart deploys ---------------------------------------------------------------------


def test_deployments_services_and_the_migration_hook(manifests: list[Manifest]) -> None:
    deployments = by_kind(manifests, "Deployment")
    assert set(deployments) == set(COMPONENTS)
    for name, deployment in deployments.items():
        assert container(deployment)["args"] == [name]
    services = {m["metadata"]["name"] for m in manifests if m["kind"] == "Service"}
    assert services == {"voxie-backend", "voxie-voxie-metrics", "voxie-spawner-metrics"}
    [job] = [m for m in manifests if m["kind"] == "Job"]
    annotations = job["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert "hook-succeeded" in annotations["helm.sh/hook-delete-policy"]
    assert container(job)["args"] == ["migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_each_process_gets_settings_it_accepts_in_production(manifests: list[Manifest]) -> None:
    for name, deployment in by_kind(manifests, "Deployment").items():
        env = process_env(deployment)
        assert not unknown_variables(env), name
        settings = settings_from(env, COMPONENTS[name])
        assert not settings.is_development
        assert settings.store_kind is StoreKind.POSTGRES  # DATABASE_URL from the Secret
        assert settings.livekit_url.startswith("wss://")
    [job] = [m for m in manifests if m["kind"] == "Job"]
    assert not unknown_variables(process_env(job))


def test_secrets_are_referenced_never_inlined(manifests: list[Manifest]) -> None:
    assert not [m for m in manifests if m["kind"] in ("Secret", "ConfigMap")]
    secretish = re.compile(r"SECRET|PASSWORD|TOKEN|API_KEY|DATABASE_URL|SERVICE_ROLE")
    workloads = [*by_kind(manifests, "Deployment").values(), *by_kind(manifests, "Job").values()]
    for workload in workloads:
        spec = container(workload)
        assert [source["secretRef"]["name"] for source in spec["envFrom"]] == [
            spec_secret(manifests)
        ]
        assert not [e["name"] for e in spec["env"] if secretish.search(e["name"])]
        assert not [e for e in spec["env"] if "valueFrom" in e]


def spec_secret(manifests: list[Manifest]) -> str:
    names = {
        source["secretRef"]["name"]
        for m in by_kind(manifests, "Deployment").values()
        for source in container(m)["envFrom"]
    }
    [name] = names
    return str(name)


def test_a_secret_in_config_is_refused() -> None:
    stderr = refusal(*REQUIRED, "--set", "config.OPENAI_API_KEY=sk-123")
    assert "config.OPENAI_API_KEY looks like a secret" in stderr


def test_the_spawner_autoscales_on_cpu_by_default(manifests: list[Manifest]) -> None:
    [hpa] = [m for m in manifests if m["kind"] == "HorizontalPodAutoscaler"]
    spawner = by_kind(manifests, "Deployment")["spawner"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": spawner["metadata"]["name"],
    }
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert 0 < metric["resource"]["target"]["averageUtilization"] <= 80
    # The autoscaler owns the count: a Deployment with replicas would fight it on each upgrade.
    assert "replicas" not in spawner["spec"]
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    # Utilization is measured against the request, so there must be one.
    assert container(spawner)["resources"]["requests"]["cpu"]
    # Removing a replica costs a drain: scale down slowly, one at a time.
    scale_down = hpa["spec"]["behavior"]["scaleDown"]
    drain = int(env_of(spawner)["WORKER_DRAIN_TIMEOUT_S"])
    assert scale_down["stabilizationWindowSeconds"] >= drain
    assert scale_down["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 300}]


def test_the_worker_load_metric_option() -> None:
    manifests = render(*REQUIRED, "--set", "spawner.autoscaling.metric=workerLoad")
    [hpa] = [m for m in manifests if m["kind"] == "HorizontalPodAutoscaler"]
    [metric] = hpa["spec"]["metrics"]
    assert metric["type"] == "Pods"
    assert metric["pods"]["metric"]["name"] == "lk_agents_worker_load"
    spawner = by_kind(manifests, "Deployment")["spawner"]
    settings = settings_from(process_env(spawner), "spawner")
    # Below the load at which a replica stops taking calls, and the metric is exported.
    target = float(metric["pods"]["target"]["averageValue"].removesuffix("m")) / 1000
    assert target < settings.worker_load_threshold
    assert settings.worker_prometheus_port is not None
    assert "unknown" in refusal(*REQUIRED, "--set", "spawner.autoscaling.metric=unknown")


def test_without_autoscaling_the_spawner_has_a_fixed_count() -> None:
    manifests = render(*REQUIRED, "--set", "spawner.autoscaling.enabled=false")
    assert not [m for m in manifests if m["kind"] == "HorizontalPodAutoscaler"]
    assert by_kind(manifests, "Deployment")["spawner"]["spec"]["replicas"] == 3


def test_every_deployment_has_a_disruption_budget_that_selects_its_pods(
    manifests: list[Manifest],
) -> None:
    budgets = by_kind(manifests, "PodDisruptionBudget")
    for name, deployment in by_kind(manifests, "Deployment").items():
        selector = budgets[name]["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), name
        # Never a budget that blocks every eviction (a single Voxie with minAvailable: 1).
        assert budgets[name]["spec"].get("maxUnavailable", 0) >= 1, name


def test_workers_get_longer_than_their_drain_and_probes_on_the_health_port(
    manifests: list[Manifest],
) -> None:
    deployments = by_kind(manifests, "Deployment")
    for name in WORKERS:
        pod = deployments[name]["spec"]["template"]["spec"]
        settings = settings_from(process_env(deployments[name]), COMPONENTS[name])
        assert pod["terminationGracePeriodSeconds"] > settings.worker_drain_timeout_s, name
        assert settings.worker_drain_timeout_s > 0
        spec = container(deployments[name])
        ports = {p["name"]: p["containerPort"] for p in spec["ports"]}
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            get = spec[probe]["httpGet"]
            assert (get["path"], ports[get["port"]]) == ("/", settings.worker_http_port), probe
        assert ports["metrics"] == settings.worker_prometheus_port


def test_the_backend_listens_where_it_is_probed_and_served(manifests: list[Manifest]) -> None:
    backend = by_kind(manifests, "Deployment")["backend"]
    settings = settings_from(process_env(backend), "backend")
    spec = container(backend)
    ports = {p["name"]: p["containerPort"] for p in spec["ports"]}
    assert ports["http"] == settings.backend_port
    assert settings.backend_host == "0.0.0.0"  # noqa: S104 - in its pod, on purpose
    assert spec["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert spec["livenessProbe"]["httpGet"]["path"] == "/healthz"
    service = by_kind(manifests, "Service")["backend"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert (
        service["spec"]["selector"].items()
        <= backend["spec"]["template"]["metadata"]["labels"].items()
    )


def test_a_grace_period_not_above_the_drain_is_refused() -> None:
    stderr = refusal(*REQUIRED, "--set", "worker.terminationGracePeriodSeconds=600")
    assert "must exceed worker.drainTimeoutSeconds" in stderr


def test_every_container_has_requests_and_limits(manifests: list[Manifest]) -> None:
    for workload in [m for m in manifests if m["kind"] in ("Deployment", "Job")]:
        resources = container(workload)["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), workload["metadata"]["name"]
        assert {"cpu", "memory"} <= set(resources["limits"]), workload["metadata"]["name"]


def test_pods_run_non_root_on_a_read_only_root_with_the_spool_on_a_volume(
    manifests: list[Manifest],
) -> None:
    image_uid = re.search(r"--uid (\d+)", (REPO_ROOT / "Dockerfile").read_text())
    assert image_uid is not None
    for workload in [m for m in manifests if m["kind"] in ("Deployment", "Job")]:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == int(image_uid[1])
        assert pod["automountServiceAccountToken"] is False
        security = container(workload)["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        paths = {m["mountPath"] for m in container(workload)["volumeMounts"]}
        assert "/tmp" in paths  # noqa: S108 - the read-only root's one scratch volume
    for name in WORKERS:
        deployment = by_kind(manifests, "Deployment")[name]
        spool = str(settings_from(process_env(deployment), COMPONENTS[name]).spool_dir)
        mounts = {m["mountPath"]: m["name"] for m in container(deployment)["volumeMounts"]}
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        volume = volumes[mounts[spool]]
        assert "emptyDir" in volume or "persistentVolumeClaim" in volume


def test_the_production_spool_outlives_pods_on_a_shared_claim() -> None:
    spawner = by_kind(render("-f", str(PRODUCTION)), "Deployment")["spawner"]
    volumes = {v["name"]: v for v in spawner["spec"]["template"]["spec"]["volumes"]}
    assert volumes["spool"]["persistentVolumeClaim"]["claimName"] == "voxie-prod-spool"


def test_platform_env_is_per_release_and_agent_names_never_collide() -> None:
    names = {}
    for release, namespace in (("voxie", "staging"), ("voxie", "prod"), ("other", "prod")):
        deployments = by_kind(render(*REQUIRED, release=release, namespace=namespace), "Deployment")
        envs = {env_of(d)["PLATFORM_ENV"] for d in deployments.values()}
        [platform_env] = envs  # one deployment identity per release
        settings = settings_from(process_env(deployments["spawner"]), "spawner")
        names[(release, namespace)] = {settings.worker_agent_name(r) for r in WorkerRole}
        assert platform_env == f"{namespace}-{release}"
    collections = list(names.values())
    assert all(not a & b for i, a in enumerate(collections) for b in collections[i + 1 :]), names
    # An explicit platformEnv wins; the chart refuses one the settings would refuse.
    production = by_kind(render("-f", str(PRODUCTION)), "Deployment")
    assert {env_of(d)["PLATFORM_ENV"] for d in production.values()} == {"prod"}
    assert "lowercase letters" in refusal(*REQUIRED, "--set", "platformEnv=Prod_1")
    assert "set by the chart" in refusal(*REQUIRED, "--set", "config.PLATFORM_ENV=x")


def test_livekit_url_is_required() -> None:
    assert "livekit.url is required" in refusal()


def test_helm_missing_fails_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{__name__}.HELM", Path("/nonexistent/helm"))
    with pytest.raises(pytest.fail.Exception, match="scripts/install-helm"):
        helm("version")
