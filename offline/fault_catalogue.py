"""The fault list: every named source mutation the suite must catch (run by offline/faults.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    name: str
    kind: str
    """The class of mistake: iam, ordering, network, alarm, protection, logs, encryption, naming, deploy, policy, time, supply."""
    file: str
    """Path relative to the repository root."""
    old: str
    """Exact text that must occur once in `file`."""
    new: str


FAULTS: tuple[Fault, ...] = (
    # IAM: a role loses an action it needs.
    Fault("artifact-key-loses-generate-data-key", "iam", "components/delivery/artifacts.py", '"Action": ["kms:Decrypt", "kms:GenerateDataKey"],', '"Action": ["kms:Decrypt"],'),
    Fault("build-role-loses-put-image", "iam", "components/delivery/build.py", '                "ecr:PutImage",\n', ""),
    Fault(
        "pipeline-loses-batch-get-builds",
        "iam",
        "components/delivery/build.py",
        '"Action": ["codebuild:StartBuild", "codebuild:BatchGetBuilds"],',
        '"Action": ["codebuild:StartBuild"],',
    ),
    Fault("pipeline-loses-upload-archive", "iam", "components/delivery/source.py", '                    "codecommit:UploadArchive",\n', ""),
    Fault("log-writers-lose-put-log-events", "iam", "components/iam.py", '"Action": ["logs:CreateLogStream", "logs:PutLogEvents"],', '"Action": ["logs:CreateLogStream"],'),
    # IAM: a grant loses the condition that confines it.
    Fault(
        "collector-kms-grant-without-encryption-context",
        "iam",
        "components/promotion/collector.py",
        '            "Condition": {"StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")]}},\n',
        "",
    ),
    # Ordering: a dependency the engine needs is lost.
    Fault(
        "service-without-listener-dependency",
        "ordering",
        "components/deploy/ecs/target.py",
        "depends_on=[*attachment.ready, *port_rules, *(shifting.depends_on if shifting else ())]",
        "depends_on=[*port_rules, *(shifting.depends_on if shifting else ())]",
    ),
    Fault(
        "service-without-port-rule-dependency",
        "ordering",
        "components/deploy/ecs/target.py",
        "depends_on=[*attachment.ready, *port_rules, *(shifting.depends_on if shifting else ())]",
        "depends_on=[*attachment.ready, *(shifting.depends_on if shifting else ())]",
    ),
    Fault("role-arn-without-policy", "ordering", "components/iam.py", "arn=_once_granted(role.arn, policy)", "arn=role.arn"),
    Fault(
        "composite-alarm-before-its-alarms",
        "ordering",
        "components/safety/alarms.py",
        "opts=pulumi.ResourceOptions(parent=self, depends_on=alarms),",
        "opts=pulumi.ResourceOptions(parent=self),",
    ),
    Fault("trail-before-bucket-policy", "ordering", "components/safety/audit.py", "depends_on=[bucket_policy, key]", "depends_on=[key]"),
    Fault(
        "eks-cluster-before-its-log-group",
        "ordering",
        "components/deploy/eks/cluster.py",
        "depends_on=[*attachments, log_group]",
        "depends_on=attachments",
    ),
    # Network: wider or different exposure.
    Fault("alb-ingress-widened", "network", "components/network/loadbalancer.py", "cidr_ipv4=None if ipv6 else cidr,", 'cidr_ipv4=None if ipv6 else "0.0.0.0/0",'),
    Fault(
        "port-rules-updated-in-place",
        "network",
        "components/network/attach.py",
        'CONTAINER_PORT_RULE = pulumi.ResourceOptions(replace_on_changes=["from_port", "to_port"])',
        "CONTAINER_PORT_RULE = pulumi.ResourceOptions()",
    ),
    Fault(
        "next-target-group-gets-traffic",
        "network",
        "components/network/attach.py",
        '*({"arn": group.arn, "weight": 0} for group in standby)',
        '*({"arn": group.arn, "weight": 100} for group in standby)',
    ),
    Fault(
        "target-group-loses-its-old-urn",
        "network",
        "components/network/loadbalancer.py",
        'aliases=None if args.standby else [pulumi.Alias(name=f"{args.name}-tg")],',
        "aliases=None,",
    ),
    Fault("https-listener-port-changed", "network", "components/network/loadbalancer.py", "                port=443,\n", "                port=8443,\n"),
    Fault("service-url-names-the-alb", "network", "components/network/loadbalancer.py", "concat(scheme, args.service_domain or alb.dns_name)", "concat(scheme, alb.dns_name)"),
    Fault("https-without-service-domain-accepted", "network", "components/settings/domain.py", "    elif certificate:\n", "    elif False:\n"),
    Fault("dns-record-overwrites", "network", "components/network/dns.py", "        type=RECORD_TYPE,\n", "        type=RECORD_TYPE,\n        allow_overwrite=True,\n"),
    Fault("dns-zone-not-checked", "network", "components/network/dns.py", "    if problem:\n        raise ZoneMismatch", "    if False:\n        raise ZoneMismatch"),
    Fault("service-gets-public-ip", "network", "components/deploy/ecs/target.py", '"assign_public_ip": False,', '"assign_public_ip": True,'),
    # Alarms: one that means the opposite.
    Fault(
        "unhealthy-targets-operator-flipped",
        "alarm",
        "components/safety/alarms.py",
        '"comparison_operator": "GreaterThanOrEqualToThreshold",',
        '"comparison_operator": "LessThanThreshold",',
    ),
    # Protection and retention of stateful resources.
    Fault(
        "registry-not-protected",
        "protection",
        "components/delivery/registry.py",
        "opts=pulumi.ResourceOptions(parent=self, protect=args.production),",
        "opts=pulumi.ResourceOptions(parent=self),",
    ),
    Fault("build-log-retention-removed", "logs", "components/delivery/build.py", "            retention_in_days=args.log_retention_days,\n", ""),
    Fault(
        "eks-control-plane-log-group-kept-outside-production",
        "logs",
        "components/deploy/eks/cluster.py",
        "retain_on_delete=logs.production)",
        "retain_on_delete=True)",
    ),
    Fault(
        "eks-retired-kubernetes-version-allowed",
        "deploy",
        "components/settings/constants.py",
        'EKS_KUBERNETES_VERSIONS = ("1.35", "1.36")',
        'EKS_KUBERNETES_VERSIONS = ("1.34", "1.35", "1.36")',
    ),
    Fault("eks-support-end-not-warned", "deploy", "components/deploy/eks/target.py", "            pulumi.log.warn(notice, resource=self)\n", "            pass\n"),
    Fault(
        "eks-addon-unpinned",
        "deploy",
        "components/deploy/eks/insights.py",
        "        addon_version=CONTAINER_INSIGHTS_ADDON_VERSION,\n",
        "",
    ),
    # Encryption and transport.
    Fault(
        "artifact-bucket-tls-only-removed",
        "encryption",
        "components/delivery/artifacts.py",
        "policy=policy_document(tls_only_statements(bucket.arn)),",
        "policy=policy_document([]),",
    ),
    Fault("key-rotation-off", "encryption", "components/kms.py", "enable_key_rotation=True,", "enable_key_rotation=False,"),
    Fault("image-scanning-off", "encryption", "components/delivery/registry.py", '{"scan_on_push": True}', '{"scan_on_push": False}'),
    # Naming: a physical name that no longer derives from the stack.
    Fault(
        "alarm-names-fixed",
        "naming",
        "components/safety/alarms.py",
        'return tuple(physical_name(prefix, f"alarm-{kind}", 255) for kind in KINDS)',
        'return tuple(f"alarm-{kind}" for kind in KINDS)',
    ),
    # Deployment safety.
    Fault(
        "next-target-beside-a-canary",
        "deploy",
        "components/settings/parse.py",
        '    if strategy.shifts_traffic:\n        raise _fail(\n            "nextDeployTarget",',
        '    if False:\n        raise _fail(\n            "nextDeployTarget",',
    ),
    Fault(
        "circuit-breaker-does-not-roll-back",
        "deploy",
        "components/deploy/ecs/target.py",
        'deployment_circuit_breaker={"enable": True, "rollback": True},',
        'deployment_circuit_breaker={"enable": True, "rollback": False},',
    ),
    Fault(
        "smoke-test-accepts-4xx",
        "deploy",
        "functions/ecs_smoke_test.py",
        "return self.status is not None and 200 <= self.status <= 399",
        "return self.status is not None and 200 <= self.status <= 499",
    ),
    Fault("revert-tag-matches-anywhere-in-the-commit", "deploy", "tools/revert.py", "if revision_id.startswith(tag):", "if tag in revision_id:"),
    Fault("tags-mutable", "deploy", "components/delivery/registry.py", 'image_tag_mutability="IMMUTABLE",', 'image_tag_mutability="MUTABLE",'),
    Fault("deployed-by-tag", "deploy", "components/delivery/buildspec.py", """'IMAGE_URI="$REPOSITORY_URI@$IMAGE_DIGEST"',""", """'IMAGE_URI="$REPOSITORY_URI:$IMAGE_TAG"',"""),
    Fault(
        "deployed-tag-without-media-type",
        "deploy",
        "components/delivery/image_record.py",
        """'--image-manifest "$MANIFEST" --image-manifest-media-type "$MEDIA_TYPE" > /dev/null'""",
        """'--image-manifest "$MANIFEST" > /dev/null'""",
    ),
    # Policy pack: a rule exempts what it must refuse.
    Fault(
        "traffic-shift-rule-exempts-blue-green",
        "policy",
        "policy/rules/ecs.py",
        'if strategy in (None, "ROLLING"):',
        'if strategy in (None, "ROLLING", "BLUE_GREEN"):',
    ),
    Fault(
        "traffic-shift-rule-exempts-linear",
        "policy",
        "policy/rules/ecs.py",
        'if strategy in (None, "ROLLING"):',
        'if strategy in (None, "ROLLING", "LINEAR"):',
    ),
    # Would AWS allow it, in the right account, and is "known good" only what passed its bake.
    Fault(
        "verifier-describe-without-its-service",
        "iam",
        "components/deploy/ecs/verify.py",
        '"Resource": [context.arn("ecs", f"service-deployment/{cluster_name}/{service_name}/*"), service],',
        '"Resource": context.arn("ecs", f"service-deployment/{cluster_name}/{service_name}/*"),',
    ),
    Fault(
        "existing-cluster-without-deploy-group",
        "rbac",
        "components/deploy/eks/target.py",
        "kubernetes_groups=[manifests.deploy_group(args.name_prefix)] if args.existing_cluster_name else None,",
        "kubernetes_groups=None,",
    ),
    Fault(
        "image-lookup-in-the-callers-registry",
        "accounts",
        "components/delivery/image_record.py",
        "f'IMAGE_DETAILS=\"$(aws ecr describe-images --registry-id {registry_id(repository_url)} --repository-name {shlex.quote(repository_name)} '",
        "f'IMAGE_DETAILS=\"$(aws ecr describe-images --repository-name {shlex.quote(repository_name)} '",
    ),
    Fault(
        "eks-restores-the-deployed-record",
        "rollback",
        "components/deploy/eks/deploy_step.py",
        "f'KNOWN_GOOD=\"$(aws ssm get-parameter --name {q(known_good_parameter)} --query Parameter.Value --output text)\" '",
        "f'KNOWN_GOOD=\"$(aws ssm get-parameter --name {q(record_parameter)} --query Parameter.Value --output text)\" '",
    ),
    Fault(
        "release-without-checking-what-runs",
        "rollback",
        "components/delivery/image_record.py",
        '            \'[ "$RUNNING" = "$IMAGE_URI" ] || { echo "Release: $IMAGE_URI passed its bake, but $RUNNING runs now (deployed-image); '
        "not recorded as known good\"; exit 1; }',\n",
        "",
    ),
    Fault("kubectl-skew-unchecked", "deploy", "components/deploy/eks/deploy_step.py", 'if [ "${{SKEW#-}}" -gt {KUBECTL_SKEW} ]', 'if [ "${{SKEW#-}}" -gt 9 ]'),
    # Time: each wait's budget against its worst case (tests/test_time_budgets.py).
    Fault(
        "ecs-service-waits-the-provider-default",
        "time",
        "components/deploy/ecs/progressive.py",
        "return max(PROVIDER_SERVICE_WAIT_MINUTES, strategy.worst_case.minutes + SERVICE_WAIT_MARGIN_MINUTES)",
        "return PROVIDER_SERVICE_WAIT_MINUTES",
    ),
    Fault(
        "smoke-hook-ignores-lambda-init",
        "time",
        "components/deploy/ecs/progressive.py",
        "invocation = INIT_LIMIT_SECONDS + smoke_test_timeout_seconds(n_paths)",
        "invocation = smoke_test_timeout_seconds(n_paths)",
    ),
    Fault("verifier-waits-in-the-wrong-unit", "time", "functions/ecs_verify_deployment.py", "if waited >= max_wait:", "if waited >= max_wait * 60:"),
    Fault(
        "eks-deploy-step-short-of-its-calls",
        "time",
        "components/deploy/eks/target.py",
        "timeout_minutes=workload.deployment_timeout_minutes * 2 + 20 +",
        "timeout_minutes=workload.deployment_timeout_minutes * 2 + 10 +",
    ),
    Fault("bake-shorter-than-its-alarm", "time", "components/settings/safety.py", "if 0 < bake_time < ALARM_DETECTION_MINUTES:", "if 0 < bake_time < 1:"),
    # Alarm: the window with the alarm gate is checked only on entry (a late approval deploys at night).
    Fault("window-not-checked-again-on-success", "alarm", "components/delivery/pipeline.py", 'on_success=_merge(stage, "on_success", success),', "on_success=stage.on_success,"),
    # Canary analysis (issue 21): the judge compares the new revision with the old one on the same minutes.
    Fault("judge-compares-canary-with-itself", "deploy", "functions/ecs_canary_hook.py", "judge(series[new], series[old], rules)", "judge(series[new], series[new], rules)"),
    Fault(
        "judge-not-enough-traffic-ignores-the-setting",
        "deploy",
        "functions/canary_judge.py",
        "return Judgement(Verdict.NOT_ENOUGH_TRAFFIC, reason, rules.not_enough_traffic is NotEnoughTraffic.ROLLBACK)",
        "return Judgement(Verdict.NOT_ENOUGH_TRAFFIC, reason, False)",
    ),
    Fault("judge-fails-a-shared-outage", "deploy", "functions/canary_judge.py", "return max(baseline * (1 + tolerance_percent / 100), floor)", "return floor"),
    Fault("judge-hook-at-the-wrong-stage", "deploy", "components/deploy/ecs/judge.py", "JUDGE_STAGE = STAGE", 'JUDGE_STAGE = "POST_PRODUCTION_TRAFFIC_SHIFT"'),
    Fault("judge-loses-get-metric-data", "iam", "components/deploy/ecs/judge.py", '"Action": "cloudwatch:GetMetricData"', '"Action": "cloudwatch:GetMetricStatistics"'),
    Fault("worst-case-without-the-judge", "time", "components/settings/duration.py", "    if judged and shifts:\n", "    if False:\n"),
    # DORA metrics (tools/dora_metrics.py, tools/dora.py): a failure counted as success (CodePipeline's status
    # is "Failed", so an ECS bake failure after a green record would pass), a revert not counted as rework,
    # records taken in the order read instead of by time, and a promoting stack's commits looked up in its own pipeline.
    Fault("dora-bake-failure-counted-as-success", "deploy", "tools/dora_metrics.py", 'FAILED_EXECUTION = "Failed"', 'FAILED_EXECUTION = "FAILED"'),
    Fault("dora-revert-not-rework", "deploy", "tools/dora_metrics.py", 'rework = "revert"', "rework = None"),
    Fault(
        "dora-records-in-the-order-read",
        "deploy",
        "tools/dora_metrics.py",
        'return sorted(kept.values(), key=lambda r: (r["finished"], r["started"], r["deployment"])), ignored',
        "return list(kept.values()), ignored",
    ),
    Fault(
        "dora-promotion-lead-time-from-own-pipeline",
        "deploy",
        "tools/dora.py",
        "commits = stack_target(upstream, settings.service_name, project, region).pipeline",
        "commits = own.pipeline",
    ),
    # Supply chain (building stack): the build stops signing, VerifyImage stops checking the signature or the scan's
    # counts, or a threshold lets its own severity through.
    Fault("build-does-not-sign", "supply", "components/delivery/buildspec.py", "                    *sign,\n", ""),
    Fault("verify-image-skips-the-signature", "supply", "components/supply/verify.py", 'notation.verify_commands("IMAGE_URI", [profile_arn])', '["true"]'),
    Fault(
        "verify-image-ignores-the-findings",
        "supply",
        "components/supply/verify.py",
        "'if [ -n \"$FOUND\" ]; then SCAN_VERDICT=BLOCKED; else SCAN_VERDICT=PASSED; fi'",
        "'SCAN_VERDICT=PASSED'",
    ),
    Fault("threshold-lets-its-own-severity-through", "supply", "components/settings/supply.py", "if s.rank <= self.threshold.rank}", "if s.rank < self.threshold.rank}"),
    Fault("verify-image-cannot-check-revocation", "iam", "components/supply/gate.py", "statements += verify_statements([profile_arn])", "pass"),
    # Supply chain, promotion and EKS: the promoting stack's Check and the EKS deploy step keep the gate.
    Fault("check-skips-the-signature", "supply", "components/promotion/check.py", "lines += signature_lines(profile_arn)", "lines += []"),
    Fault("eks-applies-before-verifying", "supply", "components/deploy/eks/deploy_step.py", "        *_verify_lines(verify),\n", ""),
    Fault(
        "rescan-ignores-the-threshold",
        "supply",
        "components/promotion/rescan.py",
        "levels = json.dumps([s.value for s in Severity if s.rank <= threshold.rank])",
        "levels = json.dumps([Severity.CRITICAL.value])",
    ),
    Fault(
        "upstream-sboms-not-decryptable",
        "iam",
        "components/promotion/share.py",
        '"Action": "kms:Decrypt",\n            "Resource": "*",',
        '"Action": "kms:DescribeKey",\n            "Resource": "*",',
    ),
    # Supply chain, visibility: a blocked image unreported, an unscanned production pipeline passing the pack, the ECS record without the gate's evidence.
    Fault("image-blocked-rule-without-verify-image", "alarm", "components/safety/notifications.py", '"VerifyImage", "CheckVerified")', '"CheckVerified")'),
    Fault("supply-gate-rule-passes-without-scan", "policy", "policy/rules/codepipeline.py", "        if not scanned:", "        if not (scanned or verified):"),
    Fault("ecs-record-without-the-gate-variables", "deploy", "components/deploy/ecs/verify.py", '{"sbom": gate.sbom_uri, "scan": gate.scan_verdict} if gate else {}', "{}"),
    # Signature lifetime: the build leaves its signature untagged (the untagged rule expires it while the image is kept),
    # or the lifecycle policy's first rule no longer holds the signature tags.
    Fault("build-does-not-tag-the-signature", "supply", "components/supply/notation.py", "        *keep_signature_commands(profile_arn, image_var),\n", ""),
    Fault("signature-rule-misses-the-signatures", "supply", "components/delivery/registry.py", '[f"{SIGNATURE_TAG_PREFIX}*"]', '["signature-*"]'),
    # Services plan (offline plan, cost, change model): a resource attributed to a shorter service name, savings
    # counting every line as shared, tasks of two services of one size counted once, a renamed component's children
    # or generated names not followed.
    Fault(
        "services-owner-by-shortest-name",
        "naming",
        "offline/plan/services.py",
        "names = sorted(named_services(result.config), key=len, reverse=True)",
        "names = sorted(named_services(result.config), key=len)",
    ),
    Fault(
        "savings-count-every-line-as-shared",
        "policy",
        "offline/cost.py",
        "shared = [line for line in estimate.lines if line.item.startswith(SHARED_ITEMS)]",
        "shared = list(estimate.lines)",
    ),
    Fault("listener-rule-owned-by-its-tag", "naming", "offline/plan/services.py", "        if len(targets) == 1 and None not in targets:", "        if False:"),
    Fault("eks-nodes-for-the-first-service-only", "policy", "offline/cost.py", "    for service in settings.service_list:", "    for service in settings.service_list[:1]:"),
    Fault("fargate-tasks-of-one-size-counted-once", "policy", "offline/cost.py", "found[item] = (quantity + count, ", "found[item] = (count, "),
    Fault(
        "alias-rename-ignores-the-child-name",
        "naming",
        "offline/changes.py",
        'names = {parent_urn.rsplit("::", 1)[1] + r.name[len(parent.name) :] if r.name.startswith(parent.name) else r.name}',
        "names = {r.name}",
    ),
    Fault(
        "aliased-resource-gets-a-new-generated-name",
        "naming",
        "offline/changes.py",
        "reasons = replace_reasons(old, replace(r, inputs=_renamed(r.inputs, kept)) if kept else r) if r.custom else []",
        "reasons = replace_reasons(old, r) if r.custom else []",
    ),
)
