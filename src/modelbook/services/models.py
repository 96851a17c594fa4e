"""Models: creation, reading and listing."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from .. import audit, limits, paging, validation
from ..domain import Model, Page
from ..errors import AlreadyExists, InvalidInput
from ..events import ModelState, model_chain
from ..store import models as model_rows
from ..store.rows import dumps
from . import audit as log
from .base import Context, model_row, readable


def model_values(
    name: str,
    owners: Sequence[str] | str | None,
    task: str | None,
    risk_tier: str | None,
    description: str | None,
    tags: Mapping[str, object] | None,
    *,
    actor: str,
    at: int,
) -> dict[str, Any]:
    """The validated row of a new model; raises InvalidInput naming the field."""
    validation.model_name(name)
    owner_list = validation.owners(owners)
    if not owner_list:
        raise InvalidInput(
            f"model {name!r} does not exist yet: give an owner (--owner) to create it"
        )
    return {
        "name": name,
        "owners": dumps(owner_list),
        "task": None if task is None else validation.task(task),
        "risk_tier": validation.risk_tier(risk_tier or "low"),
        "description": None
        if description is None
        else validation.text(description, "description", limits.MAX_TEXT),
        "tags": dumps(validation.indexed_tags(tags, "model tag")),
        "created_at": at,
        "created_by": actor,
        "last_number": 0,
        "semver_major": 0,
        "semver_minor": 0,
        "semver_patch": 0,
        "event_seq": 0,
        "event_hash": audit.GENESIS,
    }


def insert_model(conn: Connection, values: Mapping[str, Any]) -> log.Head | None:
    """Insert a new model with its tags and its ``model.create`` event.

    Returns the head of its chain, or None when a model of that name exists.
    """
    model_id = model_rows.insert_if_absent(conn, values)
    if model_id is None:
        return None
    tags = json.loads(values["tags"])
    if tags:
        model_rows.write_model_tags(conn, model_id, changed=tags)
    return log.record(
        conn,
        log.Head(model_chain(values["name"]), 0, audit.GENESIS, model_id),
        actor=values["created_by"],
        at=values["created_at"],
        action="model.create",
        subject=log.subject_of(values["name"]),
        model=values["name"],
        after=ModelState(
            owners=tuple(json.loads(values["owners"])),
            task=values["task"],
            risk_tier=values["risk_tier"],
            description=values["description"],
            tags=tags,
        ),
    )


class ModelService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def create(
        self,
        name: str,
        *,
        actor: str,
        owners: Sequence[str] | str,
        task: str | None = None,
        risk_tier: str = "low",
        description: str | None = None,
        tags: Mapping[str, object] | None = None,
    ) -> Model:
        values = model_values(
            name, owners, task, risk_tier, description, tags, actor=actor, at=self.ctx.clock()
        )
        with self.ctx.db.write() as conn:
            if insert_model(conn, values) is None:
                raise AlreadyExists(f"model {name!r} already exists")
            row = model_row(conn, name)
        return model_rows.model_from_row(row)

    def get(self, name: str) -> Model:
        validation.model_name(name)
        return model_rows.model_from_row(self.ctx.db.reading(lambda conn: model_row(conn, name)))

    def page(self, *, limit: int = 100, page_token: str | None = None) -> Page[Model]:
        paging.limit(limit)
        before = None if page_token is None else paging.decode(page_token, "models")
        rows = self.ctx.db.reading(
            lambda conn: model_rows.page(conn, before_id=before, limit=limit + 1)
        )
        token = paging.encode("models", rows[limit - 1].id) if len(rows) > limit else None
        items, unreadable = readable(model_rows.model_from_row, rows[:limit])
        return Page(items=items, next_page_token=token, unreadable=unreadable)
