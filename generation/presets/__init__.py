"""Presets: named, versioned sets of generation settings with a prompt template, personal or
shared with a team (team admins approve the shared ones)."""
