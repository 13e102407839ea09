"""Cron expressions, before croniter sees them (a leaf module: config imports it at load)."""

from __future__ import annotations

import re

_ONE_VALUE_RANGE = re.compile(r"(?<![\w-])(\d+)-\1(?:/\d+)?(?![\w-])")


def normalize_cron(expr: str) -> str:
    """`N-N` (a range of one value, with or without a step) becomes `N`: croniter 6.0.0 expands
    such a range as `*`, so `59-59/5 * * * *` would fire every 5 minutes instead of at :59."""
    return " ".join(_ONE_VALUE_RANGE.sub(r"\1", field) for field in expr.split())
