"""The squad every benchmark starts from: one manager, his athletes (READ and WRITE granted
over a window) and his devices (owned from the window's start), written in bulk."""

from datetime import datetime


def squad_create(
    name: str,
    *,
    athletes: int,
    devices: int,
    since: datetime,
    until: datetime,
    device_base: int = 0,
    profile: dict | None = None,
) -> tuple[object, list, list]:
    """(manager, athletes, devices): users `bench-{name}-manager` and `bench-{name}-athlete-{i}`
    (athlete profiles with `profile`'s extra fields), devices named `{device_base + i:012x}`
    with serials `{NAME}-{i}`. Returns model instances with their ids."""
    from devices.models import Device, DeviceOwnership
    from users.models import AthletePermission, AthleteProfile, ManagerProfile, Role, User

    manager = User.objects.create_user(f"bench-{name}-manager", role=Role.MANAGER)
    ManagerProfile.objects.create(user=manager, first_name=name.title(), last_name="Manager")
    squad = [
        User.objects.create_user(f"bench-{name}-athlete-{i}", role=Role.ATHLETE)
        for i in range(athletes)
    ]
    AthleteProfile.objects.bulk_create(
        AthleteProfile(user=a, first_name=f"Player {i}", last_name="Bench", **(profile or {}))
        for i, a in enumerate(squad)
    )
    AthletePermission.objects.bulk_create(
        AthletePermission(
            athlete=a,
            manager=manager,
            permission=kind,
            start_time=since,
            expiration_time=until,
            granted_by=a,
        )
        for a in squad
        for kind in ("READ", "WRITE")
    )
    worn = Device.objects.bulk_create(
        Device(
            device_name=f"{device_base + i:012x}",
            serial_number=f"{name.upper()}-{i}",
            is_active=True,
        )
        for i in range(devices)
    )
    DeviceOwnership.objects.bulk_create(
        DeviceOwnership(device=d, manager=manager, start_time=since) for d in worn
    )
    return manager, squad, worn
