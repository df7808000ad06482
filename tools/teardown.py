"""Empty what stops `pulumi destroy` of exactly one stack, then print the command that destroys it.

    venv/bin/python -m tools.teardown --stack dev          # dry run (the default): prints each step, changes nothing
    venv/bin/python -m tools.teardown --stack dev --yes    # performs the steps, printing each before it runs

It reads the stack's state (`pulumi stack export`), which names every resource the stack created, and
acts only on those: its versioned buckets (artifacts, audit and access logs, the promotion inbox) lose
every object version and delete marker; its own ECR repository, when the stack builds, loses its images
(a stack with a `services` list: every service's repository, project-stack-<service>, each checked against its
service's repositoryUrl in the `services` output); its load balancer's deletion protection is turned off. The
registry a promoting stack pulls from (repositoryUrl names the upstream's) is never touched. Log groups need no
step: `pulumi destroy` deletes those the state holds, every service's included, whatever they contain. Resources marked `protect` are listed with the
command that lifts it; the tool never lifts it, and --yes refuses while any remains.

Exit codes: 0 done (or the dry run printed); 64 usage error (arguments, stack file); 2 refused, nothing
changed (the state or outputs name another stack's or account's resources, or protected resources
remain); 1 an AWS or Pulumi CLI error (steps printed before it ran).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.stack import ROOT, UsageError, read_settings, tool_parser

EXIT_DONE, EXIT_AWS_ERROR, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2, 64
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
STEP_KINDS = ("bucket", "repository", "load-balancer")
REPOSITORY_TYPE = "aws:ecr/repository:Repository"
LOAD_BALANCER_TYPES = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
STACK_TYPE = "pulumi:pulumi:Stack"
# DeleteObjects takes at most 1,000 keys, BatchDeleteImage at most 100 image ids, ListImages returns at most 1,000.
S3_BATCH, ECR_BATCH, ECR_LIST = 1000, 100, 1000
# What the operator's credentials must allow: the API call -> the IAM action it is authorized as
# (Service Authorization Reference). DeleteObjects with version ids is authorized as DeleteObjectVersion per
# key; ListObjectVersions as ListBucketVersions. GetCallerIdentity needs no permission (STS API reference).
NEEDS_NO_PERMISSION = (("sts", "GetCallerIdentity"),)
IAM_ACTIONS: dict[tuple[str, str], str] = {
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "DeleteObjects"): "s3:DeleteObjectVersion",
    ("ecr", "ListImages"): "ecr:ListImages",
    ("ecr", "BatchDeleteImage"): "ecr:BatchDeleteImage",
    ("elasticloadbalancing", "DescribeLoadBalancerAttributes"): "elasticloadbalancing:DescribeLoadBalancerAttributes",
    ("elasticloadbalancing", "ModifyLoadBalancerAttributes"): "elasticloadbalancing:ModifyLoadBalancerAttributes",
}


class Refused(Exception):
    """The state or the outputs name something that is not this stack's; nothing was changed."""


@dataclass(frozen=True)
class Step:
    kind: str
    """'bucket', 'repository' or 'load-balancer'."""
    name: str
    """Bucket name, repository name, or load balancer ARN."""
    urn: str


@dataclass(frozen=True)
class Plan:
    stack: str
    account: str
    region: str
    steps: tuple[Step, ...]
    protected: Mapping[str, str | None]
    """Resources marked `protect`: URN -> parent URN."""
    notes: tuple[str, ...]
    """What is left alone and why, and what `pulumi destroy` deletes with data."""


def _account_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def _region_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 and parts[3] else None


def _registry(url: str) -> tuple[str, str, str]:
    """(account, region, repository) of <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>."""
    host, _, repository = url.partition("/")
    labels = host.split(".")
    if len(labels) < 5 or labels[1:3] != ["dkr", "ecr"]:
        raise Refused(f"repositoryUrl {url!r} is not an ECR repository URL; nothing was changed")
    return labels[0], labels[3], repository


def plan(stack: str, project: str, prefixes: Mapping[str | None, str], promote_from: str | None, state: Mapping[str, Any], account: str, region: str) -> Plan:
    """The steps for exactly this stack, from its exported state; Refused when anything in it is another's.
    `prefixes`: the name of each service's own repository by the service's name in the `services` output (None:
    a stack without `services`, whose one service's outputs are the stack's)."""
    resources = (state.get("deployment") or {}).get("resources") or []
    own_urn = f"urn:pulumi:{stack}::{project}::"
    steps: list[Step] = []
    protected: dict[str, str | None] = {}
    notes: list[str] = []
    outputs: Mapping[str, Any] = {}
    for resource in resources:
        urn = str(resource.get("urn", ""))
        if not urn.startswith(own_urn):
            raise Refused(f"the state read for stack {stack} holds {urn}, which is not a resource of {project}/{stack}; nothing was changed")
        kind = resource.get("type", "")
        if kind == STACK_TYPE:
            outputs = resource.get("outputs") or {}
        if resource.get("protect"):
            protected[urn] = resource.get("parent")
        if not resource.get("custom") or resource.get("external"):
            continue  # components, and resources this stack only reads (they are not its own)
        out = resource.get("outputs") or {}
        arn = str(out.get("arn", ""))
        tag = (out.get("tags") or {}).get("stack")
        step = _step(kind, str(resource.get("id", "")), out, urn, tuple(prefixes.values()))
        if step is None:
            if kind == "aws:codecommit/repository:Repository":
                notes.append(f"pulumi destroy deletes the CodeCommit repository {resource.get('id')} with its history: push it elsewhere first if you need it")
            continue
        if tag not in (None, stack):
            raise Refused(f"{step.kind} {step.name} carries the tag stack={tag}, not stack={stack}; nothing was changed")
        # A bucket's ARN names neither: the provider's `region` attribute does, and every S3 call names the owner.
        in_region = _region_of(arn) or out.get("region")
        if _account_of(arn) not in (None, account) or in_region not in (None, region):
            raise Refused(
                f"{step.kind} {step.name} is in account {_account_of(arn) or account}, region {in_region or region}; the credentials are account {account}'s and the "
                f"stack file names region {region}: use the credentials of the stack's own account (aws sts get-caller-identity); nothing was changed"
            )
        steps.append(step)
    for service, prefix in prefixes.items():
        service_outputs = outputs if service is None else ((outputs.get("services") or {}).get(service) or {})
        notes += _check_outputs(stack, service, prefix, promote_from, service_outputs, steps, account)
    # The same steps in the same order whatever order the state lists its resources in.
    steps.sort(key=lambda s: (STEP_KINDS.index(s.kind), s.name))
    return Plan(stack, account, region, tuple(steps), protected, tuple(notes))


def _step(kind: str, id_: str, out: Mapping[str, Any], urn: str, prefixes: tuple[str, ...]) -> Step | None:
    if kind in BUCKET_TYPES:
        return Step("bucket", str(out.get("bucket") or id_), urn)
    if kind == REPOSITORY_TYPE:
        name = str(out.get("name"))
        if name not in prefixes:
            raise Refused(f"repository {name} in the state is not this stack's own ({', '.join(prefixes)}): check serviceName and services in the stack file; nothing was changed")
        return Step("repository", name, urn)
    if kind in LOAD_BALANCER_TYPES and out.get("enableDeletionProtection"):
        return Step("load-balancer", str(out.get("arn")), urn)
    return None


def _check_outputs(stack: str, service: str | None, prefix: str, promote_from: str | None, outputs: Mapping[str, Any], steps: list[Step], account: str) -> list[str]:
    """`outputs`: the stack's (service None), or a named service's in the `services` output."""
    url = outputs.get("repositoryUrl")
    if not isinstance(url, str) or not url:
        return []
    registry_account, _, repository = _registry(url)
    own = {s.name for s in steps if s.kind == "repository"}
    named = "repositoryUrl" if service is None else f"service {service}'s repositoryUrl"
    if promote_from is not None and repository not in own:
        return [f"left alone: repository {repository} (account {registry_account}), which {named} names, belongs to {promote_from}, the stack {stack} promotes from"]
    if repository != prefix or registry_account != account:
        whose = f"stack {stack}'s own" if service is None else f"service {service}'s own"
        raise Refused(f"{named} {url} names a repository that is not {whose} ({prefix} in account {account}); nothing was changed")
    if repository not in own:
        # An empty repository goes with the first `pulumi destroy`; the outputs name it until the stack is gone.
        return [f"repository {repository} is no longer in the state: already deleted"]
    return []


def describe(step: Step) -> str:
    if step.kind == "bucket":
        return f"empty bucket {step.name}: delete every object version and delete marker (S3 deletes only an empty bucket)"
    if step.kind == "repository":
        return f"empty repository {step.name}: delete every image (it is created with force_delete off)"
    return f"turn off deletion protection of load balancer {step.name} (AWS refuses to delete it while it is on)"


def empty_bucket(s3: Any, bucket: str, owner: str, dry_run: bool) -> str:
    """Delete every version and delete marker of `bucket` (owned by `owner`: S3 refuses a bucket of another account)."""
    deleted = 0
    try:
        if dry_run:
            return f"holds {_count_versions(s3, bucket, owner)} object versions and delete markers"
        while True:
            # The first page again after each delete: the listing shrinks as it is deleted.
            page = s3.list_object_versions(Bucket=bucket, ExpectedBucketOwner=owner, MaxKeys=S3_BATCH)
            items = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in (page.get("Versions") or []) + (page.get("DeleteMarkers") or [])]
            if not items:
                return f"deleted {deleted} object versions and delete markers"
            result = s3.delete_objects(Bucket=bucket, ExpectedBucketOwner=owner, Delete={"Objects": items, "Quiet": True})
            if result.get("Errors"):
                first = result["Errors"][0]
                raise RuntimeError(f"S3 refused to delete {first.get('Key')} version {first.get('VersionId')} in {bucket}: {first.get('Code')} {first.get('Message')}")
            deleted += len(items)
    except s3.exceptions.NoSuchBucket:
        return "already deleted"


def _count_versions(s3: Any, bucket: str, owner: str) -> int:
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, ExpectedBucketOwner=owner)
    return sum(len(p.get("Versions") or []) + len(p.get("DeleteMarkers") or []) for p in pages)


def empty_repository(ecr: Any, repository: str, account: str, dry_run: bool) -> str:
    """Delete every image of `repository` in `account`'s registry, 100 digests a call. ECR refuses to delete an
    image an image index lists while the index exists: a later round deletes it, and a round that deletes
    nothing fails."""
    deleted = 0
    try:
        if dry_run:
            pages = ecr.get_paginator("list_images").paginate(repositoryName=repository, registryId=account)
            return f"holds {len({i['imageDigest'] for p in pages for i in p.get('imageIds') or []})} images"
        while True:
            ids = ecr.list_images(repositoryName=repository, registryId=account, maxResults=ECR_LIST).get("imageIds") or []
            digests = sorted({i["imageDigest"] for i in ids})
            if not digests:
                return f"deleted {deleted} images"
            progress, failures = 0, []
            for start in range(0, len(digests), ECR_BATCH):
                batch = [{"imageDigest": d} for d in digests[start : start + ECR_BATCH]]
                result = ecr.batch_delete_image(repositoryName=repository, registryId=account, imageIds=batch)
                progress += len({i["imageDigest"] for i in result.get("imageIds") or []})
                failures += result.get("failures") or []
            if progress == 0:
                first = failures[0] if failures else {}
                raise RuntimeError(f"ECR deleted no image of {repository}: {first.get('failureCode')} {first.get('failureReason')}")
            deleted += progress
    except ecr.exceptions.RepositoryNotFoundException:
        return "already deleted"


def lift_deletion_protection(elbv2: Any, arn: str, dry_run: bool) -> str:
    try:
        attributes = elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    except elbv2.exceptions.LoadBalancerNotFoundException:
        return "already deleted"
    if not any(a["Key"] == "deletion_protection.enabled" and a["Value"] == "true" for a in attributes):
        return "deletion protection is already off"
    if dry_run:
        return "deletion protection is on"
    elbv2.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}])
    return "deletion protection turned off"


def run(session: Any, teardown: Plan, dry_run: bool, say: Callable[[str], None]) -> None:
    s3, ecr, elbv2 = session.client("s3"), session.client("ecr"), session.client("elbv2")
    for number, step in enumerate(teardown.steps, 1):
        say(f"{number}. {'[dry run] ' if dry_run else ''}{describe(step)}")
        if step.kind == "bucket":
            result = empty_bucket(s3, step.name, teardown.account, dry_run)
        elif step.kind == "repository":
            result = empty_repository(ecr, step.name, teardown.account, dry_run)
        else:
            result = lift_deletion_protection(elbv2, step.name, dry_run)
        say(f"   {result}")


def unprotect_commands(stack: str, protected: Mapping[str, str | None]) -> list[str]:
    """What `protect` blocks and the command that lifts it. `protected`: URN -> parent URN; a child
    inherits `protect` from its parent, so only the topmost protected resources are named."""
    if not protected:
        return []
    top = [urn for urn, parent in protected.items() if parent not in protected]
    return [
        f"{len(protected)} resources of {stack} are marked protect ({len(top)} shown; the others are their children); "
        "pulumi destroy refuses to delete them (and so the stack) while they are:",
        *(f"   {urn}" for urn in top),
        "Only after a deliberate decision that the stack's data may go, lift it (the tool never does):",
        f"   pulumi state unprotect --stack {stack} --all --yes",
    ]


def read_state(stack: str, root: Path) -> dict[str, Any]:
    """The stack's state as `pulumi stack export` prints it (secrets stay encrypted: none is needed)."""
    done = subprocess.run(["pulumi", "stack", "export", "--stack", stack], cwd=root, capture_output=True, text=True, check=False)  # noqa: S603, S607
    if done.returncode != 0:
        raise RuntimeError(f"pulumi stack export --stack {stack} failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


def parser() -> argparse.ArgumentParser:
    parser = tool_parser("python -m tools.teardown", __doc__ or "")
    parser.add_argument("--stack", required=True, help="Pulumi stack; its Pulumi.<stack>.yaml gives the region, and its state what it owns")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the steps and what each would delete, change nothing (the default)")
    mode.add_argument("--yes", action="store_true", help="perform the steps: deletes data for good")
    return parser


def _session(region: str | None) -> Any:
    import boto3.session

    return boto3.session.Session(region_name=region)


def main(
    argv: list[str] | None = None,
    session_factory: Callable[[str | None], Any] = _session,
    state_reader: Callable[[str, Path], Mapping[str, Any]] = read_state,
    root: Path = ROOT,
) -> int:
    try:
        args = parser().parse_args(argv)
        project, settings, region = read_settings(args.stack, root)
    except UsageError as error:
        print(f"teardown: {error}\n{parser().format_usage().rstrip()}", file=sys.stderr)
        return EXIT_USAGE
    dry_run = not args.yes
    # Each service's repository is named by its prefix (project-stack-<service>), as its pipeline is.
    prefixes = {None if entry.implicit else entry.name: entry.settings.prefix for entry in settings.service_list}
    try:
        session = session_factory(region)
        account = session.client("sts").get_caller_identity()["Account"]
        teardown = plan(args.stack, project, prefixes, settings.promotion.promote_from, state_reader(args.stack, root), account, region or session.region_name)
    except Refused as error:
        print(f"teardown: refused: {error}", file=sys.stderr)
        return EXIT_REFUSED
    except Exception as error:  # botocore ClientError, credentials, network, the Pulumi CLI: report, do not trace
        print(f"teardown: {error}", file=sys.stderr)
        return EXIT_AWS_ERROR
    print(f"Teardown of stack {args.stack} in account {teardown.account}, region {teardown.region}{' (dry run: nothing is changed)' if dry_run else ''}:")
    for note in teardown.notes:
        print(f"- {note}")
    unprotect = unprotect_commands(args.stack, teardown.protected)
    for line in unprotect:
        print(line)
    if unprotect and not dry_run:
        print(f"teardown: refused: {args.stack} still has protected resources; nothing was changed", file=sys.stderr)
        return EXIT_REFUSED
    try:
        run(session, teardown, dry_run, print)
    except Exception as error:  # as above: the step that failed is the last one printed
        print(f"teardown: AWS call failed: {error}", file=sys.stderr)
        return EXIT_AWS_ERROR
    if dry_run:
        print(f"Nothing was changed. To perform these steps: venv/bin/python -m tools.teardown --stack {args.stack} --yes")
    print(f"Then: pulumi destroy --stack {args.stack}")
    return EXIT_DONE


if __name__ == "__main__":
    sys.exit(main())
