from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pandora_testenv.cache import missing_binaries
from pandora_testenv.services import Daprd, RedisServer, start_daprd

TESTS = Path(__file__).resolve().parent.parent

# The front door's test helpers live here; the recorder's file readers and the operator's helpers next door
# (outside any package).
for folder in (Path(__file__).parent, TESTS / "recorder" / "voice", TESTS / "operator"):
    sys.path.insert(0, str(folder))

# The operator's fixtures (the CRD, the operator as a process, the bot pool Secret), shared with these tests.
_spec = importlib.util.spec_from_file_location("operator_fixtures", TESTS / "operator" / "conftest.py")
assert _spec is not None and _spec.loader is not None
_operator_fixtures = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _operator_fixtures  # dataclasses look their module up there
_spec.loader.exec_module(_operator_fixtures)
recording_crd = _operator_fixtures.recording_crd
operator_factory = _operator_fixtures.operator_factory
operator = _operator_fixtures.operator


@pytest.fixture
def original_daprd(redis_server: RedisServer, tmp_path: Path) -> Iterator[Daprd]:
    """daprd as the original Pandora's README deploys it: app id `pandora`, its `statestore` component (Redis),
    pointed at this session's Redis."""
    if missing_binaries(["daprd"]):
        pytest.skip("daprd is not built: run `.venv/bin/pandora-testenv build`")
    components = tmp_path / "components"
    components.mkdir()
    (components / "state-store.yaml").write_text(ORIGINAL_STATE_STORE.replace("redis:6379", redis_server.address))
    sidecar = start_daprd(tmp_path / "dapr", components, app_id="pandora")
    yield sidecar
    sidecar.stop()


# The original Pandora README's ./components/state-store.yaml, verbatim.
ORIGINAL_STATE_STORE = """\
#./components/state-store.yaml
# A sample statestore component using Redis
# as a backend
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.redis
  version: v1
  metadata:
    - name: redisHost
      value: redis:6379
    - name: redisPassword
      value: ""
"""
