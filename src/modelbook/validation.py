"""Parsing and validation of everything a user types.

Pure functions: each returns a clean value or raises :class:`InvalidInput`
with a message that names the field and what would be accepted. The provenance
a version records (hashes, commits, image digests) is read by
:mod:`modelbook.provenance`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping

from . import limits
from .domain import RISK_TIERS, Metric, RiskTier, Stage
from .errors import InvalidInput, shown

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,63}")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/-]{0,127}")
#: A metric key without a slice; one with a slice goes through the query grammar.
_METRIC = re.compile(
    r"(?P<name>[A-Za-z_][A-Za-z0-9_.:/-]{0,127})(?:@(?P<split>[A-Za-z0-9_.-]{1,64}))?"
)
MAX_VALUE_LEN = limits.MAX_VALUE
MAX_INDEXED_LEN = limits.MAX_VALUE
MAX_SLICE_LEN = limits.MAX_SLICE
MAX_NUMBER = limits.MAX_NUMBER
MAX_TEXT_LEN = limits.MAX_TEXT
_PAST_FLOAT = "is beyond the largest float (about 1.8e308)"


def model_name(name: str) -> str:
    """A model name: letters, digits, ``.``, ``_``, ``-``; no path separators or ``..``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise InvalidInput(
            f"invalid model name {name!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, without '..'"
        )
    return name


def alias_name(name: str) -> str:
    if not isinstance(name, str) or not _ALIAS.fullmatch(name) or ".." in name:
        raise InvalidInput(
            f"invalid alias {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter"
        )
    return name


def key(value: str, what: str = "key") -> str:
    if not isinstance(value, str) or not _KEY.fullmatch(value):
        raise InvalidInput(
            f"invalid {what} {value!r}: use 1-128 letters, digits, '_', '.', ':', '/' or '-', "
            "starting with a letter or '_'"
        )
    return value


def text(value: str, what: str, limit: int = MAX_VALUE_LEN) -> str:
    """Free text stored as is; see :func:`modelbook.limits.check_text`."""
    return limits.check_text(value, what, limit)


def reason(value: str | None, what: str = "reason", flag: str = "--reason") -> str:
    """A required explanation (of an alias move, a rollback ...), at most MAX_TEXT characters."""
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"a {what} must be text, got {type(value).__name__}")
    if value is None or not value.strip():
        raise InvalidInput(f"a {what} is required: say why ({flag} TEXT)")
    return text(value.strip(), what, limits.MAX_TEXT)


def actor(value: object, what: str = "actor (MODELBOOK_USER)") -> str:
    """The name an operation is recorded under (``MODELBOOK_USER``, ``actor=``).

    1 to MAX_SHORT characters of printable text: control characters are
    refused here because an actor is shown in every listing and is matched
    against role grants, where an invisible difference would be a second person.
    For the same reason the name is returned in Unicode normal form C (``"e"``
    followed by a combining acute accent is ``"é"``): one person's two spellings
    are one actor to separation of duties. ``what`` names the value in errors
    (the name a role is granted to is not the actor who grants it). Raises
    InvalidInput.
    """
    name = limits.check_text(value, what, limits.MAX_SHORT)
    name = unicodedata.normalize("NFC", name)
    short = what.split(" (")[0]
    if not name.strip() or name != name.strip():
        raise InvalidInput(
            f"{short} {name!r} must be a non-empty name without leading or trailing spaces"
        )
    return _visible(name, short)


def task(value: object) -> str:
    """A model's task (``binary-classification``): short, visible text."""
    return _visible(text(value, "task", limits.MAX_SHORT), "task")  # type: ignore[arg-type]


def _visible(value: str, what: str) -> str:
    """Refuse characters that print as nothing or move the text around (control,
    format such as zero-width or bidi, line and paragraph separators): in a
    name two different values would look the same."""
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            raise InvalidInput(
                f"{what} {value!r} must not contain invisible or control characters "
                f"(found U+{ord(ch):04X})"
            )
    return value


def risk_tier(value: str) -> RiskTier:
    if value not in RISK_TIERS:
        raise InvalidInput(f"invalid risk tier {value!r}: choose one of {', '.join(RISK_TIERS)}")
    return value  # type: ignore[return-value]


def split_key_value(item: str, what: str = "KEY=VALUE", *, last: bool = False) -> tuple[str, str]:
    """Split ``KEY=VALUE``; metrics split at the last ``=`` so slices survive."""
    if not isinstance(item, str) or "=" not in item:
        raise InvalidInput(f"malformed {what} {item!r}: expected KEY=VALUE")
    k, v = item.rsplit("=", 1) if last else item.split("=", 1)
    if not k:
        raise InvalidInput(f"malformed {what} {item!r}: the key is empty")
    return k, v


def key_values(items: Iterable[str], what: str = "tag") -> dict[str, str]:
    """``KEY=VALUE`` items as a mapping; a key given twice is refused, as a metric is."""
    out: dict[str, str] = {}
    for item in items:
        k, v = split_key_value(item, what)
        if key(k, f"{what} key") in out:
            raise InvalidInput(f"{what} {k!r} given twice")
        out[k] = text(v, f"{what} {k!r}")
    return out


def tags(values: Mapping[str, object] | None, what: str = "tag") -> dict[str, str]:
    out: dict[str, str] = {}
    if values is not None and not isinstance(values, Mapping):
        raise InvalidInput(
            f"{what}s must be a mapping of KEY to VALUE, got {type(values).__name__}"
        )
    for k, v in (values or {}).items():
        if isinstance(v, bool | int | float):
            try:
                v = str(v)
            except ValueError as exc:
                raise InvalidInput(f"{what} {k!r}: {exc}") from None
        out[key(k, f"{what} key")] = text(v, f"{what} {k!r}")  # type: ignore[arg-type]
    return out


def owners(value: object) -> list[str]:
    """Owners as a list of non-empty names; one name may be given as a string."""
    items = [value] if isinstance(value, str) else value
    if items is None:
        return []
    if not isinstance(items, list | tuple) or not all(isinstance(o, str) for o in items):
        raise InvalidInput(f"owners must be a name or a list of names, got {value!r}")
    return [
        _visible(text(o.strip(), "owner", limits.MAX_SHORT), "owner") for o in items if o.strip()
    ]


def optional_number(value: object, what: str) -> float | None:
    """None, or ``value`` (an int or a float) as a finite float; ``what`` names it."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{what} must be a number, got {shown(value)}")
    return number(value, what)


def duration(value: object) -> float | None:
    """None, or a training duration in seconds: a finite number, at least 0."""
    seconds = optional_number(value, "duration_seconds")
    if seconds is not None and seconds < 0:
        raise InvalidInput(f"duration_seconds must be at least 0, got {shown(value)}")
    return seconds


def optional_text(value: object, what: str, limit: int = MAX_VALUE_LEN) -> str | None:
    return None if value is None else text(value, what, limit)  # type: ignore[arg-type]


def number(raw: object, what: str) -> float:
    """``raw`` (a number, or text of one) as a finite float.

    Raises InvalidInput naming ``what`` and why: not a number, too large for a
    float (``10**400``, ``"1e400"``), or infinite or NaN as given.
    """
    if isinstance(raw, bool):
        raise InvalidInput(f"{what} must be a number, got a boolean")
    try:
        value = float(raw)  # type: ignore[arg-type]
    except OverflowError:
        raise InvalidInput(f"{what} is too large: {shown(raw)} {_PAST_FLOAT}") from None
    except (TypeError, ValueError):
        raise InvalidInput(f"{what} must be a number, got {shown(raw)}") from None
    if math.isfinite(value):
        return value
    if math.isinf(value) and not _names_infinity(raw):
        # Text such as "1e400": a finite number too large for a float.
        raise InvalidInput(f"{what} is too large: {shown(raw)} {_PAST_FLOAT}")
    raise InvalidInput(f"{what} must be a finite number, got {shown(raw)}")


def _names_infinity(raw: object) -> bool:
    """Whether ``raw`` is infinity itself (a float, or "inf", "-Infinity" ...)."""
    if isinstance(raw, str):
        return raw.strip().lstrip("+-").lower() in ("inf", "infinity")
    return isinstance(raw, float)


def metric_value(raw: object, key_text: str) -> float:
    """The value of metric ``key_text``: a finite number (see :func:`number`)."""
    return number(raw, f"metric {key_text!r}")


_UNQUOTED = re.compile(r"(?P<head>[^{}]*)\{(?P<slice>[^{}]*)\}")


def _unquoted_slice(key_text: str) -> tuple[str, str | None, dict[str, str]] | None:
    """A slice written without quotes, as earlier releases read it and wrote
    ``Metric.key`` (``{region=north america}``, ``{team=it's}``): each value is
    what lies between ``=`` and the next ``,`` or ``}``, stripped. None when that
    reading is not plainly meant: a value that begins with a quote is read only as
    a quoted one, so ``{region='a,b=c'}`` is never split at its comma."""
    found = _UNQUOTED.fullmatch(key_text)
    if found is None:
        return None
    name, _, split = found["head"].partition("@")
    slice_: dict[str, str] = {}
    for part in found["slice"].split(","):
        sk, eq, sv = (s.strip() for s in part.partition("="))
        if not eq or not sv or sv[0] in "'\"" or "=" in sv or "\x00" in sv or sk in slice_:
            return None
        if not _KEY.fullmatch(sk):
            return None
        slice_[sk] = sv
    return name, split or None, slice_


def metric(key_text: str, raw: object) -> Metric:
    """Parse ``auc``, ``auc@test`` or ``auc@test{region=eu,device=mobile}``.

    A slice is read by the query language's own rules (``docs/search.md``): a
    quoted value (``{region='north america'}``) is read without its quotes. A value
    written without quotes runs to the next ``,`` or ``}`` (``{region=north
    america}``, as ``Metric.key`` writes it), unless it begins with a quote.

    Raises InvalidInput: a malformed key (its column named), a value holding
    ``{ } = ,`` (quoted or not), a slice key given twice, a value that is not a
    finite number.
    """
    if not isinstance(key_text, str):
        raise InvalidInput(f"metric key must be text, got {type(key_text).__name__}")
    if "{" in key_text:
        from .query.metric_key import parse_metric_key

        try:
            name, split, slice_ = parse_metric_key(key_text)
        except InvalidInput:
            unquoted = _unquoted_slice(key_text)
            if unquoted is None:
                raise
            name, split, slice_ = unquoted
        if not _METRIC.fullmatch(name + (f"@{split}" if split else "")):
            raise InvalidInput(
                f"invalid metric {key_text!r}: a name is at most 128 characters, a split 64"
            )
        for sk, sv in slice_.items():
            slice_[sk] = text(sv, "slice value", limits.MAX_SLICE)
    else:
        found = _METRIC.fullmatch(key_text)
        if not found:
            raise InvalidInput(
                f"invalid metric {key_text!r}: write NAME, NAME@SPLIT or "
                "NAME@SPLIT{KEY=VALUE,...}"
            )
        name, split, slice_ = found["name"], found["split"], {}
    result = Metric(name=name, value=metric_value(raw, key_text), split=split, slice=slice_)
    if len(result.slice_key) > MAX_SLICE_LEN:
        raise InvalidInput(
            f"slice of metric {key_text[:80]!r} is {len(result.slice_key)} characters long; "
            f"the limit is {MAX_SLICE_LEN}"
        )
    return result


def metrics(values: Mapping[str, object] | Iterable[Metric] | None) -> list[Metric]:
    """Metrics from a mapping of metric keys to numbers, or from Metric objects."""
    if values is None:
        return []
    out: list[Metric] = []
    if isinstance(values, Mapping):
        out = [metric(k, v) for k, v in values.items()]
    else:
        for item in values:
            if not isinstance(item, Metric):
                raise InvalidInput(f"expected a Metric, got {item!r}")
            out.append(metric(item.key, item.value))
    seen: set[str] = set()
    for m in out:
        if m.key in seen:
            raise InvalidInput(f"metric {m.key!r} given twice")
        seen.add(m.key)
    return out


def parse_semver(value: str) -> tuple[int, int, int]:
    """``MAJOR.MINOR.PATCH`` as three numbers; see :mod:`modelbook.semver`."""
    from .semver import parse

    return parse(value)


_STAGE = re.compile(r"[a-z][a-z0-9_-]{0,15}")


def stage(value: object) -> str:
    """A stage name: a default stage or one a policy declares (lowercase, 1-16 characters)."""
    if isinstance(value, Stage):
        return value.value
    if not isinstance(value, str) or not _STAGE.fullmatch(value):
        raise InvalidInput(
            f"invalid stage {value!r}: a stage is 1-16 lowercase letters, digits, '_' or '-', "
            f"such as {', '.join(s.value for s in Stage)}"
        )
    return value


def version_number(value: object, what: str = "version number") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_NUMBER:
        raise InvalidInput(f"invalid {what} {shown(value)}: numbers run from 1 to {MAX_NUMBER}")
    return value


def indexed_tags(values: Mapping[str, object] | None, what: str = "tag") -> dict[str, str]:
    """Tags whose values are indexed for search, and so limited in length."""
    out = tags(values, what)
    for k, v in out.items():
        text(v, f"{what} {k!r}", MAX_INDEXED_LEN)
    return out
