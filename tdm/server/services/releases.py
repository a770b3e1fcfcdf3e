"""Versions and promotions: ``tdm tag`` of an environment's tip, ``tdm env promote``."""

from __future__ import annotations

from tdm import envs, gitio, versions
from tdm.server.auth import Caller
from tdm.server.errors import Conflict, NotFound
from tdm.server.models import Promote, Promotion, VersionCreate, VersionItem
from tdm.server.services import history, writes
from tdm.server.services.repository import Repository


def tag(repo: Repository, caller: Caller, request: VersionCreate) -> VersionItem:
    """An annotated tag (never moved) on the environment's tip, or HEAD's commit."""
    view = repo.view(caller, request.environment)
    if view.git.has_tag(request.version):
        raise Conflict(
            f"version {request.version} exists already; versions are never moved, pick a new one"
        )
    made = versions.tag(
        repo.project(), request.version, request.message or None, rev=view.commit_id
    )
    return history.version_item(made)


def promote(repo: Repository, caller: Caller, target: str, request: Promote) -> Promotion:
    """``tdm env promote FROM TARGET`` with the CLI's gates; a refusal is a 409 and changes
    nothing.  The target's branch moves by compare-and-swap."""
    source = request.from_
    for name in (target, source):
        caller.check_environment(name)
    dst = repo.environment(target)
    src = repo.environment(source)
    git = repo.git()
    for name, env in ((target, dst), (source, src)):
        if git.branch_of(env.branch) is None:
            raise NotFound(
                f"environment '{name}' has no branch {env.branch} yet; create it with "
                f"`tdm env create {name} --from ENV`"
            )
    if git.current_branch() == dst.branch and not request.dry_run:
        raise Conflict(
            f"the branch {dst.branch} of environment '{target}' is checked out in the served "
            "clone; the server never moves a checked-out branch: promote with `tdm env promote` "
            "there, or switch that clone to another branch"
        )
    with writes.branch_lock(str(repo.root), dst.branch):
        try:
            result = envs.promote(
                repo.project(),
                source,
                target,
                allow_breaking=request.allow_breaking,
                dry_run=request.dry_run,
                message=request.message,
            )
        except envs.PromotionRefused as exc:
            raise Conflict(str(exc)) from None
        except gitio.RefMoved:
            raise Conflict(
                f"{dst.branch} moved during the promotion; nothing was changed, retry"
            ) from None
    return Promotion(**result.to_json())
