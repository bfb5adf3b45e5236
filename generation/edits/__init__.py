"""Editing: an edit is a job whose sources (1 to EDIT_MAX_IMAGES pictures, the first one edited,
and an optional mask over it) are validated, normalised and stored with it.

- sources.py: untrusted uploads and gallery picks → normalised PNGs (`Picture`), an
  `PreparedEdit` that names them in GenerationParams' `edit`; every refusal is an
  `EditInputError` that says which input and why.
- store.py: the job's own copies (EditInput rows and files), written by job_create, read back
  by the worker, reused by a reseed; files go with their rows.
- run.py: the worker's side: the backend request with the stored bytes, the safety check of
  uploads, the mask applied to each result (pixels outside it stay the source's), the sources
  for provenance.
- signed.py: short-lived signed URLs of a job's inputs, for providers that fetch them.
- selectors.py: lineage ("edited from", "edits of") and which inputs a viewer may see.

The pages, API and form live beside generation's own (views/edits.py, edit_api.py,
edit_forms.py); the backends' side is generation/backends (demo.py, local_edit/,
remote/edit.py). See docs/editing.md.
"""
