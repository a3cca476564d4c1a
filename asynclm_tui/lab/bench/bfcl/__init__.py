"""The BFCL benchmark: the AsyncLM paper's latency experiments on this engine.

Modules: :mod:`data` (tasks from the bfcl-eval wheel), :mod:`latency` (drawn
execution times), :mod:`tools` (calls that really run), :mod:`oracle` (the
replay policy), :mod:`forcing` (teacher forcing through the real model),
:mod:`runner` (one run on the engine), :mod:`ideal` (the zero-overhead bound),
:mod:`accuracy` (AST match for the model driver), :mod:`report` (table, JSON,
plot) and :mod:`command` (the CLI entry).
"""
