from django.conf import settings

from asi_api.scheduling import periodic
from devices.samples import partitions_ensure


@periodic(every_seconds=3600)
def sample_partitions_ensure() -> None:
    """Create the samples table's monthly partitions ahead of time (quick when they exist)."""
    partitions_ensure(months_ahead=settings.SAMPLES_PARTITIONS_AHEAD)
