# Put first on PYTHONPATH by tests/conftest.py: hides any installed TensorRT from test subprocesses.
raise ImportError("tensorrt hidden by the test suite (tests/conftest.py machine_independent)")
