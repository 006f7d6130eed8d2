"""Evaluation: likelihood benchmarks (sWUGGY, sBLIMP, SALMon, tWUGGY, tBLIMP, StoryCloze, HellaSwag),
ASR / TTS / continuation by prompting, offline benchmark builders, reports and a training callback.

See docs/evaluation.md. Entry points: ``audiolm prepare benchmarks``, ``audiolm eval``,
:func:`audiolm.eval.tasks.run_tasks`, :class:`audiolm.eval.callback.EvalCallback`.
"""
