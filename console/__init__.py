"""squad-console: a terminal console for running a squad of OpenClaw agents."""

__version__ = "0.1.0"
