"""The credential migration (DESIGN §7): plaintext credentials in the agents' workspaces move
into the vault, one resumable step at a time, never losing one.

Built for a wizard screen to drive it step by step (and for `squad-console vault migrate`);
`wiring.open_migration(settings, env, store)` assembles one from the settings:

    m = Migration(workspaces_from_settings(settings), store, vault, deployment=...)
    m.plan()                      # everything it would do; changes nothing (the dry run)
    for step in m.steps():        # id, title, what it will do in words, destructive, confirm phrase
        m.run_step(step.id, confirm=step.confirm)   # destructive steps need the phrase typed
    m.state(); m.report()

Steps: scan → key → convex → encrypt → verify → workflows → remove → openclaw. (DESIGN lists
"remove plaintext" before "update workflows"; here the workflows are switched to the vault first,
so an agent's script never runs in a window where its key file is gone but the script still reads
it. Both happen only after verification.)

OpenClaw's own plaintext (openclaw_secrets.py): the scan also runs `openclaw secrets audit --json`
when the CLI is there; a plaintext value in openclaw.json at a path `secrets apply` takes is a
finding with action `openclaw` (entry `openclaw/<dot path>`), stored and verified like the others
(its value read from openclaw.json), and the `openclaw` step writes a plan of SecretRefs to the
vault's exec provider, runs `secrets apply --allow-exec --dry-run` (OpenClaw resolves each ref
through the vault before anything is written), then the apply (the plaintext leaves openclaw.json
only then), `secrets audit --check --allow-exec` (each path must be clean: `resolved`), cleans
OpenClaw's copies of the config (openclaw.json.bak*, .last-good, .clobbered.*) of the value, and
`secrets reload`. A value whose copies could not all be cleaned stays to do (`scrubbed` False)
and is listed as left until a rerun cleans them. `choose()` leaves a value as it is. A crash after OpenClaw wrote the refs is found on the rerun (the journal says
`applying`; the config holds the ref).

The scan is the one workspace scanner (scan.py), the workflow edits live in workflows.py, and
"the value" of a key file compared with an inline key follows secrets.secret_value.

Invariant at every instant, whatever crashes when: every credential is recoverable from its file
or from a vault entry verified byte for byte against it.

The workspaces may have been shaped by an agent, so the migration touches only what it verified,
inside the workspace: every file is reached from its workspace folder without following a link
(files.open_parent / read_in), only a regular file with one name is read for the vault, edited
or removed, and a removal checks again, through the very descriptor it then overwrites, that the
file still holds the verified bytes: an unreadable, changed, linked or hard-linked file is never
removed (it is listed as left, with why). The run is complete only when a fresh scan finds no
plaintext credential left. Each step records its progress in a JSON
journal beside the vault file (atomic writes), so a rerun continues where a crash stopped. Every
step writes an activity with paths, counts and fingerprints: never a value. No Textual import.

Fingerprints (one scheme, docs/VAULT.md): once there is a vault key, every fingerprint the
migration records, shows, logs or puts in a redaction marker is the vault's own
(crypto.value_fingerprint), the one `vault list` and the vault screen show for the same value; the
journal then says only which key (`"fp": {"kid": …}`), never anything derived from it. Before there
is a key, the findings are matched with a random salt kept in the journal (`"fp": {"salt": …}`)
and no fingerprint is shown (markers read `<redacted>`); as soon as a key is given, the journal
is re-fingerprinted with it (each value recovered from its file or from the vault). A journal of
version 1 (a salt of its own) is read the same way.
"""

from __future__ import annotations

import errno
import hmac
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from console.errors import ConsoleError
from console.service.store import StoreError
from console.service.vault.crypto import fingerprint, fingerprint_key, value_fingerprint
from console.service.vault.deployment import Deployment
from console.service.vault.errors import MigrationError, VaultError  # MigrationError: callers import it from here too
from console.service.vault.keys import KEY_HINT
from console.service.vault.openclaw_secrets import (
    OpenClawSecrets,
    entry_name,
    exec_ref,
    is_ref,
    plaintext_at,
    plan_for,
    read_config,
    target_type,
)
from console.service.vault.files import (
    O_READ,
    atomic_write,
    check_private_file,
    ensure_private_folder,
    file_lock,
    link_problem,
    open_parent,
    os_problem,
    read_fd,
    replace_in,
)
from console.service.vault.scan import BACKUP_SUFFIX, CONVEX_KEY_RE, MAX_SCAN_BYTES, owner_name, read_file, scan
from console.service.vault.secrets import secret_value
from console.service.vault.vault import Vault
from console.service.vault.workflows import (
    Fingerprinter,
    Mention,
    Rewrite,
    WorkflowEdit,
    diff,
    find_edits,
    redact,
    workspace_of,
)

JOURNAL_FORMAT = "squad-console-migration"
JOURNAL_VERSION = 2  # 2: "fp" ({"kid"} or {"salt"}); 1 (a "salt" of its own) is read and upgraded

STEP_ORDER = ("scan", "key", "convex", "encrypt", "verify", "workflows", "remove", "openclaw")
CONFIRM = {"convex": "set the key", "workflows": "update workflows", "openclaw": "point openclaw at the vault",
           "remove": "remove plaintext"}
TITLES = {
    "scan": "Scan the workspaces",
    "key": "The vault key",
    "convex": "The Convex deployment",
    "encrypt": "Encrypt and store",
    "verify": "Verify",
    "workflows": "Update the workflows",
    "openclaw": "Point OpenClaw at the vault",
    "remove": "Remove the plaintext",
}
HONEST_WARNING = (
    "Removing a file does not reliably erase it: journaling, copy-on-write (btrfs, ZFS) and "
    "log-structured file systems, snapshots, backups and SSD wear-levelling keep old blocks. "
    "Treat every migrated credential as exposed and rotate it: create a new Convex deploy key "
    "(dashboard → Settings → Deploy keys), `squad-console vault put convex-deploy-key` the new "
    "one, then revoke the old key; log in again for a new auth token. Check git history, shell "
    "history and backups for copies too."
)


def _now_ms() -> float:
    return time.time() * 1000.0


def journal_path_for(vault_file: Path) -> Path:
    """The migration's journal: `migration.json` beside the vault file."""
    return vault_file.with_name("migration.json")


# ------------------------------------------------------------------------ records
@dataclass(frozen=True, slots=True)
class Finding:
    """A credential (or a leftover) found in a workspace: never its value."""

    id: str
    agent: str
    path: str
    kind: str  # convex-deploy-key | convex-auth-token | env-file | backup-copy | inline-key
    action: str  # migrate (file into the vault, then removed) | inline (value stored, literal replaced) | report
    entry: str | None
    size: int
    mode: str
    owner: str
    fingerprint: str
    line: int | None = None
    reason: str = ""
    # progress (from the journal)
    stored_version: int | None = None
    verified: bool = False
    removed: bool = False
    rewritten: bool = False
    problem: str = ""
    manual: bool = False  # a credential the migration leaves to a person (a link, hard-linked, unreadable, too large)
    json_path: str = ""  # an OpenClaw finding: where in openclaw.json (`path` is the file)
    code: str = ""  # an OpenClaw finding: the audit's code (PLAINTEXT_FOUND, REF_UNRESOLVED, ...)
    chosen: bool = True  # an OpenClaw finding: the operator wants it moved (Migration.choose)
    applied: bool = False  # an OpenClaw finding: openclaw.json holds the SecretRef now
    resolved: bool = False  # an OpenClaw finding: `secrets audit --check --allow-exec` is clean for its path

    @property
    def loose(self) -> bool:
        return bool(int(self.mode, 8) & 0o077)


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    title: str
    description: str  # what it will do, in words
    destructive: bool
    confirm: str | None  # the phrase to type (destructive steps and setting the deployment's key)
    status: str  # pending | done | skipped | failed
    summary: str = ""


@dataclass(frozen=True, slots=True)
class StepResult:
    id: str
    status: str  # done | skipped | failed | needs-confirmation
    summary: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    findings: tuple[Finding, ...]
    edits: tuple[WorkflowEdit, ...]
    mentions: tuple[Mention, ...]
    steps: tuple[Step, ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Report:
    migrated: tuple[str, ...]  # entry names stored
    verified: tuple[str, ...]  # paths verified byte for byte
    removed: tuple[str, ...]  # paths removed
    rewritten: tuple[str, ...]  # paths whose inline credential was replaced
    references_updated: tuple[str, ...]  # files edited
    mentions: tuple[Mention, ...]  # references left to update by hand
    left: tuple[str, ...]  # plaintext still there (a fresh scan), with why
    steps: tuple[Step, ...]
    rotate: tuple[str, ...]
    warnings: tuple[str, ...]
    done: bool  # every step done and no plaintext credential left


# ------------------------------------------------------------------------ the migration
class Migration:
    """One migration, resumable from its journal (`<vault folder>/migration.json`)."""

    def __init__(
        self,
        workspaces: Sequence[tuple[str, Path | str]],
        store: Any,
        vault: Vault,
        *,
        deployment: Deployment | None = None,
        clock: Callable[[], float] = _now_ms,
        journal_path: Path | str | None = None,
        actor: str = "operator",
        openclaw: OpenClawSecrets | None = None,
    ) -> None:
        self.workspaces = [(agent, Path(p).expanduser()) for agent, p in workspaces]
        self.store = store
        self.vault = vault
        self.deployment = deployment
        self._clock = clock
        self.actor = actor
        self.openclaw = openclaw  # OpenClaw's own plaintext (openclaw_secrets), when its CLI is there
        self.journal_path = Path(journal_path) if journal_path else journal_path_for(vault.path)
        self.lock_path = self.journal_path.with_name(self.journal_path.name + ".lock")
        self._j = self._load_journal()

    # ------------------------------------------------------------------ journal
    def _fresh_journal(self) -> dict[str, Any]:
        return {
            "format": JOURNAL_FORMAT,
            "version": JOURNAL_VERSION,
            "startedAt": self._clock(),
            "fp": self._initial_fp(),
            "steps": {},
            "findings": [],
            "edits": [],
            "pendingActivities": [],
            "kid": None,
        }

    def _initial_fp(self) -> dict[str, str]:
        """How the journal's fingerprints are made: with the vault's fingerprint key when there is
        a key ({"kid"}: nothing derived from the key is written), else with a random salt kept in
        the journal, never shown, until a key is given (_adopt_key)."""
        if self.vault.has_key:
            return {"kid": self.vault.require_key().kid}
        return {"salt": os.urandom(16).hex()}

    def _load_journal(self) -> dict[str, Any]:
        st = check_private_file(self.journal_path, "the migration journal")
        if st is None:
            return self._fresh_journal()
        try:
            data = json.loads(self.journal_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            raise MigrationError(
                f"the migration journal {self.journal_path} is damaged",
                hint="nothing was changed; every credential is still in its file or in the vault. "
                "Move the journal aside and run the migration again: it starts with a new scan",
            ) from None
        if isinstance(data, dict) and data.get("format") == JOURNAL_FORMAT and data.get("version") == 1 \
                and isinstance(data.get("salt"), str):
            salt = data.pop("salt")  # an older console's journal: its own salt, taken over as it is
            data = {**data, "version": JOURNAL_VERSION, "fp": {"salt": salt}}
        fp = data.get("fp") if isinstance(data, dict) else None
        if (not isinstance(data, dict) or data.get("format") != JOURNAL_FORMAT or data.get("version") != JOURNAL_VERSION
                or not isinstance(fp, dict) or not (isinstance(fp.get("kid"), str) or isinstance(fp.get("salt"), str))):
            raise MigrationError(f"{self.journal_path} is not a migration journal this console reads",
                                 hint="move it aside and run the migration again")
        return data

    # ------------------------------------------------------------- fingerprints
    def _match_key(self, journal: dict[str, Any]) -> bytes:
        """The HMAC key the journal's fingerprints are made with (the vault's fingerprint key, or
        the salt of a journal begun without a key)."""
        fp = journal["fp"]
        if "salt" in fp:
            return bytes.fromhex(fp["salt"])
        if not self.vault.has_key:
            try:
                self.vault.require_key()
            except VaultError:
                raise MigrationError(
                    f"the migration journal {self.journal_path} fingerprints the credentials with the vault "
                    f"key {fp['kid']}, and there is no vault key here",
                    hint=KEY_HINT + "; nothing was changed") from None
        key = self.vault.require_key()
        if key.kid != fp["kid"]:
            raise MigrationError(
                f"the migration journal {self.journal_path} was written with the vault key {fp['kid']}, "
                f"the key given is {key.kid}",
                hint="give the key this vault was written with (CONVEX_VAULT_KEY or the keyring); nothing was changed")
        return fingerprint_key(key)

    def _shown_fp(self, journal: dict[str, Any] | None = None) -> Fingerprinter:
        """The fingerprint shown (in markers, findings, activities): the vault's, or None before a key."""
        journal = self._j if journal is None else journal
        if "kid" not in journal["fp"]:
            return None
        self._match_key(journal)  # the key this journal was written with, or a clear error
        key = self.vault.require_key()
        return lambda data: value_fingerprint(key, data)

    def _adopt_key(self, journal: dict[str, Any]) -> None:
        """A journal begun without a key (or by an older console, with a salt of its own) takes the
        vault's fingerprints as soon as there is a key: each finding's value is recovered (from its
        file, or from the vault once stored) by its old fingerprint, then fingerprinted again. A
        value that is nowhere any more keeps no fingerprint (nothing can match it anyway)."""
        if "salt" not in journal["fp"] or not self.vault.has_key:
            return
        key = self.vault.require_key()
        try:
            if self.vault.kid() not in (None, key.kid):
                return  # not this vault's key: the key step says so; the journal keeps its salt
        except VaultError:
            return  # the vault file cannot be read now: adopt once it can
        old, new = bytes.fromhex(journal["fp"]["salt"]), fingerprint_key(key)
        for f in journal["findings"]:
            if not f.get("fingerprint"):
                continue
            value = self._recover(f, old)
            f["fingerprint"] = fingerprint(value, new) if value is not None else ""
            if "strippedFp" in f:
                f["strippedFp"] = fingerprint(self._as_secret(value), new) if value is not None else ""
        journal["fp"] = {"kid": key.kid}

    def _recover(self, f: dict[str, Any], salt: bytes) -> bytes | None:
        """The value whose fingerprint under `salt` is the finding's: from disk, else from the vault."""
        candidates: list[bytes] = []
        data, _why = self._read(f)
        if f["kind"] == "openclaw":  # the value sits at its dot path inside openclaw.json
            try:
                value = plaintext_at(read_config(Path(f["path"])), f["jsonPath"]) if data is not None else None
            except VaultError:
                value = None
            data = value.encode("utf-8") if value is not None else None
        if data is not None:
            if f["action"] == "inline":
                candidates += [m.group(0).encode() for m in CONVEX_KEY_RE.finditer(data.decode("utf-8", "replace"))]
            else:
                candidates.append(data)
        if f.get("entry") and f.get("storedVersion"):
            try:
                stored = self.vault.get(f["entry"], f["storedVersion"], include_deleted=True)
                candidates += [stored, self._as_secret(stored)]
            except VaultError:
                pass
        return next((c for c in candidates if hmac.compare_digest(fingerprint(c, salt), f["fingerprint"])), None)

    def _current(self) -> None:
        """The in-memory journal on the vault's fingerprints when a key has come meanwhile (the
        wizard makes one at step 2); written with the next step."""
        self._adopt_key(self._j)

    def _save(self) -> None:
        ensure_private_folder(self.journal_path.parent)
        data = json.dumps(self._j, sort_keys=True, separators=(",", ":")).encode("utf-8") + b"\n"
        atomic_write(self.journal_path, data)

    @property
    def _salt(self) -> bytes:
        return self._match_key(self._j)

    def _fp(self, data: bytes) -> str:
        return fingerprint(data, self._salt)

    def _findings(self) -> list[dict[str, Any]]:
        return self._j["findings"]

    def _step_status(self, step_id: str) -> str:
        return (self._j["steps"].get(step_id) or {}).get("status", "pending")

    def _finish(self, step_id: str, status: str, summary: str, details: Sequence[str] = (),
                activity: dict[str, Any] | None = None) -> StepResult:
        summary = self._shown(summary)
        self._j["steps"][step_id] = {"status": status, "at": self._clock(), "summary": summary}
        self._activity(step_id, status, summary, activity or {})  # saves the journal
        return StepResult(step_id, status, summary, tuple(self._shown(d) for d in details))

    # --------------------------------------------------------------- activities
    def _activity(self, step_id: str, status: str, summary: str, detail: dict[str, Any]) -> None:
        item = {"type": "vault_migration", "message": f"vault migration: {TITLES[step_id].lower()}: {summary}",
                "detail": {"step": step_id, "status": status, **detail}}
        pending = self._j.setdefault("pendingActivities", [])
        pending.append(self._clean(item))
        if all(self._step_status(s) in ("done", "skipped") for s in STEP_ORDER) and not self._j.get("migratedLogged"):
            pending.append(self._clean({
                "type": "vault_migrated", "message": "vault migration finished: " + self._summary_line(),
                "detail": {"findings": [self._public(f) for f in self._findings() if f["action"] != "report"]}}))
            self._j["migratedLogged"] = True
        self._flush_activities(save=False)
        self._save()  # the step's result and what is still unsent, in one write

    def _flush_activities(self, *, save: bool = True) -> None:
        """Sends the waiting activities (at least once: a crash between sending and the journal
        write sends one again on the next run)."""
        pending = self._j.get("pendingActivities") or []
        if not pending or self.store is None:
            return
        sent = 0
        for item in pending:
            try:
                self.store.log_activity(item["type"], item["message"], actor=self.actor, detail=item["detail"])
            except StoreError:
                break  # kept in the journal; sent with the next step
            sent += 1
        if sent:
            self._j["pendingActivities"] = pending[sent:]
            if save:
                self._save()

    def _public(self, f: dict[str, Any]) -> dict[str, Any]:
        """What an activity may say about a finding: where, what, fingerprint (the vault's; none
        before a key), progress."""
        shown = ("fingerprint",) if self._shown_fp() is not None else ()
        return {k: f.get(k) for k in ("id", "agent", "path", "jsonPath", "code", "kind", "action", "entry", *shown,
                                      "storedVersion", "verified", "removed", "rewritten", "applied", "resolved")
                if f.get(k) is not None}

    def _summary_line(self) -> str:
        active = [f for f in self._findings() if f["action"] != "report"]
        left = len(self._left())
        return (f"{len({f['entry'] for f in active if f.get('storedVersion')})} stored, "
                f"{sum(1 for f in active if f.get('verified'))} verified, {sum(1 for f in active if f.get('removed'))} removed, "
                f"{sum(1 for e in self._j.get('edits', []) if e.get('applied'))} files updated"
                + (f"; {left} plaintext credential(s) left: see `squad-console vault migrate`" if left else
                   "; no plaintext credential left"))

    def _shown(self, text: str) -> str:
        """Text for a message, an activity or the journal's summaries: any Convex deploy key in it
        (a file may be named like one) replaced by a marker with its fingerprint."""
        return redact(text, [], self._shown_fp())

    def _clean(self, value: Any) -> Any:
        """`_shown` through every string of an activity or a result."""
        if isinstance(value, str):
            return self._shown(value)
        if isinstance(value, dict):
            return {k: self._clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._clean(v) for v in value]
        return value

    # --------------------------------------------------------------------- scan
    def _scan(self, salt: bytes) -> list[dict[str, Any]]:
        """Fresh findings from disk (no entry names yet): the one workspace scanner (scan.py),
        leaving out the vault's and the journal's own files."""
        return scan(self.workspaces, salt, skip=(self.vault.path, self.journal_path))

    def _root_of(self, path: str) -> Path:
        return workspace_of(self.workspaces, path)

    def _read(self, f: dict[str, Any]) -> tuple[bytes | None, str]:
        """(the file's bytes, "") when it is a regular file with one name inside its workspace,
        read without following a link; else (None, why): "gone", a link, hard-linked, unreadable,
        larger than the vault's limit."""
        data, st, why = read_file(self._root_of(f["path"]), Path(f["path"]))
        if data is None or st is None:
            return None, why
        unsafe = link_problem(st)
        return (None, unsafe) if unsafe else (data, "")

    def _value_problem(self, f: dict[str, Any]) -> tuple[bytes | None, str]:
        """The credential's bytes as they are on disk now, or (None, why) (see _read; an inline
        key no longer in its file: "the key is no longer in the file")."""
        if f["action"] == "openclaw":
            try:
                value = plaintext_at(read_config(Path(f["path"])), f["jsonPath"])
            except VaultError as exc:
                return None, exc.message
            return (value.encode("utf-8"), "") if value is not None else (None, "gone")
        data, why = self._read(f)
        if data is None:
            return None, why
        if f["action"] == "inline":
            text = data.decode("utf-8", "replace")
            for m in CONVEX_KEY_RE.finditer(text):
                if hmac.compare_digest(fingerprint(m.group(0).encode(), self._salt), f["fingerprint"]):
                    return m.group(0).encode(), ""
            return None, "gone"
        return data, ""

    def _value_of(self, f: dict[str, Any]) -> bytes | None:
        """The credential's bytes as they are on disk now (None when gone or not usable)."""
        return self._value_problem(f)[0]

    def _merge(self, fresh: list[dict[str, Any]], journal: dict[str, Any]) -> list[dict[str, Any]]:
        """Adds newly found items to the journal's findings (kept ones keep their progress) and
        names their vault entries: the same bytes share one entry (an inline key shares the entry
        of a file holding just that key); different values under one name are told apart by agent."""
        findings = journal["findings"]
        known = {(f["path"], f["fingerprint"] if f["action"] == "inline" else None): f for f in findings}
        exact: dict[str, str] = {}  # fingerprint of a file's bytes (or an inline value) -> entry
        stripped: dict[str, str] = {}  # fingerprint of a file's stripped bytes -> entry
        used: set[str] = set()
        for f in findings:
            if f.get("entry"):
                used.add(f["entry"])
                if f.get("fingerprint"):
                    exact.setdefault(f["fingerprint"], f["entry"])
                if f.get("strippedFp"):
                    stripped.setdefault(f["strippedFp"], f["entry"])
        added: list[dict[str, Any]] = []
        numbers = [int(f["id"][1:]) for f in findings if str(f.get("id", "")).startswith("f") and f["id"][1:].isdigit()]
        next_id = max(numbers, default=0) + 1
        # whole files first, so inline keys can share their entries
        for item in sorted(fresh, key=lambda i: i["action"] == "inline"):
            k = (item["path"], item["fingerprint"] if item["action"] == "inline" else None)
            old = known.get(k)
            if old is not None and (old.get("removed") or old.get("rewritten")) and item["action"] == old["action"]:
                findings.remove(old)  # moved before, and back on disk (re-created): a new version of its entry
                item["id"] = old["id"]
                item.pop("base", None)
                item["entry"] = old["entry"]
                if item["action"] == "migrate":
                    item["strippedFp"] = fingerprint(self._as_secret(self._read(item)[0] or b""), self._match_key(journal))
                added.append(item)
                continue
            if old is not None and old["action"] == "report" and (
                    item["action"] != "report" or item.get("reason") != old.get("reason")):
                findings.remove(old)  # left alone before (e.g. unreadable), now found anew
                item["id"] = old["id"]
            elif old is not None:
                if not old.get("storedVersion") and not old.get("removed"):
                    for field_ in ("size", "mode", "owner", "fingerprint"):
                        old[field_] = item[field_]
                continue
            else:
                item["id"] = f"f{next_id}"
                next_id += 1
            base = item.pop("base", None)
            if item["action"] in ("migrate", "inline"):
                if item["action"] == "migrate":
                    item["strippedFp"] = fingerprint(self._as_secret(self._read(item)[0] or b""),
                                                      self._match_key(journal))
                    same = exact.get(item["fingerprint"])
                else:
                    same = exact.get(item["fingerprint"]) or stripped.get(item["fingerprint"])
                if same is None:
                    name = base or "credential"
                    if name in used or self._vault_has_other(name, item):
                        name = f"{item['agent']}/{name}"
                    candidate, n = name, 2
                    while candidate in used or self._vault_has_other(candidate, item):
                        candidate, n = f"{name}-{n}", n + 1
                    same = candidate
                    used.add(same)
                item["entry"] = same
                exact.setdefault(item["fingerprint"], same)
                if item.get("strippedFp"):
                    stripped.setdefault(item["strippedFp"], same)
            added.append(item)
        findings.extend(added)
        return added

    def _vault_has_other(self, name: str, item: dict[str, Any]) -> bool:
        """True when the vault already holds `name` with another value (or we cannot tell)."""
        try:
            entries = {e.name for e in self.vault.entries()}
        except VaultError:
            return True
        if name not in entries:
            return False
        if not self.vault.has_key:
            return True
        try:
            current = self.vault.current(name)
        except VaultError:
            return True
        value = self._value_of({**item, "fingerprint": item["fingerprint"]})
        return current is None or value is None or current[1] != value

    # -------------------------------------------------------------- workflows
    def _edits(self, findings: list[dict[str, Any]], *, for_plan: bool) -> tuple[list[Rewrite], list[Mention]]:
        """The files to rewrite (workflows.Rewrite) and the mentions left for a person, each with
        the change to make. Only for credentials that are (or, in a plan, will be) verified."""
        targets = [f for f in findings if f["action"] == "migrate" and f.get("entry")
                   and (for_plan or f.get("verified") or f.get("removed"))]
        inline = [f for f in findings if f["action"] == "inline" and f.get("entry")
                  and (for_plan or f.get("verified")) and not f.get("rewritten")]
        cred_paths = {f["path"] for f in findings if f["action"] == "migrate"}
        return find_edits(self.workspaces, targets, inline, cred_paths, self._value_of, self._shown_fp())

    @staticmethod
    def _as_secret(data: bytes) -> bytes:
        """A key file's bytes as the secret they hold (secrets.secret_value; a value with a NUL
        is compared as it is)."""
        try:
            return secret_value(data)
        except VaultError:
            return data

    # -------------------------------------------------------------- OpenClaw's own plaintext
    def _scan_openclaw(self, journal: dict[str, Any]) -> list[dict[str, Any]]:
        """OpenClaw's findings (`openclaw secrets audit --json`) as migration findings: a
        plaintext value in openclaw.json at a path `secrets apply` takes is moved (action
        `openclaw`); every other finding is reported (plaintext elsewhere: `manual`). Never a value:
        the fingerprint is of the value, keyed with the journal's salt."""
        journal.pop("openclawProblem", None)
        if self.openclaw is None:
            return []
        oc = self.openclaw
        try:
            report = oc.audit()
        except VaultError as exc:
            journal["openclawProblem"] = exc.message
            return []
        try:
            config = oc.config()
            st = os.stat(oc.config_path)
            where = dict(size=st.st_size, mode=f"{st.st_mode & 0o7777:04o}", owner=owner_name(st.st_uid))
        except (VaultError, OSError):
            config, where = {}, dict(size=0, mode="0000", owner="?")
        out = []
        for a in report.findings:
            item = dict(agent="openclaw", path=a.file or str(oc.config_path), jsonPath=a.path, code=a.code,
                        kind="openclaw", **where)
            value = plaintext_at(config, a.path) if Path(a.file or "") == oc.config_path else None
            if a.code == "PLAINTEXT_FOUND" and value is not None and target_type(a.path) is not None:
                item.update(action="openclaw", fingerprint=fingerprint(value.encode("utf-8"), self._match_key(journal)),
                            reason="plaintext in openclaw.json: moved into the vault, the config then points at it")
            else:
                manual = a.code in ("PLAINTEXT_FOUND", "STORE_PLAINTEXT_RESIDUE", "LEGACY_RESIDUE")
                fix = ("`openclaw secrets configure` (or by hand), then `openclaw secrets audit --check`" if manual
                       else "`squad-console vault provider-config`, `openclaw secrets audit --allow-exec`"
                       if a.code == "REF_UNRESOLVED" else "`openclaw secrets audit`")
                item.update(action="report", fingerprint="", manual=manual,
                            reason=f"{a.code}: {a.message or a.code}; fix: {fix}")
            out.append(item)
        return out

    def _merge_openclaw(self, fresh: list[dict[str, Any]], journal: dict[str, Any]) -> list[dict[str, Any]]:
        """Adds OpenClaw's findings to the journal, keyed by (file, dot path, code); a kept one
        keeps its progress; a reported one is replaced by what the audit says now."""
        findings = journal["findings"]
        known = {(f["path"], f.get("jsonPath"), f.get("code")): f for f in findings if f["kind"] == "openclaw"}
        fresh_keys = {(i["path"], i["jsonPath"], i["code"]) for i in fresh}
        for k, f in list(known.items()):  # a report OpenClaw no longer makes: gone
            if f["action"] == "report" and k not in fresh_keys:
                findings.remove(f)
        numbers = [int(f["id"][1:]) for f in findings if str(f.get("id", "")).startswith("f") and f["id"][1:].isdigit()]
        next_id = max(numbers, default=0) + 1
        added = []
        for item in fresh:
            old = known.get((item["path"], item["jsonPath"], item["code"]))
            if old is not None and old["action"] == item["action"] == "openclaw":
                if old.get("applied"):  # back in plaintext after it was moved: a new round for it
                    for k in ("applied", "resolved", "verified", "applying", "problem"):
                        old.pop(k, None)
                if not old.get("storedVersion"):
                    old["fingerprint"] = item["fingerprint"]
                continue
            if old is not None and old["action"] == "report" and old.get("reason") == item.get("reason"):
                continue
            if old is not None and old in findings:
                findings.remove(old)
            item["id"] = old["id"] if old is not None else f"f{next_id}"
            next_id += 0 if old is not None else 1
            if item["action"] == "openclaw":
                item["entry"] = entry_name(item["jsonPath"])
                if item["jsonPath"] in journal.get("openclawLeave", []):
                    item["skip"] = True
            added.append(item)
        findings.extend(added)
        return added

    def choose(self, which: str, take: bool) -> None:
        """Whether OpenClaw's plaintext value `which` (a finding id, or its dot path in
        openclaw.json) is moved into the vault (the default) or left as it is (then it is listed as
        plaintext left). Saved in the journal; a dot path may be chosen before the scan."""
        ensure_private_folder(self.journal_path.parent)
        with file_lock(self.lock_path, 5.0):
            self._j = self._load_journal()
            f = next((f for f in self._findings() if f["action"] == "openclaw" and which in (f.get("id"), f["jsonPath"])),
                     None)
            path = f["jsonPath"] if f is not None else which
            if f is None and target_type(which) is None:
                raise MigrationError(f"there is no OpenClaw value {which!r} to choose",
                                     hint="the scan step lists them (a dot path such as models.providers.openai.apiKey)")
            leave = [p for p in self._j.get("openclawLeave", []) if p != path] + ([] if take else [path])
            self._j["openclawLeave"] = leave
            if f is not None:
                if take:
                    f.pop("skip", None)
                else:
                    f["skip"] = True
            self._save()

    def _openclaw_todo(self, findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """OpenClaw's findings to move, and those moved whose backups of openclaw.json still hold
        the value (`scrubbed` False: the step cleans them again on the rerun)."""
        return [f for f in findings if f["action"] == "openclaw" and not f.get("skip")
                and (not f.get("resolved") or f.get("scrubbed") is False)]

    def _step_openclaw(self, confirm: str | None) -> StepResult:
        todo = self._openclaw_todo(self._findings())
        if self.openclaw is None or not todo:
            why = ("OpenClaw's CLI is not there: nothing of OpenClaw's to move" if self.openclaw is None
                   else "nothing of OpenClaw's to move")
            return self._finish("openclaw", "skipped", why, activity={"reason": why})
        if confirm != CONFIRM["openclaw"]:
            return StepResult("openclaw", "needs-confirmation",
                              f"type \"{CONFIRM['openclaw']}\" to change OpenClaw's config")
        oc = self.openclaw
        details: list[str] = []
        values: list[str] = []
        targets: list[dict[str, Any]] = []
        try:
            config = oc.config()
        except VaultError as exc:
            return self._finish("openclaw", "failed", exc.message, activity={"reason": exc.message[:200]})
        for f in todo:
            here = plaintext_at(config, f["jsonPath"])
            if f.get("applied") or f.get("applying"):
                if is_ref(self._at(config, f["jsonPath"]), oc.alias, f["entry"]):
                    f["applied"], f["applying"] = True, False
                    continue
            if here is None:
                f["problem"] = "no plaintext at this path any more and no SecretRef to the vault: nothing to move"
                details.append(f"{f['jsonPath']}: {f['problem']}")
                continue
            if not f.get("verified"):
                details.append(f"{f['jsonPath']}: kept in plaintext (not verified in the vault: run encrypt and verify)")
                continue
            ok, why = self._verify_one(f)  # right before: the entry decrypts to the very value in the file
            if not ok:
                f["verified"], f["problem"] = False, why
                details.append(f"{f['jsonPath']}: kept in plaintext ({why})")
                continue
            values.append(here)
            targets.append(f)
        failed = False
        if targets:
            try:
                plan = plan_for([(f["jsonPath"], f["entry"]) for f in targets], oc.alias, oc.provider_config())
                oc.apply(plan, dry_run=True, secrets=values)  # OpenClaw resolves every ref through the vault first
                for f in targets:
                    f["applying"], f["scrubbed"] = True, False  # OpenClaw's .bak will hold the value
                self._save()  # from here a rerun finds the refs written (or writes them again)
                oc.apply(plan, dry_run=False, secrets=values)
            except ConsoleError as exc:  # a refused plan (VaultError) or a provider OpenClaw would refuse
                failed = True
                for f in targets:
                    f["problem"] = exc.message
                details.append(f"kept in plaintext: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""))
            try:
                config = oc.config()
            except VaultError as exc:
                config = {}
                details.append(exc.message)
            for f in targets:
                if is_ref(self._at(config, f["jsonPath"]), oc.alias, f["entry"]):
                    f["applied"], f["applying"], f["problem"] = True, False, ""
                    details.append(f"{f['jsonPath']}: now a SecretRef to the vault entry {f['entry']} "
                                   f"(exec provider {oc.alias})")
                else:
                    f["applying"] = False
        applied = [f for f in todo if f.get("applied")]
        if applied:
            try:
                audit = oc.audit(check=True, allow_exec=True, secrets=values)
            except VaultError as exc:
                audit = None
                details.append(f"`openclaw secrets audit --check --allow-exec` gave no answer: {exc.message}")
            for f in applied:
                bad = audit.at(f["jsonPath"], "PLAINTEXT_FOUND", "REF_UNRESOLVED") if audit else [None]
                f["resolved"] = not bad and bool(audit and audit.complete)
                if f["resolved"]:
                    f["problem"] = ""
                    details.append(f"{f['jsonPath']}: OpenClaw resolves it from the vault (audit --check clean here)")
                else:
                    f["problem"] = (bad[0].message if bad and bad[0] else "the audit did not check it") + (
                        "; fix: `squad-console vault provider-config`, then `openclaw secrets audit --check --allow-exec`")
                    details.append(f"{f['jsonPath']}: {f['problem']}")
            for f in applied:  # OpenClaw's copies of the config (.bak, .last-good, .clobbered.*) still hold the value
                try:
                    value = self.vault.get(f["entry"], f["storedVersion"]).decode("utf-8")
                except (VaultError, UnicodeDecodeError):
                    left = ["the value could not be read from the vault to clean OpenClaw's backups of the config"]
                else:
                    scrubbed, left = oc.scrub_backups(f["jsonPath"], value, exec_ref(f["entry"], oc.alias))
                    details += [f"{p}: OpenClaw's backup of the config no longer holds it" for p in scrubbed]
                details += [f"{f['jsonPath']}: {x}" for x in left]
                f["scrubbed"], f["backupsLeft"] = not left, left
                if left:
                    f["problem"] = "; ".join(left)
            ok, why = oc.reload()
            details.append(f"`openclaw secrets reload`: {why}" if why else
                           "`openclaw secrets reload`: the gateway re-resolved its secrets")
        done = [f for f in todo if f.get("resolved")]
        status = "done" if len(done) == len(todo) and not failed and not any(f.get("problem") for f in todo) else "failed"
        summary = f"{len(done)} OpenClaw value(s) now read from the vault" + (
            f", {len(todo) - len(done)} not" if len(done) != len(todo) else "")
        return self._finish("openclaw", status, summary, details,
                            activity={"openclaw": [self._public(f) for f in todo]})

    @staticmethod
    def _at(config: Any, path: str) -> Any:
        node = config
        for seg in path.split("."):
            if not isinstance(node, dict) or seg not in node:
                return None
            node = node[seg]
        return node

    # ------------------------------------------------------------------ public API
    def plan(self) -> Plan:
        """The whole migration as it would run now: changes nothing (no journal, no vault, no
        activity). This is the dry run."""
        self._current()
        journal = json.loads(json.dumps(self._j))
        self._merge(self._scan(self._salt), journal)
        self._merge_openclaw(self._scan_openclaw(journal), journal)
        findings = journal["findings"]
        edits_raw, mentions = self._edits(findings, for_plan=True)
        secrets = [v for f in findings if f["action"] != "report" for v in [self._value_of(f)] if v]
        edits = tuple(
            WorkflowEdit(self._shown(str(r.path)), diff(r.path, r.old, r.new, secrets, self._shown_fp()), r.count,
                         self._shown(str(r.path) + BACKUP_SUFFIX))
            for r in edits_raw
        )
        warnings = []
        manual = [f for f in findings if f.get("manual")]
        if manual:
            warnings.append(f"{len(manual)} credential(s) cannot be moved safely and stay in plaintext until a person "
                            "moves them (each says why): " + ", ".join(self._shown(f["path"]) for f in manual[:5]))
        loose = [f for f in findings if f["action"] != "report" and int(f["mode"], 8) & 0o077]
        if loose:
            warnings.append(f"{len(loose)} file(s) can be read by other users: "
                            + ", ".join(self._shown(f["path"]) for f in loose[:5]))
        if any(f["action"] == "report" and f["kind"] != "backup-copy" for f in findings):
            warnings.append("some findings are only reported: see their reason")
        warnings.append(HONEST_WARNING)
        return Plan(tuple(self._finding(f) for f in findings), edits, tuple(self._mention(m) for m in mentions),
                    tuple(self._steps(journal, edits, findings)), tuple(warnings))

    def steps(self) -> list[Step]:
        self._current()
        edits, _ = self._edits(self._findings(), for_plan=True)
        return self._steps(self._j, edits, self._findings())

    def next_step(self) -> Step | None:
        """The first step not done yet; when every step is done but a fresh scan finds
        credentials a new round would move (a new or re-created file, one that was unreadable or
        linked and is movable now), the scan again (running it reopens the later steps)."""
        steps = self.steps()
        step = next((s for s in steps if s.status not in ("done", "skipped")), None)
        if step is None and self._rerun_helps():
            return replace(steps[0], status="pending",
                           summary="credentials to move found since the last round: the migration runs again")
        return step

    def _rerun_helps(self) -> bool:
        """True when a fresh scan finds a credential another round would move: a credential
        file on disk (a new one, a re-created one, one no longer left to a person), or an inline
        key not stored, not verified, or in a file the workflows step would now rewrite."""
        by_key = {(f["path"], f["fingerprint"] if f["action"] == "inline" else None): f for f in self._findings()}
        moved = [f for f in self._findings() if f["action"] == "openclaw" and f.get("applied") and not f.get("skip")]
        if moved:  # a value OpenClaw's config took from the vault is back in plaintext (openclaw.json read, no CLI)
            try:
                config = read_config(Path(moved[0]["path"]))
            except VaultError:
                config = {}
            if any(plaintext_at(config, f["jsonPath"]) is not None for f in moved):
                return True
        pending_inline = []
        for item in self._scan(self._salt):
            if item["action"] == "migrate":
                return True
            if item["action"] != "inline":
                continue
            rec = by_key.get((item["path"], item["fingerprint"]))
            if rec is None or rec["action"] != "inline" or not rec.get("verified") or rec.get("rewritten"):
                return True
            pending_inline.append(item["path"])
        if not pending_inline:
            return False
        rewrites, _ = self._edits(self._findings(), for_plan=False)
        return any(str(r.path) in pending_inline for r in rewrites)

    def state(self) -> dict[str, Any]:
        """The journal as it is (no values in it: paths, fingerprints, progress)."""
        self._current()
        return json.loads(json.dumps({k: v for k, v in self._j.items() if k not in ("salt", "fp")}))

    def findings(self) -> list[Finding]:
        self._current()
        return [self._finding(f) for f in self._findings()]

    def run_step(self, step_id: str, confirm: str | None = None) -> StepResult:
        """Runs one step (again, when it was done: every step is idempotent). Destructive steps
        (and setting the deployment's key) need `confirm` equal to the step's phrase."""
        if step_id not in STEP_ORDER:
            raise MigrationError(f"there is no migration step {step_id!r}", hint=f"steps: {', '.join(STEP_ORDER)}")
        index = STEP_ORDER.index(step_id)
        missing = [s for s in STEP_ORDER[:index] if self._step_status(s) not in ("done", "skipped")]
        if missing:
            raise MigrationError(f"step {step_id!r} comes after {', '.join(missing)}, not done yet",
                                 hint=f"run the step {missing[0]!r} first")
        ensure_private_folder(self.journal_path.parent)
        with file_lock(self.lock_path, 5.0):
            self._j = self._load_journal()  # another process may have moved on
            self._adopt_key(self._j)  # saved with the step's result
            self._flush_activities()
            return getattr(self, f"_step_{step_id}")(confirm)

    def run_all(self, confirm: Callable[[Step], str | None]) -> list[StepResult]:
        """Every step not done yet, in order; `confirm(step)` gives the typed phrase (or None to
        stop before a step that needs one)."""
        results = []
        again = False
        while (step := self.next_step()) is not None:
            if step.id == "scan" and self._step_status("scan") == "done":
                if again:
                    break  # one new round per call: what is still left is listed by report()
                again = True
            phrase = confirm(step) if step.confirm else None
            if step.confirm and phrase != step.confirm and step.id != "convex":
                results.append(StepResult(step.id, "needs-confirmation", f"stopped before: {step.title.lower()} (not confirmed)"))
                break
            result = self.run_step(step.id, phrase)
            results.append(result)
            if result.status == "failed":
                break
        return results

    def _left(self) -> list[str]:
        """The plaintext credentials in the workspaces now (a fresh scan), each with why it is
        still there: what the migration has not moved yet, and what it leaves to a person."""
        by_key = {(f["path"], f["fingerprint"] if f["action"] == "inline" else None): f for f in self._findings()}
        left = []
        config: dict[str, Any] | None = None
        for f in self._findings():  # OpenClaw's: openclaw.json read again (no CLI run)
            if f["kind"] != "openclaw" or not (f["action"] == "openclaw" or f.get("manual")):
                continue
            if f["action"] == "report":
                left.append(f"{f['path']} {f['jsonPath']}: {f['reason']}")
                continue
            if config is None:
                try:
                    config = read_config(Path(f["path"]))
                except VaultError:
                    config = {}
            if plaintext_at(config, f["jsonPath"]) is not None:
                why = ("not chosen: left as it is" if f.get("skip") else f.get("problem")
                       or ("verified, OpenClaw not pointed at the vault yet" if f.get("verified") else "not stored yet"))
                left.append(f"{f['path']} {f['jsonPath']}: {why}")
            elif f.get("applied") and not f.get("resolved"):
                left.append(f"{f['path']} {f['jsonPath']}: a SecretRef OpenClaw does not resolve yet: {f.get('problem') or ''}")
            if f.get("resolved") and f.get("scrubbed") is False and not f.get("skip"):
                left += [f"{f['jsonPath']}: OpenClaw's backup of the config still holds the value: {x}"
                         for x in f.get("backupsLeft") or ["not cleaned yet: run the migration again"]]
        for item in self._scan(self._salt):
            if item["action"] == "report" and not item.get("manual"):
                continue
            rec = by_key.get((item["path"], item["fingerprint"] if item["action"] == "inline" else None))
            if item["action"] == "migrate":
                if rec is None or rec["action"] != "migrate":
                    why = "found after the scan: run the migration again"
                elif rec.get("verified"):
                    why = "verified, not removed yet"
                else:
                    why = rec.get("problem") or ("stored, not verified yet" if rec.get("storedVersion") else "not stored yet")
                left.append(f"{item['path']}: {why}")
            elif item["action"] == "inline":
                why = ("found after the scan: run the migration again" if rec is None
                       else "the key is still written in the file: change it as listed below" if rec.get("verified")
                       else rec.get("problem") or "not stored yet")
                left.append(f"{item['path']} line {item.get('line')}: {why}")
            else:
                left.append(f"{item['path']}: {item['reason']}")
        return [self._shown(x) for x in left]

    def report(self) -> Report:
        self._current()
        fs = self._findings()
        active = [f for f in fs if f["action"] != "report"]
        left = self._left()
        _, mentions = self._edits(fs, for_plan=False)
        rotate = []
        kinds = {f["kind"] for f in active}
        if kinds & {"convex-deploy-key", "inline-key"} or any(f["kind"] == "backup-copy" for f in active):
            rotate.append("Convex deploy key: dashboard → Settings → Deploy keys → create a new key, "
                          "`squad-console vault put convex-deploy-key < newkey`, then revoke the old one")
        if "convex-auth-token" in kinds:
            rotate.append("Convex auth token: log in again (`npx convex login`) and store the new token with "
                          "`squad-console vault put convex-auth-token`")
        if "openclaw" in kinds:
            rotate.append("every API key or token moved out of openclaw.json: issue a new one at its provider, "
                          "`squad-console vault put openclaw/<path>` it, then `openclaw secrets reload`")
        if "env-file" in kinds:
            rotate.append("every secret in the migrated .env files: issue new ones where the provider allows it")
        steps = self.steps()
        return Report(
            migrated=tuple(sorted({f["entry"] for f in active if f.get("storedVersion")})),
            verified=tuple(self._shown(f["path"]) for f in active if f.get("verified")),
            removed=tuple(self._shown(f["path"]) for f in active if f.get("removed")),
            rewritten=tuple(self._shown(f["path"]) for f in active if f.get("rewritten")),
            references_updated=tuple(self._shown(e["path"]) for e in self._j.get("edits", []) if e.get("applied")),
            mentions=tuple(self._mention(m) for m in mentions),
            left=tuple(left),
            steps=tuple(steps),
            rotate=tuple(rotate),
            warnings=(HONEST_WARNING,),
            done=all(s.status in ("done", "skipped") for s in steps) and not left,
        )

    # ------------------------------------------------------------------ steps
    def _finding(self, f: dict[str, Any]) -> Finding:
        return Finding(
            id=f.get("id", "?"), agent=f["agent"], path=self._shown(f["path"]), kind=f["kind"], action=f["action"],
            entry=f.get("entry"), size=int(f.get("size") or 0), mode=f.get("mode", "0000"), owner=f.get("owner", "?"),
            fingerprint=f.get("fingerprint", "") if self._shown_fp() is not None else "", line=f.get("line"), reason=self._shown(f.get("reason", "")),
            stored_version=f.get("storedVersion"), verified=bool(f.get("verified")), removed=bool(f.get("removed")),
            rewritten=bool(f.get("rewritten")), problem=self._shown(f.get("problem", "")), manual=bool(f.get("manual")),
            json_path=f.get("jsonPath", ""), code=f.get("code", ""), chosen=not f.get("skip"),
            applied=bool(f.get("applied")), resolved=bool(f.get("resolved")),
        )

    def _mention(self, m: Mention) -> Mention:
        return Mention(self._shown(m.path), m.line, m.text, self._shown(m.target), m.change)

    def _steps(self, journal: dict[str, Any], edits: Sequence[Any], findings: list[dict[str, Any]]) -> list[Step]:
        active = [f for f in findings if f["action"] != "report"]
        migrate = [f for f in active if f["action"] == "migrate"]
        inline = [f for f in active if f["action"] == "inline"]
        entries = sorted({f["entry"] for f in active if f.get("entry")})
        if self.deployment is None:
            convex = ("skip: the store is local, so there is no Convex deployment to configure "
                      "(later: `squad-console --store convex vault convex-key set`)")
        else:
            convex = (f"check that the deployment at {self.deployment.url} holds the same CONVEX_VAULT_KEY "
                      "(compared by key id, the key never comes back); if it does not, set it there "
                      f"when you type \"{CONFIRM['convex']}\", or skip")
        what = {
            "scan": "look through the agents' workspaces (" + ", ".join(str(p) for _, p in self.workspaces)
            + ") for .convex-deploy-key, .convex-auth-token, .env*, backup and editor copies, and Convex deploy "
            "keys inside files; show path, size, mode, owner and a fingerprint, never a value",
            "key": "use the vault key (CONVEX_VAULT_KEY or the OS keyring) and check it opens the vault; "
            "keep a copy of it somewhere safe: losing the key loses every secret",
            "convex": convex,
            "encrypt": f"encrypt {len(migrate)} file(s), {len(inline)} inline key(s)"
            + (f" and {sum(1 for f in active if f['action'] == 'openclaw' and not f.get('skip'))} value(s) from "
               "openclaw.json" if any(f["action"] == "openclaw" for f in active) else "") + " into the vault as "
            + (", ".join(entries) or "nothing") + "; the ciphertext is copied to the store",
            "verify": "read every entry back, decrypt it and compare it byte for byte with the file on disk",
        "openclaw": "",
            "workflows": f"edit {len(edits)} shell script(s) and Markdown file(s) so they take the credentials from "
            "the vault: a command that needs one runs under `squad-console vault exec --env VAR=NAME -- CMD`, a value "
            "that is printed comes from `squad-console vault get NAME`; each keeps its owner and mode and a backup "
            f"beside it (*{BACKUP_SUFFIX}, an inline key in it replaced by a marker). Every other file (JSON, YAML, "
            "Python, TypeScript, ...) is never edited: it is listed with the exact change to make",
            "remove": f"delete {len(migrate)} plaintext file(s), only those verified, and only when each still holds "
            "the verified bytes, is a regular file with one name and is inside its workspace (links, hard-linked, "
            "unreadable or changed files are kept and listed); " + HONEST_WARNING,
        }
        oc_todo = self._openclaw_todo(findings)
        if self.openclaw is None:
            what["openclaw"] = "skip: OpenClaw's CLI is not there, so its own config is not looked at"
        elif not oc_todo:
            what["openclaw"] = "skip: `openclaw secrets audit` found no plaintext in openclaw.json to move"
        else:
            what["openclaw"] = (
                f"point OpenClaw's config ({self.openclaw.config_path}) at the vault for "
                + ", ".join(f["jsonPath"] for f in oc_todo)
                + f": a plan for `openclaw secrets apply` adds the vault's exec provider ({self.openclaw.alias}) and a "
                "SecretRef per value (and changes openclaw.json only: no auth profile, no .env file); OpenClaw resolves each "
                "through the vault in a dry run first (`secrets apply --from PLAN --allow-exec --dry-run`, refused if it "
                "would change another file), then writes the refs (the plaintext leaves "
                "openclaw.json only then), `secrets audit --check --allow-exec` must be clean for each path, OpenClaw's "
                "copies of the config (openclaw.json.bak*, .last-good, .clobbered.*) are cleaned of the value, and `secrets reload` tells a running gateway")
        out = []
        for sid in STEP_ORDER:
            rec = journal["steps"].get(sid) or {}
            confirm = CONFIRM.get(sid) if sid != "openclaw" or oc_todo else None
            out.append(Step(sid, TITLES[sid], what[sid], sid in ("workflows", "openclaw", "remove") and confirm is not None,
                            confirm, rec.get("status", "pending"), rec.get("summary", "")))
        return out

    def _step_scan(self, confirm: str | None) -> StepResult:
        later = STEP_ORDER[1:]
        if all(self._step_status(s) in ("done", "skipped") for s in later) and self._rerun_helps():
            for sid in later:  # a new round: every later step runs again (each is idempotent)
                self._j["steps"].pop(sid, None)
            self._j["migratedLogged"] = False
        added = self._merge(self._scan(self._salt), self._j)
        added += self._merge_openclaw(self._scan_openclaw(self._j), self._j)
        fs = self._findings()
        active = [f for f in fs if f["action"] != "report"]
        shown = self._shown_fp() is not None
        details = [
            f"{f['path']}  {f['kind']}  {f['size']} B  mode {f['mode']}  owner {f['owner']}  "
            + ((f["fingerprint"] or "-") if shown else "no fingerprint before the vault key")
            + (f"  → {f['entry']}" if f.get("entry") else f"  ({f['reason']})")
            for f in fs if f["kind"] != "openclaw"
        ] + [
            f"{f['path']}  {f['jsonPath']}  {f['code']}  "
            + ((f["fingerprint"] or "-") if shown else "no fingerprint before the vault key")
            + (f"  → {f['entry']}" if f.get("entry") else f"  ({f['reason']})")
            for f in fs if f["kind"] == "openclaw"
        ] + ([f"OpenClaw's audit: {self._j['openclawProblem']}"] if self._j.get("openclawProblem") else [])
        summary = f"{len(active)} credential(s) to migrate, {len(fs) - len(active)} reported only" + (
            f" ({len(added)} new)" if added and len(added) != len(fs) else "")
        return self._finish("scan", "done", summary, details,
                            activity={"findings": [self._public(f) for f in fs]})

    def _step_key(self, confirm: str | None) -> StepResult:
        try:
            key = self.vault.require_key()
            self.vault.kid()  # the file opens (permissions, format)
            if self.vault.kid() not in (None, key.kid):
                raise VaultError(f"this vault was written with key {self.vault.kid()}, the key given is {key.kid}",
                                 hint="give the key this vault was written with")
        except VaultError as exc:
            self._j["steps"]["key"] = {"status": "failed", "at": self._clock(), "summary": exc.message}
            self._save()
            return StepResult("key", "failed", exc.describe())
        self._j["kid"] = key.kid
        where = {"env": "from CONVEX_VAULT_KEY", "keyring": "from the keyring", "generated": "generated here"}.get(
            key.source, key.source)
        return self._finish("key", "done", f"key {key.kid} {where}; keep a copy: losing it loses every secret",
                            activity={"kid": key.kid, "source": key.source})

    def _step_convex(self, confirm: str | None) -> StepResult:
        key = self.vault.require_key()
        if self.deployment is None:
            return self._finish("convex", "skipped", "the store is local: no Convex deployment to configure",
                                activity={"reason": "local store"})
        phase = "checked"
        try:
            kid, problem = self.deployment.kid()
            if kid == key.kid:
                return self._finish("convex", "done", f"the deployment holds the same key ({kid})", activity={"kid": kid})
            have = f"holds another key ({kid})" if kid else (problem or "has no CONVEX_VAULT_KEY")
            if confirm != CONFIRM["convex"]:
                return self._finish("convex", "skipped", f"the deployment {have}; not set (not confirmed): "
                                    "`squad-console vault convex-key set` does it later",
                                    activity={"reason": "not confirmed", "deploymentKid": kid})
            phase = "given the key"
            self.deployment.set(key)
            phase = "checked after setting the key"
            kid, problem = self.deployment.kid()
            if kid != key.kid:
                return self._finish("convex", "skipped", f"set, but the deployment reports key {kid} ({problem or 'no key'})",
                                    activity={"reason": "kid mismatch after set", "deploymentKid": kid})
            return self._finish("convex", "done", f"CONVEX_VAULT_KEY set in the deployment and verified ({kid})",
                                activity={"kid": kid, "set": True})
        except (StoreError, VaultError) as exc:
            return self._finish("convex", "skipped", f"the deployment could not be {phase}: {exc.message}",
                                activity={"reason": exc.message[:200]})

    def _step_encrypt(self, confirm: str | None) -> StepResult:
        key = self.vault.require_key()
        details, stored, problems = [], 0, 0
        for f in self._findings():
            if not self._movable(f):
                continue
            value, why = self._value_problem(f)
            if value is None:
                if f.get("storedVersion") and why == "gone":
                    continue
                f["problem"] = ("the file disappeared before it was stored: nothing to migrate" if why == "gone"
                                else f"not stored: {why}")
                details.append(f"{f['path']}: {f['problem']}")
                continue
            try:
                current = self.vault.current(f["entry"])
                same = current is not None and (
                    current[1] == value or (f["action"] == "inline" and self._as_secret(current[1]) == value))
                if same:
                    version = current[0]
                else:
                    result = self.vault.put(f["entry"], value, expected_version=current[0] if current else 0,
                                            source=self._shown(f["path"]))
                    version = result.version
                    stored += 1
            except VaultError as exc:
                f["problem"] = exc.message
                problems += 1
                details.append(f"{f['path']}: {exc.message}")
                continue
            if f.get("storedVersion") != version:
                f["verified"] = False
            f["storedVersion"] = version
            f["problem"] = ""
            f["fingerprint"] = f["fingerprint"] if f["action"] == "inline" else self._fp(value)
            details.append(f"{f['path']} → {f['entry']} v{version}")
        summary = f"{stored} new version(s) stored under key {key.kid}" + (f"; {problems} problem(s)" if problems else "")
        return self._finish("encrypt", "failed" if problems else "done", summary, details,
                            activity={"stored": [self._public(f) for f in self._findings() if f.get("storedVersion")]})

    @staticmethod
    def _movable(f: dict[str, Any]) -> bool:
        """A credential the encrypt and verify steps work on (not moved yet; an OpenClaw one the
        operator chose and OpenClaw's config does not point at the vault yet)."""
        if f["action"] == "openclaw":
            return not f.get("applied") and not f.get("skip")
        return f["action"] in ("migrate", "inline") and not f.get("removed") and not f.get("rewritten")

    def _verify_one(self, f: dict[str, Any]) -> tuple[bool, str]:
        value, why = self._value_problem(f)
        if value is None:
            return False, "the file (or the key in it) is gone" if why == "gone" else why
        try:
            stored = self.vault.get(f["entry"], f["storedVersion"])
        except VaultError as exc:
            return False, exc.message
        return (True, "") if self._matches(f, stored, value) else (
            False, "the file changed since it was stored: run the encrypt step again")

    def _matches(self, f: dict[str, Any], stored: bytes, value: bytes) -> bool:
        if f["action"] == "inline":
            return hmac.compare_digest(stored, value) or hmac.compare_digest(self._as_secret(stored), value)
        return hmac.compare_digest(stored, value)

    def _step_verify(self, confirm: str | None) -> StepResult:
        details, bad = [], 0
        for f in self._findings():
            if not self._movable(f):
                continue
            value, why = self._value_problem(f)
            if not f.get("storedVersion"):
                if value is None:
                    if why != "gone":
                        details.append(f"{f['path']}: {f.get('problem') or why}")
                    continue  # gone before it was stored, or not ours to move: nothing to lose
                bad += 1
                details.append(f"{f['path']}: not stored: run the encrypt step again")
                continue
            if value is None and why != "gone":
                # no longer a file we may move (a link now, hard-linked, unreadable): left, and listed
                f["verified"], f["problem"] = False, why
                details.append(f"{f['path']}: {why}")
                continue
            ok, why = self._verify_one(f)
            f["verified"], f["problem"] = ok, why
            details.append(f"{f['path']}: " + ("verified byte for byte" if ok else why))
            bad += 0 if ok else 1
        summary = f"{sum(1 for f in self._findings() if f.get('verified'))} verified" + (f", {bad} not" if bad else "")
        return self._finish("verify", "failed" if bad else "done", summary, details,
                            activity={"verified": [self._public(f) for f in self._findings() if f.get("verified")]})

    def _backup_name(self, path: Path) -> str:
        """A name beside `path` for its backup that nothing holds yet (lstat: a link counts)."""
        candidate, n = Path(str(path) + BACKUP_SUFFIX), 2
        while os.path.lexists(candidate):
            candidate, n = Path(f"{path}{BACKUP_SUFFIX}-{n}"), n + 1
        return str(candidate)

    def _step_workflows(self, confirm: str | None) -> StepResult:
        if confirm != CONFIRM["workflows"]:
            return StepResult("workflows", "needs-confirmation", f"type \"{CONFIRM['workflows']}\" to edit the files")
        edits, mentions = self._edits(self._findings(), for_plan=False)
        records = {e["path"]: e for e in self._j.setdefault("edits", [])}
        details = []
        new_records = False
        for r in edits:
            rec = records.get(str(r.path))
            if rec is None or (rec.get("applied") and not rec.get("backup")):
                rec = {"path": str(r.path), "backup": self._backup_name(r.path), "applied": False}
                if str(r.path) in records:
                    self._j["edits"].remove(records[str(r.path)])
                self._j["edits"].append(rec)
                records[str(r.path)] = rec
                new_records = True
            elif rec.get("applied"):  # edited before, and again now: a new backup of what it is now
                rec.update(backup=self._backup_name(r.path), applied=False)
                new_records = True
        if new_records:
            self._save()  # before the first write: a rerun then knows these files (and backups) are ours
        failed = 0
        for r in edits:
            rec = records[str(r.path)]
            try:
                backup = Path(rec["backup"])
                if not os.path.lexists(backup):
                    replace_in(r.root, backup, r.backup_text.encode("utf-8"), like=r.st)
                replace_in(r.root, r.path, r.new.encode("utf-8"), like=r.st, expect=r.st)
            except OSError as exc:
                failed += 1
                why = ("its owner could not be kept" if isinstance(exc, PermissionError)
                       else "it changed while being edited" if exc.errno == errno.EBUSY
                       else os_problem(exc))
                details.append(f"{r.path}: not edited ({why}); nothing was changed in it")
                continue
            rec["applied"], rec["replacements"] = True, r.count
            for f in self._findings():
                if (f["action"] == "inline" and f["path"] == str(r.path) and f.get("verified")
                        and self._value_of(f) is None):
                    f["rewritten"] = True
            details.append(f"{r.path}: {r.count} reference(s) now take the credential from the vault "
                           f"(owner and mode kept; backup {rec['backup']})")
        # a crash after a file was written but before the journal said so: the file needs no edit now
        pending = {str(r.path) for r in edits}
        for rec in self._j["edits"]:
            if not rec.get("applied") and rec["path"] not in pending:
                rec["applied"] = True
        # inline keys already gone from their files (rewritten, or edited by hand): done
        for f in self._findings():
            if f["action"] == "inline" and f.get("verified") and not f.get("rewritten") and self._value_of(f) is None:
                f["rewritten"] = True
        for m in mentions:
            details.append(f"{m.path}:{m.line}: update by hand: {m.change or m.text}")
        summary = f"{len(edits) - failed} file(s) updated" + (f", {failed} not" if failed else "") + (
            f", {len(mentions)} place(s) to update by hand" if mentions else "")
        return self._finish("workflows", "failed" if failed else "done", summary, details,
                            activity={"files": [str(r.path) for r in edits], "mentions": len(mentions)})

    def _step_remove(self, confirm: str | None) -> StepResult:
        if confirm != CONFIRM["remove"]:
            return StepResult("remove", "needs-confirmation", f"type \"{CONFIRM['remove']}\" to delete the plaintext files")
        details, kept = [], 0
        marked = False
        for f in self._findings():
            if f["action"] != "migrate" or f.get("removed") or f.get("removing"):
                continue
            path = Path(f["path"])
            if not f.get("verified") and not f.get("storedVersion") and not os.path.lexists(path):
                continue  # gone before it was stored: nothing to remove
            if not f.get("verified"):
                kept += 1
                details.append(f"{path}: kept ({f.get('problem') or 'not verified'})")
                continue
            ok, why = self._verify_one(f)  # right before: the entry decrypts to these very bytes
            if not ok:
                f["verified"], f["problem"] = False, why
                kept += 1
                details.append(f"{path}: kept ({why})")
                continue
            f["removing"] = marked = True
        if marked:
            self._save()  # from here a rerun finishes these removals, each checked again as it goes
        for f in self._findings():
            if f.get("removing"):
                done, why = self._remove_one(f)
                if not done:  # changed, unreadable, a link or hard-linked since it was compared: keep it
                    f["removing"], f["verified"] = False, False
                    f["problem"] = why
                    kept += 1
                    details.append(f"{f['path']}: kept ({why})")
                    continue
                f["removed"], f["removing"] = True, False
                details.append(f"{f['path']}: removed (verified in the vault as {f['entry']} v{f['storedVersion']})")
        details.append(HONEST_WARNING)
        summary = f"{sum(1 for f in self._findings() if f.get('removed'))} file(s) removed" + (f", {kept} kept" if kept else "")
        return self._finish("remove", "done" if not kept else "failed", summary, details,
                            activity={"removed": [self._public(f) for f in self._findings() if f.get("removed")],
                                      "warning": "overwrite is not reliable on journaling/SSD/copy-on-write storage; rotate the keys"})

    def _remove_one(self, f: dict[str, Any]) -> tuple[bool, str]:
        """Removes one verified credential file, checking first, through the descriptor it then
        overwrites: a regular file with one name, inside its workspace (no link on the way), that
        holds the verified bytes (or them partly overwritten with zeros by an erase a crash
        interrupted). Overwrite with zeros (best effort: see HONEST_WARNING), fsync, unlink that
        very file, fsync the folder. (True, "") when it is removed or was already gone; else
        (False, why) and the file is left as it was."""
        path = Path(f["path"])
        try:
            dfd, name = open_parent(self._root_of(f["path"]), path)
        except FileNotFoundError:
            return True, ""
        except OSError as exc:
            return False, os_problem(exc)
        try:
            writable = True
            try:
                fd = os.open(name, (O_READ & ~os.O_RDONLY) | os.O_RDWR, dir_fd=dfd)
            except FileNotFoundError:
                return True, ""
            except OSError as exc:
                if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                    return False, os_problem(exc)
                writable = False  # a read-only file: compared, not overwritten, still unlinked
                try:
                    fd = os.open(name, O_READ, dir_fd=dfd)
                except FileNotFoundError:
                    return True, ""
                except OSError as exc2:
                    return False, os_problem(exc2) + ": it cannot be compared with the vault, so it is not removed"
            try:
                st = os.fstat(fd)
                unsafe = link_problem(st)
                if unsafe:
                    return False, unsafe
                if st.st_size > MAX_SCAN_BYTES:
                    return False, "the file changed since it was stored (it grew): run the encrypt step again"
                data = read_fd(fd, MAX_SCAN_BYTES + 1)
                try:
                    stored = self.vault.get(f["entry"], f["storedVersion"])
                except VaultError as exc:
                    return False, exc.message
                rest = data.lstrip(b"\0")
                if not (len(data) == len(stored) and stored.endswith(rest)):
                    return False, "the file changed since it was stored: run the encrypt step again"
                if writable and data.strip(b"\0"):
                    os.pwrite(fd, b"\0" * len(data), 0)
                    os.fsync(fd)
            finally:
                os.close(fd)
            try:
                now = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            except FileNotFoundError:
                return True, ""
            if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                return False, "the file was replaced while it was being removed: run the migration again"
            os.unlink(name, dir_fd=dfd)
            os.fsync(dfd)
            return True, ""
        finally:
            os.close(dfd)
