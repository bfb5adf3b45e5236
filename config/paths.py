"""Where the install lives: the repository, and var/ (the database, media, keys) unless
QWEN_STUDIO_VAR_DIR moves it. Read by the settings and the feature settings alike."""

from pathlib import Path

from config.env import env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("QWEN_STUDIO_VAR_DIR", str(BASE_DIR / "var")))
