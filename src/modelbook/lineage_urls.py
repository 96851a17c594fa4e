"""The URLs a version's lineage records (its code repository, its data snapshots),
as registration takes them and as they are shown.

A repository or snapshot URL that carries a secret is refused at registration: in
``http`` and ``https`` any user-info (a token is often given as the user name:
``https://TOKEN@host/org/repo.git``), in other protocols a password, and a secret
parameter of its query or fragment. git's ``git@host:org/repo.git`` and
``ssh://git@host/org/repo.git`` name an account, not a secret, and are kept; so
is a parameter whose name merely holds a secret's part (``partition_key``). A
version stored before that rule is shown with the secret as ``***`` wherever it is
printed, by the one redaction of URLs (:func:`modelbook.blobs_url.redact`).
"""

from __future__ import annotations

from .blobs_url import redact
from .domain import Lineage, Version
from .errors import InvalidInput


def shown_url(value: str) -> str:
    """``value`` (a repository or a snapshot) as it may be printed."""
    # Whitespace before a URL does not hide what it carries.
    url = value.lstrip()
    return value[: len(value) - len(url)] + redact(url, account_names=True, strict_params=True)


def without_secret(value: str) -> str:
    """``value`` with its credentials left out (for a captured git remote, which the
    user did not give: ``https://gitlab-ci-token:TOKEN@host/org/repo.git``)."""
    return redact(value, account_names=True, drop=True, strict_params=True)


def check_url(value: str, what: str) -> str:
    """``value`` if it carries no secret; else InvalidInput naming ``what``, showing
    the value with its secret hidden, and saying why."""
    shown = shown_url(value)
    if shown == value:
        return value
    raise InvalidInput(
        f"{what} {shown!r} carries a secret (a password, a token given as the user "
        "name, or a secret parameter); a version is frozen and shown in reports and "
        "bills of materials: give the URL without it (git reads credentials from a "
        "credential helper)"
    )


def check_lineage(lineage: Lineage) -> None:
    """Refuse a lineage whose code repository or a data snapshot carries a secret."""
    if lineage.code.repo is not None:
        check_url(lineage.code.repo, "the code repository (code.repo)")
    for d in lineage.data:
        check_url(d.snapshot, "data snapshot")


def shown_lineage(lineage: Lineage) -> Lineage:
    """``lineage`` with the secret of its repository and data snapshot URLs hidden."""
    code = lineage.code
    repo = shown_url(code.repo) if code.repo is not None else None
    data = tuple(d.model_copy(update={"snapshot": shown_url(d.snapshot)}) for d in lineage.data)
    if repo == code.repo and all(
        a.snapshot == b.snapshot for a, b in zip(data, lineage.data, strict=True)
    ):
        return lineage
    return lineage.model_copy(update={"code": code.model_copy(update={"repo": repo}), "data": data})


def shown_version(version: Version) -> Version:
    """``version`` as it may be printed: its lineage's URLs without their secrets."""
    lineage = shown_lineage(version.lineage)
    if lineage is version.lineage:
        return version
    return version.model_copy(update={"lineage": lineage})
