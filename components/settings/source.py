"""The source part: the repository's host and name, the branch, the connection, the file-path triggers."""

from __future__ import annotations

import re

from components.settings.enums import SourceProvider
from components.settings.model import SourceSettings
from components.settings.reading import _duplicates, _enum, _fail, _Reader

# CodePipeline V2 trigger filters take at most 8 include patterns.
MAX_FILE_PATHS = 8
_CODECOMMIT_REPO = re.compile(r"^[\w.-]{1,100}$")
# GitHub and Bitbucket: exactly owner/name; GitLab: group/[subgroup/...]project.
_OWNER_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_GROUP_PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
_CONNECTION_ARN = re.compile(r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[\w-]+$")


def git_branch_problem(name: str) -> str | None:
    """What `git check-ref-format --branch` refuses in a branch name, or None.
    https://git-scm.com/docs/git-check-ref-format"""
    if not name:
        return "a branch name cannot be empty"
    if name.startswith("-"):
        return "a branch name cannot start with '-'"
    if name == "@" or "@{" in name:
        return "a branch name cannot be '@' or contain '@{'"
    bad = sorted({c for c in name if ord(c) < 32 or ord(c) == 127 or c in " ~^:?*[\\"})
    if bad:
        return f"a branch name cannot contain {' '.join(repr(c) for c in bad)}"
    if ".." in name or "//" in name or name.endswith(("/", ".")):
        return "a branch name cannot contain '..' or '//', nor end with '/' or '.'"
    if any(part.startswith(".") or part.endswith(".lock") for part in name.split("/")):
        return "no part of a branch name may start with '.' or end with '.lock'"
    return None


def _source(reader: _Reader, project: str, stack: str, service: str, path_router: bool = False) -> SourceSettings:
    """`path_router`: the stack has `services`, whose CodeCommit pipelines a path router starts by the files a push
    changed (components/delivery/path_router.py), so sourceFilePaths works with codecommit too. Omitted: only
    connection sources filter by path (their pipeline's V2 trigger)."""
    provider = _enum(reader, "sourceProvider")
    repository = reader.get("sourceRepository")
    create = reader.get("createSourceRepository")
    connection_arn = reader.get("sourceConnectionArn") or None
    if provider is SourceProvider.CODECOMMIT:
        if reader.is_set("sourceConnectionArn"):
            raise _fail(
                "sourceConnectionArn",
                connection_arn,
                "only github, bitbucket and gitlab sources use a connection",
                "remove sourceConnectionArn, or set sourceProvider to the connection's host",
            )
        if reader.is_set("sourceFilePaths") and not path_router:
            raise _fail(
                "sourceFilePaths",
                list(reader.get("sourceFilePaths")),
                "file-path triggers exist only for connection sources (github, bitbucket, gitlab)",
                "remove sourceFilePaths or use a connection source",
            )
        if not repository:
            if not create:
                raise _fail(
                    "sourceRepository",
                    repository,
                    "an existing repository must be named when createSourceRepository is false",
                    "set sourceRepository to the CodeCommit repository name",
                )
            repository = f"{project}-{stack}-{service}"
        if not _CODECOMMIT_REPO.match(repository):
            raise _fail("sourceRepository", repository, "allowed: 1-100 letters, digits, '.', '_' or '-'", "use a valid CodeCommit repository name")
        if repository.endswith(".git"):
            # CodeCommit refuses names ending in .git (CreateRepository, repositoryName).
            raise _fail("sourceRepository", repository, "a CodeCommit repository name cannot end in '.git'", f"set sourceRepository to {repository[:-4]!r}")
    else:
        if reader.is_set("createSourceRepository"):
            raise _fail(
                "createSourceRepository",
                create,
                "only codecommit repositories can be created by the stack",
                f"remove createSourceRepository; create the {provider.value} repository on its host",
            )
        pattern, shape = (_GROUP_PATH, "'group/project' (subgroups allowed)") if provider is SourceProvider.GITLAB else (_OWNER_NAME, "exactly 'owner/name'")
        if not pattern.match(repository or "") or repository.endswith(".git"):
            raise _fail("sourceRepository", repository, f"{provider.value} needs {shape}, without '.git' or a URL", "set sourceRepository to e.g. 'my-org/my-service'")
        if connection_arn and not _CONNECTION_ARN.match(connection_arn):
            raise _fail(
                "sourceConnectionArn",
                connection_arn,
                "allowed: arn:aws:codeconnections:<region>:<account>:connection/<id> (or codestar-connections)",
                "copy the ARN from Developer Tools > Settings > Connections",
            )
    branch = reader.get("sourceBranch")
    problem = git_branch_problem(branch)
    if problem:
        raise _fail("sourceBranch", branch, problem, "set sourceBranch to the branch's name as `git branch` shows it, e.g. 'main'")
    file_paths = reader.get("sourceFilePaths")
    if _duplicates(list(file_paths)):
        raise _fail("sourceFilePaths", list(file_paths), "each pattern once", f"remove the repeated {_duplicates(list(file_paths))[0]!r}")
    for pattern in file_paths:
        if not pattern or pattern.startswith("/"):
            raise _fail("sourceFilePaths", pattern, "allowed: glob patterns relative to the repository root", "write patterns like 'app/**'")
    if len(file_paths) > MAX_FILE_PATHS:
        raise _fail("sourceFilePaths", list(file_paths), f"at most {MAX_FILE_PATHS} patterns", "merge patterns with ** globs")
    return SourceSettings(provider, repository, create, branch, connection_arn, file_paths)
