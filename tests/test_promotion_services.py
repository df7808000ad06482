"""Promotion per service: a building stack with `services` exports each service's promotion contract in one
`promotions` output ({service name: contract}; a stack without services keeps its `promotion` output), and a
promoting stack's service promotes from the same-named service upstream, or is refused naming the service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.promotion.contract import CONTRACT_OUTPUT, SERVICES_CONTRACT_OUTPUT, PromotionError, service_contract, stack_exports
from offline.mocks import StackResult, evaluate

UPSTREAM = "organization/container-cicd/dev"
WEB = {"version": 1, "pipelineName": "container-cicd-dev-web-pipeline"}
API = {"version": 1, "pipelineName": "container-cicd-dev-api-pipeline"}


def test_a_stack_without_services_exports_its_one_contract_as_before():
    exports = {"app": {CONTRACT_OUTPUT: WEB}}
    assert stack_exports(exports, implicit=True) == {"promotion": WEB}


def test_a_stack_with_services_exports_every_contract_by_service_name_in_one_output():
    assert SERVICES_CONTRACT_OUTPUT == "promotions"
    assert stack_exports({"web": {CONTRACT_OUTPUT: WEB}, "api": {CONTRACT_OUTPUT: API}}, implicit=False) == {"promotions": {"web": WEB, "api": API}}
    # A promoting stack's services all name the same upstream: one output.
    promoting = {"web": {"promotesFrom": UPSTREAM}, "api": {"promotesFrom": UPSTREAM}}
    assert stack_exports(promoting, implicit=False) == {"promotesFrom": UPSTREAM}
    with pytest.raises(ValueError, match=r"^stack_exports: service 'api' exports promotesFrom='other', another service '.*'; a stack output has one value$"):
        stack_exports({"web": {"promotesFrom": UPSTREAM}, "api": {"promotesFrom": "other"}}, implicit=False)


def test_each_service_reads_the_same_named_upstream_service():
    assert service_contract(UPSTREAM, None, {"web": WEB, "api": API}, "api") == API
    assert service_contract(UPSTREAM, WEB, None, None) == WEB
    # No contract at all: check_contract says the upstream does not build.
    assert service_contract(UPSTREAM, None, None, None) is None
    assert service_contract(UPSTREAM, None, None, "api") is None


def test_an_upstream_without_the_service_is_refused_naming_it():
    with pytest.raises(PromotionError) as refused:
        service_contract(UPSTREAM, None, {"web": WEB}, "api")
    assert str(refused.value) == (
        f"services: 'api' promotes from the same-named service of stack {UPSTREAM!r}, which has no service 'api' (its services: web). "
        f"Fix: add a service 'api' to {UPSTREAM!r} and run `pulumi up` on it first, or rename or remove this one"
    )
    with pytest.raises(PromotionError) as refused:
        service_contract(UPSTREAM, WEB, None, "api")
    assert str(refused.value) == (
        f"services: 'api' promotes from the same-named service of stack {UPSTREAM!r}, which has no services (its one service exports "
        f"'promotion'). Fix: give {UPSTREAM!r} a `services` list with 'api' and run `pulumi up` on it first, or remove `services` from this stack"
    )
    with pytest.raises(PromotionError) as refused:
        service_contract(UPSTREAM, None, {"web": WEB, "api": API}, None)
    assert str(refused.value) == (
        f"promoteFrom: stack {UPSTREAM!r} has services (api, web) and exports their contracts in 'promotions', but this stack has no "
        "services: each service promotes from the same-named service upstream. Fix: give this stack the services it promotes (api, web) "
        "in its `services` list"
    )


# ---- the Promoted component under the mocks, reading a `promotions` output ----

PROGRAM = """
from components.contracts import StepContext
from components.promotion.downstream import Promoted, PromotedArgs
from components.settings import CpuArchitecture

environment = StepContext(log_retention_days=30, log_key_arn="arn:aws:kms:us-east-1:123456789012:key/logs", artifact_statements=[],
                          artifact_key_arn="arn:aws:kms:us-east-1:123456789012:key/artifacts", tags={})
Promoted("api-promotion", PromotedArgs(upstream_stack="organization/container-cicd/dev", promote_from_account=None, name_prefix="container-cicd-prod-api",
         container_name="app", architecture=CpuArchitecture("ARCH"), environment=environment,
         artifact_key_arn="arn:aws:kms:us-east-1:123456789012:key/artifacts", expiry_days=30, production=False, upstream_service="SERVICE"))
"""


def promoting(root: Path, dev: StackResult, service: str) -> StackResult:
    contract = dev.outputs[CONTRACT_OUTPUT]
    api = {**contract, "pipelineName": "container-cicd-dev-api-pipeline", "repositoryName": "container-cicd-dev-api"}
    root.mkdir(parents=True, exist_ok=True)
    (root / "__main__.py").write_text(PROGRAM.replace("ARCH", contract["cpuArchitecture"]).replace("SERVICE", service))
    outputs = {UPSTREAM: {SERVICES_CONTRACT_OUTPUT: {"web": contract, "api": api}}}
    return evaluate("prod", {"aws:region": "us-east-1"}, root=root, stack_outputs=outputs)


def test_a_promoting_service_collects_what_the_same_named_upstream_service_verified(dev, tmp_path):
    result = promoting(tmp_path, dev, "api")
    pattern = json.loads(result.named("api-promotion-collector-on-upstream").inputs["eventPattern"])
    assert pattern["detail"] == {"pipeline": ["container-cicd-dev-api-pipeline"], "state": ["SUCCEEDED"]}
    variables = result.one("aws:lambda/function:Function").inputs["environment"]["variables"]
    assert (variables["UPSTREAM_PIPELINE"], variables["UPSTREAM_REPOSITORY"]) == ("container-cicd-dev-api-pipeline", "container-cicd-dev-api")


def test_a_promoting_service_the_upstream_lacks_is_refused_before_anything_uses_the_contract(dev, tmp_path):
    refusal = r"^services: 'admin' promotes from the same-named service of stack 'organization/container-cicd/dev', which has no service 'admin' \(its services: api, web\)"
    with pytest.raises(PromotionError, match=refusal):
        promoting(tmp_path, dev, "admin")
