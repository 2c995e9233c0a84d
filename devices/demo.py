"""Demo devices of `make run`: alice owns two since a month ago, one is waiting to be activated."""

from datetime import timedelta

from django.utils import timezone

from devices.models import OPEN_END, Device, DeviceOwnership
from devices.services import device_activate
from users.models import User

DEVICES = [
    # (device_name, serial_number, custom_name, owned by alice)
    ("a1b2c3d4e5f6", "ASI-0001", "Vest 1", True),
    ("a1b2c3d4e5f7", "ASI-0002", "Vest 2", True),
    ("a1b2c3d4e5f8", "ASI-0003", "", False),
]


def load() -> list[str]:
    alice = User.objects.get(username="alice")
    since = timezone.now() - timedelta(days=30)
    lines = ["", "  Devices (device name / serial number):"]
    for device_name, serial, custom_name, owned in DEVICES:
        device, _ = Device.objects.update_or_create(
            device_name=device_name,
            defaults={"serial_number": serial, "custom_name": custom_name},
        )
        # Reset: the demo's ownership story starts over on every load.
        DeviceOwnership.objects.filter(device=device).delete()
        Device.objects.filter(pk=device.pk).update(is_active=False, activated_at=None)
        if owned:
            DeviceOwnership.objects.create(
                device=device, manager=alice, start_time=since, end_time=OPEN_END
            )
            device_activate(device=device, at=since)
        owner = "owned by alice" if owned else "unowned: take it at /device-activation/"
        lines.append(f"    {device_name} / {serial:10} id {device.pk}, {owner}")
    return lines
