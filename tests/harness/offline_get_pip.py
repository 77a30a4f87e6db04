"""Offline stand-in for the pip bootstrap script that ansible-test downloads.

ansible-test creates each sanity virtual environment without pip and then runs
a get-pip.py that it downloads from a host this machine cannot reach. This
script does the same job with what is reachable: it installs the bundled pip
with ensurepip, then lets that pip install exactly the packages ansible-test
asked for (a pinned pip release) from the configured package index.
"""

import subprocess
import sys

requested = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", *requested])
