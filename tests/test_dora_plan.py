"""The plan's DORA section: where the command reads each input on this stack (ECS dev, promoting EKS prod)."""

from __future__ import annotations

from offline.plan.dora import dora_section
from tests.test_services_stack import services_config

PANELS = "- Dashboard: Logs Insights panels over the records (deployments and failures per day, failed share per week, redeployed commits per week)"


def test_dev_reads_its_own_records_executions_and_commits(dev):
    assert dora_section(dev) == [
        "`python -m tools.dora --stack dev` computes the five metrics (docs/dora.md):",
        "",
        "- Deployment records: log groups `/aws/lambda/container-cicd-dev-app-verify-…` (FilterLogEvents; groups kept from the other target are read too)",
        "- Executions, results and stage rollbacks: `container-cicd-dev-app-pipeline` (ListPipelineExecutions, ListActionExecutions)",
        "- Commit times: the `AuthorDate` of the source action of `container-cicd-dev-app-pipeline`",
        PANELS,
    ]


def test_prod_counts_lead_time_from_the_upstreams_commits_and_names_its_bake(prod):
    assert dora_section(prod) == [
        "`python -m tools.dora --stack prod` computes the five metrics (docs/dora.md):",
        "",
        "- Deployment records: log groups `/aws/codebuild/container-cicd-prod-app-deploy-…` (FilterLogEvents; groups kept from the other target are read too)",
        "- Executions, results and stage rollbacks: `container-cicd-prod-app-pipeline` (ListPipelineExecutions, ListActionExecutions); "
        "a bake that fails after a green record (`Deploy`) counts as a failure from the execution's result",
        "- Commit times: the `AuthorDate` of the source action of `container-cicd-dev-app-pipeline`, the upstream `dev` that built them "
        "(this stack records the upstream's short commit)",
        PANELS,
    ]


def test_a_stack_with_services_shows_each_services_command_pipeline_and_records(evaluate):
    section = dora_section(evaluate("dev", services=services_config()))
    blocks = "\n".join(section).split("\n\n`")
    assert [block.split("\n", 1)[0].lstrip("`") for block in blocks] == [
        f"python -m tools.dora --stack dev --service {s}` computes the five metrics of service {s} (docs/dora.md):" for s in ("app", "api", "admin")
    ]
    assert section[section.index("`python -m tools.dora --stack dev --service api` computes the five metrics of service api (docs/dora.md):") :][2:5] == [
        "- Deployment records: log groups `/aws/lambda/container-cicd-dev-api-verify-…` (FilterLogEvents; groups kept from the other target are read too)",
        "- Executions, results and stage rollbacks: `container-cicd-dev-api-pipeline` (ListPipelineExecutions, ListActionExecutions)",
        "- Commit times: the `AuthorDate` of the source action of `container-cicd-dev-api-pipeline`",
    ]
