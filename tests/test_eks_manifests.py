"""The EKS workload's Kubernetes documents: valid against the configured version's schemas, restricted,
and built from the same container contract as the build and the ECS target."""

from __future__ import annotations

import dataclasses

import kubernetes_validate
import pytest

from components.deploy.eks import manifests
from components.settings import EKS_KUBERNETES_VERSIONS, CpuArchitecture, EksLoadBalancing, WorkloadSettings
from components.workload import bootstrap_environment

WORKLOAD = WorkloadSettings(
    container_name="web",
    container_port=9090,
    health_check_path="/healthz",
    bootstrap_image="public.ecr.aws/nginx/nginx:1.27",
    desired_count=3,
    deployment_timeout_minutes=12,
)
SPEC = manifests.WorkloadSpec(
    namespace="container-cicd-prod-api",
    name="api",
    workload=WORKLOAD,
    environment=tuple((e["name"], e["value"]) for e in bootstrap_environment(WORKLOAD)),
    cpu_millicores=500,
    memory_mib=1024,
    architecture=CpuArchitecture.X86_64,
    load_balancing=EksLoadBalancing.AUTO_MODE,
)
TG_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/container-cicd-prod-api-tg/0123456789abcdef"


def core_documents(spec: manifests.WorkloadSpec = SPEC) -> list[dict]:
    return [manifests.namespace(spec), manifests.deployment(spec), manifests.service(spec)]


@pytest.mark.parametrize("version", EKS_KUBERNETES_VERSIONS)
@pytest.mark.parametrize("kind", ["Namespace", "Deployment", "Service"])
def test_every_manifest_is_valid_for_every_supported_version(kind, version):
    document = next(d for d in core_documents() if d["kind"] == kind)
    # strict: unknown fields are errors too, so a misspelt field cannot silently do nothing.
    kubernetes_validate.validate(document, version, strict=True)


def test_validation_is_real_a_broken_deployment_fails():
    broken = manifests.deployment(SPEC)
    broken["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsNonroot"] = True  # typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, EKS_KUBERNETES_VERSIONS[0], strict=True)


def container(doc: dict) -> dict:
    [only] = doc["spec"]["template"]["spec"]["containers"]
    return only


def test_container_contract_comes_from_the_workload_settings():
    c = container(manifests.deployment(SPEC))
    assert c["name"] == "web"
    # The deploy step sets the image (the pipeline's or the recorded one); the manifests never carry one.
    assert c["image"] == manifests.IMAGE_PLACEHOLDER
    assert container(manifests.deployment(SPEC, "x.invalid/app:1"))["image"] == "x.invalid/app:1"
    assert c["ports"] == [{"name": "http", "containerPort": 9090, "protocol": "TCP"}]
    assert c["env"] == [{"name": "PORT", "value": "9090"}]  # a custom image gets no Traefik variables
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "http"}


def test_bootstrap_image_gets_the_same_environment_as_ecs():
    workload = dataclasses.replace(WORKLOAD, bootstrap_image="public.ecr.aws/docker/library/traefik:v3.7", health_check_path="/ping")
    spec = dataclasses.replace(SPEC, workload=workload, environment=tuple((e["name"], e["value"]) for e in bootstrap_environment(workload)))
    assert container(manifests.deployment(spec))["env"] == [
        {"name": "PORT", "value": "9090"},
        {"name": "TRAEFIK_ENTRYPOINTS_TRAEFIK_ADDRESS", "value": ":9090"},
        {"name": "TRAEFIK_PING", "value": "true"},
    ]


def test_requests_and_limits():
    assert container(manifests.deployment(SPEC))["resources"] == {
        "requests": {"cpu": "500m", "memory": "1024Mi"},
        "limits": {"cpu": "500m", "memory": "1024Mi"},
    }


def test_restricted_security_context():
    pod = manifests.deployment(SPEC)["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["automountServiceAccountToken"] is False
    assert container(manifests.deployment(SPEC))["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


@pytest.mark.parametrize(
    ("mode", "label"),
    [
        # Auto Mode's managed webhook selects on its own key (research.md Q2), not on the OSS controller's.
        (EksLoadBalancing.AUTO_MODE, "eks.amazonaws.com/pod-readiness-gate-inject"),
        (EksLoadBalancing.AWS_LOAD_BALANCER_CONTROLLER, "elbv2.k8s.aws/pod-readiness-gate-inject"),
    ],
)
def test_namespace_enforces_restricted_pods_and_the_readiness_gate_of_the_controller(mode, label):
    labels = manifests.namespace(dataclasses.replace(SPEC, load_balancing=mode))["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    gates = {k: v for k, v in labels.items() if k.endswith("/pod-readiness-gate-inject")}
    assert gates == {label: "enabled"}


@pytest.mark.parametrize(("architecture", "node_arch"), [(CpuArchitecture.X86_64, "amd64"), (CpuArchitecture.ARM64, "arm64")])
def test_pods_are_pinned_to_the_image_architecture(architecture, node_arch):
    pod = manifests.deployment(dataclasses.replace(SPEC, architecture=architecture))["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/arch": node_arch}


def test_rollout_never_drops_below_desired_and_has_a_deadline():
    spec = manifests.deployment(SPEC)["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    assert spec["progressDeadlineSeconds"] == 12 * 60


def test_selector_matches_template_and_service():
    deployment, service = manifests.deployment(SPEC), manifests.service(SPEC)
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert service["spec"]["selector"] == selector


def test_service_is_cluster_ip_on_the_container_port():
    assert manifests.service(SPEC)["spec"] == {
        "type": "ClusterIP",
        "selector": {"app.kubernetes.io/name": "api"},
        "ports": [{"name": "http", "port": 9090, "targetPort": "http", "protocol": "TCP"}],
    }


@pytest.mark.parametrize(
    ("mode", "api_version"),
    [(EksLoadBalancing.AUTO_MODE, "eks.amazonaws.com/v1"), (EksLoadBalancing.AWS_LOAD_BALANCER_CONTROLLER, "elbv2.k8s.aws/v1beta1")],
)
def test_target_group_binding_registers_pod_ips_of_the_service(mode, api_version):
    # A CRD: not in the Kubernetes schemas, so its shape is asserted exactly instead.
    assert manifests.target_group_binding(dataclasses.replace(SPEC, load_balancing=mode), TG_ARN) == {
        "apiVersion": api_version,
        "kind": "TargetGroupBinding",
        "metadata": {
            "name": "api",
            "namespace": "container-cicd-prod-api",
            "labels": {"app.kubernetes.io/name": "api", "app.kubernetes.io/managed-by": "pulumi"},
        },
        "spec": {"serviceRef": {"name": "api", "port": 9090}, "targetGroupARN": TG_ARN, "targetType": "ip"},
    }


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("container-cicd-prod-app", "container-cicd-prod-app"), ("container-cicd-Feature_X-app", "container-cicd-feature-x-app")],
)
def test_namespace_name_is_a_dns_label(prefix, expected):
    assert manifests.namespace_name(prefix) == expected
    assert manifests.namespace_name("x" * 80) == "x" * 63
