"""The artifact operations of :class:`~modelbook.Registry`: downloading and verifying
files, loading a version's model, its safety scan, smoke test and environment check,
and the diff of two versions.

A mixin of the facade, kept apart so that each file stays readable; every
method delegates to a service. See docs/contracts-and-versions.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .domain import VerifyReport
from .files import Progress

if TYPE_CHECKING:
    # Types only: the services and the loaders load when first used.
    from .drift import DriftReport
    from .flavors import Predictor
    from .safety import ScanReport
    from .services.artifacts import ArtifactService
    from .services.loading import LoadService
    from .services.smoke import SmokeService
    from .services.versions import VersionService
    from .smoke import SmokeRecord
    from .version_diff import VersionDiff


class ArtifactOperations:
    """Artifact, loading and diff methods of the registry facade (which sets the services
    below)."""

    @property
    def _artifacts(self) -> ArtifactService:
        raise NotImplementedError

    @property
    def _loading(self) -> LoadService:
        raise NotImplementedError

    @property
    def _smoke(self) -> SmokeService:
        raise NotImplementedError

    _versions: VersionService

    def _who(self, actor: str | None) -> str:
        raise NotImplementedError

    def diff(self, a: str, b: str) -> VersionDiff:
        """What differs from version ``a`` to version ``b`` (URIs; two models allowed).

        Returns a :class:`~modelbook.version_diff.VersionDiff` listing the row
        fields, contract, metrics, lineage, training, environment, packages and
        artifacts that differ. Raises NotFound, InvalidInput, IntegrityError.
        """
        from .version_diff import diff_versions

        return diff_versions(self._versions.get(a), self._versions.get(b))

    # artifacts --------------------------------------------------------------------

    def download(
        self,
        uri: str,
        dest: str | os.PathLike[str],
        progress: Progress | None = None,
        *,
        overwrite: bool = False,
    ) -> Path:
        """Write a version's files under ``dest``, all or nothing, each verified.

        ``dest`` must be missing or empty unless ``overwrite``; see
        docs/concepts.md ("Downloads").
        """
        return self._artifacts.download(uri, dest, progress=progress, overwrite=overwrite)

    def read_artifact(self, uri: str, path: str) -> bytes:
        """One artifact's bytes, verified."""
        return self._artifacts.read(uri, path)

    def verify(self, name: str | None = None, progress: Progress | None = None) -> VerifyReport:
        """Rehash every stored artifact (of one model, or all) and name each bad file;
        first, IntegrityError naming each version whose artifact rows or rows search
        reads (metrics, params, lineage) are not the ones its stored record yields."""
        return self._artifacts.verify(name, progress)

    # loading ----------------------------------------------------------------------

    def load(
        self,
        uri: str,
        *,
        flavor: str | None = None,
        allow_unsafe: bool = False,
        check_environment: bool = False,
        actor: str | None = None,
    ) -> Predictor:
        """Load a version's model; ``.predict(inputs)`` checks inputs against its signature.

        With ``check_environment`` the version's recorded environment is first
        compared with this process's (see :meth:`env_check`): under
        ``MODELBOOK_ENV_DRIFT=warn`` (the default) a difference issues an
        ``EnvironmentDriftWarning``, under ``refuse`` a blocking one raises
        EnvironmentDrift before anything is fetched, under ``ignore`` nothing
        happens; the report is the predictor's ``environment``.

        The files are read verified; the flavor is the one declared at
        registration, else ``flavor``, else detected from the files. A
        pickle-based model file is scanned first and the scan recorded
        (``version.scan``). See docs/contracts-and-versions.md ("Loading").

        Raises NotFound, IntegrityError (a file does not match its hash),
        InvalidInput (no loadable file, an unknown flavor, its package not
        installed, a file the framework cannot read), UnsafeArtifact (the scan
        found code that runs on load, or the file cannot be scanned, unless
        ``allow_unsafe``; pickles turned off with ``MODELBOOK_ALLOW_PICKLE=0``).
        """
        return self._loading.load(
            uri,
            actor=self._who(actor),
            flavor=flavor,
            allow_unsafe=allow_unsafe,
            check_environment=check_environment,
        )

    def env_check(self, uri: str) -> DriftReport:
        """Compare the version's recorded environment with this process's.

        Returns a ``modelbook.drift.DriftReport``: each difference (Python,
        each recorded framework, platform, installed-packages hash, image
        digest) with its recorded and current value and whether it is blocking,
        the fields not recorded, and the ``MODELBOOK_ENV_DRIFT`` mode. Raises
        NotFound, InvalidInput (a bad URI or setting); never EnvironmentDrift.
        """
        return self._loading.env_check(uri)

    def scan(self, uri: str, *, actor: str | None = None) -> ScanReport:
        """Scan every pickle-based artifact of a version for code that runs on load; recorded."""
        return self._loading.scan(uri, actor=self._who(actor))

    def smoke(
        self,
        uri: str,
        *,
        timeout_s: float | None = None,
        memory_mb: int | None = None,
        flavor: str | None = None,
        allow_unsafe: bool = False,
        actor: str | None = None,
    ) -> SmokeRecord:
        """Smoke-test a version in a fresh subprocess with a time and memory limit; recorded.

        Loads the model, predicts on the stored sample, checks the outputs
        against the output signature and times both. A failure of the model
        (load error, exception, timeout, memory) is a failed record, never
        raised. Raises NotFound, IntegrityError, InvalidInput (a bad limit),
        UnsafeArtifact (as :meth:`load`).
        """
        return self._smoke.run(
            uri,
            actor=self._who(actor),
            timeout_s=timeout_s,
            memory_mb=memory_mb,
            flavor=flavor,
            allow_unsafe=allow_unsafe,
        )
