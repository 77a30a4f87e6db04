# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print the test mirror's artifact rows: mirror-artifacts.txt's, then the exporters'.

The exporters Debian packages come from the collection's registry of
exporters (plugins/plugin_utils/_exporters.py), so that a new exporter needs
no row here. Run with the project's Python (make puts it first on PATH).
"""

import sys
from pathlib import Path

HARNESS = Path(__file__).resolve().parent
# The checkout, as the collection ansible_collections.dataaggregator.infrastructure.
sys.path.insert(0, str(HARNESS.parents[1] / ".collections"))

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils import _exporters as registry  # noqa: E402


def main() -> int:
    sys.stdout.write((HARNESS / "mirror-artifacts.txt").read_text())
    print("# The exporters of plugins/plugin_utils/_exporters.py")
    print("\n".join(registry.mirror_rows()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
