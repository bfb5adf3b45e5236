"""Jobs (one generation request each), the images they produce, and their moderation.

A package by subject: `visibility`, `jobs`, `images`, `edits`, `moderation`, `webhooks`. Every
model is re-exported here, so `from generation.models import Job` and the app's registry keep
working; the modules import one another from their own homes, never through this package.
"""

from generation.models.edits import EditInput
from generation.models.images import Image, Provenance
from generation.models.jobs import Job
from generation.models.moderation import BlockedTerm, ModerationDecision, Report
from generation.models.visibility import SHARED_VISIBILITIES, InConstants, Visibility
from generation.models.webhooks import WebhookDelivery, WebhookSecret

# Models of the prompt, preset and consumer packages, registered with this app from here, after
# the app's own (consumers report themselves in generation/consumers, which imports nothing here).
# isort: split
from generation.consumers.models import Worker
from generation.presets.models import Preset, PresetVersion
from generation.prompts.models import TeamPromptSettings

__all__ = [
    "SHARED_VISIBILITIES",
    "BlockedTerm",
    "EditInput",
    "Image",
    "InConstants",
    "Job",
    "ModerationDecision",
    "Preset",
    "PresetVersion",
    "Provenance",
    "Report",
    "TeamPromptSettings",
    "Visibility",
    "WebhookDelivery",
    "WebhookSecret",
    "Worker",
]
