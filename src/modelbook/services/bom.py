"""Bills of materials: a version, its model and its parents' semvers, read in one go
and handed to the pure builder (:mod:`modelbook.bom`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from .. import bom, uris
from ..domain import Model, Version
from ..lineage import parents_of, version_id
from ..store import lineage as lineage_rows
from ..store import models as model_rows
from .base import Context, model_row, version_row


class BomService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def bom(self, uri: str, *, format: str = "cyclonedx") -> str:
        """The version ``uri`` names as a CycloneDX 1.6 JSON document (text).

        Raises InvalidInput (a bad URI or format), NotFound (the version),
        IntegrityError (a stored row cannot be read, or the document does not
        pass the schema: nothing is returned then).
        """
        bom.check_format(format)
        ref = uris.parse(uri)
        version, model, parents = self.ctx.db.reading(lambda conn: self._read(conn, ref))
        return bom.to_json(version, model, parents)

    def _read(self, conn: Connection, ref: uris.ModelRef) -> tuple[Version, Model, dict[str, str]]:
        row = version_row(conn, ref)
        version = self.ctx.cache.version(ref.name, row)
        model = model_rows.model_from_row(model_row(conn, ref.name))
        rows: list[Any] = lineage_rows.by_number(conn, parents_of(version))
        parents = {version_id(r.model_name, int(r.number)): str(r.semver) for r in rows}
        return version, model, parents
