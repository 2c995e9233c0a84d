"""The domain events the devices app emits (see asi_api.events); higher apps react to them."""

from asi_api.events import event_define

# The ownership of device `device_id` by manager `user_id` no longer covers [start, end): a
# release ends it at `start` (end = OPEN_END), an admin may shorten or delete a period. Emitted
# in the same transaction, so timeframes cut what the window no longer covers (SPEC §4).
OWNERSHIP_ENDED = event_define("ownership-ended", about={"user_id", "device_id", "start", "end"})
