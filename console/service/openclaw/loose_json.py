"""Reading JSON whose shape moves between OpenClaw releases, its files and its CLI.

The CLI may print log lines before its JSON, wrap a list in `{"jobs": [...]}` or `{"data": ...}`,
name one field three ways (`agentId`, `agent_id`, `agent`) and write numbers as strings. These
readers take what is there and never raise on an odd shape (except `parse_json_output`, which
raises ValueError when there is no JSON at all).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any


def parse_json_output(stdout: str) -> Any:
    """The JSON a CLI printed, tolerating log lines before it."""
    text = stdout.strip()
    if not text:
        raise ValueError("no output")
    try:
        return json.loads(text)
    except ValueError:
        pass
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("{", "[")):
            try:
                return json.loads("\n".join(lines[i:]))
            except ValueError:
                continue
    raise ValueError("the output is not JSON")


def unwrap_list(data: Any, keys: Sequence[str]) -> list[Any]:
    """A list, or the list an object holds under one of `keys` (or under `data`/`result`)."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in keys:
            value = data.get(key)
            if isinstance(value, list):
                return value
            if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
                return [{"id": k, **v} for k, v in value.items()]
        for key in ("data", "result", "payload"):
            if isinstance(data.get(key), (list, dict)):
                return unwrap_list(data[key], keys)
    return []


def pick(d: Mapping[str, Any], *keys: str) -> Any:
    """The value of the first of `keys` that `d` holds and is not null, else None."""
    for key in keys:
        if key in d and d[key] is not None:
            return d[key]
    return None


def as_number(value: Any) -> float | None:
    """A finite number from a number or a numeric string, else None (booleans are not numbers)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            f = float(value)
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None


def as_int(value: Any) -> int | None:
    """`as_number`, truncated to an int."""
    f = as_number(value)
    return int(f) if f is not None else None


def as_text(value: Any) -> str | None:
    """A string as is; `{message: ...}` as its message; anything else as compact JSON; None when empty."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("message"), str) and len(value) <= 3:
        return value["message"]
    return json.dumps(value, separators=(",", ":"))


def find_error(data: Any, depth: int = 0) -> str | None:
    """The first error text in a CLI's JSON answer (tolerant of where it sits)."""
    if depth > 4:
        return None
    if isinstance(data, dict):
        for key in ("error", "lastError", "reason"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, dict):
                inner = find_error(value, depth + 1) or as_text(value)
                if inner:
                    return inner
        if data.get("ok") is False and isinstance(data.get("message"), str):
            return data["message"]
        values = list(data.values())
    elif isinstance(data, list):
        values = data[:20]
    else:
        return None
    for value in values:
        if isinstance(value, (dict, list)):
            inner = find_error(value, depth + 1)
            if inner:
                return inner
    return None
