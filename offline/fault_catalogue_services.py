"""The faults of many services in one stack (settings, pipelines, the load balancer's routing, the composition): the
second part of the fault list (offline/fault_catalogue.py holds the first), run by offline/faults.py."""

from __future__ import annotations

from offline.fault_catalogue import Fault

SERVICES_FAULTS: tuple[Fault, ...] = (
    # Many services in one stack (components/settings/services.py): a refusal that guards a real failure is lost, so two
    # services share a route or the default action, a rule priority, a name (their resources' names), more target groups
    # and rules than the load balancer takes, a switch of deployTarget, or each service names its own CodeCommit repository.
    Fault("services-duplicate-route-accepted", "network", "components/settings/services.py", "                if route in routes:\n", "                if False:\n"),
    Fault("services-two-defaults-accepted", "network", "components/settings/services.py", "    if len(defaults) > 1:\n", "    if len(defaults) > 2:\n"),
    Fault(
        "services-priority-clash-accepted",
        "network",
        "components/settings/services.py",
        "            if priority is not None and priority in priorities:\n",
        "            if False:\n",
    ),
    Fault("services-duplicate-name-accepted", "naming", "components/settings/services.py", "        if name is not None and name in named:\n", "        if False:\n"),
    Fault("services-over-the-alb-quota", "network", "components/settings/services.py", "    if count > MAX_SERVICES:\n", "    if count > 2 * MAX_SERVICES:\n"),
    Fault("services-with-next-target-accepted", "deploy", "components/settings/services.py", '    if raw.get("nextDeployTarget") not in (None, ""):\n', "    if False:\n"),
    Fault(
        "services-too-many-condition-values",
        "network",
        "components/settings/services.py",
        "    if len(hosts) + len(paths) > ALB_CONDITION_VALUES_PER_RULE:\n",
        "    if False:\n",
    ),
    Fault(
        "services-source-per-service-name",
        "naming",
        "components/settings/services.py",
        "        settings = replace(settings, source=replace(stack.source, file_paths=settings.source.file_paths))\n",
        "        pass\n",
    ),
    # Services' pipelines: the CodeCommit path router starts only the pipelines whose files a push changed, with the
    # rights it needs and no more, at the pushed commit; a routed pipeline has no start rule of its own; a promoting
    # service reads its same-named upstream service.
    Fault(
        "router-starts-every-pipeline",
        "deploy",
        "functions/path_router.py",
        "return [name for name, includes in filters.items() if not includes or any(matches(path, includes) for path in paths)]",
        "return list(filters)",
    ),
    Fault("router-star-crosses-directories", "deploy", "functions/path_router.py", 'out.append("[^/]*")', 'out.append(".*")'),
    Fault("router-rename-counts-only-the-new-path", "deploy", "functions/path_router.py", 'for side in ("beforeBlob", "afterBlob"):', 'for side in ("afterBlob",):'),
    Fault("router-reads-one-page-of-differences", "deploy", "functions/path_router.py", "if not token or len(", "if True or len("),
    Fault("router-ignores-the-branch", "deploy", "functions/path_router.py", '        or detail.get("referenceName") != env["BRANCH"]\n', ""),
    Fault(
        "router-role-loses-get-differences",
        "iam",
        "components/delivery/path_router.py",
        '        {"Sid": "ReadChangedFiles", "Effect": "Allow", "Action": "codecommit:GetDifferences", "Resource": repository_arn},\n',
        "",
    ),
    Fault("router-invocable-without-source-arn", "iam", "components/lambdas.py", "        source_arn=rule.arn,\n", ""),
    Fault(
        "routed-pipeline-keeps-its-start-rule",
        "deploy",
        "components/delivery/pipeline.py",
        "if args.source.start_event_pattern is not None and not args.started_by_router:",
        "if args.source.start_event_pattern is not None:",
    ),
    Fault("monorepo-created-by-every-service", "naming", "components/delivery/source.py", "if args.shared_repository is not None:", "if False:"),
    Fault("connection-created-by-every-service", "naming", "components/delivery/source.py", "elif args.shared_connection_arn is not None:", "elif False:"),
    Fault("promoting-service-reads-another-service", "deploy", "components/promotion/contract.py", "return contracts[service]", "return next(iter(contracts.values()))"),
    # Load-balancer attach and routing (issue 22): a routed rule loses its host, a routed ECS service no longer waits
    # for its rule, a default service's catch-all comes before the routes, the smoke test of a routed service misses
    # its host or its path.
    Fault(
        "routed-rule-without-its-host-condition",
        "network",
        "components/network/attach.py",
        '            conditions.append({"host_header": {"values": list(self.hosts)}})\n',
        "            pass\n",
    ),
    Fault(
        "service-not-depending-on-its-rule",
        "ordering",
        "components/network/loadbalancer.py",
        "            ready = [self._route_rule(args.name, route)]\n",
        "            self._route_rule(args.name, route)\n",
    ),
    Fault(
        "default-catch-all-before-the-routes",
        "network",
        "components/network/loadbalancer.py",
        "CATCH_ALL_AFTER_ROUTES if any(route is not None for route in routes) else CATCH_ALL_ALONE",
        "CATCH_ALL_ALONE",
    ),
    Fault(
        "smoke-test-without-the-host-header",
        "deploy",
        "functions/routed_smoke_test.py",
        '            request.add_unredirected_header("Host", self.host)\n',
        "            pass\n",
    ),
    Fault(
        "smoke-test-outside-the-routed-path",
        "deploy",
        "components/deploy/ecs/progressive.py",
        '"HEALTH_PATH": path_prefix + health_path,',
        '"HEALTH_PATH": health_path,',
    ),
    # The composition of many services (program/): each service wired to its own pipeline, target, cluster service or
    # namespace, rules and dashboard section, and nothing of another's; the entry named like serviceName adopting the
    # stack's resources; the stack's cluster opened once per port.
    Fault(
        "service-target-built-from-the-stack-settings",
        "naming",
        "program/service.py",
        'target = create_target(name("deploy"), settings, inputs, opts("deploy"))',
        'target = create_target(name("deploy"), stack, inputs, opts("deploy"))',
    ),
    Fault(
        "services-attach-as-the-default",
        "naming",
        "program/service.py",
        'attachment_name=None if service.implicit or adopts else name("deploy-lb"),',
        "attachment_name=None,",
    ),
    Fault("service-cluster-of-its-own", "naming", "program/service.py", "shared_cluster=_cluster(shared),", "shared_cluster=None,"),
    Fault(
        "ecs-failure-rule-matches-the-whole-cluster", "alarm", "components/deploy/ecs/target.py", 'failed if shared is None else failed | {"resources": [service.arn]}', "failed"
    ),
    Fault(
        "service-notifications-watch-the-stacks-pipeline",
        "alarm",
        "program/service.py",
        "        ServiceEvents(\n            pipeline_name=pipeline_name,",
        '        ServiceEvents(\n            pipeline_name=physical_name(stack.prefix, "pipeline", 100),',
    ),
    Fault(
        "router-starts-each-pipeline-on-every-push",
        "deploy",
        "program/service.py",
        "file_paths=parts.service.settings.source.file_paths)",
        "file_paths=())",
    ),
    Fault(
        "connection-pipelines-run-on-every-push",
        "deploy",
        "program/origin.py",
        "shared_source.for_paths(settings.source.file_paths) if shared_source is not None",
        "shared_source.contribution if shared_source is not None",
    ),
    Fault("dashboard-shows-one-service", "alarm", "__main__.py", "sections=[parts.dashboard for parts in services],", "sections=[services[0].dashboard],"),
    Fault(
        "eks-target-group-tagged-for-a-cluster-of-its-own",
        "network",
        "components/deploy/eks/target.py",
        "(shared.name if shared else created_cluster_name(args.name_prefix, args.network_variant))",
        "created_cluster_name(args.name_prefix, args.network_variant)",
    ),
    Fault("eks-services-each-open-the-shared-nodes", "network", "program/service.py", "workload_connected=shared.eks_cluster is not None,", "workload_connected=False,"),
    Fault("adopting-service-keeps-no-former-name", "naming", "program/naming.py", "    if not adopts_stack(service, stack_service_name):\n", "    if True:\n"),
    # Operator tools in a stack with services: --service ignored (the tool acts on the stack's serviceName pipeline),
    # not required, or a teardown that knows only the first service's registry.
    Fault("tools-service-ignored", "naming", "tools/stack.py", "                return entry.settings\n", "                return settings\n"),
    Fault("tools-service-not-required", "naming", "tools/stack.py", "        if service is None:\n", "        if False:\n"),
    Fault("teardown-first-service-only", "naming", "tools/teardown.py", "for entry in settings.service_list}", "for entry in settings.service_list[:1]}"),
)
