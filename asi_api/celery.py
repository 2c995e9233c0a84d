"""The Celery application. Tasks are discovered in each app's `tasks.py`.

Periodic work is registered with `asi_api.scheduling.periodic`; beat runs the registry through
`asi_api.tasks.run_periodic` in service mode, and the embedded runner does the same in-process.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asi_api.settings")

app = Celery("asi_api")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _schedule_periodic_jobs(sender: Celery, **kwargs) -> None:
    from asi_api.scheduling import registered_jobs

    for job in registered_jobs():
        sender.add_periodic_task(
            job.every_seconds,
            sender.signature("asi_api.tasks.run_periodic", args=(job.name,)),
            name=job.name,
        )
