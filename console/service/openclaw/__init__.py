"""The OpenClaw adapter: what the console reads of an OpenClaw installation, and how.

Everything here reads an OpenClaw state folder (`~/.openclaw`, reference §1) and/or calls the
`openclaw` CLI through a *runner* (see `runner`). No Textual here (DESIGN §2). Secrets: the
gateway token is kept in a `repr=False` field and never put in a message, an exception or a log;
every text that came from OpenClaw goes through `runner.redact()` before it is shown.

What lives where (import from the module; this package re-exports nothing):
- `errors`: OpenClawError (under console.errors.ConsoleError).
- `runner`: Runner, subprocess_runner, default_runner, resolve_runner, cli_failure, redact, CLI.
- `loose_json`: tolerant readers of the JSON OpenClaw writes and prints (parse_json_output, pick, ...).
- `config`: openclaw.json → OpenClawConfig / OpenClawAgent (load_openclaw_config), DEFAULT_PORT.
- `cron`: CronJob, CronRun, CronState, ... (parse_job, parse_run, load_cron), heartbeat_jobs,
  run_to_heartbeat.
- `gateway`: gateway_url (the one URL the console probes), probe_gateway / GatewayHealth.
- `channels`: channel_status / ChannelStatus (WhatsApp accounts linked, connected).
- `cron_commands`: the `openclaw cron add` argv for a heartbeat job (cron_add_command,
  heartbeat_message, fires_at_top_of_hour, format_command) and compare_job.
- `diagnose`: diagnose / Cause, why an agent's heartbeats fail, with the commands that fix it.
- `registry`: openclaw_agent_specs, the agent registry's one import path from openclaw.json.
- `job_snapshot`: the squad's heartbeat jobs as last collected (kept in the store's audit log),
  compared at every collection: a job gone or blanked by an upgrade (JobLoss).
- `probe`: probe_openclaw / OpenClawProbe, the one look at OpenClaw `check`, the TUI share.
"""
