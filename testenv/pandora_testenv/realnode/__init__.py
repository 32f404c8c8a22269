"""Real pods beside the KWOK node: images, a containerd + kubelet node, and the Dapr control plane.

  buildah.py   buildah with the test environment's own image storage under <cache>/images
  base.py      the python:3.11-slim-bookworm base: pulled, or a local debootstrap stand-in
  context.py   what a Dockerfile build depends on, hashed (the image cache key)
  images.py    recorder, operator, pause and Dapr images, built and cached as OCI archives
  files/       configuration templates and the pause program
"""
