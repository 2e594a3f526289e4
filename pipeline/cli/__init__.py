"""The `dubline` command (typer): one module per command group, one progress printer, and the runner
that executes a DAG in-process with `dag.test()`. The top of `pipeline`: it may import any package of it,
and nothing of `pipeline` imports it.
"""
