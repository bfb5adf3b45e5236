"""Generation pages, one module per concern: `create` (the Create page and its live feed),
`jobs` (My jobs, one job, cancel/retry/edit), `files` (image files and in-progress previews),
`moderation` (the staff queue), `health` (/healthz)."""
