"""Pandora: a multi-track Discord voice recorder that runs natively on Kubernetes.

This package holds only what every part of Pandora shares: the ``pandora`` command-line dispatcher, the
`Recording` contract between the operator, the recorder pod and the front doors (``recording_api``), the
Discord connection contract, the one module that touches discord.py's and PyNaCl's internals
(``discordpy_compat``), the pacing rule every IDENTIFY goes through (``identify``) and logging setup. The audio
path lives in ``pandora_recorder``; the control path in ``pandora_operator``; the local Discord used by tests and
the demo in ``pandora_simulator``.
"""

__version__ = "0.1.0"
