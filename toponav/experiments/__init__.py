"""Training and benchmark drivers (``toponav train ...``, ``toponav bench ...``); may import sim, models and core."""
