"""Kubernetes documents as data: the workload's manifests.

Pure functions of plain values. The EKS target renders them into its deploy step, which applies them
inside the VPC (`kubectl apply --server-side`); the tests validate every one against the Kubernetes
JSON schemas of the configured version (kubernetes-validate), so what is validated is what is applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from components.settings import CpuArchitecture, EksLoadBalancing, WorkloadSettings

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
# The image in the rendered Deployment: the deploy step always replaces it with the image it deploys
# (the pipeline's, or the recorded one), so the manifests do not change when the pipeline deploys.
IMAGE_PLACEHOLDER = "image.set-by-the-deploy-step.invalid/app:placeholder"
# Nodes carry the well-known label kubernetes.io/arch with Go's architecture names.
# https://kubernetes.io/docs/reference/labels-annotations-taints/#kubernetes-io-arch
NODE_ARCHITECTURE = {CpuArchitecture.X86_64: "amd64", CpuArchitecture.ARM64: "arm64"}
# What EKS Auto Mode's built-in general-purpose node pool launches: amd64 only (the system pool is tainted for
# add-ons). https://docs.aws.amazon.com/eks/latest/userguide/set-builtin-node-pools.html
GENERAL_PURPOSE_POOL_ARCHITECTURES = frozenset({"amd64"})
# A custom NodePool (Karpenter's API, served by Auto Mode) for an architecture the built-in pools do not run.
# https://docs.aws.amazon.com/eks/latest/userguide/create-node-pool.html
NODE_POOL_API_VERSION = "karpenter.sh/v1"
# The NodeClass every Auto Mode cluster with built-in pools has: the cluster's node role, its private
# subnets and security group, and an 80 GiB gp3 volume per node (offline/cost.py prices it).
DEFAULT_NODE_CLASS = {"group": "eks.amazonaws.com", "kind": "NodeClass", "name": "default"}
# The namespace label that makes the load balancer controller's webhook inject a readiness gate, so
# a new pod counts as Ready only once its ALB target is healthy and a rollout never outruns the
# registration (target type ip only; injected into pods created after the TargetGroupBinding).
READINESS_GATE_LABEL = {
    # EKS Auto Mode's managed webhook (eks-load-balancing-webhook) selects on its own key; the
    # open-source key is not honoured there. Not stated on an AWS page: read from live Auto Mode
    # clusters' webhook namespaceSelector (research.md Q2); check with
    # `kubectl get mutatingwebhookconfiguration -o yaml | grep -A6 pod-readiness-gate-inject`.
    EksLoadBalancing.AUTO_MODE: "eks.amazonaws.com/pod-readiness-gate-inject",
    # https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/deploy/pod_readiness_gate/
    EksLoadBalancing.AWS_LOAD_BALANCER_CONTROLLER: "elbv2.k8s.aws/pod-readiness-gate-inject",
}


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
    architecture: CpuArchitecture
    """The image's architecture: pods are pinned to nodes of it."""
    load_balancing: EksLoadBalancing
    """Whose webhook injects the readiness gate, and whose TargetGroupBinding API is used."""
    node_pool: str | None = None
    """Name of the NodePool applied with the workload for its architecture (a created Auto Mode cluster whose
    built-in pools do not run it, see `node_pool_name`). None: the cluster's own nodes run the pods."""


def node_pool_name(namespace: str, architecture: CpuArchitecture, *, created_cluster: bool) -> str | None:
    """The NodePool the workload needs on a created Auto Mode cluster: one for an architecture the built-in
    general-purpose pool does not run, named after the namespace (a NodePool is cluster-scoped; a label value, as
    the pool's name becomes on its nodes, is at most 63 characters, like the namespace). None on an existing
    cluster: its owners provide nodes of the image's architecture (docs/eks.md)."""
    if not created_cluster or NODE_ARCHITECTURE[architecture] in GENERAL_PURPOSE_POOL_ARCHITECTURES:
        return None
    return namespace


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
                READINESS_GATE_LABEL[spec.load_balancing]: "enabled",
            },
        },
    }


def deployment(spec: WorkloadSpec, image: str = IMAGE_PLACEHOLDER) -> dict:
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
                    # The pipeline builds an image for one architecture; built-in Auto Mode pools differ
                    # (general-purpose is amd64 only), so the pod says which nodes it needs. On arm64 only
                    # the workload's NodePool (`node_pool`) matches: the system pool's taint keeps pods off it.
                    "nodeSelector": {"kubernetes.io/arch": NODE_ARCHITECTURE[spec.architecture]},
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
                            "image": image,
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


def node_pool(spec: WorkloadSpec) -> dict:
    """The workload's NodePool on a created Auto Mode cluster: nodes of the image's architecture from the default
    NodeClass, with the guardrails of the built-in pools (a custom pool inherits none of them): on-demand C, M
    and R instances of generation 5 or newer (set-builtin-node-pools.html; auto-cost-control.html). Auto Mode
    consolidates empty and underutilised nodes, so switching cpuArchitecture back leaves only the pool object.
    Requirement keys: create-node-pool.html, "EKS Auto Mode Supported Labels"."""
    if spec.node_pool is None:
        raise ValueError(f"the workload on {NODE_ARCHITECTURE[spec.architecture]} nodes runs on the cluster's own node pools; it has no NodePool")
    return {
        "apiVersion": NODE_POOL_API_VERSION,
        "kind": "NodePool",
        "metadata": {"name": spec.node_pool, "labels": labels(spec)},
        "spec": {
            "template": {
                "spec": {
                    "nodeClassRef": dict(DEFAULT_NODE_CLASS),
                    "requirements": [
                        {"key": "kubernetes.io/arch", "operator": "In", "values": [NODE_ARCHITECTURE[spec.architecture]]},
                        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
                        {"key": "eks.amazonaws.com/instance-category", "operator": "In", "values": ["c", "m", "r"]},
                        {"key": "eks.amazonaws.com/instance-generation", "operator": "Gt", "values": ["4"]},
                    ],
                }
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


def target_group_binding(spec: WorkloadSpec, target_group_arn: str) -> dict:
    """Registers the Service's ready pods, by IP, in the target group the stack's ALB forwards to."""
    return {
        "apiVersion": spec.load_balancing.target_group_binding_api_version,
        "kind": "TargetGroupBinding",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": labels(spec)},
        "spec": {
            "serviceRef": {"name": spec.name, "port": spec.workload.container_port},
            "targetGroupARN": target_group_arn,
            "targetType": "ip",
        },
    }


def workload(spec: WorkloadSpec, target_group_arn: str, *, include_namespace: bool) -> dict:
    """Everything the deploy step applies, as one `v1` List (in apply order). `include_namespace`:
    False for an existing cluster, whose administrators own namespaces. The NodePool, when the workload has
    one, comes before the Deployment, so its pods find nodes to start on at once."""
    items = [namespace(spec)] if include_namespace else []
    items += [node_pool(spec)] if spec.node_pool else []
    items += [deployment(spec), service(spec), target_group_binding(spec, target_group_arn)]
    return {"apiVersion": "v1", "kind": "List", "items": items}


def deploy_group(name_prefix: str) -> str:
    """The Kubernetes group of the deploy identity's access entry on an existing cluster (not `system:`-prefixed,
    as EKS requires): the administrators bind to it what no access policy grants."""
    return f"{name_prefix}-deployers"


def administrator_manifests(spec: WorkloadSpec, group: str) -> dict:
    """What the administrators of an existing cluster apply once, before the first run, as one `v1` List: the
    workload's namespace (cluster-scoped: the deploy identity may not create it), and a Role bound to the deploy
    identity's group for the one kind its namespace-scoped AmazonEKSEditPolicy does not cover, TargetGroupBinding.
    EKS access policies are fixed rule lists and name no custom resource
    (https://docs.aws.amazon.com/eks/latest/userguide/access-policy-permissions.html); RoleBindings to an access
    entry's groups add to them (https://docs.aws.amazon.com/eks/latest/userguide/creating-access-entries.html).
    The verbs are those of `kubectl apply --server-side`: patch, create for a new object, get on a conflict."""
    group_name, _, _ = spec.load_balancing.target_group_binding_api_version.partition("/")
    role = f"{spec.name}-deploy"
    rbac = "rbac.authorization.k8s.io"
    return {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            namespace(spec),
            {
                "apiVersion": f"{rbac}/v1",
                "kind": "Role",
                "metadata": {"name": role, "namespace": spec.namespace, "labels": labels(spec)},
                "rules": [{"apiGroups": [group_name], "resources": ["targetgroupbindings"], "verbs": ["get", "create", "patch"]}],
            },
            {
                "apiVersion": f"{rbac}/v1",
                "kind": "RoleBinding",
                "metadata": {"name": role, "namespace": spec.namespace, "labels": labels(spec)},
                "roleRef": {"apiGroup": rbac, "kind": "Role", "name": role},
                "subjects": [{"apiGroup": rbac, "kind": "Group", "name": group}],
            },
        ],
    }
