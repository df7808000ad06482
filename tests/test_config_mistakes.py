"""Config mistakes, fed to the plan's entry point as whole stack files: each ends in one settings error (exit 2)
that lists every problem at once, names the key and the value as typed, and never in a traceback."""

from __future__ import annotations

import pulumi_aws
import pytest

from components.settings import AWS_REGIONS, KEYS, PROJECT, SettingsError, parse_settings
from offline import plan
from offline.mocks import ROOT, evaluate_stack
from offline.stackfile import config_strings, file_problems, stack_config

STACK = "mistake"
UPSTREAM = "mistake-upstream"
DEV = (ROOT / "Pulumi.dev.yaml").read_text()
PROD = (ROOT / "Pulumi.prod.yaml").read_text()
EKS_DEV = DEV.replace("deployTarget: ecs", "deployTarget: eks")
REGIONS = ", ".join(r.value for r in pulumi_aws.Region)
ERROR = f"settings error in stack {STACK}: "


def _line(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.fixture
def plan_file(tmp_path, capsys):
    """Run `python -m offline.plan mistake ...` on a stack file with this text (and the stack `upstream`'s file,
    when given); (exit code, stderr)."""
    paths = [ROOT / f"Pulumi.{STACK}.yaml", ROOT / f"Pulumi.{UPSTREAM}.yaml"]

    def run(text: str, *sets: str, upstream: str | None = None) -> tuple[int, str]:
        paths[0].write_text(text)
        if upstream is not None:
            paths[1].write_text(upstream)
        capsys.readouterr()
        code = plan.main([STACK, "--no-checkov", "--out", str(tmp_path), *[a for s in sets for a in ("--set", s)]])
        return code, capsys.readouterr().err

    yield run
    for path in paths:
        path.unlink(missing_ok=True)


CASES = {
    "unquoted number in a string key": (
        DEV.replace("sourceBranch: main", "sourceBranch: 2024"),
        (),
        "container-cicd:sourceBranch: 2024 (as typed, unquoted) is a number to YAML, so the program receives '2024'; sourceBranch is a string. "
        'Fix: quote it: container-cicd:sourceBranch: "2024"',
    ),
    "unquoted version that YAML keeps": (
        EKS_DEV + "  container-cicd:eksKubernetesVersion: 1.35\n",
        (),
        "container-cicd:eksKubernetesVersion: 1.35 (as typed, unquoted) is a number to YAML, so the program receives '1.35'; eksKubernetesVersion "
        'is a string. Fix: quote it: container-cicd:eksKubernetesVersion: "1.35"',
    ),
    "unquoted version that YAML shortens (the program's own refusal of '1.3' is not repeated)": (
        EKS_DEV + "  container-cicd:eksKubernetesVersion: 1.30\n",
        (),
        "container-cicd:eksKubernetesVersion: 1.30 (as typed, unquoted) is a number to YAML, so the program receives '1.3'; eksKubernetesVersion "
        'is a string. Fix: quote it: container-cicd:eksKubernetesVersion: "1.30"',
    ),
    "unquoted account id in a list": (
        DEV + "  container-cicd:promoteToAccounts: [012345678901]\n",
        (),
        "container-cicd:promoteToAccounts: 012345678901 (as typed, unquoted) is a number to YAML, so the program receives 12345678901; the items "
        'of promoteToAccounts are strings. Fix: quote each item: container-cicd:promoteToAccounts: ["012345678901"]',
    ),
    "unquoted items among quoted ones, in a block list": (
        DEV + '  container-cicd:promoteToAccounts:\n    - "123456789012"\n    - 012345678901\n    - 1e3\n',
        (),
        "container-cicd:promoteToAccounts: 012345678901, 1e3 (as typed, unquoted) are numbers to YAML, so the program receives 12345678901, "
        '1000; the items of promoteToAccounts are strings. Fix: quote each item: container-cicd:promoteToAccounts: ["123456789012", '
        '"012345678901", "1e3"]',
    ),
    "production moved to ECS: every EKS key at once, with one command": (
        PROD.replace("deployTarget: eks", "deployTarget: ecs").replace('eksKubernetesVersion: "1.35"', 'eksKubernetesVersion: "1.36"'),
        (),
        "eksKubernetesVersion, eksPodCpuMillicores, eksPodMemoryMiB: are set but deployTarget is 'ecs', and only eks uses them; Fix: remove "
        "them (`pulumi config rm-all eksKubernetesVersion eksPodCpuMillicores eksPodMemoryMiB`) or set deployTarget to eks",
    ),
    "a key without the namespace": (
        DEV + "  desiredCount: 3\n",
        (),
        f"desiredCount: has no namespace (line {_line(DEV, 'imageRetentionCount') + 1}); the Pulumi CLI reads it as container-cicd:desiredCount, "
        "but `pulumi config set` writes keys with their namespace, and a file that spells a key both ways sets it twice (the CLI keeps either). "
        "Fix: write it as container-cicd:desiredCount",
    ),
    "an unknown key without the namespace (the program's 'unknown config key' is not repeated)": (
        DEV + "  region: eu-west-1\n",
        (),
        f"region: has no namespace (line {_line(DEV, 'imageRetentionCount') + 1}), and the Pulumi CLI reads it as container-cicd:region, which is "
        "not a key of this project. Fix: write it as aws:region",
    ),
    "a key outside config:": (
        DEV + "container-cicd:desiredCount: 3\n",
        (),
        f"container-cicd:desiredCount: is outside `config:` (line {_line(DEV, 'imageRetentionCount') + 1} of Pulumi.{STACK}.yaml), where the "
        "Pulumi CLI ignores it: the stack would not get 3. Fix: indent it under `config:` as container-cicd:desiredCount",
    ),
    "a top-level key that is no section": (
        "settings:\n  container-cicd:desiredCount: 3\n" + DEV,
        (),
        f"settings: (line 1 of Pulumi.{STACK}.yaml) is not a section of a stack file; the Pulumi CLI reads config, environment, secretsprovider, "
        "encryptedkey, encryptionsalt and ignores the rest. Fix: remove it, or move its keys under `config:`",
    ),
    "a repeated key": (
        DEV + "  container-cicd:desiredCount: 3\n",
        (),
        f"container-cicd:desiredCount: is set 2 times in Pulumi.{STACK}.yaml (lines {_line(DEV, 'desiredCount')}, "
        f"{_line(DEV, 'imageRetentionCount') + 1}), and the Pulumi CLI refuses a file with a repeated key (mapping key already defined). "
        "Fix: keep one line for container-cicd:desiredCount",
    ),
    "an unknown aws:region": (
        DEV.replace("aws:region: us-east-1", "aws:region: us-est-1"),
        (),
        f"aws:region: 'us-est-1' is not valid; allowed: an AWS region, one of {REGIONS}. Fix: set the stack's region, e.g. "
        "`pulumi config set aws:region us-west-1` (closest: 'us-west-1' or 'us-east-1')",
    ),
    "a project key in a misspelt namespace": (
        DEV + "  container-cidc:desiredCount: 3\n",
        (),
        "container-cidc:desiredCount: is in the namespace 'container-cidc', and this program reads only 'container-cicd:' keys, so the value "
        "would be ignored. Fix: move it to container-cicd:desiredCount (`pulumi config rm container-cidc:desiredCount`, then "
        "`pulumi config set container-cicd:desiredCount <value>`)",
    ),
    "promoteFrom a stack without a stack file, with the other problems of the same config": (
        DEV,
        ("promoteFrom=staging",),
        "2 problems in the stack's config:\n"
        "- imageRetentionCount: 20 is set, but this stack promotes from 'staging' (promoteFrom): it builds nothing and has no source repository "
        "or registry of its own, so imageRetentionCount would have no effect. Fix: remove it (`pulumi config rm imageRetentionCount`), or "
        "remove promoteFrom to build in this stack\n"
        "- promoteFrom: 'staging': the offline plan reads the outputs of the stack a stack promotes from by evaluating that stack's file, and "
        "there is no Pulumi.staging.yaml. Fix: create the stack 'staging' that builds the image (`pulumi stack init staging`, then "
        "`pulumi config set` its keys, or start from a building stack's file: `cp Pulumi.dev.yaml Pulumi.staging.yaml`), or promote from a "
        "stack that has a file",
    ),
    "promoteFrom another project's stack": (
        DEV,
        ("promoteFrom=acme/shop/build", "imageRetentionCount="),
        "promoteFrom: 'acme/shop/build': the offline plan reads the outputs of the stack a stack promotes from by evaluating that stack's file, "
        "and this is not a stack of this project (`pulumi up` reads its outputs from the Pulumi backend). Fix: check this stack with "
        "`pulumi preview`, or plan it offline with promoteFrom set to a stack of this project (e.g. --set promoteFrom=dev)",
    ),
    "promoteFrom itself": (
        DEV.replace("imageRetentionCount: 20", f"promoteFrom: {STACK}"),
        (),
        f"promoteFrom: '{STACK}' is not valid; a stack cannot promote from itself. Fix: name another stack, the one that builds the image "
        "(e.g. 'dev'), or remove promoteFrom to build in this stack",
    ),
    "not YAML": (
        DEV + "  container-cicd:desiredCount: [3\n",
        (),
        f"Pulumi.{STACK}.yaml: is not valid YAML at line {_line(DEV, 'imageRetentionCount') + 2}, column 1 (expected ',' or ']', but got "
        "'<stream end>'), and the Pulumi CLI refuses it too. Fix: correct the file's syntax",
    ),
    "config: as a list": (
        "config:\n  - container-cicd:desiredCount\n",
        (),
        f"config: (line 1 of Pulumi.{STACK}.yaml) is - container-cicd:desiredCount, not a mapping of keys to values. Fix: write one `key: value` per line under it",
    ),
    "several mistakes at once, each key once": (
        EKS_DEV.replace("sourceBranch: main", "sourceBranch: 1.10").replace("desiredCount: 1", "desiredCount: 0") + "  container-cicd:eksKubernetesVersion: 1.30\n  appPath: svc\n",
        (),
        "4 problems in the stack's config:\n"
        "- container-cicd:sourceBranch: 1.10 (as typed, unquoted) is a number to YAML, so the program receives '1.1'; sourceBranch is a string. "
        'Fix: quote it: container-cicd:sourceBranch: "1.10"\n'
        "- container-cicd:eksKubernetesVersion: 1.30 (as typed, unquoted) is a number to YAML, so the program receives '1.3'; "
        'eksKubernetesVersion is a string. Fix: quote it: container-cicd:eksKubernetesVersion: "1.30"\n'
        f"- appPath: has no namespace (line {_line(DEV, 'imageRetentionCount') + 2}); the Pulumi CLI reads it as container-cicd:appPath, but "
        "`pulumi config set` writes keys with their namespace, and a file that spells a key both ways sets it twice (the CLI keeps either). "
        "Fix: write it as container-cicd:appPath\n"
        "- desiredCount: 0 is not valid; allowed: 1 to 100. Fix: set desiredCount between 1 and 100",
    ),
}


@pytest.mark.parametrize("text, sets, message", CASES.values(), ids=list(CASES))
def test_each_config_mistake_is_one_settings_error_listing_every_problem(plan_file, text, sets, message):
    code, err = plan_file(text, *sets)
    assert (code, err) == (plan.EXIT_SETTINGS_ERROR, f"{ERROR}{message}\n")


PROMOTING = DEV.replace("imageRetentionCount: 20", f"promoteFrom: {UPSTREAM}")


def test_promoting_from_a_stack_whose_own_config_is_refused_names_that_stack(plan_file):
    code, err = plan_file(PROMOTING, upstream=DEV.replace("desiredCount: 1", "desiredCount: 0"))
    assert (code, err) == (
        plan.EXIT_SETTINGS_ERROR,
        f"{ERROR}promoteFrom: '{UPSTREAM}': the stack it promotes from is refused: desiredCount: 0 is not valid; allowed: 1 to 100. Fix: set desiredCount between 1 and 100\n",
    )


def test_two_stacks_promoting_from_each_other_end_in_a_settings_error(plan_file):
    code, err = plan_file(PROMOTING, upstream=DEV.replace("imageRetentionCount: 20", f"promoteFrom: {STACK}"))
    assert (code, err) == (
        plan.EXIT_SETTINGS_ERROR,
        f"{ERROR}promoteFrom: stack 'organization/container-cicd/{UPSTREAM}' exports no 'promotion' output, so it is not a stack that builds "
        "(or it was last deployed before promotion existed). Fix: run `pulumi up` on it first, or promote from a stack that builds\n",
    )


def test_a_stack_file_without_mistakes_has_no_file_problems():
    for name in ("dev", "prod"):
        assert file_problems(ROOT / f"Pulumi.{name}.yaml") == []
    examples = sorted((ROOT / "examples").glob("Pulumi.*.yaml"))
    assert examples and {p.name: file_problems(p) for p in examples} == {p.name: [] for p in examples}


# The program's own checks, under the Pulumi runtime (what `pulumi up` runs): they see the config as the CLI hands
# it over, so these hold without the stack file.


def test_the_program_refuses_a_project_key_in_another_namespace_and_an_unknown_region():
    with pytest.raises(SettingsError) as raised:
        evaluate_stack("dev", {"aws:desiredCount": "3", "aws:region": "eu-west1"})
    assert raised.value.problems == (
        "aws:desiredCount: is in the namespace 'aws', and this program reads only 'container-cicd:' keys, so the value would be ignored. Fix: "
        "move it to container-cicd:desiredCount (`pulumi config rm aws:desiredCount`, then `pulumi config set container-cicd:desiredCount <value>`)",
        f"aws:region: 'eu-west1' is not valid; allowed: an AWS region, one of {REGIONS}. Fix: set the stack's region, e.g. "
        "`pulumi config set aws:region eu-west-1` (closest: 'eu-west-1' or 'us-west-1')",
    )


def test_the_program_hints_at_a_decimal_yaml_shortened():
    with pytest.raises(SettingsError, match=r"^eksKubernetesVersion: '1\.3' is not valid; allowed: .*\. Fix: set eksKubernetesVersion to .*$") as raised:
        parse_settings({"deployTarget": "eks", "eksKubernetesVersion": "1.3"}, PROJECT, "dev")
    assert str(raised.value).endswith('. If the stack file has 1.30 unquoted, YAML read the number 1.3: quote it as you mean it ("1.30")')
    # A value YAML cannot have shortened gets no hint.
    with pytest.raises(SettingsError) as raised:
        parse_settings({"deployTarget": "eks", "eksKubernetesVersion": "1.29"}, PROJECT, "dev")
    assert "unquoted" not in str(raised.value)


def test_a_list_item_that_is_not_a_string_is_named():
    with pytest.raises(SettingsError) as raised:
        parse_settings({"promoteToAccounts": "[12345678901]"}, PROJECT, "dev")
    assert str(raised.value) == (
        "promoteToAccounts: [12345678901] is not valid; expected a list of strings, and 12345678901 is not a string (YAML reads an unquoted "
        "number, true or false as that type, and drops a number's leading zeros). Fix: quote each item in the stack file as you mean it, "
        'e.g. promoteToAccounts: ["12345678901"]'
    )


def test_the_regions_are_the_aws_providers():
    assert AWS_REGIONS == tuple(r.value for r in pulumi_aws.Region)


# Any value of any key: a settings error or settings, never another exception (the plan would print a traceback).
ODD_VALUES = ({"a": 1}, [1], ["a", None], [], 1.5, 2.0, -1, 10**30, True, None, "", " ", "null", "1e400", "nan", "０", "a\nb", "[1", '{"a":1}')


@pytest.mark.parametrize("key", sorted(KEYS))
def test_no_value_of_any_key_raises_anything_but_a_settings_error(key):
    for target in ("ecs", "eks"):
        for value in ODD_VALUES:
            raw = {k.removeprefix(f"{PROJECT}:"): v for k, v in config_strings({key: value, "deployTarget": target}).items()}
            try:
                parse_settings(raw, PROJECT, "dev", "us-east-1", "organization")
            except SettingsError as error:
                # A services entry's problem names the entry: services[1].containerPort.
                assert all(problem.split(":", 1)[0].split("[", 1)[0] in KEYS for problem in error.problems), error.problems


def test_the_offline_reader_reads_the_stack_file_as_the_cli_does(tmp_path):
    (tmp_path / "Pulumi.s.yaml").write_text("config:\n  desiredCount: 3\n  container-cicd:appPath: x\n  container-cicd:bootstrapImage:\n  container-cicd:canaryPercent: 20.0\n")
    config = stack_config("s", root=tmp_path)
    # Namespaced with the project's name (the CLI's loader), an empty value as "", a whole float as Go's JSON writes it.
    assert config_strings(config) == {"container-cicd:desiredCount": "3", "container-cicd:appPath": "x", "container-cicd:bootstrapImage": "", "container-cicd:canaryPercent": "20"}
