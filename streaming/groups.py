"""Channel-layer group names, shared by the publishers (ingestion, analytics) and the consumers.

Group names may hold ASCII letters, digits, hyphens, underscores and periods (< 100 chars).
"""


def device_group(device_id: int) -> str:
    """The group of a device's preprocessed stream (SPEC §8 `/ws/v1/preprocessed-data/{device}/`)."""
    return f"preprocessed.device.{device_id}"
