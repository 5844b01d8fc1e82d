"""MDS 2.0 Policy and Geography documents: parse, recognise and validate against the official schemas. Pure.

Accepted, alone or together (a policy document and the geographies it refers to, in one JSON or several):

- a ``/policies`` (or ``policies.json``) response body: ``{"version", "last_updated", "policies": [...]}``;
- a ``/geographies`` (or ``geographies.json``) response body: ``{"version", "last_updated", "geographies": [...]}``;
- a ``/geographies/{id}`` response body: ``{"version", "geography": {...}}``;
- a bare Policy object (``policy_id``, ``rules``...) or a bare Geography object (``geography_id``,
  ``geography_json``...).

Each is validated against the MDS schemas stored under ``schemas/`` (mds-openapi, MDS 2.0); an invalid one raises
``PolicyDocumentInvalid`` whose message names the document, the JSON path and what is wrong.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from core.errors import DomainError

SCHEMA_DIR = Path(__file__).parent / "schemas"
# A base URI for the copied schemas; nothing is ever fetched from it (``_retrieve`` reads the local files).
_BASE = "https://schemas.mds.invalid/"
_RESPONSE = "/get/responses/200/content/application~1json/schema"
SCHEMAS = {
    "policies": f"{_BASE}reference/policy.yaml#/paths/~1policies{_RESPONSE}",
    "geographies": f"{_BASE}reference/geography.yaml#/paths/~1geographies{_RESPONSE}",
    "geography": f"{_BASE}reference/geography.yaml#/paths/~1geographies~1{{geography_id}}{_RESPONSE}",
    "policy_object": f"{_BASE}models/policy.yaml",
    "geography_object": f"{_BASE}models/geography.yaml",
}
MAX_ERRORS = 8


class PolicyDocumentInvalid(DomainError):
    """A document is not valid MDS 2.0 Policy/Geography, or the documents do not fit together."""

    code, status, message = "policy_document_invalid", 400, "The MDS Policy/Geography document is invalid."


@dataclass(frozen=True)
class Documents:
    """What the documents hold: policies in document order, geographies by id, and a file-wide ``end_date``
    (ms since the epoch; ``policies.json`` may set one for all its policies)."""

    policies: tuple[dict[str, Any], ...]
    geographies: dict[str, dict[str, Any]]
    end_date: int | None = None


@functools.cache
def _resource(path: str) -> Resource[Any]:
    # The schemas' $refs name the upstream .yaml files; each is stored as the same document in JSON.
    contents = json.loads((SCHEMA_DIR / path).with_suffix(".json").read_text())
    return Resource.from_contents(contents, default_specification=DRAFT202012)


def _retrieve(uri: str) -> Resource[Any]:
    if not uri.startswith(_BASE):
        raise LookupError(f"{uri} is not one of the bundled MDS schemas")
    return _resource(uri.removeprefix(_BASE))


@functools.cache
def _validator(kind: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        {"$ref": SCHEMAS[kind]}, registry=Registry(retrieve=_retrieve),  # type: ignore[call-arg]
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def schema_errors(kind: str, document: object) -> list[str]:
    """Every way ``document`` breaks the MDS schema ``kind`` (a key of ``SCHEMAS``), as readable lines."""
    errors = sorted(_validator(kind).iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    return [_describe(error) for error in errors if not _is_revocation(error, document)]


def _is_revocation(error: ValidationError, document: Any) -> bool:
    """The policy text ends a policy with "a new policy with empty rules" that lists it in ``prev_policies``; the
    schema's ``rules: minItems 1`` refuses that. We follow the text in exactly that case."""
    path = list(error.absolute_path)
    if error.validator != "minItems" or path[-1:] != ["rules"]:
        return False
    policy = document
    for part in path[:-1]:
        policy = policy[part]
    return isinstance(policy, dict) and bool(policy.get("prev_policies"))


def _path(error: ValidationError) -> str:
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out.lstrip(".") or "(document)"


def _describe(error: ValidationError) -> str:
    if error.validator == "oneOf" and error.context:
        # A rule is one of count / time / speed / user rule: report the branch of its own rule_type.
        instance = error.instance if isinstance(error.instance, dict) else {}
        rule_type = instance.get("rule_type")
        branches: dict[int, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
        own = [subs for subs in branches.values() if not any(s.validator == "const" for s in subs)]
        if "rule_type" in instance and len(own) == 1:
            return "; ".join(f"{_path(s)}: {s.message}" for s in own[0]) + f" (a {rule_type} rule)"
        if "rule_type" in instance and not own:
            return f"{_path(error)}.rule_type: {rule_type!r} is not one of 'count', 'time', 'speed', 'user'"
    return f"{_path(error)}: {error.message}"


def _kinds(document: dict[str, Any]) -> list[str]:
    kinds: list[str] = [key for key in ("policies", "geographies", "geography") if key in document]
    if not kinds and "policy_id" in document:
        kinds = ["policy_object"]
    elif not kinds and "geography_id" in document:
        kinds = ["geography_object"]
    return kinds


def parse(raw: bytes | str, *, source: str) -> dict[str, Any]:
    """The JSON object in ``raw``; ``PolicyDocumentInvalid`` names ``source`` and the position of a syntax error."""
    try:
        document = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise PolicyDocumentInvalid(f"{source}: not UTF-8 text ({exc.reason})", source=source) from exc
    except json.JSONDecodeError as exc:
        raise PolicyDocumentInvalid(f"{source}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                                    source=source) from exc
    if not isinstance(document, dict):
        raise PolicyDocumentInvalid(f"{source}: an MDS document is a JSON object, got {type(document).__name__}",
                                    source=source)
    return document


def validate(document: dict[str, Any], *, source: str) -> list[str]:
    """The schema kinds ``document`` was recognised as; raises ``PolicyDocumentInvalid`` listing its errors."""
    kinds = _kinds(document)
    if not kinds:
        raise PolicyDocumentInvalid(
            f"{source}: not an MDS Policy or Geography document: expected a /policies or /geographies response "
            "body (with \"policies\", \"geographies\" or \"geography\"), a Policy (with \"policy_id\") or a "
            "Geography (with \"geography_id\")", source=source,
        )
    problems = [line for kind in kinds for line in schema_errors(kind, document)]
    if problems:
        shown = problems[:MAX_ERRORS] + ([f"... and {len(problems) - MAX_ERRORS} more"] if len(problems) > MAX_ERRORS
                                         else [])
        raise PolicyDocumentInvalid(
            f"{source}: not valid MDS 2.0 ({', '.join(kinds)}):\n  " + "\n  ".join(shown),
            source=source, errors=problems[:50],
        )
    return kinds


def _merge(found: dict[str, dict[str, Any]], item: dict[str, Any], key: str, source: str) -> None:
    earlier = found.setdefault(item[key], item)
    if earlier != item:
        raise PolicyDocumentInvalid(f"{source}: two different documents share {key} {item[key]}", source=source)


def combine(documents: Sequence[tuple[str, dict[str, Any]]]) -> Documents:
    """Validate each ``(source, document)`` and merge them; every geography a rule names must be present."""
    policies: dict[str, dict[str, Any]] = {}
    geographies: dict[str, dict[str, Any]] = {}
    end_dates: list[int] = []
    for source, document in documents:
        kinds = validate(document, source=source)
        items: Iterable[tuple[str, dict[str, Any]]] = (
            [("policy_id", p) for p in document.get("policies", [])] if "policies" in kinds else []
        )
        if "policy_object" in kinds:
            items = [("policy_id", document)]
        geos = list(document.get("geographies", [])) if "geographies" in kinds else []
        geos += [document["geography"]] if "geography" in kinds else []
        geos += [document] if "geography_object" in kinds else []
        for key, item in [*items, *(("geography_id", g) for g in geos)]:
            _merge(policies if key == "policy_id" else geographies, item, key, source)
        if "policies" in kinds and document.get("end_date") is not None:
            end_dates.append(int(document["end_date"]))
    if not policies:
        raise PolicyDocumentInvalid("No policy in the documents: give a Policy document (geographies alone change "
                                    "nothing).")
    missing = sorted({g for p in policies.values() for r in p["rules"] for g in r["geographies"]} - set(geographies))
    if missing:
        raise PolicyDocumentInvalid(
            f"The policies refer to geographies that are not in the documents: {', '.join(missing)}. Give the "
            "Geography document (/geographies response or geographies.json) too.", geographies=missing,
        )
    return Documents(tuple(policies.values()), geographies, min(end_dates) if end_dates else None)
