"""The Registry: every operation and every rule of modelbook.

Front ends (CLI, and later the REST server and the remote client) call this
class and nothing below it. Each mutation is one database transaction that
also writes its audit event; artifacts are made durable before the
transaction that references them commits.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import getpass
import json
import os
import shutil
import stat
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from . import capture, uris, validation
from .blobs import BlobStore
from .domain import (
    Alias,
    AliasEvent,
    Artifact,
    CodeRef,
    DataRef,
    Environment,
    FeatureSetRef,
    Lineage,
    Metric,
    Model,
    Page,
    Problem,
    RiskTier,
    Stage,
    Training,
    VerifyReport,
    Version,
)
from .errors import Conflict, InvalidInput, NotFound
from .store import Database, default_home
from .store import queries as q
from .store import schema as t

Progress = Callable[[int], None]
MAX_PAGE = 1000
# Parsed versions kept in memory per Registry (a few KB each).
VERSION_CACHE_SIZE = 16_384


def _now_us() -> int:
    return time.time_ns() // 1000


def _actor() -> str:
    name = os.environ.get("MODELBOOK_USER")
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


def _encode_token(payload: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _decode_token(token: str, scope: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
        if payload.get("s") != scope or not isinstance(payload.get("k"), int):
            raise ValueError("token is for another listing")
        if not 0 < payload["k"] < 2**62:
            raise ValueError("position out of range")
        return int(payload["k"])
    except (ValueError, binascii.Error, UnicodeDecodeError, AttributeError) as exc:
        raise InvalidInput(f"invalid page token {token!r}: {exc}") from None


def _limit(limit: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"invalid limit {limit!r}: choose 1 to {MAX_PAGE}")
    return limit


def collect_files(paths: Sequence[str | os.PathLike[str]]) -> list[tuple[str, Path]]:
    """(manifest path, file) pairs for files and directories given by a user.

    One directory: its files, relative to it. Several paths: each file by its
    name, each directory's files under the directory's name.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    if not paths:
        raise InvalidInput("no artifact paths given: name at least one file or directory")
    single_dir = len(paths) == 1 and Path(paths[0]).is_dir()
    out: dict[str, Path] = {}
    for raw in paths:
        src = Path(raw)
        try:
            st = src.stat()
        except FileNotFoundError:
            raise InvalidInput(f"artifact path {str(src)!r} does not exist") from None
        except OSError as exc:
            raise InvalidInput(f"artifact path {str(src)!r} cannot be read: {exc}") from None
        if stat.S_ISDIR(st.st_mode):
            files = sorted(p for p in src.rglob("*") if p.is_file())
            if not files:
                raise InvalidInput(f"artifact directory {str(src)!r} contains no files")
            for f in files:
                rel = f.relative_to(src).as_posix()
                _add(out, rel if single_dir else f"{src.resolve().name}/{rel}", f)
        elif stat.S_ISREG(st.st_mode):
            _add(out, src.name, src)
        else:
            raise InvalidInput(f"artifact path {str(src)!r} is not a regular file or directory")
    for rel, f in out.items():
        if not os.access(f, os.R_OK):
            raise InvalidInput(f"artifact file {str(f)!r} ({rel}) is not readable")
    return sorted(out.items())


def _add(out: dict[str, Path], rel: str, f: Path) -> None:
    validation.text(rel, "artifact path", 1024)
    if rel in out:
        raise InvalidInput(f"two artifacts would both be stored as {rel!r}")
    out[rel] = f


def _lineage_rows(lin: Lineage) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    if lin.code.repo:
        rows.append(("code", "repo", lin.code.repo))
    if lin.code.commit:
        rows.append(("code", "commit", lin.code.commit))
    for d in lin.data:
        rows.append(("data", "snapshot", d.snapshot))
        if d.sha256:
            rows.append(("data", "sha256", d.sha256))
    if lin.features:
        rows.append(("features", "name", lin.features.name))
        if lin.features.version:
            rows.append(("features", "ref", f"{lin.features.name}@{lin.features.version}"))
    if lin.run_id:
        rows.append(("run", "id", lin.run_id))
    if lin.experiment_id:
        rows.append(("experiment", "id", lin.experiment_id))
    for p in lin.parents:
        rows.append(("parent", "version", p))
    for _, key, value in rows:
        validation.text(value, f"lineage {key}", 512)
    return rows


def _merge(base: Any, given: Any, cls: type[Any]) -> Any:
    """Explicit fields win over captured ones."""
    if given is None:
        return base
    if isinstance(given, cls):
        return given
    if isinstance(given, Mapping):
        try:
            return cls.model_validate({**base.model_dump(), **given})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidInput(f"invalid {cls.__name__} field {where}: {first['msg']}") from None
    raise InvalidInput(f"expected {cls.__name__} or a mapping, got {type(given).__name__}")


class Registry:
    """A model registry on one metadata database and one blob store.

    ``uri`` is any SQLAlchemy database URI; by default a SQLite file under
    ``$MODELBOOK_HOME`` (``~/.modelbook``). ``MODELBOOK_URI`` and
    ``MODELBOOK_BLOB_URI`` override the defaults; ``blob_options`` go to the
    fsspec filesystem (for S3: ``endpoint_url``, ``key``, ``secret`` ...).
    """

    def __init__(
        self,
        uri: str | None = None,
        *,
        blob_uri: str | None = None,
        home: str | os.PathLike[str] | None = None,
        actor: str | None = None,
        blob_options: Mapping[str, Any] | None = None,
    ) -> None:
        root = Path(home).expanduser() if home is not None else default_home()
        uri = uri or os.environ.get("MODELBOOK_URI") or f"sqlite:///{root / 'registry.db'}"
        blob_uri = blob_uri or os.environ.get("MODELBOOK_BLOB_URI") or str(root / "blobs")
        self.uri = uri
        self.actor = actor or _actor()
        self.db = Database(uri)
        self.db.migrate()
        self.blobs = BlobStore(blob_uri, **dict(blob_options or {}))
        self._cache: OrderedDict[int, tuple[str, Version]] = OrderedDict()

    def close(self) -> None:
        self.db.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Registry(uri={self.uri!r}, blob_uri={self.blobs.url!r})"

    # models ---------------------------------------------------------------

    def create_model(
        self,
        name: str,
        *,
        owners: Sequence[str] | str,
        task: str | None = None,
        risk_tier: str = "low",
        description: str | None = None,
        tags: Mapping[str, object] | None = None,
    ) -> Model:
        values = self._model_values(name, owners, task, risk_tier, description, tags)
        with self.db.write() as conn:
            if not q.insert_model_if_absent(conn, values):
                from .errors import AlreadyExists

                raise AlreadyExists(f"model {name!r} already exists")
            row = q.find_model(conn, name)
            assert row is not None
            self._write_model_tags(conn, row.id, json.loads(values["tags"]))
            q.record_event(
                conn, action="model.create", actor=self.actor, at=values["created_at"], model=name
            )
        return q.model_from_row(row)

    def _model_values(
        self,
        name: str,
        owners: Sequence[str] | str | None,
        task: str | None,
        risk_tier: str | None,
        description: str | None,
        tags: Mapping[str, object] | None,
    ) -> dict[str, Any]:
        validation.model_name(name)
        owner_list = validation.owners(owners)
        if not owner_list:
            raise InvalidInput(
                f"model {name!r} does not exist yet: give an owner (--owner) to create it"
            )
        return {
            "name": name,
            "owners": q.dumps(owner_list),
            "task": None if task is None else validation.text(task, "task", 256),
            "risk_tier": validation.risk_tier(risk_tier or "low"),
            "description": None
            if description is None
            else validation.text(description, "description", validation.MAX_TEXT_LEN),
            "tags": q.dumps(validation.indexed_tags(tags, "model tag")),
            "created_at": _now_us(),
            "created_by": self.actor,
            "last_number": 0,
            "semver_major": 0,
            "semver_minor": 0,
            "semver_patch": 0,
        }

    def _write_model_tags(self, conn: Any, model_id: int, tags: Mapping[str, str]) -> None:
        if tags:
            q.write_tags(
                conn,
                t.model_tags,
                "model_id",
                model_id,
                t.models,
                changed=tags,
                removed=(),
                merged=None,
            )

    def get_model(self, name: str) -> Model:
        validation.model_name(name)
        return q.model_from_row(self.db.reading(lambda conn: self._model_row(conn, name)))

    @staticmethod
    def _model_row(conn: Any, name: str, *, lock: bool = False) -> Any:
        row = q.find_model(conn, name, lock=lock)
        if row is None:
            raise NotFound(f"model {name!r} not found")
        return row

    def models(self, *, limit: int = 100, page_token: str | None = None) -> Page[Model]:
        """Models, newest first."""
        _limit(limit)
        before = None if page_token is None else _decode_token(page_token, "models")
        rows = self.db.reading(lambda conn: q.list_models(conn, before_id=before, limit=limit + 1))
        token = (
            _encode_token({"s": "models", "k": rows[limit - 1].id}) if len(rows) > limit else None
        )
        return Page(items=[q.model_from_row(r) for r in rows[:limit]], next_page_token=token)

    # registration ---------------------------------------------------------------

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
        semver: str | None = None,
        change_summary: str | None = None,
        caveats: Sequence[str] = (),
        capture_environment: bool = True,
        progress: Progress | None = None,
    ) -> Version:
        """Register a new immutable version of ``name`` from files or a directory.

        The model is created on first use, which needs ``owners``; ``task``,
        ``risk_tier`` and ``description`` apply only then. Environment and
        code are captured from this process and its working directory unless
        given (a mapping overrides single fields).
        """
        validation.model_name(name)
        files = collect_files(paths)  # type: ignore[arg-type]
        metric_list = validation.metrics(metrics)
        tag_map = validation.indexed_tags(tags)
        param_map = validation.indexed_tags(params, "param")
        explicit_semver = None if semver is None else validation.parse_semver(semver)
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise InvalidInput(f"seed must be an integer, got {seed!r}")
        parent_refs = []
        for p in parents:
            ref = uris.parse(p)
            if ref.kind != "number":
                raise InvalidInput(f"parent {p!r} must name a version number: models:/NAME/N")
            parent_refs.append(f"{ref.name}/{ref.number}")
        try:
            data_refs = [data] if isinstance(data, str | DataRef) else list(data or [])
            data_list = [
                d if isinstance(d, DataRef) else DataRef(snapshot=validation.text(d, "data", 512))
                for d in data_refs
            ]
            if isinstance(features, str):
                fname, _, fver = features.partition("@")
                features = FeatureSetRef(name=fname, version=fver or None)
            lineage = Lineage(
                code=_merge(capture.code() if capture_environment else CodeRef(), code, CodeRef),
                data=tuple(data_list),
                features=features,
                run_id=run_id,
                experiment_id=experiment_id,
                parents=tuple(parent_refs),
            )
            lineage_rows = _lineage_rows(lineage)
            env = _merge(
                capture.environment() if capture_environment else Environment(),
                environment,
                Environment,
            )
            training = Training(
                params=param_map,
                seed=seed,
                hardware=validation.optional_text(hardware, "hardware", 512),
                duration_seconds=validation.optional_number(duration_seconds, "duration_seconds"),
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidInput(f"invalid {where or 'value'}: {first['msg']}") from None
        if isinstance(caveats, str) or not isinstance(caveats, list | tuple):
            raise InvalidInput("caveats must be a list of texts")
        caveat_list = tuple(validation.text(c, "caveat") for c in caveats)
        summary = None if change_summary is None else validation.text(change_summary, "note")
        contract_doc = None if contract is None else self._contract(contract)
        model_values = None

        existing = self.db.reading(lambda conn: q.find_model(conn, name))
        highest = None if existing is None else q.highest_semver(existing)
        if existing is None:
            model_values = self._model_values(name, owners, task, risk_tier, description, None)
        elif risk_tier is not None:
            validation.risk_tier(risk_tier)
        if explicit_semver is not None and highest is not None:
            self._check_semver(name, explicit_semver, highest)

        # Blobs first: the version row may only reference durable content.
        manifest: list[Artifact] = []
        for rel, src in files:
            sha, size = self.blobs.put_file(src, progress or (lambda _: None))
            manifest.append(Artifact(path=rel, size=size, sha256=sha))

        now = _now_us()
        doc = {
            "artifacts": [a.model_dump() for a in manifest],
            "contract": contract_doc,
            "lineage": lineage.model_dump(mode="json"),
            "training": training.model_dump(mode="json"),
            "environment": env.model_dump(mode="json"),
            "metrics": [m.model_dump() for m in metric_list],
            "caveats": list(caveat_list),
            "change_summary": summary,
        }
        with self.db.write() as conn:
            if model_values is not None:
                model_values["created_at"] = now
                if q.insert_model_if_absent(conn, model_values):
                    q.record_event(
                        conn, action="model.create", actor=self.actor, at=now, model=name
                    )
            taken = q.take_number(conn, name, explicit_semver)
            if taken is None:
                row = q.find_model(conn, name)
                if row is None:
                    raise NotFound(f"model {name!r} not found")
                highest = q.highest_semver(row)
                assert explicit_semver is not None and highest is not None
                self._check_semver(name, explicit_semver, highest)
                raise Conflict(f"could not take a version number of model {name!r}")
            number = taken.last_number
            parts = (taken.semver_major, taken.semver_minor, taken.semver_patch)
            semver_text = ".".join(map(str, parts))
            q.insert_version(
                conn,
                {
                    "model_id": taken.id,
                    "number": number,
                    "semver": semver_text,
                    "semver_major": parts[0],
                    "semver_minor": parts[1],
                    "semver_patch": parts[2],
                    "stage": Stage.STAGING.value,
                    "doc": q.dumps(doc),
                    "tags": q.dumps(tag_map),
                    "created_at": now,
                    "created_by": self.actor,
                },
                artifacts=[a.model_dump() for a in manifest],
                tags=tag_map,
                metrics=[
                    {"name": m.name, "split": m.split or "", "slice": m.slice_key, "value": m.value}
                    for m in metric_list
                ],
                params=param_map,
                lineage=lineage_rows,
            )
            q.record_event(
                conn,
                action="version.register",
                actor=self.actor,
                at=now,
                model=name,
                version=number,
                detail={"semver": semver_text, "files": len(manifest)},
            )
        return Version.model_validate(
            {
                **doc,
                "model": name,
                "number": number,
                "semver": semver_text,
                "stage": Stage.STAGING,
                "tags": tag_map,
                "created_by": self.actor,
                "created_at": q.to_dt(now),
            }
        )

    @staticmethod
    def _contract(contract: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(contract, Mapping):
            raise InvalidInput(f"contract must be a mapping, got {type(contract).__name__}")
        try:
            doc: dict[str, Any] = json.loads(q.dumps(dict(contract)))
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"contract must be plain JSON data: {exc}") from None
        validation.text(q.dumps(doc), "contract", validation.MAX_TEXT_LEN)
        return doc

    @staticmethod
    def _check_semver(
        name: str, wanted: tuple[int, int, int], highest: tuple[int, int, int]
    ) -> None:
        if wanted <= highest:
            raise InvalidInput(
                f"semver {'.'.join(map(str, wanted))} must be greater than "
                f"{'.'.join(map(str, highest))}, the highest semver of model {name!r}"
            )

    # reading versions -------------------------------------------------------------

    def get_version(self, uri: str) -> Version:
        """The version a URI names (number, semver, alias or ``latest``)."""
        ref = uris.parse(uri)
        return self.db.reading(lambda conn: self._version(conn, ref))

    resolve = get_version

    def _version(self, conn: Any, ref: uris.ModelRef) -> Version:
        return self._from_row(ref.name, self._version_row(conn, ref))

    def _version_row(self, conn: Any, ref: uris.ModelRef, *, lock: bool = False) -> Any:
        """The row of the version a reference names; ``lock`` takes its row lock."""
        if ref.kind == "number":
            row = q.find_version(conn, ref.name, ref.number, lock=lock)
        elif ref.kind == "semver":
            row = q.find_version_by_semver(conn, ref.name, ref.value, lock=lock)
        elif ref.kind == "alias":
            row = q.find_version_by_alias(conn, ref.name, ref.value, lock=lock)
        elif ref.kind == "latest":
            row = q.find_latest_version(conn, ref.name, lock=lock)
        else:
            raise InvalidInput(f"{ref} names a model, not a version: add /NUMBER or @ALIAS")
        if row is None:
            if q.find_model(conn, ref.name) is None:
                raise NotFound(f"model {ref.name!r} not found")
            what = {"alias": "alias", "latest": "version"}.get(ref.kind, "version")
            if ref.kind == "latest":
                raise NotFound(f"model {ref.name!r} has no versions yet")
            raise NotFound(f"{what} {ref} not found")
        return row

    def _from_row(self, model: str, row: Any) -> Version:
        """Build a Version, reusing the parsed frozen part: versions never change.

        The cache keeps the most recently used versions by row id; an entry is
        used only while the version's tags and stage are those it was built with.
        """
        hit = self._cache.get(row.id)
        if hit is not None and hit[0] == row.tags and hit[1].stage == row.stage:
            with contextlib.suppress(KeyError):
                self._cache.move_to_end(row.id)
            return hit[1]
        version = q.version_from_row(model, row)
        self._cache[row.id] = (row.tags, version)
        while len(self._cache) > VERSION_CACHE_SIZE:
            with contextlib.suppress(KeyError):
                self._cache.popitem(last=False)
        return version

    def versions(
        self,
        name: str,
        *,
        limit: int = 100,
        page_token: str | None = None,
        newest_first: bool = True,
    ) -> Page[Version]:
        """Versions of one model, newest first by default."""
        validation.model_name(name)
        _limit(limit)
        scope = f"versions:{name}:{'desc' if newest_first else 'asc'}"
        after = None if page_token is None else _decode_token(page_token, scope)

        def read(conn: Any) -> list[Any]:
            model = self._model_row(conn, name)
            return q.list_versions(
                conn, model.id, after=after, limit=limit + 1, newest_first=newest_first
            )

        rows = self.db.reading(read)
        token = (
            _encode_token({"s": scope, "k": rows[limit - 1].number}) if len(rows) > limit else None
        )
        return Page(items=[self._from_row(name, r) for r in rows[:limit]], next_page_token=token)

    def search_versions(
        self,
        *,
        model: str | None = None,
        tags: Mapping[str, object] | None = None,
        metrics: Sequence[tuple[str, str, float]] = (),
        stage: Stage | str | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[Version]:
        """Versions matching all filters, newest first.

        ``tags`` match exactly; each metric filter is ``(key, op, value)`` with
        a metric key as registered (``auc``, ``auc@test{region=eu}``) and op one
        of ``> >= < <= = !=``.
        """
        if model is not None:
            validation.model_name(model)
        tag_map = validation.indexed_tags(tags)
        metric_filters = []
        for item in metrics:
            if not isinstance(item, tuple | list) or len(item) != 3:
                raise InvalidInput(f"metric filter {item!r} must be (key, op, value)")
            key_text, op, raw = item
            if op not in q.SEARCH_OPS:
                raise InvalidInput(
                    f"invalid operator {op!r} in metric filter: use one of {' '.join(q.SEARCH_OPS)}"
                )
            m = validation.metric(key_text, raw)
            metric_filters.append((m.name, m.split or "", m.slice_key, op, m.value))
        stage_value = None if stage is None else validation.stage(stage)
        _limit(limit)
        before = None if page_token is None else _decode_token(page_token, "search")
        rows = self.db.reading(
            lambda conn: q.search_versions(
                conn,
                model=model,
                tags=tag_map,
                metrics=metric_filters,
                stage=stage_value,
                before_id=before,
                limit=limit + 1,
            )
        )
        token = (
            _encode_token({"s": "search", "k": rows[limit - 1].id}) if len(rows) > limit else None
        )
        return Page(
            items=[self._from_row(r.model_name, r) for r in rows[:limit]],
            next_page_token=token,
        )

    # tags ----------------------------------------------------------------------------

    def set_tags(
        self, uri: str, tags: Mapping[str, object], *, remove: Sequence[str] = ()
    ) -> dict[str, str]:
        """Set and remove tags of a version (``models:/n/3``) or a model (``models:/n``)."""
        ref = uris.parse(uri)
        new = validation.indexed_tags(tags)
        drop = [validation.key(k, "tag key") for k in remove]
        if not new and not drop:
            raise InvalidInput("no tags given: pass KEY=VALUE to set or a key to remove")
        now = _now_us()
        with self.db.write() as conn:
            if ref.kind == "model":
                row = self._model_row(conn, ref.name, lock=True)
                table, owner_col, json_table, number = t.model_tags, "model_id", t.models, None
            else:
                row = self._version_row(conn, ref, lock=True)
                table, owner_col, json_table = t.version_tags, "version_id", t.versions
                number = row.number
            old = json.loads(row.tags)
            merged = {**old, **new}
            for k in drop:
                merged.pop(k, None)
            q.write_tags(
                conn,
                table,
                owner_col,
                row.id,
                json_table,
                changed={k: v for k, v in new.items() if k in merged and old.get(k) != v},
                removed=[k for k in drop if k in old],
                merged=merged,
            )
            q.record_event(
                conn,
                action="model.tag" if number is None else "version.tag",
                actor=self.actor,
                at=now,
                model=ref.name,
                version=number,
                detail={"set": new, "removed": drop},
            )
            return merged

    # aliases ----------------------------------------------------------------------------

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int | str,
        *,
        reason: str,
        expect: int | None = None,
    ) -> Alias:
        """Point ``alias`` at a version (number or semver).

        With ``expect=N`` the move happens only if the alias still points at
        version N (``expect=0``: only if the alias does not exist yet); else
        :class:`Conflict`.
        """
        validation.model_name(name)
        validation.alias_name(alias)
        why = validation.reason(reason)
        self._valid_expect(expect)
        ref = self._version_ref(name, version)
        now = _now_us()
        with self.db.write() as conn:
            target = q.alias_target(conn, name, alias, ref.kind, ref.value)
            if target is None:
                raise NotFound(f"model {name!r} not found")
            if target.version_id is None:
                raise NotFound(f"version {ref} not found")
            self._check_expect(name, alias, target.current, expect)
            if target.current == target.number:
                return self._alias(conn, name, target.model_id, alias)
            q.put_alias(
                conn,
                target.model_id,
                alias,
                version_id=target.version_id,
                number=target.number,
                exists=target.current is not None,
                at=now,
                actor=self.actor,
            )
            self._record_move(
                conn, name, target.model_id, alias, target.current, target.number, why, now
            )
        return Alias(
            model=name,
            name=alias,
            version=target.number,
            updated_at=q.to_dt(now),
            updated_by=self.actor,
        )

    def delete_alias(
        self, name: str, alias: str, *, reason: str, expect: int | None = None
    ) -> None:
        validation.model_name(name)
        validation.alias_name(alias)
        why = validation.reason(reason)
        self._valid_expect(expect)
        now = _now_us()
        with self.db.write() as conn:
            target = q.alias_target(conn, name, alias)
            if target is None:
                raise NotFound(f"model {name!r} not found")
            if target.current is None:
                raise NotFound(f"alias models:/{name}@{alias} not found")
            self._check_expect(name, alias, target.current, expect)
            q.drop_alias(conn, target.model_id, alias)
            self._record_move(conn, name, target.model_id, alias, target.current, None, why, now)

    def _record_move(
        self,
        conn: Any,
        name: str,
        model_id: int,
        alias: str,
        from_number: int | None,
        to_number: int | None,
        why: str,
        now: int,
    ) -> None:
        """One alias move in the alias history and the event log."""
        q.record_alias_event(
            conn,
            model_id,
            alias,
            from_number=from_number,
            to_number=to_number,
            actor=self.actor,
            reason=why,
            at=now,
        )
        q.record_event(
            conn,
            action="alias.set" if to_number is not None else "alias.delete",
            actor=self.actor,
            at=now,
            model=name,
            version=to_number if to_number is not None else from_number,
            detail={"alias": alias, "from": from_number, "to": to_number, "reason": why},
        )

    @staticmethod
    def _valid_expect(expect: int | None) -> None:
        if expect is not None and expect != 0:
            validation.version_number(expect, "expected version")

    @staticmethod
    def _check_expect(name: str, alias: str, current: int | None, expect: int | None) -> None:
        if expect is None:
            return
        actual = 0 if current is None else current
        if actual != expect:
            now_at = "does not exist" if current is None else f"points at version {actual}"
            wanted = "not to exist" if expect == 0 else f"to point at version {expect}"
            raise Conflict(
                f"alias models:/{name}@{alias} {now_at}; expected it {wanted} "
                "(someone moved it first?)"
            )

    @staticmethod
    def _version_ref(name: str, version: int | str) -> uris.ModelRef:
        if isinstance(version, bool):
            raise InvalidInput(f"invalid version {version!r}")
        if isinstance(version, int):
            return uris.ModelRef(name, "number", str(validation.version_number(version)))
        ref = uris.parse(f"models:/{name}/{version}")
        if ref.kind not in ("number", "semver"):
            raise InvalidInput(f"invalid version {version!r}: give a number or MAJOR.MINOR.PATCH")
        return ref

    def _alias(self, conn: Any, name: str, model_id: int, alias: str) -> Alias:
        for a in q.list_aliases(conn, name, model_id):
            if a.name == alias:
                return a
        raise NotFound(f"alias models:/{name}@{alias} not found")

    def aliases(self, name: str) -> list[Alias]:
        validation.model_name(name)
        return self.db.reading(
            lambda conn: q.list_aliases(conn, name, self._model_row(conn, name).id)
        )

    def alias_history(
        self, name: str, alias: str | None = None, *, limit: int = 100
    ) -> list[AliasEvent]:
        """Moves of the model's aliases (or one alias), newest first."""
        validation.model_name(name)
        if alias is not None:
            validation.alias_name(alias)
        _limit(limit)
        return self.db.reading(
            lambda conn: q.alias_history(conn, name, self._model_row(conn, name).id, alias, limit)
        )

    # artifacts ---------------------------------------------------------------------------

    def download(
        self, uri: str, dest: str | os.PathLike[str], progress: Progress | None = None
    ) -> Path:
        """Write a version's files under ``dest``, all or nothing.

        Each file is fetched into a staging folder inside ``dest`` and checked
        against its sha256; only when every file is intact are they moved into
        place, so a corrupt blob leaves no file behind.
        """
        version = self.get_version(uri)
        root = Path(dest).expanduser().resolve()
        targets = []
        for artifact in version.artifacts:
            target = (root / artifact.path).resolve()
            if not target.is_relative_to(root):
                raise InvalidInput(f"artifact path {artifact.path!r} escapes {root}")
            targets.append((artifact, target))
        try:
            root.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".modelbook-download-", dir=root))
        except OSError as exc:
            raise InvalidInput(f"cannot write to {root}: {exc}") from exc
        try:
            for i, (artifact, _) in enumerate(targets):
                self.blobs.copy_to(
                    artifact.sha256, artifact.size, staging / str(i), progress or (lambda _: None)
                )
            for i, (_, target) in enumerate(targets):
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / str(i), target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return root

    def read_artifact(self, uri: str, path: str) -> bytes:
        """One artifact's bytes, verified."""
        version = self.get_version(uri)
        for artifact in version.artifacts:
            if artifact.path == path:
                return self.blobs.read_verified(artifact.sha256, artifact.size)
        raise NotFound(f"{version.uri} has no artifact {path!r}")

    def verify(self, name: str | None = None, progress: Progress | None = None) -> VerifyReport:
        """Rehash every stored artifact (of one model, or all) and name each bad file."""
        if name is not None:
            validation.model_name(name)
        with self.db.read() as conn:
            if name is not None and q.find_model(conn, name) is None:
                raise NotFound(f"model {name!r} not found")
            rows = q.all_artifacts(conn, name)
        verdict: dict[str, str | None] = {}
        problems: list[Problem] = []
        total = 0
        for r in rows:
            if r.sha256 not in verdict:
                verdict[r.sha256] = self.blobs.check(r.sha256, r.size)
                total += r.size
                if progress:
                    progress(r.size)
            bad = verdict[r.sha256]
            if bad is not None:
                problems.append(
                    Problem(
                        model=r.name,
                        version=r.number,
                        path=r.path,
                        sha256=r.sha256,
                        kind="missing" if bad == "missing" else "corrupt",
                        detail=bad,
                    )
                )
        return VerifyReport(
            versions=len({(r.name, r.number) for r in rows}),
            files=len(rows),
            bytes=total,
            problems=tuple(problems),
        )


__all__ = ["Registry", "RiskTier", "collect_files"]
