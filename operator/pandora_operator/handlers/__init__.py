"""kopf handlers, one small module per reaction; importing this package registers them all."""

from pandora_operator.handlers import indexes, pods, recordings, startup

__all__ = ["indexes", "pods", "recordings", "startup"]
