"""Queue consumers as they report themselves: what each serves, on which device, whether alive.

`models.Worker` is one consumer process per queue (a row per host:pid:queue), kept fresh by
`heartbeat`; the admin, /healthz and the job page read it through generation.selectors. This
package imports nothing else of the app but generation.queues, so generation.models can
re-export the model.
"""
