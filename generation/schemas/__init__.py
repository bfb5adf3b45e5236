"""API request and response shapes for generation (the rules stay in GenerationParams).

Split by subject: fields (the generation fields and the OpenAI images body), edits, images,
jobs, prompts (enhancement and presets) and openapi (the limits written into the document).
Every public name is re-exported here, so `from generation.schemas import JobOut` keeps working.
"""

from generation.schemas.edits import (
    EDIT_MASK_PATTERN,
    EDIT_SOURCE_PATTERN,
    EditIn,
    EditParamsOut,
    EditSourceOut,
)
from generation.schemas.fields import (
    GenerationFieldsIn,
    ImageGenerationIn,
    SizeIn,
    example_body,
)
from generation.schemas.images import ImageDataOut, ImageOut, ImagesResponseOut
from generation.schemas.jobs import (
    CostOut,
    EnhancementOut,
    EstimateCostOut,
    EstimateOut,
    EstimateUsageOut,
    JobErrorOut,
    JobIn,
    JobListOut,
    JobOut,
    JobParamsOut,
    JobUsageOut,
    PresetRefOut,
    RefusalOut,
    SizeOut,
    WebhookDeliveryOut,
    WebhookOut,
    WebhookSecretOut,
)
from generation.schemas.openapi import (
    GENERATION_BODIES,
    generation_field_schemas,
    openapi_constraints,
)
from generation.schemas.prompts import (
    EnhanceIn,
    EnhanceOut,
    PresetIn,
    PresetListOut,
    PresetOut,
    PresetUpdateIn,
    PresetValues,
)

__all__ = [
    "EDIT_MASK_PATTERN",
    "EDIT_SOURCE_PATTERN",
    "GENERATION_BODIES",
    "CostOut",
    "EditIn",
    "EditParamsOut",
    "EditSourceOut",
    "EnhanceIn",
    "EnhanceOut",
    "EnhancementOut",
    "EstimateCostOut",
    "EstimateOut",
    "EstimateUsageOut",
    "GenerationFieldsIn",
    "ImageDataOut",
    "ImageGenerationIn",
    "ImageOut",
    "ImagesResponseOut",
    "JobErrorOut",
    "JobIn",
    "JobListOut",
    "JobOut",
    "JobParamsOut",
    "JobUsageOut",
    "PresetIn",
    "PresetListOut",
    "PresetOut",
    "PresetRefOut",
    "PresetUpdateIn",
    "PresetValues",
    "RefusalOut",
    "SizeIn",
    "SizeOut",
    "WebhookDeliveryOut",
    "WebhookOut",
    "WebhookSecretOut",
    "example_body",
    "generation_field_schemas",
    "openapi_constraints",
]
