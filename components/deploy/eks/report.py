"""The offline plan's view of the EKS target: its key settings, report rows and diagram blocks."""

from __future__ import annotations

import json
from typing import Any

from components.deploy.report import ArchitectureEdge, PlanView, Recorded, TargetReport, get, show
from components.settings import DeploymentStrategyKind, Settings, standard_support_notice

_CLUSTER = "aws:eks/cluster:Cluster"


def _workload_projects(view: PlanView) -> list[Recorded]:
    """The deploy step's project: the one whose buildspec carries the manifests."""
    return [r for r in view.of_type("aws:codebuild/project:Project") if "MANIFESTS" in (get(view.buildspec(r), "env.variables") or {})]


def _probe(probe: dict | None) -> str:
    if not probe:
        return "none"
    http = probe.get("httpGet") or {}
    parts = [f"GET `{http.get('path')}` on port `{http.get('port')}`", f"every {probe.get('periodSeconds', 10)} s"]
    if probe.get("initialDelaySeconds"):
        parts.append(f"after {probe['initialDelaySeconds']} s")
    parts.append(f"timeout {probe.get('timeoutSeconds', 1)} s, {probe.get('failureThreshold', 3)} failures")
    return ", ".join(parts)


def _workload_rows(view: PlanView) -> list[str]:
    """The Deployment the deploy step applies: image, replicas, resources, probes, placement."""
    lines = []
    record = view.image_record()
    for project in _workload_projects(view):
        items = json.loads(get(view.buildspec(project), "env.variables.MANIFESTS")).get("items") or []
        kinds = ", ".join(f"{i.get('kind')} `{get(i, 'metadata.name')}`" for i in items)
        lines.append(f"- Workload applied by the deploy project **{project.name}** (`kubectl apply --server-side`, in the VPC): {kinds}")
        for item in items:
            if item.get("kind") == "NodePool":
                template = get(item, "spec.template.spec") or {}
                rules = "; ".join(f"`{r['key']}` {r['operator']} {', '.join(r.get('values') or [])}" for r in template.get("requirements") or [])
                ref = template.get("nodeClassRef") or {}
                lines.append(f"- NodePool `{get(item, 'metadata.name')}` (cluster-scoped): nodes of {ref.get('kind')} `{ref.get('name')}` with {rules}")
            if item.get("kind") != "Deployment":
                continue
            spec = item.get("spec") or {}
            pod = get(spec, "template.spec") or {}
            lines.append(
                f"- Deployment `{get(item, 'metadata.name')}` in namespace `{get(item, 'metadata.namespace')}`: "
                f"replicas `{spec.get('replicas')}`, strategy {show(spec.get('strategy'))}, "
                f"progress deadline `{spec.get('progressDeadlineSeconds')}` s"
            )
            lines.append(f"  - node selector {show(pod.get('nodeSelector') or {})}")
            for c in pod.get("containers") or []:
                if record is not None:
                    image = (
                        f"the image record `{record.inputs.get('name')}` holds `{record.inputs.get('insecureValue')}` "
                        "(the bootstrap image until the pipeline's first deployment, then the image the deploy step recorded); "
                        "the deploy step puts it in place of the manifest's placeholder"
                    )
                else:
                    image = f"`{c.get('image')}`"
                lines.append(f"  - container `{c.get('name')}`: image: {image}")
                resources = c.get("resources") or {}
                lines.append(f"  - requests {show(resources.get('requests') or {})}, limits {show(resources.get('limits') or {})}")
                lines.append(f"  - readiness probe: {_probe(c.get('readinessProbe'))}")
                lines.append(f"  - liveness probe: {_probe(c.get('livenessProbe'))}")
    return lines


def _deploy_time_rows(view: PlanView) -> list[str]:
    projects = _workload_projects(view)
    project = projects[0].inputs.get("name") if projects else "the deploy project"
    lines = [
        "- EKS: no AWS CLI, no kubectl and no network route to the cluster on this machine: Pulumi does not call the "
        "Kubernetes API. The workload is applied by the in-VPC deploy project after `pulumi up` returns; watch it with "
        f"`aws codebuild list-builds-for-project --project-name {project}` (or the CodeBuild console)",
    ]
    if not view.of_type(_CLUSTER):
        lines.append("- EKS, existing cluster: its administrators create the workload's namespace first (docs/eks.md)")
    return lines


def _human_rows(view: PlanView) -> list[str]:
    rows = [
        f"- EKS cluster `{cluster.inputs.get('name')}` has a private API endpoint only: the stack still comes up (the deploy "
        "step runs inside the VPC), but kubectl from a laptop will not reach it. Use a host in the VPC, or list your "
        "operators' CIDRs in `eksPublicAccessCidrs`."
        for cluster in view.of_type(_CLUSTER)
        if not get(cluster.inputs, "vpcConfig.endpointPublicAccess")
    ]
    eks = view.settings().eks
    notice = standard_support_notice(eks.kubernetes_version, view.as_of, eks.cluster_name) if eks else None
    return rows + ([f"- {notice}"] if notice else [])


def _resolved_note(key: str, value: Any, settings: Settings) -> str:
    if key == "deploymentStrategy" and value == DeploymentStrategyKind.AUTO.value:
        return "→ rolling (the Deployment's rolling update, the only strategy on EKS)"
    return ""


REPORT = TargetReport(
    resolved_note=_resolved_note,
    empty_key_notes={
        "eksClusterName": "→ the stack creates an EKS Auto Mode cluster",
        "eksPublicAccessCidrs": "→ private API endpoint only",
    },
    key_settings={
        _CLUSTER: (
            "name",
            "version",
            "vpcConfig.endpointPrivateAccess",
            "vpcConfig.endpointPublicAccess",
            "vpcConfig.publicAccessCidrs",
            "enabledClusterLogTypes",
            "computeConfig.enabled",
            "computeConfig.nodePools",
            "accessConfig.authenticationMode",
        ),
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": ("policyArn", "accessScope"),
    },
    deploy_rows=_workload_rows,
    deploy_time_rows=_deploy_time_rows,
    human_rows=_human_rows,
    architecture_nodes=((_CLUSTER, "EKS cluster"),),
    architecture_edges=(
        ArchitectureEdge("aws:lb/loadBalancer:LoadBalancer", _CLUSTER, "routes to pods"),
        ArchitectureEdge("aws:ecr/repository:Repository", _CLUSTER, "pulls"),
        # The deploy action is a CodeBuild project running kubectl, not an ECS-style deploy action.
        ArchitectureEdge("aws:codebuild/project:Project", _CLUSTER, "kubectl apply", dashed=True),
    ),
)
