"""Tags of models and versions: mutable annotations, each change an audit event."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from .. import uris, validation
from ..errors import IntegrityError, InvalidInput
from ..store import models as model_rows
from . import audit as log
from .base import Context, model_row, version_row


class TagService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def set(
        self,
        uri: str,
        tags: Mapping[str, object],
        *,
        actor: str,
        remove: Sequence[str] = (),
    ) -> dict[str, str]:
        """Set and remove tags of a version (``models:/n/3``, ``/1.2.0``, ``@alias``) or a
        model (``models:/n``); returns all its tags after the change.

        The model's row is locked before the tags are read, whatever form the
        URI takes, so concurrent changes to one version never lose each other.
        """
        ref = uris.parse(uri)
        new = validation.indexed_tags(tags)
        if isinstance(remove, str):
            remove = [remove]
        drop = [validation.key(k, "tag key") for k in remove]
        if not new and not drop:
            raise InvalidInput("no tags given: pass KEY=VALUE to set or a key to remove")
        both = sorted(set(new) & set(drop))
        if both:
            # Which one was meant cannot be told: set and remove are not ordered.
            raise InvalidInput(
                f"tag {', '.join(map(repr, both))} is both set and removed: give each key once"
            )
        now = self.ctx.clock()
        with self.ctx.db.write() as conn:
            if ref.kind == "model":
                row = model_row(conn, ref.name, lock=True)
                head = log.Head.of_model(ref.name, row)
                number = None
            else:
                row = version_row(conn, ref, lock=True)
                head = log.Head.of_model(ref.name, row)
                number = row.number
            try:
                old = json.loads(row.tags)
                if not isinstance(old, dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:
                raise IntegrityError(
                    f"the stored tags of {ref} cannot be read ({exc}); its row was edited"
                ) from None
            merged = {**old, **new}
            for k in drop:
                merged.pop(k, None)
            changed = {k: v for k, v in new.items() if k in merged and old.get(k) != v}
            removed = [k for k in drop if k in old]
            if not changed and not removed:
                return merged
            if number is None:
                model_rows.write_model_tags(
                    conn, row.id, changed=changed, removed=removed, merged=merged
                )
            else:
                model_rows.write_version_tags(
                    conn,
                    row.id,
                    model_id=row.model_id,
                    changed=changed,
                    removed=removed,
                    merged=merged,
                )
            log.record(
                conn,
                head,
                actor=actor,
                at=now,
                action="model.tag" if number is None else "version.tag",
                subject=log.subject_of(ref.name, number),
                model=ref.name,
                version=number,
                before=old,
                after=merged,
            )
            return merged
