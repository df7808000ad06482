"""Kubernetes documents as data: the workload's manifests and a kubeconfig.

Pure functions of plain values. The EKS target builds its pulumi-kubernetes resources from the same
dicts, and the tests validate every one against the Kubernetes JSON schemas of the configured version
(kubernetes-validate), so what is validated is what is applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from components.settings import WorkloadSettings

# Any non-zero UID works: the restricted Pod Security Standard only demands runAsNonRoot. 65532 is
# the conventional "nonroot" user of distroless images.
RUN_AS_USER = 65532
# Kubernetes' default grace period; the preStop pause below comes out of it.
TERMINATION_GRACE_SECONDS = 30
# The ALB keeps sending requests to a draining target for a few seconds after the endpoint goes
# away; pausing before SIGTERM lets those requests finish (native sleep action, Kubernetes >= 1.30).
PRE_STOP_SLEEP_SECONDS = 10
# Probes: ready after one passing check; restarted after 3 failed liveness checks 15 s apart.
READINESS_PERIOD_SECONDS = 5
LIVENESS_PERIOD_SECONDS = 15
PROBE_FAILURE_THRESHOLD = 3
PORT_NAME = "http"


@dataclass(frozen=True)
class WorkloadSpec:
    """Everything the manifests need, as plain values."""

    namespace: str
    name: str
    """Name of the Deployment, Service and TargetGroupBinding (the service name)."""
    workload: WorkloadSettings
    environment: tuple[tuple[str, str], ...]
    """The container's environment, name -> value, in order."""
    cpu_millicores: int
    memory_mib: int


def namespace_name(prefix: str) -> str:
    """A DNS label (RFC 1123) from the physical-name prefix: one namespace per stack and service,
    so two stacks can share an existing cluster."""
    label = re.sub(r"[^a-z0-9-]+", "-", prefix.lower()).strip("-")
    return label[:63].rstrip("-")


def labels(spec: WorkloadSpec) -> dict[str, str]:
    return {"app.kubernetes.io/name": spec.name, "app.kubernetes.io/managed-by": "pulumi"}


def selector(spec: WorkloadSpec) -> dict[str, str]:
    return {"app.kubernetes.io/name": spec.name}


def namespace(spec: WorkloadSpec) -> dict:
    """The workload's namespace; the restricted Pod Security Standard is enforced on it, so the API
    server itself rejects any pod that would run as root or escalate privileges."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": spec.namespace,
            "labels": {
                "app.kubernetes.io/managed-by": "pulumi",
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
                # The load balancer controller injects a readiness gate: a new pod counts as Ready only
                # once its target is healthy in the ALB, so a rollout never outruns the registration.
                # https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/deploy/pod_readiness_gate/
                "elbv2.k8s.aws/pod-readiness-gate-inject": "enabled",
            },
        },
    }


def deployment(spec: WorkloadSpec) -> dict:
    w = spec.workload
    cpu = f"{spec.cpu_millicores}m"
    memory = f"{spec.memory_mib}Mi"
    http_get = {"path": w.health_check_path, "port": PORT_NAME}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": labels(spec)},
        "spec": {
            "replicas": w.desired_count,
            "selector": {"matchLabels": selector(spec)},
            # Never below the desired count: a new pod must be Ready before an old one goes.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            # The Deployment reports ProgressDeadlineExceeded (and `kubectl rollout status` fails)
            # when the rollout makes no progress for as long as the pipeline is willing to wait.
            "progressDeadlineSeconds": w.deployment_timeout_minutes * 60,
            "revisionHistoryLimit": 10,
            "template": {
                "metadata": {"labels": labels(spec)},
                "spec": {
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUN_AS_USER,
                        "runAsGroup": RUN_AS_USER,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "topology.kubernetes.io/zone",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": selector(spec)},
                        }
                    ],
                    "containers": [
                        {
                            "name": w.container_name,
                            "image": w.bootstrap_image,
                            "ports": [{"name": PORT_NAME, "containerPort": w.container_port, "protocol": "TCP"}],
                            "env": [{"name": k, "value": v} for k, v in spec.environment],
                            "resources": {
                                "requests": {"cpu": cpu, "memory": memory},
                                "limits": {"cpu": cpu, "memory": memory},
                            },
                            "readinessProbe": {
                                "httpGet": http_get,
                                "periodSeconds": READINESS_PERIOD_SECONDS,
                                "timeoutSeconds": 2,
                                "failureThreshold": PROBE_FAILURE_THRESHOLD,
                            },
                            "livenessProbe": {
                                "httpGet": http_get,
                                "initialDelaySeconds": 10,
                                "periodSeconds": LIVENESS_PERIOD_SECONDS,
                                "timeoutSeconds": 5,
                                "failureThreshold": PROBE_FAILURE_THRESHOLD,
                            },
                            "lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_SLEEP_SECONDS}}},
                            "securityContext": {
                                "runAsNonRoot": True,
                                "runAsUser": RUN_AS_USER,
                                "readOnlyRootFilesystem": True,
                                "allowPrivilegeEscalation": False,
                                "privileged": False,
                                "capabilities": {"drop": ["ALL"]},
                                "seccompProfile": {"type": "RuntimeDefault"},
                            },
                            # A writable /tmp despite the read-only root filesystem.
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - a pod-private emptyDir
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
                },
            },
        },
    }


def service(spec: WorkloadSpec) -> dict:
    """ClusterIP only: the ALB reaches the pods by IP through the TargetGroupBinding, not through
    a Kubernetes-provisioned load balancer."""
    port = spec.workload.container_port
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": labels(spec)},
        "spec": {
            "type": "ClusterIP",
            "selector": selector(spec),
            "ports": [{"name": PORT_NAME, "port": port, "targetPort": PORT_NAME, "protocol": "TCP"}],
        },
    }


def target_group_binding(spec: WorkloadSpec, target_group_arn: str, api_version: str) -> dict:
    """Registers the Service's ready pods, by IP, in the target group the stack's ALB forwards to."""
    return {
        "apiVersion": api_version,
        "kind": "TargetGroupBinding",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": labels(spec)},
        "spec": {
            "serviceRef": {"name": spec.name, "port": spec.workload.container_port},
            "targetGroupARN": target_group_arn,
            "targetType": "ip",
        },
    }


def kubeconfig(cluster_name: str, endpoint: str, certificate_authority: str, region: str) -> dict:
    """A kubeconfig that authenticates with `aws eks get-token` (the caller's IAM identity, which
    needs an access entry on the cluster)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": certificate_authority}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [
            {
                "name": cluster_name,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "aws",
                        "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"],
                        "interactiveMode": "Never",
                    }
                },
            }
        ],
    }
