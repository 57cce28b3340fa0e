"""Graph resource kinds: natural keys, read requests, create payloads and lookups, as data.

One module per kind (`directory` for users and licences, `groups`, `teams`, `sharepoint`,
`authmethods`, `mailbox`). They build `crisiskit.resources.base.Req` values; the observer and
the engine send them. Nothing here performs I/O.
"""
