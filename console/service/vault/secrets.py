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

What `vault exec` gives its child (docs/VAULT.md, "vault exec"): the parent's environment plus
only the variables it was asked for (`--env VAR=NAME`, or `--env NAME` for the variable named
after the entry); never a variable on the denylist (DENIED_NAMES, DENIED_PREFIXES: names that
change which program runs or how, e.g. PATH, LD_PRELOAD, NODE_OPTIONS, BASH_ENV), whatever asks
for it. The command itself is found with the parent's PATH (`resolve_command`).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Mapping

from console.service.vault.errors import VaultExecRefused, VaultValueUnusable
from console.service.vault.keys import KEY_ENV
from console.service.vault.vault import Vault

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CLEAN_ENV_KEEPS = ("PATH", "HOME", "LANG", "LC_ALL", "TERM", "USER", "TZ")

# Names `vault exec` never sets from the vault, compared in upper case (docs/VAULT.md lists them):
# each changes which program runs, what it loads, where it connects or how a shell reads its input.
DENIED_NAMES = frozenset({
    # which program runs, and the shell's own start-up and parsing
    "PATH", "HOME", "SHELL", "ENV", "BASH_ENV", "IFS", "CDPATH", "PS4", "PROMPT_COMMAND", "SHELLOPTS",
    "BASHOPTS", "GLOBIGNORE", "ZDOTDIR", "PWD", "OLDPWD", "USER", "LOGNAME", "TMPDIR",
    # the C library and the dynamic loader
    "GCONV_PATH", "GLIBC_TUNABLES", "HOSTALIASES", "LOCALDOMAIN", "RES_OPTIONS", "LOCPATH", "NLSPATH",
    "LANG", "LANGUAGE", "TZ", "TZDIR", "TERM", "TERMINFO", "TERMINFO_DIRS",
    # interpreters and runtimes that load code from the environment
    "NODE_OPTIONS", "PERL5LIB", "PERL5OPT", "PERLLIB", "RUBYLIB", "RUBYOPT", "CLASSPATH",
    "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS",
    # programs started on the user's behalf
    "EDITOR", "VISUAL", "PAGER", "BROWSER", "LESSOPEN", "LESSCLOSE", "MANPAGER", "SSH_ASKPASS",
    "SUDO_ASKPASS", "SSH_AUTH_SOCK",
    # where connections go and whom they trust
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "FTP_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    # configuration homes
    "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR", "KUBECONFIG", "DOCKER_HOST",
})
DENIED_PREFIXES = ("LD_", "DYLD_", "PYTHON", "NODE_", "NPM_CONFIG_", "YARN_", "BASH_FUNC_", "GIT_",
                   "LC_", "MALLOC_", "PERL", "RUBY", "GEM_", "BUNDLE_", "JAVA_", "DOCKER_", "SUDO_")


def denied(var: str) -> bool:
    """True when `vault exec` must never set `var` (the denylist above, in any case)."""
    up = var.upper()
    return up in DENIED_NAMES or up.startswith(DENIED_PREFIXES)


def exec_mapping(items: Iterable[str]) -> list[tuple[str, str]]:
    """(VAR, entry) pairs from `--env VAR=NAME` / `--env NAME` items; VaultExecRefused for a
    malformed item, a denied variable, or none at all."""
    out: list[tuple[str, str]] = []
    for item in items:
        var, sep, name = item.partition("=")
        if not sep:
            var, name = env_var_for(item), item
        if not ENV_NAME_RE.match(var) or not name:
            raise VaultExecRefused(f"--env {item!r} is not VAR=NAME (or an entry NAME)",
                                   hint="e.g. --env CONVEX_DEPLOY_KEY=convex-deploy-key")
        check_exec_var(var, name)
        out.append((var, name))
    if not out:
        raise VaultExecRefused("say which entries to give the command: vault exec sets only the variables it is asked for",
                               hint="e.g. squad-console vault exec --env CONVEX_DEPLOY_KEY=convex-deploy-key -- npx convex deploy")
    return out


def check_exec_var(var: str, name: str) -> None:
    if denied(var):
        raise VaultExecRefused(
            f"vault exec never sets {var} (asked for entry {name}): it would change which program runs "
            "or what it loads (docs/VAULT.md lists the names it refuses)",
            hint=f"give the entry under another name, e.g. --env SECRET_{re.sub(r'[^A-Za-z0-9_]', '_', var).upper()}={name}")


def resolve_command(cmd: str, parent_env: Mapping[str, str]) -> str | None:
    """The program `cmd` names, found with the parent's PATH (never the child's): a name with a
    slash is taken as it is; None when it is not found."""
    if "/" in cmd:
        return cmd
    return shutil.which(cmd, path=parent_env.get("PATH", os.defpath))


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


def exec_environment(vault: Vault, env: Mapping[str, str], mapping: Iterable[tuple[str, str]], *,
                     clean: bool = False) -> dict[str, str]:
    """The environment for `vault exec`'s child: `env` (only PATH, HOME, LANG, ... when `clean`)
    plus each (VAR, entry) of `mapping` and nothing else (VaultExecRefused when it is empty or
    names a denied variable), without the vault key itself unless asked for by name: the child
    gets its secrets, not the key to all of them."""
    pairs = list(mapping)
    if not pairs:
        raise VaultExecRefused("say which entries to give the command: vault exec sets only the variables it is asked for",
                               hint="e.g. --env CONVEX_DEPLOY_KEY=convex-deploy-key")
    for var, name in pairs:
        check_exec_var(var, name)
    out = {k: v for k, v in env.items() if k in CLEAN_ENV_KEEPS} if clean else dict(env)
    for var, name in pairs:
        out[var] = secret_text(vault.get(name), name)
    if KEY_ENV not in {var for var, _ in pairs}:
        out.pop(KEY_ENV, None)
    return out
