pytest_plugins = ["pandora_testenv.pytest_plugin"]
