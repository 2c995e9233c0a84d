"""Demo timeframes of `make run`: carol and dave wear alice's two vests in the demo activity.

Their windows run from an hour ago to two hours from now, so a gateway (or `simulate_match`)
streaming now feeds live analytics at once. carol and dave give alice WRITE and READ over the
demo month for that (the grants are created here when missing: timeframes need them).
"""

from datetime import timedelta

from django.utils import timezone

from activities.demo import DEMO_ACTIVITY
from activities.models import Activity
from devices.models import Device
from timeframes.models import Timeframe
from timeframes.services import timeframe_create, timeframe_delete
from users.models import PermissionKind, User
from users.selectors import manager_holds
from users.services import permission_create

WEARERS = [("carol", "a1b2c3d4e5f6"), ("dave", "a1b2c3d4e5f7")]


def load() -> list[str]:
    alice = User.objects.get(username="alice")
    activity = Activity.objects.get(name=DEMO_ACTIVITY, owner=alice)
    now = timezone.now().replace(microsecond=0)
    start, end = now - timedelta(hours=1), now + timedelta(hours=2)
    lines = ["", "  Timeframes (live now, in the demo activity):"]
    for username, device_name in WEARERS:
        athlete = User.objects.get(username=username)
        device = Device.objects.get(device_name=device_name)
        for permission in (PermissionKind.WRITE, PermissionKind.READ):
            holds = manager_holds(
                manager=alice, athlete_id=athlete.pk, permission=permission, start=start, end=end
            )
            if not holds:
                permission_create(
                    actor=athlete,
                    athlete=athlete,
                    manager=alice,
                    permission=permission,
                    start_time=now - timedelta(days=30),
                    expiration_time=now + timedelta(days=30),
                )
        # Reset: the demo's timeframes start over on every load (through the service, so the
        # analytics and webhooks hear about it).
        for old in Timeframe.objects.filter(device=device, end_time__gt=start):
            timeframe_delete(actor=old.owner, timeframe=old)
        timeframe = timeframe_create(
            actor=alice,
            start_time=start,
            end_time=end,
            device=device,
            activity=activity,
            athlete=athlete,
        )
        lines.append(
            f"    {timeframe.pk}: {username} wearing {device_name}, "
            f"activity {activity.pk}, {start:%H:%M}–{end:%H:%M} UTC"
        )
    return lines
