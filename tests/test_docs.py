"""The README stays true: its config reference is the KEYS table, its commands exist."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from components.settings import KEYS
from offline import docs

# The generated parts from the session's evaluated stacks instead of evaluating them again.
pytestmark = pytest.mark.usefixtures("docs_from_shared_stacks")

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_config_reference_is_generated_from_keys():
    assert docs.render(README) == README, "run `python -m offline.docs` to refresh README.md"


def test_every_key_is_documented_in_the_readme():
    block = README.split(docs.START, 1)[1].split(docs.END, 1)[0]
    for key in KEYS:
        assert f"| `{key}` |" in block


def test_readme_rows_show_what_each_key_accepts():
    """The documented range is rendered from the key's bounds: the row of a bounded key ends with them."""
    block = README.split(docs.START, 1)[1].split(docs.END, 1)[0]
    rows = {line.split("`")[1]: line for line in block.splitlines() if line.startswith("| `")}
    assert rows["containerPort"].endswith(" Allowed: 1024 to 65535. |")
    assert rows["deployTarget"].endswith(" Allowed: 'ecs' or 'eks'. |")
    assert rows["logRetentionDays"].endswith(" Allowed: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653. |")
    assert rows["vpcCidr"].endswith(" Allowed: a /16 to /24 network. |")
    for name, key in KEYS.items():
        if key.allowed_text:
            assert rows[name].endswith(f" Allowed: {key.allowed_text}. |"), name


def test_check_covers_readme_config_doc_and_pulumi_yaml(tmp_path, monkeypatch, capsys):
    """`python -m offline.docs --check` fails on a stale Pulumi.yaml too; without --check it rewrites it."""
    for name in ("README", "CONFIG_DOC", "PULUMI_YAML"):
        copy = tmp_path / getattr(docs, name).name
        copy.write_text(getattr(docs, name).read_text())
        monkeypatch.setattr(docs, name, copy)
    monkeypatch.setattr(docs, "ROOT", tmp_path)
    # The cost block evaluates both stacks (slow, tested above); the README's own block stands in for it.
    monkeypatch.setattr(docs, "cost_section", lambda: README.split(docs.COST_START, 1)[1].split(docs.COST_END, 1)[0].strip())
    monkeypatch.setattr(docs, "exported_outputs", exported_per_readme)
    assert docs.main(["--check"]) == 0
    pulumi_yaml = tmp_path / "Pulumi.yaml"
    pulumi_yaml.write_text(pulumi_yaml.read_text().replace(" Allowed: 1024 to 65535.", ""))
    assert docs.main(["--check"]) == 1
    assert capsys.readouterr().err == "generated parts of Pulumi.yaml are out of date: run `python -m offline.docs`\n"
    assert docs.main([]) == 0 and docs.main(["--check"]) == 0
    assert " Allowed: 1024 to 65535." in pulumi_yaml.read_text()


def exported_per_readme() -> dict[str, dict[str, None]]:
    """What the README's outputs table says each kind of stack exports (standing in for the evaluations in
    the tests that do not check the table itself)."""
    block = README.split(docs.OUTPUTS_START, 1)[1].split(docs.OUTPUTS_END, 1)[0]
    kinds_by_text = {text: kinds for kinds, text in docs.OUTPUT_WHEN.items()}
    rows = {line.split("`")[1]: kinds_by_text[line.split(" | ")[1]] for line in block.splitlines() if line.startswith("| `")}
    return {kind: {name: None for name, kinds in rows.items() if kind in kinds} for kind in docs.OUTPUT_VARIANTS}


@pytest.fixture(scope="module")
def exported(evaluate):
    return {kind: dict(evaluate(stack, **overrides).outputs) for kind, (stack, overrides) in docs.OUTPUT_VARIANTS.items()}


def test_readme_outputs_table_is_generated_from_what_the_program_exports(exported):
    """Every output of every kind of stack has a row, which says on which stacks it exists: a new
    `pulumi.export` fails this until it is described in offline/docs.py OUTPUTS."""
    assert README.count(docs.OUTPUTS_START) == 1
    block = README.split(docs.OUTPUTS_START, 1)[1].split(docs.OUTPUTS_END, 1)[0]
    assert block.strip() == docs.outputs_section(exported)
    rows = {line.split("`")[1]: line.split(" | ")[1] for line in block.splitlines() if line.startswith("| `")}
    assert rows["serviceUrl"] == rows["sourceLocation"] == "every stack"
    assert (rows["promotion"], rows["promotesFrom"]) == ("a building stack", "a promoting stack (`promoteFrom`)")
    assert rows["clusterAdministratorManifests"] == "an existing EKS cluster (`eksClusterName`)"
    assert rows["nextTargetGroupArn"] == "during a switch (`nextDeployTarget`)"
    assert rows["loadBalancerDnsName"] == "a stack with `serviceDomain`"


def test_outputs_table_refuses_an_output_it_does_not_describe(exported):
    extra = {**exported, "building": {**exported["building"], "serviceDomain": "app.example.com"}}
    with pytest.raises(ValueError, match=r"^stack outputs and offline/docs.py OUTPUTS differ: undocumented \['serviceDomain'\], not exported \[\]$"):
        docs.outputs_section(extra)
    missing = {kind: {k: v for k, v in outputs.items() if k != "promotesFrom"} for kind, outputs in exported.items()}
    with pytest.raises(ValueError, match=r"not exported \['promotesFrom'\]$"):
        docs.outputs_section(missing)


def test_source_location_and_repository_url_are_what_the_table_says_per_stack_kind(exported):
    """sourceLocation: a clone URL whose last part is the repository name (the quick start's `basename`),
    a connection ARN, or on a promoting stack the S3 URL of the inbox object; repositoryUrl on a promoting
    stack is the upstream's repository."""
    building, connection, promoting = exported["building"], exported["connection"], exported["promoting"]
    assert building["sourceLocation"] == "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/container-cicd-dev-app"
    assert str(connection["sourceLocation"]).startswith("arn:aws:codeconnections:us-east-1:123456789012:connection/")
    assert promoting["sourceLocation"] == "s3://promotion-inbox-bucket-mock/promotion.zip"
    assert promoting["repositoryUrl"] == building["repositoryUrl"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/container-cicd-dev-app"
    assert str(building["serviceUrl"]).startswith("http://container-cicd-dev-app-alb-")
    assert exported["service domain"]["serviceUrl"] == "https://app.example.com"
    assert exported["service domain"]["loadBalancerDnsName"] == str(building["serviceUrl"]).removeprefix("http://")
    table = README.split(docs.OUTPUTS_START, 1)[1]
    assert "the repository's HTTPS clone URL" in table and "the connection's ARN" in table and "(`s3://<bucket>/promotion.zip`)" in table


def test_render_replaces_only_the_marked_block():
    text = f"before\n{docs.START}\nstale\n{docs.END}\nafter\n"
    out = docs.render(text)
    assert out.startswith("before\n") and out.endswith("\nafter\n")
    assert "stale" not in out and "| `deployTarget` | string | `ecs` | all |" in out


def test_readme_commands_exist():
    assert "./scripts/test" in README
    assert os.access(ROOT / "scripts" / "test", os.X_OK)
    assert os.access(ROOT / ".ci" / "run", os.X_OK)
    assert "./scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_readme_cost_block_is_generated_from_the_stacks(dev, prod):
    """The cost tables are offline/cost.py's estimate of the evaluated stack files: a change to a stack
    file or to a price makes this fail until `python -m offline.docs` is run."""
    from offline.cost import PRICES_READ, estimate

    assert README.count(docs.COST_START) == 1 and README.count(docs.COST_END) == 1
    block = README.split(docs.COST_START, 1)[1].split(docs.COST_END, 1)[0]
    assert block.strip() == docs.cost_section()
    totals = [line for line in block.splitlines() if line.startswith("| **Total while idle** |")]
    assert totals == [f"| **Total while idle** | **{estimate(dev).total:.2f}** | **{estimate(prod).total:.2f}** |"]
    assert f"as read {PRICES_READ}" in block


def test_render_rewrites_a_stale_cost_block():
    text = f"{docs.START}\n{docs.END}\nbefore\n{docs.COST_START}\n| NAT gateway | 1.00 (1) |\n{docs.COST_END}\nafter\n"
    out = docs.render(text)
    assert "1.00 (1)" not in out and out.endswith("\nafter\n")
    assert f"{docs.COST_START}\n{docs.cost_section()}\n{docs.COST_END}" in out


def test_every_document_says_a_target_switch_keeps_the_network_the_load_balancer_and_the_url():
    """What the code does (tests/test_changes.py::test_a_target_switch_keeps_the_network_and_the_load_balancer:
    the VPC, the ALB and its listener are updated in place, nothing is replaced, only the targets' own
    target groups come and go), said the same way everywhere, and nowhere the opposite."""
    pages = {p.relative_to(ROOT).as_posix(): p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]}
    flat = {name: " ".join(text.split()) for name, text in pages.items()}
    assert "The source, registry, build, pipeline, network and load balancer keep their URNs (tested), so the service URL stays" in flat["README.md"]
    assert "the stack's VPC and ALB (so `serviceUrl` stays)" in flat["docs/eks.md"]
    assert "switching `deployTarget` keeps the VPC, the ALB, its listeners and the service URL" in flat["docs/safety.md"]
    assert "so switching targets does not replace them and the service URL stays (tested)" in flat["docs/architecture.md"]
    assert contrary_to_a_kept_url(pages) == []
    # What README.md once said.
    old_sentence = (
        "The source, registry, build and pipeline resources keep their URNs (tested); the deploy target's resources"
        " — network, load balancer, cluster, service — are replaced, so the service URL changes."
    )
    old_readme = "`pulumi config set deployTarget eks` (or `ecs`) and `pulumi up`. " + old_sentence
    assert contrary_to_a_kept_url({"README.md": old_readme}) == [f"README.md: {old_sentence}"]


def contrary_to_a_kept_url(pages: dict[str, str]) -> list[str]:
    """Sentences of a paragraph about switching deployTarget that say the URL, the network or the load
    balancer changes."""
    contrary = re.compile(r"(URL|`serviceUrl`)[^.]*\bchange|new (service )?URL|new `serviceUrl`|(network|load balancer)[^.]*\b(are|is) replaced")
    switch = re.compile(r"deployTarget|target switch|switching targets|[Ss]witch a stack")
    return [
        f"{name}: {sentence}"
        for name, text in pages.items()
        # A paragraph, or one row of a table.
        for paragraph in re.split(r"\n\s*\n|\n(?=\|)", text)
        if switch.search(paragraph)
        for sentence in re.split(r"(?<=\.)\s", " ".join(paragraph.split()))
        if contrary.search(sentence)
    ]
