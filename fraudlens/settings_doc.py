"""Generate docs/configuration.md from the Settings model.

Run ``python -m fraudlens.settings_doc > docs/configuration.md``; a unit test
fails when the committed file is out of date.
"""

from __future__ import annotations

from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from fraudlens.settings import Settings

_HEADER = """# Configuration

Generated from `fraudlens/settings.py` by `python -m fraudlens.settings_doc`; do not edit.

Every setting is an environment variable: prefix `FRAUDLENS_`, nested groups
joined by `__` (`FRAUDLENS_KAFKA__BOOTSTRAP_SERVERS`). Dicts and lists are JSON.

| variable | type | default | description |
|---|---|---|---|
"""


def _type_name(annotation: Any) -> str:
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if args and get_origin(annotation) in (Union, UnionType):
        return " or ".join(_type_name(a) for a in args) + " (optional)"
    if args:
        return f"{getattr(get_origin(annotation), '__name__', 'value')} (JSON)"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "(required)"
    if field.default_factory is not None:
        return "(computed)"
    value = field.default
    if value is None or value == "":
        return "(empty)"
    if hasattr(value, "get_secret_value"):
        return "(secret)"
    return f"`{value}`"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows: list[str] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        variable = f"{prefix}{name.upper()}"
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.extend(_rows(annotation, f"{variable}__"))
            continue
        description = (field.description or "").replace("|", "\\|")
        rows.append(
            f"| `{variable}` | {_type_name(annotation)} | {_default(field)} | {description} |"
        )
    return rows


def render() -> str:
    """Return the configuration reference as Markdown."""
    return _HEADER + "\n".join(_rows(Settings, "FRAUDLENS_")) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render(), end="")
