"""The credential migration: scan, plan (dry run), journal and resume, every step, crash safety.

The fixture workspace is built like an OpenClaw one (`~/.openclaw/workspace-<agent>`):
workspace-cestra holds `.convex-deploy-key` (a fake `prod:...|...` key) and a backup copy of it,
`.convex-auth-token`, a HEARTBEAT.md and `scripts/report.sh` that reads the key file;
workspace-veda holds a `.env`, an `.env.example` and a deploy script with the key written inline.
A hostile variant (`World(..., hostile=True)`) adds what an agent could shape: a hard link and a
symbolic link to files outside the workspaces, a link to a folder outside, an unreadable
credential, and (as root) files owned by another user.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from console.service.vault import migration as M
from console.service import vault as V
from console.service.store.sqlite import LocalStore
from console.service.store import StoreUnavailable

DEPLOY_KEY = "prod:qualified-jaguar-123|eyJ2MiI6InBsYW50ZWQtZGVwbG95LWtleS05ZjJhIn0="
AUTH_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwbGFudGVkLWF1dGgtdG9rZW4ifQ.c2ln"
ENV_SECRET = "sk-planted-openai-0b1c2d3e4f"
KEY_HEX = "5" * 64

REPORT_SH = """#!/bin/sh
# daily report: run from anywhere
cd "$(dirname "$0")/.."
CONVEX_DEPLOY_KEY=$(cat .convex-deploy-key) npx convex run reports:daily '{"agent":"cestra"}'
"""
HEARTBEAT_MD = """# HEARTBEAT (Cestra)

Every 15 minutes:

    CONVEX_DEPLOY_KEY=$(cat .convex-deploy-key) npx convex run tasks:list

The deploy key is kept in .convex-deploy-key.
"""
DEPLOY_SH = f"""#!/bin/sh
set -a; . ./.env; set +a
CONVEX_DEPLOY_KEY="{DEPLOY_KEY}" npx convex deploy
"""


def build_workspaces(root: Path) -> dict[str, Any]:
    """The OpenClaw-like fixture; returns the workspaces and the planted secret values."""
    cestra, veda, orin = root / "workspace-cestra", root / "workspace-veda", root / "workspace-orin"
    (cestra / "scripts").mkdir(parents=True)
    veda.mkdir()
    orin.mkdir()
    (cestra / ".convex-deploy-key").write_text(DEPLOY_KEY + "\n")
    (cestra / ".convex-deploy-key.bak").write_text(DEPLOY_KEY + "\n")
    (cestra / ".convex-auth-token").write_text(AUTH_TOKEN)
    (cestra / ".convex-auth-token").chmod(0o600)
    (cestra / "HEARTBEAT.md").write_text(HEARTBEAT_MD)
    (cestra / "scripts" / "report.sh").write_text(REPORT_SH)
    (cestra / "scripts" / "report.sh").chmod(0o755)
    (cestra / "notes.md~").write_text("nothing secret here\n")
    (veda / ".env").write_text(f"CONVEX_URL=https://happy-otter-123.convex.cloud\nOPENAI_API_KEY={ENV_SECRET}\n")
    (veda / ".env.example").write_text("OPENAI_API_KEY=\n")
    (veda / "deploy.sh").write_text(DEPLOY_SH)
    (orin / "HEARTBEAT.md").write_text("# ORIN\nNo credentials here. CONVEX_DEPLOYMENT=prod:qualified-jaguar-123\n")
    return {
        "workspaces": [("cestra", cestra), ("veda", veda), ("orin", orin)],
        "secrets": {"deploy key": DEPLOY_KEY.encode(), "auth token": AUTH_TOKEN.encode(), "env": ENV_SECRET.encode()},
    }


def confirm_all(step: M.Step) -> str | None:
    return step.confirm


# --------------------------------------------------------------- unreadable, even as root
class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


@contextlib.contextmanager
def modes_count() -> Iterator[None]:
    """File modes hold for this thread even as root: CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
    leave the effective set (kept in the permitted set, so they come back afterwards). As
    another user, modes hold anyway."""
    if os.geteuid() != 0:
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    header, data = _CapHeader(0x20080522, 0), (_CapData * 2)()
    assert libc.capget(ctypes.byref(header), data) == 0
    saved = data[0].effective
    data[0].effective &= ~((1 << 1) | (1 << 2))
    assert libc.capset(ctypes.byref(header), data) == 0, ctypes.get_errno()
    try:
        yield
    finally:
        header, data[0].effective = _CapHeader(0x20080522, 0), saved
        assert libc.capset(ctypes.byref(header), data) == 0


def read_anyway(path: str | Path) -> bytes:
    """A file's bytes even when its mode says no (the test owns it: chmod, read, chmod back)."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except PermissionError:
        mode = stat.S_IMODE(os.lstat(path).st_mode)
        os.chmod(path, 0o600)
        try:
            with open(path, "rb") as fh:
                return fh.read()
        finally:
            os.chmod(path, mode)


OTHER_UID = 65534  # nobody


def add_hostile(root: Path, fx: dict[str, Any]) -> None:
    """What an agent could shape in its workspace (see the module docstring). `fx["kept"]`: files
    that must stay byte for byte (outside ones, and credentials the migration must leave)."""
    cestra, veda, orin = (ws for _, ws in fx["workspaces"])
    outside = root / "outside"
    outside.mkdir()
    (outside / "project.env").write_text("PROJECT_SECRET=planted-outside-hardlinked\n")
    (outside / "linked.env").write_text("LINKED_SECRET=planted-outside-symlinked\n")
    (outside / ".convex-deploy-key").write_text(DEPLOY_KEY + "\n")  # the operator's own copy
    os.link(outside / "project.env", cestra / ".env.hard")  # a hard link to a file outside
    (cestra / ".env.shared").symlink_to(outside / "linked.env")  # a link to a file outside
    (cestra / "elsewhere").symlink_to(outside, target_is_directory=True)  # a link to a folder outside
    (veda / ".env.production").write_text("UNREADABLE_SECRET=planted-unreadable\n")
    (veda / ".env.production").chmod(0)  # unreadable
    (orin / ".env").write_text("ORIN_SECRET=planted-orin-env\n")
    (orin / "run.sh").write_text("#!/bin/sh\nset -a; . ./.env; set +a\nnpx convex run heartbeat:ping\n")
    (orin / "run.sh").chmod(0o755)
    if os.geteuid() == 0:  # another user's files: migrated and rewritten, owner kept
        for name in (".env", "run.sh"):
            os.chown(orin / name, OTHER_UID, OTHER_UID)
    fx["secrets"]["orin env"] = b"planted-orin-env"
    fx["kept"] = {str(p): read_anyway(p) for p in (outside / "project.env", outside / "linked.env",
                                                   outside / ".convex-deploy-key", veda / ".env.production")}
    fx["left"] = {str(cestra / ".env.hard"): "hard-linked", str(cestra / ".env.shared"): "symbolic link",
                  str(veda / ".env.production"): "unreadable"}


@pytest.fixture
def key() -> V.VaultKey:
    return V.parse_key(KEY_HEX)


class World:
    def __init__(self, tmp: Path, key: V.VaultKey, *, memory_store: bool = False, hostile: bool = False) -> None:
        self.tmp = tmp
        self.key = key
        self.fx = build_workspaces(tmp / "state")
        self.fx.setdefault("kept", {})
        self.fx.setdefault("left", {})
        if hostile:
            add_hostile(tmp, self.fx)
        self.data = tmp / "data"
        self.store = LocalStore(":memory:" if memory_store else self.data / "squad.db")
        self._seen: dict[bytes, list[bytes]] = {}

    def migration(self, *, deployment: Any = None, store: Any = None) -> M.Migration:
        vault = V.Vault(self.data / "vault.json", key=self.key, store=self.store if store is None else store)
        return M.Migration(self.fx["workspaces"], self.store if store is None else store, vault, deployment=deployment)

    def files(self) -> dict[str, bytes]:
        out = {}
        for folder, _, names in os.walk(self.tmp / "state"):
            for name in names:
                out[os.path.join(folder, name)] = read_anyway(os.path.join(folder, name))
        return out

    def changed(self) -> list[str]:
        """The files that must stay as they were and did not (outside ones, credentials left)."""
        return [p for p, data in self.fx["kept"].items() if not os.path.exists(p) or read_anyway(p) != data]

    def recoverable(self) -> list[str]:
        """The planted secrets found neither in a file nor in a vault entry (should be none)."""
        blobs = list(self.files().values())
        vault = V.Vault(self.data / "vault.json", key=self.key)
        if vault.exists():
            raw = vault.path.read_bytes()
            if raw not in self._seen:  # decrypt each state of the vault file once
                self._seen[raw] = [vault.get(e.name, v.version, include_deleted=True)
                                   for e in vault.entries(include_deleted=True) for v in e.versions]
            blobs += self._seen[raw]
        return [name for name, secret in self.fx["secrets"].items() if not any(secret in b for b in blobs)]

    def plaintext_left(self) -> list[str]:
        return [f"{name} in {path}" for path, data in self.files().items()
                for name, secret in self.fx["secrets"].items() if secret in data]


@pytest.fixture
def world(tmp_path: Path, key: V.VaultKey) -> World:
    w = World(tmp_path, key)
    yield w
    w.store.close()


def all_text(w: World) -> str:
    """Everything the migration wrote that is not the vault: journal, activities."""
    journal = (w.data / "migration.json").read_text() if (w.data / "migration.json").exists() else ""
    acts = " ".join(f"{a.type} {a.message} {a.detail}" for a in w.store.list_activities(1000))
    return journal + acts


# ---------------------------------------------------------------------------- scan
def test_scan_reports_path_size_mode_owner_fingerprint_never_a_value(world: World) -> None:
    m = world.migration()
    result = m.run_step("scan")
    assert result.status == "done"
    fs = {(Path(f.path).name, f.action): f for f in m.findings()}
    dk = fs[(".convex-deploy-key", "migrate")]
    assert dk.kind == "convex-deploy-key" and dk.entry == "convex-deploy-key" and dk.size == len(DEPLOY_KEY) + 1
    assert dk.mode == "0644" and dk.loose and dk.owner and dk.fingerprint.startswith("fp:")
    assert fs[(".convex-deploy-key.bak", "migrate")].entry == "convex-deploy-key"  # same bytes, one entry
    assert fs[(".convex-auth-token", "migrate")].mode == "0600"
    assert fs[(".env", "migrate")].entry == "dotenv"  # never "env": that name means something to a shell
    assert fs[(".env.example", "report")].kind == "env-file"
    assert fs[("notes.md~", "report")].kind == "backup-copy"
    inline = fs[("deploy.sh", "inline")]
    assert inline.entry == "convex-deploy-key" and inline.line == 3
    assert not any(Path(f.path).name == "HEARTBEAT.md" for f in m.findings())  # CONVEX_DEPLOYMENT is no secret
    text = all_text(world) + " ".join(result.details)
    for secret in world.fx["secrets"].values():
        assert secret.decode() not in text


def test_the_dry_run_changes_nothing(world: World) -> None:
    before = {p: (d, stat.S_IMODE(os.stat(p).st_mode)) for p, d in world.files().items()}
    plan = world.migration().plan()
    assert {(p, d, stat.S_IMODE(os.stat(p).st_mode)) for p, d in world.files().items()} == {(p, *v) for p, v in before.items()}
    assert not (world.data / "migration.json").exists() and not (world.data / "vault.json").exists()
    assert world.store.list_activities() == []
    assert [s.id for s in plan.steps] == list(M.STEP_ORDER)
    assert [s.destructive for s in plan.steps] == [False] * 5 + [True, True, False]  # openclaw: nothing to do here
    edited = {Path(e.path).name: e for e in plan.edits}
    assert set(edited) == {"report.sh", "HEARTBEAT.md", "deploy.sh"}
    exec_ = "squad-console vault exec --env CONVEX_DEPLOY_KEY=convex-deploy-key --"
    assert f"+{exec_} npx convex run" in edited["report.sh"].diff
    assert f"+    {exec_} npx convex run tasks:list" in edited["HEARTBEAT.md"].diff
    assert f"+{exec_} npx convex deploy" in edited["deploy.sh"].diff and "<redacted fp:" in edited["deploy.sh"].diff
    assert all(e.backup == e.path + ".pre-vault" for e in plan.edits)
    assert 'eval "$(squad-console vault get dotenv)"' in edited["deploy.sh"].diff
    assert [Path(x.path).name for x in plan.mentions] == ["HEARTBEAT.md"]
    shown = repr(plan)
    for secret in world.fx["secrets"].values():
        assert secret.decode() not in shown


# ---------------------------------------------------------------------- whole run
def test_a_whole_run_moves_everything_and_updates_the_workflows(world: World, key: V.VaultKey) -> None:
    m = world.migration()
    results = m.run_all(confirm_all)
    assert [(r.id, r.status) for r in results] == [
        ("scan", "done"), ("key", "done"), ("convex", "skipped"), ("encrypt", "done"),
        ("verify", "done"), ("workflows", "done"), ("remove", "done"), ("openclaw", "skipped")]
    assert world.plaintext_left() == [] and world.recoverable() == []
    vault = V.Vault(world.data / "vault.json", key=key)
    assert vault.get("convex-deploy-key") == DEPLOY_KEY.encode() + b"\n"
    assert vault.get("convex-auth-token") == AUTH_TOKEN.encode()
    assert [e.latest for e in vault.entries()] == [1, 1, 1]
    cestra = world.fx["workspaces"][0][1]
    assert (cestra / "scripts" / "report.sh").read_text() == REPORT_SH.replace(
        "CONVEX_DEPLOY_KEY=$(cat .convex-deploy-key) npx",
        "squad-console vault exec --env CONVEX_DEPLOY_KEY=convex-deploy-key -- npx")
    veda = world.fx["workspaces"][1][1]
    backup = (veda / "deploy.sh.pre-vault").read_text()  # every edited file keeps a backup, without the key
    assert DEPLOY_KEY not in backup and "<in the vault: convex-deploy-key>" in backup
    assert (cestra / "scripts" / "report.sh.pre-vault").read_text() == REPORT_SH
    assert stat.S_IMODE((cestra / "scripts" / "report.sh").stat().st_mode) == 0o755
    assert not (cestra / ".convex-deploy-key").exists() and (cestra / "notes.md~").exists()
    report = m.report()
    assert report.done and report.left == () and set(report.migrated) == {"convex-deploy-key", "convex-auth-token", "dotenv"}
    assert len(report.removed) == 4 and len(report.references_updated) == 3 and len(report.rewritten) == 1
    assert any("Deploy keys" in r for r in report.rotate) and "copy-on-write" in report.warnings[0]
    # every step wrote an activity; the store holds the ciphertext; no value anywhere
    types = [a.type for a in world.store.list_activities(1000)]
    assert types.count("vault_migration") == 8 and types.count("vault_migrated") == 1
    assert {r.name for r in world.store.vault_list()} == {"convex-deploy-key", "convex-auth-token", "dotenv"}
    text = all_text(world)
    for secret in world.fx["secrets"].values():
        assert secret.decode() not in text
    # a second run changes nothing
    again = world.migration()
    assert again.next_step() is None and again.run_step("scan").status == "done"
    assert world.plaintext_left() == []


def test_destructive_steps_need_the_typed_phrase_and_steps_keep_their_order(world: World) -> None:
    m = world.migration()
    with pytest.raises(M.MigrationError, match="comes after scan"):
        m.run_step("key")
    for sid in ("scan", "key", "convex", "encrypt", "verify"):
        m.run_step(sid)
    assert m.run_step("workflows", "yes").status == "needs-confirmation"
    assert m.run_step("workflows").status == "needs-confirmation"
    with pytest.raises(M.MigrationError, match="comes after workflows"):
        m.run_step("remove", "remove plaintext")
    m.run_step("workflows", "update workflows")
    assert m.run_step("remove", "sure").status == "needs-confirmation"
    assert world.recoverable() == [] and (world.fx["workspaces"][0][1] / ".convex-deploy-key").exists()
    assert m.run_step("remove", "remove plaintext").status == "done"
    assert world.plaintext_left() == []


def test_a_file_changed_after_verification_is_kept_until_stored_again(world: World) -> None:
    m = world.migration()
    for sid in ("scan", "key", "convex", "encrypt", "verify"):
        m.run_step(sid)
    m.run_step("workflows", "update workflows")
    keyfile = world.fx["workspaces"][0][1] / ".convex-deploy-key"
    keyfile.write_text(DEPLOY_KEY.replace("eyJ2", "eyJ3") + "\n")  # an agent rotated it meanwhile
    world.fx["secrets"]["new key"] = DEPLOY_KEY.replace("eyJ2", "eyJ3").encode()
    result = m.run_step("remove", "remove plaintext")
    assert result.status == "failed" and keyfile.exists()
    assert any("changed since it was stored" in d for d in result.details)
    assert world.recoverable() == []
    assert m.run_step("encrypt").status == "done" and m.run_step("verify").status == "done"
    m.run_step("workflows", "update workflows")
    assert m.run_step("remove", "remove plaintext").status == "done"
    assert world.plaintext_left() == [] and world.recoverable() == []
    vault = V.Vault(world.data / "vault.json", key=world.key)
    assert vault.get("convex-deploy-key").startswith(world.fx["secrets"]["new key"])


def test_the_convex_step_checks_then_sets_only_when_confirmed(world: World, key: V.VaultKey) -> None:
    class FakeDeployment:
        url = "https://happy-otter-123.convex.cloud"

        def __init__(self) -> None:
            self.kid_now: str | None = None
            self.sets = 0

        def kid(self) -> tuple[str | None, str]:
            return self.kid_now, ""

        def set(self, k: V.VaultKey) -> None:
            self.sets += 1
            self.kid_now = k.kid

    dep = FakeDeployment()
    m = world.migration(deployment=dep)
    m.run_step("scan")
    m.run_step("key")
    r = m.run_step("convex")
    assert r.status == "skipped" and "has no CONVEX_VAULT_KEY" in r.summary and dep.sets == 0
    r = m.run_step("convex", "set the key")
    assert r.status == "done" and dep.sets == 1 and key.kid in r.summary
    assert m.run_step("convex").status == "done" and dep.sets == 1  # already the same key


def test_activities_wait_in_the_journal_while_the_store_is_away(world: World) -> None:
    class Flaky:
        def __init__(self, inner: LocalStore) -> None:
            self.inner, self.away = inner, True

        def log_activity(self, *a: Any, **k: Any) -> Any:
            if self.away:
                raise StoreUnavailable("cannot connect to Convex: connection refused")
            return self.inner.log_activity(*a, **k)

        def vault_put(self, *a: Any, **k: Any) -> Any:
            if self.away:
                raise StoreUnavailable("cannot connect to Convex: connection refused")
            return self.inner.vault_put(*a, **k)

        def describe(self) -> str:
            return "flaky"

    flaky = Flaky(world.store)
    m = world.migration(store=flaky)
    m.run_step("scan")
    m.run_step("key")
    assert len(m.state()["pendingActivities"]) == 2 and world.store.list_activities() == []
    flaky.away = False
    m.run_step("convex")
    assert m.state()["pendingActivities"] == [] and len(world.store.list_activities()) == 3


def test_a_damaged_journal_is_a_clear_error(world: World) -> None:
    m = world.migration()
    m.run_step("scan")
    (world.data / "migration.json").write_text('{"format": "squad-console-migr')
    with pytest.raises(M.MigrationError, match="journal .* is damaged") as err:
        world.migration()
    assert "still in its file or in the vault" in (err.value.hint or "")


# ----------------------------------------------- hostile workspaces (issue 12, points 3-8)
def run_to_remove(m: M.Migration) -> None:
    for sid in ("scan", "key", "convex", "encrypt", "verify"):
        assert m.run_step(sid).status in ("done", "skipped"), sid
    assert m.run_step("workflows", "update workflows").status == "done"


def test_entry_names_from_file_names_never_mean_something_to_a_shell(world: World) -> None:
    cestra = world.fx["workspaces"][0][1]
    other = "prod:evil-otter-123|QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo"
    for i, name in enumerate(("PATH~", "LD_PRELOAD~", "NODE_OPTIONS.bak", "PYTHONPATH.orig", ".BASH_ENV.swp", "HOME~")):
        (cestra / name).write_text(f"/tmp/agent-bin-{i}:{other}\n")
    (cestra / ".env~").write_text("A=1\n")  # a copy of an env file
    plan = world.migration().plan()
    names = {Path(f.path).name: f.entry for f in plan.findings if f.entry}
    assert names["PATH~"] == "backup.PATH" and names[".env"] == "dotenv" and names[".env~"] == "dotenv.backup"
    from console.service.vault.secrets import denied, env_var_for

    for name, entry in names.items():
        assert not denied(env_var_for(entry)), (name, entry)
        assert not denied(env_var_for(entry.rsplit("/", 1)[-1])), (name, entry)


def test_a_hard_link_to_a_file_outside_is_left_alone(world: World) -> None:
    cestra = world.fx["workspaces"][0][1]
    outside = world.tmp / "project" / ".env"
    outside.parent.mkdir()
    outside.write_text("PROJECT_SECRET=planted-outside-project\n")
    os.link(outside, cestra / ".env")  # ws/.env -> ~/project/.env
    m = world.migration()
    m.run_all(confirm_all)
    assert outside.read_text() == "PROJECT_SECRET=planted-outside-project\n" and os.stat(outside).st_nlink == 2
    assert (cestra / ".env").exists()
    report = m.report()
    assert not report.done and any(line.startswith(f"{cestra / '.env'}:") and "hard-linked" in line for line in report.left)
    assert not (cestra / ".convex-deploy-key").exists()  # the rest went on
    from console.service.vault.scan import plaintext_credentials, scan

    assert plaintext_credentials(scan(world.fx["workspaces"], b"salt")) == [cestra / ".env"]  # the overview agrees
    vault = V.Vault(world.data / "vault.json", key=world.key)
    assert all(b"planted-outside-project" not in vault.get(e.name) for e in vault.entries())


@pytest.mark.parametrize("how", ["the file", "a folder on the way"])
def test_a_credential_replaced_by_a_link_after_verification_is_not_followed(world: World, how: str) -> None:
    cestra = world.fx["workspaces"][0][1]
    (cestra / "deploy").mkdir()
    (cestra / "deploy" / ".convex-auth-token").write_text("planted-nested-token-51c0")
    m = world.migration()
    run_to_remove(m)
    outside = world.tmp / "outside"
    outside.mkdir()
    (outside / ".convex-deploy-key").write_text(DEPLOY_KEY + "\n")  # the same bytes, outside
    (outside / ".convex-auth-token").write_text("planted-nested-token-51c0")
    if how == "the file":
        target = cestra / ".convex-deploy-key"
        target.unlink()
        target.symlink_to(outside / ".convex-deploy-key")
    else:
        target = cestra / "deploy" / ".convex-auth-token"
        (cestra / "deploy").rename(cestra / "deploy.old")
        (cestra / "deploy").symlink_to(outside, target_is_directory=True)
    result = m.run_step("remove", "remove plaintext")
    assert (outside / ".convex-deploy-key").read_text() == DEPLOY_KEY + "\n"
    assert (outside / ".convex-auth-token").read_text() == "planted-nested-token-51c0"
    assert result.status == "failed" and any(d.startswith(f"{target}: kept") for d in result.details), result.details
    assert os.path.lexists(target)


def test_an_unreadable_or_changed_file_is_never_removed_on_resume(world: World) -> None:
    """The journal says `removing` (a crash right after), then the file gets a NEW key and mode
    000: the resumed removal cannot compare it, so it keeps it."""
    m = world.migration()
    run_to_remove(m)
    keyfile = world.fx["workspaces"][0][1] / ".convex-deploy-key"
    journal = json.loads((world.data / "migration.json").read_text())
    for f in journal["findings"]:
        if f["path"] == str(keyfile):
            f["removing"] = True
    (world.data / "migration.json").write_text(json.dumps(journal))
    new_key = DEPLOY_KEY.replace("eyJ2", "eyJ9") + "\n"
    keyfile.write_text(new_key)
    keyfile.chmod(0)
    with modes_count():
        result = world.migration().run_step("remove", "remove plaintext")
        report = world.migration().report()
    assert read_anyway(keyfile) == new_key.encode()
    assert result.status == "failed"
    assert any(d.startswith(f"{keyfile}: kept (unreadable") for d in result.details), result.details
    assert any(line.startswith(f"{keyfile}:") and "unreadable" in line for line in report.left) and not report.done
    keyfile.chmod(0o600)  # readable again, but changed: still kept
    journal = json.loads((world.data / "migration.json").read_text())
    assert not any(f.get("removing") for f in journal["findings"])
    result = world.migration().run_step("remove", "remove plaintext")
    assert keyfile.read_text() == new_key and result.status == "failed"


def test_a_small_unreadable_key_is_reported_as_unreadable(world: World) -> None:
    veda = world.fx["workspaces"][1][1]
    key45 = veda / ".convex-deploy-key"
    key45.write_text("prod:small-otter-1|" + "K" * 25 + "\n")
    assert key45.stat().st_size == 45
    key45.chmod(0)
    with modes_count():
        plan = world.migration().plan()
    found = next(f for f in plan.findings if f.path == str(key45))
    assert "unreadable" in found.reason and "larger" not in found.reason
    assert found.action == "report" and found.manual  # plaintext left for a person: the run is not complete


def test_once_the_cause_is_fixed_running_again_moves_what_was_left(world: World) -> None:
    """What was left (unreadable) or came back (a re-created key file) is moved by the next run,
    as the report says; a run with nothing left to move does nothing."""
    veda, cestra = world.fx["workspaces"][1][1], world.fx["workspaces"][0][1]
    locked = veda / ".env.production"
    locked.write_text("LOCKED_SECRET=planted-locked\n")
    locked.chmod(0)
    with modes_count():
        world.migration().run_all(confirm_all)
        report = world.migration().report()
    assert not report.done and report.left == (f"{locked}: unreadable (permission denied): left alone",)
    locked.chmod(0o600)  # the operator fixed it
    rotated = DEPLOY_KEY.replace("eyJ2", "eyJ5") + "\n"
    (cestra / ".convex-deploy-key").write_text(rotated)  # and an agent wrote a new key file meanwhile
    m = world.migration()
    assert m.next_step().id == "scan"
    results = m.run_all(confirm_all)
    assert [r.id for r in results] == list(M.STEP_ORDER), results
    assert m.report().done and not locked.exists() and not (cestra / ".convex-deploy-key").exists()
    vault = V.Vault(world.data / "vault.json", key=world.key)
    assert vault.get("convex-deploy-key") == rotated.encode()  # a new version of the same entry
    assert vault.get("dotenv.production") == b"LOCKED_SECRET=planted-locked\n"
    assert world.migration().next_step() is None and world.migration().run_all(confirm_all) == []


def test_one_size_limit_a_large_env_file_is_reported_and_the_rest_goes_on(world: World) -> None:
    from console.service.vault.vault import MAX_VALUE_BYTES

    veda = world.fx["workspaces"][1][1]
    big = veda / ".env.local"
    big.write_text("# padding\n" * 30_000 + "BIG_SECRET=planted-big\n")  # ~300 KB
    assert MAX_VALUE_BYTES < big.stat().st_size < 2 * 1024 * 1024
    m = world.migration()
    results = m.run_all(confirm_all)
    assert [r.status for r in results] == ["done", "done", "skipped", "done", "done", "done", "done", "skipped"], results
    assert not (world.fx["workspaces"][0][1] / ".convex-deploy-key").exists()  # the others were moved
    assert big.read_bytes().endswith(b"BIG_SECRET=planted-big\n")
    report = m.report()
    assert not report.done
    assert report.left == (f"{big}: larger than the vault's limit of {MAX_VALUE_BYTES} bytes (256 KiB): not read; "
                           "move it by hand",)


def test_only_shell_and_markdown_are_rewritten_keeping_owner_mode_and_a_backup(world: World) -> None:
    cestra, veda = world.fx["workspaces"][0][1], world.fx["workspaces"][1][1]
    config = veda / "config.json"
    config.write_text(json.dumps({"deployKey": DEPLOY_KEY}) + "\n")
    deploy_py = veda / "deploy.py"
    deploy_py.write_text(f'import subprocess\nKEY = "{DEPLOY_KEY}"\n')
    loader_ts = cestra / "load.ts"
    loader_ts.write_text('const key = readFileSync(".convex-deploy-key", "utf8");\n')
    before = {p: p.read_bytes() for p in (config, deploy_py, loader_ts)}
    script = cestra / "scripts" / "report.sh"
    script.chmod(0o750)
    owner = (OTHER_UID, OTHER_UID) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    os.chown(script, *owner)
    m = world.migration()
    m.run_all(confirm_all)
    assert {p: p.read_bytes() for p in before} == before  # never edited
    st = script.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (*owner, 0o750)
    assert "vault exec --env CONVEX_DEPLOY_KEY=convex-deploy-key -- npx" in script.read_text()
    backup = Path(str(script) + ".pre-vault")
    assert backup.read_text() == REPORT_SH and (backup.stat().st_uid, stat.S_IMODE(backup.stat().st_mode)) == (owner[0], 0o750)
    assert not list(veda.glob("config.json.pre-vault*")) and not list(veda.glob("deploy.py.pre-vault*"))
    report = m.report()
    changes = {(Path(x.path).name, x.line): x.change for x in report.mentions}
    assert 'KEY = os.environ["CONVEX_DEPLOY_KEY"]' in changes[("deploy.py", 2)]
    assert "squad-console vault exec --env CONVEX_DEPLOY_KEY=convex-deploy-key --" in changes[("deploy.py", 2)]
    assert "remove the value from this file" in changes[("config.json", 1)]
    assert "process.env.CONVEX_DEPLOY_KEY" in changes[("load.ts", 1)]
    shown = repr(report)
    assert DEPLOY_KEY not in shown
    assert not report.done and {line.split(" line ")[0] for line in report.left} == {str(config), str(deploy_py)}


def test_no_message_or_activity_holds_a_key_even_in_a_file_name(world: World) -> None:
    cestra = world.fx["workspaces"][0][1]
    named = "prod:evil-otter-123|QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo"
    (cestra / f"{named}.bak").write_text(named + "\n")
    world.fx["secrets"]["key in a name"] = named.encode()
    m = world.migration()
    plan = m.plan()
    results = m.run_all(confirm_all)
    report = m.report()
    acts = " ".join(f"{a.type} {a.message} {a.detail}" for a in world.store.list_activities(1000))
    vault = V.Vault(world.data / "vault.json", key=world.key)
    shown = repr((plan, results, report, [(e.name, e.source) for e in vault.entries()])) + acts
    for secret in world.fx["secrets"].values():
        assert secret.decode() not in shown
    assert report.done and world.plaintext_left() == [] and world.recoverable() == []


# ---------------------------------------------------------------------- crash safety
class Crash(BaseException):
    """A simulated power cut: not an Exception, so nothing in the code under test catches it."""


def _run_with_fault(world: World, monkeypatch: pytest.MonkeyPatch, crash_at: int | None,
                    checks: list[int]) -> int:
    """Runs the whole migration, crashing at the `crash_at`-th fsync/replace call (before it runs:
    after the write, before the fsync; after the fsync, before the rename; after the rename, before
    the folder's fsync). At every such point it first checks every credential is recoverable."""
    calls = {"n": 0}
    real_replace = os.replace

    def point() -> None:
        calls["n"] += 1
        missing = world.recoverable()
        checks.append(len(missing))
        assert missing == [], f"at I/O point {calls['n']} these credentials were not recoverable: {missing}"
        assert world.changed() == [], f"at I/O point {calls['n']} these files changed: {world.changed()}"
        if calls["n"] == crash_at:
            raise Crash()

    def fsync(fd: int) -> None:
        point()  # durability itself is not what a simulated crash tests: skip the real fsync

    def replace(a: Any, b: Any, **kw: Any) -> None:
        point()
        real_replace(a, b, **kw)

    with monkeypatch.context() as mp, modes_count():
        mp.setattr(os, "fsync", fsync)
        mp.setattr(os, "replace", replace)
        try:
            world.migration().run_all(confirm_all)
        except Crash:
            pass
    return calls["n"]


def assert_finished(w: World, m: M.Migration, where: Any) -> None:
    """Everything movable moved and verified; what an agent shaped (links, a hard link, an
    unreadable file) left as it was and listed with why; nothing outside changed."""
    with modes_count():
        report = m.report()
    assert all(s.status in ("done", "skipped") for s in report.steps), (where, report.steps)
    assert w.plaintext_left() == [] and w.recoverable() == [] and w.changed() == [], where
    assert all(f.verified for f in m.findings() if f.action != "report"), where
    assert len(report.left) == len(w.fx["left"]) and report.done == (not w.fx["left"]), (where, report.left)
    for path, why in w.fx["left"].items():
        assert any(line.startswith(path + ":") and why in line for line in report.left), (where, path, report.left)


def test_crash_at_every_point_then_rerun_loses_nothing(tmp_path: Path, key: V.VaultKey,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    checks: list[int] = []
    probe = World(tmp_path / "probe", key, memory_store=True, hostile=True)
    total = _run_with_fault(probe, monkeypatch, None, checks)
    assert_finished(probe, probe.migration(), "probe")
    probe.store.close()
    assert total > 20
    tried = 0
    for crash_at in range(1, total + 1):
        w = World(tmp_path / f"io-{crash_at}", key, memory_store=True, hostile=True)
        _run_with_fault(w, monkeypatch, crash_at, checks)
        assert w.recoverable() == [] and w.changed() == [], crash_at
        _run_with_fault(w, monkeypatch, None, checks)  # the rerun, checked at every I/O point too
        assert_finished(w, w.migration(), crash_at)
        w.store.close()
        tried += 1
    # crashes at the step boundaries: stop after k steps, then a new process resumes
    for k in range(len(M.STEP_ORDER) + 1):
        w = World(tmp_path / f"step-{k}", key, memory_store=True, hostile=True)
        with modes_count():
            m = w.migration()
            for sid in M.STEP_ORDER[:k]:
                m.run_step(sid, M.CONFIRM.get(sid))
                assert w.recoverable() == [] and w.changed() == []
            rerun = w.migration()
            rerun.run_all(confirm_all)
        assert_finished(w, rerun, k)
        w.store.close()
        tried += 1
    print(f"\ncrash safety: {tried} crash points tried ({total} I/O points + {len(M.STEP_ORDER) + 1} step "
          f"boundaries), {len(checks)} instants checked recoverable")
    assert all(c == 0 for c in checks)


# ------------------------------------------------------------- one scanner, one answer
def test_the_overview_and_the_migration_agree_on_what_is_plaintext(tmp_path: Path) -> None:
    """The overview's "no plaintext credentials" criterion, the migration's scan and the vault
    screen's "used by" column walk the workspaces with the one scanner (vault/scan.py): a nested
    credential file and an `.env` leftover count for both, a non-credential file for neither,
    and once the migration is done the overview says so."""
    from console.config import AgentSettings, OpenClawSettings, Settings, StoreSettings
    from console.service.vault.scan import entry_usage, workspaces_from_settings
    from console.service.watch import View, Watch
    from console.service.wiring import open_migration, vault_path

    ws = tmp_path / "workspace-cestra"
    (ws / "scripts").mkdir(parents=True)
    (ws / "scripts" / ".convex-deploy-key").write_text(DEPLOY_KEY + "\n")  # a credential, not at the top
    (ws / ".env").write_text(f"OPENAI_API_KEY={ENV_SECRET}\n")  # an .env leftover
    (ws / ".env.example").write_text("OPENAI_API_KEY=\n")  # a template: reported only
    (ws / "notes.md").write_text("nothing secret here; the key lives in .convex-deploy-key\n")
    (ws / ".git").mkdir()
    (ws / ".git" / ".convex-deploy-key").write_text(DEPLOY_KEY + "\n")  # inside .git: nobody looks
    (ws / "run.sh").write_text("KEY=$(squad-console vault get convex-deploy-key)\n")
    settings = Settings(None, StoreSettings(path=tmp_path / "data" / "squad.db"),
                        (AgentSettings("cestra", "Cestra", workspace=str(ws)),), OpenClawSettings(), {})
    env = {"CONVEX_VAULT_KEY": KEY_HEX, "SQUAD_CONSOLE_KEYRING": "off"}
    store = LocalStore(settings.store.local_path())
    try:
        watch = Watch(settings, store, probe_openclaw=False)
        m = open_migration(settings, env, store)
        assert m.vault.path == vault_path(settings) == tmp_path / "data" / "vault.json"
        plan = m.plan()
        moved = sorted({Path(f.path) for f in plan.findings if f.action != "report"})
        assert moved == sorted([ws / "scripts" / ".convex-deploy-key", ws / ".env"])
        assert sorted(watch.plaintext_files()) == moved
        assert watch.plaintext_files() == watch.plaintext_files()  # a rescan (from its cache) agrees
        assert entry_usage(workspaces_from_settings(settings), ["convex-deploy-key"]) == {
            "convex-deploy-key": ["workspace-cestra/run.sh"]}
        results = m.run_all(confirm_all)
        assert m.report().done, results
        assert watch.plaintext_files() == []
        criteria = watch._criteria(View(at=0.0, store="test"), 0.0)
        criterion = next(c for c in criteria if c.name == "Credential encryption")
        assert criterion.ok and criterion.value == "done"
    finally:
        store.close()

