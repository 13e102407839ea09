"""`squad-console vault`: the encrypted credential vault (docs/VAULT.md) and the migration of the
agents' plaintext credentials into it.

Values are printed only where asked for by name: `vault get` (the value), `vault provide` (the
values OpenClaw's request names, as JSON for OpenClaw), `vault init` (the new key, once, when no
keyring can keep it) and whatever the child of `vault exec` prints. Everything
else shows names, versions, dates, sources and fingerprints.

A thin front end: the vault, the migration and the deployment are opened by the composition
root (console.service.wiring); the environment of `vault exec` is built by
console.service.vault.secrets.
"""

from __future__ import annotations

import argparse
import getpass
import subprocess
import sys
from pathlib import Path
from typing import Any

from console.commands import EXIT_FAIL, EXIT_OK, EXIT_USAGE, CommandError, Context, table, when
from console.errors import ConsoleError as ConsoleErrorBase


def register(sub: argparse._SubParsersAction) -> None:
    v = sub.add_parser("vault", help="the encrypted credential vault and the migration of plaintext credentials",
                       description="The encrypted credential vault (AES-256-GCM, key CONVEX_VAULT_KEY or the OS "
                       "keyring), the migration of the agents' plaintext credentials into it, and OpenClaw's "
                       "exec secret provider (`vault provide`, `vault provider-config`). See docs/VAULT.md.")
    actions = v.add_subparsers(dest="action", metavar="ACTION", parser_class=type(v))

    init = actions.add_parser("init", help="generate the vault key; keep it in the OS keyring or print how to set it",
                              description="Generate a new vault key. With a working OS keyring it is kept there; "
                              "otherwise it is printed ONCE as `export CONVEX_VAULT_KEY=...`: keep a copy, "
                              "losing it loses every secret.")
    init.add_argument("--print-key", action="store_true", help="also print the export line when the keyring keeps the key")
    init.add_argument("--force", action="store_true", help="make a new key even though one is already set (the vault must be empty)")

    put = actions.add_parser("put", help="store a value (from --from-file or stdin) as a new version of NAME",
                             description="Store a value (at most 256 KiB, the vault's limit) as a new version of NAME.")
    put.add_argument("name", metavar="NAME")
    put.add_argument("--from-file", metavar="FILE", help="read the value from FILE (default: stdin)")
    put.add_argument("--expected-version", metavar="N", type=int,
                     help="check-and-set: store only if NAME is at version N now (0: only if it does not exist)")

    get = actions.add_parser("get", help="print NAME's value to stdout (for scripts: $(squad-console vault get NAME))")
    get.add_argument("name", metavar="NAME")
    get.add_argument("--version", metavar="N", type=int, help="an older version (the last 5 are kept)")

    ls = actions.add_parser("list", help="names, versions, dates, key ids, fingerprints and sources; never values")
    ls.add_argument("--all", action="store_true", help="include removed entries")

    rm = actions.add_parser("rm", help="remove NAME (soft: its versions stay in the file until overwritten)")
    rm.add_argument("name", metavar="NAME")

    ex = actions.add_parser("exec", help="run a command with the secrets it is given in its environment only",
                            description="Run CMD with the vault entries named by --env in its environment (and "
                            "nowhere else); no other variable is set. CMD is found with this shell's PATH. Names "
                            "that change which program runs or what it loads (PATH, LD_*, DYLD_*, PYTHON*, "
                            "NODE_OPTIONS, BASH_ENV, ENV, IFS, HOME, SHELL and the rest of the list in "
                            "docs/VAULT.md) are refused. Exits with CMD's exit code.")
    ex.add_argument("--env", metavar="VAR=NAME", action="append", default=[],
                    help="set VAR to entry NAME (repeatable); a bare NAME sets the variable named after it "
                    "(convex-deploy-key -> CONVEX_DEPLOY_KEY)")
    ex.add_argument("--clean", action="store_true", help="start from an empty environment (PATH, HOME, LANG kept)")
    ex.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ...")

    rs = actions.add_parser("restore", help="write NAME's value back to a file (mode 0600)")
    rs.add_argument("name", metavar="NAME")
    rs.add_argument("--to", metavar="PATH", required=True, help="the file to write (created with mode 0600)")
    rs.add_argument("--version", metavar="N", type=int, help="an older version (the last 5 are kept)")
    rs.add_argument("--force", action="store_true", help="overwrite PATH if it exists")

    ck = actions.add_parser("convex-key", help="set or verify CONVEX_VAULT_KEY in the Convex deployment",
                            description="`set`: put the vault key in the deployment's environment (Convex's "
                            "environment-variable API, with CONVEX_URL and CONVEX_DEPLOY_KEY). `verify`: compare "
                            "key ids through console/vault:kidCheck; the key never comes back.")
    ck.add_argument("what", choices=("set", "verify"))

    pv = actions.add_parser(
        "provide", help="answer one OpenClaw exec secret-provider request (stdin JSON -> stdout JSON)",
        description="OpenClaw's `exec` secret provider, protocol v1: reads {\"protocolVersion\": 1, \"provider\": "
        "ALIAS, \"ids\": [...]} on stdin (at most 256 KiB), writes {\"protocolVersion\": 1, \"values\": {...}, "
        "\"errors\": {ID: {\"code\": \"NOT_FOUND\"}}} on stdout and nothing else. An id is a vault entry NAME "
        "(its value as text) or NAME#FIELD (a member of the JSON object stored in NAME; NAME#a/b for nested "
        "members). Exit 0 answered; 2 a malformed request; 1 the vault cannot be read (no key, wrong key, altered "
        "file), with the reason on stderr (never a value). OpenClaw runs it; `vault provider-config` prints how. "
        "See docs/VAULT.md.")
    pv.add_argument("--vault-file", metavar="PATH", help="the vault file to read (default: the configured one)")

    pc = actions.add_parser(
        "provider-config", help="print the secrets.providers entry that makes OpenClaw read from this vault",
        description="Print the `secrets.providers` JSON for OpenClaw's openclaw.json: the real (not symlinked) "
        "path of this squad-console command, its args (`vault provide --vault-file ...`), passEnv (the "
        "variables OpenClaw lets through: CONVEX_VAULT_KEY, SQUAD_CONSOLE_KEYRING and what the OS keyring "
        "needs), trustedDirs, jsonOnly and timeoutMs. Checks OpenClaw's rules for the command first (absolute, "
        "regular file, not a symlink, owned by you, not group/world-writable) and says the fix when one fails. "
        "Run it as the user the gateway runs as. See docs/VAULT.md.")
    pc.add_argument("--alias", default=None, metavar="ALIAS",
                    help="the provider alias in secrets.providers (default: squadvault)")
    pc.add_argument("--command", dest="program", metavar="PATH",
                    help="the squad-console program OpenClaw runs (default: this command, links resolved)")
    pc.add_argument("--pass-env", metavar="VAR", action="append", default=[],
                    help="one more variable OpenClaw should pass to the provider (repeatable)")
    pc.add_argument("--no-keyring", action="store_true",
                    help="the key comes only from CONVEX_VAULT_KEY: do not pass HOME, XDG_RUNTIME_DIR and "
                    "DBUS_SESSION_BUS_ADDRESS for the OS keyring")
    pc.add_argument("--timeout-ms", type=int, default=5000, metavar="MS", help="timeoutMs (default 5000)")
    pc.add_argument("--provider-only", action="store_true",
                    help="print only the provider object, for `openclaw config set secrets.providers.ALIAS`")

    mg = actions.add_parser("migrate", help="move the agents' plaintext credentials into the vault (resumable)",
                            description="Scan the agents' workspaces, store every credential in the vault, verify "
                            "it byte for byte, point the workflows at `squad-console vault get`, then remove the "
                            "plaintext; and (when the openclaw CLI is there) move the plaintext `openclaw secrets "
                            "audit` finds in openclaw.json into the vault, pointing OpenClaw's config at it with "
                            "SecretRefs to the vault's exec provider. Resumable: a journal beside the vault records "
                            "each step.")
    mg.add_argument("--dry-run", action="store_true", help="show the whole plan and change nothing")
    mg.add_argument("--yes", action="store_true", help="confirm every step without asking (including setting the "
                    "deployment's key when the store is Convex)")
    mg.add_argument("--leave-openclaw", action="append", default=[], metavar="DOTPATH",
                    help="leave this plaintext value of openclaw.json as it is (e.g. models.providers.openai.apiKey; "
                    "repeatable); every other one `openclaw secrets audit` finds is moved into the vault")
    mg.add_argument("--take-openclaw", action="append", default=[], metavar="DOTPATH",
                    help="move this openclaw.json value again after --leave-openclaw left it")


# ------------------------------------------------------------------------- helpers
def _open_store(ctx: Context) -> tuple[Any | None, str]:
    from console.service.store import StoreError
    from console.service.wiring import open_store

    try:
        return open_store(ctx.settings.store), ""
    except StoreError as exc:
        return None, exc.message


def _vault(ctx: Context, store: Any | None = None, *, need_key: bool = True):
    from console.service.wiring import open_vault

    return open_vault(ctx.settings, ctx.env, store=store, need_key=need_key)


def _write_value(ctx: Context, data: bytes) -> None:
    buf = getattr(ctx.out, "buffer", None)
    if buf is not None:
        ctx.out.flush()
        buf.write(data)
        buf.flush()
    else:
        ctx.out.write(data.decode("utf-8", "surrogateescape"))


def _replication(ctx: Context, replicated: bool | None, note: str, store: Any | None, why_none: str) -> None:
    if replicated:
        ctx.warn(f"  copied (ciphertext) to the store: {store.describe()}")
    elif replicated is False:
        ctx.warn(f"  not copied to the store: {note}")
    elif why_none:
        ctx.warn(f"  not copied to the store: {why_none}")


def run(args: argparse.Namespace, ctx: Context) -> int:
    action = getattr(args, "action", None)
    handlers = {"init": _init, "put": _put, "get": _get, "list": _list, "rm": _rm, "exec": _exec,
                "restore": _restore, "convex-key": _convex_key, "migrate": _migrate,
                "provider-config": _provider_config}
    if action == "provide":  # OpenClaw's secret provider: its own checks, JSON or a clear exit, nothing else
        return _provide(args, ctx)
    if action not in handlers:
        raise CommandError("say what to do: init, put, get, list, rm, exec, restore, convex-key, migrate, provide "
                           "or provider-config", hint="squad-console vault --help", code=EXIT_USAGE)
    from console.service.vault.files import check_data_folder
    from console.service.wiring import vault_path

    check_data_folder(vault_path(ctx.settings).parent)  # before anything (the store too) is written there
    return handlers[action](args, ctx)


# ------------------------------------------------------------------------ commands
def _init(args: argparse.Namespace, ctx: Context) -> int:
    from console.service.vault import VaultKeyMissing, find_key, init_key

    existing = None
    try:
        existing = find_key(ctx.env)
    except VaultKeyMissing:
        pass
    vault = _vault(ctx, need_key=False)
    written_with = vault.kid() if vault.exists() else None
    if existing is not None and not args.force:
        raise CommandError(f"a vault key is already set (key {existing.kid}, from {existing.source})",
                           hint="keep using it; `vault init --force` makes a new one only for an empty vault")
    if written_with is not None and vault.entries(include_deleted=True):
        raise CommandError(f"the vault {vault.path} already holds entries written with key {written_with}",
                           hint="a new key could not read them: give the old key (CONVEX_VAULT_KEY), or move "
                           "the file aside first")
    result = init_key(ctx.env)
    if result.stored_in_keyring:
        ctx.print(f"vault key {result.key.kid} generated and kept in the OS keyring ({result.keyring_backend})")
        ctx.warn("keep a copy somewhere safe (a password manager): losing the key loses every secret; "
                 "`squad-console vault init --print-key` would have printed it")
        if args.print_key:
            ctx.print(f"export CONVEX_VAULT_KEY={result.key.hex()}")
        return EXIT_OK
    ctx.warn(f"squad-console: no usable OS keyring ({result.reason}); the key is printed once below.")
    ctx.warn("KEEP A COPY of it now (a password manager): it is not stored anywhere, and losing it loses every "
             "secret. Put the export line in the environment of every shell and agent that uses the vault.")
    ctx.print(f"export CONVEX_VAULT_KEY={result.key.hex()}")
    ctx.warn(f"(key id {result.key.kid}: shown by `vault list`, never the key)")
    return EXIT_OK


def _too_large(what: str) -> CommandError:
    from console.service.vault.vault import MAX_VALUE_BYTES

    return CommandError(f"{what} is larger than the vault's limit of {MAX_VALUE_BYTES} bytes "
                        f"({MAX_VALUE_BYTES // 1024} KiB): nothing stored",
                        hint="keep files, not archives, in the vault", code=EXIT_USAGE)


def _read_value(args: argparse.Namespace, ctx: Context) -> bytes:
    """The value, read up to one byte past the vault's limit (never without bound: `/dev/zero`
    or an endless pipe gives a clear error, exit 2, nothing stored)."""
    from console.service.vault.vault import MAX_VALUE_BYTES

    limit = MAX_VALUE_BYTES + 1
    if args.from_file:
        try:
            with open(Path(args.from_file).expanduser(), "rb") as fh:
                value = fh.read(limit)
        except OSError as exc:
            raise CommandError(f"cannot read {args.from_file}: {exc.strerror}", code=EXIT_USAGE) from None
        if len(value) > MAX_VALUE_BYTES:
            raise _too_large(f"the file {args.from_file}")
        return value
    stdin = sys.stdin
    if stdin is None:
        raise CommandError("no value: give --from-file FILE or pipe it on stdin", code=EXIT_USAGE)
    if stdin.isatty():
        value = getpass.getpass(f"value for {args.name} (not echoed): ").encode("utf-8")
    else:
        value = stdin.buffer.read(limit) if hasattr(stdin, "buffer") else stdin.read(limit).encode("utf-8")
    if len(value) > MAX_VALUE_BYTES:
        raise _too_large("the value on stdin")
    if not value:
        raise CommandError("no value: stdin was empty", hint=f"e.g. squad-console vault put {args.name} --from-file FILE",
                           code=EXIT_USAGE)
    return value


def _put(args: argparse.Namespace, ctx: Context) -> int:
    from console.service.vault.scan import CONVEX_KEY_RE

    value = _read_value(args, ctx)
    source = str(Path(args.from_file).expanduser().resolve()) if args.from_file else "stdin"
    source = CONVEX_KEY_RE.sub("<a key-shaped name>", source)  # a name is shown and replicated: never a key
    store, why = _open_store(ctx)
    try:
        vault = _vault(ctx, store)
        result = vault.put(args.name, value, expected_version=args.expected_version, source=source)
        ctx.print(f"stored {result.name} v{result.version} ({len(value)} bytes, {result.fingerprint}, key {vault.require_key().kid})")
        _replication(ctx, result.replicated, result.note, store, why)
    finally:
        if store is not None:
            store.close()
    return EXIT_OK


def _get(args: argparse.Namespace, ctx: Context) -> int:
    from console.service.store import StoreError
    from console.service.vault import VaultError, VaultNotFound

    vault = _vault(ctx)
    try:
        value = vault.get(args.name, args.version)
    except VaultNotFound as local_miss:
        if vault.exists() and args.name in {e.name for e in vault.entries(include_deleted=True)}:
            raise
        store, _ = _open_store(ctx)  # another machine's copy, if the store has one
        if store is None:
            raise local_miss from None
        try:
            vault.store = store
            value = vault.get_from_store(args.name, args.version)
        except (StoreError, VaultError):
            raise local_miss from None
        finally:
            store.close()
    _write_value(ctx, value)
    return EXIT_OK


def _list(args: argparse.Namespace, ctx: Context) -> int:
    vault = _vault(ctx, need_key=False)
    entries = vault.entries(include_deleted=args.all)
    if not entries:
        ctx.print(f"the vault {vault.path} is empty" if vault.exists() else f"no vault yet ({vault.path})")
        ctx.print("  add a value: squad-console vault put NAME --from-file FILE; "
                  "or move the workspaces' credentials: squad-console vault migrate --dry-run")
        return EXIT_OK
    rows = [["NAME", "VERSION", "KEPT", "UPDATED", "KEY", "FINGERPRINT", "SOURCE"]]
    for e in entries:
        latest = e.versions[-1] if e.versions else None
        rows.append([
            e.name + (" (removed)" if e.deleted else ""),
            f"v{e.latest}",
            ",".join(str(v.version) for v in e.versions),
            when(e.updated_at),
            latest.kid if latest else "-",
            latest.fingerprint if latest else "-",
            e.source or "-",
        ])
    ctx.print(f"vault {vault.path} (key {vault.kid()})")
    table(rows, ctx.out)
    return EXIT_OK


def _rm(args: argparse.Namespace, ctx: Context) -> int:
    store, why = _open_store(ctx)
    try:
        result = _vault(ctx, store).remove(args.name)
        ctx.print(f"removed {result.name} ({result.versions} version(s) kept in the file until overwritten)")
        _replication(ctx, result.replicated, result.note, store, why)
    finally:
        if store is not None:
            store.close()
    return EXIT_OK


def _exec(args: argparse.Namespace, ctx: Context) -> int:
    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise CommandError("no command to run", hint="squad-console vault exec --env CONVEX_DEPLOY_KEY=convex-deploy-key -- npx convex deploy",
                           code=EXIT_USAGE)
    from console.service.vault.errors import VaultExecRefused
    from console.service.vault.secrets import exec_environment, exec_mapping, resolve_command

    try:
        mapping = exec_mapping(args.env)
    except VaultExecRefused as exc:
        raise CommandError(exc.message, hint=exc.hint, code=EXIT_USAGE) from None
    program = resolve_command(cmd[0], ctx.env)  # this shell's PATH, never one from the vault
    if program is None:
        raise CommandError(f"command not found: {cmd[0]}", hint="it is looked up in this shell's PATH", code=127)
    vault = _vault(ctx)
    env = exec_environment(vault, ctx.env, mapping, clean=args.clean)
    try:
        ctx.out.flush()
        ctx.err.flush()
        return subprocess.run(cmd, executable=program, env=env).returncode
    except FileNotFoundError:
        raise CommandError(f"command not found: {cmd[0]}", code=127) from None
    except PermissionError:
        raise CommandError(f"cannot run {cmd[0]}: permission denied", code=126) from None


def _restore(args: argparse.Namespace, ctx: Context) -> int:
    from console.service.vault.files import atomic_write

    value = _vault(ctx).get(args.name, args.version, include_deleted=True)
    target = Path(args.to).expanduser()
    if target.exists() and not args.force:
        raise CommandError(f"{target} exists", hint="choose another path, or --force to overwrite it", code=EXIT_USAGE)
    if not target.parent.is_dir():
        raise CommandError(f"the folder {target.parent} does not exist", code=EXIT_USAGE)
    atomic_write(target, value, mode=0o600)
    ctx.print(f"restored {args.name} to {target} ({len(value)} bytes, mode 0600)")
    return EXIT_OK


def _deployment(ctx: Context):
    from console.service.wiring import open_deployment, open_store

    s = ctx.settings.store
    if s.kind != "convex" or not s.url or not s.deploy_key:
        return None
    return open_deployment(ctx.settings, open_store(s))


def _convex_key(args: argparse.Namespace, ctx: Context) -> int:
    from console.service.store import StoreError
    from console.service.vault import find_key

    key = find_key(ctx.env)
    dep = _deployment(ctx)
    if dep is None:
        raise CommandError("this needs the Convex deployment: CONVEX_URL and CONVEX_DEPLOY_KEY, with --store convex",
                           hint="squad-console --store convex vault convex-key " + args.what, code=EXIT_USAGE)
    try:
        if args.what == "set":
            dep.set(key)
            ctx.print(f"CONVEX_VAULT_KEY set in {dep.url} (key {key.kid})")
        try:
            kid, problem = dep.kid()
        except StoreError as exc:
            if args.what == "set":
                ctx.warn(f"squad-console: set, but not verified: {exc.message}")
                ctx.warn("  fix: deploy convex/ (npx convex deploy) so console/vault:kidCheck exists, then `vault convex-key verify`")
                return EXIT_OK
            raise
    finally:
        dep.store.close()
    if kid == key.kid:
        ctx.print(f"the deployment holds the same key ({kid})")
        return EXIT_OK
    have = f"key {kid}" if kid else (problem or "no CONVEX_VAULT_KEY")
    ctx.print(f"the deployment has {have}; this machine's key is {key.kid}")
    ctx.warn("  fix: squad-console --store convex vault convex-key set")
    return EXIT_FAIL


# ------------------------------------------------------------------------- migrate
def _migrate(args: argparse.Namespace, ctx: Context) -> int:
    from console.service.wiring import open_migration

    store, why = _open_store(ctx)
    try:
        m = open_migration(ctx.settings, ctx.env, store, need_key=not args.dry_run)
        if args.dry_run:
            return _show_plan(m, ctx, not m.vault.has_key)
        for dotpath, take in [(p, False) for p in args.leave_openclaw] + [(p, True) for p in args.take_openclaw]:
            m.choose(dotpath, take)  # recorded in the journal; the scan honours it
        return _run_migration(m, args, ctx, why)
    finally:
        if store is not None:
            store.close()


def _show_plan(m: Any, ctx: Context, no_key: bool) -> int:
    plan = m.plan()
    ctx.print("Dry run: nothing is changed.\n")
    ctx.print(f"Found ({len(plan.findings)}):")
    rows = [["PATH", "KIND", "SIZE", "MODE", "OWNER", "FINGERPRINT", "PLAN"]]
    for f in plan.findings:
        what = {"migrate": f"→ vault {f.entry}, then removed", "inline": f"→ vault {f.entry}, line {f.line} replaced",
                "openclaw": f"→ vault {f.entry}, then openclaw.json holds a SecretRef to it" + (
                    "" if f.chosen else " (LEFT: not chosen)"),
                "report": (f"LEFT IN PLAINTEXT, for a person: {f.reason}" if f.manual
                           else f"left alone: {f.reason}")}[f.action]
        rows.append([f.path + (f" {f.json_path}" if f.json_path else ""), f.kind if not f.code else f"openclaw {f.code}",
                     f"{f.size} B", f.mode + (" (others can read!)" if f.loose else ""), f.owner,
                     f.fingerprint or "-", what])
    table(rows, ctx.out)
    ctx.print("\nSteps:")
    for i, s in enumerate(plan.steps, 1):
        tag = " [destructive]" if s.destructive else ""
        ctx.print(f"  {i}. {s.title}{tag} ({s.status}): {s.description}")
    if plan.edits:
        ctx.print("\nWorkflow changes:")
        for e in plan.edits:
            ctx.print(f"  {e.path} (backup {e.backup}; owner and mode kept)")
            for line in e.diff.splitlines():
                ctx.print(f"    {line}")
    if plan.mentions:
        ctx.print("\nTo update by hand (these files are never edited):")
        for mention in plan.mentions:
            ctx.print(f"  {mention.path}:{mention.line}: {mention.text}")
            if mention.change:
                ctx.print(f"    change: {mention.change}")
    ctx.print("\nWarnings:")
    for w in plan.warnings:
        ctx.print(f"  - {w}")
    if no_key:
        ctx.print("\n(no vault key yet: `squad-console vault init` first, or export CONVEX_VAULT_KEY; the fingerprints "
                  "appear once there is a key, the same ones `vault list` shows)")
    ctx.print(f"\nRun it: squad-console vault migrate   (journal: {m.journal_path})")
    return EXIT_OK


def _run_migration(m: Any, args: argparse.Namespace, ctx: Context, store_note: str) -> int:
    if store_note:
        ctx.warn(f"squad-console: the store is not available ({store_note}): activities wait in the journal")
    interactive = sys.stdin is not None and sys.stdin.isatty()

    def confirm(step: Any) -> str | None:
        if args.yes:
            return step.confirm
        if not interactive:
            return None
        ctx.print(f"\n{step.title}: {step.description}")
        try:
            typed = input(f"type \"{step.confirm}\" to go on (anything else {'skips' if step.id == 'convex' else 'stops'}): ")
        except EOFError:
            return None
        return typed.strip()

    steps = m.steps()
    ids, total = [s.id for s in steps], len(steps)
    for i, step in enumerate(steps, 1):
        if step.status in ("done", "skipped"):
            ctx.print(f"[{i}/{total}] {step.id}: already {step.status}: {step.summary}")
    results = m.run_all(confirm)
    for r in results:
        ctx.print(f"[{ids.index(r.id) + 1}/{total}] {r.id}: {r.status}: {r.summary}")
        for d in r.details:
            ctx.print(f"    {d}")
    report = m.report()
    ctx.print("")
    ctx.print(f"stored: {', '.join(report.migrated) or 'nothing'}")
    ctx.print(f"verified: {len(report.verified)}   removed: {len(report.removed)}   "
              f"inline keys replaced: {len(report.rewritten)}   files updated: {len(report.references_updated)}")
    for line in report.left:
        ctx.print(f"still in plaintext: {line}")
    for mention in report.mentions:
        ctx.print(f"update by hand: {mention.path}:{mention.line}: {mention.text}")
        if mention.change:
            ctx.print(f"    change: {mention.change}")
    if report.rotate:
        ctx.print("rotate now:")
        for r in report.rotate:
            ctx.print(f"  - {r}")
    ctx.print(f"journal: {m.journal_path}")
    if report.done:
        ctx.print("migration complete: no plaintext credential left in the workspaces")
        return EXIT_OK
    last = results[-1] if results else None
    if report.left and all(s.status in ("done", "skipped") for s in report.steps):
        ctx.print(f"migration not complete: {len(report.left)} plaintext credential(s) left (listed above with why)")
        ctx.warn("squad-console: the migration is not complete: move what is listed by hand (or fix why it was "
                 "left), then run `squad-console vault migrate` again")
        return EXIT_FAIL
    if last is not None and last.status == "needs-confirmation":
        ctx.warn("squad-console: stopped before a destructive step: run again in a terminal to type the "
                 "confirmation, or pass --yes")
        return EXIT_FAIL
    if last is not None and last.status == "failed":
        ctx.warn(f"squad-console: step {last.id} failed: {last.summary}")
        ctx.warn("  fix: correct the cause, then run `squad-console vault migrate` again: it resumes from the journal")
    return EXIT_FAIL


# ----------------------------------------------------------------- OpenClaw's provider
def _provide(args: argparse.Namespace, ctx: Context) -> int:
    """One exec-provider request. Whatever happens: JSON on stdout and exit 0, or nothing on stdout,
    one line on stderr (never a value) and a non-zero exit; never a traceback."""
    from console.service.vault.provider import (
        EXIT_VAULT,
        Answer,
        answer,
        provider_vault,
        read_request,
    )

    try:
        from console.service.vault.files import check_data_folder
        from console.service.wiring import vault_path

        path = Path(args.vault_file).expanduser() if args.vault_file else vault_path(ctx.settings)
        check_data_folder(path.parent)
        stdin = sys.stdin.buffer if sys.stdin is not None and hasattr(sys.stdin, "buffer") else None
        request = read_request(stdin) if stdin is not None else b""
        result = answer(request, provider_vault(path, ctx.env))
    except ConsoleErrorBase as exc:
        result = Answer(b"", EXIT_VAULT, f"squad-console vault provide: {exc.describe()}")
    except Exception as exc:  # noqa: BLE001 - the type only: a message could quote what it read
        result = Answer(b"", EXIT_VAULT, f"squad-console vault provide: failed ({type(exc).__name__})")
    if result.stdout:
        _write_value(ctx, result.stdout)
    if result.error:
        ctx.warn(result.error)
    return result.exit_code


def _provider_config(args: argparse.Namespace, ctx: Context) -> int:
    import json

    from console.service.vault.provider import ALIAS_RE, PROVIDER_ALIAS, provider_config
    from console.service.wiring import vault_path

    alias = args.alias or PROVIDER_ALIAS
    if not ALIAS_RE.fullmatch(alias):
        raise CommandError(f"{alias[:80]!r} is not an OpenClaw provider alias",
                           hint="a-z, 0-9, _ and -, up to 64 characters, starting with a letter", code=EXIT_USAGE)
    source = ctx.settings.source
    entry = provider_config(vault_path(ctx.settings), command=args.program,
                            config_file=source if source is not None and Path(source).is_file() else None,
                            keyring=not args.no_keyring, pass_env=args.pass_env, timeout_ms=args.timeout_ms,
                            env=ctx.env)
    doc = entry if args.provider_only else {"secrets": {"providers": {alias: entry}}}
    ctx.print(json.dumps(doc, indent=2))
    if not args.provider_only:
        ctx.warn(f"point a credential at the vault with a SecretRef such as "
                 f'{{"source": "exec", "provider": "{alias}", "id": "NAME"}} (NAME: a vault entry; NAME#FIELD: '
                 "a member of a JSON entry); the gateway runs the provider at start and on `openclaw secrets reload`, "
                 "`openclaw secrets audit` and `apply` only with --allow-exec")
    return EXIT_OK
