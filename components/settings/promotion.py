"""The promotion part: which stack a promoting stack takes its images from, and which other accounts a
building stack lets promote from it (components/promotion/)."""

from __future__ import annotations

import re

from components.settings.model import PromotionSettings
from components.settings.reading import SettingsError, _duplicates, _fail, _Reader, _shown

# A stack of this project: the stack-name rule of this project (parse.py's _NAME_RUNS, which the
# upstream's own settings enforced); another project's stack: Pulumi's stack-name characters.
_THIS_PROJECT_STACK = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_QUALIFIED_STACK = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
# A building stack forwards its pipeline's events to every downstream account with one EventBridge rule,
# and a rule has at most 5 targets (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html).
MAX_DOWNSTREAM_ACCOUNTS = 5

# Keys a promoting stack never reads: it has no source repository, no build and no registry of its own.
BUILD_ONLY_KEYS = (
    "sourceProvider",
    "sourceRepository",
    "createSourceRepository",
    "sourceBranch",
    "sourceConnectionArn",
    "sourceFilePaths",
    "appPath",
    "buildComputeType",
    "buildTimeoutMinutes",
    "imageRetentionCount",
    "untaggedImageExpiryDays",
    "promoteToAccounts",
)


def _upstream(reader: _Reader, project: str, stack: str, organization: str | None) -> str | None:
    value = reader.get("promoteFrom")
    if value == "":
        return None
    if not (_THIS_PROJECT_STACK.match(value) or _QUALIFIED_STACK.match(value)):
        raise _fail(
            "promoteFrom",
            value,
            "allowed: the name of a stack of this project such as 'dev', or 'organization/project/stack'",
            "set promoteFrom to the stack that builds the image, e.g. 'dev', or remove it to build in this stack",
        )
    parts = value.split("/")
    itself = parts == [stack] or (parts[1:] == [project, stack] and organization in (None, parts[0]))
    if itself:
        example = "" if stack == "dev" else " (e.g. 'dev')"  # never suggest the stack itself
        raise _fail(
            "promoteFrom",
            value,
            "a stack cannot promote from itself",
            f"name another stack, the one that builds the image{example}, or remove promoteFrom to build in this stack",
        )
    return value


def _account(key: str, value: str) -> str:
    if not _ACCOUNT_ID.match(value):
        raise _fail(key, value, "allowed: a 12-digit AWS account id such as '123456789012'", "write each account id as its 12 digits, without dashes or spaces")
    return value


def _promotion(reader: _Reader, project: str, stack: str, organization: str | None) -> PromotionSettings:
    upstream = _upstream(reader, project, stack, organization)
    from_account = reader.get("promoteFromAccount") or None
    if from_account is not None:
        if upstream is None:
            raise _fail(
                "promoteFromAccount",
                from_account,
                "only a stack that promotes (promoteFrom) takes images from another account",
                "remove promoteFromAccount, or set promoteFrom to the stack that builds the image",
            )
        _account("promoteFromAccount", from_account)
    to_accounts = tuple(reader.get("promoteToAccounts"))
    for account in to_accounts:
        _account("promoteToAccounts", account)
    if _duplicates(list(to_accounts)):
        raise _fail("promoteToAccounts", list(to_accounts), "each account once", f"remove the repeated {_duplicates(list(to_accounts))[0]!r}")
    if len(to_accounts) > MAX_DOWNSTREAM_ACCOUNTS:
        raise _fail(
            "promoteToAccounts",
            list(to_accounts),
            f"at most {MAX_DOWNSTREAM_ACCOUNTS} accounts (one EventBridge rule forwards to each, and a rule has at most {MAX_DOWNSTREAM_ACCOUNTS} targets)",
            "promote into fewer accounts from this stack",
        )
    return PromotionSettings(promote_from=upstream, promote_from_account=from_account, promote_to_accounts=to_accounts)


def _not_read_when_promoting(reader: _Reader, key: str, upstream: str) -> None:
    """A key a promoting stack never reads, set anyway: refused, so nobody believes it has an effect."""
    if reader.is_set(key):
        value = reader.get(key)
        shown = _shown(list(value) if isinstance(value, tuple) else value)
        raise SettingsError(
            f"{key}: {shown} is set, but this stack promotes from {upstream!r} (promoteFrom): it builds nothing and has no source "
            f"repository or registry of its own, so {key} would have no effect. Fix: remove it (`pulumi config rm {key}`), "
            "or remove promoteFrom to build in this stack"
        )
