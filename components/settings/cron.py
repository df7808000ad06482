"""The deployment window: CodePipeline's DeploymentWindow cron, and its time zone."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass


# The DeploymentWindow rule's Cron, as its reference documents it
# (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html):
# 6 fields and an optional 7th, Seconds Minutes Hours Day-of-month Month Day-of-week [Year]. Seconds
# take only '*'; '?' only in day-of-month or day-of-week; 'L' and 'W' in day-of-month, 'L' and '#' in
# day-of-week. It is Quartz syntax, so Quartz's rules apply where the page is silent: exactly one of the
# two day fields is '?', 'L'/'W'/'#' forms stand alone (not in a list), '#' counts 1-5. Ranges must run
# forwards and names are upper case: what the page shows, and never rejected by AWS.
@dataclass(frozen=True)
class _CronField:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    """Names of low, low+1, ... (JAN-DEC, SUN-SAT). Omitted: numbers only."""
    max_step: int = 0
    """Largest increment after '/' (Quartz's limits). Omitted (0): the field's `high`."""


_CRON_FIELDS = (
    _CronField("seconds", 0, 59),
    _CronField("minutes", 0, 59),
    _CronField("hours", 0, 23),
    _CronField("day-of-month", 1, 31),
    _CronField("month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")),
    _CronField("day-of-week", 1, 7, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
    _CronField("year", 1970, 2199, max_step=229),
)
_CRON_ITEM = re.compile(r"^(?P<start>\*|[0-9A-Za-z]+)(?:-(?P<end>[0-9A-Za-z]+))?(?:/(?P<step>[0-9]+))?$")
_DAY_OF_MONTH_SPECIAL = re.compile(r"^L(?:-(?P<offset>[0-9]+))?W?$|^(?P<day>[0-9]+)W$")
_DAY_OF_WEEK_SPECIAL = re.compile(r"^(?P<day>[0-9]+|[A-Z]{3})(?:L|#(?P<nth>[0-9]+))$")
CRON_EXAMPLE = "* * 9-16 ? * MON-THU"


def _cron_value(field: _CronField, text: str) -> int | str:
    """The number `text` stands for in `field`, or the problem with it."""
    if text.isdigit():
        value = int(text)
    elif text in field.names:
        value = field.low + field.names.index(text)
    else:
        names = f" or a name {field.names[0]}-{field.names[-1]}" if field.names else ""
        return f"'{text}' is not a number {field.low}-{field.high}{names}"
    if not field.low <= value <= field.high:
        return f"'{text}' is out of range {field.low}-{field.high}"
    return value


def _cron_special(field: _CronField, text: str) -> str | None:
    """For a '?', 'L', 'W' or '#' form: '' when valid, else its problem. None: not such a form."""
    if text == "?":
        return "" if field.name in ("day-of-month", "day-of-week") else "'?' is allowed only in day-of-month or day-of-week"
    if field.name == "day-of-month" and (match := _DAY_OF_MONTH_SPECIAL.match(text)):
        if match["offset"] is not None and int(match["offset"]) > 30:
            return f"'{text}': the offset after 'L-' must be 0-30"
        day = _cron_value(field, match["day"]) if match["day"] is not None else 0
        return day if isinstance(day, str) else ""
    if field.name == "day-of-week" and text == "L":
        return ""
    if field.name == "day-of-week" and (match := _DAY_OF_WEEK_SPECIAL.match(text)):
        day = _cron_value(field, match["day"])
        if isinstance(day, str):
            return day
        if match["nth"] is not None and not 1 <= int(match["nth"]) <= 5:
            return f"'{text}': the week number after '#' must be 1-5"
        return ""
    return None


def _cron_field_problem(field: _CronField, text: str) -> str | None:
    """What is wrong with one field of a DeploymentWindow cron, without the 'field N (name)' prefix."""
    if field.name == "seconds":
        return None if text == "*" else f"'{text}' is not allowed; seconds take only '*'"
    special = _cron_special(field, text)
    if special is not None:
        return special or None
    items = text.split(",")
    for item in items:
        if len(items) > 1 and _cron_special(field, item) is not None:
            return f"'{item}' must be the whole field, not part of a list"
        match = _CRON_ITEM.match(item)
        if not match or (match["start"] == "*" and match["end"]):
            forms = {"day-of-month": ", '?', 'L', 'L-n', 'LW' or 'nW'", "day-of-week": ", '?', 'L', 'nL' or 'n#k'"}
            return f"'{item}' is not '*', a value, a range 'a-b' or a step 'a/n'{forms.get(field.name, '')}"
        values = [_cron_value(field, match[part]) for part in ("start", "end") if match[part] not in (None, "*")]
        bounds: list[int] = []
        for value in values:
            if isinstance(value, str):
                return value
            bounds.append(value)
        if len(bounds) == 2 and bounds[0] > bounds[1]:
            return f"'{item}' is a range that runs backwards; split it into two ranges in a list"
        step_limit = field.max_step or field.high
        if match["step"] is not None and not 1 <= int(match["step"]) <= step_limit:
            return f"'{item}': the step after '/' must be 1-{step_limit}"
    return None


def deployment_window_cron_problem(text: str) -> str | None:
    """What CodePipeline's DeploymentWindow rule would reject in `text` (naming the field), or None."""
    fields = text.split()
    if len(fields) not in (6, 7):
        return f"allowed: 6 or 7 space-separated fields 'seconds minutes hours day-of-month month day-of-week [year]', got {len(fields)}"
    for number, (spec, value) in enumerate(zip(_CRON_FIELDS, fields, strict=False), start=1):
        problem = _cron_field_problem(spec, value)
        if problem:
            return f"field {number} ({spec.name}) {problem}"
    if (fields[3] == "?") == (fields[5] == "?"):
        return f"exactly one of day-of-month and day-of-week must be '?', got '{fields[3]}' and '{fields[5]}'"
    return None


def time_zone_problem(name: str) -> str | None:
    """None for a name zoneinfo knows (the IANA database) or 'UTC'."""
    if name == "UTC" or name in zoneinfo.available_timezones():
        return None
    return "allowed: UTC or an IANA time zone such as Europe/Berlin"
