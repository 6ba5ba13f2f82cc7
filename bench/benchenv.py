"""What every bench script does first (import it before rigs and harness):
tests/lib on the path, and the binaries of the build directory given as
the first argument (default build) for the harness to run."""
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.join(ROOT, sys.argv[1] if len(sys.argv) > 1 else "build")
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
os.environ["PBXBUS_BIN_DIR"] = BUILD
