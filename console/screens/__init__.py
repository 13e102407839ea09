"""One module per screen (arrives with the console issue)."""
