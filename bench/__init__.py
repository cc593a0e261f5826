"""`make bench` (`python -m bench`): the project's patient workflows measured against a trivial-workflow floor,
on one embedded Temporal dev server, plus history size, replay, worker memory, trial-record appends and a
time-skipping cohort. Targets live in `bench/targets.py`; the method is described in docs/performance.md.
"""
