"""The safety part: notifications, alarm thresholds, the deploy gates (approval, bake time, window) and audit."""

from __future__ import annotations

import re

from components.settings.constants import ALARM_DETECTION_MINUTES
from components.settings.cron import CRON_EXAMPLE, deployment_window_cron_problem, time_zone_problem
from components.settings.model import AlarmThresholds, SafetySettings
from components.settings.reading import _enum, _fail, _in_range, _Reader

# An address, not a URI: no scheme (`mailto:`), no display name, no spaces; a dotted domain.
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_HTTPS_URL = re.compile(r"^https://[^\s/?#]+\.[^\s/?#]+(:\d+)?([/?#]\S*)?$")


def _safety(reader: _Reader, production: bool) -> SafetySettings:
    emails = tuple(reader.get("notificationEmails"))
    for email in emails:
        if not _EMAIL.match(email):
            raise _fail("notificationEmails", email, "allowed: a plain email address such as team@example.com (no 'mailto:', no name)", "write only the address")
    endpoints = tuple(reader.get("notificationHttpsEndpoints"))
    for url in endpoints:
        if not _HTTPS_URL.match(url):
            raise _fail("notificationHttpsEndpoints", url, "allowed: https:// URLs (plain http would carry notifications unencrypted)", "use the endpoint's https:// URL")
    if len(set(emails)) != len(emails) or len(set(endpoints)) != len(endpoints):
        key = "notificationEmails" if len(set(emails)) != len(emails) else "notificationHttpsEndpoints"
        raise _fail(key, list(reader.get(key)), "each subscriber once", "remove the duplicate")
    cron = reader.get("deploymentWindowCron") or None
    if cron is not None:
        problem = deployment_window_cron_problem(cron)
        if problem:
            raise _fail(
                "deploymentWindowCron",
                cron,
                problem,
                "write 'seconds minutes hours day-of-month month day-of-week [year]' with seconds '*' and "
                f"'?' in one day field, e.g. '{CRON_EXAMPLE}' (Monday to Thursday, 09:00-16:59)",
            )
    zone = reader.get("deploymentWindowTimeZone")
    problem = time_zone_problem(zone)
    if problem:
        raise _fail("deploymentWindowTimeZone", zone, problem, "set an IANA time zone name (python -c 'import zoneinfo; print(zoneinfo.available_timezones())' lists them)")
    if reader.is_set("deploymentWindowTimeZone") and cron is None:
        raise _fail("deploymentWindowTimeZone", zone, "only used with deploymentWindowCron", "set deploymentWindowCron too, or remove deploymentWindowTimeZone")
    bake_time = _in_range(reader, "bakeTimeMinutes")
    if reader.is_set("bakeTimeMinutes") and not production:
        raise _fail("bakeTimeMinutes", bake_time, "only used when production is true (dev deploys do not bake)", "remove bakeTimeMinutes, or set production to true")
    if 0 < bake_time < ALARM_DETECTION_MINUTES:
        raise _fail(
            "bakeTimeMinutes",
            bake_time,
            f"the bake watches the service alarm, which enters ALARM only after {ALARM_DETECTION_MINUTES} minutes of bad data (the CPU and memory "
            "alarms' one-minute periods in a row), so a shorter bake cannot see it fire",
            f"set bakeTimeMinutes to {ALARM_DETECTION_MINUTES} or more, or to 0 to turn the watch off",
        )
    manual = _enum(reader, "manualApproval")
    return SafetySettings(
        notification_emails=emails,
        notification_https_endpoints=endpoints,
        thresholds=AlarmThresholds(
            error_rate_percent=_in_range(reader, "alarm5xxPercent"),
            latency_p95_ms=_in_range(reader, "alarmLatencyP95Ms"),
            unhealthy_targets=_in_range(reader, "alarmUnhealthyTargets"),
            cpu_percent=_in_range(reader, "alarmCpuPercent"),
            memory_percent=_in_range(reader, "alarmMemoryPercent"),
        ),
        manual_approval=manual.resolve(production),
        bake_time_minutes=bake_time,
        deployment_window_cron=cron,
        deployment_window_time_zone=zone,
        block_deploy_while_alarming=reader.get("blockDeployWhileAlarming"),
        audit_trail=_enum(reader, "auditTrail").resolve(production),
    )
