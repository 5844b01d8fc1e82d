"""Validate MDS bodies against the MDS 2.0 models (/work/shared/specs/mds, models/ and reference/provider.yaml).

Two repairs of the published schemas, both about modes: ``models/event.yaml`` and ``models/trip.yaml`` say
``oneOf`` the four modes' schemas, but an event carries no mode, so an ordinary micromobility event (``available``
after ``trip_end``) also matches car-share's and fails ``oneOf``. A provider serves one mode (MDS "Modes"), so the
mode part is fixed to micromobility here; everything else is the published schema.
"""

from __future__ import annotations

import copy
import functools
import pathlib
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPECS = pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / "specs" / "mds"
if not SPECS.exists():
    SPECS = pathlib.Path("/work/shared/specs/mds")
MODELS = (SPECS / "models").resolve()


def _load(path: pathlib.Path) -> Any:
    return yaml.safe_load(path.read_text())


def _retrieve(uri: str) -> Resource[Any]:
    return Resource.from_contents(_load(pathlib.Path(uri.removeprefix("file://"))),
                                  default_specification=DRAFT202012)


_REGISTRY: Registry[Any] = Registry(retrieve=_retrieve)  # type: ignore[call-arg]


@functools.cache
def validator(model: str) -> Draft202012Validator:
    """A validator of ``models/<model>`` (``event.yaml``, ``trip.yaml``, ``telemetry.yaml``), micromobility mode."""
    schema = copy.deepcopy(_load(MODELS / model))
    schema["$id"] = f"file://{MODELS / model}"
    for part in schema.get("allOf", []):
        if "oneOf" in part and any("modes/" in str(choice) for choice in part["oneOf"]):
            part.clear()
            part["$ref"] = f"./modes/micromobility/{model}"
    return Draft202012Validator(schema, registry=_REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER)


def assert_valid(model: str, record: dict[str, Any]) -> None:
    errors = sorted(validator(model).iter_errors(record), key=lambda e: list(e.path))
    assert not errors, f"{model}: {[e.message for e in errors][:3]} in {record}"


@functools.cache
def provider_response_schema(path: str, status: str = "200") -> Draft202012Validator:
    """The body schema of ``path``'s GET ``status`` answer in reference/provider.yaml, modes fixed as above."""
    reference = _load(SPECS / "reference" / "provider.yaml")
    body = reference["paths"][path]["get"]["responses"][status]["content"]["application/json"]["schema"]
    schema = copy.deepcopy(body)
    schema["$id"] = f"file://{(SPECS / 'reference' / 'provider.yaml').resolve()}"

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            for model in ("event.yaml", "trip.yaml"):
                if ref.endswith(f"models/{model}"):
                    return copy.deepcopy(validator(model).schema)  # embedded: its $id keeps its refs resolving
            return {k: fix(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fix(v) for v in node]
        return node

    return Draft202012Validator(fix(schema), registry=_REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER)


def assert_valid_body(path: str, body: dict[str, Any], status: str = "200") -> None:
    errors = list(provider_response_schema(path, status).iter_errors(body))
    assert not errors, f"{path}: {[e.message[:200] for e in errors][:3]}"
