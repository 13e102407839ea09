"""The vault as OpenClaw's secret provider (docs/VAULT.md, "OpenClaw reads its secrets from the
vault"): `squad-console vault provide` answers OpenClaw's `exec` provider protocol v1, and
`squad-console vault provider-config` prints the `secrets.providers.<alias>` object that runs it.
No Textual, no store, no network: one call reads stdin, the vault file and the key, and exits.

The protocol (OpenClaw 2026.9.6, docs/gateway/secrets/secretref-contract.md and its resolver):
- request on stdin, at most MAX_REQUEST_BYTES (OpenClaw's own batch cap, 256 KiB):
  `{"protocolVersion": 1, "provider": "<alias>", "ids": ["<id>", ...]}` (at most MAX_IDS ids);
- response on stdout, JSON only: `{"protocolVersion": 1, "values": {"<id>": "<value>"},
  "errors": {"<id>": {"code": "NOT_FOUND"}}}`, exit 0;
- a request that is not that (not UTF-8, not JSON, too deep, too large, another protocolVersion,
  an alias or an id outside OpenClaw's grammar): nothing on stdout, one line on stderr, exit 2;
- a vault that cannot be read (no key, the wrong key, an altered file, no vault file): nothing
  on stdout, one line on stderr saying why and the fix, exit 1. OpenClaw then reports every ref
  of the provider unresolved; it never falls back to a plaintext value.
Nothing here ever writes a value to stderr, a log or an exception.

Ids (the "id syntax"): `ENTRY` is the vault entry ENTRY's value as text (the one rule of
`secrets.secret_value`: a one-line value loses its line end); `ENTRY#FIELD` reads the entry as a
JSON object and gives its member FIELD (`ENTRY#a/b` walks into nested objects, a digit segment
indexes an array), any JSON type. An id naming no live entry, or a field that is not there, is
`NOT_FOUND`; a value that is not UTF-8 text (or holds a NUL), or an entry that is not JSON when
a field is asked for, is `INVALID_VALUE`.

The command OpenClaw runs must be absolute, not a symlink, a regular file owned by the user the
gateway runs as and not group- or world-writable (OpenClaw checks exactly these, plus trustedDirs);
`check_command` checks them, plus what makes the file runnable with OpenClaw's empty environment
(executable; a `#!` interpreter given by absolute path, or PATH passed).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from console.errors import ConsoleError
from console.service.vault.crypto import NAME_RE
from console.service.vault.errors import VaultError, VaultValueUnusable
from console.service.vault.keys import KEY_ENV, KEYRING_ENV
from console.service.vault.secrets import secret_value

PROVIDER_ALIAS = "squadvault"  # matches OpenClaw's alias grammar ALIAS_RE (checked in the tests)
PROTOCOL_VERSION = 1
# OpenClaw's grammars (src/secrets/ref-contract.ts), used with fullmatch: JavaScript's `$` is the
# end of the string, Python's would also accept a trailing newline.
ALIAS_RE = re.compile(r"[a-z][a-z0-9_-]{0,63}")
EXEC_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/#-]{0,255}")
ENV_NAME_RE = re.compile(r"[A-Z][A-Z0-9_]{0,127}")
MAX_REQUEST_BYTES = 262_144  # OpenClaw's maxBatchBytes: it never sends more
MAX_IDS = 512  # OpenClaw's maxRefsPerProvider
EXIT_OK, EXIT_VAULT, EXIT_BAD_REQUEST = 0, 1, 2
DEFAULT_TIMEOUT_MS = 5000
COMMAND_NAME = "squad-console"
# what the provider needs from the gateway's environment (OpenClaw passes nothing else): the key,
# the keyring switch, and what the OS keyring (Secret Service over D-Bus) needs to be found
KEY_PASS_ENV = (KEY_ENV, KEYRING_ENV)
KEYRING_PASS_ENV = ("HOME", "XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS")
KEYRING_TIMEOUT = 3.0  # well inside OpenClaw's 5 s for one call


class ProviderRequestError(ConsoleError):
    """A request that is not OpenClaw's exec protocol v1 (exit 2). Never quotes the request."""

    kind = "provider_request"
    code = "bad_request"


class ProviderConfigError(ConsoleError):
    """The command OpenClaw would run breaks one of its path rules (or could not run)."""

    kind = "provider_config"
    code = "unsafe_command"


class Answer(NamedTuple):
    """One answered request: the bytes for stdout (empty unless exit 0), the exit code, and the
    one line for stderr ("" when all went well). None of them holds a value except `stdout`."""

    stdout: bytes
    exit_code: int
    error: str = ""


# ------------------------------------------------------------------------------ ids
def parse_ref_id(ref_id: str) -> tuple[str, tuple[str, ...]] | None:
    """An exec ref id -> (vault entry, field path), or None when no vault entry can have it (the
    id then answers NOT_FOUND). `ENTRY`, `ENTRY#FIELD`, `ENTRY#a/b/0`."""
    entry, sep, field = ref_id.partition("#")
    if not NAME_RE.fullmatch(entry) or ".." in entry:
        return None
    if not sep:
        return entry, ()
    parts = tuple(field.split("/"))
    if "#" in field or any(p == "" for p in parts):
        return None
    return entry, parts


def ref_id(entry: str, field: str | Sequence[str] | None = None) -> str:
    """The exec ref id for an entry (and a field in it): the inverse of parse_ref_id. Raises
    VaultError when OpenClaw's id grammar or the vault's names cannot carry it."""
    parts = () if field is None else ((field,) if isinstance(field, str) else tuple(field))
    text = entry + ("#" + "/".join(parts) if parts else "")
    if not valid_exec_id(text) or parse_ref_id(text) != (entry, parts):
        raise VaultError(f"{text[:80]!r} cannot be an OpenClaw exec ref id for the vault",
                         hint="entry names: letters, digits and . _ / - (up to 128); fields: letters, digits "
                         "and . _ : -, nested with /; the whole id at most 256 characters")
    return text


def secret_ref(entry: str, field: str | Sequence[str] | None = None, alias: str = PROVIDER_ALIAS) -> dict[str, str]:
    """The SecretRef object that points OpenClaw at `entry` (and `field`) in the vault."""
    return {"source": "exec", "provider": alias, "id": ref_id(entry, field)}


def valid_exec_id(text: str) -> bool:
    """OpenClaw's exec ref id grammar (its pattern, and no `.` or `..` path segment)."""
    return bool(EXEC_ID_RE.fullmatch(text)) and not any(s in (".", "..") for s in text.split("/"))


# --------------------------------------------------------------------------- request
def parse_request(data: bytes) -> tuple[str, list[str]]:
    """(provider alias, the distinct ids in order) from a request's bytes, or ProviderRequestError."""
    if len(data) > MAX_REQUEST_BYTES:
        raise ProviderRequestError(f"the request is larger than {MAX_REQUEST_BYTES} bytes (OpenClaw's batch cap)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProviderRequestError(f"the request is not UTF-8 (byte {exc.start})") from None
    try:
        doc = json.loads(text)
    except RecursionError:
        raise ProviderRequestError("the request is nested too deeply to be a request") from None
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ProviderRequestError(f"the request is not JSON{where}") from None
    if not isinstance(doc, dict):
        raise ProviderRequestError(f"the request is a JSON {_json_type(doc)}, not an object")
    version = doc.get("protocolVersion")
    if type(version) is not int or version != PROTOCOL_VERSION:
        shown = repr(version) if type(version) in (int, float, bool) or version is None else _json_type(version)
        raise ProviderRequestError(f"protocolVersion is {shown}; this provider speaks protocol version 1")
    provider = doc.get("provider")
    if not isinstance(provider, str) or not ALIAS_RE.fullmatch(provider):
        raise ProviderRequestError("provider is not a provider alias (a-z, 0-9, _ and -, up to 64, starting "
                                   "with a letter)")
    ids = doc.get("ids")
    if not isinstance(ids, list):
        raise ProviderRequestError(f"ids is {'missing' if ids is None else 'a JSON ' + _json_type(ids)}, "
                                   "not a list of ids")
    if len(ids) > MAX_IDS:
        raise ProviderRequestError(f"the request asks for {len(ids)} ids, more than {MAX_IDS}")
    seen: dict[str, None] = {}
    for i, item in enumerate(ids):
        if not isinstance(item, str):
            raise ProviderRequestError(f"ids[{i}] is a JSON {_json_type(item)}, not a string")
        if not valid_exec_id(item):
            raise ProviderRequestError(f"ids[{i}] is not an exec ref id (OpenClaw's grammar: "
                                       "[A-Za-z0-9][A-Za-z0-9._:/#-]{0,255}, no . or .. segment)")
        seen.setdefault(item, None)
    return provider, list(seen)


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
            float: "number", type(None): "null"}.get(type(value), "value")


# ---------------------------------------------------------------------------- answer
def _field(raw: bytes, path: tuple[str, ...]) -> tuple[Any, str | None]:
    """(value, None) or (None, error code) for a field inside a JSON entry."""
    try:
        doc: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, "INVALID_VALUE"
    for part in path:
        if isinstance(doc, dict) and part in doc:
            doc = doc[part]
        elif isinstance(doc, list) and part.isdigit() and part.isascii() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            return None, "NOT_FOUND"
    if isinstance(doc, str) and "\0" in doc:
        return None, "INVALID_VALUE"
    return doc, None


def _value(raw: bytes, entry: str) -> tuple[Any, str | None]:
    try:
        return secret_value(raw, entry).decode("utf-8"), None
    except (VaultValueUnusable, UnicodeDecodeError):
        return None, "INVALID_VALUE"


def resolve(ids: Iterable[str], vault: Any) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """(values, errors) for valid exec ids. A vault that cannot be read raises VaultError."""
    ids = list(ids)
    wanted = {i: parse_ref_id(i) for i in ids}
    entries = vault.read_latest({p[0] for p in wanted.values() if p is not None}) if ids else {}
    values: dict[str, Any] = {}
    errors: dict[str, dict[str, str]] = {}
    for i, parsed in wanted.items():
        if parsed is None or parsed[0] not in entries:
            errors[i] = {"code": "NOT_FOUND"}
            continue
        entry, path = parsed
        value, problem = _field(entries[entry], path) if path else _value(entries[entry], entry)
        if problem:
            errors[i] = {"code": problem}
        else:
            values[i] = value
    return values, errors


def answer(request: bytes, vault: Any) -> Answer:
    """Answers one request (the bytes read from stdin) from `vault` (a console Vault, its key found
    when first needed). Never raises for a bad request or an unreadable vault: see Answer."""
    try:
        _provider, ids = parse_request(request)
    except ProviderRequestError as exc:
        return Answer(b"", EXIT_BAD_REQUEST, f"squad-console vault provide: bad request: {exc.message}")
    try:
        if ids and not vault.exists():
            raise VaultError(f"there is no vault file at {vault.path}",
                             hint="run `squad-console vault provider-config` again where the vault is, or "
                             "`squad-console vault put NAME` to start one")
        values, errors = resolve(ids, vault)
    except VaultError as exc:
        return Answer(b"", EXIT_VAULT, f"squad-console vault provide: {exc.describe()}")
    body: dict[str, Any] = {"protocolVersion": PROTOCOL_VERSION, "values": values}
    if errors:
        body["errors"] = errors
    return Answer(json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n", EXIT_OK)


def read_request(stream: Any) -> bytes:
    """The request from a binary stream, read up to one byte past MAX_REQUEST_BYTES (never without
    bound: an endless stdin is an oversized request)."""
    chunks: list[bytes] = []
    left = MAX_REQUEST_BYTES + 1
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# ------------------------------------------------------------------------ the config
def find_command(argv0: str | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The `squad-console` program file OpenClaw should run: this process's own console script
    when it was started as one, else the one on PATH; links resolved (realpath)."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    env = os.environ if env is None else env
    if argv0 and Path(argv0).name.startswith(COMMAND_NAME) and Path(argv0).is_file():
        return Path(os.path.realpath(argv0))
    found = shutil.which(COMMAND_NAME, path=env.get("PATH"))
    if found is None:
        raise ProviderConfigError(f"no `{COMMAND_NAME}` command found (not started as one, none on PATH)",
                                  hint="install squad-console (pip install / pipx install) so its console script "
                                  "exists, or give the program with --command /absolute/path")
    return Path(os.path.realpath(found))


def _interpreter(path: Path) -> list[str] | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    return head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").split()


def check_command(command: str | Path, *, trusted_dirs: Sequence[str | Path] = (),
                  pass_env: Sequence[str] = ()) -> Path:
    """The checks OpenClaw makes on an exec provider's command (absolute; a regular file, not a
    symlink; inside trustedDirs; not group- or world-writable; owned by the current user), plus
    that it can run in OpenClaw's empty environment. Raises ProviderConfigError with the fix."""
    label = "the provider command"
    path = Path(command)
    resolve_hint = f"use the real file: `realpath \"$(command -v {COMMAND_NAME})\"`, or --command with it"
    if not path.is_absolute():
        raise ProviderConfigError(f"{label} {command} is not an absolute path", hint=resolve_hint)
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise ProviderConfigError(f"{label} {path} cannot be read: {exc.strerror}",
                                  hint="install squad-console, or give --command the path of its console script") from None
    if stat.S_ISLNK(st.st_mode):
        raise ProviderConfigError(f"{label} {path} is a symlink (OpenClaw refuses symlinked commands)",
                                  hint=resolve_hint)
    if not stat.S_ISREG(st.st_mode):
        raise ProviderConfigError(f"{label} {path} is not a regular file", hint=resolve_hint)
    for d in trusted_dirs:
        if not _inside(Path(d), path):
            raise ProviderConfigError(f"{label} {path} is outside trustedDirs ({d})",
                                      hint="list the folder holding the command in trustedDirs")
    mode = stat.S_IMODE(st.st_mode)
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ProviderConfigError(f"{label} {path} can be written by its group or by others (mode {mode:04o}); "
                                  "OpenClaw refuses it", hint=f"chmod go-w {path}")
    uid = os.getuid()
    if st.st_uid != uid:
        raise ProviderConfigError(
            f"{label} {path} belongs to uid {st.st_uid}, not to this user (uid {uid}); OpenClaw runs only "
            "commands the gateway's user owns",
            hint="run `squad-console vault provider-config` as the user the gateway runs as, with squad-console "
            "installed by that user (e.g. `pipx install`), or `chown` the file to that user")
    if not mode & stat.S_IXUSR:
        raise ProviderConfigError(f"{label} {path} is not executable", hint=f"chmod u+x {path}")
    interp = _interpreter(path)
    if interp:
        prog = Path(interp[0])
        if not prog.is_absolute() or not os.access(prog, os.X_OK):
            raise ProviderConfigError(f"{label} {path} starts with #!{interp[0]}, which is not an executable "
                                      "absolute path", hint="reinstall squad-console (its console script names "
                                      "its Python by absolute path)")
        if prog.name == "env" and "PATH" not in pass_env:
            raise ProviderConfigError(
                f"{label} {path} finds its interpreter with `#!{' '.join(interp)}`, but OpenClaw gives the "
                "command no PATH", hint="add --pass-env PATH, or use a console script with an absolute interpreter")
    return path


def _inside(folder: Path, path: Path) -> bool:
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(folder))
    return rel != ".." and not rel.startswith(".." + os.sep) and not os.path.isabs(rel)


def provider_config(vault_file: str | Path, *, command: str | Path | None = None,
                    config_file: str | Path | None = None, keyring: bool = True,
                    pass_env: Sequence[str] = (), timeout_ms: int = DEFAULT_TIMEOUT_MS,
                    env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The `secrets.providers.<alias>` object for this machine (checked: ProviderConfigError with
    the fix when OpenClaw would refuse it). `command` defaults to find_command()."""
    for name in pass_env:
        if not ENV_NAME_RE.fullmatch(name):
            raise ProviderConfigError(f"{name[:80]!r} cannot be in passEnv (OpenClaw accepts [A-Z][A-Z0-9_]* names)",
                                      hint="give upper-case variable names")
    if not 1 <= int(timeout_ms) <= 120_000:
        raise ProviderConfigError(f"timeoutMs {timeout_ms} is outside OpenClaw's 1..120000",
                                  hint="the default, 5000, is plenty: one call takes well under a second")
    names = list(dict.fromkeys([*KEY_PASS_ENV, *(KEYRING_PASS_ENV if keyring else ()), *pass_env]))
    path = Path(command) if command is not None else find_command(env=env)
    trusted = [str(path.parent)]
    check_command(path, trusted_dirs=trusted, pass_env=names)
    args = []
    if config_file is not None:
        args += ["--config", str(Path(config_file).expanduser().resolve())]
    args += ["vault", "provide", "--vault-file", str(Path(vault_file).expanduser().resolve())]
    if any(len(a) > 1024 for a in args):
        raise ProviderConfigError("a path in the provider's args is longer than OpenClaw's 1024 characters",
                                  hint="keep the vault and squad.toml at shorter paths")
    return {
        "source": "exec",
        "command": str(path),
        "args": args,
        "passEnv": names,
        "trustedDirs": trusted,
        "jsonOnly": True,
        "timeoutMs": int(timeout_ms),
    }


def provider_vault(path: str | Path, env: Mapping[str, str] | None = None) -> Any:
    """The vault `vault provide` reads: the file at `path`, its key found when first needed
    (CONVEX_VAULT_KEY, then the OS keyring with a KEYRING_TIMEOUT s limit, inside OpenClaw's 5 s)."""
    from console.service.vault.keys import SystemKeyring, find_key
    from console.service.vault.vault import Vault

    env = os.environ if env is None else env
    return Vault(path, key_provider=lambda: find_key(env, keyring=SystemKeyring(timeout=KEYRING_TIMEOUT)))
