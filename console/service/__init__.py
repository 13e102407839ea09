"""The service layer: everything the console does, with no Textual, Rich, screens or widgets below
it (import-linter checks it). Subject packages: `store/` (the contract, SQLite, Convex, outbox, the
activity wording), `health/` (slots, uptime, the health book), `openclaw/` (OpenClaw's CLI, config,
jobs, gateway, diagnosis), `vault/` (the encrypted vault and the migration), `pipeline/` (feeds,
market, survey, decision). Beside them: `tasks` (task rules), `poller` and `watch` (what the screens
draw), `vault_view`, `daemon`, `demo`, and `wiring`, the composition root."""
