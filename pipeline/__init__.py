"""dubline's domain: stages, the Script, timing, mixing, storage, configuration and the CLI.

Never imports Airflow: every stage is a plain function, run and tested without a scheduler.
"""

__version__ = "0.1.0"
