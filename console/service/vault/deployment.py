"""The Convex deployment's copy of the vault key: setting CONVEX_VAULT_KEY there (Convex's
environment-variable API) and comparing key ids through console/vault:kidCheck.

The key travels only in the JSON body of the one request that sets it; it never comes back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from console.service.vault.errors import VaultError
from console.service.vault.keys import KEY_ENV, VaultKey

ENV_VAR_PATH = "/api/v1/update_environment_variables"


def set_deployment_key(url: str, deploy_key: str, key: VaultKey, *, timeout: float = 10.0,
                       transport: Any | None = None) -> None:
    """Sets CONVEX_VAULT_KEY in the deployment (POST /api/v1/update_environment_variables with
    `Authorization: Convex <deploy key>`). The key travels only in that request's JSON body."""
    import httpx

    if not url or not url.startswith(("http://", "https://")):
        raise VaultError("the Convex deployment URL is not set",
                         hint="set CONVEX_URL (or [store] url) to the deployment URL")
    if not deploy_key:
        raise VaultError("no Convex deploy key is configured",
                         hint="set CONVEX_DEPLOY_KEY to a deploy key with the right to write environment variables")
    body = json.dumps({"changes": [{"name": KEY_ENV, "value": key.hex()}]})
    where = f"{url.rstrip('/')}{ENV_VAR_PATH}"
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client:
            response = client.post(where, content=body, headers={
                "Authorization": f"Convex {deploy_key}", "Content-Type": "application/json",
                "Convex-Client": "squad-console"})
    except httpx.HTTPError as exc:
        raise VaultError(f"cannot reach {url} to set {KEY_ENV}: {type(exc).__name__}",
                         hint="check CONVEX_URL and the network") from None
    if response.status_code in (401, 403):
        raise VaultError(f"{url} refused the deploy key ({response.status_code}) when setting {KEY_ENV}",
                         hint="the deploy key needs the right to write environment variables (deployment:env:write)")
    if response.status_code >= 300:
        try:
            data = response.json()
            text = f"{data.get('code', '')}: {str(data.get('message', ''))[:200]}"
        except (ValueError, AttributeError):
            text = response.reason_phrase
        raise VaultError(f"{url} did not set {KEY_ENV} ({response.status_code} {text})",
                         hint="check CONVEX_URL (the deployment URL) and the deploy key")


@dataclass
class Deployment:
    """The Convex deployment the vault key may be set in: its URL, a deploy key, and a store
    that can call console/vault:kidCheck."""

    url: str
    deploy_key: str = field(repr=False)
    store: Any = None
    transport: Any = None

    def kid(self) -> tuple[str | None, str]:
        """(the deployment's kid or None, the problem in words)."""
        out = self.store.vault_kid_check()
        return out.get("kid"), str(out.get("problem") or "")

    def set(self, key: VaultKey) -> None:
        set_deployment_key(self.url, self.deploy_key, key, transport=self.transport)
