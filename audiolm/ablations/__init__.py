"""The ablation study of SODA's design choices at CPU scale (``audiolm ablations ...``).

``spec`` reads the study file (``recipes/ablations/study.yaml``), ``runner`` trains and evaluates
its runs (resumable, a few in parallel), ``results`` turns each finished run into one row of
``results.csv``, ``summary`` turns the rows into per-axis tables, verdicts and plots.
"""
