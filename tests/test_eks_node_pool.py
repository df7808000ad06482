"""The workload's NodePool on a created EKS Auto Mode cluster: what it asks Auto Mode for, and that the API server
would accept it.

kubernetes-validate has no schema for custom resources, so the NodePool is validated against Karpenter's own
CRD, vendored in tests/schemas/ (the first v1 release and a current one; each file names its source): its
OpenAPI schema with jsonschema, strict as `kubectl apply` is (an unknown field is an error), and the CRD's CEL
rules (`x-kubernetes-validations`) on the fields the manifests set, written out below.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from components.deploy.eks import manifests
from components.settings import CpuArchitecture
from tests.test_eks_manifests import SPEC, TG_ARN

SCHEMAS = Path(__file__).parent / "schemas"
CRD_VERSIONS = ("v1.0.0", "v1.9.1")
ARM_SPEC = dataclasses.replace(SPEC, architecture=CpuArchitecture.ARM64, node_pool=SPEC.namespace)


@functools.cache
def crd_schema(release: str) -> dict:
    crd = yaml.safe_load((SCHEMAS / f"karpenter.sh_nodepools.{release}.yaml").read_text())
    assert (crd["spec"]["group"], crd["spec"]["names"]["kind"], crd["spec"]["scope"]) == ("karpenter.sh", "NodePool", "Cluster")
    [v1] = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    assert v1["served"] and v1["storage"]
    return strict(v1["schema"]["openAPIV3Schema"])


def strict(schema: dict) -> dict:
    """The schema with unknown fields refused, as `kubectl apply`'s default field validation (Strict) refuses
    them: every object that lists its properties and preserves nothing else gets additionalProperties false."""
    out = {k: strict(v) if isinstance(v, dict) else v for k, v in schema.items() if k != "properties"}
    if "properties" in schema:
        out["properties"] = {name: strict(sub) for name, sub in schema["properties"].items()}
        if "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    return out


# The CRD's CEL rules on spec.template.spec.requirements (both releases), as Python.
_KARPENTER_KEYS = ("karpenter.sh/capacity-type", "karpenter.sh/nodepool")


def cel_problems(pool: dict) -> list[str]:
    problems = []
    for requirement in pool["spec"]["template"]["spec"]["requirements"]:
        key, operator, values = requirement["key"], requirement["operator"], requirement.get("values", [])
        domain = key.split("/", 1)[0] if "/" in key else ""
        if key not in _KARPENTER_KEYS and domain.endswith("karpenter.sh") or key == "karpenter.sh/nodepool":
            problems.append(f"label domain karpenter.sh is restricted: {key}")
        if key == "kubernetes.io/hostname":
            problems.append('label "kubernetes.io/hostname" is restricted')
        if operator == "In" and not values:
            problems.append(f"{key}: requirements with operator 'In' must have a value defined")
        if operator in ("Gt", "Lt", "Gte", "Lte") and not (len(values) == 1 and re.fullmatch(r"\d+", values[0])):
            problems.append(f"{key}: operator {operator} must have a single positive integer value")
    ref = pool["spec"]["template"]["spec"]["nodeClassRef"]
    problems += [f"nodeClassRef.{field} may not be empty" for field in ("group", "kind", "name") if not ref.get(field)]
    return problems


def validate(pool: dict, release: str) -> None:
    jsonschema.validate(pool, crd_schema(release))
    problems = cel_problems(pool)
    if problems:
        raise jsonschema.ValidationError("; ".join(problems))


@pytest.mark.parametrize("release", CRD_VERSIONS)
def test_the_node_pool_is_valid_against_karpenters_crd(release):
    validate(manifests.node_pool(ARM_SPEC), release)


@pytest.mark.parametrize("release", CRD_VERSIONS)
@pytest.mark.parametrize(
    "breaks",
    [
        lambda p: p["spec"]["template"]["spec"].update(nodeClassRefs=p["spec"]["template"]["spec"]["nodeClassRef"]),  # unknown field
        lambda p: p["spec"]["template"]["spec"]["requirements"][0].update(operator="Contains"),  # no such operator
        lambda p: p["spec"]["template"]["spec"]["requirements"][3].update(values=["4", "5"]),  # CEL: Gt takes one integer
        lambda p: p["spec"]["template"]["spec"]["requirements"][0].update(values=[]),  # CEL: In needs a value
        lambda p: p["spec"]["template"]["spec"]["nodeClassRef"].pop("group"),  # required
    ],
)
def test_validation_is_real_a_broken_node_pool_fails(release, breaks):
    pool = manifests.node_pool(ARM_SPEC)
    breaks(pool)
    with pytest.raises(jsonschema.ValidationError):
        validate(pool, release)


def test_the_pool_runs_arm64_nodes_of_the_default_node_class_with_the_built_in_pools_guardrails():
    pool = manifests.node_pool(ARM_SPEC)
    assert (pool["apiVersion"], pool["kind"], pool["metadata"]["name"]) == ("karpenter.sh/v1", "NodePool", "container-cicd-prod-api")
    assert "namespace" not in pool["metadata"]  # cluster-scoped
    template = pool["spec"]["template"]["spec"]
    assert template["nodeClassRef"] == {"group": "eks.amazonaws.com", "kind": "NodeClass", "name": "default"}
    assert template["requirements"] == [
        {"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]},
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
        {"key": "eks.amazonaws.com/instance-category", "operator": "In", "values": ["c", "m", "r"]},
        {"key": "eks.amazonaws.com/instance-generation", "operator": "Gt", "values": ["4"]},
    ]


def satisfies(node_selector: dict[str, str], requirements: list[dict]) -> bool:
    """Whether nodes a pool's requirements allow can carry every label the pod selects (In only: the keys used here)."""
    by_key = {r["key"]: r["values"] for r in requirements if r["operator"] == "In"}
    return all(key in by_key and value in by_key[key] for key, value in node_selector.items())


def test_the_pods_select_the_pool_and_the_general_purpose_pool_cannot_run_them():
    selector = manifests.deployment(ARM_SPEC)["spec"]["template"]["spec"]["nodeSelector"]
    assert selector == {"kubernetes.io/arch": "arm64"}
    assert satisfies(selector, manifests.node_pool(ARM_SPEC)["spec"]["template"]["spec"]["requirements"])
    general_purpose = [{"key": "kubernetes.io/arch", "operator": "In", "values": sorted(manifests.GENERAL_PURPOSE_POOL_ARCHITECTURES)}]
    assert not satisfies(selector, general_purpose)


def test_the_pool_is_applied_after_the_namespace_and_before_the_deployment():
    kinds = [item["kind"] for item in manifests.workload(ARM_SPEC, TG_ARN, include_namespace=True)["items"]]
    assert kinds == ["Namespace", "NodePool", "Deployment", "Service", "TargetGroupBinding"]
    assert [item["kind"] for item in manifests.workload(SPEC, TG_ARN, include_namespace=True)["items"]] == ["Namespace", "Deployment", "Service", "TargetGroupBinding"]


@pytest.mark.parametrize(
    ("architecture", "created", "expected"),
    [
        (CpuArchitecture.ARM64, True, "container-cicd-prod-api"),
        # The built-in general-purpose pool runs amd64.
        (CpuArchitecture.X86_64, True, None),
        # An existing cluster's owners provide the nodes; the deploy identity may not create cluster-scoped objects there.
        (CpuArchitecture.ARM64, False, None),
        (CpuArchitecture.X86_64, False, None),
    ],
)
def test_only_a_created_cluster_running_arm64_gets_a_pool(architecture, created, expected):
    assert manifests.node_pool_name("container-cicd-prod-api", architecture, created_cluster=created) == expected


def test_a_workload_without_a_pool_has_no_node_pool_document():
    with pytest.raises(ValueError, match=r"^the workload on amd64 nodes runs on the cluster's own node pools; it has no NodePool$"):
        manifests.node_pool(SPEC)
