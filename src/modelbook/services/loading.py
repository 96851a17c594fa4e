"""Loading a version's model: fetch its files verified, pick the flavor, scan, load.

``Registry.load`` and the smoke test go through :meth:`LoadService.stage`,
which writes the version's files (each checked against its sha256) to a
private folder, picks the flavor (declared at registration in the
signature's runtime, or given by the caller, else detected from the files),
and scans the model file before anything unpickles it. The scan is recorded
on the version (annotation ``scan``, event ``version.scan``) whenever its
outcome differs from the last one recorded, and always when a caller
overrides a refusal with ``allow_unsafe``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from .. import capture, drift, flavors, safety, unpickling, uris
from ..contract import Signature, as_signature
from ..domain import Artifact, Version
from ..errors import InvalidInput, ModelbookError
from ..flavors import Flavor, Predictor
from ..manifest_paths import check_stored_paths
from ..safety import ScanRecord, ScanReport
from ..store import annotations as note_rows
from ..store.rows import to_dt
from . import audit as log
from . import notes
from .base import Context, version_row
from .versions import VersionService

_HEAD = 16


@dataclass
class Staged:
    """A version's files in a private folder, its flavor and model file, and their scan.

    ``uri`` names the version (or, for files not yet registered, what they are).
    """

    uri: str
    signature: Signature | None
    flavor: Flavor
    path: str
    folder: Path
    scan: ScanReport | None

    @property
    def file(self) -> Path:
        return self.folder / self.path

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def scanner(read_verified: Callable[[str, int], bytes]) -> Callable[[Version], ScanReport]:
    """A scan of a version's pickle-based artifacts (read verified), for the ``scan`` check."""

    def scan(version: Version) -> ScanReport:
        return safety.scan(
            (a.path, read_verified(a.sha256, a.size))
            for a in version.artifacts
            if not a.path.startswith(flavors.OWN_PREFIX)
        )

    return scan


class LoadService:
    def __init__(self, ctx: Context, versions: VersionService) -> None:
        self.ctx = ctx
        self.versions = versions

    def stage(
        self,
        uri: str,
        *,
        actor: str,
        flavor: str | None = None,
        allow_unsafe: bool = False,
        purpose: str = "load",
    ) -> Staged:
        """Fetch, pick the flavor, scan and record; the caller loads and then cleans up.

        Raises NotFound, IntegrityError (a file does not match its hash, a stored
        artifact path no registration writes),
        InvalidInput (no loadable file, an unknown flavor, a flavor whose
        package is missing), UnsafeArtifact (a dangerous or unscannable pickle
        without ``allow_unsafe``; pickles turned off).
        """
        version = self.versions.get(uri)
        # Each stored path names a file under a private folder: one no registration
        # writes (absolute, with '..') would name a file outside it.
        check_stored_paths((a.path for a in version.artifacts), version.uri)

        def record(report: ScanReport) -> None:
            self._record(version, report, actor=actor, allowed=allow_unsafe, purpose=purpose)

        return self.stage_files(
            version.uri,
            version.artifacts,
            as_signature(version.contract),
            flavor=flavor,
            allow_unsafe=allow_unsafe,
            record=record,
        )

    def stage_files(
        self,
        label: str,
        artifacts: Sequence[Artifact],
        sig: Signature | None,
        *,
        flavor: str | None = None,
        allow_unsafe: bool = False,
        record: Callable[[ScanReport], None] | None = None,
    ) -> Staged:
        """:meth:`stage` for files that need not belong to a registered version yet.

        ``label`` names them in messages (a version's URI); ``record`` is
        given the scan of a pickle-based model file before it is judged.
        Raises as :meth:`stage` does.
        """
        folder = Path(tempfile.mkdtemp(prefix="modelbook-load-"))
        try:
            heads = []
            for a in artifacts:
                dest = folder / a.path
                self.ctx.blobs.copy_to(a.sha256, a.size, dest)
                with dest.open("rb") as f:
                    heads.append((a.path, f.read(_HEAD)))
            declared = flavor or (sig.runtime.flavor if sig is not None else None)
            found, path = flavors.detect(
                heads, declared, sig.runtime.framework if sig is not None else None
            )
            found.require()
            report = None
            if found.pickled:
                safety.require_pickles_allowed([path])
                report = safety.scan([(path, (folder / path).read_bytes())])
                if record is not None:
                    record(report)
                safety.refuse_if_unsafe(report, f"loading {label}", allow_unsafe=allow_unsafe)
            return Staged(label, sig, found, path, folder, report)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def env_check(self, uri: str) -> drift.DriftReport:
        """The version's recorded environment compared with this process's, under the
        ``MODELBOOK_ENV_DRIFT`` setting. Raises NotFound, InvalidInput (a bad setting)."""
        mode = drift.mode_from()
        version = self.versions.get(uri)
        return drift.compare(version.uri, version.environment, capture.runtime(), mode)

    def load(
        self,
        uri: str,
        *,
        actor: str,
        flavor: str | None = None,
        allow_unsafe: bool = False,
        check_environment: bool = False,
    ) -> Predictor:
        """The version's model behind its contract (see ``Registry.load``)."""
        report = None
        if check_environment:
            # Checked before any file is fetched: a refused load costs nothing.
            report = self.env_check(uri)
            drift.refuse_if_drifted(report)
            if report.mode == "warn" and report.status != "matches":
                warnings.warn(report.summary(), drift.EnvironmentDriftWarning, stacklevel=3)
        staged = self.stage(uri, actor=actor, flavor=flavor, allow_unsafe=allow_unsafe)
        try:
            start = time.perf_counter()
            with unpickling.unrestricted(allow_unsafe):
                model = load_model(staged.flavor, staged.file, staged.uri, staged.path)
            return Predictor(
                uri=staged.uri,
                signature=staged.signature,
                flavor=staged.flavor,
                path=staged.path,
                model=model,
                scan=staged.scan,
                load_seconds=time.perf_counter() - start,
                environment=report,
            )
        finally:
            staged.cleanup()

    def scan(self, uri: str, *, actor: str) -> ScanReport:
        """Scan every pickle-based artifact of a version and record the outcome."""
        version = self.versions.get(uri)
        report = scanner(self.ctx.blobs.read_verified)(version)
        if report.files:
            self._record(version, report, actor=actor, allowed=False, purpose="scan")
        return report

    def _record(
        self, version: Version, report: ScanReport, *, actor: str, allowed: bool, purpose: str
    ) -> None:
        ref = uris.parse(version.uri)
        now = self.ctx.clock()
        value = ScanRecord(
            scanner=report.scanner,
            verdict=report.verdict,
            files=report.files,
            allowed_unsafe=allowed and report.unsafe,
            purpose=purpose,
            actor=actor,
            at=to_dt(now),
        )
        with self.ctx.db.write() as conn:
            row = version_row(conn, ref, lock=True)
            if not value.allowed_unsafe and _same_as_last(conn, row, value):
                return
            notes.record(
                conn,
                row,
                ref.name,
                value,
                "scan",
                action="version.scan",
                head=log.Head.of_model(ref.name, row),
            )


def _same_as_last(conn: Connection, row: Any, value: ScanRecord) -> bool:
    found = notes.parse_rows(note_rows.of_version(conn, row.id, ("scan",)))["scan"]
    if not found:
        return False
    last: ScanRecord = found[-1]
    keep = {"scanner", "verdict", "files", "allowed_unsafe"}
    return bool(last.model_dump(include=keep) == value.model_dump(include=keep))


def load_model(flavor: Flavor, file: Path, uri: str, path: str) -> Any:
    """``flavor.load(file)``; a failure of the framework becomes InvalidInput naming the file."""
    try:
        return flavor.load(file)
    except ModelbookError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of the framework or the file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise InvalidInput(
            f"{uri}: {path} cannot be loaded by the {flavor.name} flavor: "
            f"{type(exc).__name__}: {first}"
        ) from None
