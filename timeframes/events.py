"""The domain events the timeframes app emits (see asi_api.events); higher apps react to them.

Each carries the timeframe's activity too: webhooks are configured per activity (SPEC §9).
"""

from asi_api.events import event_define

TIMEFRAME_CREATED = event_define("timeframe-created", about={"activity_id", "timeframe_id"})
TIMEFRAME_UPDATED = event_define("timeframe-updated", about={"activity_id", "timeframe_id"})
# Emitted before the row goes, so in-transaction handlers can still read it.
TIMEFRAME_DELETED = event_define("timeframe-deleted", about={"activity_id", "timeframe_id"})
