"""Secrets as programs use them: the one rule for "the value" of an entry, and the environment
`squad-console vault exec` gives its child (the command in console/commands/vault.py is only the
front end: it parses the arguments and runs the child).

The value of a secret (`secret_value`), used everywhere a stored value leaves the vault for a
program (`vault exec`, the deploy key the store is opened with, the migration comparing an inline
key with a key file's entry):
- a one-line value loses its line end(s) (`\\n`, `\\r\\n`): a key file's trailing newline is not
  part of the key; a value of several lines is kept whole;
- a value holding a NUL byte cannot be an environment variable or a header: VaultValueUnusable
  (naming the entry, never showing the value).
`vault get` and `vault restore` give the stored bytes as they are (byte for byte).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from console.service.vault.errors import VaultValueUnusable
from console.service.vault.keys import KEY_ENV
from console.service.vault.vault import Vault

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CLEAN_ENV_KEEPS = ("PATH", "HOME", "LANG", "LC_ALL", "TERM", "USER", "TZ")


def secret_value(raw: bytes, name: str = "the value") -> bytes:
    """The value of a secret as a program uses it (the rule in the module docstring)."""
    if b"\0" in raw:
        raise VaultValueUnusable(
            f"entry {name} holds a NUL byte and cannot go in an environment variable or a header",
            hint=f"use `squad-console vault restore {name} --to PATH` instead",
        )
    body = raw.rstrip(b"\r\n")
    return raw if b"\n" in body else body


def secret_text(raw: bytes, name: str = "the value") -> str:
    """`secret_value` as text (bytes that are not UTF-8 kept as surrogate escapes)."""
    return secret_value(raw, name).decode("utf-8", "surrogateescape")


def env_var_for(name: str) -> str:
    """The variable an entry is given as when `vault exec` has no --env: convex-deploy-key ->
    CONVEX_DEPLOY_KEY."""
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper().strip("_") or "SECRET"


def exec_environment(vault: Vault, env: Mapping[str, str], mapping: Iterable[tuple[str, str]] = (), *,
                     clean: bool = False) -> dict[str, str]:
    """The environment for `vault exec`'s child: `env` (only PATH, HOME, LANG, ... when `clean`)
    plus each (VAR, entry) of `mapping` (every live entry when it is empty), without the vault
    key itself unless asked for by name: the child gets its secrets, not the key to all of them."""
    pairs = list(mapping) or [(env_var_for(e.name), e.name) for e in vault.entries()]
    out = {k: v for k, v in env.items() if k in CLEAN_ENV_KEEPS} if clean else dict(env)
    for var, name in pairs:
        out[var] = secret_text(vault.get(name), name)
    if KEY_ENV not in {var for var, _ in pairs}:
        out.pop(KEY_ENV, None)
    return out
