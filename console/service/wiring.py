"""The composition root: opening the configured store, the vault and the credential migration
from the settings and the environment (no Textual here either: the CLI, the daemon and the app
share it). Opening the store may read the deploy key from the vault; the vault never needs the
store to open (a store is handed to it afterwards, for replication only)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from console.config import Settings, StoreSettings
from console.service.store import Store, StoreAuthError, StoreError

if TYPE_CHECKING:
    from console.service.vault import Vault
    from console.service.vault.deployment import Deployment
    from console.service.models import Agent
    from console.service.vault.migration import Migration

VAULT_ENTRY = "convex-deploy-key"


def deploy_key_from_vault(settings: StoreSettings, env: Mapping[str, str] | None = None) -> str | None:
    """The deploy key kept in the vault (entry `convex-deploy-key`), when there is a vault and a
    key to open it; None otherwise (the caller then says how to give one)."""
    path = vault_path(settings)
    if not path.exists():
        return None
    from console.service.vault import Vault, VaultError, find_key
    from console.service.vault.secrets import secret_value

    try:
        key = find_key(os.environ if env is None else env)  # a vault without a store: no recursion
        return secret_value(Vault(path, key=key).get(VAULT_ENTRY), VAULT_ENTRY).decode("utf-8") or None
    except (VaultError, UnicodeDecodeError):
        return None


def call_counter(settings: StoreSettings):
    """The Convex calls of this installation, counted beside the local store (store/calls.py)."""
    from console.service.store.calls import FILE, CallCounter

    return CallCounter(settings.local_path().parent / FILE)


def open_store(settings: StoreSettings, env: Mapping[str, str] | None = None) -> Store:
    if settings.kind == "convex":
        from console.service.store.convex import KEY_HINT, ConvexStore  # httpx only when needed

        if not settings.url:
            raise StoreError(
                "the Convex store needs the deployment URL",
                hint="set CONVEX_URL (or [store] url in squad.toml), or use --store local",
            )
        key = settings.deploy_key or deploy_key_from_vault(settings, env)
        if not key:
            raise StoreAuthError(
                "no Convex deploy key is configured",
                hint=KEY_HINT + f"; or keep it in the vault: squad-console vault put {VAULT_ENTRY}",
            )
        return ConvexStore(settings.url, key, timeout=settings.timeout, counter=call_counter(settings))
    from console.service.store.sqlite import LocalStore

    return LocalStore(settings.local_path())


# =============================================================================== the vault
# The vault file, the vault, the Convex deployment's key and the credential migration, opened
# from the settings (the vault screen, `squad-console vault ...` and the overview use these).
VAULT_FILE = "vault.json"
_OVERVIEW_SALT = b"squad-console overview scan"  # fingerprints the overview never shows


def vault_path(settings: Settings | StoreSettings) -> Path:
    """The vault file: `vault.json` beside the local store's database (the [store] path decides
    the folder), whichever store is in use."""
    store = settings.store if isinstance(settings, Settings) else settings
    return store.local_path().parent / VAULT_FILE


def open_vault(settings: Settings | StoreSettings, env: Mapping[str, str] | None = None, *,
               store: Store | None = None, need_key: bool = True) -> Vault:
    """The vault, its key found now (`need_key`: VaultKeyMissing when there is none) or when a
    value is first read or written; `store` receives the ciphertext copies."""
    from console.service.vault import Vault, find_key

    env = os.environ if env is None else env
    key = find_key(env) if need_key else None
    return Vault(vault_path(settings), key=key, key_provider=lambda: find_key(env), store=store)


def open_deployment(settings: Settings, store: Store | None) -> Deployment | None:
    """The Convex deployment the vault key may be set in, or None when the store is local (or
    the deploy key or the store is missing)."""
    from console.service.vault.deployment import Deployment

    s = settings.store
    if s.kind != "convex" or not s.deploy_key or store is None:
        return None
    return Deployment(s.url or "", s.deploy_key, store)


def open_migration(settings: Settings, env: Mapping[str, str] | None, store: Store | None, *,
                   need_key: bool = False) -> Migration:
    """The credential migration of the configured agents' workspaces into the vault, with the
    deployment when the store is Convex. Without a key (and `need_key` false) the plan (dry run)
    still works; the steps that need the key say how to give one."""
    from console.service.vault import VaultKeyMissing, find_key
    from console.service.vault.migration import Migration

    env = os.environ if env is None else env
    vault = open_vault(settings, env, store=store, need_key=False)
    try:
        vault.set_key(find_key(env))
    except VaultKeyMissing:
        if need_key:
            raise
    try:
        stored = store.list_agents() if store is not None else []
    except StoreError:  # the store is away: squad.toml's workspaces only
        stored = []
    return Migration(migration_workspaces(settings, stored), store, vault, deployment=open_deployment(settings, store),
                     openclaw=open_openclaw_secrets(settings, env))


def openclaw_config_path(settings: Settings, env: Mapping[str, str] | None = None) -> tuple[Path, Path]:
    """(OpenClaw's state folder, its openclaw.json) as the console reads them: OPENCLAW_STATE_DIR /
    OPENCLAW_CONFIG_PATH in `env` win over [openclaw] in squad.toml."""
    env = os.environ if env is None else env
    oc = settings.openclaw
    state = Path(env["OPENCLAW_STATE_DIR"]).expanduser() if env.get("OPENCLAW_STATE_DIR") else oc.state_dir
    if env.get("OPENCLAW_CONFIG_PATH"):
        return state, Path(env["OPENCLAW_CONFIG_PATH"]).expanduser()
    if oc.config_path is None or oc.config_path == oc.state_dir / "openclaw.json":
        return state, state / "openclaw.json"
    return state, oc.config_path


def open_openclaw_secrets(settings: Settings, env: Mapping[str, str] | None = None):
    """`openclaw secrets` for the configured openclaw.json (console.service.vault.openclaw_secrets),
    or None when the `openclaw` CLI is not on PATH or there is no openclaw.json. The CLI runs with
    the same state folder and config the console reads, and with this environment (the vault key
    reaches the vault's exec provider from it, through passEnv)."""
    from console.service.vault import VaultError
    from console.service.vault.openclaw_secrets import OpenClawSecrets, default_cli, read_config
    from console.service.vault.provider import PROVIDER_ALIAS, ProviderConfigError, check_command, provider_config

    env = dict(os.environ if env is None else env)
    state, config = openclaw_config_path(settings, env)
    if not config.is_file():
        return None
    env.update(OPENCLAW_STATE_DIR=str(state), OPENCLAW_CONFIG_PATH=str(config))
    runner = default_cli(env)
    if runner is None:
        return None
    vault_file = vault_path(settings)
    source = settings.source if settings.source is not None and Path(settings.source).is_file() else None

    def provider() -> dict:
        """The operator's own `secrets.providers.squadvault` entry when openclaw.json has one that
        OpenClaw would run (set up with `vault provider-config --command/--pass-env/...`), else the
        one `vault provider-config` prints for this console (its squad.toml included)."""
        try:
            mine = ((read_config(config).get("secrets") or {}).get("providers") or {}).get(PROVIDER_ALIAS)
            if isinstance(mine, dict) and mine.get("source") == "exec" and isinstance(mine.get("command"), str):
                check_command(mine["command"], trusted_dirs=mine.get("trustedDirs") or (),
                              pass_env=mine.get("passEnv") or ())
                return mine
        except (VaultError, ProviderConfigError, TypeError):
            pass
        return provider_config(vault_file, env=env, config_file=source)

    return OpenClawSecrets(runner, config, alias=PROVIDER_ALIAS, provider=provider, env=env)


def migration_workspaces(settings: Settings, stored: Iterable[Agent] = ()) -> list[tuple[str, Path]]:
    """The workspaces the migration scans: squad.toml's agents', then those of the agents only in
    the store (imported from openclaw.json), so an imported agent's credentials are not missed."""
    from console.service.vault.scan import workspaces_from_settings

    out = workspaces_from_settings(settings)
    known = {agent_id for agent_id, _ in out}
    return out + [(a.agent_id, Path(a.workspace).expanduser()) for a in sorted(stored, key=lambda a: a.agent_id)
                  if a.workspace and a.agent_id not in known]


def plaintext_credentials_check(settings: Settings,
                                stored: Callable[[], Iterable[Agent]] = tuple) -> Callable[[], list[Path]]:
    """The overview's "no plaintext credentials" criterion: each call rescans the workspaces the
    migration scans (migration_workspaces: `stored()` gives the store's agents, as last polled)
    with its own scanner and rules (re-reading only changed files) and returns the files the
    migration would take credentials out of."""
    from console.service.vault.migration import journal_path_for
    from console.service.vault.scan import Scanner, plaintext_credentials

    scanner = Scanner(_OVERVIEW_SALT)
    vault = vault_path(settings)
    skip = (vault, journal_path_for(vault))

    def check() -> list[Path]:
        return plaintext_credentials(scanner.scan(migration_workspaces(settings, stored()), skip=skip))

    return check
