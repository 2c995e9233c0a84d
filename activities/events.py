"""The domain events the activities app emits (see asi_api.events); higher apps react to them."""

from asi_api.events import event_define

ACTIVITY_CREATED = event_define("activity-created", about={"activity_id"})
ACTIVITY_UPDATED = event_define("activity-updated", about={"activity_id"})
# Emitted before the row goes, after the "timeframe-deleted" of each of its timeframes.
ACTIVITY_DELETED = event_define("activity-deleted", about={"activity_id"})
