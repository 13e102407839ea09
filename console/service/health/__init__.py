"""Agent health: is each agent's heartbeat on time, and since when.

- `slots`: the pure maths (cron slots, matching runs to slots, statuses, flips, uptime; `now`
  is always passed in);
- `cron`: cron expressions normalised before croniter sees them;
- `squad`: one agent's health from the store (the daemon's and `check`'s view);
- `book`: the console's running health book, fed by poll deltas and pruned as it goes.
"""
