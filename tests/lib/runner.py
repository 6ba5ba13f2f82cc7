"""Runs test_* functions of the given modules; last line "N passed, N failed"."""
import importlib.util
import os
import sys
import time
import traceback


def load(path):
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(paths):
    only = os.environ.get("PBXBUS_TEST_ONLY")
    skip = os.environ.get("PBXBUS_TEST_SKIP")
    passed = failed = 0
    for path in paths:
        mod = load(path)
        for name in sorted(n for n in dir(mod) if n.startswith("test_")):
            if (only and only not in name) or (skip and skip in name):
                continue
            t0 = time.time()
            try:
                getattr(mod, name)()
                passed += 1
                print("ok   %s (%.1fs)" % (name, time.time() - t0), flush=True)
            except Exception:  # noqa: BLE001 - a failing test of any kind
                failed += 1
                print("FAIL %s (%.1fs)" % (name, time.time() - t0), flush=True)
                traceback.print_exc()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
