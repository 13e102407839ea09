"""OpenClaw's own plaintext, moved into the vault: `openclaw secrets audit / apply / reload`
driven by the console (issue 14; OpenClaw 2026.9.6's docs: docs/cli/secrets.md,
docs/gateway/secrets-plan-contract.md, docs/reference/secretref-credential-surface.md).

- `audit()` runs `openclaw secrets audit --json` (`--check`, `--allow-exec` on request) and parses
  its report: status clean | findings | unresolved, and the findings PLAINTEXT_FOUND,
  REF_UNRESOLVED, REF_SHADOWED, STORE_PLAINTEXT_RESIDUE, LEGACY_RESIDUE, each with the file and the
  dot path (`models.providers.openai.apiKey`). Exit 1 means findings, 2 unresolved refs: both are
  answers, not failures.
- `plan_for()` writes the plan `secrets apply --from` takes: the vault's exec provider
  (`providerUpserts`, from `vault provider-config`) and, per target, a SecretRef
  `{source: "exec", provider: <alias>, id: <vault entry>}`. A plan holds no value.
- `apply()` runs `secrets apply --from <plan> --allow-exec [--dry-run] --json`: the dry run makes
  OpenClaw resolve every ref through the vault's provider before anything is written; the real
  run replaces the plaintext in openclaw.json with the ref.
- `refs()` lists the exec SecretRefs in openclaw.json that name the vault's provider.

OpenClaw writes `openclaw.json.bak` (the file before its write) beside the config, the gateway
copies the config to `openclaw.json.last-good` when it starts, and a recovery keeps the replaced
config as `openclaw.json.clobbered.<time>`: after an apply these still hold the plaintext, and
the audit scans none of them. `scrub_backups()` replaces the value in those copies by the same
SecretRef (checked by reading them again) and names each one it could not clean.

The plan sets `options` so that `secrets apply` changes openclaw.json only (OpenClaw's defaults
also delete plaintext auth-profile keys of the same provider and scrub .env files: values the
vault never got), and `apply(dry_run=True)` refuses a report whose `changedFiles` names any
other file.

No value ever goes into an argv, a message or a file of ours: a value is read from openclaw.json
only to be stored in the vault and compared (by the migration), and every word OpenClaw prints
goes through `redact` with the values known to the caller. No Textual import.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import json5

from console.service.openclaw.loose_json import parse_json_output
from console.service.openclaw.runner import CLI, Runner, redact, subprocess_runner
from console.service.vault.errors import VaultError

CODES = ("PLAINTEXT_FOUND", "REF_UNRESOLVED", "REF_SHADOWED", "STORE_PLAINTEXT_RESIDUE", "LEGACY_RESIDUE")
ENTRY_PREFIX = "openclaw/"  # the vault entries the migration makes: openclaw/<dot path>
DEFAULT_GATEWAY_PORT = 18789  # OpenClaw's, when openclaw.json names none
AUDIT_TIMEOUT = 60.0  # the audit takes ~2 s; with exec providers each one may take up to its timeoutMs

# The openclaw.json targets `secrets apply` accepts (docs/reference/secretref-credential-surface.md,
# OpenClaw 2026.9.6), as path patterns: `*` is one segment. The pattern is also the plan's
# target `type` (the registry id; OpenClaw accepts it as the type or its alias, e.g.
# `models.providers.*.apiKey`).
TARGET_PATTERNS = (
    "agents.entries.*.memory.search.remote.apiKey",
    "agents.entries.*.tts.personas.*.providers.*.apiKey",
    "agents.entries.*.tts.providers.*.apiKey",
    "channels.*.accounts.*.token", "channels.*.token",
    "channels.*.accounts.*.botToken", "channels.*.botToken",
    "channels.*.accounts.*.appToken", "channels.*.appToken",
    "channels.*.accounts.*.userToken", "channels.*.userToken",
    "channels.*.accounts.*.signingSecret", "channels.*.signingSecret",
    "channels.*.accounts.*.webhookSecret", "channels.*.webhookSecret",
    "channels.*.accounts.*.appSecret", "channels.*.appSecret",
    "channels.*.accounts.*.password", "channels.*.password",
    "channels.*.accounts.*.accessToken", "channels.*.accessToken",
    "channels.*.accounts.*.authToken", "channels.*.authToken",
    "channels.*.accounts.*.clientSecret", "channels.*.clientSecret",
    "channels.*.accounts.*.privateKey", "channels.*.privateKey",
    "cron.webhookToken",
    "gateway.auth.password", "gateway.auth.token", "gateway.remote.password", "gateway.remote.token",
    "memory.search.remote.apiKey",
    "models.providers.*.apiKey", "models.providers.*.headers.*",
    "models.providers.*.request.auth.token", "models.providers.*.request.auth.value",
    "models.providers.*.request.headers.*",
    "plugins.entries.*.config.webSearch.apiKey", "plugins.entries.*.config.webFetch.apiKey",
    "skills.entries.*.apiKey",
    "talk.providers.*.apiKey", "talk.realtime.providers.*.apiKey",
    "tts.personas.*.providers.*.apiKey", "tts.providers.*.apiKey",
)
PLAN_OPTIONS = {"scrubEnv": False, "scrubAuthProfilesForProviderTargets": False}
_EXEC_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,255}$")


class OpenClawSecretsError(VaultError):
    """`openclaw secrets …` could not give an answer (not installed, no JSON, failed): in words."""


# ------------------------------------------------------------------------ the audit
@dataclass(frozen=True, slots=True)
class AuditFinding:
    code: str
    severity: str
    file: str
    path: str  # the dot path in `file` (jsonPath), "" when OpenClaw gives none
    message: str  # OpenClaw's words, redacted
    provider: str = ""


@dataclass(frozen=True, slots=True)
class AuditReport:
    status: str  # clean | findings | unresolved
    findings: tuple[AuditFinding, ...]
    summary: dict[str, int] = field(default_factory=dict)
    refs_checked: int = 0
    skipped_exec_refs: int = 0
    complete: bool = True
    files: tuple[str, ...] = ()
    exit_code: int = 0

    def at(self, path: str, *codes: str) -> list[AuditFinding]:
        return [f for f in self.findings if f.path == path and (not codes or f.code in codes)]


def parse_audit(code: int, stdout: str, stderr: str, *, secrets: Iterable[str] = ()) -> AuditReport:
    """`openclaw secrets audit --json`'s report (exit 0, 1 or 2), or OpenClawSecretsError."""
    secrets = list(secrets)
    try:
        data = parse_json_output(stdout)
    except ValueError:
        data = None
    if not isinstance(data, dict) or "findings" not in data:
        first = next((ln.strip() for ln in (stderr or stdout or "").splitlines() if ln.strip()), "no output")
        err = data.get("error") if isinstance(data, dict) else None
        if isinstance(err, dict) and err.get("message"):
            first = str(err["message"]).splitlines()[0]
        raise OpenClawSecretsError(redact(f"`openclaw secrets audit --json` gave no report (exit {code}): {first[:300]}",
                                          secrets),
                                   hint="run `openclaw secrets audit` yourself to see why")
    findings = []
    for f in data.get("findings") or []:
        if not isinstance(f, dict):
            continue
        findings.append(AuditFinding(
            code=str(f.get("code") or "?"), severity=str(f.get("severity") or ""), file=str(f.get("file") or ""),
            path=str(f.get("jsonPath") or f.get("path") or ""),
            message=redact(str(f.get("message") or ""), secrets), provider=str(f.get("provider") or "")))
    res = data.get("resolution") or {}
    summary = {k: int(v) for k, v in (data.get("summary") or {}).items() if isinstance(v, int)}
    return AuditReport(str(data.get("status") or ("clean" if not findings else "findings")), tuple(findings), summary,
                       int(res.get("refsChecked") or 0), int(res.get("skippedExecRefs") or 0),
                       bool(res.get("resolvabilityComplete", True)),
                       tuple(str(p) for p in data.get("filesScanned") or []), code)


# ------------------------------------------------------------------------ targets and plans
def target_type(path: str) -> str | None:
    """The plan target type of a concrete openclaw.json dot path, or None when `secrets apply`
    does not take that path (then the finding is left to a person)."""
    segs = path.split(".")
    for pattern in TARGET_PATTERNS:
        pat = pattern.split(".")
        if len(pat) == len(segs) and all(p == "*" or p == s for p, s in zip(pat, segs)):
            if pattern.startswith("channels."):  # channel targets are registered per channel
                return ".".join(s if p != "*" or i == 1 else "*" for i, (p, s) in enumerate(zip(pat, segs)))
            return pattern
    return None


def entry_name(path: str) -> str:
    """The vault entry (and exec ref id) for an openclaw.json path: `openclaw/<dot path>`. When
    the path had to be changed to be a name (a character outside [A-Za-z0-9._-], a cut at 128),
    a short hash of the path itself ends it, so two paths never share one entry."""
    safe = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9._-]", "-", path).strip(".-")) or "value"
    name = ENTRY_PREFIX + safe
    if safe == path and len(name) <= 128:
        return name
    tag = "-" + hashlib.sha256(path.encode("utf-8")).hexdigest()[:10]
    return name[:128 - len(tag)].rstrip(".-") + tag


def exec_ref(entry: str, alias: str) -> dict[str, str]:
    if not _EXEC_ID_RE.match(entry):
        raise VaultError(f"{entry!r} cannot be an exec SecretRef id", hint="OpenClaw ids: letters, digits and ._:/#-")
    return {"source": "exec", "provider": alias, "id": entry}


def plan_for(targets: Sequence[tuple[str, str]], alias: str, provider: Mapping[str, Any]) -> dict[str, Any]:
    """The `secrets apply` plan pointing each (dot path, vault entry) at the vault's provider."""
    out = []
    for path, entry in targets:
        ttype = target_type(path)
        if ttype is None:
            raise VaultError(f"`openclaw secrets apply` does not take the path {path}",
                             hint="move that value by hand (OpenClaw's SecretRef credential surface lists the paths it takes)")
        segs = path.split(".")
        t: dict[str, Any] = {"type": ttype, "path": path, "pathSegments": segs, "ref": exec_ref(entry, alias)}
        if ttype.startswith("models.providers."):
            t["providerId"] = segs[2]
        out.append(t)
    # OpenClaw's defaults (normalizeSecretsPlanOptions) would also delete the plaintext keys of
    # every auth profile of a provider a target names, in every agent's auth store, and the
    # migrated values from .env files: values the vault never got. Only openclaw.json changes.
    return {"version": 1, "protocolVersion": 1, "providerUpserts": {alias: dict(provider)}, "targets": out,
            "options": dict(PLAN_OPTIONS)}


# ------------------------------------------------------------------------ openclaw.json
def read_config(path: Path) -> dict[str, Any]:
    try:
        data = json5.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise OpenClawSecretsError(f"{path} could not be read ({type(exc).__name__})") from None
    return data if isinstance(data, dict) else {}


_MISSING = object()


def value_at(config: Mapping[str, Any], path: str) -> Any:
    node: Any = config
    for seg in path.split("."):
        if not isinstance(node, Mapping) or seg not in node:
            return _MISSING
        node = node[seg]
    return node


def plaintext_at(config: Mapping[str, Any], path: str) -> str | None:
    """The plaintext string at `path`, or None (gone, a ref, not a string)."""
    v = value_at(config, path)
    return v if isinstance(v, str) and v else None


def is_ref(value: Any, alias: str | None = None, entry: str | None = None) -> bool:
    return (isinstance(value, Mapping) and value.get("source") == "exec"
            and (alias is None or value.get("provider") == alias) and (entry is None or value.get("id") == entry))


@dataclass(frozen=True, slots=True)
class Ref:
    path: str  # where in openclaw.json
    id: str  # the vault entry (with an optional #field)


def refs_in(config: Mapping[str, Any], alias: str) -> list[Ref]:
    """Every exec SecretRef in openclaw.json that names the vault's provider `alias`."""
    out: list[Ref] = []

    def walk(node: Any, prefix: str) -> None:
        if is_ref(node, alias):
            out.append(Ref(prefix, str(node.get("id") or "")))
        elif isinstance(node, Mapping):
            for k, v in node.items():
                if prefix == "" and k == "secrets":
                    continue
                walk(v, f"{prefix}.{k}" if prefix else str(k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{prefix}.{i}")

    walk(config, "")
    return out


# ------------------------------------------------------------------------ the CLI
def cli_runner(executable: str, env: Mapping[str, str] | None = None, timeout: float = AUDIT_TIMEOUT) -> Runner:
    """A runner for `openclaw secrets …` in `env` (the vault key reaches the exec provider from
    it, through the provider's passEnv)."""
    return subprocess_runner(executable, timeout, env)


def default_cli(env: Mapping[str, str] | None = None) -> Runner | None:
    env = os.environ if env is None else env
    found = shutil.which(CLI, path=env.get("PATH"))
    return cli_runner(found, env) if found else None


class OpenClawSecrets:
    """`openclaw secrets` for one openclaw.json (`config_path`), through `runner`."""

    def __init__(self, runner: Runner, config_path: Path, *, alias: str,
                 provider: Callable[[], Mapping[str, Any]], env: Mapping[str, str] | None = None) -> None:
        self.runner = runner
        self.env = dict(env or {})  # OPENCLAW_GATEWAY_PORT, as the CLI reads it
        self.config_path = Path(config_path)
        self.alias = alias
        self._provider = provider

    def provider_config(self) -> Mapping[str, Any]:
        return self._provider()

    def config(self) -> dict[str, Any]:
        return read_config(self.config_path)

    def other_exec_providers(self) -> list[str]:
        """The exec providers of openclaw.json besides the vault's: `secrets audit --allow-exec`
        would run them too (a password manager may prompt or rate-limit), so the console's own
        checks (`check`, the vault screen) do not pass --allow-exec while there are any."""
        try:
            providers = (self.config().get("secrets") or {}).get("providers") or {}
        except (VaultError, AttributeError):
            return []
        return sorted(str(alias) for alias, p in providers.items() if alias != self.alias
                      and isinstance(p, Mapping) and p.get("source") == "exec") if isinstance(providers, Mapping) else []

    def audit(self, *, allow_exec: bool = False, check: bool = False, secrets: Iterable[str] = ()) -> AuditReport:
        argv = [CLI, "secrets", "audit", "--json"] + (["--check"] if check else []) + (["--allow-exec"] if allow_exec else [])
        code, out, err = self.runner(argv)
        return parse_audit(code, out, err, secrets=secrets)

    def apply(self, plan: Mapping[str, Any], *, dry_run: bool, secrets: Iterable[str] = ()) -> dict[str, Any]:
        """Runs `secrets apply --from <plan> --allow-exec [--dry-run] --json`; its JSON report, or
        OpenClawSecretsError with OpenClaw's (redacted) reason. The plan file lives in a private
        temporary folder for the run only (it holds refs, no value)."""
        folder = Path(tempfile.mkdtemp(prefix="squad-console-plan-"))
        try:
            plan_file = folder / "openclaw-secrets-plan.json"
            fd = os.open(plan_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(plan, fh, indent=2)
            argv = [CLI, "secrets", "apply", "--from", str(plan_file), "--allow-exec", "--json"] + (
                ["--dry-run"] if dry_run else [])
            code, out, err = self.runner(argv)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        try:
            data = parse_json_output(out)
        except ValueError:
            data = None
        if code != 0 or not isinstance(data, dict) or data.get("ok") is False:
            why = ""
            if isinstance(data, dict) and isinstance(data.get("error"), dict):
                why = str(data["error"].get("message") or "")
            why = why or next((ln.strip() for ln in (err or out).splitlines() if ln.strip()), "no output")
            raise OpenClawSecretsError(
                redact(f"`openclaw secrets apply{' --dry-run' if dry_run else ''}` refused the plan (exit {code}): "
                       f"{why.splitlines()[0][:400]}", secrets),
                hint="nothing was written by a refused apply; check `squad-console vault provider-config` and "
                     "`openclaw secrets audit --allow-exec`")
        if dry_run:
            others = self.other_changed_files(data)
            if others:
                raise OpenClawSecretsError(
                    redact("`openclaw secrets apply` would change more than openclaw.json: "
                           + ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
                           + ": not applied", secrets),
                    hint="the plan is meant to change openclaw.json only (its options turn OpenClaw's scrubbing of "
                         "auth profiles and .env files off); nothing was written")
        return data

    def other_changed_files(self, report: Mapping[str, Any]) -> list[str]:
        """The files a `secrets apply --dry-run --json` report (`changedFiles`, OpenClaw 2026.9.6)
        lists beside openclaw.json; a report without that list counts as unknown files."""
        files = report.get("changedFiles")
        if not isinstance(files, list):
            return ["(the dry run's report lists no changedFiles)"]
        mine = os.path.realpath(self.config_path)
        return [str(f) for f in files if not isinstance(f, str) or os.path.realpath(f) != mine]

    def reload(self, *, secrets: Iterable[str] = ()) -> tuple[bool, str]:
        """`openclaw secrets reload --json` (the gateway's RPC `secrets.reload`): (True, "") when
        the running gateway re-resolved every ref; (True, words) when it did so with warnings
        (OpenClaw's degraded activation: an owner kept its last good value or is unavailable);
        (False, why in words, with what to do). The real CLI (2026.9.6) prints
        `{"ok": true, "warningCount": N}` (exit 0) or `{"ok": false, "error": {"message": …}}`
        (exit 1). A local gateway's port is tried first: nothing listening is no failure of
        ours (a gateway started later resolves the refs itself), and no CLI runs."""
        try:
            gw = self.config().get("gateway") or {}
        except VaultError:
            gw = {}
        if isinstance(gw, dict) and gw.get("mode", "local") == "local":
            env_port = self.env.get("OPENCLAW_GATEWAY_PORT", "").strip()
            port = (int(env_port) if env_port.isdigit() and 0 < int(env_port) < 65536  # the CLI's own order
                    else gw.get("port") if isinstance(gw.get("port"), int) else DEFAULT_GATEWAY_PORT)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            except OSError:
                return False, f"no gateway listens on 127.0.0.1:{port} (a gateway started later reads the refs itself)"
        code, out, err = self.runner([CLI, "secrets", "reload", "--json"])
        try:
            data = parse_json_output(out)
        except ValueError:
            data = None
        data = data if isinstance(data, dict) else {}
        if code == 0 and data.get("ok") is not False:
            warnings = data.get("warningCount")
            if isinstance(warnings, int) and warnings > 0:
                return True, (f"the gateway reloaded with {warnings} warning(s): a ref it could not resolve keeps "
                              "its last good value or is unavailable; `openclaw doctor` lists them")
            return True, ""
        error = data.get("error")
        why = str(error.get("message") or "") if isinstance(error, dict) else ""
        why = (why or next((ln.strip() for ln in (err or out).splitlines() if ln.strip()), f"exit {code}")).splitlines()[0]
        why = redact(why[:300], secrets)
        if "token mismatch" in why or "AUTH_TOKEN_MISMATCH" in why:
            return False, (f"the running gateway refused the token this config resolves ({why}); a gateway token "
                           "changed in the vault reaches the gateway on `openclaw gateway restart`")
        if why == "secrets.reload failed":
            return False, ("the gateway could not resolve its refs (secrets.reload failed) and keeps its last good "
                           "secrets; its log names the provider: check that the gateway's environment holds the "
                           "vault key (`squad-console vault provider-config`), then `openclaw secrets reload`")
        return False, f"`openclaw secrets reload` failed (exit {code}): {why}"

    def refs(self) -> list[Ref]:
        return refs_in(self.config(), self.alias)

    def backups(self) -> list[Path]:
        """OpenClaw's own copies of openclaw.json beside it: `openclaw.json.bak`, `.bak.N` (its
        writes), `.last-good` (the gateway copies the config there when it starts) and
        `.clobbered.<time>` (a config it replaced on recovery)."""
        folder, name = self.config_path.parent, self.config_path.name
        try:
            return sorted(p for p in folder.iterdir()
                          if (p.name.startswith((name + ".bak", name + ".clobbered.")) or p.name == name + ".last-good")
                          and p.is_file() and not p.is_symlink())
        except OSError:
            return []

    def scrub_backups(self, path: str, value: str, ref: Mapping[str, Any]) -> tuple[list[str], list[str]]:
        """Replaces `value` at `path` in OpenClaw's config backups by `ref` (atomically, mode
        0600). (scrubbed files, files still holding the value with why)."""
        from console.service.vault.files import atomic_write

        scrubbed, left = [], []
        for bak in self.backups():
            try:
                raw = bak.read_bytes()
            except OSError as exc:
                left.append(f"{bak}: unreadable ({exc.strerror})")
                continue
            if value.encode("utf-8") not in raw and json.dumps(value)[1:-1].encode("utf-8") not in raw:
                continue
            try:
                data = json5.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                left.append(f"{bak}: holds the value but is not JSON: remove it by hand")
                continue
            node = data
            segs = path.split(".")
            for seg in segs[:-1]:
                node = node.get(seg) if isinstance(node, dict) else None
            if isinstance(node, dict) and node.get(segs[-1]) == value:
                node[segs[-1]] = dict(ref)
            new = (json.dumps(data, indent=2) + "\n").encode("utf-8")
            if value.encode("utf-8") in new or json.dumps(value)[1:-1].encode("utf-8") in new:
                left.append(f"{bak}: holds the value at another place: remove it by hand")
                continue
            atomic_write(bak, new)
            scrubbed.append(str(bak))
        return scrubbed, left


# ------------------------------------------------------------------------ the refs to the vault
@dataclass(frozen=True, slots=True)
class RefStatus:
    """One SecretRef of openclaw.json to the vault's provider, and whether it resolves."""

    path: str  # where in openclaw.json
    id: str  # the ref id (ENTRY or ENTRY#FIELD)
    entry: str  # the vault entry it reads
    state: str  # resolves (OpenClaw's audit said so) | unresolved | stored (the entry is there; OpenClaw not asked)
    why: str = ""
    fix: tuple[str, ...] = ()

    @property
    def alert(self) -> bool:
        return self.state == "unresolved"


def ref_statuses(refs: Sequence[Ref], entries: Iterable[str], audit: AuditReport | None = None) -> list[RefStatus]:
    """Each ref's state: `unresolved` when the vault has no such entry or OpenClaw's audit (run
    with --allow-exec) reports REF_UNRESOLVED at its path, each with the commands that fix it."""
    from console.service.vault.provider import parse_ref_id

    names = set(entries)
    out = []
    for r in refs:
        parsed = parse_ref_id(r.id)
        entry = parsed[0] if parsed else r.id
        bad = audit.at(r.path, "REF_UNRESOLVED") if audit is not None else []
        if entry not in names:
            out.append(RefStatus(r.path, r.id, entry, "unresolved", f"the vault has no entry {entry}",
                                 (f"squad-console vault put {entry}", "openclaw secrets reload")))
        elif bad:
            out.append(RefStatus(r.path, r.id, entry, "unresolved", bad[0].message or "REF_UNRESOLVED",
                                 ("squad-console vault provider-config", "openclaw secrets audit --check --allow-exec",
                                  "openclaw secrets reload")))
        elif audit is not None and audit.complete:
            out.append(RefStatus(r.path, r.id, entry, "resolves"))
        else:
            out.append(RefStatus(r.path, r.id, entry, "stored", "the entry is in the vault (OpenClaw not asked)"))
    return out
