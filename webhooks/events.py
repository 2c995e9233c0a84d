"""The domain events webhooks deliver (SPEC §9), chosen among those activities and timeframes
emit; the webhook outbox will subscribe to exactly these from `WebhooksConfig.ready()`."""

from activities.events import ACTIVITY_DELETED, ACTIVITY_UPDATED
from timeframes.events import TIMEFRAME_CREATED, TIMEFRAME_DELETED, TIMEFRAME_UPDATED

# "activity-created" is internal: nobody can have subscribed to an activity that did not exist yet.
WEBHOOK_ACTIVITY_EVENTS = frozenset({ACTIVITY_UPDATED, ACTIVITY_DELETED})
WEBHOOK_TIMEFRAME_EVENTS = frozenset({TIMEFRAME_CREATED, TIMEFRAME_UPDATED, TIMEFRAME_DELETED})
