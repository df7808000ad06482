"""Settings: every key's validation, called directly (no mocks), plus the "before any resource" rule."""

from __future__ import annotations

import dataclasses
import re

import pytest

import offline.mocks
from components.settings import (
    BOOTSTRAP_HEALTH_PATH,
    BUILD_COMPUTE_TYPES,
    DEFAULT_BOOTSTRAP_IMAGE,
    FARGATE_CPU_MEMORY,
    KEYS,
    LOG_RETENTION_DAYS,
    STRATEGY_KEYS,
    CpuArchitecture,
    DeployTargetKind,
    NatGateways,
    SettingsError,
    SourceProvider,
    deployment_window_cron_problem,
    parse_settings,
)

PROJECT = "container-cicd"
CONNECTION_ARN = "arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
GITHUB = {"sourceProvider": "github", "sourceRepository": "my-org/my-service"}
EXISTING_VPC = {
    "vpcId": "vpc-0123456789abcdef0",
    "publicSubnetIds": ["subnet-00000000000000001", "subnet-00000000000000002"],
    "privateSubnetIds": ["subnet-00000000000000003", "subnet-00000000000000004"],
}


def parse(**raw):
    return parse_settings(raw, PROJECT, "dev")


def fails(match: str, **raw) -> None:
    with pytest.raises(SettingsError, match=match):
        parse(**raw)


# ------------------------------------------------------------------------------------------
# Defaults and the shape of the settings object
# ------------------------------------------------------------------------------------------


def test_empty_config_gives_the_documented_defaults():
    s = parse()
    assert s.deploy_target is DeployTargetKind.ECS
    assert s.production is False
    assert s.prefix == "container-cicd-dev-app"
    assert s.source.provider is SourceProvider.CODECOMMIT
    assert s.source.repository == "container-cicd-dev-app"  # derived when sourceRepository is empty
    assert s.source.create_repository is True
    assert s.source.branch == "main"
    assert s.source.connection_arn is None
    assert s.source.file_paths == ()
    assert s.workload.container_name == "app"
    assert s.workload.container_port == 8080
    assert s.workload.health_check_path == BOOTSTRAP_HEALTH_PATH
    assert s.workload.bootstrap_image == DEFAULT_BOOTSTRAP_IMAGE
    assert s.workload.deployment_timeout_minutes == 15
    assert s.build.architecture is CpuArchitecture.X86_64
    assert s.build.compute_type == "BUILD_GENERAL1_SMALL"
    assert s.network.vpc_id is None
    assert s.network.nat_gateways is NatGateways.SINGLE
    assert s.network.ingress_cidrs == ("0.0.0.0/0",)
    assert (s.ecs.cpu, s.ecs.memory) == (256, 512)


def test_settings_are_immutable():
    s = parse()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.production = True  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.workload.container_name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.source.branch = "dev"  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.tags["project"] = "other"  # type: ignore[index]
    assert isinstance(s.source.file_paths, tuple) and isinstance(s.network.ingress_cidrs, tuple)


def test_values_arrive_as_cli_strings():
    """The CLI hands every value to the program as a string; JSON for arrays."""
    s = parse(production="true", allowPlainHttp="true", containerPort="9000", sourceFilePaths='["app/**"]', **{"sourceProvider": "github", "sourceRepository": "o/r"})
    assert s.production is True and s.workload.container_port == 9000 and s.source.file_paths == ("app/**",)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("production", "yes", r"^production: 'yes' is not valid; expected true or false\. Fix: set production to true or false$"),
        ("containerPort", "80a", r"^containerPort: '80a' is not valid; expected a whole number\."),
        ("containerPort", True, r"^containerPort: true is not valid; expected a whole number\."),
        ("serviceName", 5, r"^serviceName: 5 is not valid; expected a string\."),
        ("ingressCidrs", "not json", r"^ingressCidrs: 'not json' is not valid; expected a list of strings\."),
    ],
)
def test_wrongly_typed_values_name_key_value_and_type(key, value, match):
    fails(match, **{key: value})


# ------------------------------------------------------------------------------------------
# deployTarget and unknown keys
# ------------------------------------------------------------------------------------------


def test_unsupported_deploy_target_message_is_exact():
    with pytest.raises(SettingsError, match=r"^deployTarget: 'lambda' is not supported; use 'ecs' or 'eks'$"):
        parse(deployTarget="lambda")


def test_eks_is_an_accepted_deploy_target():
    assert parse(deployTarget="eks").deploy_target is DeployTargetKind.EKS


def test_unknown_key_suggests_the_closest_known_key():
    with pytest.raises(
        SettingsError,
        match=r"^container-cicd:deployTaget: unknown config key; did you mean 'deployTarget'\? "
        r"Fix: rename or remove it with `pulumi config rm deployTaget`$",
    ):
        parse(deployTaget="ecs")


def test_unknown_key_without_close_match_lists_known_keys():
    known = re.escape(", ".join(sorted(KEYS)))
    with pytest.raises(SettingsError, match=rf"^container-cicd:zzzz: unknown config key; known keys: {known} Fix: "):
        parse(zzzz="1")


def test_target_specific_key_is_rejected_on_the_other_target():
    ecs_only = [k.name for k in KEYS.values() if k.targets == {DeployTargetKind.ECS}]
    assert "ecsCpu" in ecs_only
    with pytest.raises(SettingsError, match=r"^ecsCpu: is set but deployTarget is 'eks', and only ecs uses it; "):
        parse(deployTarget="eks", ecsCpu=512)


def test_defaults_count_as_not_set():
    """The CLI passes Pulumi.yaml's defaults as if set; a key holding its default is 'not set'."""
    everything_default = {k.name: k.default for k in KEYS.values()}
    s = parse_settings(everything_default, PROJECT, "dev")
    assert s == parse()
    # ecsCpu at its default on eks is not an error; ecsCpu set to another value is (test above).
    parse(deployTarget="eks", ecsCpu=KEYS["ecsCpu"].default)
    # Connection-only / codecommit-only keys at their defaults do not trip the source rules.
    parse(**GITHUB, createSourceRepository=True)
    parse(sourceConnectionArn="", sourceFilePaths=[])
    # Network keys at their defaults do not trip "only used when the stack creates the VPC".
    parse(**EXISTING_VPC, vpcCidr="10.0.0.0/16", natGateways="single")


# ------------------------------------------------------------------------------------------
# Fargate sizes, log retention, build compute
# ------------------------------------------------------------------------------------------

VALID_PAIRS = [(cpu, mem) for cpu, mems in FARGATE_CPU_MEMORY.items() for mem in mems]


def test_fargate_table_matches_the_aws_documentation():
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
    assert FARGATE_CPU_MEMORY[256] == (512, 1024, 2048)
    assert FARGATE_CPU_MEMORY[512] == (1024, 2048, 3072, 4096)
    assert FARGATE_CPU_MEMORY[1024] == tuple(range(2048, 8193, 1024))
    assert FARGATE_CPU_MEMORY[4096][-1] == 30720
    assert FARGATE_CPU_MEMORY[8192] == tuple(range(16384, 61441, 4096))
    assert FARGATE_CPU_MEMORY[16384] == tuple(range(32768, 122881, 8192))


@pytest.mark.parametrize(("cpu", "memory"), VALID_PAIRS)
def test_every_fargate_pair_is_accepted(cpu, memory):
    s = parse(ecsCpu=cpu, ecsMemory=memory)
    assert (s.ecs.cpu, s.ecs.memory) == (cpu, memory)


@pytest.mark.parametrize(("cpu", "memory"), [(256, 4096), (512, 512), (1024, 1024), (4096, 31744), (8192, 18432)])
def test_invalid_fargate_pairs_are_rejected(cpu, memory):
    pairs = FARGATE_CPU_MEMORY[cpu]
    fails(
        rf"^ecsMemory: {memory} is not valid; with ecsCpu {cpu} Fargate allows {pairs[0]}-{pairs[-1]} MiB "
        rf"\({re.escape(', '.join(map(str, pairs)))}\)\. Fix: set ecsMemory to one of those, or change ecsCpu$",
        ecsCpu=cpu,
        ecsMemory=memory,
    )


def test_unknown_fargate_cpu_is_rejected():
    fails(r"^ecsCpu: 300 is not valid; Fargate allows 256, 512, 1024, 2048, 4096, 8192, 16384\. Fix: pick one", ecsCpu=300)


@pytest.mark.parametrize("days", LOG_RETENTION_DAYS)
def test_every_cloudwatch_retention_value_is_accepted(days):
    assert parse(logRetentionDays=days).log_retention_days == days


@pytest.mark.parametrize("days", [0, 2, 10, 366, 4000])
def test_other_retention_values_are_rejected(days):
    fails(rf"^logRetentionDays: {days} is not valid; CloudWatch Logs accepts 1, 3, 5, .*3653\. Fix: pick the nearest", logRetentionDays=days)


@pytest.mark.parametrize("arch", list(CpuArchitecture))
def test_build_compute_type_is_checked_per_architecture(arch):
    for compute in BUILD_COMPUTE_TYPES[arch]:
        s = parse(cpuArchitecture=arch.value, buildComputeType=compute)
        assert s.build.compute_type == compute and s.build.architecture is arch
    fails(
        rf"^buildComputeType: 'BUILD_GENERAL1_HUGE' is not valid; allowed for {arch.value}: BUILD_GENERAL1_SMALL, ",
        cpuArchitecture=arch.value,
        buildComputeType="BUILD_GENERAL1_HUGE",
    )


def test_unknown_architecture_is_rejected():
    fails(r"^cpuArchitecture: 'amd64' is not supported; use 'x86_64' or 'arm64'; did you mean 'x86_64'\?$", cpuArchitecture="amd64")
    fails(r"^cpuArchitecture: 'ARM64' is not supported; use 'x86_64' or 'arm64'; did you mean 'arm64'\?$", cpuArchitecture="ARM64")
    fails(r"^deployTarget: 'ECS' is not supported; use 'ecs' or 'eks'; did you mean 'ecs'\?$", deployTarget="ECS")
    fails(r"^deployTarget: 'lambda' is not supported; use 'ecs' or 'eks'$", deployTarget="lambda")


# What each key accepts is declared once, on the key: these tests take the bounds and allowed values
# from KEYS, so a bound changed there is tested (and documented) at its new value without another edit.
BOUNDED = [k for k in KEYS.values() if k.minimum is not None or k.maximum is not None]
ENUMS = [k for k in KEYS.values() if isinstance(k.allowed, type)]


def in_context(key, **raw):
    """`raw` where `key` is read: its deploy target, and production (bakeTimeMinutes is production-only).
    A rolling deployment: the strategies that shift traffic also bound deploymentTimeoutMinutes from below."""
    target = {} if DeployTargetKind.ECS in key.targets else {"deployTarget": "eks"}
    return {**target, "production": True, "allowPlainHttp": True, "deploymentStrategy": "rolling", **raw}


def test_every_integer_bound_of_today_is_on_its_key():
    bounded = {k.name for k in BOUNDED}
    assert bounded == {
        "containerPort",
        "desiredCount",
        "deploymentTimeoutMinutes",
        "imageRetentionCount",
        "untaggedImageExpiryDays",
        "buildTimeoutMinutes",
        "artifactExpiryDays",
        "alarm5xxPercent",
        "alarmLatencyP95Ms",
        "alarmUnhealthyTargets",
        "alarmCpuPercent",
        "alarmMemoryPercent",
        "bakeTimeMinutes",
        "eksPodCpuMillicores",
        "eksPodMemoryMiB",
        "canaryPercent",
        "canaryBakeMinutes",
        "linearStepPercent",
        "linearStepBakeMinutes",
        "deploymentBakeMinutes",
        "testListenerPort",
    }
    assert all(k.type in ("integer", "number") and k.minimum is not None and k.maximum is not None for k in BOUNDED)
    assert {k.name for k in BOUNDED if k.type == "number"} == {"canaryPercent", "linearStepPercent"}
    assert {k.name for k in ENUMS} == {
        "deployTarget",
        "sourceProvider",
        "cpuArchitecture",
        "natGateways",
        "manualApproval",
        "auditTrail",
        "eksLoadBalancing",
        "albAccessLogs",
        "waf",
        "albDeletionProtection",
        "deploymentStrategy",
        "scanSeverityThreshold",
        "imageSigning",
    }
    assert KEYS["logRetentionDays"].allowed == LOG_RETENTION_DAYS
    assert KEYS["ecsCpu"].allowed == tuple(FARGATE_CPU_MEMORY)
    assert KEYS["vpcCidr"].prefix_lengths == (16, 24)


# The strategy's keys are read only for their strategy, and its bakes are bounded together by the deploy
# timeout as well: tests/test_strategy_settings.py tests their edges.
@pytest.mark.parametrize("key", [k for k in BOUNDED if k.name not in STRATEGY_KEYS], ids=lambda k: k.name)
def test_integer_bounds_come_from_the_key(key):
    low, high = key.minimum, key.maximum
    assert low <= key.default <= high
    for good in (low, high):
        parse(**in_context(key, **{key.name: good}))
    for bad in (low - 1, high + 1):
        message = f"{key.name}: {bad} is not valid; allowed: {low} to {high}. Fix: set {key.name} between {low} and {high}"
        fails(f"^{re.escape(message)}$", **in_context(key, **{key.name: bad}))


@pytest.mark.parametrize("key", ENUMS, ids=lambda k: k.name)
def test_enum_values_come_from_the_key(key):
    values = key.allowed_values
    assert key.default in values and values == tuple(m.value for m in key.allowed)
    listed = ", ".join(repr(v) for v in values[:-1]) + f" or {values[-1]!r}"
    assert key.allowed_text == listed
    message = f"{key.name}: 'nonsense' is not supported; use {listed}"
    fails(f"^{re.escape(message)}$", **in_context(key, **{key.name: "nonsense"}))


def test_vpc_cidr_prefix_lengths_come_from_the_key():
    key = KEYS["vpcCidr"]
    shortest, longest = key.prefix_lengths
    for good in (shortest, longest):
        assert parse(vpcCidr=f"10.0.0.0/{good}").network.vpc_cidr == f"10.0.0.0/{good}"
    for bad in (shortest - 1, longest + 1):
        message = f"vpcCidr: '10.0.0.0/{bad}' is not valid; allowed: a /{shortest} to /{longest} network (four /+2 subnets must fit). Fix: use e.g. {key.default}"
        fails(f"^{re.escape(message)}$", vpcCidr=f"10.0.0.0/{bad}")


@pytest.mark.parametrize("key", [k for k in KEYS.values() if k.pattern is not None], ids=lambda k: k.name)
def test_patterns_come_from_the_key(key):
    assert key.pattern.match(key.default) and key.shape
    message = f"{key.name}: '-x ' is not valid; allowed: {key.shape}. Fix: set {key.name} to {key.shape}"
    fails(f"^{re.escape(message)}$", **{key.name: "-x "})


def test_descriptions_do_not_repeat_what_the_key_accepts():
    """The range text is rendered from the bounds (Key.full_description); a copy in the prose would drift."""
    for key in KEYS.values():
        text = key.description
        if key.allowed_text:
            assert key.allowed_text not in text, key.name
            assert key.full_description == f"{text} Allowed: {key.allowed_text}.", key.name
        else:
            assert key.full_description == text, key.name
        if key.maximum is not None:
            assert not re.search(rf"\b{key.maximum}\b", text), f"{key.name}: {text!r} repeats its maximum"
            assert f"{key.minimum}-" not in text and f"{key.minimum} to" not in text, f"{key.name}: {text!r} repeats its range"
        for value in key.allowed_values:
            assert f"'{value}'" not in text and f"{value}, " not in text, f"{key.name}: {text!r} lists its values"
        if key.prefix_lengths is not None:
            assert not any(f"/{n}" in text for n in key.prefix_lengths), key.name


def test_validators_take_what_a_key_accepts_from_keys():
    """No call of _in_range, _enum or _matching passes bounds, an Enum or a pattern: only the reader and the key's name."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    checks = {"_in_range": lambda k: k.minimum is not None and k.maximum is not None, "_enum": lambda k: isinstance(k.allowed, type), "_matching": lambda k: k.pattern is not None}
    calls = []
    for path in [*root.glob("components/**/*.py"), *root.glob("offline/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else None
            args = node.args
            if isinstance(node.func, ast.Attribute) and node.func.attr == "check" and args and isinstance(args[0], ast.Name):
                name, args = args[0].id, args[1:]  # problems.check(_in_range, reader, "key")
            if name in checks:
                where = f"{path.relative_to(root)}:{node.lineno}"
                assert len(args) == 2 and not node.keywords, f"{where}: {name} takes only (reader, key)"
                assert isinstance(args[1], ast.Constant) and args[1].value in KEYS, f"{where}: {name} needs a key name"
                assert checks[name](KEYS[args[1].value]), f"{where}: {args[1].value} declares nothing for {name}"
                calls.append(args[1].value)
    assert len(calls) >= 15 + 7 + 2  # every bounded key, every enum key (deployTarget once), both patterns
    assert {k.name for k in BOUNDED} <= set(calls) and {k.name for k in ENUMS} <= set(calls)


# ------------------------------------------------------------------------------------------
# Source
# ------------------------------------------------------------------------------------------


def test_codecommit_existing_repository_needs_a_name():
    fails(r"^sourceRepository: '' is not valid; an existing repository must be named when createSourceRepository is false", createSourceRepository=False)
    s = parse(createSourceRepository=False, sourceRepository="legacy-repo")
    assert (s.source.repository, s.source.create_repository) == ("legacy-repo", False)


def test_codecommit_repository_name_format():
    fails(r"^sourceRepository: 'bad name!' is not valid; allowed: 1-100 letters", sourceRepository="bad name!")
    fails(r"^sourceRepository: 'x{101}' is not valid", sourceRepository="x" * 101)


def test_codecommit_rejects_connection_keys():
    fails(
        r"^sourceConnectionArn: '.+' is not valid; only github, bitbucket and gitlab sources use a connection\. "
        r"Fix: remove sourceConnectionArn",
        sourceConnectionArn=CONNECTION_ARN,
    )
    fails(r"^sourceFilePaths: \['app/\*\*'\] is not valid; file-path triggers exist only for connection sources", sourceFilePaths=["app/**"])


@pytest.mark.parametrize("provider", ["github", "bitbucket", "gitlab"])
def test_connection_sources(provider):
    s = parse(sourceProvider=provider, sourceRepository="org/svc", sourceConnectionArn=CONNECTION_ARN, sourceFilePaths=["app/**", "shared/**"])
    assert s.source.provider.uses_connection
    assert s.source.connection_arn == CONNECTION_ARN and s.source.file_paths == ("app/**", "shared/**")
    # Created connections carry the provider's ProviderType.
    assert s.source.provider.connection_provider_type == {"github": "GitHub", "bitbucket": "Bitbucket", "gitlab": "GitLab"}[provider]
    shape = "'group/project' \\(subgroups allowed\\)" if provider == "gitlab" else "exactly 'owner/name'"
    fails(
        rf"^sourceRepository: 'svc' is not valid; {provider} needs {shape}, without '\.git' or a URL\. "
        rf"Fix: set sourceRepository to e\.g\. 'my-org/my-service'$",
        sourceProvider=provider,
        sourceRepository="svc",
    )
    fails(rf"^sourceRepository: '' is not valid; {provider} needs {shape}", sourceProvider=provider)
    fails(rf"^sourceRepository: 'org/svc.git' is not valid; {provider} needs {shape}", sourceProvider=provider, sourceRepository="org/svc.git")
    fails(
        rf"^createSourceRepository: false is not valid; only codecommit repositories can be created by the stack\. "
        rf"Fix: remove createSourceRepository; create the {provider} repository on its host$",
        sourceProvider=provider,
        sourceRepository="org/svc",
        createSourceRepository=False,
    )


def test_gitlab_subgroups_are_owner_name():
    assert parse(sourceProvider="gitlab", sourceRepository="group/sub/svc").source.repository == "group/sub/svc"


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:codestar-connections:eu-west-1:123456789012:connection/abc-123",
        "arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789",
    ],
)
def test_connection_arn_formats_accepted(arn):
    assert parse(**GITHUB, sourceConnectionArn=arn).source.connection_arn == arn


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:codebuild:us-east-1:123456789012:project/x",
        "connection/abc",
        "arn:aws:codeconnections:us-east-1:12345:connection/abc",
    ],
)
def test_connection_arn_format_rejected(arn):
    fails(rf"^sourceConnectionArn: '{re.escape(arn)}' is not valid; allowed: arn:aws:codeconnections:<region>:<account>:connection/<id>", **GITHUB, sourceConnectionArn=arn)


def test_at_most_eight_file_paths():
    parse(**GITHUB, sourceFilePaths=[f"p{i}/**" for i in range(8)])
    fails(r"^sourceFilePaths: \[.*\] is not valid; at most 8 patterns\. Fix: merge patterns with \*\* globs$", **GITHUB, sourceFilePaths=[f"p{i}/**" for i in range(9)])


def test_file_paths_are_relative():
    fails(r"^sourceFilePaths: '/app/\*\*' is not valid; allowed: glob patterns relative to the repository root", **GITHUB, sourceFilePaths=["/app/**"])


@pytest.mark.parametrize(
    ("branch", "problem"),
    [
        ("", "a branch name cannot be empty"),
        ("my branch", "a branch name cannot contain ' '"),
        ("feat:x", "a branch name cannot contain ':'"),
        ("a*", "a branch name cannot contain '*'"),
        ("main ", "a branch name cannot contain ' '"),
        ("-hotfix", "a branch name cannot start with '-'"),
        ("release..1", "a branch name cannot contain '..' or '//', nor end with '/' or '.'"),
        ("feature//x", "a branch name cannot contain '..' or '//', nor end with '/' or '.'"),
        ("feature/", "a branch name cannot contain '..' or '//', nor end with '/' or '.'"),
        ("v1.", "a branch name cannot contain '..' or '//', nor end with '/' or '.'"),
        ("main.lock", "no part of a branch name may start with '.' or end with '.lock'"),
        ("feature/.hidden", "no part of a branch name may start with '.' or end with '.lock'"),
        ("@", "a branch name cannot be '@' or contain '@{'"),
        ("main@{1}", "a branch name cannot be '@' or contain '@{'"),
    ],
)
def test_branch_names_follow_git_check_ref_format(branch, problem):
    fails(
        rf"^sourceBranch: '{re.escape(branch)}' is not valid; {re.escape(problem)}\. "
        r"Fix: set sourceBranch to the branch's name as `git branch` shows it, e\.g\. 'main'$",
        sourceBranch=branch,
    )


def test_branch_with_slash_is_fine():
    assert parse(sourceBranch="release/1.2").source.branch == "release/1.2"


# ------------------------------------------------------------------------------------------
# Network
# ------------------------------------------------------------------------------------------


def test_existing_vpc_is_all_or_none():
    s = parse(**EXISTING_VPC)
    assert s.network.vpc_id == EXISTING_VPC["vpcId"]
    assert s.network.private_subnet_ids == tuple(EXISTING_VPC["privateSubnetIds"])
    fails(r"^publicSubnetIds: \[\] is not valid; with vpcId, at least two subnets in different AZs", vpcId=EXISTING_VPC["vpcId"], privateSubnetIds=EXISTING_VPC["privateSubnetIds"])
    fails(r"^privateSubnetIds: \['subnet-00000000000000003'\] is not valid; with vpcId, at least two subnets", **{**EXISTING_VPC, "privateSubnetIds": ["subnet-00000000000000003"]})
    fails(
        r"^publicSubnetIds: \['subnet-00000000000000001', 'subnet-00000000000000002'\] is not valid; subnet ids need vpcId\. "
        r"Fix: set vpcId too",
        publicSubnetIds=EXISTING_VPC["publicSubnetIds"],
    )
    fails(r"^privateSubnetIds: .* is not valid; subnet ids need vpcId", privateSubnetIds=EXISTING_VPC["privateSubnetIds"])


def test_existing_vpc_id_formats():
    fails(r"^vpcId: 'vpc-xyz' is not valid; allowed: vpc-<hex id>", **{**EXISTING_VPC, "vpcId": "vpc-xyz"})
    fails(r"^publicSubnetIds: 'sub-1' is not valid; allowed: subnet-<hex id>", **{**EXISTING_VPC, "publicSubnetIds": ["sub-1", "subnet-00000000000000002"]})
    fails(r"^privateSubnetIds: .* is not valid; a subnet cannot be both public and private", **{**EXISTING_VPC, "privateSubnetIds": EXISTING_VPC["publicSubnetIds"]})


def test_created_vpc_keys_conflict_with_existing_vpc():
    fails(r"^vpcCidr: '10\.1\.0\.0/16' is not valid; only used when the stack creates the VPC\. Fix: remove vpcCidr, or remove vpcId", **EXISTING_VPC, vpcCidr="10.1.0.0/16")
    fails(r"^natGateways: 'one-per-az' is not valid; only used when the stack creates the VPC", **EXISTING_VPC, natGateways="one-per-az")


def test_vpc_cidr():
    assert parse(vpcCidr="10.20.0.0/20").network.vpc_cidr == "10.20.0.0/20"
    fails(
        r"^vpcCidr: 'ten' is not valid; not a CIDR block such as 203\.0\.113\.0/24\. "
        r"Fix: write an address and a prefix length, e\.g\. 203\.0\.113\.0/24$",
        vpcCidr="ten",
    )
    fails(r"^vpcCidr: '10\.1\.2\.3' is not valid; a bare address is not a CIDR block\. Fix: write 10\.1\.2\.3/32 for this one address$", vpcCidr="10.1.2.3")
    fails(r"^vpcCidr: 'fd00::/48' is not valid; only IPv4 CIDR blocks are allowed here\. Fix: use an IPv4 CIDR block$", vpcCidr="fd00::/48")
    fails(r"^natGateways: 'two' is not supported; use 'single' or 'one-per-az'$", natGateways="two")


def test_ingress_cidrs():
    assert parse(ingressCidrs=["203.0.113.0/24", "2001:db8::/32"]).network.ingress_cidrs == ("203.0.113.0/24", "2001:db8::/32")
    fails(r"^ingressCidrs: \[\] is not valid; at least one CIDR", ingressCidrs=[])
    fails(
        r"^ingressCidrs: '203\.0\.113\.5/24' is not valid; the address has bits set beyond the prefix length\. "
        r"Fix: use the network address: 203\.0\.113\.0/24$",
        ingressCidrs=["203.0.113.5/24"],
    )
    fails(r"^ingressCidrs: 'anywhere' is not valid; not a CIDR block", ingressCidrs=["anywhere"])
    fails(r"^ingressCidrs: '198\.51\.100\.7' is not valid; a bare address is not a CIDR block\. Fix: write 198\.51\.100\.7/32", ingressCidrs=["198.51.100.7"])
    fails(r"^ingressCidrs: '2001:db8::1' is not valid; a bare address is not a CIDR block\. Fix: write 2001:db8::1/128", ingressCidrs=["2001:db8::1"])
    fails(
        r"^ingressCidrs: \['10\.0\.0\.0/8', '10\.0\.0\.0/8'\] is not valid; each CIDR block once\. Fix: remove the repeated '10\.0\.0\.0/8'$",
        ingressCidrs=["10.0.0.0/8", "10.0.0.0/8"],
    )


def test_certificate_arn():
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
    assert parse(certificateArn=arn, serviceDomain="app.example.com").network.certificate_arn == arn
    fails(
        r"^certificateArn: 'arn:aws:iam::123456789012:server-certificate/x' is not valid; allowed: arn:aws:acm:",
        certificateArn="arn:aws:iam::123456789012:server-certificate/x",
        serviceDomain="app.example.com",
    )


# ------------------------------------------------------------------------------------------
# Workload
# ------------------------------------------------------------------------------------------


def test_health_check_path_must_match_the_default_bootstrap_image():
    fails(
        r"^healthCheckPath: '/healthz' is not valid; the default bootstrapImage answers only /ping\. "
        r"Fix: set bootstrapImage to an image that answers /healthz on containerPort, or keep healthCheckPath at /ping$",
        healthCheckPath="/healthz",
    )
    s = parse(healthCheckPath="/healthz", bootstrapImage="public.ecr.aws/my/hello:1.0")
    assert (s.workload.health_check_path, s.workload.bootstrap_image) == ("/healthz", "public.ecr.aws/my/hello:1.0")


def test_health_check_path_format():
    fails(r"^healthCheckPath: 'ping' is not valid; allowed: an absolute URL path", healthCheckPath="ping")


@pytest.mark.parametrize("image", ["traefik", "traefik:v3", "public.ecr.aws/x/y", "public.ecr.aws/MyOrg/app:1", "ghcr.io/org/app:"])
def test_bootstrap_image_needs_registry_and_tag(image):
    fails(
        rf"^bootstrapImage: '{re.escape(image)}' is not valid; allowed: registry/repository with a :tag, an @sha256: digest "
        r"or both; the repository in lower case\. Fix: write e\.g\. 'public\.ecr\.aws/docker/library/traefik:v3\.7'$",
        bootstrapImage=image,
        healthCheckPath="/ping",
    )


@pytest.mark.parametrize(
    "image",
    [
        "ghcr.io/org/app:1.2.3",
        "public.ecr.aws/org/app@sha256:" + "a" * 64,
        "public.ecr.aws/org/app:1.2.3@sha256:" + "b" * 64,
        "registry.example.com:5000/team/app:v1",
    ],
)
def test_bootstrap_image_accepts_tags_digests_and_both(image):
    assert parse(bootstrapImage=image, healthCheckPath="/healthz").workload.bootstrap_image == image


@pytest.mark.parametrize("name", ["-app", "my app", "a" * 256])
def test_container_name(name):
    fails(r"^containerName: '.*' is not valid; allowed: letters, digits, '-' and '_'", containerName=name)


@pytest.mark.parametrize("name", ["A", "1app", "app_", "very-long-service-name"])
def test_service_name(name):
    fails(rf"^serviceName: '{name}' is not valid; allowed: 2-20 chars of a-z", serviceName=name)


def test_stack_name_length_keeps_physical_names_short():
    with pytest.raises(SettingsError, match=r"^stack name: 'x{30}' makes the name prefix 'container-cicd-x{30}' longer than 40"):
        parse_settings({}, PROJECT, "x" * 30)


def test_app_path():
    assert parse(appPath="/services/api/").build.app_path == "services/api"
    fails(r"^appPath: '\.\./x' is not valid; allowed: a relative folder", appPath="../x")


# ------------------------------------------------------------------------------------------
# Errors happen before any resource exists
# ------------------------------------------------------------------------------------------


@pytest.fixture
def monitors(monkeypatch):
    """Capture the RecordingMonitor that offline.mocks.evaluate builds, even when the program raises."""
    created: list[offline.mocks.RecordingMonitor] = []

    class Capturing(offline.mocks.RecordingMonitor):
        def __init__(self, mocks):
            super().__init__(mocks)
            created.append(self)

    monkeypatch.setattr(offline.mocks, "RecordingMonitor", Capturing)
    return created


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"deployTarget": "lambda"}, r"^deployTarget: 'lambda' is not supported; use 'ecs' or 'eks'$"),
        ({"deployTaget": "ecs"}, r"did you mean 'deployTarget'\?"),
        ({"ecsMemory": 4096}, r"^ecsMemory: 4096 is not valid; with ecsCpu 256"),
    ],
)
def test_bad_config_fails_before_any_resource_is_registered(monitors, overrides, match):
    with pytest.raises(SettingsError, match=match):
        offline.mocks.evaluate_stack("dev", overrides)
    assert len(monitors) == 1
    assert monitors[0].records == {}
    # Not even a component: the only registration the engine saw is the stack itself.
    assert [r.type for r in monitors[0].resources.values()] in ([], ["pulumi:pulumi:Stack"])


def test_capturing_monitor_does_record_a_good_stack(monitors):
    """Guards the test above: the same hook sees resources when the config is valid."""
    offline.mocks.evaluate_stack("dev")
    assert len(monitors[0].records) > 20


# ------------------------------------------------------------------------------------------
# deploymentWindowCron: exactly the CodePipeline DeploymentWindow rule's cron
# https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html
# ------------------------------------------------------------------------------------------

VALID_CRONS = [
    "* * 9-16 ? * MON-THU",  # the documented example shape: weekdays, office hours
    "* * 9-16 ? * MON-THU *",  # optional year
    "* * 9-16 ? * MON-THU 2025-2030",
    "* 0-29 22 ? * 2-6",  # numbers for days of the week (1 = SUN)
    "* */15 * ? * *",
    "* 5/15 8,12,18 ? JAN-MAR,OCT-DEC MON,WED,FRI",
    "* * * 1-15 * ?",  # '?' in day-of-week instead
    "* * * L * ?",  # last day of the month
    "* * * L-3 * ?",
    "* * * LW * ?",
    "* * * 15W * ?",  # nearest weekday to the 15th
    "* * * ? * L",  # day-of-week 'L' alone: Saturday
    "* * * ? * 6L",  # last Friday
    "* * * ? * FRIL",
    "* * * ? * 6#3",  # third Friday
    "* * * ? * FRI#1",
    "* * * ? 1-12/3 * 1970-2199/2",
    "*  *\t9-16 ? * MON-THU",  # any white space separates fields
]

ALLOWED = "'seconds minutes hours day-of-month month day-of-week [year]'"
INVALID_CRONS = [
    # the old settings' five-field order: no seconds field, so '?' lands in hours
    ("* 9-16 ? * MON-THU *", "field 3 (hours) '?' is allowed only in day-of-month or day-of-week"),
    ("0 9 * * MON", f"allowed: 6 or 7 space-separated fields {ALLOWED}, got 5"),
    ("* * 9 ? * MON * *", f"allowed: 6 or 7 space-separated fields {ALLOWED}, got 8"),
    ("0 * 9-16 ? * MON-THU", "field 1 (seconds) '0' is not allowed; seconds take only '*'"),
    ("*/5 * 9-16 ? * MON-THU", "field 1 (seconds) '*/5' is not allowed; seconds take only '*'"),
    ("* 60 9-16 ? * MON-THU", "field 2 (minutes) '60' is out of range 0-59"),
    ("* * 25 ? * MON", "field 3 (hours) '25' is out of range 0-23"),
    ("* * 9-24 ? * MON", "field 3 (hours) '24' is out of range 0-23"),
    ("* * 16-9 ? * MON", "field 3 (hours) '16-9' is a range that runs backwards; split it into two ranges in a list"),
    ("* * 9,25 ? * MON", "field 3 (hours) '25' is out of range 0-23"),
    ("* */0 9 ? * MON", "field 2 (minutes) '*/0': the step after '/' must be 1-59"),
    ("* */60 9 ? * MON", "field 2 (minutes) '*/60': the step after '/' must be 1-59"),
    ("* * 9 0 * ?", "field 4 (day-of-month) '0' is out of range 1-31"),
    ("* * 9 32 * ?", "field 4 (day-of-month) '32' is out of range 1-31"),
    ("* * 9 32W * ?", "field 4 (day-of-month) '32' is out of range 1-31"),
    ("* * 9 L-31 * ?", "field 4 (day-of-month) 'L-31': the offset after 'L-' must be 0-30"),
    ("* * 9 1,L * ?", "field 4 (day-of-month) 'L' must be the whole field, not part of a list"),
    ("* * 9 ? 13 MON", "field 5 (month) '13' is out of range 1-12"),
    ("* * 9 ? 0 MON", "field 5 (month) '0' is out of range 1-12"),
    ("* * 9 ? JANUARY MON", "field 5 (month) 'JANUARY' is not a number 1-12 or a name JAN-DEC"),
    ("* * 9 ? ? MON", "field 5 (month) '?' is allowed only in day-of-month or day-of-week"),
    ("* * 9 ? * 8", "field 6 (day-of-week) '8' is out of range 1-7"),
    ("* * 9 ? * 0", "field 6 (day-of-week) '0' is out of range 1-7"),
    ("* * 9 ? * mon-thu", "field 6 (day-of-week) 'mon' is not a number 1-7 or a name SUN-SAT"),
    ("* * 9 ? * MON-FRY", "field 6 (day-of-week) 'FRY' is not a number 1-7 or a name SUN-SAT"),
    ("* * 9 ? * 6#6", "field 6 (day-of-week) '6#6': the week number after '#' must be 1-5"),
    ("* * 9 ? * 5L,6", "field 6 (day-of-week) '5L' must be the whole field, not part of a list"),
    ("* * 9 ? * 15W", "field 6 (day-of-week) '15W' is not a number 1-7 or a name SUN-SAT"),  # 'W' is day-of-month's
    ("* * 9 15L * ?", "field 4 (day-of-month) '15L' is not a number 1-31"),  # 'nL' is day-of-week's
    ("* * 9 ? * 1#2#3", "field 6 (day-of-week) '1#2#3' is not '*', a value, a range 'a-b' or a step 'a/n', '?', 'L', 'nL' or 'n#k'"),
    ("* * 9 ? * MON 1969", "field 7 (year) '1969' is out of range 1970-2199"),
    ("* * 9 ? * MON 2200", "field 7 (year) '2200' is out of range 1970-2199"),
    ("* * 9 ? * MON L", "field 7 (year) 'L' is not a number 1970-2199"),
    ("* * 9 * * MON", "exactly one of day-of-month and day-of-week must be '?', got '*' and 'MON'"),
    ("* * 9 ? * ?", "exactly one of day-of-month and day-of-week must be '?', got '?' and '?'"),
    ("* * 9 1 * MON", "exactly one of day-of-month and day-of-week must be '?', got '1' and 'MON'"),
    ("* * *-5 ? * MON", "field 3 (hours) '*-5' is not '*', a value, a range 'a-b' or a step 'a/n'"),
]


@pytest.mark.parametrize("cron", VALID_CRONS)
def test_crons_codepipeline_accepts_are_accepted(cron):
    assert deployment_window_cron_problem(cron) is None
    assert parse_settings({"deploymentWindowCron": cron}, PROJECT, "prod").safety.deployment_window_cron == cron


@pytest.mark.parametrize(("cron", "problem"), INVALID_CRONS, ids=[c for c, _ in INVALID_CRONS])
def test_crons_codepipeline_rejects_are_rejected_naming_the_field(cron, problem):
    assert deployment_window_cron_problem(cron) == problem
    expected = (
        f"deploymentWindowCron: {cron!r} is not valid; {problem}. Fix: write {ALLOWED[1:-1]!r} with seconds '*' "
        "and '?' in one day field, e.g. '* * 9-16 ? * MON-THU' (Monday to Thursday, 09:00-16:59)"
    )
    with pytest.raises(SettingsError) as raised:
        parse_settings({"deploymentWindowCron": cron}, PROJECT, "prod")
    assert str(raised.value) == expected


def test_the_documented_cron_example_is_valid():
    example = re.search(r"e\.g\. '([^']+)'", KEYS["deploymentWindowCron"].description)[1]
    assert deployment_window_cron_problem(example) is None


def test_subnets_are_each_listed_once():
    """Two ids of one subnet would pass the two-subnet check with a single AZ."""
    fails(
        r"^publicSubnetIds: \['subnet-00000000000000001', 'subnet-00000000000000001'\] is not valid; each subnet once "
        r"\(two ids of one subnet are one AZ\)\. Fix: replace the repeated 'subnet-00000000000000001' by a subnet in another AZ$",
        **{**EXISTING_VPC, "publicSubnetIds": ["subnet-00000000000000001", "subnet-00000000000000001"]},
    )


def test_codecommit_names_cannot_end_in_git():
    fails(
        r"^sourceRepository: 'service\.git' is not valid; a CodeCommit repository name cannot end in '\.git'\. "
        r"Fix: set sourceRepository to 'service'$",
        sourceRepository="service.git",
    )


def test_gitlab_takes_subgroups_github_does_not():
    assert parse(sourceProvider="gitlab", sourceRepository="group/sub/project").source.repository == "group/sub/project"
    fails(r"^sourceRepository: 'group/sub/project' is not valid; github needs exactly 'owner/name'", sourceProvider="github", sourceRepository="group/sub/project")


@pytest.mark.parametrize("email", ["mailto:team@example.com", "Team <team@example.com>", "team@localhost"])
def test_notification_emails_are_plain_addresses(email):
    fails(
        rf"^notificationEmails: '{re.escape(email)}' is not valid; allowed: a plain email address such as team@example\.com "
        r"\(no 'mailto:', no name\)\. Fix: write only the address$",
        notificationEmails=[email],
    )


def test_bake_time_is_refused_where_it_has_no_effect():
    fails(
        r"^bakeTimeMinutes: 20 is not valid; only used when production is true \(dev deploys do not bake\)\. "
        r"Fix: remove bakeTimeMinutes, or set production to true$",
        bakeTimeMinutes=20,
    )
    assert parse(bakeTimeMinutes=20, production=True, allowPlainHttp=True).safety.bake_time_minutes == 20


def test_file_paths_are_each_listed_once():
    fails(r"^sourceFilePaths: \['app/\*\*', 'app/\*\*'\] is not valid; each pattern once\. Fix: remove the repeated 'app/\*\*'$", **GITHUB, sourceFilePaths=["app/**", "app/**"])


def test_values_are_shown_as_typed_not_stripped():
    fails(r"^deployTarget: ' ecs' is not supported; use 'ecs' or 'eks'; did you mean 'ecs'\?$", deployTarget=" ecs")


def test_every_problem_of_a_stack_file_is_reported_at_once():
    with pytest.raises(SettingsError) as raised:
        parse(deployTarget="ECS", desiredCount=0, notificationEmails=["mailto:a@example.com"], deployTaget="ecs")
    lines = str(raised.value).splitlines()
    assert lines[0] == "4 problems in the stack's config:"
    assert [line.split(":", 1)[0] for line in lines[1:]] == ["- container-cicd", "- deployTarget", "- desiredCount", "- notificationEmails"]


@pytest.mark.parametrize("stack", ["Dev", "dev_1", "dev--1", "-dev"])
def test_stack_names_that_make_names_aws_refuses_are_refused(stack):
    with pytest.raises(
        SettingsError,
        match=rf"^stack name: '{re.escape(stack)}' is not valid; the stack name becomes part of ECR "
        r"repository and CloudTrail names, which allow lower-case letters and digits joined by single '-'\. "
        r"Fix: use a stack named like '[a-z0-9-]+' \(`pulumi stack rename`\)$",
    ):
        parse_settings({}, PROJECT, stack)


def test_service_name_with_two_dashes_is_refused():
    fails(
        r"^serviceName: 'my--app' is not valid; two '-' in a row make names ECR and CloudTrail refuse\. "
        r"Fix: set serviceName to 'my-app'$",
        serviceName="my--app",
    )


def test_arns_from_another_region_are_refused():
    cert = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    with pytest.raises(
        SettingsError,
        match=r"^certificateArn: '.*' is not valid; the ARN is in eu-west-1, the stack in us-east-1\. "
        r"Fix: use a certificate in us-east-1, or deploy the stack to eu-west-1 \(aws:region\)$",
    ):
        parse_settings({"certificateArn": cert, "serviceDomain": "app.example.com"}, PROJECT, "dev", "us-east-1")
    assert parse_settings({"certificateArn": cert, "serviceDomain": "app.example.com"}, PROJECT, "dev", "eu-west-1").network.certificate_arn == cert
    connection = "arn:aws:codeconnections:eu-west-1:123456789012:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    with pytest.raises(SettingsError, match=r"^sourceConnectionArn: '.*' is not valid; the ARN is in eu-west-1, the stack in us-east-1"):
        parse_settings({"sourceProvider": "github", "sourceRepository": "o/r", "sourceConnectionArn": connection}, PROJECT, "dev", "us-east-1")


def test_the_program_checks_arns_against_the_stack_region(evaluate):
    """load_settings hands aws:region from the stack file to the check."""
    cert = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    with pytest.raises(SettingsError, match=r"^certificateArn: .* the ARN is in eu-west-1, the stack in us-east-1"):
        evaluate("dev", certificateArn=cert, serviceDomain="app.example.com")


# ------------------------------------------------------------------------------------------
# Defaults live in KEYS only
# ------------------------------------------------------------------------------------------

# Dataclass fields that carry a key's value under another name than the key's snake_case.
FIELD_KEYS = {
    "architecture": "cpuArchitecture",
    "compute_type": "buildComputeType",
    "timeout_minutes": "buildTimeoutMinutes",
    "create_repository": "createSourceRepository",
    "connection_arn": "sourceConnectionArn",
    "file_paths": "sourceFilePaths",
    "existing_vpc_id": "vpcId",
    "existing_public_subnet_ids": "publicSubnetIds",
    "existing_private_subnet_ids": "privateSubnetIds",
    "load_balancing": "eksLoadBalancing",
    "thresholds": "alarm5xxPercent",
    "error_rate_percent": "alarm5xxPercent",
    "latency_p95_ms": "alarmLatencyP95Ms",
    "unhealthy_targets": "alarmUnhealthyTargets",
    "cpu_percent": "alarmCpuPercent",
    "memory_percent": "alarmMemoryPercent",
    "manual_approval": "manualApproval",
    "audit_trail": "auditTrail",
    "block_deploy_while_alarming": "blockDeployWhileAlarming",
    "safety": "notificationEmails",
    "provider": "sourceProvider",
    "repository": "sourceRepository",
    "branch": "sourceBranch",
    "expiry_days": "artifactExpiryDays",
    "cpu": "ecsCpu",
    "memory": "ecsMemory",
    "cluster_name": "eksClusterName",
    "kubernetes_version": "eksKubernetesVersion",
    "public_access_cidrs": "eksPublicAccessCidrs",
    "pod_cpu_millicores": "eksPodCpuMillicores",
    "pod_memory_mib": "eksPodMemoryMiB",
    "cpu_millicores": "eksPodCpuMillicores",
    "memory_mib": "eksPodMemoryMiB",
    "cpu_units": "ecsCpu",
    "existing_cluster_name": "eksClusterName",
    "emails": "notificationEmails",
    "https_endpoints": "notificationHttpsEndpoints",
    # A field name that carries different keys in different dataclasses: Class.field wins.
    "EcsTargetArgs.memory_mib": "ecsMemory",
}
# The pipeline's gates are opt-in features of the Pipeline component: omitted means no gate (0, False),
# not the key's default ('auto', 10 minutes); the program resolves the keys and passes every gate.
OWN_DEFAULTS = {"PipelineGates"}


def _key_of(class_name: str, field_name: str) -> str | None:
    snake = {re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower(): k for k in KEYS}
    return FIELD_KEYS.get(f"{class_name}.{field_name}") or FIELD_KEYS.get(field_name) or snake.get(field_name)


def _component_dataclasses():
    import importlib
    import pkgutil

    import components

    for info in pkgutil.walk_packages(components.__path__, "components."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if dataclasses.is_dataclass(value) and isinstance(value, type) and value.__module__ == module.__name__ and value.__name__ not in OWN_DEFAULTS:
                yield value


def test_no_component_field_copies_a_key_default():
    """A key's default lives in KEYS only: a field that carries a key's value has no default of its own
    (the program always passes the setting), so a changed default cannot be half-applied."""
    carried = {}
    for cls in _component_dataclasses():
        for f in dataclasses.fields(cls):
            key = _key_of(cls.__name__, f.name)
            if key is None:
                continue
            carried[f"{cls.__name__}.{f.name}"] = key
            has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            assert not has_default, f"{cls.__module__}.{cls.__name__}.{f.name} has a default; {key}'s default is in KEYS"
    # The scan reaches the Args the program fills from the settings (a rename would silently shrink it).
    assert {
        "BuildArgs.architecture",
        "BuildArgs.compute_type",
        "BuildArgs.timeout_minutes",
        "BuildArgs.log_retention_days",
        "BuildArgs.production",
        "RegistryArgs.image_retention_count",
        "RegistryArgs.untagged_image_expiry_days",
        "RegistryArgs.production",
        "NetworkArgs.vpc_cidr",
        "NetworkArgs.nat_gateways",
        "NetworkArgs.existing_vpc_id",
        "LoadBalancerArgs.ingress_cidrs",
        "LoadBalancerArgs.certificate_arn",
        "LoadBalancerArgs.production",
        "SourceArgs.create_repository",
        "SourceArgs.connection_arn",
        "SourceArgs.file_paths",
        "SourceArgs.production",
        "ArtifactStoreArgs.production",
        "AuditTrailArgs.production",
        "AuditTrailArgs.log_retention_days",
        "WorkloadSpec.architecture",
        "WorkloadSpec.load_balancing",
        "SafetySettings.thresholds",
        "SafetySettings.bake_time_minutes",
        "SafetySettings.manual_approval",
        "AlarmThresholds.cpu_percent",
        "Settings.safety",
        "Settings.production",
        "WorkloadSettings.desired_count",
        "EksSettings.pod_cpu_millicores",
        "EcsSettings.cpu",
        "ArtifactStoreArgs.expiry_days",
        "WorkloadSpec.cpu_millicores",
        "DeployInputs.production",
        "EcsTargetArgs.cpu_units",
        "EcsTargetArgs.memory_mib",
        "EcsTargetArgs.architecture",
        "EksTargetArgs.existing_cluster_name",
        "EksTargetArgs.public_access_cidrs",
        "EksTargetArgs.load_balancing",
        "EksTargetArgs.pod_cpu_millicores",
        "EksTargetArgs.pod_memory_mib",
        "EksTargetArgs.architecture",
        "NotificationsArgs.emails",
        "NotificationsArgs.https_endpoints",
    } <= set(carried)
