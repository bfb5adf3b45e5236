"""Retention: the trash (images, jobs), legal holds, team storage quotas, the purge that
removes rows and files together, and the storage audit. Import from here.

Collections live in the gallery, which trashes and purges them on top of these.
"""

from generation.retention.audit import AuditReport, storage_audit  # noqa: F401
from generation.retention.files import storage_delete  # noqa: F401
from generation.retention.holds import (  # noqa: F401
    LegalHoldActive,
    image_held_q,
    image_is_held,
    job_is_held,
    user_is_held,
)
from generation.retention.purge import PurgeReport, images_purge, jobs_purge  # noqa: F401
from generation.retention.quota import (  # noqa: F401
    StorageQuotaExceeded,
    StorageStatus,
    storage_check,
    storage_status,
)
from generation.retention.trash import (  # noqa: F401
    images_delete_permanently,
    images_restore,
    images_trash,
    jobs_delete_permanently,
    jobs_restore,
    jobs_trash,
    trash_cutoff,
    trashed_images_of,
    trashed_jobs_of,
)
