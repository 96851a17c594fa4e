"""A version's contract at registration: its signature, its input sample, their checks.

Registration calls :func:`prepare` while it validates (before any blob is
stored) and :func:`store_sample` with the other files; the gate's ``schema``
check reads the stored sample back through :func:`sample_reader`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import limits, validation
from .. import sample as samples
from ..contract import SAMPLE_PATH, SampleRef, Signature, conformance, parse_signature
from ..contract_infer import schema_of
from ..domain import Artifact, Version
from ..errors import InvalidInput

MAX_CONTRACT_DEPTH = 32


def _check_contract(value: Any, depth: int = 0) -> None:
    """Nesting of at most MAX_CONTRACT_DEPTH levels; every key and text free of NUL."""
    if depth > MAX_CONTRACT_DEPTH:
        raise InvalidInput(f"contract is nested deeper than {MAX_CONTRACT_DEPTH} levels")
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidInput(f"contract keys must be text, got {type(k).__name__}")
            validation.text(k, "contract key", limits.MAX_VALUE)
            _check_contract(v, depth + 1)
    elif isinstance(value, list | tuple):
        for v in value:
            _check_contract(v, depth + 1)
    elif isinstance(value, str):
        validation.text(value, "contract text", limits.MAX_TEXT)


def contract_doc(contract: Mapping[str, Any], *, signature: bool = False) -> dict[str, Any]:
    """A contract as plain JSON data: at most MAX_TEXT characters, MAX_CONTRACT_DEPTH levels.

    ``signature``: the contract is a signature, and a signature too long to store
    is refused with what to do instead (its fields are what make it long).
    """
    if not isinstance(contract, Mapping):
        raise InvalidInput(f"contract must be a mapping, got {type(contract).__name__}")
    _check_contract(contract)
    try:
        text = json.dumps(dict(contract), ensure_ascii=False, allow_nan=False, sort_keys=True)
        text.encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"contract must be plain JSON data: {exc}") from None
    except UnicodeEncodeError:
        raise InvalidInput(
            "contract holds text that is not valid UTF-8 (a lone surrogate)"
        ) from None
    if signature and len(text) > limits.MAX_TEXT:
        fields = len(contract.get("inputs", {}).get("fields", ()))
        raise InvalidInput(
            f"the signature (as JSON) is {len(text)} characters long; the limit is "
            f"{limits.MAX_TEXT:,}, about 700 columns of a DataFrame (these inputs have "
            f"{fields}): for that many features, give the sample as one array (a .npy "
            "file, or a NumPy array: one field of shape [-1, N]) or a signature of kind "
            "ndarray with such a field"
        )
    validation.text(text, "contract (as JSON)", limits.MAX_TEXT)
    doc: dict[str, Any] = json.loads(text)
    return doc


@dataclass(frozen=True)
class Prepared:
    """A version's contract as it will be stored, and its sample's Parquet bytes."""

    doc: dict[str, Any] | None
    sample: bytes | None = None


def prepare(
    *,
    signature: Signature | Mapping[str, Any] | str | None,
    sample: Any,
    contract: Mapping[str, Any] | None,
    sample_rows: int,
    flavor: str | None = None,
) -> Prepared:
    """Validate a registration's contract and sample; nothing is written.

    ``signature`` is a :class:`Signature`, its JSON object or JSON text.
    ``sample`` is any value :func:`~modelbook.contract.infer_signature`
    reads, or a :class:`pathlib.Path` to a ``.csv``, ``.parquet`` or
    ``.npy`` file; its first ``sample_rows`` rows are kept. Without a
    signature, the signature is inferred from the sample. ``contract`` is a
    free-form contract (JSON object) of the kind stored before signatures.

    Raises InvalidInput: both a signature and a free-form contract, a sample
    with a free-form contract, a bad signature, an unreadable sample, or a
    sample whose columns or dtypes do not match the signature's inputs.
    ``flavor`` (a name of :data:`modelbook.flavors.FLAVORS`) is stored as the
    signature's ``runtime.flavor``; it needs a signature or a sample.
    """
    if flavor is not None:
        from .. import flavors

        flavors.get(flavor)
        if signature is None and sample is None:
            raise InvalidInput(
                "a declared flavor is stored in the signature's runtime: give a signature "
                "or a sample with it, or leave the flavor out (loading detects it)"
            )
    if contract is not None and (signature is not None or sample is not None):
        raise InvalidInput(
            "give a signature (and sample), or a free-form contract, not both: "
            "a sample is checked against a signature"
        )
    if signature is None and sample is None:
        return Prepared(None if contract is None else contract_doc(contract))
    rows = samples.check_rows(sample_rows)
    sig = None if signature is None else parse_signature(signature)
    if sig is not None and sig.runtime.flavor is not None:
        from .. import flavors

        try:
            flavors.get(sig.runtime.flavor)
        except InvalidInput as exc:
            raise InvalidInput(f"invalid signature: runtime.flavor: {exc}") from None
    data = None
    if sample is not None:
        if isinstance(sample, os.PathLike):
            sample = samples.read_file(Path(sample), rows, None if sig is None else sig.inputs)
        kept, truncated = samples.cut(sample, rows)
        if samples.row_count(kept) == 0:
            # A smoke test or a comparison predicts on these rows: none proves nothing.
            raise InvalidInput("the sample has no rows: give at least one row of inputs")
        if sig is None:
            sig = Signature(inputs=schema_of(kept, "sample"))
        else:
            problems = conformance(sig.inputs, kept)
            if problems:
                raise InvalidInput(
                    "the sample does not match the signature's inputs: " + "; ".join(problems)
                )
        data = samples.encode(kept, sig.inputs)
        ref = SampleRef(rows=samples.row_count(kept), truncated=truncated)
        sig = sig.model_copy(update={"sample": ref})
    elif sig is not None and sig.sample is not None:
        # A signature copied from another version names that version's sample, not one of this.
        sig = sig.model_copy(update={"sample": None})
    assert sig is not None
    if flavor is not None:
        sig = sig.model_copy(update={"runtime": sig.runtime.model_copy(update={"flavor": flavor})})
    return Prepared(contract_doc(sig.model_dump(mode="json"), signature=True), data)


def inferred(
    sample: Any,
    sample_rows: int,
    files: Sequence[tuple[str, Path]],
    flavor: str | None = None,
) -> Signature:
    """The signature of a sample's first ``sample_rows`` rows, with the runtime of the
    model among ``files`` (``(artifact path, local file)``, as
    :func:`modelbook.files.collect` lists them), as ``infer_signature(model=...)``
    records it from a model object: the framework of its flavor (declared, or detected
    from the files' names and first bytes) at its installed version. A flavor that
    names no framework, or no single model file, records none; a plain pickle whose
    object is of a scikit-learn class records scikit-learn, as the sklearn flavor does
    (read from the pickle's opcodes, without unpickling it).
    Raises InvalidInput (a sample that cannot be described, an unknown flavor).
    """
    from .. import flavors
    from ..contract_infer import runtime_of

    kept, _ = samples.cut(sample, samples.check_rows(sample_rows))
    inputs = schema_of(kept, "sample")
    from ..flavors import sklearn

    try:
        found, path = flavors.detect(local_heads(files), flavor)
    except InvalidInput:
        if flavor is not None:
            flavors.get(flavor)  # an unknown flavor is the user's error; a missing file is not
        return Signature(inputs=inputs)
    framework = found.framework
    if framework is None and found.pickled:
        local = dict(files).get(path)
        if local is not None and _pickled_sklearn(local):
            framework = sklearn.FLAVOR.framework
    return Signature(inputs=inputs, runtime=runtime_of(None, framework, None))


# Enough of a pickle to reach the class of the object it holds: it comes first.
_PICKLE_HEAD = 1 << 16


def _pickled_sklearn(local: Path) -> bool:
    """Whether the pickle at ``local`` holds an object of a scikit-learn class."""
    from ..flavors.pickled import top_level_class

    with local.open("rb") as f:
        found = top_level_class(f.read(_PICKLE_HEAD))
    return found is not None and found.split(".")[0] == "sklearn"


def local_heads(files: Sequence[tuple[str, Path]]) -> list[tuple[str, bytes]]:
    """``(artifact path, first 16 bytes)`` of local files, as flavors tell them apart."""
    heads = []
    for path, local in files:
        with local.open("rb") as f:
            heads.append((path, f.read(16)))
    return heads


def with_runtime(metadata: dict[str, Any], files: Sequence[tuple[str, Path]]) -> dict[str, Any]:
    """A registration's arguments with the signature inferred from its sample (a value or
    a file) and the runtime of its model file (see :func:`inferred`)."""
    rows = metadata.get("sample_rows", samples.DEFAULT_ROWS)
    sample = metadata["sample"]
    if isinstance(sample, os.PathLike):
        sample = samples.read_file(Path(sample), samples.check_rows(rows), None)
    signature = inferred(sample, rows, files, metadata.get("flavor"))
    return {**metadata, "sample": sample, "signature": signature}


def check_flavor(prepared: Prepared, heads: Callable[[], Sequence[tuple[str, bytes]]]) -> None:
    """A declared flavor must find its one model file among the version's files, as
    loading will; InvalidInput otherwise. ``heads()`` gives ``(artifact path, first
    bytes)`` of each file, and is called only when a flavor is declared."""
    from .. import flavors

    runtime = (prepared.doc or {}).get("runtime")
    declared = runtime.get("flavor") if isinstance(runtime, dict) else None
    if declared is not None:
        try:
            flavors.detect(heads(), declared)
        except InvalidInput as exc:
            raise InvalidInput(f"flavor {declared!r} declared, but {exc}") from None


def check_paths(prepared: Prepared, paths: list[str]) -> None:
    """Refuse a file of the user's own at the path where the sample goes."""
    if prepared.sample is not None and SAMPLE_PATH in paths:
        raise InvalidInput(
            f"artifact path {SAMPLE_PATH!r} is where the input sample is stored: "
            "rename that file, or leave out the sample"
        )


def store_sample(put_file: Callable[[Path], tuple[str, int]], data: bytes) -> Artifact:
    """Store the sample's Parquet bytes by content; its manifest entry once durable."""
    fd, name = tempfile.mkstemp(prefix="modelbook-sample-", suffix=".parquet")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        sha, size = put_file(Path(name))
    finally:
        Path(name).unlink(missing_ok=True)
    return Artifact(path=SAMPLE_PATH, size=size, sha256=sha)


def sample_reader(read_verified: Callable[[str, int], bytes]) -> Callable[[Version], Any]:
    """A reader of a version's stored sample (None when it has none), for the checks."""

    def read(version: Version) -> Any:
        for a in version.artifacts:
            if a.path == SAMPLE_PATH:
                return samples.decode(read_verified(a.sha256, a.size))
        return None

    return read
