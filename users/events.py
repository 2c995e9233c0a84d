"""The domain events the users app emits (see asi_api.events); higher apps react to them."""

from asi_api.events import event_define

# A user is about to be deleted, whatever his role: emitted in the deleting transaction while
# his row still exists, so devices can release what he owns, activities delete what he owns
# (announcing it) and timeframes announce the deletion of his athlete timeframes (SPEC §3).
USER_DELETING = event_define("user-deleting", about={"user_id"})

# The profile values analytics computes with (ATHLETE_METRIC_FIELDS: max and resting heart
# rate, gender, birth date) changed for athlete `user_id`: his computed data is recomputed.
ATHLETE_PROFILE_UPDATED = event_define("athlete-profile-updated", about={"user_id"})
ATHLETE_METRIC_FIELDS = ("max_heart_rate", "resting_heart_rate", "gender", "birth_date")
