"""kopf handlers, one small module per reaction; importing this package registers them all."""

from pandora_operator.handlers import deletion, indexes, pods, recordings, startup, timers

__all__ = ["deletion", "indexes", "pods", "recordings", "startup", "timers"]
