"""The product's runtime code, taken from an evaluated stack and run against the stand-ins: every CodeBuild step
(its buildspec, its role, the variables its pipeline action passes) and every Lambda function (its handler, its
role, its environment). What each called is returned with who called it, for the authorization checks.

    world = world_from(dev)                           # IAM's view of the stack(s)
    run = run_step(dev, "container-cicd-dev-app-record", cloud, scenario)
    run = run_function(dev, "container-cicd-dev-app-verify", event, responder)

A step runs as CodeBuild runs a buildspec (version 0.2): its phases in order in one bash shell, a failing command
ends its phase and every later one but post_build, which then runs with CODEBUILD_BUILD_SUCCEEDING=0 (a command
that calls `exit` ends the build at once). The stand-ins
are tests/fake_aws.py (aws), tests/fake_kubectl.py (kubectl) and docker (build and push into the stand-in
registry). A function runs its real handler with boto3 clients whose calls are answered by a responder instead
of AWS; botocore still builds and validates each request.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import boto3
import yaml

from components.deploy.eks.deploy_step import APPLIED_FILE
from components.settings import CpuArchitecture
from components.supply.notation import install_commands
from offline.mocks import StackResult
from tests import fake_aws, fake_kubectl, fake_notation
from tests.eks_access_policies import RULES
from tests.iam_authz import Caller, Request, World, requests_for

PHASES = ("install", "pre_build", "build", "post_build")
# The signing tools' install downloads from the internet: a step runs the stand-in `notation` instead
# (tests/fake_notation.py); the install's integrity checks have their own tests (tests/test_supply_chain.py).
DOWNLOADS = frozenset(c for a in CpuArchitecture for c in install_commands(a))
# What the install leaves behind: AWS Signer's root in the trust store the trust policies name.
STAND_IN_INSTALL = 'echo stand-in-root > "$HOME/root.cert" && notation cert add --type signingAuthority --store aws-signer-ts "$HOME/root.cert"'
VARIABLE = re.compile(r"#\{([A-Za-z0-9_]+\.[A-Za-z0-9_]+)\}")

DOCKER = r"""#!/bin/bash
# Stand-in docker: builds nothing, pushes into the stand-in registry (the registry host names the account and region).
case "$1" in
  create) echo cid0123456789 ;;
  cp) mkdir -p "$3"; echo 0 > "$3/exit-code"; echo '<testsuites/>' > "$3/junit.xml" ;;
  push) exec aws stand-in-push "$2" ;;
esac
exit 0
"""


def world_from(*results: StackResult) -> World:
    """IAM's view of one or more evaluated stacks (each in its own account): roles, resource and key policies."""
    world = World()
    for result in results:
        roles = {r.outputs.get("name"): r.outputs["arn"] for r in result.of_type("aws:iam/role:Role")}
        account = result.outputs.get("accountId") or _account(result)
        for role in result.of_type("aws:iam/role:Role"):
            world.identity.setdefault(role.outputs["arn"], [])
            for inline in role.inputs.get("inlinePolicies") or []:
                world.identity[role.outputs["arn"]] += json.loads(inline["policy"])["Statement"]
        for policy in result.of_type("aws:iam/rolePolicy:RolePolicy"):
            world.identity[roles[policy.inputs["role"]]] += json.loads(policy.inputs["policy"])["Statement"]
        for attachment in result.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
            world.managed.setdefault(roles[attachment.inputs["role"]], []).append(attachment.inputs["policyArn"])
        repositories = {r.outputs["name"]: r.outputs["arn"] for r in result.of_type("aws:ecr/repository:Repository")}
        for policy in result.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy"):
            world.resource_policies.append((repositories[policy.inputs["repository"]], json.loads(policy.inputs["policy"])["Statement"]))
        for bucket in result.of_type("aws:s3/bucket:Bucket"):
            world.owners[bucket.outputs["arn"]] = account
        for policy in result.of_type("aws:s3/bucketPolicy:BucketPolicy"):
            world.resource_policies.append((f"arn:aws:s3:::{policy.inputs['bucket']}", json.loads(policy.inputs["policy"])["Statement"]))
        keys = {key.outputs["keyId"]: key.outputs["arn"] for key in result.of_type("aws:kms/key:Key")}
        for key in result.of_type("aws:kms/key:Key"):
            if key.inputs.get("policy"):
                world.resource_policies.append((key.outputs["arn"], json.loads(key.inputs["policy"])["Statement"]))
                world.key_policies.add(key.outputs["arn"])
        for policy in result.of_type("aws:kms/keyPolicy:KeyPolicy"):
            world.resource_policies.append((keys[policy.inputs["keyId"]], json.loads(policy.inputs["policy"])["Statement"]))
            world.key_policies.add(keys[policy.inputs["keyId"]])
    return world


def _account(result: StackResult) -> str:
    return result.one("aws:codepipeline/pipeline:Pipeline").outputs["arn"].split(":")[4]


def caller_of(result: StackResult, role_arn: str) -> Caller:
    region = str(result.config.get("aws:region", "us-east-1"))
    return Caller(role_arn=role_arn, account=role_arn.split(":")[4], region=region)


# -- CodeBuild steps -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    project: str
    role_arn: str
    buildspec: dict
    action_variables: tuple[tuple[str, str], ...] = ()
    """EnvironmentVariables of the pipeline action that runs it (values may hold #{...} variables)."""


def steps(result: StackResult) -> dict[str, Step]:
    """Every CodeBuild project of the stack, by name, with what its pipeline action passes it."""
    passed: dict[str, tuple[tuple[str, str], ...]] = {}
    for stage in result.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]:
        for action in stage["actions"]:
            config = action.get("configuration") or {}
            if action["provider"] == "CodeBuild":
                variables = json.loads(config.get("EnvironmentVariables", "[]"))
                passed[config["ProjectName"]] = tuple((v["name"], v["value"]) for v in variables)
    out = {}
    for project in result.of_type("aws:codebuild/project:Project"):
        inputs = project.inputs
        # libyaml's safe loader (what yaml.safe_load does in pure Python, several times faster).
        buildspec = yaml.load(inputs["source"]["buildspec"], Loader=yaml.CSafeLoader)  # noqa: S506 - a safe loader
        out[inputs["name"]] = Step(inputs["name"], inputs["serviceRole"], buildspec, passed.get(inputs["name"], ()))
    return out


@dataclass
class Run:
    code: int
    stdout: str
    calls: list[tuple[Caller, fake_aws.Call]] = field(default_factory=list)
    kubernetes: list[fake_kubectl.KubeRequest] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    """The stand-ins' command lines, in order (`aws ...`, `kubectl ...`)."""
    exported: dict[str, str] = field(default_factory=dict)
    """The buildspec's exported-variables as the step left them (what CodePipeline would put in its namespace)."""


def resolve(value: str, variables: Mapping[str, str]) -> str:
    """CodePipeline's variable syntax (#{Namespace.Name}) resolved as the pipeline would."""
    return VARIABLE.sub(lambda m: variables[m.group(1)], value)


def run_step(
    result: StackResult,
    project: str,
    cloud: fake_aws.FakeAws,
    *,
    variables: Mapping[str, str] | None = None,
    files: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    kubectl: fake_kubectl.FakeKubectl | None = None,
    source_version: str = "",
) -> Run:
    """Run the project's buildspec as CodeBuild would, in `cloud` (the stack's account, the caller being its role).
    `variables`: the pipeline's variables; None: a build started outside the pipeline (no action variables).
    `files`: the input artifact's files in the working directory."""
    step = steps(result)[project]
    work = cloud.state.parent / f"work-{project}"
    work.mkdir(exist_ok=True)
    for name, text in (files or {}).items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    (cloud.bin / "docker").write_text(DOCKER)
    (cloud.bin / "docker").chmod(0o755)
    fake_notation.install(cloud.bin)
    spec = step.buildspec
    environment = {k: str(v) for k, v in (spec.get("env", {}).get("variables") or {}).items()}
    if variables is not None:
        environment.update({name: resolve(value, variables) for name, value in step.action_variables})
    lines = ["CODEBUILD_BUILD_SUCCEEDING=1", 'FAILED=""']
    for phase in PHASES:
        for command in (spec["phases"].get(phase) or {}).get("commands", []):
            if command in DOWNLOADS:
                command = STAND_IN_INSTALL
            # CodeBuild runs each build in its own container, with its own /tmp; steps run here at once (pytest-xdist
            # workers) share this machine's, so the EKS step's manifests file goes into the step's own folder.
            command = command.replace(APPLIED_FILE, str(work / "applied.json"))
            if phase == "post_build":
                lines.append(f'{command}\nrc=$?; if [ $rc -ne 0 ]; then FAILED="${{FAILED:-$rc}}"; fi')
            else:
                # A failed command ends its phase and every later one but post_build.
                lines.append(f'if [ -z "$FAILED" ]; then\n{command}\nrc=$?; if [ $rc -ne 0 ]; then FAILED=$rc; CODEBUILD_BUILD_SUCCEEDING=0; fi\nfi')
    exported_file = work / "exported.env"
    exported_file.unlink(missing_ok=True)
    names = spec.get("env", {}).get("exported-variables") or []
    if names:
        lines.append(f'for v in {" ".join(names)}; do printf "%s=%s\\n" "$v" "${{!v:-}}"; done > {exported_file}')
    lines.append('exit "${FAILED:-0}"')
    process_env = {
        "PATH": f"{cloud.bin}:{os.environ['PATH']}",
        "HOME": str(work),
        "CODEBUILD_BUILD_ID": f"{project}:0d6f3c1e-1111-2222-3333-444455556666",
        "CODEBUILD_RESOLVED_SOURCE_VERSION": source_version,
        # The EKS step's alarm poll: its interval changes no behaviour, only the tests' time.
        "ALARM_POLL_SECONDS": "0.05",
        **cloud.env(),
        **(kubectl.env() if kubectl else {}),
        **environment,
        **(env or {}),
    }
    commands_log = cloud.state / "calls"
    before = len(commands_log.read_text().splitlines()) if commands_log.exists() else 0
    proc = subprocess.run(["bash", "-c", "\n".join(lines)], cwd=work, env={"CALLS": str(commands_log), **process_env}, capture_output=True, text=True, timeout=120)
    commands = commands_log.read_text().splitlines()[before:] if commands_log.exists() else []
    caller = caller_of(result, step.role_arn)
    calls = [(Caller(caller.role_arn, c.account, c.region, caller.partition), c) for c in cloud.calls()]
    cloud.clear_calls()
    kube = kubectl.requests() if kubectl else []
    exported = dict(line.split("=", 1) for line in exported_file.read_text().splitlines()) if exported_file.exists() else {}
    return Run(proc.returncode, proc.stdout + proc.stderr, calls, kube, commands, exported)


# -- Lambda functions ------------------------------------------------------------------------------


Responder = Callable[[str, str, dict], dict]
"""(service, operation, params) -> the parsed response the call gets."""


@dataclass(frozen=True)
class Function:
    name: str
    role_arn: str
    handler: str
    environment: dict[str, str]


def functions(result: StackResult) -> dict[str, Function]:
    return {
        f.inputs["name"]: Function(f.inputs["name"], f.inputs["role"], f.inputs["handler"], dict(f.inputs["environment"]["variables"]))
        for f in result.of_type("aws:lambda/function:Function")
    }


def run_function(result: StackResult, name: str, event: dict, responder: Responder) -> tuple[Any, list[tuple[Caller, fake_aws.Call]]]:
    """Invoke the function's real handler with its environment; every AWS call goes to `responder`."""
    function = functions(result)[name]
    caller = caller_of(result, function.role_arn)
    calls: list[tuple[Caller, fake_aws.Call]] = []
    real_client = boto3.client

    def client(service: str, *args: Any, **kwargs: Any):
        made = real_client(service, region_name=caller.region, aws_access_key_id="testing", aws_secret_access_key="testing")

        def keep(params, context, **_):
            # The API input, as the function passed it (before-call sees the serialized request instead).
            context["api_params"] = dict(params)

        def answer(model, context, **_):
            params = context["api_params"]
            calls.append((caller, fake_aws.Call(caller.account, caller.region, service, model.name, params)))
            return (_Http(), responder(service, model.name, params))

        made.meta.events.register("before-parameter-build", keep)
        made.meta.events.register("before-call", answer)
        return made

    module_name, handler_name = function.handler.rsplit(".", 1)
    # A function packaged as one file of functions/ has its module at the archive's root.
    module_name = module_name if module_name.startswith("functions.") else f"functions.{module_name}"
    module = __import__(module_name, fromlist=[handler_name])
    with mock.patch.dict(os.environ, function.environment), mock.patch("boto3.client", client):
        answer = getattr(module, handler_name)(event, None)
    return answer, calls


class _Http:
    status_code = 200
    headers: dict = {}
    content = b""


# -- what IAM and the cluster are asked ------------------------------------------------------------


def iam_requests(results: tuple[StackResult, ...] | list[StackResult], caller: Caller, call: fake_aws.Call) -> list[Request]:
    """The IAM requests one call makes (in the region it went to), with those a service makes on the caller's
    behalf: S3 asks KMS for a data key to encrypt an object under the bucket's default SSE-KMS key."""
    at = Caller(caller.role_arn, caller.account, call.region, caller.partition)
    out = [requests_for(call.service, call.operation, call.params, at)]
    if (call.service, call.operation) == ("s3", "PutObject"):
        out += _sse_kms(results, at, call.params["Bucket"], call.params["Key"])
    if (call.service, call.operation) == ("s3", "GetObject"):
        out += _sse_kms(results, at, call.params["Bucket"], call.params["Key"], "kms:Decrypt")
    return out


def _sse_kms(results, caller: Caller, bucket: str, key: str, action: str = "kms:GenerateDataKey") -> list[Request]:
    """kms:GenerateDataKey (a write) or kms:Decrypt (a read) through S3, as the caller: the encryption context is
    the bucket's ARN with an S3 Bucket Key, the object's without
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html)."""
    for result in results:
        for config in result.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"):
            if config.inputs["bucket"] != bucket:
                continue
            [rule] = config.inputs["rules"]
            default = rule["applyServerSideEncryptionByDefault"]
            if default.get("sseAlgorithm") != "aws:kms":
                return []
            context_arn = f"arn:{caller.partition}:s3:::{bucket}" if rule.get("bucketKeyEnabled") else f"arn:{caller.partition}:s3:::{bucket}/{key}"
            context = {
                "kms:EncryptionContext:aws:s3:arn": context_arn,
                "kms:ViaService": f"s3.{caller.region}.amazonaws.com",
                "kms:CallerAccount": caller.account,
            }
            return [Request(action, (default["kmsMasterKeyId"],), context)]
    raise AssertionError(f"no encryption configuration for bucket {bucket} in the stacks")


# Kubernetes' default RBAC: every authenticated identity may ask what it may do (system:basic-user).
SELF_REVIEW = fake_kubectl.Grant(({"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]},), None)


def kubernetes_grants(result: StackResult, role_arn: str) -> list[fake_kubectl.Grant]:
    """What the role holds in the cluster: its access policies with their scope, and the Roles the stack's
    clusterAdministratorManifests output binds to its access entry's groups (what an existing cluster's
    administrators apply)."""
    grants = [SELF_REVIEW]
    groups = {g for e in result.of_type("aws:eks/accessEntry:AccessEntry") if e.inputs["principalArn"] == role_arn for g in e.inputs.get("kubernetesGroups") or []}
    items = yaml.safe_load(result.outputs.get("clusterAdministratorManifests") or "items: []")["items"]
    roles = {(i["metadata"]["namespace"], i["metadata"]["name"]): i["rules"] for i in items if i["kind"] == "Role"}
    for binding in (i for i in items if i["kind"] == "RoleBinding"):
        if any(s["kind"] == "Group" and s["name"] in groups for s in binding["subjects"]):
            namespace = binding["metadata"]["namespace"]
            grants.append(fake_kubectl.Grant(tuple(roles[(namespace, binding["roleRef"]["name"])]), (namespace,)))
    for association in result.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation"):
        if association.inputs["principalArn"] != role_arn:
            continue
        scope = association.inputs["accessScope"]
        rules = tuple(RULES[association.inputs["policyArn"].rsplit("/", 1)[-1]])
        grants.append(fake_kubectl.Grant(rules, None if scope["type"] == "cluster" else tuple(scope["namespaces"])))
    return grants
