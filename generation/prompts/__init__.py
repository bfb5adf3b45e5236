"""Prompts that work: the enhancer (rewrite a prompt by Qwen's rules on a chat model or a small
local one), its rules and system prompts, and the per-team prompt settings."""
