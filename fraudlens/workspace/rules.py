"""Edits of the live rules made from the workspace's forms (admins only).

Each edit takes the rules in force and a form, and returns the whole new rules
document, validated by the same ``Rules`` model as ``PUT /v1/rules``; errors
name the form field. Storing and auditing is ``fraudlens.scoring.rule_admin``.

A limit is disabled by taking it out of the live rules: the new version no
longer has it, the older versions (and the audit chain) still do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from fraudlens.errors import ValidationError
from fraudlens.scoring.config import Rules
from fraudlens.security.pan_scan import find_pans

LISTS = ("block", "allow")
KINDS = ("cards", "terminals", "merchants", "countries")
LIMIT_FIELDS = ("name", "field", "max", "action", "text")
MAX_TEXT = 200


def with_limit(rules: Rules, form: Mapping[str, str]) -> Rules:
    """``rules`` with the form's limit added, or replacing the limit of the same name."""
    name = form.get("name", "").strip()
    limit: dict[str, Any] = {
        "name": name,
        "field": _text(form, "field", 64),
        "max": _number(form.get("max", "")),
        "action": form.get("action", "review"),
        "text": _text(form, "text", MAX_TEXT) or None,
    }
    data = rules.model_dump(mode="json")
    others = [x for x in data["limits"] if x["name"] != name]
    at = next((i for i, x in enumerate(data["limits"]) if x["name"] == name), len(others))
    data["limits"] = [*others[:at], limit, *others[at:]]
    return validated(data, limit_at=at)


def without_limit(rules: Rules, name: str) -> Rules:
    """``rules`` without the limit ``name`` (disabling it)."""
    data = rules.model_dump(mode="json")
    kept = [x for x in data["limits"] if x["name"] != name]
    if len(kept) == len(data["limits"]):
        raise ValidationError("name", "no limit of that name is in force")
    data["limits"] = kept
    return validated(data)


def with_list_entry(rules: Rules, form: Mapping[str, str], *, add: bool) -> Rules:
    """``rules`` with one entry added to (or removed from) a block or allow list."""
    which, kind = form.get("list", ""), form.get("kind", "")
    if which not in LISTS:
        raise ValidationError("list", f"must be one of {', '.join(LISTS)}")
    if kind not in KINDS:
        raise ValidationError("kind", f"must be one of {', '.join(KINDS)}")
    value = _text(form, "value", 128)
    if not value:
        raise ValidationError("value", "must not be empty")
    data = rules.model_dump(mode="json")
    entries = set(data[which][kind])
    if add:
        entries.add(value)
    elif value in entries:
        entries.remove(value)
    else:
        raise ValidationError("value", f"not on the {which} list of {kind}")
    data[which][kind] = sorted(entries)
    return validated(data)


def validated(data: dict[str, Any], limit_at: int | None = None) -> Rules:
    """``Rules`` from ``data``; an error names the form field (``max``, ``name``...)."""
    try:
        return Rules.model_validate(data)
    except PydanticValidationError as exc:
        error = exc.errors()[0]
        loc = [str(part) for part in error["loc"]]
        field = _form_field(loc, limit_at)
        raise ValidationError(field, str(error["msg"])) from None


def _form_field(loc: list[str], limit_at: int | None) -> str:
    if not loc:  # a model-level check: the only one is unique limit names
        return "name"
    if loc[0] == "limits" and len(loc) >= 3 and loc[2] in LIMIT_FIELDS:
        if limit_at is None or loc[1] == str(limit_at):
            return loc[2]
    if loc[0] in LISTS:
        return "value"
    return ".".join(loc)


def _text(form: Mapping[str, str], name: str, limit: int) -> str:
    value = form.get(name, "").strip()
    if len(value) > limit:
        raise ValidationError(name, f"at most {limit} characters")
    if find_pans(value):
        raise ValidationError(name, "looks like a card number: rules take card tokens, never PANs")
    return value


def _number(value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise ValidationError("max", "must be a number") from None
    if not math.isfinite(number):
        raise ValidationError("max", "must be a finite number")
    return number
