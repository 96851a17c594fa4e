"""The registration operations of :class:`~modelbook.Registry`: the local helper that
stores files and commits a version, and its two phases for remote clients.

A mixin of the facade, kept apart so that each file stays readable; every
method delegates to :class:`~modelbook.services.registration.RegistrationService`
and takes ``actor=`` (default: the registry's default actor).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .contract import Signature
from .domain import Artifact, CodeRef, DataRef, Environment, FeatureSetRef, Metric, Version
from .files import Progress

if TYPE_CHECKING:
    from .services.registration import RegistrationService


class RegistrationOperations:
    """Registration methods of the registry facade (which sets the service below)."""

    @property
    def _registration(self) -> RegistrationService:
        raise NotImplementedError

    def _who(self, actor: str | None) -> str:
        raise NotImplementedError

    def register(
        self,
        name: str,
        paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
        *,
        owners: Sequence[str] | str | None = None,
        task: str | None = None,
        risk_tier: str | None = None,
        description: str | None = None,
        metrics: Mapping[str, object] | Iterable[Metric] | None = None,
        tags: Mapping[str, object] | None = None,
        params: Mapping[str, object] | None = None,
        seed: int | None = None,
        hardware: str | None = None,
        duration_seconds: float | None = None,
        code: CodeRef | Mapping[str, Any] | None = None,
        data: Sequence[DataRef | str] | str | None = None,
        features: FeatureSetRef | str | None = None,
        run_id: str | None = None,
        experiment_id: str | None = None,
        parents: Sequence[str] = (),
        environment: Environment | Mapping[str, Any] | None = None,
        contract: Mapping[str, Any] | None = None,
        signature: Signature | Mapping[str, Any] | str | None = None,
        sample: Any = None,
        sample_rows: int = 100,
        flavor: str | None = None,
        semver: str | None = None,
        tolerance: float = 1e-6,
        compare_predictions: bool = True,
        compare_timeout_s: float = 30.0,
        change_summary: str | None = None,
        caveats: Sequence[str] = (),
        capture_environment: bool = True,
        progress: Progress | None = None,
        actor: str | None = None,
    ) -> Version:
        """Register a new immutable version of ``name`` from files or a directory.

        The model is created on first use, which needs ``owners``; ``task``,
        ``risk_tier`` and ``description`` apply only then. Environment and
        code are captured from this process and its working directory unless
        given (a mapping overrides single fields). Everything is validated
        before any file is stored; see docs/concepts.md for the limits and the
        symlink policy.

        ``signature`` (a :class:`~modelbook.contract.Signature`, its JSON
        object or JSON text, e.g. from :func:`modelbook.infer_signature`) is
        stored as the version's contract. ``sample`` (a DataFrame, Series,
        NumPy array, list of dicts, scalar, or a :class:`pathlib.Path` to a
        ``.csv``, ``.parquet`` or ``.npy`` file) is cut to its first
        ``sample_rows`` rows, checked against the signature (or, without one,
        the signature is inferred from it) and stored as the artifact
        ``_modelbook/sample.parquet``; ``contract.sample`` says how many rows
        were kept and whether more were cut. ``contract`` is a free-form JSON
        contract instead of a signature (no sample then). ``flavor`` declares
        the loader (``sklearn``, ``onnx`` ...; see :mod:`modelbook.flavors`),
        stored as the signature's ``runtime.flavor``; without it ``load``
        detects the flavor from the files.

        The semver is computed from what changed since the parent (the first
        of ``parents`` of the same model, else the latest version): MAJOR for
        an incompatible contract change, MINOR for a compatible one or for
        predictions on the parent's stored sample that differ by more than
        ``tolerance`` (absolute and relative), else PATCH; without a loader or
        a sample, a changed artifact counts as MINOR. The bump is applied to
        the model's highest semver; when the parent is an older version, the
        change since the version holding that semver is classified too and
        the larger bump wins. Each prediction comparison may take
        ``compare_timeout_s`` seconds (default 30, at most 3600), then falls
        back to the artifacts' hashes; ``compare_predictions=False`` skips
        them (changed files are then MINOR, never PATCH). The evidence is
        stored as ``version.classification``. An explicit ``semver`` below
        the computed one is refused with the reason; a higher one is
        recorded. See docs/contracts-and-versions.md, "Semantic versions".

        Raises InvalidInput (a bad signature, an unreadable sample, a sample
        that does not match the signature, a bad tolerance or compare
        timeout ...), NotFound (a parent version), Unavailable.
        """
        return self._registration.register(
            name,
            paths,
            actor=self._who(actor),
            progress=progress,
            owners=owners,
            task=task,
            risk_tier=risk_tier,
            description=description,
            metrics=metrics,
            tags=tags,
            params=params,
            seed=seed,
            hardware=hardware,
            duration_seconds=duration_seconds,
            code=code,
            data=data,
            features=features,
            run_id=run_id,
            experiment_id=experiment_id,
            parents=parents,
            environment=environment,
            contract=contract,
            signature=signature,
            sample=sample,
            sample_rows=sample_rows,
            flavor=flavor,
            semver=semver,
            tolerance=tolerance,
            compare_predictions=compare_predictions,
            compare_timeout_s=compare_timeout_s,
            change_summary=change_summary,
            caveats=caveats,
            capture_environment=capture_environment,
        )

    def store_file(
        self, path: str | os.PathLike[str], name: str, *, progress: Progress | None = None
    ) -> Artifact:
        """Phase one of a registration: store one file by content as artifact ``name``."""
        return self._registration.store_file(path, name, progress)

    def commit_version(
        self,
        name: str,
        artifacts: Iterable[Artifact | Mapping[str, Any]],
        *,
        actor: str | None = None,
        **metadata: Any,
    ) -> Version:
        """Phase two of a registration: commit a version whose artifacts are stored.

        ``metadata`` takes the keyword arguments of :meth:`register` (but
        ``paths`` and ``progress``).
        """
        return self._registration.commit(name, artifacts, actor=self._who(actor), **metadata)
