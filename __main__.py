"""container-cicd: source -> build -> registry -> pipeline -> deploy target, one stack per environment (or
promoted from another stack's verified images instead of built: promoteFrom), for one service or several
(`services`: one pipeline each, sharing the network, the load balancer and the cluster).

The composition is program/: shared.py (the stack's shared parts), service.py (one service's parts)."""

import sys

if sys.version_info < (3, 11):  # noqa: UP036 - before anything that needs 3.11 is imported
    sys.exit(f"container-cicd needs Python 3.11 or newer; this is {sys.version.split()[0]}. Point Pulumi at a newer python3.")

import pulumi  # noqa: E402

from components.naming import physical_name  # noqa: E402
from components.safety.dashboard import Dashboard, DashboardArgs  # noqa: E402
from components.settings import load_settings  # noqa: E402
from program.service import build_service, connect_shared_nodes, origin_exports, path_router, service_exports  # noqa: E402
from program.shared import build_shared  # noqa: E402

settings = load_settings()
shared = build_shared(settings)
# Every service's target attaches itself inside this block; its end settles the listener's default action.
with shared.load_balancer.attaching():
    services = [build_service(service, shared) for service in settings.service_list]
connect_shared_nodes(shared, services)
path_router(shared, services)

dashboard = Dashboard(
    "dashboard",
    DashboardArgs(
        dashboard_name=physical_name(settings.prefix, "delivery", 255),
        sections=[parts.dashboard for parts in services],
        scan_panels=settings.supply.scans,
    ),
)

pulumi.export("notificationTopicArn", shared.notifications.topic_arn)
pulumi.export("dashboardUrl", dashboard.dashboard_url)
if shared.records is not None:
    pulumi.export("recordsBucket", shared.records.bucket_name)
if settings.network.service_domain:
    # What serviceDomain points at (serviceUrl names serviceDomain): for a record kept outside the stack.
    pulumi.export("loadBalancerDnsName", shared.load_balancer.dns_name)
if services[0].standby is not None and not settings.services:
    # Check it before the switch's second step: aws elbv2 describe-target-health --target-group-arn <this>
    pulumi.export("nextTargetGroupArn", services[0].standby.attachment.target_group_arn)
if not settings.services:
    # A stack of one service: its outputs as they have always been, at the top level.
    for output, value in service_exports(services[0]).items():
        pulumi.export(output, value)
else:
    # Each service's outputs under its name.
    pulumi.export("services", {parts.service.name: service_exports(parts) for parts in services})
for output, value in origin_exports(services, implicit=not settings.services).items():
    pulumi.export(output, value)
