"""A team's prompt settings: its own system prompts for the enhancer (blank: ours)."""

from django.conf import settings
from django.db import models


class TeamPromptSettings(models.Model):
    team = models.OneToOneField(
        "accounts.Team", on_delete=models.CASCADE, related_name="prompt_settings"
    )
    system_prompt_en = models.TextField(
        blank=True, help_text="For prompts in Latin script (and any but Chinese). Blank: ours."
    )
    system_prompt_zh = models.TextField(blank=True, help_text="For Chinese prompts. Blank: ours.")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "team prompt settings"
        verbose_name_plural = "team prompt settings"

    def __str__(self) -> str:
        return f"Prompt settings of {self.team}"

    def custom(self) -> dict[str, str]:
        return {"en": self.system_prompt_en.strip(), "zh": self.system_prompt_zh.strip()}
