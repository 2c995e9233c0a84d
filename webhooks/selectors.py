"""Who manages which webhooks (SPEC §9): the activity's owner, and admins. For anyone else the
activity's webhooks do not exist (404), even when he may read the activity itself."""

from django.db.models import QuerySet

from activities.models import Activity
from activities.selectors import activities_visible_to
from asi_api.fields import MAX_ID
from users.models import User
from webhooks.models import Delivery, Webhook


def activities_with_webhooks_of(user: User) -> QuerySet[Activity]:
    """The activities whose webhooks `user` manages: his own; every one for admins."""
    activities = activities_visible_to(user)
    return activities if user.is_admin else activities.filter(owner=user)


def activity_for_webhooks(user: User, activity_id: int) -> Activity | None:
    """The activity `activity_id` if `user` manages its webhooks, else None (a 404)."""
    if not 1 <= activity_id <= MAX_ID:
        return None
    return activities_with_webhooks_of(user).filter(pk=activity_id).first()


def webhooks_of(activity: Activity) -> QuerySet[Webhook]:
    """The webhooks of an activity already reached through `activity_for_webhooks`."""
    return Webhook.objects.filter(activity=activity)


def deliveries_of(webhook: Webhook) -> QuerySet[Delivery]:
    """The delivery log of a webhook already reached through `webhooks_of`."""
    return Delivery.objects.filter(webhook=webhook)
