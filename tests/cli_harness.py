"""The command line shared by the end-to-end test scripts run by ctest:
    SCRIPT --binary build/layersift --corpus build/corpus --source . [unittest arguments]
"""
import argparse
import os
import sys
import unittest


def main(module):
    """Parses the arguments into module.ARGS (paths made absolute: some tests run the binary from
    another directory) and runs the module's tests."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--source", required=True)
    args, rest = parser.parse_known_args()
    args.binary, args.corpus = os.path.abspath(args.binary), os.path.abspath(args.corpus)
    module.ARGS = args
    # Scans recall layers from a state file by default: tests that scan the same image twice must
    # read it twice, so the state is off unless a test gives --state (tests/state_test.py does).
    os.environ["LAYERSIFT_STATE"] = "off"
    unittest.main(module=module, argv=[sys.argv[0], *rest], verbosity=2)
