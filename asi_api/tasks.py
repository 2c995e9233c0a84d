from celery import shared_task

from asi_api.scheduling import run_job


@shared_task(name="asi_api.tasks.run_periodic", acks_late=True, ignore_result=True)
def run_periodic(name: str) -> None:
    """Run the registered periodic job `name` (see asi_api.scheduling)."""
    run_job(name)
