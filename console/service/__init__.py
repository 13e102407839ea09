"""The service layer: stores, polling, OpenClaw, vault, pipeline. Never imports Textual."""
