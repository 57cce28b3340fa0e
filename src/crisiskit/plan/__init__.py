"""Plans: desired state, observation, and the diff that turns them into steps (no writes).

    model.py       Step, Ref, Plan: plans as data, for every operation
    desired.py     the desired kit of one commune (inventory + playbook + loans)
    observe.py     what the tenant holds of that kit, read with the resources' read verbs
    diff.py        desired vs observed → the activation's steps, payloads and dependencies
    activation.py  the activation plan's pre-checks (convention, seats, devices, conflicts)
"""
