"""Development helpers: the embedded Redis-compatible server and the demo data."""
