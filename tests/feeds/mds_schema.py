"""Validate MDS response bodies against the official MDS 2.0 OpenAPI document (tests/feeds/schemas/mds).

``validate(body, "/vehicles")`` checks ``body`` against the schema of the 200 response of ``GET /vehicles`` in
``reference/provider.yaml``, with every ``$ref`` to ``models/*.yaml`` resolved from the copied files (JSON Schema
2020-12, as OpenAPI 3.1 uses). ``validate_model(record, "vehicle.yaml")`` checks one record against a model.

One reading of the schemas is ours: ``vehicle.yaml`` and ``event.yaml`` pick the mode with a ``oneOf`` over the
four mode schemas, which do not exclude each other (a micromobility vehicle with a make and a model is also a valid
passenger-services and delivery-robots vehicle), so no record could ever pass. MDS ties a ``provider_id`` to one
mode ("Modes" in provider/README.md), so that ``oneOf`` is resolved here to the micromobility branch: the record
must be valid under it, which is exactly what the mode schema asks of a micromobility provider.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).parent / "schemas" / "mds"


def _micromobility(node: Any) -> Any:
    """``node`` with every ``oneOf`` over the mode schemas replaced by its micromobility branch."""
    if isinstance(node, list):
        return [_micromobility(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _micromobility(value) for key, value in node.items()}
    branches = node.get("oneOf")
    if isinstance(branches, list) and branches and all("/modes/" in b.get("$ref", "") for b in branches):
        node["oneOf"] = [b for b in branches if "/modes/micromobility/" in b["$ref"]]
    return node


def _retrieve(uri: str) -> Resource[Any]:
    path = Path(uri.removeprefix("file://"))
    contents = _micromobility(yaml.safe_load(path.read_text()))
    return Resource.from_contents(contents, default_specification=DRAFT202012)


@functools.cache
def _registry() -> Registry[Any]:
    return Registry(retrieve=_retrieve)  # type: ignore[call-arg]


@functools.cache
def _provider() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "reference" / "provider.yaml").read_text())


def _check(schema: dict[str, Any], base: Path, instance: Any) -> None:
    schema = {"$id": base.as_uri(), **schema}
    validator = jsonschema.Draft202012Validator(schema, registry=_registry(),
                                                format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def validate(body: Any, path: str, status: str = "200") -> None:
    """``body`` against the ``status`` response of ``GET path`` (a path of provider.yaml, e.g. ``/vehicles``)."""
    content = _provider()["paths"][path]["get"]["responses"][status]["content"]
    schema = next(iter(content.values()))["schema"]
    _check(schema, ROOT / "reference" / "provider.yaml", body)


def validate_model(record: Any, model: str) -> None:
    """One record against a model file (``vehicle.yaml``, ``event.yaml``, ``response/error.yaml`` ...)."""
    _check({"$ref": model}, ROOT / "models" / "index.yaml", record)
