"""Path router: on a push to a CodeCommit branch, start only the pipelines whose file-path filters match a
changed file. (CodePipeline V2 triggers filter file paths for connection sources only; a CodeCommit source is
started by an EventBridge rule that cannot see which files a push changed.)

One EventBridge rule per stack sends each "CodeCommit Repository State Change" of the branch (referenceCreated,
referenceUpdated: the events the single-pipeline start rule matches) here. The handler asks CodeCommit which files
changed between the event's `oldCommitId` and `commitId` (GetDifferences, every page) and starts each pipeline
whose filter matches one of them (StartPipelineExecution). A branch created by the
push has no old commit: every pipeline starts; so does a push whose changes cannot be read (more pages than it reads,
or CodeCommit failing after the client's retries): one pipeline too many is safe, a push left undeployed is not.
Event shape:
https://docs.aws.amazon.com/codecommit/latest/userguide/monitoring-events.html

Filter semantics: those of CodePipeline V2's trigger `filePaths` (GitFilePathFilterCriteria), so a service's
`sourceFilePaths` mean the same on CodeCommit as on GitHub, Bitbucket or GitLab:

- A pipeline starts when at least one changed path matches one of its patterns (includes). No patterns: every
  push starts it. (V2 also has excludes, which take priority over includes; `matches` implements them for
  completeness; the stack's settings give includes only.)
- A changed path is a path relative to the repository root, without a leading '/'. A renamed file counts with
  its old and its new path, a deleted file with its old path.
- A pattern is a glob in the syntax CodePipeline documents for triggers
  (https://docs.aws.amazon.com/codepipeline/latest/userguide/syntax-glob.html), matched against the WHOLE path:
  `*` any characters within one name component (never '/'); `**` any characters across components ('/'
  included); `?` one character of a component; `[abc]`, `[a-z]`, `[!a-z]` one character of a set (never '/');
  `{a,b}` either sub-pattern (groups do not nest); `\\` escapes the next character. So `services/web/**`
  matches every file under services/web (not a file named `services/web`), `**` every file, `*.md` a Markdown
  file at the root only, `docs/*` the files of docs but not of its subfolders, and `**/README.md` a README.md
  in any folder but NOT the one at the root (`**` is followed by a literal '/'): write `{README.md,**/README.md}`
  for both. These are the rules of the glob syntax CodePipeline's page describes (the java.nio PathMatcher
  "glob" language, whose rules the page lists).
- Limits, checked by the settings as CodePipeline checks them: at most 8 patterns of 1 to 255 characters
  (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_GitFilePathFilterCriteria.html).

Cost: one invocation of this 128 MiB function per push to the branch (typically well under a second: a
GetDifferences call or a few and one StartPipelineExecution per matching pipeline): within Lambda's free tier, or a
fraction of a cent a month. Starting every pipeline on every push instead would run one CodeBuild build (and a
deployment, and its approval) per service per push.

Standard library and boto3 only (the Lambda Python runtime's). Environment: REPOSITORY_NAME, BRANCH, ROUTES (JSON
{pipeline name: [patterns]}).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

ENVIRONMENT = ("REPOSITORY_NAME", "BRANCH", "ROUTES")
# CodePipeline's limits on a trigger's file-path patterns (GitFilePathFilterCriteria).
MAX_PATTERNS = 8
MAX_PATTERN_LENGTH = 255
REFERENCE_EVENTS = ("referenceCreated", "referenceUpdated")

# Each call is cut at these timeouts and retried by botocore's standard mode (a backoff of at most min(2^(n-1), 20)
# s, and 5 s more when AWS asks for a later retry). The handler reads at most MAX_DIFFERENCE_PAGES pages of
# differences (beyond that it starts every pipeline: a push that large touches every service anyway, and starting
# one pipeline too many is safe where missing one is not) and starts at most one execution per pipeline.
CONNECT_SECONDS, READ_SECONDS, ATTEMPTS = 2, 5, 3
CALL_WORST_SECONDS = ATTEMPTS * (CONNECT_SECONDS + READ_SECONDS) + sum(min(2 ** (n - 1), 20) + 5 for n in range(1, ATTEMPTS))
MAX_DIFFERENCE_PAGES = 5


def invocation_worst_seconds(pipelines: int) -> int:
    """How long one invocation can take at worst: every page of differences and every start cut at its last retry
    (components/delivery/path_router.py sizes the function's timeout from it)."""
    return (MAX_DIFFERENCE_PAGES + pipelines) * CALL_WORST_SECONDS


log = logging.getLogger()
log.setLevel(logging.INFO)


class PatternError(ValueError):
    """A file-path pattern CodePipeline's glob syntax does not accept; the message says where and why."""


@cache
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The regular expression of one glob pattern (the whole path must match); PatternError when it is not a glob."""
    if not 1 <= len(pattern) <= MAX_PATTERN_LENGTH:
        raise PatternError(f"{pattern!r}: a pattern has 1 to {MAX_PATTERN_LENGTH} characters")
    out: list[str] = []
    in_group = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        i += 1
        if c == "\\":
            if i == len(pattern):
                raise PatternError(f"{pattern!r}: '\\' at the end escapes nothing")
            out.append(re.escape(pattern[i]))
            i += 1
        elif c == "*":
            if pattern[i : i + 1] == "*":
                out.append(".*")
                i += 1
            else:
                out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            i = _bracket(pattern, i, out)
        elif c == "{":
            if in_group:
                raise PatternError(f"{pattern!r}: groups {{...}} cannot nest")
            out.append("(?:")
            in_group = True
        elif c == "}" and in_group:
            out.append(")")
            in_group = False
        elif c == "," and in_group:
            out.append("|")
        else:
            out.append(re.escape(c))
    if in_group:
        raise PatternError(f"{pattern!r}: a group {{ has no closing }}")
    return re.compile("".join(out), re.DOTALL)


def _bracket(pattern: str, i: int, out: list[str]) -> int:
    """A bracket expression from just after its '['; the index after its ']'. One character of the set, never '/'."""
    negate = pattern[i : i + 1] == "!"
    if negate:
        i += 1
    members: list[tuple[str, str]] = []  # (low, high) characters, one for a single character
    while i < len(pattern) and pattern[i] != "]":
        c = pattern[i]
        i += 1
        if c == "/":
            raise PatternError(f"{pattern!r}: a bracket expression cannot hold '/'")
        if c == "-" and members and members[-1][0] == members[-1][1] and i < len(pattern) and pattern[i] != "]":
            low, high = members.pop()[0], pattern[i]
            i += 1
            if high < low:
                raise PatternError(f"{pattern!r}: the range {low}-{high} is empty")
            members.append((low, high))
        else:
            members.append((c, c))
    if i >= len(pattern):
        raise PatternError(f"{pattern!r}: a bracket expression [ has no closing ]")
    if not members:
        raise PatternError(f"{pattern!r}: a bracket expression [] is empty")
    body = "".join(re.escape(low) if low == high else f"{re.escape(low)}-{re.escape(high)}" for low, high in members)
    # A set never matches the name separator: '[!a]' is any character but 'a' and '/'.
    out.append(f"[^/{body}]" if negate else f"(?!/)[{body}]")
    return i + 1


def pattern_problem(pattern: str) -> str | None:
    """Why CodePipeline's glob syntax refuses `pattern`, or None (for the settings' checks)."""
    try:
        compile_pattern(pattern)
    except PatternError as error:
        return str(error)
    return None


def matches(path: str, includes: Sequence[str], excludes: Sequence[str] = ()) -> bool:
    """Does a change of `path` start a pipeline with these filters? Excludes win; no includes: any path."""
    if any(compile_pattern(p).fullmatch(path) for p in excludes):
        return False
    return not includes or any(compile_pattern(p).fullmatch(path) for p in includes)


def pipelines_to_start(changed_paths: Iterable[str], filters: Mapping[str, Sequence[str]]) -> list[str]:
    """The pipelines (keys of `filters`, in their order) whose patterns match at least one changed path. A pipeline
    with no patterns starts on any push; a push that changed nothing starts only those."""
    paths = list(dict.fromkeys(changed_paths))
    return [name for name, includes in filters.items() if not includes or any(matches(path, includes) for path in paths)]


def changed_paths(differences: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every path a page of GetDifferences names: a change's old path (beforeBlob: modified, deleted, renamed) and
    its new one (afterBlob: added, modified, renamed)."""
    out: list[str] = []
    for difference in differences:
        for side in ("beforeBlob", "afterBlob"):
            path = (difference.get(side) or {}).get("path")
            if path and path not in out:
                out.append(path)
    return out


def execution_token(event_id: str, pipeline: str) -> str:
    """StartPipelineExecution's clientRequestToken: the same for a retried invocation of one event (EventBridge and
    Lambda retry asynchronous invocations), so a retry never starts a pipeline twice; another push, another token."""
    return hashlib.sha256(f"{event_id}\n{pipeline}".encode()).hexdigest()


def handle(event: Mapping[str, Any], env: Mapping[str, str], codecommit: Any, codepipeline: Any) -> dict[str, Any]:
    """Route one push; what was done, as a small dict."""
    routes: dict[str, list[str]] = json.loads(env["ROUTES"])
    detail = event.get("detail") or {}
    commit, old = detail.get("commitId"), detail.get("oldCommitId")
    # The rule's pattern already says this; a second look keeps a test event or a widened rule from starting pipelines.
    if (
        detail.get("repositoryName") != env["REPOSITORY_NAME"]
        or detail.get("referenceType") != "branch"
        or detail.get("referenceName") != env["BRANCH"]
        or detail.get("event") not in REFERENCE_EVENTS
        or not commit
    ):
        log.info("Ignored: not a push to %s of %s", env["BRANCH"], env["REPOSITORY_NAME"])
        return {"started": [], "reason": f"not a push to {env['BRANCH']} of {env['REPOSITORY_NAME']}"}
    if not old:
        to_start, reason = list(routes), "the push created the branch: every pipeline starts"
    else:
        try:
            paths, complete = _differences(codecommit, env["REPOSITORY_NAME"], old, commit, routes)
        except Exception as error:  # after botocore's retries: a push must not go undeployed because its diff failed
            log.error("GetDifferences %s..%s failed: %s: %s", old, commit, type(error).__name__, error)
            paths, complete, reason = [], False, f"the changes could not be read ({type(error).__name__}): every pipeline starts"
        else:
            reason = f"more than {MAX_DIFFERENCE_PAGES} pages of differences: every pipeline starts"
        if complete:
            to_start = pipelines_to_start(paths, routes)
            reason = f"{len(paths)} changed path(s)"
        else:
            to_start = list(routes)
    started, failed = {}, {}
    for pipeline in to_start:
        try:
            answer = codepipeline.start_pipeline_execution(
                name=pipeline,
                clientRequestToken=execution_token(str(event.get("id") or commit), pipeline),
                # Not pinned to the pushed commit (sourceRevisions): the Source action reads the branch's head when the
                # execution reaches it, as it does when EventBridge starts a pipeline directly. Two pushes' invocations
                # may run in either order, and a QUEUED pipeline runs its executions in the order they started: a pin
                # could deploy the older commit last. The head the Source action reads holds the pushed changes, or
                # newer ones (whose own push starts the pipelines they touch).
            )
            started[pipeline] = answer["pipelineExecutionId"]
        except Exception as error:  # every pipeline gets its start; the failures are raised together below
            failed[pipeline] = f"{type(error).__name__}: {error}"
    log.info("Commit %s (%s): started %s; not started: %s", commit, reason, json.dumps(started, sort_keys=True), sorted(set(routes) - set(started) - set(failed)))
    if failed:
        # Lambda retries the invocation (asynchronous, from EventBridge); the tokens keep the started ones from starting twice.
        raise RuntimeError(f"could not start {sorted(failed)} for commit {commit}: {json.dumps(failed, sort_keys=True)}")
    return {"started": sorted(started), "executions": started, "reason": reason}


def _differences(codecommit: Any, repository: str, before: str, after: str, routes: Mapping[str, Sequence[str]]) -> tuple[list[str], bool]:
    """(the paths the push changed, whether all of them were read). Stops early once every pipeline matched."""
    paths: list[str] = []
    token = None
    for _ in range(MAX_DIFFERENCE_PAGES):
        request = {"repositoryName": repository, "beforeCommitSpecifier": before, "afterCommitSpecifier": after}
        if token:
            request["NextToken"] = token
        page = codecommit.get_differences(**request)
        paths += [p for p in changed_paths(page.get("differences") or []) if p not in paths]
        token = page.get("NextToken")
        if not token or len(pipelines_to_start(paths, routes)) == len(routes):
            return paths, True
    return paths, False


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=CONNECT_SECONDS, read_timeout=READ_SECONDS, retries={"mode": "standard", "total_max_attempts": ATTEMPTS})
    return handle(event, {name: os.environ[name] for name in ENVIRONMENT}, boto3.client("codecommit", config=config), boto3.client("codepipeline", config=config))
