"""Crisis exercises: scenarios (chronogrammes of injects) played on a simulated tenant.

    scenario.py    the scenario model and loader (FILE:LINE:COL diagnostics)
    generated.py   communes made up for scale
    injects.py     what each inject does: the production operations, in-process
    run.py         the runner: the exercise clock, the schedule, events, time to operational
    chart.py       the timeline chart (matplotlib)
    report.py      the French report through the document mechanism

The package imports neither the simulator nor the environment: the CLI gives it the
simulated tenant's control surface, the store and the Graph client.
"""
