"""The engine: runs any plan, inside one run lifecycle, with a context it is given.

    context.py   Setup, Context (store, shared Graph client, clock, wait scale, lock, operator)
    run.py       the run lifecycle: lock, interrupted runs, start/finish, audit of every write
    executor.py  the one executor: dependency order, coalesced batches, skips, dispatch
    writes.py    declared creates (never duplicated) and writes (settled, confirmed)
    session.py   what verbs report through: results, events, journal, credentials sink
    journal.py   steps, created ids and audit entries, through the state store
    activation.py, report.py, handover.py   the activation operation, its outcome, documents
    status.py    the read-only status of a kit
"""
